//! `GET /v1/schemas/{name}`: one record type's versions.

use actix_web::get;
use actix_web::{HttpResponse, web};

use super::{RecordTypeVersions, loaded, parse_name};
use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};

/// One record type with its versions and their status.
#[utoipa::path(
    tag = "schemas",
    params(("name" = crate::api::ids::RecordTypeName, Path, description = "Record type name", example = "person.address")),
    responses(
        (status = 200, description = "The record type's versions", body = RecordTypeVersions),
        (status = 400, description = "Malformed name", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record type (`schema_not_found`)", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/schemas/{name}")]
pub async fn show(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = parse_name(&name)?;
    let schemas = loaded(&state).await?;
    let found = RecordTypeVersions::new(&schemas, &name)
        .ok_or_else(|| ApiError::SchemaNotFound(format!("no record type {name} is published")))?;
    Ok(HttpResponse::Ok().json(found))
}
