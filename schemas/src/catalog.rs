//! The schema registry: published record type versions, their compiled
//! validators, and the shipped catalog.
//!
//! Every version is checked when it is published ([`Catalog::publish`]): it is
//! a valid JSON Schema 2020-12 document, it describes itself (`title`,
//! `description`, a `description` on every property, at least one example),
//! its examples validate, its withholdable fields exist, and it follows the
//! publishing rules of [`crate::compat::check_publish`]. Its validator is
//! compiled once, then shared.
//!
//! `$ref`s resolve only inside the catalog: a reference to a schema `$id` of
//! the catalog works, any other remote reference fails to compile. Nothing is
//! ever fetched from the network.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde::Serialize;
use serde_json::Value;

use crate::compat::{self, PublishError};
use crate::fields;
use crate::pointer::escape;
use crate::record_type::{RecordType, RecordTypeName, RecordTypeRef, Version, VersionReq};

/// The base URL of schema `$id`s in the shipped catalog files.
pub const DEFAULT_BASE_URL: &str = "https://crossroads.example/schemas";

/// The annotation keyword of a schema's citizen-facing titles, one per
/// language: `{"en": "Your address", "fr": "Votre adresse", "nl": "Uw adres"}`.
/// Validators ignore it (an unknown keyword is an annotation in 2020-12).
pub const TITLE_KEYWORD: &str = "x-title";

/// The language a localized title falls back to.
pub const FALLBACK_LANGUAGE: &str = "en";

/// The meta-schema every catalog document declares.
pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// One way a record does not satisfy its schema. `message` never contains
/// values from the record, so issues may be logged and returned to callers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationIssue {
    /// JSON Pointer to the offending value in the record.
    pub instance_path: String,
    /// JSON Pointer to the failing keyword in the schema.
    pub schema_path: String,
    pub message: String,
}

/// One way a schema document is not fit for publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaProblem {
    /// JSON Pointer into the schema document.
    pub pointer: String,
    pub message: String,
}

/// Why a catalog operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("base URL {url:?} must be an absolute http(s) URL without query or fragment")]
    InvalidBaseUrl { url: String },
    #[error("shipped catalog file {file} is broken: {message}")]
    InvalidCatalogFile { file: String, message: String },
    #[error("unknown record type {name}")]
    UnknownRecordType { name: RecordTypeName },
    #[error("no published version of {reference}")]
    UnknownVersion { reference: RecordTypeRef },
    #[error("schema {record_type} is not fit for publication: {} problem(s)", problems.len())]
    InvalidSchema {
        record_type: RecordType,
        problems: Vec<SchemaProblem>,
    },
    #[error("schema {record_type} does not compile: {message}")]
    Compile {
        record_type: RecordType,
        message: String,
    },
    #[error("example {index} of {record_type} does not validate")]
    InvalidExample {
        record_type: RecordType,
        index: usize,
        issues: Vec<ValidationIssue>,
    },
    #[error("cannot publish {record_type}: {source}")]
    Publish {
        record_type: RecordType,
        source: PublishError,
    },
    #[error("record does not validate against {record_type}: {} issue(s)", issues.len())]
    InvalidRecord {
        record_type: RecordType,
        issues: Vec<ValidationIssue>,
    },
}

impl CatalogError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidBaseUrl { .. } => "schema_base_url_invalid",
            Self::InvalidCatalogFile { .. } => "catalog_file_invalid",
            Self::UnknownRecordType { .. } => "record_type_unknown",
            Self::UnknownVersion { .. } => "record_type_version_unknown",
            Self::InvalidSchema { .. } => "schema_invalid",
            Self::Compile { .. } => "schema_compile_failed",
            Self::InvalidExample { .. } => "schema_example_invalid",
            Self::Publish { source, .. } => source.code(),
            Self::InvalidRecord { .. } => "record_invalid",
        }
    }
}

/// One published version of a record type with its compiled validators.
#[derive(Debug)]
pub struct SchemaEntry {
    record_type: RecordType,
    document: Value,
    validator: Validator,
    withheld: Validator,
}

impl SchemaEntry {
    pub fn record_type(&self) -> &RecordType {
        &self.record_type
    }

