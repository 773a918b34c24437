//! The reference directory: which provider is the authentic source of which
//! record type (and, when several are, which one holds a file on the person),
//! and the references agencies declare on persons (`source` or `file`).

use chrono::{DateTime, NaiveDate, Utc};
use identity::{CommonId, IdentifierPolicy, Role, Sector};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{db_time, from_db};
use crate::http::error::ApiError;
use crate::store::DbConnection;
use crate::store::references::{self as store, ReferenceRow, SourceRow};

/// Where a lookup goes.
#[derive(Debug, Clone)]
pub struct Route {
    /// The provider agency.
    pub provider: String,
    /// Its base URL.
    pub endpoint: String,
    /// How it names persons.
    pub policy: IdentifierPolicy,
    /// Its sector (for pseudonyms).
    pub sector: Sector,
    /// How long to wait for it.
    pub timeout_ms: u64,
}

fn no_provider(detail: String) -> ApiError {
    ApiError::NotFound {
        code: "no_provider",
        detail,
    }
}

/// Picks the provider of `record_type@major` for `person`.
pub fn route(
    conn: &mut DbConnection,
    record_type: &str,
    major: i32,
    person: &CommonId,
    today: NaiveDate,
) -> Result<Route, ApiError> {
    let mut sources = store::sources(conn, record_type, major)?;
    if sources.is_empty() {
        return Err(no_provider(format!(
            "no agency provides {record_type}@{major}"
        )));
    }
    let chosen = if sources.iter().all(|s| s.routing == "direct") && sources.len() == 1 {
        sources.into_iter().next()
    } else {
        // Several sources, or routing by reference: a registered source
        // holding a source reference for this record type on this person,
        // in force today; the latest one when several do (a file moves from
        // one source to another). File references never route.
        let holders = store::source_holders(conn, person.as_digits(), record_type, major, today)?;
        holders.into_iter().find_map(|holder| {
            sources
                .iter()
                .position(|s| s.provider_id == holder)
                .map(|i| sources.swap_remove(i))
        })
    };
    let source = chosen.ok_or_else(|| {
        no_provider(format!(
            "no provider of {record_type}@{major} holds a file on this person"
        ))
    })?;
    let (endpoint, policy, sector, active) =
        crate::services::broker::provider_facts(conn, &source.provider_id)?;
    if !active {
        return Err(no_provider(format!(
            "provider {} is suspended",
            source.provider_id
        )));
    }
    Ok(Route {
        provider: source.provider_id,
        endpoint,
        policy,
        sector,
        timeout_ms: u64::try_from(source.timeout_ms).unwrap_or(5_000),
    })
}

/// An operator's registration of an authentic source.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Record type name, e.g. `person.address`.
    #[schema(value_type = crate::api::ids::RecordTypeName)]
    pub record_type: String,
    /// Major version.
    #[serde(deserialize_with = "schemas::numbers::whole_u32")]
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub major: u32,
    /// The provider agency (it must have the `provider` role).
    #[schema(value_type = crate::api::ids::AgencyId)]
    pub provider: String,
    /// `direct` (the only source), or `by_reference` (several sources; the
    /// one holding a file on the person answers).
    #[serde(default = "direct")]
    pub routing: String,
    /// How long the hub waits for it, in milliseconds (default 5000).
    #[serde(
        default = "five_seconds",
        deserialize_with = "schemas::numbers::whole_u32"
    )]
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub timeout_ms: u32,
}

fn direct() -> String {
    "direct".to_owned()
}

fn five_seconds() -> u32 {
    5_000
}

