//! `POST /v1/admin/schemas/{name}/{version}/deprecate`: an operator marks a
//! version deprecated. It stays served and honoured.

use actix_web::post;
use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::{SchemaVersion, parse_exact};
use crate::app::state::AppState;
use crate::http::callers::operator::OperatorCaller;
use crate::http::error::{ApiError, Problem};

/// Deprecates a version. Deprecating a deprecated version changes nothing.
#[utoipa::path(
    tag = "schemas",
    params(
        ("name" = crate::api::ids::RecordTypeName, Path, description = "Record type name", example = "person.address"),
        ("version" = crate::api::ids::Version, Path, description = "`major.minor`", example = "1.0")
    ),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The version, deprecated", body = SchemaVersion),
        (status = 400, description = "Malformed name or version", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such version (`schema_not_found`)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/schemas/{name}/{version}/deprecate")]
pub async fn deprecate(
    state: web::Data<AppState>,
    operator: OperatorCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let record_type = parse_exact(&name, &version)?;
    let registry = Arc::clone(&state.schemas);
    let now = state.clock.now();
    let deprecated = record_type.clone();
    let by = operator.clone();
    let schemas = state
        .change(move |conn| {
            let schemas = registry.deprecate(conn, &deprecated, now)?;
            let event = crate::audit_log::actions::by_operator(&by, "schema.deprecated")?
                .with_record_type(deprecated.to_string());
            Ok((schemas, vec![event]))
        })
        .await?;
    let (entry, info) = schemas
        .catalog()
        .get(&record_type.name, record_type.version)
        .zip(schemas.info(&record_type))
        .ok_or_else(|| ApiError::SchemaNotFound(format!("no published version {record_type}")))?;
    tracing::info!(%record_type, operator = %operator.id, "schema deprecated");
    Ok(HttpResponse::Ok().json(SchemaVersion::new(entry, info)))
}
