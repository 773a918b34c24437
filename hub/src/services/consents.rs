//! Consents: requests made by agencies, the person's answers and changes,
//! expiry by time, the artefact, and the state changes agencies poll for.
//!
//! Every function here is a storage-side service: it changes the database in
//! one transaction that also stages the change's audit entries in the
//! hand-over table, and returns their hand-over ids (to wait for their
//! sequence numbers).

use std::collections::HashMap;

use audit::{Actor, ActorType, Outcome};
use chrono::{DateTime, Utc};
use consent::{
    Consent, ConsentError, ConsentId, ConsentState, ConsentTerms, FetchFrequency, PurposeCode,
};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use identity::CommonId;
use schemas::RecordTypeRef;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{db_time, from_db};
use crate::app::state::AppState;
use crate::audit_log::{NewEntry, stage};
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, ResultExt};
use crate::services::persons::{self, Viewer};
use crate::store::consents::{self as store, ConsentRow, EventRow};
use crate::store::{DbConnection, StoreError};

/// The most events one poll returns.
pub const MAX_EVENTS: i64 = 1000;

fn bad(what: &str) -> ApiError {
    ApiError::internal(format!("stored consent has a bad {what}"))
}

/// A domain refusal as an HTTP error.
pub fn refusal(e: ConsentError) -> ApiError {
    match e {
        ConsentError::Transition(_) | ConsentError::WindowEnded { .. } => ApiError::Conflict {
            code: e.code(),
            detail: e.to_string(),
        },
        _ => ApiError::invalid(e.code(), e.to_string()),
    }
}

fn state_of(name: &str) -> Result<ConsentState, ApiError> {
    Ok(match name {
        "pending" => ConsentState::Pending,
        "active" => ConsentState::Active,
        "paused" => ConsentState::Paused,
        "rejected" => ConsentState::Rejected,
        "revoked" => ConsentState::Revoked,
        "expired" => ConsentState::Expired,
        _ => return Err(bad("state")),
    })
}

/// A stored consent as the domain type.
pub fn from_row(row: &ConsentRow) -> Result<Consent, ApiError> {
    let terms = ConsentTerms {
        person: row.person.parse().map_err(|_| bad("person"))?,
        consumer: row.consumer.parse().map_err(|_| bad("consumer"))?,
        record_types: serde_json::from_str(&row.record_types).map_err(|_| bad("record types"))?,
        purpose: PurposeCode::parse(&row.purpose).map_err(|_| bad("purpose"))?,
        valid_from: from_db(row.valid_from),
        valid_until: from_db(row.valid_until),
        frequency: serde_json::from_str(&row.frequency).map_err(|_| bad("frequency"))?,
    };
    Consent::restore(
        ConsentId::parse(&row.id).map_err(|_| bad("id"))?,
        u32::try_from(row.revision).map_err(|_| bad("revision"))?,
        terms,
        state_of(&row.state)?,
        from_db(row.created_at),
        from_db(row.updated_at),
    )
    .map_err(|e| ApiError::internal_from(format!("stored consent {}", row.id), e))
}

pub(crate) fn to_row(consent: &Consent, artefact: Option<String>) -> Result<ConsentRow, ApiError> {
    let terms = consent.terms();
    let json =
        |v: Result<String, serde_json::Error>| v.internal("consent terms cannot be serialized");
    Ok(ConsentRow {
        id: consent.id().to_string(),
        person: terms.person.as_digits().to_owned(),
        consumer: terms.consumer.to_string(),
        record_types: json(serde_json::to_string(&terms.record_types))?,
        purpose: terms.purpose.to_string(),
        valid_from: db_time(terms.valid_from),
        valid_until: db_time(terms.valid_until),
        frequency: json(serde_json::to_string(&terms.frequency))?,
        state: consent.state().as_str().to_owned(),
        revision: revision(consent)?,
        created_at: db_time(consent.created_at()),
        updated_at: db_time(consent.updated_at()),
        artefact,
    })
}

fn revision(consent: &Consent) -> Result<i32, ApiError> {
    i32::try_from(consent.revision()).internal("revision overflow")
}

