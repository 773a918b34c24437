//! `GET /v1/admin/agencies`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::ApiError;
use crate::services::agencies::{self, AgencyView};

/// Every agency (operators only).
#[utoipa::path(
    tag = "agencies",
    security(("operator" = [])),
    responses((status = 200, description = "Every agency", body = Vec<AgencyView>))
)]
#[get("/v1/admin/agencies")]
pub async fn list(
    _operator: OperatorCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.db(agencies::list).await?;
    Ok(HttpResponse::Ok().json(all))
}
