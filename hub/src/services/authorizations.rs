//! Purposes and authorizations (the legal bases): publishing, superseding,
//! reading their history, and the in-memory set the access decision reads.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use consent::{
    Authorization, AuthorizationId, AuthorizationSet, AuthorizationTerms, Consumer, LegalReference,
    Purpose, PurposeCode,
};
use identity::{AgencyId, Role, Sector};
use schemas::RecordTypeName;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{db_time, from_db};
use crate::http::error::{ApiError, ResultExt};
use crate::services::schemas::SchemaRegistry;
use crate::store::authorizations::{self as store, AuthorizationRow, PurposeRow};
use crate::store::{DbConnection, StoreError};

/// How long this process trusts its cached set before reading the database
/// again, so that changes made by other hub processes are seen.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// The authorizations of this process, read through and invalidated on
/// change.
#[derive(Debug, Default)]
pub struct AuthorizationCache {
    loaded: RwLock<Option<(Arc<AuthorizationSet>, Instant)>>,
}

impl AuthorizationCache {
    /// The set, from memory when it is fresh, else from the database.
    pub fn get(&self, conn: &mut DbConnection) -> Result<Arc<AuthorizationSet>, ApiError> {
        if let Some((set, at)) = self
            .loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(load(conn)?);
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) =
            Some((Arc::clone(&set), Instant::now()));
        Ok(set)
    }

    /// Forgets the cached set (after a change made by this process).
    pub fn invalidate(&self) {
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Reads every stored version into a set.
pub fn load(conn: &mut DbConnection) -> Result<AuthorizationSet, ApiError> {
    let versions = store::all(conn)?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    AuthorizationSet::from_versions(versions)
        .map_err(|e| ApiError::internal_from("stored authorizations", e))
}

fn bad(what: &str) -> ApiError {
    ApiError::internal(format!("stored authorization has a bad {what}"))
}

/// A stored version as the domain type.
pub fn from_row(row: &AuthorizationRow) -> Result<Authorization, ApiError> {
    let consumer = match (
        &row.consumer_agency,
        &row.consumer_sector,
        &row.consumer_role,
    ) {
        (Some(agency), None, None) => {
            Consumer::Agency(agency.parse().map_err(|_| bad("consumer agency"))?)
        }
        (None, Some(sector), Some(role)) => Consumer::SectorRole {
            sector: sector.parse().map_err(|_| bad("consumer sector"))?,
            role: role.parse().map_err(|_| bad("consumer role"))?,
        },
        _ => return Err(bad("consumer")),
    };
    Ok(Authorization {
        id: AuthorizationId::parse(&row.id).map_err(|_| bad("id"))?,
        version: u32::try_from(row.version).map_err(|_| bad("version"))?,
        consumer,
        record_type: RecordTypeName::parse(&row.record_type).map_err(|_| bad("record type"))?,
        major: u32::try_from(row.major).map_err(|_| bad("major"))?,
        fields: serde_json::from_str(&row.fields).map_err(|_| bad("fields"))?,
        purposes: serde_json::from_str(&row.purposes).map_err(|_| bad("purposes"))?,
        legal_reference: serde_json::from_str(&row.legal_reference)
            .map_err(|_| bad("legal reference"))?,
        valid_from: from_db(row.valid_from),
        valid_until: row.valid_until.map(from_db),
        consent_required: row.consent_required,
        superseded_from: row.superseded_from.map(from_db),
    })
}

fn to_row(
    a: &Authorization,
    published_at: DateTime<Utc>,
    published_by: &str,
) -> Result<AuthorizationRow, ApiError> {
    let (consumer_agency, consumer_sector, consumer_role) = match &a.consumer {
        Consumer::Agency(id) => (Some(id.to_string()), None, None),
        Consumer::SectorRole { sector, role } => {
            (None, Some(sector.to_string()), Some(role.to_string()))
        }
    };
    Ok(AuthorizationRow {
        id: a.id.to_string(),
        version: i32::try_from(a.version).map_err(|_| ApiError::internal("version"))?,
        consumer_agency,
        consumer_sector,
        consumer_role,
        record_type: a.record_type.to_string(),
        major: i32::try_from(a.major).map_err(|_| ApiError::Invalid {
            code: "major_too_large",
            detail: "the major version is too large".to_owned(),
        })?,
        fields: to_json(&a.fields)?,
        purposes: to_json(&a.purposes)?,
        legal_reference: to_json(&a.legal_reference)?,
        valid_from: db_time(a.valid_from),
        valid_until: a.valid_until.map(db_time),
        consent_required: a.consent_required,
        superseded_from: a.superseded_from.map(db_time),
        published_at: db_time(published_at),
        published_by: published_by.to_owned(),
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).internal("an authorization cannot be serialized")
}

/// A legal reference: the title of the legal text and where to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalRef {
    /// E.g. `Law of 15 January 1990, art. 5`.
    pub title: String,
    /// An absolute http(s) URL.
    pub url: String,
}

impl From<&LegalReference> for LegalRef {
    fn from(r: &LegalReference) -> Self {
        Self {
            title: r.title.clone(),
            url: r.url.clone(),
        }
    }
}

impl From<LegalRef> for LegalReference {
    fn from(r: LegalRef) -> Self {
        Self {
            title: r.title,
            url: r.url,
        }
    }
}

/// A purpose as an operator submits it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPurpose {
    /// Lowercase words joined by `-`, e.g. `benefit-eligibility`.
    #[schema(value_type = crate::api::ids::PurposeCode)]
    pub code: String,
    /// A short title.
    pub title: String,
    /// What the purpose covers.
    #[serde(default)]
    pub description: String,
    /// The legal text that defines it.
    pub legal_reference: LegalRef,
}

