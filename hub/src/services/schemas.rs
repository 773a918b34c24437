//! The schema registry as the hub serves it: every stored version loaded into
//! a [`Catalog`] whose `$id`s live under `{public_url}/v1/schemas`, with each
//! version's status.
//!
//! The database is the truth. The loaded registry is replaced as a whole
//! (readers keep the one they hold) when this process publishes or deprecates
//! a version; publishing re-reads the stored versions first, so a version
//! published by another hub process is taken into account. Another
//! process's publications and deprecations are seen within
//! [`RECHECK_EVERY`]: at most that often, a use of the registry compares
//! a one-row fingerprint of the stored versions with the loaded one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use schemas::{
    Catalog, CatalogError, DEFAULT_BASE_URL, PublishError, RecordType, RecordTypeName,
    RecordTypeRef, SchemaEntry, Version,
};
use serde_json::Value;

use crate::app::clock::{db_time, from_db};
use crate::http::error::{ApiError, ProblemViolation, ResultExt};
/// A version's status: active or deprecated.
pub use crate::store::schemas::SchemaStatus;
use crate::store::schemas::{self as rows, Fingerprint, NewSchema, SchemaRow};
use crate::store::{DbConnection, StoreError};

/// Where schemas are served, under the hub's public URL.
pub const SCHEMAS_PATH: &str = "/v1/schemas";

/// How long a loaded registry is used before the stored versions are looked
/// at again for changes made by other hub processes.
pub const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// What the registry knows about a version besides its document.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// Active or deprecated.
    pub status: SchemaStatus,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// The operator credential (or the shipped catalog) that published it.
    pub published_by: String,
    /// When it was deprecated.
    pub deprecated_at: Option<DateTime<Utc>>,
}

/// One loaded state of the registry.
#[derive(Debug)]
pub struct Schemas {
    catalog: Catalog,
    info: BTreeMap<RecordType, VersionInfo>,
    /// The stored versions this was loaded from.
    fingerprint: Fingerprint,
}

impl Schemas {
    /// The catalog: documents and their compiled validators.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Status and provenance of a loaded version.
    pub fn info(&self, record_type: &RecordType) -> Option<&VersionInfo> {
        self.info.get(record_type)
    }

    /// The names of every record type, in order.
    pub fn names(&self) -> Vec<RecordTypeName> {
        let mut names: Vec<RecordTypeName> = self.info.keys().map(|rt| rt.name.clone()).collect();
        names.dedup();
        names
    }

    /// Every version of `name`, oldest first.
    pub fn versions(&self, name: &RecordTypeName) -> Vec<(&Arc<SchemaEntry>, &VersionInfo)> {
        self.info
            .iter()
            .filter(|(rt, _)| &rt.name == name)
            .filter_map(|(rt, info)| Some((self.catalog.get(&rt.name, rt.version)?, info)))
            .collect()
    }

    /// The version a reference designates, or a `schema_not_found` error.
    pub fn resolve(&self, reference: &RecordTypeRef) -> Result<&Arc<SchemaEntry>, ApiError> {
        self.catalog.resolve(reference).map_err(refusal)
    }
}

/// The registry of one hub process.
#[derive(Debug)]
pub struct SchemaRegistry {
    base_url: String,
    loaded: RwLock<Option<Arc<Schemas>>>,
    /// When the stored versions were last compared with the loaded ones.
    checked: Mutex<Option<Instant>>,
    /// Serialises the publications and deprecations of this process.
    writer: Mutex<()>,
}

impl SchemaRegistry {
    /// A registry serving `$id`s under `{public_base}/v1/schemas`; nothing is
    /// loaded until [`SchemaRegistry::load`].
    pub fn new(public_base: &str) -> Self {
        Self {
            base_url: format!("{}{SCHEMAS_PATH}", public_base.trim_end_matches('/')),
            loaded: RwLock::new(None),
            checked: Mutex::new(None),
            writer: Mutex::new(()),
        }
    }

    /// The base of every schema `$id`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL (and `$id`) of a version.
    pub fn url(&self, record_type: &RecordType) -> String {
        format!(
            "{}/{}/{}",
            self.base_url, record_type.name, record_type.version
        )
    }

