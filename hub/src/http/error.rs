//! The one place where errors become HTTP responses: RFC 9457 problem details
//! (`application/problem+json`) with a stable snake_case `code`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::StoreError;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:crossroads:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// A stable machine-readable code.
    pub code: String,
    /// The exchange this problem belongs to, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange_id: Option<String>,
    /// The existing person a registration may duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// Each reason a document was refused, where there are several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<ProblemViolation>>,
}

/// One reason a submitted document was refused, located by a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProblemViolation {
    /// JSON Pointer into the submitted document (`""` is the whole document).
    pub pointer: String,
    /// The rule broken, in snake_case (e.g. `required_added`, `lint`).
    pub rule: String,
    /// What is wrong there, for people.
    pub detail: String,
}

impl Problem {
    /// A problem of `code` with `status` and `detail`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:crossroads:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            exchange_id: None,
            candidate: None,
            violations: None,
        }
    }

    /// The problem as a response.
    pub fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(self).unwrap_or_default();
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .body(body)
    }

    /// The problem that stands for a bare status code.
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status.as_u16() {
            400 => ("bad_request", "The request is malformed."),
            401 => ("unauthenticated", "The request lacks valid credentials."),
            403 => ("forbidden", "The caller may not do this."),
            404 => ("not_found", "There is nothing at this address."),
            405 => (
                "method_not_allowed",
                "This address does not accept this HTTP method.",
            ),
            406 => (
                "not_acceptable",
                "No acceptable representation is available.",
            ),
            408 => ("request_timeout", "The request took too long to arrive."),
            411 => ("length_required", "The request needs a Content-Length."),
            413 => ("payload_too_large", "The request body is too large."),
            414 => ("uri_too_long", "The request URI is too long."),
            415 => (
                "unsupported_media_type",
                "The request body has an unsupported media type.",
            ),
            422 => ("unprocessable_content", "The request body is not valid."),
            429 => ("too_many_requests", "Too many requests; try again later."),
            503 => ("unavailable", "The service is unavailable."),
            _ if status.is_server_error() => ("internal_error", "An internal error occurred."),
            _ => ("error", "The request failed."),
        };
        Problem::new(status, code, detail)
    }
}

