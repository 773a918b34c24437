//! `POST /v1/lookups/batch`.

use actix_web::post;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::broker::{self, LookupRequest};

/// The most persons one batch may name.
pub const MAX_BATCH: usize = 1_000;
/// How many lookups of a batch run at once.
const FAN_OUT: usize = 16;

/// One record type for many persons.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The persons (common IDs or the caller's sector pseudonyms), at most
    /// 1000. Each is answered on its own: one that is malformed or unknown
    /// gets its problem in its result (`422`, `404`), and the others are
    /// still looked up.
    #[schema(min_items = 1, max_items = 1000)]
    pub persons: Vec<String>,
    /// The record type, e.g. `person.address@1`.
    #[schema(value_type = crate::api::ids::RecordTypeRef)]
    pub record_type: String,
    /// The purpose code.
    #[schema(value_type = crate::api::ids::PurposeCode)]
    pub purpose: String,
}

/// The answer for one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// The person as asked for.
    pub person: String,
    /// HTTP status this lookup alone would have had.
    pub status: u16,
    /// The exchange id.
    pub exchange_id: String,
    /// The record, when found and permitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The record type and exact version of `data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    /// The problem, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// Answers per person, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// One item per person.
    pub results: Vec<BatchItem>,
}

/// Looks up one record type for up to 1000 distinct persons.
///
/// The lookups run concurrently with a bounded fan-out; each is decided,
/// reserves its consent's use and is audited on its own. A batch naming the same person twice (the
/// same string) is refused with 422 `batch_duplicate_person`. The batch has
/// an overall deadline (`batch_timeout_secs`): persons not looked up by
/// then get a `504 batch_timeout` result, each audited.
#[utoipa::path(
    tag = "lookups",
    request_body = BatchRequest,
    security(("agency" = [])),
    responses(
        (status = 200, description = "One result per person", body = BatchResponse),
        (status = 422, description = "batch_size (none or more than 1000 persons), batch_duplicate_person, or a malformed record type or purpose (invalid_record_type, invalid_purpose)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/lookups/batch")]
pub async fn batch(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    body: web::Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.persons.is_empty() || body.persons.len() > MAX_BATCH {
        return Err(ApiError::Invalid {
            code: "batch_size",
            detail: format!("persons: 1 to {MAX_BATCH}"),
        });
    }
    // The record type and purpose are the whole batch's: one malformed is
    // refused once, before any lookup, with the code a lookup would give.
    if let Err(e) = body.record_type.parse::<schemas::RecordTypeRef>() {
        return Err(ApiError::Invalid {
            code: "invalid_record_type",
            detail: format!("record_type: {e}"),
        });
    }
    if let Err(e) = consent::PurposeCode::parse(&body.purpose) {
        return Err(ApiError::Invalid {
            code: "invalid_purpose",
            detail: format!("purpose: {e}"),
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(body.persons.len());
    let twice: Vec<&str> = body
        .persons
        .iter()
        .filter(|p| !seen.insert(p.trim()))
        .map(|p| p.trim())
        .collect();
    if !twice.is_empty() {
        return Err(ApiError::Invalid {
            code: "batch_duplicate_person",
            detail: format!(
                "persons: each person at most once; named again: {}",
                twice.join(", ")
            ),
        });
    }
    // Each person counts as one lookup against the agency's limit.
    state.rate_limits.check_agency(
        crate::http::rate_limit::Class::Lookup,
        caller.agency_id.as_str(),
        u32::try_from(body.persons.len()).unwrap_or(u32::MAX),
    )?;
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_secs(u64::from(state.config.batch_timeout_secs));
    let jobs = body.persons.into_iter().enumerate().map(|(i, person)| {
        let state = state.clone();
        let caller = caller.clone();
        let request = LookupRequest {
            person: person.clone(),
            record_type: body.record_type.clone(),
            purpose: body.purpose.clone(),
            consent_id: None,
        };
        async move {
            let item = match broker::lookup_until(&state, &caller, request, Some(deadline)).await {
                Ok(found) => BatchItem {
                    person,
                    status: 200,
                    exchange_id: found.exchange_id,
                    record_type: Some(found.record_type),
                    data: Some(found.data),
                    problem: None,
                },
                Err(failure) => {
                    let exchange_id = failure.exchange_id.clone();
                    // The one error mapping, as for a single lookup: the
                    // problem carries the exchange id, and a failure of the
                    // hub is logged.
                    let error = ApiError::from(failure);
                    error.report();
                    let problem = error.problem();
                    BatchItem {
                        person,
                        status: problem.status,
                        exchange_id,
                        record_type: None,
                        data: None,
                        problem: Some(problem),
                    }
                }
            };
            (i, item)
        }
    });
    let mut results: Vec<(usize, BatchItem)> = futures_util::stream::iter(jobs)
        .buffer_unordered(FAN_OUT)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(BatchResponse {
            results: results.into_iter().map(|(_, item)| item).collect(),
        }))
}
