//! `POST /v1/citizen/activate`.

use actix_web::{HttpResponse, web};

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
    let now = state.clock.now();
    let config = state.config.clone();
    let id = state
        .db(move |conn| citizens::activate(conn, &config, &body, now))
        .await?;
    state
        .audit
        .append(crate::events::by_citizen(&id, "citizen.activated")?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
