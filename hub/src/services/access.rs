//! The access decision as the hub takes it: the stored facts (the cached
//! authorizations, the agency's status, the person's status, the person's
//! consents with the agency and their use) handed to [`consent::decide`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use consent::{AccessRequest, ConsentId, ConsentState, Decision, PurposeCode};
use identity::{AgencyId, CommonId, Role, Sector};
use schemas::RecordType;

use crate::app::state::AppState;
use crate::http::error::ApiError;
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

/// A use of a consent to reserve before the provider is called.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// The consent relied on.
    pub consent: ConsentId,
    /// The start of its current usage period.
    pub since: DateTime<Utc>,
    /// The most uses in one period.
    pub limit: u32,
}

/// Decides whether `query` may go ahead at `at`; a permit that relies on
/// a consent comes with the use to [`reserve`] before the provider is
/// called (every consent limits its uses).
///
/// A consent whose window is over is recorded as expired (with its event and
/// audit entry, in one transaction) on the way. Call it on a blocking
/// thread (inside [`AppState::db`]).
pub fn decide(
    conn: &mut DbConnection,
    state: &AppState,
    query: &AccessQuery,
    at: DateTime<Utc>,
) -> Result<(Decision, Option<Reservation>), ApiError> {
    let (decision, reservation, staged) = decide_staged(conn, state, query, at)?;
    // Expiries recorded on the way are committed with their audit entries;
    // wait (bounded) until those are in the log, as for any change.
    if !staged.is_empty() {
        state.audit.settle_blocking(&staged);
    }
    Ok((decision, reservation))
}

/// [`decide`] without waiting for the audit entries of the expiries it
/// records: their hand-over ids are returned. Inside an enclosing write
/// transaction (the fan-out of a change) the expiries commit with it, and
/// waiting for them there would wait for the transaction itself.
pub fn decide_staged(
    conn: &mut DbConnection,
    state: &AppState,
    query: &AccessQuery,
    at: DateTime<Utc>,
) -> Result<(Decision, Option<Reservation>, Vec<i64>), ApiError> {
    let authorizations = state.authorizations.get(conn)?;
    let agency_active = crate::store::agencies::get(conn, query.agency.as_str())?
        .is_some_and(|a| a.status == "active");
    let (person, row) = crate::services::persons::resolve(conn, query.person)?;
    let person_active = row.status == "active";

    let rows = store::by_consumer(conn, query.agency.as_str(), Some(person.as_digits()), None)?;
    let (consents, staged) = crate::services::consents::refresh(state, conn, rows, at)?;

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
    let decision = consent::decide(&request, &authorizations, &consents, &|id: &ConsentId| {
        uses.get(id).copied().unwrap_or(0)
    });
    let reservation = match &decision {
        Decision::Permit {
            consent: Some(id), ..
        } => consents.iter().find(|c| c.id() == id).map(|c| Reservation {
            consent: id.clone(),
            since: c.usage_period_start(at),
            limit: c.terms().frequency.limit(),
        }),
        _ => None,
    };
    Ok((decision, reservation, staged))
}

/// Reserves one use of the consent a permitted lookup relies on, for
/// exchange `exchange`, before its provider is called: `Ok(None)` when
/// reserved, or the refusal when the consent's uses are spent (another
/// lookup took the last one since the decision).
///
/// One write transaction that locks the consent, counts its uses and
/// inserts the reservation: concurrent lookups, in this process or
/// another, can never reserve more uses than the consent allows.
pub fn reserve(
    conn: &mut DbConnection,
    reservation: &Reservation,
    exchange: &str,
    at: DateTime<Utc>,
) -> Result<Option<Decision>, ApiError> {
    let (used, made) = crate::store::write(conn, |conn| {
        store::reserve_use(
            conn,
            reservation.consent.as_str(),
            exchange,
            reservation.since,
            at,
            reservation.limit,
        )
    })?;
    Ok((!made).then(|| spent(reservation, used)))
}

/// The refusal of a lookup whose consent's uses are spent (`used` made).
pub fn spent(reservation: &Reservation, used: u32) -> Decision {
    Decision::Deny {
        code: consent::DenyCode::ConsentUseExhausted,
        detail: format!(
            "consent {} allows {} fetch(es) per period and {used} were made",
            reservation.consent, reservation.limit
        ),
    }
}

/// Gives back the reservation of a lookup whose provider call failed: no
/// record reached the consumer, so the use is not spent. Its audit entry
/// (the failure) is in the log already.
pub fn release(conn: &mut DbConnection, exchange: &str) -> Result<(), ApiError> {
    crate::store::write(conn, |conn| store::release_use(conn, exchange))?;
    Ok(())
}
