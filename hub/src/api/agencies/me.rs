//! `GET /v1/agencies/me`: the calling agency, as the hub knows it.

use actix_web::HttpResponse;
use actix_web::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::callers::AgencyCaller;

/// The calling agency.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AgencyMe)]
pub struct Me {
    /// Its identifier.
    pub agency_id: String,
    /// Its sector.
    pub sector: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// How it names persons.
    pub identifier_policy: String,
    /// The scopes of the token presented.
    pub scopes: Vec<String>,
}

/// Who the access token belongs to.
#[utoipa::path(
    tag = "agencies",
    security(("agency" = [])),
    responses((status = 200, description = "The calling agency", body = Me))
)]
#[get("/v1/agencies/me")]
pub async fn me(caller: AgencyCaller) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        agency_id: caller.agency_id.to_string(),
        sector: caller.sector.to_string(),
        roles: caller.roles.iter().map(ToString::to_string).collect(),
        identifier_policy: caller.identifier_policy.to_string(),
        scopes: caller.scopes,
    })
}
