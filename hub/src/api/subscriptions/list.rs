//! `GET /v1/subscriptions`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use super::SubscriptionList;
use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::ApiError;
use crate::services::notifications;

/// The calling agency's subscriptions in force (scope `consumer`).
#[utoipa::path(
    tag = "notifications",
    security(("agency" = [])),
    responses((status = 200, description = "The subscriptions", body = SubscriptionList))
)]
#[get("/v1/subscriptions")]
pub async fn list(
    caller: AgencyCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let subscriptions = state
        .db(move |conn| notifications::subscriptions(conn, &caller))
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionList { subscriptions }))
}
