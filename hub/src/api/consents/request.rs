//! `POST /v1/consents/requests`: an agency asks a person for consent.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::consents::{self, ConsentView, NewRequest};

/// Creates a pending consent request for a person named by common ID or by
/// the agency's sector pseudonym (scope `consumer`).
#[utoipa::path(
    tag = "consents",
    request_body = NewRequest,
    security(("agency" = [])),
    responses(
        (status = 201, description = "The pending request", body = ConsentView),
        (status = 403, description = "`insufficient_scope`, `agency_suspended`, or `no_consent_authorization`: no authorization in force for a record type and the purpose needs the person's consent", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`too_many_pending_requests`: this agency has the most consent requests allowed pending for this person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused (the code names the failed check)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/consents/requests")]
pub async fn request(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    body: web::Json<NewRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope("consumer")?;
    state.rate_limits.check_agency(
        crate::http::rate_limit::Class::ConsentRequest,
        caller.agency_id.as_str(),
        1,
    )?;
    let now = state.clock.now();
    let inner = state.clone();
    let who = caller.clone();
    let (view, entries) = state
        .db(move |conn| consents::request(conn, &inner, &who, &body, now))
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/consents/{}", view.id)))
        .json(view))
}