    /// The loaded registry, if it has been loaded.
    pub fn loaded(&self) -> Option<Arc<Schemas>> {
        self.loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, schemas: Arc<Schemas>) {
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Some(schemas);
    }

    /// Loads every stored version from the database, replacing what was
    /// loaded.
    pub fn load(&self, conn: &mut DbConnection) -> Result<Arc<Schemas>, ApiError> {
        let schemas = Arc::new(self.read(conn)?);
        self.replace(Arc::clone(&schemas));
        self.mark_checked();
        Ok(schemas)
    }

    /// The loaded registry, loading it first if needed, and again when
    /// another process changed the stored versions (looked at no more often
    /// than every [`RECHECK_EVERY`]).
    pub fn get_or_load(&self, conn: &mut DbConnection) -> Result<Arc<Schemas>, ApiError> {
        if let Some(schemas) = self.current() {
            return Ok(schemas);
        }
        match self.loaded() {
            Some(schemas) if rows::fingerprint(conn)? == schemas.fingerprint => {
                self.mark_checked();
                Ok(schemas)
            }
            _ => self.load(conn),
        }
    }

    /// The loaded registry if it was loaded or compared with the stored
    /// versions less than [`RECHECK_EVERY`] ago: usable without the
    /// database.
    pub fn current(&self) -> Option<Arc<Schemas>> {
        let checked = *self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        checked
            .is_some_and(|at| at.elapsed() < RECHECK_EVERY)
            .then(|| self.loaded())
            .flatten()
    }

    fn mark_checked(&self) {
        *self.checked.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// Builds a registry from the stored versions. A stored version that no
    /// longer loads (it cannot happen through this code) is logged and left
    /// out rather than keeping the hub from starting.
    fn read(&self, conn: &mut DbConnection) -> Result<Schemas, ApiError> {
        let stored = rows::list(conn)?;
        let mut schemas = Schemas {
            catalog: Catalog::new(&self.base_url).internal("the schema catalog cannot be made")?,
            info: BTreeMap::new(),
            fingerprint: Fingerprint::of(&stored),
        };
        let mut pending = Vec::new();
        for row in stored {
            match parse_row(&row) {
                Ok(parsed) => pending.push(parsed),
                Err(message) => tracing::error!(
                    name = %row.name, major = row.major, minor = row.minor, %message,
                    "stored schema cannot be read; left out of the registry"
                ),
            }
        }
        // Versions are published in version order. A version that refers to
        // a schema not loaded yet waits for the next pass, and so do the
        // later versions of its record type.
        while !pending.is_empty() {
            let mut waiting = Vec::new();
            let mut blocked: Vec<RecordTypeName> = Vec::new();
            let before = pending.len();
            for (record_type, document, info) in pending {
                if blocked.contains(&record_type.name) {
                    waiting.push((record_type, document, info));
                    continue;
                }
                match schemas
                    .catalog
                    .publish(record_type.clone(), document.clone())
                {
                    Ok(_) => {
                        schemas.info.insert(record_type, info);
                    }
                    Err(CatalogError::Compile { .. }) => {
                        blocked.push(record_type.name.clone());
                        waiting.push((record_type, document, info));
                    }
                    Err(e) => tracing::error!(
                        %record_type, error = %e,
                        "stored schema does not load; left out of the registry"
                    ),
                }
            }
            if waiting.len() == before {
                for (record_type, document, _) in waiting {
                    let error = schemas
                        .catalog
                        .publish(record_type.clone(), document)
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    tracing::error!(
                        %record_type, %error,
                        "stored schema does not load; left out of the registry"
                    );
                }
                break;
            }
            pending = waiting;
        }
        Ok(schemas)
    }

    /// Checks and publishes a new version, stores it, and returns the
    /// registry that holds it.
    pub fn publish(
        &self,
        conn: &mut DbConnection,
        record_type: &RecordType,
        document: Value,
        published_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Schemas>, ApiError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut schemas = self.read(conn)?;
        let entry = schemas
            .catalog
            .publish(record_type.clone(), document)
            .map_err(refusal)?;
        let stored = canonical(entry.document(), &self.base_url, record_type);
        let text = serde_json::to_string(&stored).internal("a schema cannot be serialized")?;
        let new = NewSchema {
            name: record_type.name.as_str(),
            major: record_type.version.major,
            minor: record_type.version.minor,
            document: &text,
            published_by,
        };
        if !rows::insert(conn, new, now)? {
            return Err(ApiError::SchemaExists(record_type.to_string()));
        }
        schemas.info.insert(
            record_type.clone(),
            VersionInfo {
                status: SchemaStatus::Active,
                published_at: from_db(db_time(now)),
                published_by: published_by.to_owned(),
                deprecated_at: None,
            },
        );
        let schemas = Arc::new(schemas);
        self.replace(Arc::clone(&schemas));
        Ok(schemas)
    }

    /// Runs every check of [`SchemaRegistry::publish`] against the stored
    /// versions, storing nothing.
    pub fn trial(
        &self,
        conn: &mut DbConnection,
        record_type: &RecordType,
        document: Value,
    ) -> Result<(), ApiError> {
        let mut schemas = self.read(conn)?;
        schemas
            .catalog
            .publish(record_type.clone(), document)
            .map(drop)
            .map_err(refusal)
    }

    /// Marks a version deprecated and returns the registry that shows it.
    pub fn deprecate(
        &self,
        conn: &mut DbConnection,
        record_type: &RecordType,
        now: DateTime<Utc>,
    ) -> Result<Arc<Schemas>, ApiError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let version = record_type.version;
        if !rows::deprecate(
            conn,
            record_type.name.as_str(),
            version.major,
            version.minor,
            now,
        )? {
            return Err(ApiError::SchemaNotFound(format!(
                "no published version {record_type}"
            )));
        }
        self.load(conn)
    }
}

