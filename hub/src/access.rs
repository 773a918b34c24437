//! The access decision as the hub takes it: the stored facts (the cached
//! authorizations, the agency's status, the person's status, the person's
//! consents with the agency and their use) handed to [`consent::decide`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use consent::{AccessRequest, ConsentId, ConsentState, Decision, PurposeCode};
use identity::{AgencyId, CommonId, Role, Sector};
use schemas::RecordType;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::DbConnection;
use crate::store::consents as store;

/// A lookup to decide on.
#[derive(Debug, Clone)]
pub struct AccessQuery {
    /// The asking agency.
    pub agency: AgencyId,
    /// Its sector.
    pub agency_sector: Sector,
    /// Its roles.
    pub agency_roles: Vec<Role>,
    /// The person (merged identifiers are followed).
    pub person: CommonId,
    /// The record type and exact version asked for.
    pub record_type: RecordType,
    /// The purpose stated.
    pub purpose: PurposeCode,
    /// The consent the agency relies on, if it names one.
    pub consent_id: Option<ConsentId>,
}

/// Decides whether `query` may go ahead at `at`.
///
/// A consent whose window is over is recorded as expired (with its event and
/// audit entry) on the way. Call it on a blocking thread (inside
/// [`AppState::db`]): it waits for those audit entries to be durable.
pub fn decide(
    conn: &mut DbConnection,
    state: &AppState,
    query: &AccessQuery,
    at: DateTime<Utc>,
) -> Result<Decision, ApiError> {
    let authorizations = state.authorizations.get(conn)?;
    let agency_active = crate::store::agencies::get(conn, query.agency.as_str())?
        .is_some_and(|a| a.status == "active");
    let (person, row) = crate::persons::resolve(conn, query.person)?;
    let person_active = row.status == "active";

    let rows = store::by_consumer(conn, query.agency.as_str(), Some(person.as_digits()), None)?;
    let (consents, expired) = crate::consents::refresh(state, conn, rows, at)?;
    for entry in expired {
        state.audit.append_blocking(entry)?;
    }

    let mut uses: HashMap<ConsentId, u32> = HashMap::new();
    for c in &consents {
        let relevant = c.state_at(at) == ConsentState::Active
            && query.consent_id.as_ref().is_none_or(|id| id == c.id());
        if relevant {
            let n = store::count_uses(conn, c.id().as_str(), c.usage_period_start(at), at)?;
            uses.insert(c.id().clone(), n);
        }
    }

    let request = AccessRequest {
        agency: query.agency.clone(),
        agency_sector: query.agency_sector,
        agency_roles: query.agency_roles.clone(),
        agency_active,
        person,
        person_active,
        record_type: query.record_type.clone(),
        purpose: query.purpose.clone(),
        consent_id: query.consent_id.clone(),
        at,
    };
    Ok(consent::decide(
        &request,
        &authorizations,
        &consents,
        &|id: &ConsentId| uses.get(id).copied().unwrap_or(0),
    ))
}

/// Records one fetch under `consent`, after a permitted lookup that relied on
/// it, so that its frequency is enforced.
pub fn record_use(
    conn: &mut DbConnection,
    consent: &ConsentId,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    store::insert_use(conn, consent.as_str(), at)?;
    Ok(())
}
