//! `crossroads schema …`: the schema registry from the command line, directly
//! against the database.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use schemas::{RecordType, RecordTypeName, RecordTypeRef, Version};
use serde_json::Value;

use crate::app::state::AppState;
use crate::http::error::{ApiError, ProblemViolation};
use crate::services::DbConnection;
use crate::services::schemas as schema_registry;

/// Who a version published from the command line is recorded as published by.
pub const PUBLISHED_BY_CLI: &str = "cli";

/// The `schema` subcommands.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// List every published version with its status.
    List,
    /// Print a schema document: NAME (its latest version), NAME@MAJOR (the
    /// latest minor of that major) or NAME@MAJOR.MINOR.
    Show {
        /// The record type, e.g. person.address@1.
        reference: String,
    },
    /// Publish a new version from a JSON Schema file, as an operator.
    Publish {
        /// The JSON Schema 2020-12 document.
        file: PathBuf,
        /// The version it becomes, e.g. person.address@1.2.
        #[arg(long, value_name = "NAME@MAJOR.MINOR")]
        record_type: String,
    },
    /// Check a JSON Schema file: lint it, and check that it is a backward
    /// compatible successor of the version it follows (by default the
    /// previous minor of the version its `$id` names). Prints every
    /// violation with its JSON Pointer; exits 1 if there is any.
    Check {
        /// The JSON Schema 2020-12 document.
        file: PathBuf,
        /// Compare with this published version instead.
        #[arg(long, value_name = "NAME@MAJOR.MINOR")]
        against: Option<String>,
    },
}

/// Runs a `schema` subcommand on a migrated database.
pub fn run(command: SchemaCommand, state: &AppState) -> anyhow::Result<()> {
    let mut conn = state.pool.get()?;
    match command {
        SchemaCommand::List => {
            for row in schema_registry::stored_versions(&mut conn)? {
                println!(
                    "{}@{}.{}\t{}\t{}\t{}",
                    row.name,
                    row.major,
                    row.minor,
                    row.status,
                    row.published().to_rfc3339(),
                    row.published_by
                );
            }
        }
        SchemaCommand::Show { reference } => {
            let schemas = state.schemas.load(&mut conn)?;
            let entry = if reference.contains('@') {
                let reference = RecordTypeRef::parse(&reference)
                    .with_context(|| format!("{reference:?} is not NAME[@VERSION]"))?;
                schemas.resolve(&reference)?
            } else {
                let name = RecordTypeName::parse(&reference)
                    .with_context(|| format!("{reference:?} is not a record type name"))?;
                let versions = schemas.versions(&name);
                let Some((entry, _)) = versions.last() else {
                    bail!("no record type {name} is published");
                };
                *entry
            };
            println!("{}", serde_json::to_string_pretty(entry.document())?);
        }
        SchemaCommand::Publish { file, record_type } => {
            let document = read_json(&file)?;
            let record_type = RecordType::parse(&record_type).with_context(|| {
                format!("--record-type {record_type:?} is not NAME@MAJOR.MINOR")
            })?;
            let now = state.clock.now();
            let published = state.change_blocking(&mut conn, |conn| {
                let schemas = state.schemas.publish(
                    conn,
                    &record_type,
                    document.clone(),
                    PUBLISHED_BY_CLI,
                    now,
                )?;
                let event = crate::audit_log::actions::by_console("schema.published")?
                    .with_record_type(record_type.to_string());
                Ok((schemas, vec![event]))
            });
            match published {
                Ok(_) => {
                    println!(
                        "published {record_type} at {}",
                        state.schemas.url(&record_type)
                    );
                }
                Err(refused) => return Err(report(&refused)),
            }
        }
        SchemaCommand::Check { file, against } => {
            let document = read_json(&file)?;
            let target = named_by_id(&document);
            let previous = match &against {
                Some(against) => {
                    let against = RecordType::parse(against).with_context(|| {
                        format!("--against {against:?} is not NAME@MAJOR.MINOR")
                    })?;
                    let row = stored(&mut conn, &against)?
                        .with_context(|| format!("{against} is not published"))?;
                    Some((against, row))
                }
                None => match &target {
                    Some(target) => previous_minor(&mut conn, target)?,
                    None => None,
                },
            };
            let mut violations =
                schema_registry::check(&document, previous.as_ref().map(|(_, d)| d));
            // The rest of the publication checks (compilation, examples,
            // version order) when the file says which version it is.
            if violations.is_empty()
                && against.is_none()
                && let Some(target) = &target
            {
                match state.schemas.trial(&mut conn, target, document) {
                    Ok(()) | Err(ApiError::SchemaExists(_)) => {}
                    Err(ApiError::SchemaInvalid { violations: v, .. })
                    | Err(ApiError::SchemaIncompatible { violations: v, .. }) => violations = v,
                    Err(other) => violations.push(ProblemViolation {
                        pointer: String::new(),
                        rule: "publication".to_owned(),
                        detail: other.to_string(),
                    }),
                }
            }
            let compared = match &previous {
                Some((version, _)) => format!("compatible with {version}"),
                None => "no previous minor to compare with".to_owned(),
            };
            if violations.is_empty() {
                println!("{}: ok ({compared})", file.display());
                return Ok(());
            }
            print_violations(&violations);
            bail!(
                "{}: {} violation(s) ({})",
                file.display(),
                violations.len(),
                match &previous {
                    Some((version, _)) => format!("checked against {version}"),
                    None => "lint only".to_owned(),
                }
            );
        }
    }
    Ok(())
}

fn read_json(file: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

/// The version a document's `$id` names (`…/<name>/<major>.<minor>`).
fn named_by_id(document: &Value) -> Option<RecordType> {
    let id = document.get("$id")?.as_str()?;
    let mut parts = id.rsplitn(3, '/');
    let version = parts.next()?;
    let name = parts.next()?;
    RecordType::parse(&format!("{name}@{version}")).ok()
}

/// A stored document, as stored (under the catalog's canonical base URL).
fn stored(conn: &mut DbConnection, record_type: &RecordType) -> anyhow::Result<Option<Value>> {
    schema_registry::stored_version(conn, record_type)?
        .map(|row| serde_json::from_str(&row.document).context("stored schema is not JSON"))
        .transpose()
}

/// The latest stored minor below `target` in its major.
fn previous_minor(
    conn: &mut DbConnection,
    target: &RecordType,
) -> anyhow::Result<Option<(RecordType, Value)>> {
    let below = schema_registry::stored_versions(conn)?
        .into_iter()
        .filter(|row| row.name == target.name.as_str())
        .filter_map(|row| {
            let version = Version::new(
                u32::try_from(row.major).ok()?,
                u32::try_from(row.minor).ok()?,
            );
            (version.major == target.version.major && version < target.version)
                .then_some((version, row.document))
        })
        .max_by_key(|(version, _)| *version);
    below
        .map(|(version, text)| {
            let document = serde_json::from_str(&text).context("stored schema is not JSON")?;
            Ok((RecordType::new(target.name.clone(), version), document))
        })
        .transpose()
}

fn print_violations(violations: &[ProblemViolation]) {
    for v in violations {
        let pointer = if v.pointer.is_empty() {
            "(document)"
        } else {
            v.pointer.as_str()
        };
        println!("{pointer}\t{}\t{}", v.rule, v.detail);
    }
}

/// Prints a refusal's violations and turns it into the command's error.
fn report(refused: &ApiError) -> anyhow::Error {
    if let ApiError::SchemaInvalid { violations, .. }
    | ApiError::SchemaIncompatible { violations, .. } = refused
    {
        print_violations(violations);
    }
    anyhow::anyhow!("{refused}")
}