/// Whether a failed write may be retried: another writer took the same event
/// number first, or the database asks to retry.
fn retryable(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Store(StoreError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure,
            _
        )))
    )
}

/// Runs `f` in a write transaction, again when it failed on a write race.
pub fn write<T>(
    conn: &mut DbConnection,
    f: impl FnMut(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    crate::store::write_or_race(conn, retryable, f)
}

/// The event kind agencies are told of for a state reached by `action`.
fn event_kind(action: &str) -> Option<&'static str> {
    match action {
        "granted" => Some("granted"),
        "approved" => Some("approved"),
        "rejected" => Some("rejected"),
        "paused" => Some("paused"),
        "resumed" => Some("resumed"),
        "revoked" => Some("revoked"),
        "expired" => Some("expired"),
        _ => None,
    }
}

/// Signs the artefact of an active consent with the hub's current key.
fn sign(
    state: &AppState,
    conn: &mut DbConnection,
    c: &Consent,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let ring = state
        .keys
        .ring(conn, now)
        .internal("the hub's signing keys cannot be read")?;
    // The artefact is the consumer's: it names the person as the consumer
    // does, by sector pseudonym where that is its policy.
    let consumer = c.terms().consumer.as_str();
    let agency = crate::store::agencies::get(conn, consumer)?
        .ok_or_else(|| ApiError::internal(format!("consent of unknown agency {consumer}")))?;
    let bad = |what: &str| ApiError::internal(format!("stored {what} of agency {consumer}"));
    let viewer = Viewer {
        sector: agency.sector.parse().map_err(|_| bad("sector"))?,
        policy: agency
            .identifier_policy
            .parse()
            .map_err(|_| bad("identifier policy"))?,
    };
    let subject = persons::name_for(viewer, &state.pseudonyms, &c.terms().person);
    consent::artefact_naming(c, &subject, ring.current(), now).map_err(|e| match e {
        consent::ArtefactError::NotActive { .. } => ApiError::Conflict {
            code: e.code(),
            detail: e.to_string(),
        },
        consent::ArtefactError::Token(_) => {
            ApiError::internal_from("the consent artefact cannot be signed", e)
        }
    })
}

/// Saves a changed consent (its stored revision must still be `previous`)
/// and the event agencies poll for; signs a new artefact if it is active.
/// Call it inside a transaction.
fn save_change(
    state: &AppState,
    conn: &mut DbConnection,
    c: &Consent,
    previous: u32,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let artefact = if c.state_at(now) == ConsentState::Active {
        Some(sign(state, conn, c, now)?)
    } else {
        None
    };
    let previous = i32::try_from(previous).map_err(|_| bad("revision"))?;
    if !store::update(conn, &to_row(c, artefact)?, previous)? {
        return Err(ApiError::Conflict {
            code: "consent_changed",
            detail: format!(
                "consent {} was changed meanwhile; read it and retry",
                c.id()
            ),
        });
    }
    record_event(conn, c, action, now)
}

fn record_event(
    conn: &mut DbConnection,
    c: &Consent,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(kind) = event_kind(action) {
        let terms = c.terms();
        store::insert_event(
            conn,
            c.id().as_str(),
            terms.consumer.as_str(),
            terms.person.as_digits(),
            kind,
            revision(c)?,
            now,
        )?;
    }
    Ok(())
}

/// The audit entry of an expiry noticed by the hub.
fn expiry_entry(c: &Consent) -> Result<NewEntry, ApiError> {
    Ok(NewEntry::new(
        "consent.expired",
        Actor::new(ActorType::Hub, "hub"),
        Outcome::Recorded,
    )?
    .with_person(c.terms().person.as_digits())
    .with_consent(c.id().as_str())
    .with_details(serde_json::json!({"agency": c.terms().consumer.as_str()})))
}

fn citizen_entry(c: &Consent, kind: &str) -> Result<NewEntry, ApiError> {
    Ok(
        crate::audit_log::actions::by_citizen(&c.terms().person, kind)?
            .with_consent(c.id().as_str())
            .with_purpose(c.terms().purpose.as_str())
            .with_details(serde_json::json!({
                "agency": c.terms().consumer.as_str(),
                "revision": c.revision(),
            })),
    )
}

