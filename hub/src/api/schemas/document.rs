//! `GET /v1/schemas/{name}/{version}`: the JSON Schema document, whose `$id`
//! is the URL of its exact version.

use ::schemas::{RecordTypeRef, VersionReq};
use actix_web::get;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::{SCHEMA_JSON, loaded, parse_name, parse_version};
use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem, ResultExt};
use crate::services::schemas::SchemaStatus;

/// The JSON Schema 2020-12 document of a version: `1.2` exactly, or `1` for
/// the latest minor of major 1 (its `Content-Location` names the exact
/// version). A deprecated version carries a `Deprecation` header (RFC 9745).
#[utoipa::path(
    tag = "schemas",
    params(
        ("name" = crate::api::ids::RecordTypeName, Path, description = "Record type name", example = "person.address"),
        ("version" = crate::api::ids::VersionReq, Path, description = "`major.minor`, or `major` for its latest minor", example = "1.1")
    ),
    responses(
        (status = 200, description = "The schema document", content_type = "application/schema+json", body = Object),
        (status = 400, description = "Malformed name or version", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such version (`schema_not_found`)", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/schemas/{name}/{version}")]
pub async fn document(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let reference = RecordTypeRef {
        name: parse_name(&name)?,
        version: parse_version(&version)?,
    };
    let schemas = loaded(&state).await?;
    let entry = schemas.resolve(&reference)?;
    let body = serde_json::to_vec(entry.document()).internal("a schema cannot be serialized")?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, SCHEMA_JSON));
    if let VersionReq::Major(_) = reference.version {
        response.insert_header((header::CONTENT_LOCATION, entry.id()));
    }
    if let Some(info) = schemas.info(entry.record_type())
        && info.status == SchemaStatus::Deprecated
    {
        let since = info.deprecated_at.unwrap_or(info.published_at);
        response.insert_header(("deprecation", format!("@{}", since.timestamp())));
    }
    Ok(response.body(body))
}
