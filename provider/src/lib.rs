//! For agencies that answer the Crossroads hub (providers): check that a
//! request really comes from the hub, for you, and what it asks for.
//!
//! The hub calls `POST {endpoint}/records/{record_type}` with
//! `Authorization: Bearer <request token>`: an EdDSA JWT signed by one of the
//! hub's keys, published at `{hub}/.well-known/jwks.json`. [`HubVerifier`]
//! fetches that key set, caches it, fetches it again when a token names a
//! key it has not seen (key rotation), and checks the token:
//!
//! ```no_run
//! # async fn handle(authorization: &str) -> Result<(), crossroads_provider::ProviderError> {
//! use crossroads_provider::HubVerifier;
//! // Once, at start: ring as the process's crypto (see below).
//! crossroads_provider::install_crypto().expect("another JOSE crypto provider is installed");
//! let verifier = HubVerifier::new("https://hub.example.gov", "BE-0123456789");
//! let request = verifier.verify_header(authorization).await?;
//! println!("{} asks for {} about {} ({})", request.consumer, request.record_type, request.person, request.purpose);
//! # Ok(()) }
//! ```
//!
//! The protocol is described in `docs/provider-protocol.md`.
//!
//! # Change notifications
//!
//! An authentic source publishes its changes with a [`Publisher`]
//! (`POST {hub}/v1/changes`, an access token of scope `provider`); the hub
//! answers with a [`ChangeAccepted`] receipt, the same for the same
//! `reference`, and a refusal becomes [`PublishError::Refused`] with the
//! problem's `code`.
//!
//! A subscriber with webhook delivery receives `POST` batches with
//! `content-type: application/jwt`: a JWS signed with the same keys, `typ`
//! [`NOTIFICATION_BATCH_TYPE`], for this agency. Verify the body with
//! [`HubVerifier::verify_notifications`], answer 2xx to acknowledge every
//! notification in it, and process each [`Notification::id`] once (a retry
//! brings the same ids in a new batch):
//!
//! ```no_run
//! # async fn receive(verifier: &crossroads_provider::HubVerifier, body: &str) -> Result<(), crossroads_provider::ProviderError> {
//! let batch = verifier.verify_notifications(body).await?;
//! for notification in &batch.notifications {
//!     println!("{} {:?} {} for {}", notification.id, notification.kind, notification.record_type, notification.person);
//! }
//! # Ok(()) }
//! ```
//!
//! A request token is never accepted as a batch, nor a batch as a request
//! token. Like every hub token, a batch is at most
//! [`identity::jwt::MAX_TOKEN_LEN`] bytes long (16 KiB); a longer one is
//! refused as `malformed_token`, so the hub keeps its batches under it.
//!
//! # Cryptography: your call, once
//!
//! This crate verifies tokens with `jsonwebtoken` and fetches keys with
//! `reqwest` over rustls. Both find their cryptography in a process-wide
//! provider, and neither lets a library hand one to a single call; this
//! crate never installs one behind your back. Call [`install_crypto`] once
//! at start, before the first [`HubVerifier`] is used: it makes ring the
//! `jsonwebtoken` provider and, unless your program chose one already, the
//! rustls provider. Only ring is used: no `aws-lc-rs`, no RustCrypto
//! `rsa`, `p256` or `ed25519-dalek`. Without it, fetching keys fails with
//! [`ProviderError::Keys`] and verifying with
//! [`ProviderError::InvalidToken`] coded `crypto_provider_missing`; nothing
//! panics.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use identity::jwt::{HubTokenExpectations, verify_hub_token};
use identity::keys::JwkSet;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

mod notifications;
mod publisher;

pub use notifications::{
    ChangeKind, NOTIFICATION_BATCH_TYPE, Notification, NotificationBatch, NotificationClaims,
};
pub use publisher::{ChangeAccepted, ChangeRequest, PublishError, Publisher};

/// The `typ` header of the hub's request tokens.
pub const REQUEST_TOKEN_TYPE: &str = "crossroads-request+jwt";

/// Makes ring the process's crypto, for this crate and the hub: the
/// `jsonwebtoken` provider (see [`identity::jose::install_crypto`]) and,
/// unless one is installed already, the rustls provider its HTTP client
/// needs. Idempotent. An error says another `jsonwebtoken` provider was
/// installed first; tokens are then checked with it (same rules).
pub fn install_crypto() -> Result<(), identity::jose::OtherCryptoProvider> {
    // An error only means a TLS provider is installed already: any will do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    identity::jose::install_crypto()
}

/// How long a fetched key set is used before it is fetched again.
const KEYS_TTL: Duration = Duration::from_secs(300);
/// The shortest time between two fetches triggered by unknown key ids.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(10);
/// Clock skew tolerated.
const LEEWAY_SECS: i64 = 30;

/// The claims of a hub request token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestClaims {
    /// The hub's issuer identifier (its public URL).
    pub iss: String,
    /// The provider agency the request is for.
    pub aud: String,
    /// The person, named as the provider's identifier policy wants.
    pub sub: String,
    /// The exchange id: unique per request.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch (short: a minute).
    pub exp: i64,
    /// The record type and exact version asked for, e.g. `person.address@1.1`.
    pub record_type: String,
    /// The purpose of the consumer agency.
    pub purpose: String,
    /// The consumer agency that asked.
    pub consumer: String,
}

