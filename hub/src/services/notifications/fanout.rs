//! Fan-out: each accepted change becomes one notification per subscription
//! whose agency holds a `file` reference on the person at the change's
//! effective date and passes the access decision, exactly as a lookup
//! would (authorization in force for the record type and purpose, consent
//! where required and not used up), minimised to the granted fields.
//!
//! A batch of changes is fanned out in one write transaction: the changes
//! are marked done, the notifications stored (unique per change and
//! subscription), the consent uses counted and every decision's audit entry
//! staged, together. A crash before the commit leaves the changes to fan
//! out again, a crash after it leaves nothing to redo: no duplicates, no
//! loss.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use consent::{Decision, PurposeCode};
use identity::{AgencyId, CommonId, IdentifierPolicy};
use schemas::{FieldSelection, RecordType};

use super::{ChangeKind, Notification};
use crate::app::clock::{db_time, from_db};
use crate::app::state::AppState;
use crate::audit_log::NewEntry;
use crate::http::error::ApiError;
use crate::services::access::{self, AccessQuery};
use crate::services::persons::{self, Viewer};
use crate::store::DbConnection;
use crate::store::notifications::{self as store, ChangeRow, NewNotificationRow, SubscriptionRow};

/// Most changes fanned out in one transaction.
pub const BATCH: i64 = 64;
/// A transaction takes no further change once it made this many
/// notifications: the write lock is not held long.
const NOTIFICATIONS_PER_TRANSACTION: usize = 512;

/// What one fan-out transaction reads once and uses for many changes.
#[derive(Default)]
struct Known {
    /// Subscriptions in force, by record type name and major.
    subscribers: HashMap<(String, i32), Vec<SubscriptionRow>>,
    /// Agencies' facts (`None`: no such agency).
    agencies: HashMap<String, Option<crate::services::agencies::AgencyFacts>>,
    /// Notifications waiting per agency, counted once, then kept up to date.
    backlogs: HashMap<String, i64>,
}

/// What one round of fan-out did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FannedOut {
    /// Changes fanned out.
    pub changes: usize,
    /// Notifications made.
    pub notifications: usize,
}

/// Fans out up to [`BATCH`] waiting changes, oldest first, in one write
/// transaction. Call it on a blocking thread.
pub fn fan_out_once(state: &AppState) -> Result<FannedOut, ApiError> {
    let mut conn = state.pool.get().map_err(crate::store::StoreError::from)?;
    let waiting = store::to_fan_out(&mut conn, BATCH)?;
    if waiting.is_empty() {
        return Ok(FannedOut::default());
    }
    let now = state.clock.now();
    let mut decided: Vec<&'static str> = Vec::new();
    let (done, _staged) = crate::audit_log::commit_change(&mut conn, now, |conn| {
        decided.clear();
        store::lock_fan_out(conn)?;
        let mut done = FannedOut::default();
        let mut entries = Vec::new();
        let mut known = Known::default();
        for change in &waiting {
            if done.notifications >= NOTIFICATIONS_PER_TRANSACTION {
                break;
            }
            // Another process may have fanned it out since it was read.
            if !store::mark_fanned_out(conn, &change.id, now)? {
                continue;
            }
            done.changes += 1;
            done.notifications += fan_out(
                conn,
                state,
                change,
                now,
                &mut known,
                &mut entries,
                &mut decided,
            )?;
        }
        Ok((done, entries))
    })?;
    for outcome in decided {
        state.hub_metrics.notification_decided(outcome);
    }
    Ok(done)
}

