//! `POST /v1/citizen/sign-in`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};
use crate::services::citizens::{self, SESSION_COOKIE, SESSION_MINUTES, SignIn, SignedIn};

/// Signs a citizen in: a citizen access token in the body, and a web
/// session in a Secure, HttpOnly, SameSite=Strict cookie. Repeated failures
/// lock the account for a growing time.
#[utoipa::path(
    tag = "citizen",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in", body = SignedIn),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "account_locked (see Retry-After)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/citizen/sign-in")]
pub async fn sign_in(
    state: web::Data<AppState>,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (signed_in, session) = citizens::sign_in(&state, body.into_inner(), now).await?;
    let cookie = Cookie::build(SESSION_COOKIE, session)
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::minutes(SESSION_MINUTES))
        .finish();
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .insert_header(("Cache-Control", "no-store"))
        .json(signed_in))
}
