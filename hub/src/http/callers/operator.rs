//! Operators: people who onboard agencies and publish schemas and rules.
//! They present a bearer token made by `crossroads operator token`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use super::{bearer, sha256_hex};
use crate::app::state::AppState;
use crate::http::error::ApiError;
use crate::store::{DbConnection, StoreError, operators};

/// Every operator token starts with this, so that secret scanners find leaks.
pub const TOKEN_PREFIX: &str = "crop_";

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct OperatorCaller {
    /// The credential's id (named in audit events).
    pub id: String,
    /// Who holds it.
    pub name: String,
}

/// A freshly made operator credential; the token is shown once.
pub struct IssuedOperatorToken {
    /// The credential's id.
    pub id: String,
    /// The secret token.
    pub token: String,
}

/// Makes and stores a new operator token for `name`.
pub fn issue(
    conn: &mut DbConnection,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedOperatorToken, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest(
            "an operator name is 1 to 100 characters".to_owned(),
        ));
    }
    let mut secret = [0u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| ApiError::internal("the system random generator failed"))?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let id = format!("op-{}", uuid::Uuid::new_v4().simple());
    operators::insert(conn, &id, name, &sha256_hex(token.as_bytes()), now)?;
    Ok(IssuedOperatorToken { id, token })
}

/// Finds the operator holding `token`.
pub fn authenticate(
    conn: &mut DbConnection,
    token: &str,
) -> Result<Option<OperatorCaller>, StoreError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    Ok(
        operators::find_active(conn, &sha256_hex(token.as_bytes()))?.map(|row| OperatorCaller {
            id: row.id,
            name: row.name,
        }),
    )
}

impl FromRequest for OperatorCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer(req).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("no state"))?;
            let token = token.ok_or(ApiError::Unauthenticated(
                "operator endpoints need `Authorization: Bearer <operator token>`",
            ))?;
            let found = state
                .db(move |conn| Ok(authenticate(conn, &token)?))
                .await?;
            found.ok_or(ApiError::Unauthenticated(
                "the operator token is unknown or revoked",
            ))
        })
    }
}