/// Registers an authentic source.
pub fn put_source(
    conn: &mut DbConnection,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<Source, ApiError> {
    let invalid = |code: &'static str, detail: String| ApiError::Invalid { code, detail };
    schemas::RecordTypeName::parse(&source.record_type)
        .map_err(|e| invalid("invalid_record_type", format!("record_type: {e}")))?;
    if !matches!(source.routing.as_str(), "direct" | "by_reference") {
        return Err(invalid(
            "invalid_routing",
            "routing: `direct` or `by_reference`".to_owned(),
        ));
    }
    if !(100..=60_000).contains(&source.timeout_ms) {
        return Err(invalid(
            "invalid_timeout",
            "timeout_ms: 100 to 60000".to_owned(),
        ));
    }
    let agency =
        crate::store::agencies::get(conn, &source.provider)?.ok_or_else(|| ApiError::NotFound {
            code: "agency_not_found",
            detail: format!("no agency {}", source.provider),
        })?;
    let roles = crate::services::agencies::parse_roles(&agency.roles).unwrap_or_default();
    if !roles.contains(&Role::Provider) || agency.endpoint_url.is_none() {
        return Err(invalid(
            "not_a_provider",
            format!(
                "agency {} has no provider role or no endpoint",
                source.provider
            ),
        ));
    }
    store::put_source(
        conn,
        &SourceRow {
            record_type: source.record_type.clone(),
            major: i32::try_from(source.major).unwrap_or(i32::MAX),
            provider_id: source.provider.clone(),
            routing: source.routing.clone(),
            timeout_ms: i32::try_from(source.timeout_ms).unwrap_or(5_000),
            created_at: db_time(now),
        },
    )?;
    Ok(source.clone())
}

/// Every source.
pub fn sources(conn: &mut DbConnection) -> Result<Vec<Source>, ApiError> {
    Ok(store::all_sources(conn)?
        .into_iter()
        .map(|s| Source {
            record_type: s.record_type,
            major: u32::try_from(s.major).unwrap_or(0),
            provider: s.provider_id,
            routing: s.routing,
            timeout_ms: u32::try_from(s.timeout_ms).unwrap_or(5_000),
        })
        .collect())
}

/// What a reference says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// The agency is the authentic source of a record type for the person:
    /// lookups of that type routed by reference go to it. Only an agency
    /// registered as a source of the record type may declare one.
    Source,
    /// The agency holds a file on the person in a capacity (change
    /// notifications follow these). Only an agency holding an authorization
    /// in force may declare one.
    File,
}

impl ReferenceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::File => "file",
        }
    }
}

/// An agency's declaration about a person.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReference {
    /// The person: a common ID, or the caller's sector pseudonym.
    #[schema(value_type = crate::api::ids::PersonRef)]
    pub person: String,
    /// `source` or `file`.
    pub kind: ReferenceKind,
    /// For a `source` reference: the record type and major, e.g.
    /// `person.address@1`.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::ids::RecordTypeRef>)]
    pub record_type: Option<String>,
    /// In which capacity, e.g. `insurer`, `employer`, `taxpayer` (required
    /// for a `file` reference).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub capacity: Option<String>,
    /// Since when (default today).
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
}

/// A reference as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReferenceView {
    /// `ref-…`.
    pub id: String,
    /// `source` or `file`.
    pub kind: ReferenceKind,
    /// The agency that declared it.
    pub agency: String,
    /// The person, as the caller names them.
    pub person: String,
    /// For a source reference: the record type and major.
    pub record_type: Option<String>,
    /// In which capacity.
    pub capacity: String,
    /// Since when.
    pub valid_from: NaiveDate,
    /// Until when, once ended.
    pub valid_until: Option<NaiveDate>,
    /// When declared.
    pub created_at: DateTime<Utc>,
}

/// Shows a stored reference with the person named for the caller.
pub fn reference_view(row: ReferenceRow, person: String) -> ReferenceView {
    let record_type = match (&row.record_type, row.major) {
        (Some(name), Some(major)) => Some(format!("{name}@{major}")),
        _ => None,
    };
    ReferenceView {
        id: row.id,
        kind: if row.kind == "source" {
            ReferenceKind::Source
        } else {
            ReferenceKind::File
        },
        agency: row.agency_id,
        person,
        record_type,
        capacity: row.capacity,
        valid_from: row.valid_from,
        valid_until: row.valid_until,
        created_at: from_db(row.created_at),
    }
}

/// Who declares a reference, as far as the rules need to know.
#[derive(Debug, Clone, Copy)]
pub struct Declarer<'a> {
    /// The agency.
    pub agency: &'a identity::AgencyId,
    /// Its sector.
    pub sector: Sector,
    /// Its current roles, as far as its token's scopes reach.
    pub roles: &'a [Role],
}

