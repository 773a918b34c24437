//! OAuth 2.0: the token endpoint, server metadata (RFC 8414) and the JWKS.

pub mod jwks;
pub mod metadata;
pub mod token;

use utoipa::OpenApi;

use crate::api::operations::Operations;

/// The OAuth part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::tokens::TokenRequest, crate::services::tokens::TokenResponse, crate::http::error::OAuthErrorBody
    )),
    tags((name = "oauth", description = "Agency authentication: OAuth 2.0 client credentials with private_key_jwt"))
)]
pub struct OAuthApi;

/// Registers the OAuth routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(token::token)
        .add(metadata::metadata)
        .add(jwks::jwks);
}
