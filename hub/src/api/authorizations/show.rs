//! `GET /v1/admin/authorizations/{id}`: one authorization's history.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::authorizations::{self, AuthorizationView};

/// Every version of one authorization, oldest first (operators only).
#[utoipa::path(
    tag = "authorizations",
    params(("id" = crate::api::ids::AuthorizationId, Path, description = "Authorization id")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Its versions, oldest first", body = [AuthorizationView]),
        (status = 404, description = "No such authorization", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/admin/authorizations/{id}")]
pub async fn show(
    _operator: OperatorCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let id = id.into_inner();
    let history = state
        .db(move |conn| authorizations::history(conn, &id, now))
        .await?;
    Ok(HttpResponse::Ok().json(history))
}