    /// The schema document, with its `$id` under the catalog's base URL.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The schema's `$id`.
    pub fn id(&self) -> &str {
        self.document
            .get("$id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The record type's name for people, in `lang` (a BCP 47 primary tag
    /// such as `fr`): the `x-title` in that language, else in English, else
    /// the schema's `title`.
    pub fn title(&self, lang: &str) -> Option<&str> {
        title_of(&self.document, lang)
    }

    /// Whether the schema has localized titles (`x-title`) at all.
    pub fn has_localized_titles(&self) -> bool {
        self.document.get(TITLE_KEYWORD).is_some()
    }

    /// The example records the schema ships with.
    pub fn examples(&self) -> &[Value] {
        self.document
            .get("examples")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The addressable fields of the record type (see [`crate::fields`]).
    pub fn fields(&self) -> Vec<String> {
        fields::fields(&self.document)
    }

    /// The fields that may be withheld although required.
    pub fn withholdable(&self) -> Vec<String> {
        fields::withholdable(&self.document)
    }

    /// Validates a complete record (a provider's answer).
    pub fn validate(&self, record: &Value) -> Result<(), Vec<ValidationIssue>> {
        run(&self.validator, record)
    }

    /// Validates a minimised record against the schema's withheld view, where
    /// withholdable fields are optional (see [`crate::fields`]).
    pub fn validate_minimized(&self, record: &Value) -> Result<(), Vec<ValidationIssue>> {
        run(&self.withheld, record)
    }
}

/// A schema document's title in `lang`, falling back to English, then to its
/// `title` (see [`SchemaEntry::title`]).
pub fn title_of<'a>(document: &'a Value, lang: &str) -> Option<&'a str> {
    let localized = document.get(TITLE_KEYWORD);
    let in_lang = |tag: &str| {
        localized
            .and_then(|titles| titles.get(tag))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    };
    in_lang(lang)
        .or_else(|| in_lang(FALLBACK_LANGUAGE))
        .or_else(|| document.get("title").and_then(Value::as_str))
}

fn run(validator: &Validator, record: &Value) -> Result<(), Vec<ValidationIssue>> {
    if validator.is_valid(record) {
        return Ok(());
    }
    Err(validator
        .iter_errors(record)
        .map(|error| ValidationIssue {
            instance_path: error.instance_path().as_str().to_owned(),
            schema_path: error.schema_path().as_str().to_owned(),
            message: error.masked().to_string(),
        })
        .collect())
}

/// The registry of record type versions. Reads take `&self` and the type is
/// `Send + Sync`, so it can be shared (for example behind an `Arc`, or an
/// `RwLock` where versions are published at run time).
#[derive(Debug)]
pub struct Catalog {
    base_url: String,
    entries: BTreeMap<RecordTypeName, BTreeMap<Version, Arc<SchemaEntry>>>,
}

impl Catalog {
    /// An empty catalog whose schema `$id`s live under `base_url`
    /// (e.g. `https://hub.example.gov/schemas`).
    pub fn new(base_url: &str) -> Result<Self, CatalogError> {
        Ok(Self {
            base_url: normalize_base_url(base_url)?,
            entries: BTreeMap::new(),
        })
    }

    /// The shipped catalog, with `$id`s (and `$ref`s to other catalog
    /// schemas) rewritten under `base_url`.
    pub fn builtin(base_url: &str) -> Result<Self, CatalogError> {
        let mut catalog = Self::new(base_url)?;
        for file in crate::embedded::FILES {
            let record_type = RecordType {
                name: RecordTypeName::parse(file.name).map_err(|e| embedded_problem(file, e))?,
                version: Version::parse(file.version).map_err(|e| embedded_problem(file, e))?,
            };
            let document: Value =
                serde_json::from_str(file.contents).map_err(|e| embedded_problem(file, e))?;
            catalog.publish(record_type, document)?;
        }
        Ok(catalog)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The `$id` a version has in this catalog.
    pub fn schema_id(&self, record_type: &RecordType) -> String {
        format!(
            "{}/{}/{}",
            self.base_url, record_type.name, record_type.version
        )
    }

    /// Checks and publishes a new version. The document's `$id`, if present,
    /// must end with `/<name>/<major>.<minor>`; it is set to
    /// [`Catalog::schema_id`], and `$ref`s under [`DEFAULT_BASE_URL`] are
    /// rewritten under the catalog's base URL.
    pub fn publish(
        &mut self,
        record_type: RecordType,
        mut document: Value,
    ) -> Result<Arc<SchemaEntry>, CatalogError> {
        let id = self.schema_id(&record_type);
        let invalid = |problems| CatalogError::InvalidSchema {
            record_type: record_type.clone(),
            problems,
        };
        let suffix = format!("/{}/{}", record_type.name, record_type.version);
        match document.get("$id").and_then(Value::as_str) {
            Some(found) if !found.ends_with(&suffix) => {
                return Err(invalid(vec![problem(
                    "/$id",
                    format!("$id {found:?} does not end with {suffix:?}"),
                )]));
            }
            _ => {}
        }
        if self.base_url != DEFAULT_BASE_URL {
            rebase_refs(&mut document, DEFAULT_BASE_URL, &self.base_url);
        }
        if let Some(object) = document.as_object_mut() {
            object.insert("$id".into(), Value::String(id.clone()));
        }

        let problems = lint(&document);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }

        let previous: Vec<(Version, &Value)> = self
            .entries
            .get(&record_type.name)
            .into_iter()
            .flat_map(|versions| versions.values())
            .map(|entry| (entry.record_type.version, &entry.document))
            .collect();
        compat::check_publish(&previous, (record_type.version, &document)).map_err(|source| {
            CatalogError::Publish {
                record_type: record_type.clone(),
                source,
            }
        })?;

        let retriever = CatalogRetriever::new(self, (&id, &document));
        let compile_error = |e: jsonschema::ValidationError<'_>| CatalogError::Compile {
            record_type: record_type.clone(),
            message: e.to_string(),
        };
        let validator = compile(&document, retriever.clone()).map_err(compile_error)?;
        let withheld =
            compile(&fields::withheld_view(&document), retriever).map_err(compile_error)?;

