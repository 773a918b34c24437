//! `POST /v1/lookups`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::broker::{self, LookupRequest, LookupResponse};

/// Asks for a record about a person. The hub decides (authorization and,
/// where required, consent), fetches the record from its authentic source,
/// checks it against the schema, keeps only the granted fields, writes the
/// exchange to the audit log — permitted or not — and answers.
#[utoipa::path(
    tag = "lookups",
    request_body = LookupRequest,
    security(("agency" = [])),
    responses(
        (status = 200, description = "The record, minimised", body = LookupResponse),
        (status = 422, description = "The request is refused before any decision (e.g. `invalid_purpose`, `invalid_record_type`, `invalid_person`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Refused: the code is the deny code (no_authorization, consent_required, consent_revoked, …)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown_person, no_record or no_provider", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "provider_invalid_response", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "provider_unavailable", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "provider_timeout", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/lookups")]
pub async fn create(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    body: web::Json<LookupRequest>,
) -> HttpResponse {
    if let Err(refused) = state.rate_limits.check_agency(
        crate::http::rate_limit::Class::Lookup,
        caller.agency_id.as_str(),
        1,
    ) {
        return HttpResponse::from_error(refused);
    }
    match broker::lookup(&state, &caller, body.into_inner()).await {
        Ok(found) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(found),
        Err(failure) => {
            // The one error mapping: the problem carries the exchange id,
            // and a failure of the hub is logged.
            let mut res = HttpResponse::from_error(ApiError::from(failure));
            res.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            res
        }
    }
}