/// A verified request from the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRequest {
    /// The exchange id, to quote in logs and disputes.
    pub exchange_id: String,
    /// The person, as this provider identifies persons.
    pub person: String,
    /// The record type and exact version asked for.
    pub record_type: String,
    /// The consumer's purpose.
    pub purpose: String,
    /// The consumer agency.
    pub consumer: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No `Authorization: Bearer` header.
    #[error("the request has no bearer token")]
    MissingToken,
    /// The token did not verify; the code names the failed check.
    #[error("the hub token is not valid ({code}): {detail}")]
    InvalidToken {
        /// e.g. `bad_signature`, `token_expired`, `wrong_audience`.
        code: &'static str,
        /// For logs.
        detail: String,
    },
    /// The hub's key set could not be fetched.
    #[error("cannot fetch the hub's keys: {0}")]
    Keys(String),
}

struct Cached {
    keys: Arc<JwkSet>,
    fetched: Instant,
}

/// Verifies the hub's request tokens for one provider agency.
pub struct HubVerifier {
    issuer: String,
    audience: String,
    jwks_url: String,
    http: OnceLock<reqwest::Client>,
    cache: RwLock<Option<Cached>>,
    min_refresh: Duration,
}

impl HubVerifier {
    /// A verifier for requests from the hub at `hub_url` (its issuer, e.g.
    /// `https://hub.example.gov`) to the agency `agency_id`.
    /// Call [`install_crypto`] once before using it.
    pub fn new(hub_url: &str, agency_id: &str) -> Self {
        let issuer = hub_url.trim_end_matches('/').to_owned();
        Self {
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            issuer,
            audience: agency_id.to_owned(),
            http: OnceLock::new(),
            cache: RwLock::new(None),
            min_refresh: REFRESH_AT_MOST_EVERY,
        }
    }

    /// Sets the shortest time between two key set fetches triggered by
    /// unknown key ids (10 seconds unless set).
    #[must_use]
    pub fn with_min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// Verifies the value of an `Authorization` header.
    pub async fn verify_header(&self, authorization: &str) -> Result<HubRequest, ProviderError> {
        let token = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ProviderError::MissingToken)?;
        self.verify(token, Utc::now()).await
    }

    /// Verifies a request token at `now`.
    pub async fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<HubRequest, ProviderError> {
        let claims: RequestClaims = self.verify_claims(token, REQUEST_TOKEN_TYPE, now).await?;
        Ok(HubRequest {
            exchange_id: claims.jti,
            person: claims.sub,
            record_type: claims.record_type,
            purpose: claims.purpose,
            consumer: claims.consumer,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now),
        })
    }

    /// Verifies the body of a webhook batch (`content-type:
    /// application/jwt`) now.
    pub async fn verify_notifications(
        &self,
        body: &str,
    ) -> Result<NotificationBatch, ProviderError> {
        self.verify_notifications_at(body, Utc::now()).await
    }

    /// Verifies the body of a webhook batch at `now`.
    pub async fn verify_notifications_at(
        &self,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<NotificationBatch, ProviderError> {
        let claims: NotificationClaims = self
            .verify_claims(body.trim(), NOTIFICATION_BATCH_TYPE, now)
            .await?;
        Ok(NotificationBatch::from_claims(claims, now))
    }

    /// Verifies a hub token of type `typ` for this agency, fetching the key
    /// set again once when the token names a key not in it.
    async fn verify_claims<C: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        now: DateTime<Utc>,
    ) -> Result<C, ProviderError> {
        let keys = self.keys(false).await?;
        match self.check(token, typ, &keys, now) {
            Err(ProviderError::InvalidToken {
                code: "unknown_key",
                ..
            }) => {
                // Perhaps the hub rotated its key: fetch the set again, once.
                let keys = self.keys(true).await?;
                self.check(token, typ, &keys, now)
            }
            other => other,
        }
    }

    fn check<C: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        keys: &JwkSet,
        now: DateTime<Utc>,
    ) -> Result<C, ProviderError> {
        verify_hub_token(
            token,
            keys,
            &HubTokenExpectations {
                issuer: &self.issuer,
                audience: &self.audience,
                typ,
            },
            now,
            chrono::Duration::seconds(LEEWAY_SECS),
        )
        .map_err(|e| ProviderError::InvalidToken {
            code: e.code(),
            detail: e.to_string(),
        })
    }

    /// The HTTP client, made on first use: only once a TLS crypto provider
    /// is installed (reqwest would panic without one).
    fn http(&self) -> Result<&reqwest::Client, ProviderError> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(ProviderError::Keys(
                "no TLS crypto provider is installed: call install_crypto() at start".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| ProviderError::Keys(e.to_string()))?;
        Ok(self.http.get_or_init(|| client))
    }

    async fn keys(&self, refresh: bool) -> Result<Arc<JwkSet>, ProviderError> {
        {
            let cache = self.cache.read().await;
            if let Some(cached) = cache.as_ref() {
                let age = cached.fetched.elapsed();
                let fresh = age < KEYS_TTL && !refresh;
                if fresh || (refresh && age < self.min_refresh) {
                    return Ok(Arc::clone(&cached.keys));
                }
            }
        }
        let mut cache = self.cache.write().await;
        let response = self
            .http()?
            .get(&self.jwks_url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| ProviderError::Keys(e.to_string()))?;
        let document: serde_json::Value = response
            .json()
            .await
            .map_err(|e| ProviderError::Keys(e.to_string()))?;
        let keys =
            Arc::new(JwkSet::from_json(&document).map_err(|e| ProviderError::Keys(e.to_string()))?);
        *cache = Some(Cached {
            keys: Arc::clone(&keys),
            fetched: Instant::now(),
        });
        Ok(keys)
    }
}
