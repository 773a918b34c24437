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
    /// No credential, or one that is not valid.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The body is larger than the configured limit.
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The hub cannot serve yet (database down, migrations pending).
    #[error("{0}")]
    NotReady(String),
    /// Storage failed; the cause goes to the log, never to the caller.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else unexpected; the cause goes to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The status and the stable code of this error.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// The problem document this error is answered with.
    pub fn problem(&self) -> Problem {
        let (status, code) = self.status_and_code();
        let detail = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            "An internal error occurred; it has been logged.".to_owned()
        } else {
            self.to_string()
        };
        Problem::new(status, code, detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        if self.status_code().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut res = self.problem().response();
        if let ApiError::Unauthenticated(_) = self {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"crossroads\""),
            );
        }
        res
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(e.to_string())
    }
}
