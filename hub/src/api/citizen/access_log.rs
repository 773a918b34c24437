//! `GET /v1/citizen/access-log`: who looked at my data, when and why.

use actix_web::get;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::state::AppState;
use crate::audit_log::{EntryFilter, EntryProof, Page};
use crate::http::callers::CitizenCaller;
use crate::http::error::ApiError;

/// Filters and paging of the access log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Only this agency (as asker or provider).
    #[param(value_type = Option<crate::api::ids::AgencyId>)]
    pub agency: Option<identity::AgencyId>,
    /// Only this record type.
    pub record_type: Option<String>,
    /// Only this outcome: `permitted`, `denied`, `error` or `recorded`.
    pub outcome: Option<String>,
    /// The next page: entries before this sequence number.
    #[param(minimum = 0, maximum = 18_446_744_073_709_551_615_u64)]
    pub before: Option<u64>,
    /// At most this many (default 50; fewer than 1 reads as 1, more than
    /// 200 as 200).
    #[param(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub limit: Option<u32>,
}

/// A page of the access log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLog {
    /// Newest first, each with its inclusion proof against a signed checkpoint.
    pub items: Vec<EntryProof>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<u64>,
}

/// Every audited exchange and event about the signed-in citizen — lookups
/// permitted and refused included — newest first, each with its inclusion
/// proof against the log's signed checkpoint.
#[utoipa::path(
    tag = "citizen",
    params(AccessLogQuery),
    security(("citizen" = [])),
    responses((status = 200, description = "A page of the access log", body = AccessLog))
)]
#[get("/v1/citizen/access-log")]
pub async fn access_log(
    caller: CitizenCaller,
    state: web::Data<AppState>,
    query: web::Query<AccessLogQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let filter = EntryFilter {
        since: query.since,
        until: query.until,
        agency: query.agency.map(|a| a.to_string()),
        record_type: query.record_type,
        outcome: query.outcome,
    };
    let page = Page {
        before: query.before,
        limit,
    };
    let audit = state.audit.clone();
    let person = caller.common_id.as_digits().to_owned();
    let items = state
        .db(move |conn| audit.entries_for_person(conn, &person, &filter, page))
        .await?;
    let next_before = if items.len() == limit as usize {
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(AccessLog { items, next_before }))
}
