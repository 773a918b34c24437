//! Operator credentials: made by `crossroads operator token`, presented as
//! bearer tokens, listed and revoked from the command line.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};

use crate::http::callers::OperatorCaller;
use crate::http::callers::sha256_hex;
use crate::http::error::ApiError;
use crate::store::operators::{self as store, OperatorRow};
use crate::store::{DbConnection, StoreError};

/// Every operator token starts with this, so that secret scanners find leaks.
pub const TOKEN_PREFIX: &str = "crop_";

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
    now: DateTime<Utc>,
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
    store::insert(conn, &id, name, &sha256_hex(token.as_bytes()), now)?;
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
        store::find_active(conn, &sha256_hex(token.as_bytes()))?.map(|row| OperatorCaller {
            id: row.id,
            name: row.name,
        }),
    )
}

/// Every operator credential, revoked ones included, newest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<OperatorRow>, StoreError> {
    store::list(conn)
}

/// Revokes credential `id`; false when there is no such active credential.
pub fn revoke(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    store::revoke(conn, id, now)
}
