//! The interoperability schemas: public reading, operator publishing.
//!
//! Schemas are public documents, so reading them needs no credential.

pub mod deprecate;
pub mod document;
pub mod list;
pub mod publish;
pub mod show;

use std::sync::Arc;

use ::schemas::{RecordType, RecordTypeName, SchemaEntry, Version, VersionReq};
use actix_web::web;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::OpenApi;

use crate::api::operations::Operations;
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::http::error::ApiError;
use crate::services::schemas::{SchemaRegistry, SchemaStatus, Schemas, VersionInfo};

/// The schema part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        Status, SchemaVersion, RecordTypeVersions, list::SchemaList, publish::PublishSchema,
        crate::http::error::ProblemViolation
    )),
    tags((name = "schemas", description = "The shared interoperability schemas (JSON Schema 2020-12)"))
)]
pub struct SchemasApi;

/// Registers the schema routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(list::list)
        .add(show::show)
        .add(document::document)
        .add(publish::publish)
        .add(deprecate::deprecate);
}

/// The media type of a JSON Schema document.
pub const SCHEMA_JSON: &str = "application/schema+json";

/// Whether a version may still be chosen for new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In use.
    Active,
    /// Still served and honoured; agencies should move to a newer version.
    Deprecated,
}

impl From<SchemaStatus> for Status {
    fn from(status: SchemaStatus) -> Self {
        match status {
            SchemaStatus::Active => Status::Active,
            SchemaStatus::Deprecated => Status::Deprecated,
        }
    }
}

/// One published version of a record type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SchemaVersion {
    /// The exact reference, e.g. `person.address@1.1`.
    #[schema(example = "person.address@1.1")]
    pub record_type: String,
    /// `major.minor`.
    #[schema(example = "1.1")]
    pub version: String,
    /// Active or deprecated.
    pub status: Status,
    /// The schema's title.
    pub title: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// When it was deprecated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated_at: Option<DateTime<Utc>>,
    /// Where the document is served; also its `$id`.
    pub url: String,
}

impl SchemaVersion {
    fn new(entry: &SchemaEntry, info: &VersionInfo) -> Self {
        let record_type = entry.record_type();
        Self {
            record_type: record_type.to_string(),
            version: record_type.version.to_string(),
            status: info.status.into(),
            title: text(entry.document(), "title"),
            published_at: info.published_at,
            deprecated_at: info.deprecated_at,
            url: entry.id().to_owned(),
        }
    }
}

/// A record type and its published versions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordTypeVersions {
    /// The record type's name, e.g. `person.address`.
    #[schema(example = "person.address")]
    pub name: String,
    /// The title of its latest version.
    pub title: String,
    /// The description of its latest version.
    pub description: String,
    /// The latest version, `major.minor`.
    pub latest: String,
    /// Every version, oldest first.
    pub versions: Vec<SchemaVersion>,
}

impl RecordTypeVersions {
    fn new(schemas: &Schemas, name: &RecordTypeName) -> Option<Self> {
        let versions = schemas.versions(name);
        let (latest, _) = versions.last()?;
        Some(Self {
            name: name.to_string(),
            title: text(latest.document(), "title"),
            description: text(latest.document(), "description"),
            latest: latest.record_type().version.to_string(),
            versions: versions
                .iter()
                .map(|(entry, info)| SchemaVersion::new(entry, info))
                .collect(),
        })
    }
}

fn text(document: &Value, key: &str) -> String {
    document
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The loaded registry, loading it (or looking for other processes'
/// changes) on the blocking pool when it is not current.
async fn loaded(state: &web::Data<AppState>) -> Result<Arc<Schemas>, ApiError> {
    if let Some(schemas) = state.schemas.current() {
        return Ok(schemas);
    }
    let registry: Arc<SchemaRegistry> = Arc::clone(&state.schemas);
    state.db(move |conn| registry.get_or_load(conn)).await
}

fn parse_name(name: &str) -> Result<RecordTypeName, ApiError> {
    RecordTypeName::parse(name)
        .map_err(|e| ApiError::BadRequest(format!("invalid record type name {name:?}: {e}")))
}

fn parse_version(version: &str) -> Result<VersionReq, ApiError> {
    VersionReq::parse(version).map_err(|e| {
        ApiError::BadRequest(format!(
            "invalid version {version:?} (expected `major` or `major.minor`): {e}"
        ))
    })
}

fn parse_exact(name: &str, version: &str) -> Result<RecordType, ApiError> {
    let name = parse_name(name)?;
    let version = Version::parse(version).map_err(|e| {
        ApiError::BadRequest(format!(
            "invalid version {version:?} (expected `major.minor`): {e}"
        ))
    })?;
    Ok(RecordType::new(name, version))
}
