//! `POST /v1/persons/{id}/status`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::notifications::{self, Lifecycle};
use crate::services::persons::{self, PersonView, StatusChange};

/// Records a death, an inactive person, or a return to active.
#[utoipa::path(
    tag = "persons",
    params(("id" = crate::api::ids::PersonRef, Path, description = "Common ID or the caller's sector pseudonym")),
    request_body = StatusChange,
    security(("agency" = [])),
    responses(
        (status = 200, description = "Changed", body = PersonView),
        (status = 404, description = "unknown_person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a person reference", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the current status", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/persons/{id}/status")]
pub async fn status(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<StatusChange>,
) -> Result<HttpResponse, ApiError> {
    let viewer = super::registrar(&caller)?;
    let now = state.clock.now();
    let pseudonyms = state.pseudonyms.clone();
    let id = id.into_inner();
    let person = state
        .change(move |conn| {
            let (changed, person) =
                persons::change_status(conn, viewer, &pseudonyms, &id, &body, now)?;
            let event = crate::audit_log::actions::by_agency(&caller, "person.status_changed")?
                .with_person(changed.as_digits())
                .with_details(serde_json::json!({"status": person.status}));
            let (lifecycle, effective) = match &*body {
                StatusChange::Deceased { on } => (Lifecycle::Deceased, *on),
                StatusChange::Inactive {} => (Lifecycle::Inactive, now.date_naive()),
                StatusChange::Active {} => (Lifecycle::Reactivated, now.date_naive()),
            };
            let published =
                notifications::publish_lifecycle(conn, &changed, lifecycle, effective, now)?;
            Ok((person, vec![event, published]))
        })
        .await?;
    state.hub_metrics.changes_accepted(1);
    state.signals.changes.notify_one();
    Ok(HttpResponse::Ok().json(person))
}