/// Decides one change for each subscription to its record type; adds the
/// audit entries and returns how many notifications were made.
fn fan_out(
    conn: &mut DbConnection,
    state: &AppState,
    change: &ChangeRow,
    now: DateTime<Utc>,
    known: &mut Known,
    entries: &mut Vec<NewEntry>,
    decided: &mut Vec<&'static str>,
) -> Result<usize, ApiError> {
    let person: CommonId = change
        .common_id
        .parse()
        .map_err(|e| ApiError::internal_from(format!("change {}", change.id), e))?;
    let record_type = RecordType::parse(&change.record_type)
        .map_err(|e| ApiError::internal_from(format!("change {}", change.id), e))?;
    let record: Option<serde_json::Value> = change
        .record
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| ApiError::internal_from(format!("change {}", change.id), e))?;
    let changed_fields: Option<Vec<String>> = change
        .changed_fields
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| ApiError::internal_from(format!("change {}", change.id), e))?;
    let kind: ChangeKind =
        serde_json::from_value(serde_json::Value::String(change.kind.clone()))
            .map_err(|e| ApiError::internal_from(format!("change {}", change.id), e))?;
    let mut made = 0;
    let key = (change.record_name.clone(), change.major);
    if !known.subscribers.contains_key(&key) {
        let found = store::subscribers(conn, &change.record_name, change.major)?;
        known.subscribers.insert(key.clone(), found);
    }
    let subscribers = known.subscribers.get(&key).cloned().unwrap_or_default();
    for subscription in subscribers {
        if !store::holds_file(
            conn,
            &subscription.agency_id,
            &change.common_id,
            change.effective_date,
        )? {
            continue;
        }
        if !known.agencies.contains_key(&subscription.agency_id) {
            let facts = crate::services::agencies::facts(conn, &subscription.agency_id)?;
            known.agencies.insert(subscription.agency_id.clone(), facts);
        }
        let Some(Some(facts)) = known.agencies.get(&subscription.agency_id).cloned() else {
            continue;
        };
        let agency = subscription
            .agency_id
            .parse::<AgencyId>()
            .map_err(|e| ApiError::internal_from(format!("subscription {}", subscription.id), e))?;
        let purpose = PurposeCode::parse(&subscription.purpose)
            .map_err(|e| ApiError::internal_from(format!("subscription {}", subscription.id), e))?;
        let exchange_id = format!("exc-{}", uuid::Uuid::new_v4().simple());
        let entry = |kind: &str, outcome: audit::Outcome| -> Result<NewEntry, ApiError> {
            Ok(NewEntry::new(
                kind,
                audit::Actor::new(audit::ActorType::Agency, subscription.agency_id.clone()),
                outcome,
            )?
            .with_exchange(exchange_id.clone())
            .with_person(change.common_id.clone())
            .with_record_type(change.record_type.clone())
            .with_purpose(subscription.purpose.clone())
            .with_provider(change.publisher.clone()))
        };
        let query = AccessQuery {
            agency,
            agency_sector: facts.sector,
            agency_roles: facts.roles.clone(),
            person,
            record_type: record_type.clone(),
            purpose,
            consent_id: None,
        };
        let (mut decision, reservation, _expiries) =
            access::decide_staged(conn, state, &query, now)?;
        if let (Decision::Permit { .. }, Some(reservation)) = (&decision, &reservation) {
            // The notification is a use of the consent it relies on; its
            // audit entry commits with the use, so the use is settled.
            if let Some(refusal) = access::reserve(conn, reservation, &exchange_id, now)? {
                decision = refusal;
            } else {
                crate::store::consents::settle_reservations(
                    conn,
                    std::slice::from_ref(&exchange_id),
                )?;
            }
        }
        let (authorization, consent, fields) = match decision {
            Decision::Deny { code, .. } => {
                entries.push(
                    entry("notification.denied", audit::Outcome::Denied)?
                        .with_deny_code(code.as_str()),
                );
                decided.push(code.as_str());
                continue;
            }
            Decision::Permit {
                authorization,
                consent,
                fields,
            } => (authorization, consent, fields),
        };
        let viewer = Viewer {
            sector: facts.sector,
            policy: facts.identifier_policy,
        };
        let data = record.as_ref().map(|record| {
            let mut data = FieldSelection::parse_lenient(&fields).apply(record);
            if viewer.policy == IdentifierPolicy::SectorPseudonym {
                crate::services::broker::pseudonymise(&mut data, &state.pseudonyms, viewer.sector);
            }
            data
        });
        let granted_changes = changed_fields
            .as_ref()
            .map(|changed| granted_pointers(changed, &fields));
        let id = format!("ntf-{}", uuid::Uuid::new_v4().simple());
        let body = Notification {
            id: id.clone(),
            exchange_id: exchange_id.clone(),
            change_id: change.id.clone(),
            subscription_id: subscription.id.clone(),
            source: change.publisher.clone(),
            record_type: change.record_type.clone(),
            kind,
            effective_date: change.effective_date,
            person: persons::name_for(viewer, &state.pseudonyms, &person),
            purpose: subscription.purpose.clone(),
            changed_fields: granted_changes,
            data: serde_json::Value::Null,
            created_at: from_db(db_time(now)),
        };
        let data_text = data
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ApiError::internal_from("notification data", e))?;
        let full = backlog_full(conn, state, &subscription, &mut known.backlogs)?;
        let row = NewNotificationRow {
            id,
            change_id: change.id.clone(),
            subscription_id: subscription.id.clone(),
            agency_id: subscription.agency_id.clone(),
            common_id: change.common_id.clone(),
            delivery: subscription.delivery.clone(),
            body: serde_json::to_string(&body)
                .map_err(|e| ApiError::internal_from("notification", e))?,
            data: data_text.clone(),
            status: if full { "dead" } else { "pending" }.to_owned(),
            created_at: db_time(now),
            failed_at: full.then(|| db_time(now)),
            last_error: full.then(|| "backlog_full".to_owned()),
        };
        if !store::insert_notification(conn, &row)? {
            continue;
        }
        if !full && let Some(waiting) = known.backlogs.get_mut(&subscription.agency_id) {
            *waiting += 1;
        }
        made += 1;
        let digest = audit::sha256(data_text.as_deref().unwrap_or("null").as_bytes());
        let mut permitted = entry("notification.permitted", audit::Outcome::Permitted)?
            .with_legal_basis(authorization.id.to_string(), authorization.version)
            .with_digests(None, Some(digest));
        if let Some(consent) = &consent {
            permitted = permitted.with_consent(consent.to_string());
        }
        entries.push(permitted);
        decided.push("permitted");
        if full {
            entries.push(
                entry("notification.dead_lettered", audit::Outcome::Error)?
                    .with_deny_code("backlog_full"),
            );
            state
                .hub_metrics
                .notifications_dead_lettered("backlog_full", 1);
        }
    }
    Ok(made)
}

