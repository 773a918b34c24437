//! The audit events of changes to agencies, keys, persons, citizens and
//! schemas: who did it, and what it concerned. Never a secret, never a
//! record's content.

use audit::{Actor, ActorType, Outcome};

use crate::audit_log::NewEntry;
use crate::http::callers::{AgencyCaller, OperatorCaller};
use crate::http::error::ApiError;

/// An event recorded for an operator's action.
pub fn by_operator(operator: &OperatorCaller, kind: &str) -> Result<NewEntry, ApiError> {
    NewEntry::new(
        kind,
        Actor::new(ActorType::Operator, operator.id.clone()),
        Outcome::Recorded,
    )
}

/// An event recorded for an operator's action from the command line, where
/// the operator is whoever runs it on the hub's machine.
pub fn by_console(kind: &str) -> Result<NewEntry, ApiError> {
    NewEntry::new(
        kind,
        Actor::new(ActorType::Operator, "console"),
        Outcome::Recorded,
    )
}

/// An event recorded for an agency's action.
pub fn by_agency(agency: &AgencyCaller, kind: &str) -> Result<NewEntry, ApiError> {
    NewEntry::new(
        kind,
        Actor::new(ActorType::Agency, agency.agency_id.to_string()),
        Outcome::Recorded,
    )
}

/// An event recorded for a citizen's own action.
pub fn by_citizen(common_id: &identity::CommonId, kind: &str) -> Result<NewEntry, ApiError> {
    NewEntry::new(
        kind,
        Actor::new(ActorType::Citizen, common_id.as_digits()),
        Outcome::Recorded,
    )
    .map(|e| e.with_person(common_id.as_digits()))
}
