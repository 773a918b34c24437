//! `GET /v1/purposes`: the controlled list.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::error::ApiError;
use crate::services::authorizations::{self, PurposeView};

/// The purposes agencies may state, with their legal references (public).
#[utoipa::path(
    tag = "purposes",
    responses((status = 200, description = "The purposes, by code", body = [PurposeView]))
)]
#[get("/v1/purposes")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list = state.db(authorizations::purposes).await?;
    Ok(HttpResponse::Ok().json(list))
}
