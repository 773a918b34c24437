//! `GET /log/checkpoint`.

use actix_web::get;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::error::ApiError;

/// The latest signed checkpoint: a C2SP signed note (origin, tree size,
/// base64 root hash, Ed25519 signature by the log key).
#[utoipa::path(
    tag = "log",
    responses((status = 200, description = "The signed checkpoint", body = String, content_type = "text/plain; charset=utf-8"))
)]
#[get("/log/checkpoint")]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let log = state.audit.clone();
    let checkpoint = state.db(move |conn| log.latest_checkpoint(conn)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(checkpoint.note))
}