/// A purpose as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PurposeView {
    /// The code agencies state.
    pub code: String,
    /// A short title.
    pub title: String,
    /// What it covers.
    pub description: String,
    /// The legal text that defines it.
    pub legal_reference: LegalRef,
}

fn purpose_view(row: PurposeRow) -> PurposeView {
    PurposeView {
        code: row.code,
        title: row.title,
        description: row.description,
        legal_reference: LegalRef {
            title: row.legal_title,
            url: row.legal_url,
        },
    }
}

/// Adds a purpose to the controlled list.
pub fn create_purpose(
    conn: &mut DbConnection,
    input: &NewPurpose,
    operator: &str,
    now: DateTime<Utc>,
) -> Result<PurposeView, ApiError> {
    let code = PurposeCode::parse(&input.code).map_err(|e| ApiError::Invalid {
        code: e.code(),
        detail: e.to_string(),
    })?;
    let purpose = Purpose::new(
        code,
        input.title.trim(),
        input.description.trim(),
        input.legal_reference.clone().into(),
    )
    .map_err(|e| ApiError::Invalid {
        code: e.code(),
        detail: e.to_string(),
    })?;
    let row = PurposeRow {
        code: purpose.code.to_string(),
        title: purpose.title,
        description: purpose.description,
        legal_title: purpose.legal_reference.title,
        legal_url: purpose.legal_reference.url,
        created_at: db_time(now),
        created_by: operator.to_owned(),
    };
    if !store::insert_purpose(conn, &row)? {
        return Err(ApiError::Conflict {
            code: "purpose_exists",
            detail: format!("purpose {} exists already", row.code),
        });
    }
    Ok(purpose_view(row))
}

/// The controlled list of purposes.
pub fn purposes(conn: &mut DbConnection) -> Result<Vec<PurposeView>, ApiError> {
    Ok(store::purposes(conn)?
        .into_iter()
        .map(purpose_view)
        .collect())
}

/// Who may ask, as the API writes it: `{"agency": "BE-…"}` or
/// `{"sector": "social", "role": "consumer"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    /// One agency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::ids::AgencyId>)]
    pub agency: Option<String>,
    /// Every agency of this sector…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    /// …that plays this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl From<&Consumer> for ConsumerSpec {
    fn from(c: &Consumer) -> Self {
        match c {
            Consumer::Agency(id) => Self {
                agency: Some(id.to_string()),
                ..Self::default()
            },
            Consumer::SectorRole { sector, role } => Self {
                agency: None,
                sector: Some(sector.to_string()),
                role: Some(role.to_string()),
            },
        }
    }
}

