//! `DELETE /v1/subscriptions/{id}`.

use actix_web::delete;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::notifications;

/// Ends one of the calling agency's subscriptions (scope `consumer`).
/// Notifications made before stay deliverable.
#[utoipa::path(
    tag = "notifications",
    params(("id" = String, Path, description = "The subscription (`sub-…`)")),
    security(("agency" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "subscription_not_found", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/v1/subscriptions/{id}")]
pub async fn unsubscribe(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let id = id.into_inner();
    state
        .change(move |conn| notifications::unsubscribe(conn, &caller, &id, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
