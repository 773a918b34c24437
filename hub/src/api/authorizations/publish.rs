//! `POST /v1/admin/authorizations`: publish version 1 of an authorization.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::authorizations::{self, AuthorizationView, NewAuthorization};

/// Publishes a new authorization; its record type and fields are checked
/// against the schema registry (operators only).
#[utoipa::path(
    tag = "authorizations",
    request_body = NewAuthorization,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Published", body = AuthorizationView),
        (status = 409, description = "The id exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused (the code names the failed check)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/authorizations")]
pub async fn publish(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    body: web::Json<NewAuthorization>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let by = operator.id.clone();
    let inner = state.clone();
    let view = state
        .change(move |conn| {
            let view = authorizations::publish(conn, &inner.schemas, &body, &by, now)?;
            let event =
                crate::audit_log::actions::by_operator(&operator, "authorization.published")?
                    .with_legal_basis(view.id.clone(), view.version)
                    .with_record_type(format!("{}@{}", view.record_type, view.major))
                    .with_details(serde_json::json!({
                        "consumer": view.consumer,
                        "purposes": view.purposes,
                        "fields": view.fields,
                        "consent_required": view.consent_required,
                        "valid_from": view.valid_from,
                    }));
            Ok((view, vec![event]))
        })
        .await?;
    state.authorizations.invalidate();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/admin/authorizations/{}", view.id)))
        .json(view))
}
