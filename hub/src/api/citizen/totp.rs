//! `POST /v1/citizen/totp` and `/v1/citizen/totp/confirm`.

use actix_web::{HttpResponse, web};
use actix_web::{delete, post};

use crate::app::state::AppState;
use crate::http::callers::CitizenCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::citizens::{self, TotpConfirm, TotpOffer, TotpRemoval};

/// Offers a new TOTP secret; nothing changes until it is confirmed.
#[utoipa::path(
    tag = "citizen",
    security(("citizen" = [])),
    responses((status = 200, description = "A secret to enrol", body = TotpOffer))
)]
#[post("/v1/citizen/totp")]
pub async fn offer(caller: CitizenCaller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(citizens::totp_offer(&state.config, &caller.common_id))
}

/// Enrols the second factor with a current code of the offered secret. To
/// replace one already enrolled, the password and a current code of the old
/// one are needed too (checked like a sign-in).
#[utoipa::path(
    tag = "citizen",
    request_body = TotpConfirm,
    security(("citizen" = [])),
    responses(
        (status = 204, description = "TOTP is required at sign-in from now on"),
        (status = 401, description = "`invalid_credentials`: replacing needs the right password and current code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong code or secret", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/citizen/totp/confirm")]
pub async fn confirm(
    caller: CitizenCaller,
    state: web::Data<AppState>,
    body: web::Json<TotpConfirm>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    citizens::totp_enrol(&state, caller.common_id, body.into_inner(), now).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes the second factor, with the password and a current code.
#[utoipa::path(
    tag = "citizen",
    request_body = TotpRemoval,
    security(("citizen" = [])),
    responses(
        (status = 204, description = "Sign-in needs the password only from now on"),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`totp_not_enrolled`", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/v1/citizen/totp")]
pub async fn remove(
    caller: CitizenCaller,
    state: web::Data<AppState>,
    body: web::Json<TotpRemoval>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    citizens::totp_remove(&state, caller.common_id, body.into_inner(), now).await?;
    Ok(HttpResponse::NoContent().finish())
}