/// Whether the agency of `subscription` has as many notifications waiting
/// as it may; the alert is logged once per notification refused.
fn backlog_full(
    conn: &mut DbConnection,
    state: &AppState,
    subscription: &SubscriptionRow,
    backlogs: &mut HashMap<String, i64>,
) -> Result<bool, ApiError> {
    let max = i64::from(state.config.notification_backlog_max);
    let waiting = match backlogs.get(&subscription.agency_id) {
        Some(waiting) => *waiting,
        None => {
            let waiting = store::backlog(conn, &subscription.agency_id)?;
            backlogs.insert(subscription.agency_id.clone(), waiting);
            waiting
        }
    };
    if waiting < max {
        return Ok(false);
    }
    tracing::error!(
        agency = %subscription.agency_id,
        subscription = %subscription.id,
        waiting,
        max,
        "notification backlog full: new notifications for this agency are dead-lettered (backlog_full)"
    );
    Ok(true)
}

/// The changed fields an agency may learn of: those inside a granted
/// field, and those that contain one (the granted part of them changed).
pub fn granted_pointers(changed: &[String], granted: &[String]) -> Vec<String> {
    let within = |inner: &str, outer: &str| {
        outer.is_empty()
            || inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    changed
        .iter()
        .filter(|c| granted.iter().any(|g| within(c, g) || within(g, c)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_changed_fields_are_told() {
        let changed = vec![
            "/address/street".to_owned(),
            "/address".to_owned(),
            "/since".to_owned(),
            "/addressType".to_owned(),
        ];
        let granted = vec!["/address/street".to_owned(), "/since".to_owned()];
        assert_eq!(
            granted_pointers(&changed, &granted),
            vec!["/address/street", "/address", "/since"]
        );
        assert_eq!(granted_pointers(&changed, &[]), Vec::<String>::new());
        assert_eq!(granted_pointers(&changed, &["".to_owned()]).len(), 4);
    }
}
