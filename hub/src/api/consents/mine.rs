//! `GET /v1/citizen/consents`: the citizen's consents and pending requests.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::CitizenCaller;
use crate::http::error::ApiError;
use crate::services::consents::{self, ConsentView};

/// The citizen's consents and pending requests, newest first, with each
/// agency's name and each purpose's title.
#[utoipa::path(
    tag = "citizen",
    security(("citizen" = [])),
    responses((status = 200, description = "The consents", body = [ConsentView]))
)]
#[get("/v1/citizen/consents")]
pub async fn mine(
    caller: CitizenCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let (views, entries) = state
        .db(move |conn| consents::list_for_person(conn, &inner, caller.common_id, now))
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(HttpResponse::Ok().json(views))
}
