//! `GET /.well-known/jwks.json`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::error::{ApiError, ResultExt};

/// The hub's public signing keys (RFC 7517): the current key and retired
/// keys until every token they signed has expired.
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "The JWK set", content_type = "application/json"))
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let keys = state.keys.clone();
    let ring = state
        .db(move |conn| {
            keys.ring(conn, now)
                .internal("the hub's signing keys cannot be read")
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(ring.jwks(now)))
}