type Parsed = (RecordType, Value, VersionInfo);

fn parse_row(row: &SchemaRow) -> Result<Parsed, String> {
    let number = |n: i32| u32::try_from(n).map_err(|e| e.to_string());
    let record_type = RecordType::new(
        RecordTypeName::parse(&row.name).map_err(|e| e.to_string())?,
        Version::new(number(row.major)?, number(row.minor)?),
    );
    let document = serde_json::from_str(&row.document).map_err(|e| e.to_string())?;
    let info = VersionInfo {
        status: row.status().map_err(|e| e.to_string())?,
        published_at: row.published(),
        published_by: row.published_by.clone(),
        deprecated_at: row.deprecated(),
    };
    Ok((record_type, document, info))
}

/// The document as stored: `$id` and references to catalog schemas under the
/// catalog's canonical base rather than this hub's URL.
fn canonical(document: &Value, base_url: &str, record_type: &RecordType) -> Value {
    let mut document = document.clone();
    if base_url != DEFAULT_BASE_URL {
        rebase_refs(&mut document, base_url, DEFAULT_BASE_URL);
    }
    if let Some(object) = document.as_object_mut() {
        object.insert(
            "$id".to_owned(),
            Value::String(format!(
                "{DEFAULT_BASE_URL}/{}/{}",
                record_type.name, record_type.version
            )),
        );
    }
    document
}

fn rebase_refs(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(target) if key == "$ref" => {
                        if let Some(rest) = target.strip_prefix(from)
                            && rest.starts_with('/')
                        {
                            *target = format!("{to}{rest}");
                        }
                    }
                    _ => rebase_refs(child, from, to),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rebase_refs(v, from, to)),
        _ => {}
    }
}

fn violation(
    pointer: impl Into<String>,
    rule: &str,
    detail: impl Into<String>,
) -> ProblemViolation {
    ProblemViolation {
        pointer: pointer.into(),
        rule: rule.to_owned(),
        detail: detail.into(),
    }
}