/// Records the expiry of every consent in `rows` whose window is over at
/// `now`; returns the consents as they now are and the audit entries.
pub fn refresh(
    state: &AppState,
    conn: &mut DbConnection,
    rows: Vec<ConsentRow>,
    now: DateTime<Utc>,
) -> Result<(Vec<Consent>, Staged), ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut entries = Vec::new();
    for row in rows {
        let mut c = from_row(&row)?;
        let previous = c.revision();
        if c.expire_if_due(now) {
            let saved = write(conn, |conn| {
                save_change(state, conn, &c, previous, "expired", now)?;
                stage(conn, &[expiry_entry(&c)?], now)
            });
            match saved {
                Ok(ids) => entries.extend(ids),
                // Another process recorded it first: read what it stored.
                Err(ApiError::Conflict { .. }) => {
                    let row = store::get(conn, &row.id)?.ok_or_else(|| {
                        ApiError::not_found("consent_not_found", format!("no consent {}", row.id))
                    })?;
                    c = from_row(&row)?;
                }
                Err(e) => return Err(e),
            }
        }
        out.push(c);
    }
    Ok((out, entries))
}

/// The hand-over ids of the audit entries a change staged.
pub type Staged = Vec<i64>;

/// A consent as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentView {
    /// `cns-…`.
    pub id: String,
    /// The person, as the caller names them.
    pub person: String,
    /// The consumer agency.
    pub agency: String,
    /// Its name.
    pub agency_name: String,
    /// The record types covered (`person.address@1`).
    pub record_types: Vec<String>,
    /// The purpose code.
    pub purpose: String,
    /// The purpose's title.
    pub purpose_title: String,
    /// Start of the window (inclusive).
    pub valid_from: DateTime<Utc>,
    /// End of the window (exclusive).
    pub valid_until: DateTime<Utc>,
    /// How often data may be fetched: `{"kind":"once"}` or
    /// `{"kind":"max_per","count":4,"period":"month"}`.
    #[schema(value_type = crate::api::ids::Frequency)]
    pub frequency: FetchFrequency,
    /// `pending`, `active`, `paused`, `rejected`, `revoked` or `expired`.
    pub state: String,
    /// From 1, bumped by every change; each revision has its own artefact.
    pub revision: u32,
    /// When it was requested or granted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Names of agencies and titles of purposes, looked up once per request.
#[derive(Default)]
struct Names {
    agencies: HashMap<String, String>,
    purposes: HashMap<String, String>,
}

impl Names {
    fn agency(&mut self, conn: &mut DbConnection, id: &str) -> Result<String, ApiError> {
        if let Some(name) = self.agencies.get(id) {
            return Ok(name.clone());
        }
        let name = crate::store::agencies::get(conn, id)?
            .map(|a| a.name)
            .unwrap_or_default();
        self.agencies.insert(id.to_owned(), name.clone());
        Ok(name)
    }

    fn purpose(&mut self, conn: &mut DbConnection, code: &str) -> Result<String, ApiError> {
        if let Some(title) = self.purposes.get(code) {
            return Ok(title.clone());
        }
        let title = crate::store::authorizations::purpose(conn, code)?
            .map(|p| p.title)
            .unwrap_or_default();
        self.purposes.insert(code.to_owned(), title.clone());
        Ok(title)
    }
}

fn view(
    conn: &mut DbConnection,
    state: &AppState,
    viewer: Viewer,
    names: &mut Names,
    c: &Consent,
    now: DateTime<Utc>,
) -> Result<ConsentView, ApiError> {
    let terms = c.terms();
    Ok(ConsentView {
        id: c.id().to_string(),
        person: persons::name_for(viewer, &state.pseudonyms, &terms.person),
        agency: terms.consumer.to_string(),
        agency_name: names.agency(conn, terms.consumer.as_str())?,
        record_types: terms.record_types.iter().map(ToString::to_string).collect(),
        purpose: terms.purpose.to_string(),
        purpose_title: names.purpose(conn, terms.purpose.as_str())?,
        valid_from: terms.valid_from,
        valid_until: terms.valid_until,
        frequency: terms.frequency,
        state: c.state_at(now).as_str().to_owned(),
        revision: c.revision(),
        created_at: c.created_at(),
        updated_at: c.updated_at(),
    })
}

