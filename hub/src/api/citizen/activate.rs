//! `POST /v1/citizen/activate`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};
use crate::services::citizens::{self, Activation};

/// Activates a citizen account with the code from the registration letter
/// and sets its password. Codes expire and work once.
#[utoipa::path(
    tag = "citizen",
    request_body = Activation,
    responses(
        (status = 204, description = "Activated"),
        (status = 401, description = "invalid_credentials: an unknown ID, an account activated already or a wrong code alike", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "activation_code_expired, or a password the policy refuses", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "account_locked", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/citizen/activate")]
pub async fn activate(
    state: web::Data<AppState>,
    body: web::Json<Activation>,
) -> Result<HttpResponse, ApiError> {
    run(&state, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Activates the account of `input` (see [`citizens::activate`]).
pub async fn run(state: &AppState, input: Activation) -> Result<(), ApiError> {
    citizens::activate(state, input, state.clock.now()).await?;
    Ok(())
}