/// The answer to a catalog error: which refusal, with every violation.
pub fn refusal(error: CatalogError) -> ApiError {
    let detail = error.to_string();
    match error {
        CatalogError::UnknownRecordType { name } => {
            ApiError::SchemaNotFound(format!("no record type {name} is published"))
        }
        CatalogError::UnknownVersion { reference } => {
            ApiError::SchemaNotFound(format!("no published version of {reference}"))
        }
        CatalogError::InvalidSchema { problems, .. } => ApiError::SchemaInvalid {
            detail,
            violations: problems
                .into_iter()
                .map(|p| violation(p.pointer, "lint", p.message))
                .collect(),
        },
        CatalogError::Compile { message, .. } => ApiError::SchemaInvalid {
            detail,
            violations: vec![violation("", "compile", message)],
        },
        CatalogError::InvalidExample { index, issues, .. } => ApiError::SchemaInvalid {
            detail,
            violations: issues
                .into_iter()
                .map(|issue| {
                    violation(
                        format!("/examples/{index}{}", issue.instance_path),
                        "example_invalid",
                        format!("{} (schema keyword {})", issue.message, issue.schema_path),
                    )
                })
                .collect(),
        },
        CatalogError::Publish {
            record_type,
            source,
        } => match source {
            PublishError::AlreadyPublished { .. } => {
                ApiError::SchemaExists(record_type.to_string())
            }
            PublishError::Incompatible { violations, .. } => ApiError::SchemaIncompatible {
                detail,
                violations: violations
                    .into_iter()
                    .map(|v| violation(v.pointer, v.rule.code(), v.detail))
                    .collect(),
            },
            PublishError::NotIncreasing { .. }
            | PublishError::MajorNotIncreasing { .. }
            | PublishError::MajorMustStartAtZero { .. } => ApiError::SchemaVersionRefused(detail),
        },
        CatalogError::InvalidBaseUrl { .. }
        | CatalogError::InvalidCatalogFile { .. }
        | CatalogError::InvalidRecord { .. } => ApiError::internal(detail),
    }
}

/// Lints `document` and, when `previous` is given, checks that it is a
/// backward-compatible successor of it. Every refusal is returned.
pub fn check(document: &Value, previous: Option<&Value>) -> Vec<ProblemViolation> {
    let mut found: Vec<ProblemViolation> = schemas::catalog::lint(document)
        .into_iter()
        .map(|p| violation(p.pointer, "lint", p.message))
        .collect();
    if let Some(previous) = previous
        && let Err(violations) = schemas::check_compatible(previous, document)
    {
        found.extend(
            violations
                .into_iter()
                .map(|v| violation(v.pointer, v.rule.code(), v.detail)),
        );
    }
    found
}

/// Every stored version as stored, ordered by name, major, minor.
pub fn stored_versions(conn: &mut DbConnection) -> Result<Vec<SchemaRow>, StoreError> {
    rows::list(conn)
}

/// Exactly this version as stored, if it is.
pub fn stored_version(
    conn: &mut DbConnection,
    record_type: &RecordType,
) -> Result<Option<SchemaRow>, StoreError> {
    let version = record_type.version;
    rows::get(
        conn,
        record_type.name.as_str(),
        version.major,
        version.minor,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn stored_documents_name_the_canonical_base() {
        let base = "https://hub.example.gov/v1/schemas";
        let record_type = RecordType::parse("person.household@1.0").unwrap();
        let served = json!({
            "$id": format!("{base}/person.household/1.0"),
            "properties": {
                "head": {"$ref": format!("{base}/person.identity/1.0")},
                "local": {"$ref": "#/$defs/member"},
                "elsewhere": {"$ref": "https://other.example/x/1.0"},
                "members": {"items": [{"$ref": format!("{base}/person.identity/1.0#/properties/commonId")}]}
            }
        });
        let stored = canonical(&served, base, &record_type);
        assert_eq!(
            stored,
            json!({
                "$id": "https://crossroads.example/schemas/person.household/1.0",
                "properties": {
                    "head": {"$ref": "https://crossroads.example/schemas/person.identity/1.0"},
                    "local": {"$ref": "#/$defs/member"},
                    "elsewhere": {"$ref": "https://other.example/x/1.0"},
                    "members": {"items": [{"$ref": "https://crossroads.example/schemas/person.identity/1.0#/properties/commonId"}]}
                }
            })
        );
    }
}