/// A consent request, as an agency submits it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The person: a common ID, or the agency's sector pseudonym.
    #[schema(value_type = crate::api::ids::PersonRef)]
    pub person: String,
    /// The record types asked for: `person.address@1` (every minor) or
    /// `person.address@1.1`.
    #[schema(value_type = Vec<crate::api::ids::RecordTypeRef>)]
    pub record_types: Vec<String>,
    /// The purpose code.
    #[schema(value_type = crate::api::ids::PurposeCode)]
    pub purpose: String,
    /// Start of the window; now when absent.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// End of the window (exclusive).
    pub valid_until: DateTime<Utc>,
    /// `{"kind":"once"}` or `{"kind":"max_per","count":4,"period":"month"}`
    /// (period: `day`, `week`, `month`, `year`).
    #[schema(value_type = crate::api::ids::Frequency)]
    pub frequency: FetchFrequency,
}

/// A consent the person grants directly.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// The agency that may obtain the records.
    #[schema(value_type = crate::api::ids::AgencyId)]
    pub agency: String,
    /// The record types: `person.address@1` or `person.address@1.1`.
    #[schema(value_type = Vec<crate::api::ids::RecordTypeRef>)]
    pub record_types: Vec<String>,
    /// The purpose code.
    #[schema(value_type = crate::api::ids::PurposeCode)]
    pub purpose: String,
    /// Start of the window; now when absent.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// End of the window (exclusive).
    pub valid_until: DateTime<Utc>,
    /// How often data may be fetched.
    #[schema(value_type = crate::api::ids::Frequency)]
    pub frequency: FetchFrequency,
}

/// What an agency asks for or a person grants, before it is checked.
struct Asked<'a> {
    record_types: &'a [String],
    purpose: &'a str,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    frequency: FetchFrequency,
}

/// Checks record types against the registry and the purpose against the
/// controlled list.
fn checked_terms(
    conn: &mut DbConnection,
    state: &AppState,
    person: CommonId,
    consumer: identity::AgencyId,
    asked: Asked<'_>,
) -> Result<ConsentTerms, ApiError> {
    let Asked {
        record_types,
        purpose,
        valid_from,
        valid_until,
        frequency,
    } = asked;
    let schemas = state.schemas.get_or_load(conn)?;
    let mut refs = Vec::with_capacity(record_types.len());
    for text in record_types {
        let reference = RecordTypeRef::parse(text)
            .map_err(|e| ApiError::invalid("invalid_record_type", format!("`{text}`: {e}")))?;
        schemas.resolve(&reference).map_err(|_| {
            ApiError::invalid(
                "unknown_record_type",
                format!("the schema registry has no {text}"),
            )
        })?;
        refs.push(reference);
    }
    let purpose =
        PurposeCode::parse(purpose).map_err(|e| ApiError::invalid(e.code(), e.to_string()))?;
    if crate::store::authorizations::purpose(conn, purpose.as_str())?.is_none() {
        return Err(ApiError::invalid(
            "unknown_purpose",
            format!("no purpose {purpose}"),
        ));
    }
    let terms = ConsentTerms {
        person,
        consumer,
        record_types: refs,
        purpose,
        valid_from,
        valid_until,
        frequency,
    };
    terms.validate().map_err(refusal)?;
    Ok(terms)
}

fn new_id() -> Result<ConsentId, ApiError> {
    ConsentId::parse(&format!("cns-{}", uuid::Uuid::new_v4()))
        .internal("a new consent id is refused")
}

/// The person a reference names, after merges; refused unless active.
fn active_person(
    conn: &mut DbConnection,
    viewer: Viewer,
    reference: &str,
) -> Result<CommonId, ApiError> {
    let asked = persons::parse_reference(conn, viewer, reference)?;
    let (person, row) = persons::resolve(conn, asked)?;
    if row.status != "active" {
        return Err(ApiError::invalid(
            "person_inactive",
            format!("the person is {}", row.status),
        ));
    }
    Ok(person)
}

