//! The error answers that follow from how an operation is called rather than
//! from what it does, attached to every operation of the OpenAPI document in
//! one place: an operation cannot forget one, and the annotations keep only
//! the answers of their own.
//!
//! - A JSON body can be malformed (400 `bad_request`), too large (413
//!   `payload_too_large`) or of another media type (415
//!   `unsupported_media_type`); any other body can be too large.
//! - Query parameters, and path parameters read as numbers, can be malformed
//!   (400 `bad_request`).
//! - Every credential can be missing or invalid (401). An agency's token can
//!   also be refused for its agency (403 `agency_suspended`, and
//!   `insufficient_scope` where a scope is needed), rate-limited when it does
//!   not verify (429 `too_many_requests`, with `Retry-After`), and a refusal
//!   of a token the hub signed is audited first (503 `audit_unavailable` when
//!   the log cannot take it in time).
//! - The endpoints that are rate-limited per client address and per agency
//!   (token, sign-in, activation, the second factor, consent requests,
//!   lookups) can answer 429.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Content, OpenApi, PathItem, Ref, RefOr, Response, ResponseBuilder};

use crate::http::error::PROBLEM_JSON;

/// A shared answer: its status and its name under `components/responses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Common {
    BadRequest,
    Unauthenticated,
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    AuditUnavailable,
}

impl Common {
    const ALL: [Common; 7] = [
        Common::BadRequest,
        Common::Unauthenticated,
        Common::Forbidden,
        Common::PayloadTooLarge,
        Common::UnsupportedMediaType,
        Common::TooManyRequests,
        Common::AuditUnavailable,
    ];

    fn status(self) -> &'static str {
        match self {
            Common::BadRequest => "400",
            Common::Unauthenticated => "401",
            Common::Forbidden => "403",
            Common::PayloadTooLarge => "413",
            Common::UnsupportedMediaType => "415",
            Common::TooManyRequests => "429",
            Common::AuditUnavailable => "503",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Common::BadRequest => "BadRequest",
            Common::Unauthenticated => "Unauthenticated",
            Common::Forbidden => "Forbidden",
            Common::PayloadTooLarge => "PayloadTooLarge",
            Common::UnsupportedMediaType => "UnsupportedMediaType",
            Common::TooManyRequests => "TooManyRequests",
            Common::AuditUnavailable => "AuditUnavailable",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Common::BadRequest => {
                "`bad_request`: the body, a query parameter or a path parameter is malformed"
            }
            Common::Unauthenticated => {
                "No credential, or one that is not valid (`unauthenticated`, or the code of the failed token check); see `WWW-Authenticate`"
            }
            Common::Forbidden => {
                "The caller may not do this: `agency_suspended`, `insufficient_scope`, or the code of the refusal"
            }
            Common::PayloadTooLarge => "`payload_too_large`: the body exceeds the configured limit",
            Common::UnsupportedMediaType => {
                "`unsupported_media_type`: the body is not `application/json`"
            }
            Common::TooManyRequests => {
                "`too_many_requests` (or `account_locked`): slow down; `Retry-After` says for how long"
            }
            Common::AuditUnavailable => {
                "`audit_unavailable`: the audit log could not record this in time; nothing was released"
            }
        }
    }

    fn response(self) -> Response {
        let problem = Content::new(Some(Ref::from_schema_name("Problem")));
        let response = ResponseBuilder::new()
            .description(self.description())
            .content(PROBLEM_JSON, problem);
        match self {
            Common::TooManyRequests => response
                .header(
                    "Retry-After",
                    seconds_header("Seconds to wait before trying again"),
                )
                .build(),
            _ => response.build(),
        }
    }
}

fn seconds_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(0)),
        )
        .description(Some(description))
        .build()
}

/// Whether the operation is rate-limited per client address and per agency:
/// the limiter's own classification decides, so the two cannot drift apart.
fn rate_limited(path: &str, method: &str) -> bool {
    actix_web::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .is_ok_and(|method| crate::http::rate_limit::Class::of(&method, path).is_some())
}

/// Adds the shared answers to `components/responses`, and to each operation
/// those that follow from its body, parameters and credentials. An answer
/// the operation documents itself is kept.
pub fn attach(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for common in Common::ALL {
        components
            .responses
            .insert(common.name().to_owned(), RefOr::T(common.response()));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let limited = rate_limited(path, method);
            let extra = limited.then_some(Common::TooManyRequests);
            for common in applicable(operation).into_iter().chain(extra) {
                operation
                    .responses
                    .responses
                    .entry(common.status().to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(common.name())));
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
}

/// The shared answers `operation` can give.
fn applicable(operation: &Operation) -> Vec<Common> {
    let mut found = Vec::new();
    if let Some(body) = &operation.request_body {
        if is_json(body) {
            found.extend([Common::BadRequest, Common::UnsupportedMediaType]);
        }
        found.push(Common::PayloadTooLarge);
    }
    if operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query || !is_string(p.schema.as_ref()))
    {
        found.push(Common::BadRequest);
    }
    let schemes = security_schemes(operation);
    if !schemes.is_empty() {
        found.push(Common::Unauthenticated);
    }
    if schemes.iter().any(|s| s == "agency") {
        found.extend([
            Common::Forbidden,
            Common::TooManyRequests,
            Common::AuditUnavailable,
        ]);
    }
    found
}

fn is_json(body: &RequestBody) -> bool {
    body.content.keys().any(|media| media == "application/json")
}

fn is_string(schema: Option<&RefOr<Schema>>) -> bool {
    match schema {
        Some(RefOr::T(Schema::Object(object))) => {
            matches!(
                &object.schema_type,
                utoipa::openapi::schema::SchemaType::Type(Type::String)
            )
        }
        _ => false,
    }
}

/// The names of the security schemes an operation accepts.
fn security_schemes(operation: &Operation) -> Vec<String> {
    operation
        .security
        .iter()
        .flatten()
        .filter_map(|requirement| serde_json::to_value(requirement).ok())
        .filter_map(|value| {
            value
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}
