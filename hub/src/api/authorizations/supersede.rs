//! `POST /v1/admin/authorizations/{id}/versions`: a new version from a date.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::authorizations::{self, AuthorizationView, NewVersion};

/// Publishes a new version of an authorization that takes over from `from`;
/// the previous version stays readable and applies until then (operators
/// only).
#[utoipa::path(
    tag = "authorizations",
    params(("id" = crate::api::ids::AuthorizationId, Path, description = "Authorization id")),
    request_body = NewVersion,
    security(("operator" = [])),
    responses(
        (status = 201, description = "The new version", body = AuthorizationView),
        (status = 404, description = "No such authorization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/authorizations/{id}/versions")]
pub async fn supersede(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<NewVersion>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let by = operator.id.clone();
    let inner = state.clone();
    let id = id.into_inner();
    let view = state
        .change(move |conn| {
            let view = authorizations::supersede(conn, &inner.schemas, &id, &body, &by, now)?;
            let event =
                crate::audit_log::actions::by_operator(&operator, "authorization.superseded")?
                    .with_legal_basis(view.id.clone(), view.version)
                    .with_record_type(format!("{}@{}", view.record_type, view.major))
                    .with_details(serde_json::json!({
                        "from": view.valid_from,
                        "consumer": view.consumer,
                        "purposes": view.purposes,
                        "fields": view.fields,
                        "consent_required": view.consent_required,
                    }));
            Ok((view, vec![event]))
        })
        .await?;
    state.authorizations.invalidate();
    Ok(HttpResponse::Created().json(view))
}
