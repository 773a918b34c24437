//! The public halves of the hub's signing keys, as stored: the key ring
//! (`secrets::keys`) is read from them and `crossroads keys list` shows them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use identity::keys::SigningKey;

use crate::app::clock::db_time;
use crate::store::agencies::{self as store, HubKeyRow};
use crate::store::{DbConnection, StoreError};

/// Every stored key, oldest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<HubKeyRow>, StoreError> {
    store::hub_keys(conn)
}

/// Stores `key`'s public half, made at `now`, as the current key: every
/// other current key is retired at `now` and stays published until
/// `publish_until`.
pub fn add_current(
    conn: &mut DbConnection,
    key: &SigningKey,
    now: DateTime<Utc>,
    publish_until: DateTime<Utc>,
) -> Result<(), StoreError> {
    store::add_hub_key(conn, &row_for(key, now), now, publish_until)
}

fn row_for(key: &SigningKey, now: DateTime<Utc>) -> HubKeyRow {
    HubKeyRow {
        kid: key.kid().to_owned(),
        public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().public_key()),
        created_at: db_time(now),
        retired_at: None,
        publish_until: None,
    }
}

/// The hub's key ring for signing at `now`: the cached one while fresh,
/// else read from the database on a blocking thread.
pub async fn ring(
    state: &crate::app::state::AppState,
    now: DateTime<Utc>,
) -> Result<std::sync::Arc<identity::keys::KeyRing>, crate::http::error::ApiError> {
    use crate::http::error::ResultExt;
    if let Some(ring) = state.keys.fresh() {
        return Ok(ring);
    }
    let keys = state.keys.clone();
    state
        .db(move |conn| {
            keys.ring(conn, now)
                .internal("the hub's signing keys cannot be read")
        })
        .await
}
