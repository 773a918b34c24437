//! Request ids, the body size limit, and problem details for bare errors.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, web};
use tracing::Instrument;

use crate::app::state::AppState;
use crate::http::error::{ApiError, PROBLEM_JSON, Problem};

/// The header that carries the request id.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

tokio::task_local! {
    /// The id of the request whose task is running.
    static REQUEST_ID: String;
}

/// The id of the request being served by the current task, for the log
/// (`None` outside a request, e.g. in a background task).
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An incoming id is kept if it is short and plain; otherwise a new one is made.
fn acceptable(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_owned())
}

/// Gives every request an id (`X-Request-Id`, kept from the caller or made
/// here), runs it inside a span carrying that id, and echoes it back.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    // The route's pattern (`/v1/persons/{id}`), never the path itself,
    // which may name a person.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
    );
    let started = Instant::now();
    // Inner layers turn every error into a response, so this only fails
    // when actix itself does.
    let mut res = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await?
        .map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    let status = res.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, elapsed_ms, "request completed"));
    Ok(res)
}

/// Refuses a body whose declared length exceeds the limit before anything
/// reads it. Bodies without a declared length are bounded by the payload
/// extractors' own limit, set to the same value.
pub async fn body_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.max_body_bytes)
        .unwrap_or(1024 * 1024);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let res = ApiError::PayloadTooLarge { limit }.problem().response();
        let mut res = req.into_response(res);
        // The unread body cannot be reused: close the connection after this.
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(res);
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Replaces the body of an error response that is not yet a problem document
/// (an unmatched method, an extractor's plain-text error) with one.
pub fn bare_error_to_problem<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Problem documents, the JSON errors of the OAuth endpoints, and the
    // portal's error pages stay.
    let is_structured = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(PROBLEM_JSON.as_bytes())
            || v.starts_with(b"application/json")
            || v.starts_with(b"text/html")
    });
    if is_structured {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut new = Problem::for_status(status).response();
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test as actix_test};

    use super::*;
    use crate::dev::testing::Captured;

    async fn failing() -> Result<HttpResponse, ApiError> {
        let cause = std::io::Error::other("sector 7 of the disk is unreadable");
        Err(ApiError::internal_from("reading the signing keys", cause))
    }

    async fn refusing() -> Result<HttpResponse, ApiError> {
        Err(ApiError::invalid("invalid_purpose", "purpose: empty"))
    }

    #[actix_web::test]
    async fn an_internal_error_is_logged_once_with_its_source_and_the_request_id_and_not_answered()
    {
        let (captured, _guard) = Captured::install();
        let app = actix_test::init_service(
            App::new()
                .route("/fail", web::get().to(failing))
                .route("/refuse", web::get().to(refusing))
                .wrap(from_fn(request_id)),
        )
        .await;

        let req = actix_test::TestRequest::get()
            .uri("/fail")
            .insert_header((X_REQUEST_ID, "req-fail-42"))
            .to_request();
        let res = actix_test::call_service(&app, req).await;
        assert_eq!(res.status(), 500);
        assert_eq!(res.headers().get(&X_REQUEST_ID).unwrap(), "req-fail-42");
        let body: serde_json::Value = actix_test::read_body_json(res).await;
        assert_eq!(body["code"], "internal_error");
        assert_eq!(
            body["detail"],
            "An internal error occurred; it has been logged."
        );
        let text = body.to_string();
        assert!(!text.contains("sector 7"), "{text}");
        assert!(!text.contains("signing keys"), "{text}");

        let failures: Vec<_> = captured
            .events()
            .into_iter()
            .filter(|e| e["fields"]["message"] == "request failed")
            .collect();
        assert_eq!(failures.len(), 1, "logged once: {failures:?}");
        let fields = &failures[0]["fields"];
        assert_eq!(fields["request_id"], "req-fail-42");
        assert_eq!(
            fields["error"],
            "internal error: reading the signing keys: sector 7 of the disk is unreadable"
        );
        assert_eq!(failures[0]["level"], "ERROR");

        // A refusal is the caller's business: answered, not logged as a failure.
        let req = actix_test::TestRequest::get().uri("/refuse").to_request();
        let res = actix_test::call_service(&app, req).await;
        assert_eq!(res.status(), 422);
        let failures = captured
            .events()
            .into_iter()
            .filter(|e| e["fields"]["message"] == "request failed")
            .count();
        assert_eq!(failures, 1);
    }

    #[test]
    fn outside_a_request_there_is_no_request_id() {
        assert_eq!(current_request_id(), None);
    }
}
