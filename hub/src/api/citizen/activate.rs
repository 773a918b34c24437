//! `POST /v1/citizen/activate`.

use actix_web::{HttpResponse, ResponseError, web};

use crate::citizens::{self, Activation};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Activates a citizen account with the code from the registration letter
/// and sets its password. Codes expire and work once.
#[utoipa::path(
    post,
    path = "/v1/citizen/activate",
    tag = "citizen",
    request_body = Activation,
    responses(
        (status = 204, description = "Activated"),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "activation_code_used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "activation_code_expired, or a password the policy refuses", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "account_locked", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn activate(
    state: web::Data<AppState>,
    body: web::Json<Activation>,
) -> Result<HttpResponse, ApiError> {
    run(&state, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Activates the account of `input`, with its `citizen.activated` entry in
/// the same transaction. A refusal (a client error) still commits what the
/// attempt wrote — the failed-attempt count that locks the account — and is
/// then returned; a server error rolls everything back.
pub async fn run(state: &AppState, input: Activation) -> Result<(), ApiError> {
    let now = state.clock.now();
    let config = state.config.clone();
    state
        .change(
            move |conn| match citizens::activate(conn, &config, &input, now) {
                Ok(id) => {
                    let event = crate::events::by_citizen(&id, "citizen.activated")?;
                    Ok((Ok(()), vec![event]))
                }
                Err(e) if ResponseError::status_code(&e).is_server_error() => Err(e),
                Err(refused) => Ok((Err(refused), Vec::new())),
            },
        )
        .await?
}
