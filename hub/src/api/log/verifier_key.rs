//! `GET /log/verifier-key`.

use actix_web::get;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::error::ApiError;

/// The note verifier key of the log (`name+hash+base64key`), for checking
/// checkpoints. Auditors should obtain it out of band as well.
#[utoipa::path(
    tag = "log",
    responses((status = 200, description = "The verifier key", body = String, content_type = "text/plain; charset=utf-8"))
)]
#[get("/log/verifier-key")]
pub async fn verifier_key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let log = state.audit.clone();
    let key = web::block(move || log.verifier_key()).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body(format!("{key}\n")))
}