impl ConsumerSpec {
    fn parse(&self) -> Result<Consumer, ApiError> {
        match (&self.agency, &self.sector, &self.role) {
            (Some(agency), None, None) => {
                Ok(Consumer::Agency(agency.parse::<AgencyId>().map_err(
                    |e| ApiError::invalid("invalid_agency_id", e.to_string()),
                )?))
            }
            (None, Some(sector), Some(role)) => Ok(Consumer::SectorRole {
                sector: sector
                    .parse::<Sector>()
                    .map_err(|e| ApiError::invalid(e.code(), e.to_string()))?,
                role: role
                    .parse::<Role>()
                    .map_err(|e| ApiError::invalid(e.code(), e.to_string()))?,
            }),
            _ => Err(ApiError::invalid(
                "consumer_invalid",
                "name either one `agency`, or a `sector` and a `role`",
            )),
        }
    }
}

/// The terms of an authorization, as an operator submits them.
#[derive(Debug, Clone)]
pub struct TermsInput {
    /// Who may ask.
    pub consumer: ConsumerSpec,
    /// The record type's name.
    pub record_type: String,
    /// Its major version.
    pub major: u32,
    /// The granted fields, as JSON Pointers.
    pub fields: Vec<String>,
    /// The allowed purpose codes.
    pub purposes: Vec<String>,
    /// The legal basis.
    pub legal_reference: LegalRef,
    /// The end of validity (exclusive), if any.
    pub valid_until: Option<DateTime<Utc>>,
    /// Whether the person's consent is needed too.
    pub consent_required: bool,
}

/// Declares a request body made of its own fields and the terms, side by
/// side in one flat JSON object that refuses unknown members.
macro_rules! with_terms {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Who may ask.
            pub consumer: ConsumerSpec,
            /// The record type's name, e.g. `person.address`.
            #[schema(value_type = crate::api::ids::RecordTypeName)]
            pub record_type: String,
            /// Its major version; every minor of it is covered.
            #[serde(deserialize_with = "schemas::numbers::whole_u32")]
            #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
            pub major: u32,
            /// The granted fields, as JSON Pointers (`/address/municipality`).
            pub fields: Vec<String>,
            /// The allowed purpose codes.
            #[schema(value_type = Vec<crate::api::ids::PurposeCode>)]
            pub purposes: Vec<String>,
            /// The legal basis.
            pub legal_reference: LegalRef,
            /// The end of validity (exclusive), if any.
            #[serde(default)]
            pub valid_until: Option<DateTime<Utc>>,
            /// Whether the person's consent is needed too.
            pub consent_required: bool,
        }

        impl $name {
            /// The terms it states.
            pub fn terms(&self) -> TermsInput {
                TermsInput {
                    consumer: self.consumer.clone(),
                    record_type: self.record_type.clone(),
                    major: self.major,
                    fields: self.fields.clone(),
                    purposes: self.purposes.clone(),
                    legal_reference: self.legal_reference.clone(),
                    valid_until: self.valid_until,
                    consent_required: self.consent_required,
                }
            }
        }
    };
}

with_terms! {
    /// Version 1 of a new authorization.
    NewAuthorization {
        /// `auth-…`; generated when absent.
        #[serde(default)]
        #[schema(value_type = Option<crate::api::ids::AuthorizationId>)]
        id: Option<String>,
        /// When it starts to apply (inclusive); now when absent.
        #[serde(default)]
        valid_from: Option<DateTime<Utc>>,
    }
}

with_terms! {
    /// A new version that supersedes the latest one from a date.
    NewVersion {
        /// When the new version takes over (the old one ends, exclusive).
        from: DateTime<Utc>,
    }
}

