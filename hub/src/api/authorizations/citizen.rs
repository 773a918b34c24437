//! `GET /v1/citizen/authorizations`: who may see my data by law.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::CitizenCaller;
use crate::http::error::ApiError;
use crate::services::authorizations::{self, AuthorizationView};

/// The authorizations in force, with their legal references and whether
/// the person's consent is needed too: each applies to every person.
#[utoipa::path(
    tag = "citizen",
    security(("citizen" = [])),
    responses((status = 200, description = "The authorizations in force", body = [AuthorizationView]))
)]
#[get("/v1/citizen/authorizations")]
pub async fn citizen(
    _caller: CitizenCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let set = state.db(move |conn| inner.authorizations.get(conn)).await?;
    Ok(HttpResponse::Ok().json(authorizations::in_force(&set, now)))
}
