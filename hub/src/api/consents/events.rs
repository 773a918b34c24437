//! `GET /v1/consents/events`: the state changes an agency must know about.

use actix_web::get;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::ApiError;
use crate::services::consents::{self, EventPage};

/// The cursor.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Cursor {
    /// The last `seq` seen (`next_after` of the previous page); 0 or absent
    /// for the start.
    pub after: Option<i64>,
    /// At most this many events (1 to 1000, default 100).
    pub limit: Option<i64>,
}

/// State changes of the calling agency's consents after a cursor, oldest
/// first: `granted`, `approved`, `rejected`, `paused`, `resumed`, `revoked`,
/// `expired` (scope `consumer`).
#[utoipa::path(
    tag = "consents",
    params(Cursor),
    security(("agency" = [])),
    responses((status = 200, description = "The next events", body = EventPage))
)]
#[get("/v1/consents/events")]
pub async fn events(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    cursor: web::Query<Cursor>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope("consumer")?;
    let after = cursor.after.unwrap_or(0);
    let limit = cursor.limit.unwrap_or(100);
    let inner = state.clone();
    let page = state
        .db(move |conn| consents::events(conn, &inner, &caller, after, limit))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
