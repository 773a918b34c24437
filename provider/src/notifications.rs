//! Change notifications the hub pushes to a subscribing agency: a webhook
//! batch is a compact JWS (`typ: crossroads-notifications+jwt`) signed with
//! the same keys as the hub's request tokens.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The `typ` header of the hub's notification batches.
pub const NOTIFICATION_BATCH_TYPE: &str = "crossroads-notifications+jwt";

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A record was created.
    Created,
    /// A record was changed.
    Updated,
    /// A record was deleted.
    Deleted,
}

/// One change, as the hub tells a subscriber (in the pull feed and in
/// webhook batches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `ntf-…`: the same on every delivery attempt and in the pull feed;
    /// process each id once.
    pub id: String,
    /// `exc-…`: the audit log's exchange id of the decision to tell you.
    pub exchange_id: String,
    /// `chg-…`: the published change.
    pub change_id: String,
    /// `sub-…`: the subscription it matched.
    pub subscription_id: String,
    /// The publishing agency (`hub` for `person.lifecycle`).
    pub source: String,
    /// The record type and exact version, e.g. `person.address@1.1`.
    pub record_type: String,
    /// What happened.
    pub kind: ChangeKind,
    /// When the change takes effect.
    pub effective_date: NaiveDate,
    /// The person: common id, or your sector pseudonym.
    pub person: String,
    /// The purpose of the subscription.
    pub purpose: String,
    /// The changed fields (JSON Pointers) you are granted; absent when the
    /// publisher named none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
    /// The record minimised to your grant; `null` for a deletion or when
    /// past retention.
    pub data: serde_json::Value,
    /// When the hub made the notification.
    pub created_at: DateTime<Utc>,
}

/// The claims of a webhook batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationClaims {
    /// The hub's issuer identifier (its public URL).
    pub iss: String,
    /// The receiving agency.
    pub aud: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch (`iat` + 300).
    pub exp: i64,
    /// `bat-…`: new on every attempt.
    pub jti: String,
    /// The notifications; a 2xx answer acknowledges them all.
    pub notifications: Vec<Notification>,
}

/// A verified webhook batch.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationBatch {
    /// `bat-…`: this attempt (a retry has a new one, with the same
    /// notification ids).
    pub batch_id: String,
    /// When the hub signed it.
    pub issued_at: DateTime<Utc>,
    /// When it stops being acceptable.
    pub expires_at: DateTime<Utc>,
    /// The notifications.
    pub notifications: Vec<Notification>,
}

impl NotificationBatch {
    pub(crate) fn from_claims(claims: NotificationClaims, now: DateTime<Utc>) -> Self {
        Self {
            batch_id: claims.jti,
            issued_at: DateTime::from_timestamp(claims.iat, 0).unwrap_or(now),
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now),
            notifications: claims.notifications,
        }
    }
}