/// One version of an authorization as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationView {
    /// The authorization, across versions.
    pub id: String,
    /// This version, from 1.
    pub version: u32,
    /// Who may ask.
    pub consumer: ConsumerSpec,
    /// The record type's name.
    pub record_type: String,
    /// Its major version.
    pub major: u32,
    /// The granted fields.
    pub fields: Vec<String>,
    /// The allowed purposes.
    pub purposes: Vec<String>,
    /// The legal basis.
    pub legal_reference: LegalRef,
    /// Start (inclusive).
    pub valid_from: DateTime<Utc>,
    /// End of validity (exclusive), if any.
    pub valid_until: Option<DateTime<Utc>>,
    /// When a newer version takes over, if one does.
    pub superseded_from: Option<DateTime<Utc>>,
    /// Whether the person's consent is needed too.
    pub consent_required: bool,
    /// Whether this version applies now.
    pub in_force: bool,
}

/// A version as the API shows it, as of `now`.
pub fn view(a: &Authorization, now: DateTime<Utc>) -> AuthorizationView {
    AuthorizationView {
        id: a.id.to_string(),
        version: a.version,
        consumer: (&a.consumer).into(),
        record_type: a.record_type.to_string(),
        major: a.major,
        fields: a.fields.clone(),
        purposes: a.purposes.iter().map(ToString::to_string).collect(),
        legal_reference: (&a.legal_reference).into(),
        valid_from: a.valid_from,
        valid_until: a.valid_until,
        superseded_from: a.superseded_from,
        consent_required: a.consent_required,
        in_force: a.in_force_at(now),
    }
}

fn domain_error(e: consent::AuthorizationError) -> ApiError {
    use consent::AuthorizationError as E;
    match e {
        E::Duplicate { .. } => ApiError::Conflict {
            code: e.code(),
            detail: e.to_string(),
        },
        E::Unknown { .. } => ApiError::NotFound {
            code: "authorization_not_found",
            detail: e.to_string(),
        },
        _ => ApiError::invalid(e.code(), e.to_string()),
    }
}

