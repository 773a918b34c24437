//! `GET /v1/consents/{id}`: one consent the agency holds.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::consents::{self, ConsentView};

/// One consent or request of the calling agency (scope `consumer`).
#[utoipa::path(
    tag = "consents",
    params(("id" = crate::api::ids::ConsentId, Path, description = "Consent id")),
    security(("agency" = [])),
    responses(
        (status = 200, description = "The consent", body = ConsentView),
        (status = 404, description = "No such consent of this agency", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/consents/{id}")]
pub async fn show(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope("consumer")?;
    let now = state.clock.now();
    let inner = state.clone();
    let id = id.into_inner();
    let (view, entries) = state
        .db(move |conn| consents::show_for_agency(conn, &inner, &caller, &id, now))
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(HttpResponse::Ok().json(view))
}
