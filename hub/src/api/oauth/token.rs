//! `POST /oauth/token`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::error::OAuthError;
use crate::services::tokens::{self, TokenRequest, TokenResponse};

/// Client credentials with a `private_key_jwt` assertion (RFC 7523) signed by
/// the key of one of the agency's registered certificates. Errors use the
/// RFC 6749 shape (`error`, `error_description`).
#[utoipa::path(
    tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type or invalid_scope", body = crate::http::error::OAuthErrorBody),
        (status = 401, description = "invalid_client", body = crate::http::error::OAuthErrorBody)
    )
)]
#[post("/oauth/token")]
pub async fn token(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let client_certificate = req
        .conn_data::<crate::app::tls::ClientCertificate>()
        .map(|c| c.0.clone());
    let request: TokenRequest = serde_urlencoded::from_bytes(&body).map_err(|e| {
        OAuthError::new(
            "invalid_request",
            format!("the body is not a valid form: {e}"),
        )
    })?;
    let now = state.clock.now();
    let inner = state.clone();
    let response = state
        .db(move |conn| {
            Ok(tokens::grant(
                conn,
                &inner,
                &request,
                client_certificate,
                now,
            ))
        })
        .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(response))
}
