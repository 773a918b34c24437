//! `POST /v1/admin/schemas`: an operator publishes a new version.

use actix_web::post;
use std::sync::Arc;

use ::schemas::RecordType;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::SchemaVersion;
use crate::app::state::AppState;
use crate::http::callers::operator::OperatorCaller;
use crate::http::error::{ApiError, Problem};

/// A version to publish.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishSchema {
    /// The exact version to publish, `name@major.minor`.
    #[schema(example = "person.address@1.2")]
    #[schema(value_type = crate::api::ids::RecordType)]
    pub record_type: String,
    /// The JSON Schema 2020-12 document. Its `$id`, if present, must end
    /// with `/<name>/<major>.<minor>`; the hub sets it to the document's URL.
    #[schema(value_type = Object)]
    pub document: Value,
}

/// Publishes a new version of a record type. A new minor must be backward
/// compatible with the latest minor of its major; a new major may break.
/// Every refusal lists its violations, each with a JSON Pointer.
#[utoipa::path(
    tag = "schemas",
    request_body = PublishSchema,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Published; `Location` is the document's URL", body = SchemaVersion),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "That version is already published (`schema_exists`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: `schema_incompatible`, `schema_invalid` or `schema_version_refused`, with `violations`", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/schemas")]
pub async fn publish(
    state: web::Data<AppState>,
    operator: OperatorCaller,
    body: web::Json<PublishSchema>,
) -> Result<HttpResponse, ApiError> {
    let PublishSchema {
        record_type,
        document,
    } = body.into_inner();
    let record_type = RecordType::parse(&record_type).map_err(|e| {
        ApiError::BadRequest(format!(
            "record_type {record_type:?} is not `name@major.minor`: {e}"
        ))
    })?;
    let registry = Arc::clone(&state.schemas);
    let now = state.clock.now();
    let published = record_type.clone();
    let by = operator.clone();
    let schemas = state
        .change(move |conn| {
            let schemas = registry.publish(conn, &published, document.clone(), &by.id, now)?;
            let event = crate::audit_log::actions::by_operator(&by, "schema.published")?
                .with_record_type(published.to_string());
            Ok((schemas, vec![event]))
        })
        .await?;
    let (entry, info) = schemas
        .catalog()
        .get(&record_type.name, record_type.version)
        .zip(schemas.info(&record_type))
        .ok_or_else(|| ApiError::internal(format!("{record_type} vanished after publishing")))?;
    tracing::info!(%record_type, operator = %operator.id, "schema published");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, entry.id()))
        .json(SchemaVersion::new(entry, info)))
}
