//! `POST /v1/subscriptions`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::notifications::{self, SubscriptionRequest, SubscriptionView};

/// Subscribes the calling agency (scope `consumer`) to the changes of a
/// record type, for a purpose: it is told of changes about the persons on
/// which it holds a `file` reference, each decided like a lookup.
#[utoipa::path(
    tag = "notifications",
    request_body = SubscriptionRequest,
    security(("agency" = [])),
    responses(
        (status = 201, description = "Subscribed", body = SubscriptionView),
        (status = 403, description = "insufficient_scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_record_type`, `unknown_purpose`, `no_authorization` (no authorization in force for the record type and purpose) or `invalid_webhook_url` (not HTTPS, or a private target)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/subscriptions")]
pub async fn create(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    body: web::Json<SubscriptionRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let view = state
        .change(move |conn| notifications::subscribe(conn, &inner, &caller, &body, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/subscriptions/{}", view.id)))
        .json(view))
}
