//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;

/// The hub's authorization server metadata.
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "RFC 8414 metadata", content_type = "application/json"))
)]
#[get("/.well-known/oauth-authorization-server")]
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let issuer = state.config.public_base();
    HttpResponse::Ok().json(serde_json::json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "RS256", "PS256"],
        "scopes_supported": ["consumer", "provider", "registrar"],
        "response_types_supported": [],
        "tls_client_certificate_bound_access_tokens": state.config.tls_cert_file.is_some(),
    }))
}
