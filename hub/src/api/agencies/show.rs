//! `GET /v1/admin/agencies/{id}`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::agencies::{self, AgencyView};

/// One agency with its certificates (operators only).
#[utoipa::path(
    tag = "agencies",
    params(("id" = crate::api::ids::AgencyId, Path, description = "Agency identifier")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The agency", body = AgencyView),
        (status = 404, description = "No such agency", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/admin/agencies/{id}")]
pub async fn show(
    _operator: OperatorCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = state.db(move |conn| agencies::show(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}
