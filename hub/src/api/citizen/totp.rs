//! `POST /v1/citizen/totp` and `/v1/citizen/totp/confirm`.

use actix_web::{HttpResponse, web};

use crate::auth::CitizenCaller;
use crate::citizens::{self, TotpConfirm, TotpOffer};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Offers a new TOTP secret; nothing changes until it is confirmed.
#[utoipa::path(
    post,
    path = "/v1/citizen/totp",
    tag = "citizen",
    security(("citizen" = [])),
    responses((status = 200, description = "A secret to enrol", body = TotpOffer))
)]
pub async fn offer(caller: CitizenCaller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(citizens::totp_offer(&state.config, &caller.common_id))
}

/// Turns TOTP on, once a current code proves the citizen holds the secret.
#[utoipa::path(
    post,
    path = "/v1/citizen/totp/confirm",
    tag = "citizen",
    request_body = TotpConfirm,
    security(("citizen" = [])),
    responses(
        (status = 204, description = "TOTP is required at sign-in from now on"),
        (status = 422, description = "Wrong code or secret", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn confirm(
    caller: CitizenCaller,
    state: web::Data<AppState>,
    body: web::Json<TotpConfirm>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let id = caller.common_id;
    state
        .change(move |conn| {
            citizens::totp_confirm(conn, &id, &body, now)?;
            let event = crate::events::by_citizen(&id, "citizen.totp_enabled")?;
            Ok(((), vec![event]))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
