//! `POST /v1/admin/agencies`: onboard an agency.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::agencies::{self, AgencyView, NewAgency};

/// Onboards an agency with its certificates (operators only).
#[utoipa::path(
    tag = "agencies",
    request_body = NewAgency,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Onboarded", body = AgencyView),
        (status = 409, description = "Already onboarded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused (the code names the failed check)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/agencies")]
pub async fn onboard(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    body: web::Json<NewAgency>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let anchors = state.trust_anchors.clone();
    let insecure_ok = state.config.allow_insecure_providers;
    let view = state
        .change(move |conn| {
            let view = agencies::onboard(
                conn,
                anchors.as_deref(),
                &body,
                insecure_ok,
                now,
            )?;
            let event = crate::audit_log::actions::by_operator(&operator, "agency.onboarded")?.with_details(
                serde_json::json!({
                    "agency": view.id,
                    "roles": view.roles,
                    "certificates": view.certificates.iter().map(|c| &c.thumbprint).collect::<Vec<_>>(),
                }),
            );
            Ok((view, vec![event]))
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/admin/agencies/{}", view.id)))
        .json(view))
}
