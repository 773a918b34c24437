//! `POST /v1/persons/{id}/merge`.

use actix_web::post;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::notifications::{self, Lifecycle};
use crate::services::persons::{self, PersonView};

/// Which record is the duplicate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The duplicate's identifier; it will resolve to `{id}` from now on.
    #[schema(value_type = crate::api::ids::PersonRef)]
    pub replaced: String,
}

/// Merges a duplicate into the person at `{id}`, who survives.
#[utoipa::path(
    tag = "persons",
    params(("id" = crate::api::ids::PersonRef, Path, description = "The surviving person")),
    request_body = MergeRequest,
    security(("agency" = [])),
    responses(
        (status = 200, description = "Merged; the survivor", body = PersonView),
        (status = 404, description = "unknown_person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a person reference, or the same person twice", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the current statuses", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/persons/{id}/merge")]
pub async fn merge(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<MergeRequest>,
) -> Result<HttpResponse, ApiError> {
    let viewer = super::registrar(&caller)?;
    let now = state.clock.now();
    let pseudonyms = state.pseudonyms.clone();
    let survivor = id.into_inner();
    let person = state
        .change(move |conn| {
            let (survivor, replaced, person) =
                persons::merge(conn, viewer, &pseudonyms, &survivor, &body.replaced, now)?;
            let event = crate::audit_log::actions::by_agency(&caller, "person.merged")?
                .with_person(survivor.as_digits())
                .with_linked_person("replaced", replaced.as_digits());
            let lifecycle = notifications::publish_lifecycle(
                conn,
                &replaced,
                Lifecycle::Merged {
                    survivor: &survivor,
                },
                now.date_naive(),
                now,
            )?;
            Ok((person, vec![event, lifecycle]))
        })
        .await?;
    state.hub_metrics.changes_accepted(1);
    state.signals.changes.notify_one();
    Ok(HttpResponse::Ok().json(person))
}