        let entry = SchemaEntry {
            record_type: record_type.clone(),
            document,
            validator,
            withheld,
        };
        for (index, example) in entry.examples().iter().enumerate() {
            entry
                .validate(example)
                .map_err(|issues| CatalogError::InvalidExample {
                    record_type: record_type.clone(),
                    index,
                    issues,
                })?;
        }
        let entry = Arc::new(entry);
        self.entries
            .entry(record_type.name)
            .or_default()
            .insert(record_type.version, Arc::clone(&entry));
        Ok(entry)
    }

    /// Exactly this version.
    pub fn get(&self, name: &RecordTypeName, version: Version) -> Option<&Arc<SchemaEntry>> {
        self.entries.get(name)?.get(&version)
    }

    /// The latest minor of `major`.
    pub fn latest(&self, name: &RecordTypeName, major: u32) -> Option<&Arc<SchemaEntry>> {
        self.entries
            .get(name)?
            .range(Version::new(major, 0)..=Version::new(major, u32::MAX))
            .next_back()
            .map(|(_, entry)| entry)
    }

    /// The version a reference designates.
    pub fn resolve(&self, reference: &RecordTypeRef) -> Result<&Arc<SchemaEntry>, CatalogError> {
        if !self.entries.contains_key(&reference.name) {
            return Err(CatalogError::UnknownRecordType {
                name: reference.name.clone(),
            });
        }
        let found = match reference.version {
            VersionReq::Major(major) => self.latest(&reference.name, major),
            VersionReq::Exact(version) => self.get(&reference.name, version),
        };
        found.ok_or_else(|| CatalogError::UnknownVersion {
            reference: reference.clone(),
        })
    }

    /// Every published version, ordered by name then version.
    pub fn list(&self) -> Vec<RecordType> {
        self.entries
            .values()
            .flat_map(|versions| versions.values())
            .map(|entry| entry.record_type.clone())
            .collect()
    }

    /// Every published version's entry, ordered by name then version.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<SchemaEntry>> {
        self.entries.values().flat_map(|versions| versions.values())
    }

    /// Resolves `reference` and validates a complete record against it,
    /// returning the exact version it was validated against.
    pub fn validate(
        &self,
        reference: &RecordTypeRef,
        record: &Value,
    ) -> Result<&RecordType, CatalogError> {
        let entry = self.resolve(reference)?;
        entry
            .validate(record)
            .map_err(|issues| CatalogError::InvalidRecord {
                record_type: entry.record_type.clone(),
                issues,
            })?;
        Ok(&entry.record_type)
    }
}

fn compile(
    document: &Value,
    retriever: CatalogRetriever,
) -> Result<Validator, jsonschema::ValidationError<'static>> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .with_retriever(retriever)
        .build(document)
}

/// Resolves references to catalog schemas only; never touches the network.
#[derive(Clone)]
struct CatalogRetriever {
    documents: Arc<HashMap<String, Value>>,
}

impl CatalogRetriever {
    fn new(catalog: &Catalog, (id, document): (&str, &Value)) -> Self {
        let mut documents: HashMap<String, Value> = catalog
            .entries()
            .map(|entry| (entry.id().to_owned(), entry.document.clone()))
            .collect();
        documents.insert(id.to_owned(), document.clone());
        Self {
            documents: Arc::new(documents),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{uri} is not a schema of the catalog; remote references are never fetched")]
struct NotInCatalog {
    uri: String,
}

impl Retrieve for CatalogRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let key = uri.as_str().split('#').next().unwrap_or_default();
        self.documents.get(key).cloned().ok_or_else(|| {
            Box::new(NotInCatalog {
                uri: uri.as_str().to_owned(),
            }) as Box<dyn std::error::Error + Send + Sync>
        })
    }
}

fn normalize_base_url(url: &str) -> Result<String, CatalogError> {
    let trimmed = url.trim_end_matches('/');
    let host = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    let ok = host.is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.contains(['?', '#'])
            && !rest.chars().any(char::is_whitespace)
    });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(CatalogError::InvalidBaseUrl {
            url: url.to_owned(),
        })
    }
}

