//! `PUT /v1/admin/agencies/{id}/roles`.

use actix_web::put;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::agencies::{self, AgencyView};

/// A role of an agency.
#[derive(ToSchema)]
#[schema(as = AgencyRole)]
#[allow(dead_code)] // described, never built: roles travel as strings
pub enum RoleName {
    /// Asks for records.
    #[schema(rename = "consumer")]
    Consumer,
    /// Answers for records (needs an endpoint).
    #[schema(rename = "provider")]
    Provider,
    /// Registers persons.
    #[schema(rename = "registrar")]
    Registrar,
}

/// An agency's new roles.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoles {
    /// Any of `consumer`, `provider`, `registrar`; at least one.
    #[schema(min_items = 1, inline, value_type = Vec<RoleName>)]
    pub roles: Vec<String>,
}

/// Replaces an agency's roles (operators only). A role taken away stops
/// working at once, also for access tokens already issued.
#[utoipa::path(
    tag = "agencies",
    params(("id" = crate::api::ids::AgencyId, Path, description = "Agency identifier")),
    request_body = NewRoles,
    security(("operator" = [])),
    responses(
        (status = 200, description = "Roles replaced", body = AgencyView),
        (status = 404, description = "No such agency", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused (the code names the failed check)", body = Problem, content_type = "application/problem+json")
    )
)]
#[put("/v1/admin/agencies/{id}/roles")]
pub async fn set(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<NewRoles>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let id = id.into_inner();
    let key = id.clone();
    let view = state
        .change(move |conn| {
            let view = agencies::set_roles(conn, &id, &body.roles, now)?;
            let event = crate::audit_log::actions::by_operator(&operator, "agency.roles_changed")?
                .with_details(serde_json::json!({"agency": view.id, "roles": view.roles}));
            Ok((view, vec![event]))
        })
        .await?;
    state.verified_tokens.forget_agency(&key);
    Ok(HttpResponse::Ok().json(view))
}
