//! `/v1/references`: the reference directory, where agencies declare that they
//! are the authentic source of a record type for a person, or that they
//! hold a file on a person.

pub mod sources;

use actix_web::{HttpResponse, web};
use actix_web::{delete, post};
use utoipa::OpenApi;

use crate::api::operations::Operations;
use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem, ResultExt};
use crate::services::persons::{self, Viewer};
use crate::services::references::{self, NewReference, ReferenceView};

/// The reference directory part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(NewReference, ReferenceView, crate::services::references::ReferenceKind)),
    tags((name = "references", description = "The persons directory: which agencies hold a file on whom"))
)]
pub struct ReferencesApi;

/// Registers the reference routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations.add(declare).add(end);
}

fn viewer(caller: &AgencyCaller) -> Viewer {
    Viewer {
        sector: caller.sector,
        policy: caller.identifier_policy,
    }
}

/// Declares that the calling agency is the authentic source of a record
/// type for a person (`source`), or holds a file on the person (`file`).
#[utoipa::path(
    tag = "references",
    request_body = NewReference,
    security(("agency" = [])),
    responses(
        (status = 201, description = "Declared", body = ReferenceView),
        (status = 403, description = "`not_a_source` (a source reference by an agency not registered as a source of the record type) or `no_authorization` (a file reference by an agency holding no authorization in force)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown_person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused (the code names the failed check)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/references")]
pub async fn declare(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    body: web::Json<NewReference>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let viewer = viewer(&caller);
    let pseudonyms = state.pseudonyms.clone();
    let authorizations = std::sync::Arc::clone(&state.authorizations);
    let view = state
        .change(move |conn| {
            let asked = persons::parse_reference(conn, viewer, &body.person)?;
            let (person, _) = persons::resolve(conn, asked)?;
            let authorizations = authorizations.get(conn)?;
            let declarer = references::Declarer {
                agency: &caller.agency_id,
                sector: caller.sector,
                roles: &caller.roles,
            };
            let row = references::declare(conn, &authorizations, declarer, &person, &body, now)?;
            let view =
                references::reference_view(row, persons::name_for(viewer, &pseudonyms, &person));
            let event = crate::audit_log::actions::by_agency(&caller, "reference.declared")?
                .with_person(person.as_digits())
                .with_details(serde_json::json!({
                    "reference": view.id,
                    "kind": view.kind,
                    "record_type": view.record_type,
                    "capacity": view.capacity,
                }));
            Ok((view, vec![event]))
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/references/{}", view.id)))
        .json(view))
}

/// Ends a reference: it stays in the directory with its end date.
#[utoipa::path(
    tag = "references",
    params(("id" = crate::api::ids::ReferenceId, Path, description = "The reference")),
    security(("agency" = [])),
    responses(
        (status = 200, description = "Ended", body = ReferenceView),
        (status = 404, description = "Not this agency's reference", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/v1/references/{id}")]
pub async fn end(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let viewer = viewer(&caller);
    let agency = caller.agency_id.to_string();
    let pseudonyms = state.pseudonyms.clone();
    let id = id.into_inner();
    let view = state
        .change(move |conn| {
            let row = references::end(conn, &agency, &id, now)?;
            let person: identity::CommonId = row
                .common_id
                .parse()
                .internal("stored reference has a bad person")?;
            let view =
                references::reference_view(row, persons::name_for(viewer, &pseudonyms, &person));
            let event = crate::audit_log::actions::by_agency(&caller, "reference.ended")?
                .with_person(person.as_digits())
                .with_details(serde_json::json!({"reference": view.id}));
            Ok((view, vec![event]))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
