//! `POST /v1/changes`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::notifications::{self, ChangeAccepted, ChangeRequest};

/// Publishes a change of a person's record, as its authentic source (scope
/// `provider`). The change and its audit entry are committed before the
/// answer; the subscribed agencies are told after. Publishing the same
/// `reference` again answers the same change id.
#[utoipa::path(
    tag = "notifications",
    request_body = ChangeRequest,
    security(("agency" = [])),
    responses(
        (status = 202, description = "Accepted; fan-out follows", body = ChangeAccepted),
        (status = 403, description = "`not_the_source` (not a registered source of the record type), `no_source_reference` (routed by reference and no source reference on the person) or `insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_person`, or `schema_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`record_invalid` (with each violation's JSON Pointer), or another refused field (the code names it)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/changes")]
pub async fn publish(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    body: web::Json<ChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let accepted = state
        .change(move |conn| notifications::publish(conn, &inner, &caller, &body, now))
        .await?;
    if !accepted.duplicate {
        // Counted once committed (a retried transaction runs its body again).
        state.hub_metrics.changes_accepted(1);
        state.signals.changes.notify_one();
    }
    Ok(HttpResponse::Accepted().json(accepted))
}
