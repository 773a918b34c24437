//! Publishing changes: an authentic source tells the hub that one of its
//! records changed (`POST {hub}/v1/changes`, scope `provider`).

use std::sync::OnceLock;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::notifications::ChangeKind;

/// How long a publication may take, connection included.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an unexpected answer is kept for the error.
const DETAIL_MAX: usize = 500;

/// A change to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// The person: common id or your sector pseudonym.
    pub person: String,
    /// The record type and exact version, e.g. `person.address@1.1`.
    pub record_type: String,
    /// What happened.
    pub kind: ChangeKind,
    /// When the change takes effect.
    pub effective_date: NaiveDate,
    /// The changed fields, as JSON Pointers (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
    /// The record as it is now; required unless `kind` is `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
    /// Your own id for this change (1 to 200 characters): publishing the
    /// same reference again is answered with the same change id.
    pub reference: String,
}

/// The hub's receipt for a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAccepted {
    /// `chg-…`.
    pub change_id: String,
    /// Whether the reference had been published before.
    pub duplicate: bool,
}

/// Why a change was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The hub answered with an error.
    #[error("the hub refused the change ({status} {code}): {detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem's `code` (e.g. `schema_invalid`, `not_a_source`), or
        /// `unexpected_answer` when the answer was not a problem document.
        code: String,
        /// The problem's `detail`, or the start of the answer.
        detail: String,
    },
    /// The hub could not be reached or did not answer in time.
    #[error("cannot reach the hub: {0}")]
    Transport(String),
    /// The hub answered 2xx with something that is not a receipt.
    #[error("the hub's answer is not a change receipt: {0}")]
    UnexpectedAnswer(String),
}

/// Publishes changes to the hub at one URL.
pub struct Publisher {
    url: String,
    http: OnceLock<reqwest::Client>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

impl Publisher {
    /// A publisher to the hub at `hub_url` (e.g. `https://hub.example.gov`).
    /// Call [`crate::install_crypto`] once before using it.
    pub fn new(hub_url: &str) -> Self {
        Self {
            url: format!("{}/v1/changes", hub_url.trim_end_matches('/')),
            http: OnceLock::new(),
        }
    }

    /// Publishes `change` with an access token of scope `provider`.
    pub async fn publish(
        &self,
        access_token: &str,
        change: &ChangeRequest,
    ) -> Result<ChangeAccepted, PublishError> {
        let response = self
            .http()?
            .post(&self.url)
            .bearer_auth(access_token)
            .json(change)
            .send()
            .await
            .map_err(|e| PublishError::Transport(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| PublishError::Transport(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| PublishError::UnexpectedAnswer(e.to_string()));
        }
        let (code, detail) = match serde_json::from_slice::<Problem>(&body) {
            Ok(Problem {
                code: Some(code),
                detail,
                title,
            }) => (code, detail.or(title).unwrap_or_default()),
            _ => (
                "unexpected_answer".to_owned(),
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(DETAIL_MAX)
                    .collect(),
            ),
        };
        Err(PublishError::Refused {
            status: status.as_u16(),
            code,
            detail,
        })
    }

    /// The HTTP client, made on first use: only once a TLS crypto provider
    /// is installed (reqwest would panic without one).
    fn http(&self) -> Result<&reqwest::Client, PublishError> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(PublishError::Transport(
                "no TLS crypto provider is installed: call install_crypto() at start".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(PUBLISH_TIMEOUT)
            .build()
            .map_err(|e| PublishError::Transport(e.to_string()))?;
        Ok(self.http.get_or_init(|| client))
    }
}