/// Rewrites `$ref` values under `from` to be under `to`.
fn rebase_refs(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(s) if key == "$ref" => {
                        if let Some(rest) = s.strip_prefix(from)
                            && rest.starts_with('/')
                        {
                            *s = format!("{to}{rest}");
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

fn problem(pointer: &str, message: impl Into<String>) -> SchemaProblem {
    SchemaProblem {
        pointer: pointer.to_owned(),
        message: message.into(),
    }
}

fn embedded_problem(file: &crate::embedded::File, message: impl ToString) -> CatalogError {
    CatalogError::InvalidCatalogFile {
        file: format!("{}/{}.json", file.name, file.version),
        message: message.to_string(),
    }
}

/// Everything a document needs before publication, except compilation.
pub fn lint(document: &Value) -> Vec<SchemaProblem> {
    let mut problems = Vec::new();
    if let Err(error) = jsonschema::draft202012::meta::validate(document) {
        problems.push(problem(
            error.instance_path().as_str(),
            format!("not a valid JSON Schema 2020-12 document: {error}"),
        ));
        return problems;
    }
    if document.get("$schema").and_then(Value::as_str) != Some(DRAFT_2020_12) {
        problems.push(problem(
            "/$schema",
            format!("$schema must be {DRAFT_2020_12}"),
        ));
    }
    if document.get("type").and_then(Value::as_str) != Some("object") {
        problems.push(problem("/type", "a record type is an object"));
    }
    for key in ["title", "description"] {
        if document
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(|s| s.trim().is_empty())
        {
            problems.push(problem(&format!("/{key}"), format!("{key} is missing")));
        }
    }
    if document
        .get("examples")
        .and_then(Value::as_array)
        .is_none_or(|e| e.is_empty())
    {
        problems.push(problem("/examples", "at least one example is needed"));
    }
    undescribed_properties(document, String::new(), &mut problems);
    lint_titles(document, &mut problems);
    match document.get(fields::WITHHOLDABLE_KEYWORD) {
        None => {}
        Some(Value::Array(list)) => {
            let known = fields::fields(document);
            for (index, item) in list.iter().enumerate() {
                let at = format!("/{}/{index}", fields::WITHHOLDABLE_KEYWORD);
                match item.as_str() {
                    Some(field) if known.iter().any(|k| k == field) => {}
                    Some(field) => problems.push(problem(
                        &at,
                        format!("{field:?} is not a field of this schema"),
                    )),
                    None => problems.push(problem(&at, "a withholdable field is a JSON Pointer")),
                }
            }
        }
        Some(_) => problems.push(problem(
            &format!("/{}", fields::WITHHOLDABLE_KEYWORD),
            "must be an array of JSON Pointers",
        )),
    }
    problems
}

/// `x-title`, when present: an object of non-empty strings keyed by
/// language, English among them.
fn lint_titles(document: &Value, problems: &mut Vec<SchemaProblem>) {
    let at = format!("/{TITLE_KEYWORD}");
    match document.get(TITLE_KEYWORD) {
        None => {}
        Some(Value::Object(titles)) => {
            for (lang, title) in titles {
                let ok_lang = !lang.is_empty()
                    && lang.len() <= 8
                    && lang.bytes().all(|b| b.is_ascii_lowercase());
                if !ok_lang {
                    problems.push(problem(
                        &format!("{at}/{}", escape(lang)),
                        format!("{lang:?} is not a lower-case language tag such as \"fr\""),
                    ));
                }
                if title.as_str().is_none_or(|s| s.trim().is_empty()) {
                    problems.push(problem(
                        &format!("{at}/{}", escape(lang)),
                        "a title is a non-empty string",
                    ));
                }
            }
            if !titles.contains_key(FALLBACK_LANGUAGE) {
                problems.push(problem(
                    &at,
                    format!("an English ({FALLBACK_LANGUAGE:?}) title is needed"),
                ));
            }
        }
        Some(_) => problems.push(problem(&at, "must be an object of titles by language")),
    }
}

fn undescribed_properties(node: &Value, at: String, problems: &mut Vec<SchemaProblem>) {
    match node {
        Value::Object(object) => {
            for (key, child) in object {
                let here = format!("{at}/{}", escape(key));
                if key == "examples" || key == "enum" || key == "const" || key == "default" {
                    continue;
                }
                if key == "properties"
                    && let Some(props) = child.as_object()
                {
                    for (name, sub) in props {
                        let has = sub
                            .get("description")
                            .and_then(Value::as_str)
                            .is_some_and(|s| !s.trim().is_empty());
                        if !has {
                            problems.push(problem(
                                &format!("{here}/{}", escape(name)),
                                format!("property {name:?} has no description"),
                            ));
                        }
                    }
                }
                undescribed_properties(child, here, problems);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                undescribed_properties(item, format!("{at}/{index}"), problems);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