/// An agency asks a person for consent: a pending request.
pub fn request(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    input: &NewRequest,
    now: DateTime<Utc>,
) -> Result<(ConsentView, Staged), ApiError> {
    let viewer = Viewer {
        sector: caller.sector,
        policy: caller.identifier_policy,
    };
    let person = active_person(conn, viewer, &input.person)?;
    let terms = checked_terms(
        conn,
        state,
        person,
        caller.agency_id.clone(),
        Asked {
            record_types: &input.record_types,
            purpose: &input.purpose,
            valid_from: input.valid_from.unwrap_or(now),
            valid_until: input.valid_until,
            frequency: input.frequency,
        },
    )?;
    // Only an agency whose authorization for each record type and purpose
    // needs the person's consent may ask for it.
    let authorizations = state.authorizations.get(conn)?;
    for wanted in &terms.record_types {
        let needs_consent = authorizations
            .for_consumer(&caller.agency_id, caller.sector, &caller.roles, now)
            .any(|a| {
                a.consent_required
                    && a.record_type == wanted.name
                    && a.major == wanted.version.major()
                    && a.purposes.contains(&terms.purpose)
            });
        if !needs_consent {
            return Err(ApiError::Forbidden {
                code: "no_consent_authorization",
                detail: format!(
                    "agency {} holds no authorization in force for {}@{} and purpose {} that needs the person's consent",
                    caller.agency_id,
                    wanted.name.as_str(),
                    wanted.version.major(),
                    terms.purpose
                ),
            });
        }
    }
    let c = Consent::request(new_id()?, terms, now).map_err(refusal)?;
    let entry = crate::audit_log::actions::by_agency(caller, "consent.requested")?
        .with_person(person.as_digits())
        .with_consent(c.id().as_str())
        .with_purpose(c.terms().purpose.as_str());
    let most = usize::try_from(state.config.consent_requests_pending_max).unwrap_or(usize::MAX);
    let staged = write(conn, |conn| {
        // Counted under the person's lock: parallel requests cannot all
        // pass the count.
        crate::store::persons::lock_person(conn, person.as_digits())?;
        let pending = store::by_consumer(
            conn,
            caller.agency_id.as_str(),
            Some(person.as_digits()),
            Some("pending"),
        )?
        .len();
        if pending >= most {
            return Err(ApiError::Conflict {
                code: "too_many_pending_requests",
                detail: format!(
                    "this agency has {pending} consent requests pending for this person, the most allowed"
                ),
            });
        }
        store::insert(conn, &to_row(&c, None)?)?;
        stage(conn, std::slice::from_ref(&entry), now)
    })?;
    let shown = view(conn, state, viewer, &mut Names::default(), &c, now)?;
    Ok((shown, staged))
}

/// The person grants a consent directly: active at once.
pub fn grant(
    conn: &mut DbConnection,
    state: &AppState,
    person: CommonId,
    input: &NewGrant,
    now: DateTime<Utc>,
) -> Result<(ConsentView, Staged), ApiError> {
    let agency: identity::AgencyId =
        input.agency.parse().map_err(|e: identity::AgencyIdError| {
            ApiError::invalid("invalid_agency_id", e.to_string())
        })?;
    if crate::store::agencies::get(conn, agency.as_str())?.is_none() {
        return Err(ApiError::invalid(
            "unknown_agency",
            format!("no agency {agency}"),
        ));
    }
    let terms = checked_terms(
        conn,
        state,
        person,
        agency,
        Asked {
            record_types: &input.record_types,
            purpose: &input.purpose,
            valid_from: input.valid_from.unwrap_or(now),
            valid_until: input.valid_until,
            frequency: input.frequency,
        },
    )?;
    let c = Consent::grant(new_id()?, terms, now).map_err(refusal)?;
    let entry = citizen_entry(&c, "consent.granted")?;
    let staged = write(conn, |conn| {
        let artefact = Some(sign(state, conn, &c, now)?);
        store::insert(conn, &to_row(&c, artefact)?)?;
        record_event(conn, &c, "granted", now)?;
        stage(conn, std::slice::from_ref(&entry), now)
    })?;
    let shown = view(conn, state, Viewer::PLAIN, &mut Names::default(), &c, now)?;
    Ok((shown, staged))
}

