//! `GET /v1/persons/{id}`.

use actix_web::{HttpResponse, web};

use crate::auth::AgencyCaller;
use crate::error::{ApiError, Problem};
use crate::persons::{self, PersonView};
use crate::state::AppState;

/// A person, by common ID or the caller's sector pseudonym. A merged
/// identifier resolves to the survivor, and `resolved_from` says so.
#[utoipa::path(
    get,
    path = "/v1/persons/{id}",
    tag = "persons",
    params(("id" = String, Path, description = "Common ID or the caller's sector pseudonym")),
    security(("agency" = [])),
    responses(
        (status = 200, description = "The person", body = PersonView),
        (status = 404, description = "unknown_person", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn show(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let viewer = super::registrar(&caller)?;
    let pseudonyms = state.pseudonyms.clone();
    let id = id.into_inner();
    let person = state
        .db(move |conn| persons::show(conn, viewer, &pseudonyms, &id))
        .await?;
    Ok(HttpResponse::Ok().json(person))
}
