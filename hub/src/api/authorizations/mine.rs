//! `GET /v1/authorizations`: the authorizations the calling agency asks under.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::ApiError;
use crate::services::authorizations::{self, AuthorizationView};

/// The authorizations in force that apply to the calling agency: its own and
/// those of its sector and roles.
#[utoipa::path(
    tag = "authorizations",
    security(("agency" = [])),
    responses((status = 200, description = "The authorizations in force", body = [AuthorizationView]))
)]
#[get("/v1/authorizations")]
pub async fn mine(
    caller: AgencyCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let set = state.db(move |conn| inner.authorizations.get(conn)).await?;
    Ok(HttpResponse::Ok().json(authorizations::for_agency(
        &set,
        &caller.agency_id,
        caller.sector,
        &caller.roles,
        now,
    )))
}
