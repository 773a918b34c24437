//! `GET /v1/consents/{id}/artefact` and `GET /v1/citizen/consents/{id}/artefact`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::{AgencyCaller, CitizenCaller};
use crate::http::error::{ApiError, Problem};
use crate::services::consents;

/// The artefact of an active consent the agency holds: a compact JWS
/// (`typ` `consent+jwt`, EdDSA) verifiable with the hub's JWKS alone (scope
/// `consumer`).
#[utoipa::path(
    tag = "consents",
    params(("id" = crate::api::ids::ConsentId, Path, description = "Consent id")),
    security(("agency" = [])),
    responses(
        (status = 200, description = "The artefact", body = String, content_type = "application/jose"),
        (status = 404, description = "No such consent of this agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not active (`consent_not_active`)", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/consents/{id}/artefact")]
pub async fn agency(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope("consumer")?;
    let now = state.clock.now();
    let inner = state.clone();
    let id = id.into_inner();
    let (token, entries) = state
        .db(move |conn| consents::artefact_for_agency(conn, &inner, &caller, &id, now))
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(super::jose(token))
}

/// The artefact of one of the citizen's active consents.
#[utoipa::path(
    tag = "citizen",
    params(("id" = crate::api::ids::ConsentId, Path, description = "Consent id")),
    security(("citizen" = [])),
    responses(
        (status = 200, description = "The artefact", body = String, content_type = "application/jose"),
        (status = 404, description = "No such consent of this person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not active (`consent_not_active`)", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/citizen/consents/{id}/artefact")]
pub async fn citizen(
    caller: CitizenCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let id = id.into_inner();
    let (token, entries) = state
        .db(move |conn| consents::artefact_for_person(conn, &inner, caller.common_id, &id, now))
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(super::jose(token))
}
