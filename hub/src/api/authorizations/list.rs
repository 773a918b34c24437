//! `GET /v1/admin/authorizations`: every version of every authorization.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::ApiError;
use crate::services::authorizations::{self, AuthorizationView};

/// Every version of every authorization, by id then version (operators
/// only).
#[utoipa::path(
    tag = "authorizations",
    security(("operator" = [])),
    responses((status = 200, description = "Every version", body = [AuthorizationView]))
)]
#[get("/v1/admin/authorizations")]
pub async fn list(
    _operator: OperatorCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let set = state.db(move |conn| inner.authorizations.get(conn)).await?;
    Ok(HttpResponse::Ok().json(authorizations::all(&set, now)))
}
