//! `POST /v1/admin/agencies/{id}/certificates` and
//! `POST /v1/admin/agencies/{id}/certificates/{thumbprint}/revoke`.

use actix_web::post;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::agencies::{self, CertificateView};

/// A certificate to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCertificate {
    /// The PEM certificate (and any intermediate).
    pub pem: String,
}

/// Adds a certificate to an agency (operators only).
#[utoipa::path(
    tag = "agencies",
    params(("id" = crate::api::ids::AgencyId, Path, description = "Agency identifier")),
    request_body = NewCertificate,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Added", body = CertificateView),
        (status = 404, description = "No such agency (`agency_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused (the code names the failed check)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/agencies/{id}/certificates")]
pub async fn add(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<NewCertificate>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let anchors = state.trust_anchors.clone();
    let id = id.into_inner();
    let view = state
        .change(move |conn| {
            let view = agencies::add_certificate(conn, anchors.as_deref(), &id, &body.pem, now)?;
            let event =
                crate::audit_log::actions::by_operator(&operator, "agency.certificate_added")?
                    .with_details(
                        serde_json::json!({"agency": id, "certificate": view.thumbprint}),
                    );
            Ok((view, vec![event]))
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Revokes a certificate: tokens obtained with it stop working (operators only).
#[utoipa::path(
    tag = "agencies",
    params(
        ("id" = crate::api::ids::AgencyId, Path, description = "Agency identifier"),
        ("thumbprint" = crate::api::ids::Thumbprint, Path, description = "x5t#S256 of the certificate")
    ),
    security(("operator" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such active certificate", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/agencies/{id}/certificates/{thumbprint}/revoke")]
pub async fn revoke(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (id, thumbprint) = path.into_inner();
    let key = id.clone();
    state
        .change(move |conn| {
            agencies::revoke_certificate(conn, &id, &thumbprint, now)?;
            let details = serde_json::json!({"agency": id, "certificate": thumbprint});
            let event =
                crate::audit_log::actions::by_operator(&operator, "agency.certificate_revoked")?
                    .with_details(details);
            Ok(((), vec![event]))
        })
        .await?;
    state.verified_tokens.forget_agency(&key);
    Ok(HttpResponse::NoContent().finish())
}
