//! `GET /v1/notifications/failed` and `GET /v1/admin/notifications/failed`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use super::FailedList;
use crate::app::state::AppState;
use crate::http::callers::{AgencyCaller, OperatorCaller};
use crate::http::error::ApiError;
use crate::services::notifications;

/// How many dead letters one answer lists.
const LIMIT: i64 = 500;

/// The calling agency's dead-lettered notifications, newest first (scope
/// `consumer`): those its webhook did not take within the retry period,
/// and those refused because its backlog was full.
#[utoipa::path(
    tag = "notifications",
    security(("agency" = [])),
    responses((status = 200, description = "The dead letters", body = FailedList))
)]
#[get("/v1/notifications/failed")]
pub async fn failed(
    caller: AgencyCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let notifications = state
        .db(move |conn| notifications::failed(conn, &caller, LIMIT))
        .await?;
    Ok(HttpResponse::Ok().json(FailedList { notifications }))
}

/// Every agency's dead-lettered notifications, newest first (operators).
#[utoipa::path(
    tag = "notifications",
    security(("operator" = [])),
    responses((status = 200, description = "The dead letters", body = FailedList))
)]
#[get("/v1/admin/notifications/failed")]
pub async fn all_failed(
    _operator: OperatorCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let notifications = state
        .db(move |conn| notifications::all_failed(conn, LIMIT))
        .await?;
    Ok(HttpResponse::Ok().json(FailedList { notifications }))
}