/// What the person does to one of their consents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `pending → active`.
    Approve,
    /// `pending → rejected`.
    Reject,
    /// `active → paused`.
    Pause,
    /// `paused → active`.
    Resume,
    /// `active | paused → revoked`.
    Revoke,
}

impl Action {
    /// The past tense: the event's name.
    pub fn done(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Reject => "rejected",
            Self::Pause => "paused",
            Self::Resume => "resumed",
            Self::Revoke => "revoked",
        }
    }
}

/// Loads one of the person's consents, recording its expiry if due;
/// another person's consent is not found.
fn own(
    conn: &mut DbConnection,
    state: &AppState,
    person: CommonId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(Consent, Staged), ApiError> {
    let row = store::get(conn, id)?
        .filter(|r| r.person == person.as_digits())
        .ok_or_else(|| ApiError::not_found("consent_not_found", format!("no consent {id}")))?;
    let (mut consents, entries) = refresh(state, conn, vec![row], now)?;
    let c = consents
        .pop()
        .ok_or_else(|| ApiError::not_found("consent_not_found", format!("no consent {id}")))?;
    Ok((c, entries))
}

/// The person approves, rejects, pauses, resumes or revokes one of their
/// consents.
pub fn change(
    conn: &mut DbConnection,
    state: &AppState,
    person: CommonId,
    id: &str,
    action: Action,
    now: DateTime<Utc>,
) -> Result<(ConsentView, Staged), ApiError> {
    let (mut c, mut entries) = own(conn, state, person, id, now)?;
    let previous = c.revision();
    match action {
        Action::Approve => c.approve(now),
        Action::Reject => c.reject(now),
        Action::Pause => c.pause(now),
        Action::Resume => c.resume(now),
        Action::Revoke => c.revoke(now),
    }
    .map_err(refusal)?;
    let entry = citizen_entry(&c, &format!("consent.{}", action.done()))?;
    entries.extend(write(conn, |conn| {
        save_change(state, conn, &c, previous, action.done(), now)?;
        stage(conn, std::slice::from_ref(&entry), now)
    })?);
    let shown = view(conn, state, Viewer::PLAIN, &mut Names::default(), &c, now)?;
    Ok((shown, entries))
}

/// The person's consents and pending requests, newest first.
pub fn list_for_person(
    conn: &mut DbConnection,
    state: &AppState,
    person: CommonId,
    now: DateTime<Utc>,
) -> Result<(Vec<ConsentView>, Staged), ApiError> {
    let rows = store::by_person(conn, person.as_digits())?;
    let (consents, entries) = refresh(state, conn, rows, now)?;
    let mut names = Names::default();
    let views = consents
        .iter()
        .map(|c| view(conn, state, Viewer::PLAIN, &mut names, c, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((views, entries))
}

fn viewer_of(caller: &AgencyCaller) -> Viewer {
    Viewer {
        sector: caller.sector,
        policy: caller.identifier_policy,
    }
}

/// The consents an agency holds, optionally of one person and in one state.
pub fn list_for_agency(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    person: Option<&str>,
    wanted: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Vec<ConsentView>, Staged), ApiError> {
    let viewer = viewer_of(caller);
    if let Some(wanted) = wanted {
        state_of(wanted).map_err(|_| {
            ApiError::invalid(
                "invalid_state",
                format!("`{wanted}` is not a consent state"),
            )
        })?;
    }
    let person = match person {
        Some(reference) => {
            let asked = persons::parse_reference(conn, viewer, reference)?;
            Some(persons::resolve(conn, asked)?.0)
        }
        None => None,
    };
    let rows = store::by_consumer(
        conn,
        caller.agency_id.as_str(),
        person.as_ref().map(CommonId::as_digits),
        None,
    )?;
    let (consents, entries) = refresh(state, conn, rows, now)?;
    let mut names = Names::default();
    let views = consents
        .iter()
        .filter(|c| wanted.is_none_or(|w| c.state().as_str() == w))
        .map(|c| view(conn, state, viewer, &mut names, c, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((views, entries))
}

fn held(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(Consent, Staged), ApiError> {
    let row = store::get(conn, id)?
        .filter(|r| r.consumer == caller.agency_id.as_str())
        .ok_or_else(|| ApiError::not_found("consent_not_found", format!("no consent {id}")))?;
    let (mut consents, entries) = refresh(state, conn, vec![row], now)?;
    let c = consents
        .pop()
        .ok_or_else(|| ApiError::not_found("consent_not_found", format!("no consent {id}")))?;
    Ok((c, entries))
}

/// One consent the agency holds.
pub fn show_for_agency(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(ConsentView, Staged), ApiError> {
    let (c, entries) = held(conn, state, caller, id, now)?;
    let shown = view(
        conn,
        state,
        viewer_of(caller),
        &mut Names::default(),
        &c,
        now,
    )?;
    Ok((shown, entries))
}

/// The stored artefact of an active consent, signing it if needed.
fn artefact_of(
    conn: &mut DbConnection,
    state: &AppState,
    c: &Consent,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let state_now = c.state_at(now);
    if state_now != ConsentState::Active {
        return Err(ApiError::Conflict {
            code: "consent_not_active",
            detail: format!(
                "consent {} is {state_now}; only an active consent has an artefact",
                c.id()
            ),
        });
    }
    let stored = store::get(conn, c.id().as_str())?
        .filter(|r| i64::from(r.revision) == i64::from(c.revision()))
        .and_then(|r| r.artefact);
    match stored {
        Some(token) => Ok(token),
        None => {
            let token = sign(state, conn, c, now)?;
            store::set_artefact(conn, c.id().as_str(), revision(c)?, &token)?;
            Ok(token)
        }
    }
}

/// The artefact of one of the person's active consents.
pub fn artefact_for_person(
    conn: &mut DbConnection,
    state: &AppState,
    person: CommonId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(String, Staged), ApiError> {
    let (c, entries) = own(conn, state, person, id, now)?;
    Ok((artefact_of(conn, state, &c, now)?, entries))
}

/// The artefact of an active consent the agency holds.
pub fn artefact_for_agency(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(String, Staged), ApiError> {
    let (c, entries) = held(conn, state, caller, id, now)?;
    Ok((artefact_of(conn, state, &c, now)?, entries))
}

/// One state change an agency is told of.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentEvent {
    /// The cursor: pass the last one seen as `after`.
    pub seq: i64,
    /// The consent.
    pub consent_id: String,
    /// The person, as the agency names them.
    pub person: String,
    /// `granted`, `approved`, `rejected`, `paused`, `resumed`, `revoked` or
    /// `expired`.
    pub kind: String,
    /// The consent's revision after the change.
    pub revision: u32,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    /// The events, oldest first.
    pub events: Vec<ConsentEvent>,
    /// Pass this as `after` to get the next ones.
    pub next_after: i64,
}

/// The state changes of the agency's consents after `after`.
pub fn events(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    after: i64,
    limit: i64,
) -> Result<EventPage, ApiError> {
    let viewer = viewer_of(caller);
    let rows: Vec<EventRow> = store::events_after(
        conn,
        caller.agency_id.as_str(),
        after,
        limit.clamp(1, MAX_EVENTS),
    )?;
    let next_after = rows.last().map_or(after, |r| r.seq);
    let events = rows
        .into_iter()
        .map(|r| {
            let person: CommonId = r.person.parse().map_err(|_| bad("event person"))?;
            Ok(ConsentEvent {
                seq: r.seq,
                consent_id: r.consent_id,
                person: persons::name_for(viewer, &state.pseudonyms, &person),
                kind: r.kind,
                revision: u32::try_from(r.revision).map_err(|_| bad("event revision"))?,
                at: from_db(r.occurred_at),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(EventPage { events, next_after })
}
