//! `POST /v1/citizen/sign-out`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::CitizenCaller;
use crate::http::error::{ApiError, Problem};

/// Ends the session the citizen token belongs to: the token (and the web
/// session's cookie) stop working at once, before the token expires.
#[utoipa::path(
    tag = "citizen",
    security(("citizen" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid citizen token", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/citizen/sign-out")]
pub async fn sign_out(
    citizen: CitizenCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let session = citizen.session.clone();
    state
        .db(move |conn| Ok(crate::services::citizens::end_session(conn, &session)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