/// Checks the terms against the purposes, the agencies and the schema
/// registry, and turns them into the domain type.
fn terms(
    conn: &mut DbConnection,
    schemas: &SchemaRegistry,
    input: &TermsInput,
) -> Result<AuthorizationTerms, ApiError> {
    let consumer = input.consumer.parse()?;
    if let Consumer::Agency(id) = &consumer
        && crate::store::agencies::get(conn, id.as_str())?.is_none()
    {
        return Err(ApiError::invalid(
            "unknown_agency",
            format!("no agency {id}"),
        ));
    }
    let record_type = RecordTypeName::parse(&input.record_type)
        .map_err(|e| ApiError::invalid("invalid_record_type", e.to_string()))?;
    let loaded = schemas.get_or_load(conn)?;
    let entry = loaded
        .catalog()
        .latest(&record_type, input.major)
        .ok_or_else(|| {
            ApiError::invalid(
                "unknown_record_type",
                format!(
                    "the schema registry has no {}@{}",
                    input.record_type, input.major
                ),
            )
        })?;
    schemas::check_grant(entry.document(), &input.fields).map_err(|issues| {
        ApiError::invalid(
            "grant_invalid",
            issues
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let mut purposes = Vec::with_capacity(input.purposes.len());
    for code in &input.purposes {
        let parsed =
            PurposeCode::parse(code).map_err(|e| ApiError::invalid(e.code(), e.to_string()))?;
        if store::purpose(conn, parsed.as_str())?.is_none() {
            return Err(ApiError::invalid(
                "unknown_purpose",
                format!("no purpose {code}"),
            ));
        }
        if !purposes.contains(&parsed) {
            purposes.push(parsed);
        }
    }
    Ok(AuthorizationTerms {
        consumer,
        record_type,
        major: input.major,
        fields: input.fields.clone(),
        purposes,
        legal_reference: input.legal_reference.clone().into(),
        valid_until: input.valid_until,
        consent_required: input.consent_required,
    })
}

/// Publishes version 1 of a new authorization.
pub fn publish(
    conn: &mut DbConnection,
    schemas: &SchemaRegistry,
    input: &NewAuthorization,
    operator: &str,
    now: DateTime<Utc>,
) -> Result<AuthorizationView, ApiError> {
    let id = match &input.id {
        Some(id) => {
            AuthorizationId::parse(id).map_err(|e| ApiError::invalid(e.code(), e.to_string()))?
        }
        None => AuthorizationId::parse(&format!("auth-{}", uuid::Uuid::new_v4()))
            .internal("a new authorization id is refused")?,
    };
    let terms = terms(conn, schemas, &input.terms())?;
    let authorization =
        Authorization::new(id, terms, input.valid_from.unwrap_or(now)).map_err(domain_error)?;
    if !store::insert(conn, &to_row(&authorization, now, operator)?)? {
        return Err(ApiError::Conflict {
            code: "authorization_exists",
            detail: format!("authorization {} exists already", authorization.id),
        });
    }
    Ok(view(&authorization, now))
}

/// Publishes a new version of `id` from `input.from`, closing the latest.
pub fn supersede(
    conn: &mut DbConnection,
    schemas: &SchemaRegistry,
    id: &str,
    input: &NewVersion,
    operator: &str,
    now: DateTime<Utc>,
) -> Result<AuthorizationView, ApiError> {
    let parsed = AuthorizationId::parse(id).map_err(|_| {
        ApiError::not_found("authorization_not_found", format!("no authorization {id}"))
    })?;
    let terms = terms(conn, schemas, &input.terms())?;
    crate::store::write(conn, |conn| {
        let rows = store::history(conn, id)?;
        if rows.is_empty() {
            return Err(ApiError::not_found(
                "authorization_not_found",
                format!("no authorization {id}"),
            ));
        }
        let versions = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        let mut set = AuthorizationSet::from_versions(versions)
            .map_err(|e| ApiError::internal_from(format!("stored authorization {id}"), e))?;
        let next = set
            .supersede(&parsed, terms.clone(), input.from)
            .map_err(domain_error)?
            .clone();
        let old = i32::try_from(next.version - 1).map_err(|_| bad("version"))?;
        let inserted = store::close(conn, id, old, input.from)?
            && store::insert(conn, &to_row(&next, now, operator)?)?;
        if !inserted {
            return Err(ApiError::Conflict {
                code: "authorization_changed",
                detail: format!("authorization {id} was changed meanwhile; read it and retry"),
            });
        }
        Ok(view(&next, now))
    })
}

/// Every version of one authorization, oldest first.
pub fn history(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AuthorizationView>, ApiError> {
    let rows = store::history(conn, id)?;
    if rows.is_empty() {
        return Err(ApiError::not_found(
            "authorization_not_found",
            format!("no authorization {id}"),
        ));
    }
    rows.iter()
        .map(|row| from_row(row).map(|a| view(&a, now)))
        .collect()
}

/// Every version of every authorization.
pub fn all(set: &AuthorizationSet, now: DateTime<Utc>) -> Vec<AuthorizationView> {
    set.iter().map(|a| view(a, now)).collect()
}

/// The versions in force at `now` under which this agency may ask.
pub fn for_agency(
    set: &AuthorizationSet,
    agency: &AgencyId,
    sector: Sector,
    roles: &[Role],
    now: DateTime<Utc>,
) -> Vec<AuthorizationView> {
    set.for_consumer(agency, sector, roles, now)
        .map(|a| view(a, now))
        .collect()
}

/// The versions in force at `now`: every one applies to every person.
pub fn in_force(set: &AuthorizationSet, now: DateTime<Utc>) -> Vec<AuthorizationView> {
    set.in_force(now).map(|a| view(a, now)).collect()
}

/// The title of purpose `code`, if there is such a purpose.
pub fn purpose_title(conn: &mut DbConnection, code: &str) -> Result<Option<String>, StoreError> {
    Ok(store::purpose(conn, code)?.map(|p| p.title))
}
