//! `GET /v1/notifications`.

use std::time::Duration;

use actix_web::get;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::notifications::delivery::{self, FEED_MAX, Feed, WAIT_MAX_SECS};

/// Where to read from, and how long to wait.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `cursor` of the previous page: everything up to it is
    /// acknowledged. Absent: from the start of what is kept.
    pub after: Option<String>,
    /// At most this many notifications (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Wait up to this many seconds (0 to 30, default 0) for a
    /// notification when none is there yet.
    #[param(minimum = 0, maximum = 30)]
    pub wait: Option<u64>,
}

/// The calling agency's pull feed (scope `consumer`): notifications after
/// the cursor, oldest first. Reading on from a cursor acknowledges what
/// came before it; within the retention period any cursor may be read
/// again (replay), acknowledged or not.
#[utoipa::path(
    tag = "notifications",
    params(FeedQuery),
    security(("agency" = [])),
    responses(
        (status = 200, description = "The next notifications", body = Feed),
        (status = 422, description = "`invalid_cursor`, or a limit or wait out of range", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/notifications")]
pub async fn feed(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=FEED_MAX).contains(&limit) {
        return Err(ApiError::invalid(
            "invalid_limit",
            format!("limit: 1 to {FEED_MAX}"),
        ));
    }
    let wait = query.wait.unwrap_or(0);
    if wait > WAIT_MAX_SECS {
        return Err(ApiError::invalid(
            "invalid_wait",
            format!("wait: 0 to {WAIT_MAX_SECS} seconds"),
        ));
    }
    let page: Feed = delivery::feed(
        &state,
        &caller,
        query.after.as_deref(),
        limit,
        Duration::from_secs(wait),
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
