//! `GET /v1/persons/{id}`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::persons::{self, PersonView};

/// A person, by common ID or the caller's sector pseudonym. A merged
/// identifier resolves to the survivor, and `resolved_from` says so. Every
/// read is audited (`person.read`) before it is answered.
#[utoipa::path(
    tag = "persons",
    params(("id" = crate::api::ids::PersonRef, Path, description = "Common ID or the caller's sector pseudonym")),
    security(("agency" = [])),
    responses(
        (status = 200, description = "The person", body = PersonView),
        (status = 422, description = "Not a person reference", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown_person", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/persons/{id}")]
pub async fn show(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let viewer = super::registrar(&caller)?;
    let pseudonyms = state.pseudonyms.clone();
    let id = id.into_inner();
    let (person, common_id) = state
        .db(move |conn| {
            let shown = persons::show(conn, viewer, &pseudonyms, &id)?;
            let asked = persons::parse_reference(conn, viewer, &id)?;
            let (common_id, _) = persons::resolve(conn, asked)?;
            Ok((shown, common_id))
        })
        .await?;
    let entry = crate::audit_log::actions::by_agency(&caller, "person.read")?
        .with_person(common_id.as_digits());
    state.audit.append(entry).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(person))
}