/// Every error an HTTP handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; the detail says how.
    #[error("{0}")]
    BadRequest(String),
    /// The thing named does not exist.
    #[error("{detail}")]
    NotFound {
        /// Stable code, e.g. `agency_not_found`.
        code: &'static str,
        /// What was looked for.
        detail: String,
    },
    /// The request conflicts with what exists.
    #[error("{detail}")]
    Conflict {
        /// Stable code, e.g. `agency_exists`.
        code: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// The request is well-formed but its content is refused.
    #[error("{detail}")]
    Invalid {
        /// Stable code naming the failed check.
        code: &'static str,
        /// Why.
        detail: String,
    },
    /// The caller is known but may not do this.
    #[error("{detail}")]
    Forbidden {
        /// Stable code, e.g. `insufficient_scope`.
        code: &'static str,
        /// Why.
        detail: String,
    },
    /// An access token was refused; the code names the check.
    #[error("{detail}")]
    InvalidToken {
        /// Stable code, e.g. `token_expired`.
        code: &'static str,
        /// Why.
        detail: String,
    },
    /// A registration matches a person already registered.
    #[error(
        "a person with the same identifying attributes is registered already: {candidate}; if this is someone else, register again with `distinct_from: [\"{candidate}\"]`"
    )]
    PossibleDuplicate {
        /// The existing person, as the caller names them.
        candidate: String,
    },
    /// Sign-in or activation with wrong credentials.
    #[error("{0}")]
    InvalidCredentials(&'static str),
    /// Too many failures: the account is locked until the given time.
    #[error("too many failed attempts: the account is locked until {until}")]
    Locked {
        /// The end of the lock.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The access decision refused a lookup; the code is the deny code.
    #[error("{detail}")]
    Denied {
        /// A deny code of the decision, e.g. `consent_revoked`.
        code: &'static str,
        /// Why, naming the missing authorization or consent.
        detail: String,
    },
    /// A provider failed: unreachable, too slow, or a wrong answer.
    #[error("{detail}")]
    Provider {
        /// `provider_unavailable`, `provider_timeout` or `provider_invalid_response`.
        code: &'static str,
        /// What happened (never the record's content).
        detail: String,
    },
    /// No credential, or one that is not valid.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// No such record type, or no such version of it.
    #[error("{0}")]
    SchemaNotFound(String),
    /// This version of the record type is already published.
    #[error("{0} is already published")]
    SchemaExists(String),
    /// The schema document is not fit for publication.
    #[error("{detail}")]
    SchemaInvalid {
        /// Why, for people.
        detail: String,
        /// Each problem, with its pointer.
        violations: Vec<ProblemViolation>,
    },
    /// A new minor version breaks compatibility with the previous minor.
    #[error("{detail}")]
    SchemaIncompatible {
        /// Why, for people.
        detail: String,
        /// Each breaking change, with its pointer.
        violations: Vec<ProblemViolation>,
    },
    /// The version number does not follow the published versions.
    #[error("{0}")]
    SchemaVersionRefused(String),
    /// A record does not match its schema.
    #[error("{detail}")]
    RecordInvalid {
        /// Why, for people.
        detail: String,
        /// Each violation, with its pointer into the record.
        violations: Vec<ProblemViolation>,
    },
    /// The body is not of the media type the operation reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is larger than the configured limit.
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The hub cannot serve yet (database down, migrations pending).
    #[error("{0}")]
    NotReady(String),
    /// A refusal that was audited: the problem carries the exchange id it
    /// was audited under.
    #[error("{inner}")]
    Audited {
        /// The exchange id of the audit entry.
        exchange_id: String,
        /// The refusal.
        inner: Box<ApiError>,
    },
    /// Too many requests with credentials that do not verify.
    #[error("too many requests with credentials that do not verify; slow down")]
    TooManyBadCredentials,
    /// Over a rate limit (per client address or per agency).
    #[error("{detail}")]
    RateLimited {
        /// What was limited.
        detail: String,
        /// When to try again, in seconds (`Retry-After`).
        retry_after_secs: u64,
    },
    /// The audit log could not record an exchange in time; nothing was
    /// released to the caller.
    #[error("{0}")]
    AuditUnavailable(String),
    /// Storage failed; the cause goes to the log, never to the caller.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else unexpected; the cause goes to the log only. Made with
    /// [`ApiError::internal`], [`ApiError::internal_from`] or
    /// [`ResultExt::internal`].
    ///
    /// Its text is the context followed by the cause's whole chain, as the
    /// log and the command line show it (the cause is not also given as
    /// `source()`, which would print it twice in an `anyhow` chain).
    #[error("internal error: {context}{}", caused_by(.cause))]
    Internal {
        /// What the hub was doing, for the log.
        context: String,
        /// What failed underneath, where there is an error value.
        cause: Option<BoxedError>,
    },
}

/// The cause of an internal error.
pub type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `: cause: its cause: …`, or nothing.
fn caused_by(cause: &Option<BoxedError>) -> String {
    let mut text = String::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = match cause {
        Some(cause) => Some(cause.as_ref()),
        None => None,
    };
    while let Some(error) = next {
        text.push_str(": ");
        text.push_str(&error.to_string());
        next = error.source();
    }
    text
}

impl ApiError {
    /// An unexpected failure with no error value behind it: `context` says
    /// what went wrong, for the log.
    pub fn internal(context: impl Into<String>) -> Self {
        ApiError::Internal {
            context: context.into(),
            cause: None,
        }
    }

    /// An unexpected failure of `source` while doing `context`; both go to
    /// the log, neither to the caller.
    pub fn internal_from(context: impl Into<String>, source: impl Into<BoxedError>) -> Self {
        ApiError::Internal {
            context: context.into(),
            cause: Some(source.into()),
        }
    }

    /// A malformed request (`400 bad_request`).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest(detail.into())
    }

    /// Well-formed content refused by the check named `code` (`422`).
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Invalid {
            code,
            detail: detail.into(),
        }
    }

    /// Nothing of the kind named by `code` (`404`).
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            detail: detail.into(),
        }
    }

    /// A conflict with what exists (`409`).
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// This error and each of its sources, joined by `: ` (for the log).
    pub fn chain(&self) -> String {
        if let ApiError::Audited { inner, .. } = self {
            return inner.chain();
        }
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let next = cause.to_string();
            // `transparent` variants show their source's text already.
            if !text.ends_with(&next) {
                text.push_str(": ");
                text.push_str(&next);
            }
            source = cause.source();
        }
        text
    }

    /// Logs a server-side failure with its whole source chain and the id of
    /// the request it happened in; a refusal (4xx) is not logged. Called
    /// once, where the error becomes a response.
    pub fn report(&self) {
        if self.status_and_code().0.is_server_error() {
            self.log("request failed");
        }
    }

    /// Logs this error at error level with its source chain and the id of
    /// the request being served (`-` outside a request).
    pub fn log(&self, message: &str) {
        let request_id = crate::http::middleware::current_request_id();
        let exchange_id = match self {
            ApiError::Audited { exchange_id, .. } => Some(exchange_id.as_str()),
            _ => None,
        };
        tracing::error!(
            request_id = request_id.as_deref().unwrap_or("-"),
            exchange_id,
            error = %self.chain(),
            "{message}"
        );
    }
}