/// Declares a reference, after checking that the agency may: a `source`
/// reference only by an agency registered as a source of that record type
/// and major, a `file` reference only by an agency holding an
/// authorization in force at `now`.
pub fn declare(
    conn: &mut DbConnection,
    authorizations: &consent::AuthorizationSet,
    declarer: Declarer<'_>,
    person: &CommonId,
    input: &NewReference,
    now: DateTime<Utc>,
) -> Result<ReferenceRow, ApiError> {
    let invalid = |code: &'static str, detail: String| ApiError::Invalid { code, detail };
    let forbidden = |code: &'static str, detail: String| ApiError::Forbidden { code, detail };
    let agency = declarer.agency.as_str();
    let capacity = input.capacity.as_deref().map(str::trim);
    if let Some(c) = capacity
        && (c.is_empty() || c.len() > 64)
    {
        return Err(invalid(
            "invalid_capacity",
            "capacity: 1 to 64 characters".to_owned(),
        ));
    }
    let (capacity, record_type, major) = match input.kind {
        ReferenceKind::Source => {
            let text = input.record_type.as_deref().ok_or_else(|| {
                invalid(
                    "record_type_required",
                    "record_type: a source reference names the record type and major, e.g. `person.address@1`".to_owned(),
                )
            })?;
            let reference = schemas::RecordTypeRef::parse(text)
                .map_err(|e| invalid("invalid_record_type", format!("record_type: {e}")))?;
            let major = reference.version.major();
            let major_db = i32::try_from(major).unwrap_or(i32::MAX);
            let name = reference.name.as_str().to_owned();
            let registered = store::sources(conn, &name, major_db)?
                .iter()
                .any(|s| s.provider_id == agency);
            if !declarer.roles.contains(&Role::Provider) || !registered {
                return Err(forbidden(
                    "not_a_source",
                    format!("agency {agency} is not a registered source of {name}@{major}"),
                ));
            }
            (
                capacity.unwrap_or("authentic source").to_owned(),
                Some(name),
                Some(major_db),
            )
        }
        ReferenceKind::File => {
            if input.record_type.is_some() {
                return Err(invalid(
                    "invalid_record_type",
                    "record_type: only a source reference names one".to_owned(),
                ));
            }
            let capacity = capacity.ok_or_else(|| {
                invalid(
                    "invalid_capacity",
                    "capacity: a file reference says in which capacity".to_owned(),
                )
            })?;
            let authorized = authorizations
                .for_consumer(declarer.agency, declarer.sector, declarer.roles, now)
                .next()
                .is_some();
            if !authorized {
                return Err(forbidden(
                    "no_authorization",
                    format!("agency {agency} holds no authorization in force"),
                ));
            }
            (capacity.to_owned(), None, None)
        }
    };
    let row = ReferenceRow {
        id: format!("ref-{}", uuid::Uuid::new_v4().simple()),
        agency_id: agency.to_owned(),
        common_id: person.as_digits().to_owned(),
        capacity,
        valid_from: input.valid_from.unwrap_or_else(|| now.date_naive()),
        valid_until: None,
        created_at: db_time(now),
        ended_at: None,
        kind: input.kind.as_str().to_owned(),
        record_type,
        major,
    };
    store::insert_reference(conn, &row)?;
    Ok(row)
}

/// Ends an agency's reference (it stays in the directory, with its end date).
pub fn end(
    conn: &mut DbConnection,
    agency: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ReferenceRow, ApiError> {
    let not_found = || ApiError::NotFound {
        code: "reference_not_found",
        detail: format!("no reference {id} of agency {agency}"),
    };
    let row = store::reference(conn, id)?
        .filter(|r| r.agency_id == agency)
        .ok_or_else(not_found)?;
    if !store::end_reference(conn, id, now.date_naive(), db_time(now))? {
        return Err(ApiError::Conflict {
            code: "reference_ended",
            detail: format!("reference {id} has ended already"),
        });
    }
    store::reference(conn, &row.id)?.ok_or_else(not_found)
}

/// The directory's entries about `person` (for the portal's "who holds
/// data about me"), each with its agency's name (empty when unknown).
pub fn held_about(
    conn: &mut DbConnection,
    person: &str,
) -> Result<Vec<(ReferenceRow, String)>, ApiError> {
    let rows = store::references_for(conn, person)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let name = crate::services::agencies::display_name(conn, &row.agency_id)?;
        out.push((row, name));
    }
    Ok(out)
}
