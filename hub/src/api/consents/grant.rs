//! `POST /v1/citizen/consents`: the citizen grants a consent directly.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::CitizenCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::consents::{self, ConsentView, NewGrant};

/// Grants a consent to an agency: active at once.
#[utoipa::path(
    tag = "citizen",
    request_body = NewGrant,
    security(("citizen" = [])),
    responses(
        (status = 201, description = "The active consent", body = ConsentView),
        (status = 422, description = "Refused (the code names the failed check)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/citizen/consents")]
pub async fn grant(
    caller: CitizenCaller,
    state: web::Data<AppState>,
    body: web::Json<NewGrant>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let (view, entries) = state
        .db(move |conn| consents::grant(conn, &inner, caller.common_id, &body, now))
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/citizen/consents/{}", view.id)))
        .json(view))
}
