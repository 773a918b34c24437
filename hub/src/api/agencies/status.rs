//! `POST /v1/admin/agencies/{id}/suspend` and `/reactivate`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::agencies::{self, AgencyView};

async fn set(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    id: String,
    active: bool,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let key = id.clone();
    let kind = if active {
        "agency.reactivated"
    } else {
        "agency.suspended"
    };
    let view = state
        .change(move |conn| {
            let view = agencies::set_active(conn, &id, active, now)?;
            let event = crate::audit_log::actions::by_operator(&operator, kind)?
                .with_details(serde_json::json!({"agency": id}));
            Ok((view, vec![event]))
        })
        .await?;
    state.verified_tokens.forget_agency(&key);
    Ok(HttpResponse::Ok().json(view))
}

/// Suspends an agency: its tokens stop working at once (operators only).
#[utoipa::path(
    tag = "agencies",
    params(("id" = crate::api::ids::AgencyId, Path, description = "Agency identifier")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Suspended", body = AgencyView),
        (status = 404, description = "No such agency", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/agencies/{id}/suspend")]
pub async fn suspend(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set(operator, state, id.into_inner(), false).await
}

/// Reactivates a suspended agency (operators only).
#[utoipa::path(
    tag = "agencies",
    params(("id" = crate::api::ids::AgencyId, Path, description = "Agency identifier")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Active again", body = AgencyView),
        (status = 404, description = "No such agency", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/agencies/{id}/reactivate")]
pub async fn reactivate(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set(operator, state, id.into_inner(), true).await
}
