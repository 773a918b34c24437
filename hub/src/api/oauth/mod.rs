//! OAuth 2.0: the token endpoint, server metadata (RFC 8414) and the JWKS.

pub mod jwks;
pub mod metadata;
pub mod token;

use actix_web::web;
use utoipa::OpenApi;

/// The OAuth part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(token::token, metadata::metadata, jwks::jwks),
    components(schemas(
        crate::services::tokens::TokenRequest, crate::services::tokens::TokenResponse, crate::http::error::OAuthErrorBody
    )),
    tags((name = "oauth", description = "Agency authentication: OAuth 2.0 client credentials with private_key_jwt"))
)]
pub struct OAuthApi;

/// Registers the OAuth routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/oauth/token").route(web::post().to(token::token)))
        .service(
            web::resource("/.well-known/oauth-authorization-server")
                .route(web::get().to(metadata::metadata)),
        )
        .service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks::jwks)));
}