/// `.internal("what failed")?` on any result whose error is an error value:
/// an internal error that keeps the value as its source.
pub trait ResultExt<T> {
    /// Maps the error to [`ApiError::Internal`] with `context` and the error
    /// as its source.
    fn internal(self, context: impl Into<String>) -> Result<T, ApiError>;
}

impl<T, E> ResultExt<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn internal(self, context: impl Into<String>) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::internal_from(context, e))
    }
}

impl ApiError {
    /// The status and the stable code of this error.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::SchemaNotFound(_) => (StatusCode::NOT_FOUND, "schema_not_found"),
            ApiError::SchemaExists(_) => (StatusCode::CONFLICT, "schema_exists"),
            ApiError::SchemaInvalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "schema_invalid"),
            ApiError::RecordInvalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "record_invalid"),
            ApiError::SchemaIncompatible { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "schema_incompatible")
            }
            ApiError::SchemaVersionRefused(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "schema_version_refused")
            }
            ApiError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            ApiError::InvalidCredentials(_) => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::Locked { .. } => (StatusCode::TOO_MANY_REQUESTS, "account_locked"),
            ApiError::Denied { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::Provider { code, .. } => (
                match *code {
                    "provider_timeout" | "batch_timeout" => StatusCode::GATEWAY_TIMEOUT,
                    "provider_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::BAD_GATEWAY,
                },
                code,
            ),
            ApiError::PossibleDuplicate { .. } => (StatusCode::CONFLICT, "possible_duplicate"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Invalid { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::InvalidToken { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::AuditUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"),
            ApiError::Audited { inner, .. } => inner.status_and_code(),
            ApiError::TooManyBadCredentials => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::Internal { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// The problem document this error is answered with.
    pub fn problem(&self) -> Problem {
        if let ApiError::Audited { exchange_id, inner } = self {
            let mut problem = inner.problem();
            problem.exchange_id = Some(exchange_id.clone());
            return problem;
        }
        let (status, code) = self.status_and_code();
        let detail = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            "An internal error occurred; it has been logged.".to_owned()
        } else {
            self.to_string()
        };
        let mut problem = Problem::new(status, code, detail);
        if let ApiError::PossibleDuplicate { candidate } = self {
            problem.candidate = Some(candidate.clone());
        }
        if let ApiError::SchemaInvalid { violations, .. }
        | ApiError::SchemaIncompatible { violations, .. }
        | ApiError::RecordInvalid { violations, .. } = self
        {
            problem.violations = Some(violations.clone());
        }
        problem
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        self.report();
        let mut res = self.problem().response();
        let shown = match self {
            ApiError::Audited { inner, .. } => inner.as_ref(),
            other => other,
        };
        match shown {
            ApiError::Unauthenticated(_) => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"crossroads\""),
                );
            }
            ApiError::Locked { until } => {
                let wait = (*until - chrono::Utc::now()).num_seconds().max(1);
                if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            ApiError::TooManyBadCredentials => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited {
                retry_after_secs, ..
            } => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::InvalidToken { .. } => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"crossroads\", error=\"invalid_token\"",
                    ),
                );
            }
            _ => {}
        }
        res
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::internal_from("the blocking thread pool failed", e)
    }
}

/// The body of an OAuth token endpoint error (RFC 6749 §5.2).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unsupported_grant_type`, `invalid_scope` or `server_error`.
    pub error: String,
    /// For people.
    pub error_description: String,
}

/// An error of the OAuth token endpoint, in the RFC 6749 §5.2 shape
/// (`{"error": …, "error_description": …}`), which OAuth clients expect.
#[derive(Debug, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unsupported_grant_type`, `invalid_scope` or `server_error`.
    pub error: &'static str,
    /// For people.
    pub description: String,
}

impl OAuthError {
    /// An error of kind `error`.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> Self {
        e.log("token endpoint failed");
        OAuthError::new(
            "server_error",
            "an internal error occurred; it has been logged",
        )
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "slow_down" => StatusCode::TOO_MANY_REQUESTS,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.error == "slow_down" {
            res.insert_header((header::RETRY_AFTER, "60"));
        }
        res.json(OAuthErrorBody {
            error: self.error.to_owned(),
            error_description: self.description.clone(),
        })
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::Store(StoreError::Query(e))
    }
}

impl crate::store::Transient for ApiError {
    fn is_transient(&self) -> bool {
        match self {
            ApiError::Store(e) => e.is_transient(),
            _ => false,
        }
    }
}
