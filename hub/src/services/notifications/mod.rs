//! Change notifications: authentic sources publish changes, agencies
//! subscribe, and the hub fans each change out to the agencies holding a
//! `file` reference on the person, decided like a lookup, then delivers by
//! pull feed or by signed webhook batches.
//!
//! - [`publish`]: a change and its audit entry commit in one transaction.
//! - [`fanout`]: each change is decided per subscription and turned into
//!   notifications in one transaction (so a crash resumes without
//!   duplicates).
//! - [`delivery`]: webhook batches, leased per subscription, retried with
//!   backoff, then dead-lettered; the pull feed; retention.
//! - [`webhook`]: the outbound HTTP client that refuses non-public
//!   addresses on the address it connects to.

pub mod delivery;
pub mod fanout;
pub mod webhook;

use chrono::{DateTime, NaiveDate, Utc};
use identity::CommonId;
use schemas::{RecordType, RecordTypeRef};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{db_time, from_db};
use crate::app::state::AppState;
use crate::audit_log::NewEntry;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, ProblemViolation};
use crate::services::persons::{self, Viewer};
use crate::store::DbConnection;
use crate::store::notifications::{self as store, ChangeRow, NotificationRow, SubscriptionRow};

/// The publisher named in changes the hub makes itself.
pub const HUB_PUBLISHER: &str = "hub";
/// The hub-owned record type of person lifecycle events.
pub const LIFECYCLE: &str = "person.lifecycle@1.0";
/// The longest agency reference of a change.
const MAX_REFERENCE: usize = 200;
/// Most changed fields named in one change.
const MAX_CHANGED_FIELDS: usize = 100;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new record.
    Created,
    /// A record changed.
    Updated,
    /// The record is gone.
    Deleted,
}

impl ChangeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// A change, as its authentic source publishes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// The person: a common ID, or the publisher's sector pseudonym.
    #[schema(value_type = crate::api::ids::PersonRef)]
    pub person: String,
    /// The record type and exact version of `record`, e.g. `person.address@1.1`.
    #[schema(example = "person.address@1.1")]
    pub record_type: String,
    /// `created`, `updated` or `deleted`.
    pub kind: ChangeKind,
    /// When the change took effect (ISO 8601 date).
    #[schema(value_type = String, format = Date, example = "2026-12-01")]
    pub effective_date: String,
    /// The fields that changed, as JSON Pointers into the record.
    #[serde(default)]
    pub changed_fields: Option<Vec<String>>,
    /// The new record, valid against the schema; absent for `deleted`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub record: Option<serde_json::Value>,
    /// The publisher's own id for this change: publishing it again gives
    /// the same change id.
    #[schema(min_length = 1, max_length = 200)]
    pub reference: String,
}

/// A change accepted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeAccepted {
    /// The change id.
    pub change_id: String,
    /// Whether the reference was published before (the same change id).
    pub duplicate: bool,
}

/// Accepts a change from its authentic source; call it inside
/// [`AppState::change`] so the change and its audit entry commit together.
pub fn publish(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    request: &ChangeRequest,
    now: DateTime<Utc>,
) -> Result<(ChangeAccepted, Vec<NewEntry>), ApiError> {
    caller.require_scope("provider")?;
    let reference = request.reference.as_str();
    if reference.is_empty()
        || reference.len() > MAX_REFERENCE
        || reference.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "invalid_reference",
            format!("reference: 1 to {MAX_REFERENCE} characters, without control characters"),
        ));
    }
    let record_type = RecordType::parse(&request.record_type).map_err(|e| {
        ApiError::invalid(
            "invalid_record_type",
            format!("record_type: {e} (a change names the exact version, e.g. person.address@1.1)"),
        )
    })?;
    let effective_date = parse_date(&request.effective_date)?;
    let changed_fields = check_changed_fields(request.changed_fields.as_deref())?;
    let viewer = Viewer {
        sector: caller.sector,
        policy: caller.identifier_policy,
    };
    let named = persons::parse_reference(conn, viewer, &request.person)?;
    let (person, _) = persons::resolve(conn, named)?;
    let name = record_type.name.as_str();
    let major = i32::try_from(record_type.version.major).unwrap_or(i32::MAX);
    check_source(
        conn,
        caller.agency_id.as_str(),
        name,
        major,
        &person,
        effective_date,
    )?;
    let schemas = state.schemas.get_or_load(conn)?;
    let entry = schemas.resolve(&RecordTypeRef::from(record_type.clone()))?;
    let record = match (request.kind, &request.record) {
        (ChangeKind::Deleted, None) => None,
        (ChangeKind::Deleted, Some(_)) => {
            return Err(ApiError::invalid(
                "record_not_allowed",
                "a deleted record is published without `record`",
            ));
        }
        (_, None) => {
            return Err(ApiError::invalid(
                "record_required",
                "a created or updated record is published with `record`",
            ));
        }
        (_, Some(record)) => {
            let mut record = record.clone();
            own_person(&mut record, state, viewer, &person)?;
            entry
                .validate(&record)
                .map_err(|issues| ApiError::RecordInvalid {
                    detail: format!(
                        "the record does not match {record_type}: {} violation(s)",
                        issues.len()
                    ),
                    violations: issues
                        .into_iter()
                        .map(|i| ProblemViolation {
                            pointer: i.instance_path,
                            rule: "schema".to_owned(),
                            detail: format!("{} (schema {})", i.message, i.schema_path),
                        })
                        .collect(),
                })?;
            Some(record)
        }
    };
    let row = ChangeRow {
        id: format!("chg-{}", uuid::Uuid::new_v4().simple()),
        publisher: caller.agency_id.to_string(),
        reference: reference.to_owned(),
        common_id: person.as_digits().to_owned(),
        record_type: record_type.to_string(),
        record_name: name.to_owned(),
        major,
        kind: request.kind.as_str().to_owned(),
        effective_date,
        changed_fields: changed_fields
            .map(|f| serde_json::to_string(&f))
            .transpose()
            .map_err(|e| ApiError::internal_from("changed fields", e))?,
        record: record
            .map(|r| serde_json::to_string(&r))
            .transpose()
            .map_err(|e| ApiError::internal_from("change record", e))?,
        accepted_at: db_time(now),
        fanned_out_at: None,
    };
    let (change_id, new) = store::insert_change(conn, &row)?;
    let mut entries = Vec::new();
    if new {
        entries.push(accepted_entry(
            crate::audit_log::actions::by_agency(caller, "change.accepted")?,
            &row,
        ));
    }
    Ok((
        ChangeAccepted {
            change_id,
            duplicate: !new,
        },
        entries,
    ))
}

/// The audit entry of an accepted change.
fn accepted_entry(entry: NewEntry, row: &ChangeRow) -> NewEntry {
    // Not an exchange (nothing left the hub): the change is named in the
    // details; its notifications carry their own exchange ids.
    entry
        .with_person(row.common_id.clone())
        .with_record_type(row.record_type.clone())
        .with_details(serde_json::json!({
            "change_id": row.id,
            "kind": row.kind,
            "effective_date": row.effective_date.to_string(),
        }))
}

fn parse_date(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            "invalid_effective_date",
            format!("effective_date: `{text}` is not a date like 2026-12-01"),
        )
    })
}

fn check_changed_fields(fields: Option<&[String]>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(fields) = fields else {
        return Ok(None);
    };
    if fields.len() > MAX_CHANGED_FIELDS {
        return Err(ApiError::invalid(
            "invalid_changed_fields",
            format!("changed_fields: at most {MAX_CHANGED_FIELDS}"),
        ));
    }
    if let Some(bad) = fields
        .iter()
        .find(|f| f.is_empty() || !schemas::pointer::is_valid(f))
    {
        return Err(ApiError::invalid(
            "invalid_changed_fields",
            format!(
                "changed_fields: `{bad}` is not a JSON Pointer to a member, e.g. /address/street"
            ),
        ));
    }
    Ok(Some(fields.to_vec()))
}

/// Refuses a change from an agency that is not a registered source of the
/// record type, or, where the type is routed by reference, that holds no
/// `source` reference on the person at the effective date.
fn check_source(
    conn: &mut DbConnection,
    agency: &str,
    name: &str,
    major: i32,
    person: &CommonId,
    day: NaiveDate,
) -> Result<(), ApiError> {
    let sources = crate::store::references::sources(conn, name, major)?;
    let Some(own) = sources.iter().find(|s| s.provider_id == agency) else {
        return Err(ApiError::Forbidden {
            code: "not_the_source",
            detail: format!("agency {agency} is not registered as a source of {name}@{major}"),
        });
    };
    let by_reference = own.routing == "by_reference" || sources.len() > 1;
    if by_reference {
        let holders =
            crate::store::references::source_holders(conn, person.as_digits(), name, major, day)?;
        if !holders.iter().any(|h| h == agency) {
            return Err(ApiError::Forbidden {
                code: "no_source_reference",
                detail: format!(
                    "{name}@{major} is routed by reference and agency {agency} holds no source reference on this person on {day}"
                ),
            });
        }
    }
    Ok(())
}

/// A record's top-level `commonId` names the person of the change: the
/// publisher's pseudonym of the person is replaced by the common ID, and
/// another person is refused.
fn own_person(
    record: &mut serde_json::Value,
    state: &AppState,
    viewer: Viewer,
    person: &CommonId,
) -> Result<(), ApiError> {
    let Some(named) = record.get("commonId").and_then(|v| v.as_str()) else {
        return Ok(());
    };
    if named == person.as_digits() {
        return Ok(());
    }
    let own = persons::name_for(viewer, &state.pseudonyms, person);
    if named == own {
        record["commonId"] = serde_json::Value::String(person.as_digits().to_owned());
        return Ok(());
    }
    Err(ApiError::invalid(
        "record_person_mismatch",
        "the record's commonId names another person than `person`",
    ))
}

/// A person lifecycle event the hub publishes itself.
#[derive(Debug, Clone, Copy)]
pub enum Lifecycle<'a> {
    /// `person` was merged into `survivor`.
    Merged {
        /// The identifier that replaces the person's.
        survivor: &'a CommonId,
    },
    /// The person died.
    Deceased,
    /// The person left the registry's scope.
    Inactive,
    /// The person is active again.
    Reactivated,
}

/// Publishes a lifecycle event of `person` as a change of
/// `person.lifecycle@1.0` by the hub; call it inside the transaction of
/// the person's change, and audit the returned entry with it.
pub fn publish_lifecycle(
    conn: &mut DbConnection,
    person: &CommonId,
    event: Lifecycle<'_>,
    effective_date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<NewEntry, ApiError> {
    let mut record = serde_json::json!({
        "commonId": person.as_digits(),
        "effectiveDate": effective_date.to_string(),
    });
    record["event"] = serde_json::Value::String(
        match event {
            Lifecycle::Merged { .. } => "merged",
            Lifecycle::Deceased => "deceased",
            Lifecycle::Inactive => "inactive",
            Lifecycle::Reactivated => "reactivated",
        }
        .to_owned(),
    );
    if let Lifecycle::Merged { survivor } = event {
        record["survivorCommonId"] = serde_json::Value::String(survivor.as_digits().to_owned());
    }
    let id = format!("chg-{}", uuid::Uuid::new_v4().simple());
    let row = ChangeRow {
        reference: id.clone(),
        id,
        publisher: HUB_PUBLISHER.to_owned(),
        common_id: person.as_digits().to_owned(),
        record_type: LIFECYCLE.to_owned(),
        record_name: "person.lifecycle".to_owned(),
        major: 1,
        kind: ChangeKind::Updated.as_str().to_owned(),
        effective_date,
        changed_fields: Some(r#"["/event"]"#.to_owned()),
        record: Some(record.to_string()),
        accepted_at: db_time(now),
        fanned_out_at: None,
    };
    store::insert_change(conn, &row)?;
    Ok(accepted_entry(
        NewEntry::new(
            "change.accepted",
            audit::Actor::new(audit::ActorType::Hub, HUB_PUBLISHER),
            audit::Outcome::Permitted,
        )?,
        &row,
    ))
}

/// How notifications reach a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// The agency reads `GET /v1/notifications`.
    Pull,
    /// The hub posts signed batches to the agency's HTTPS URL.
    Webhook,
}

impl Delivery {
    fn as_str(self) -> &'static str {
        match self {
            Delivery::Pull => "pull",
            Delivery::Webhook => "webhook",
        }
    }
}

/// A subscription, as an agency asks for it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    /// The record type and major version, e.g. `person.address@1`.
    #[schema(example = "person.address@1")]
    pub record_type: String,
    /// The purpose each notification is decided for.
    #[schema(value_type = crate::api::ids::PurposeCode)]
    pub purpose: String,
    /// `pull` or `webhook`.
    pub delivery: Delivery,
    /// For `webhook`: the HTTPS URL batches are posted to.
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// A subscription.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionView {
    /// `sub-…`.
    pub id: String,
    /// The subscribing agency.
    pub agency: String,
    /// `name@major`.
    pub record_type: String,
    /// The purpose.
    pub purpose: String,
    /// `pull` or `webhook`.
    pub delivery: Delivery,
    /// Where batches go (webhook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// When made.
    pub created_at: DateTime<Utc>,
}

fn subscription_view(row: SubscriptionRow) -> SubscriptionView {
    SubscriptionView {
        record_type: format!("{}@{}", row.record_name, row.major),
        delivery: if row.delivery == "webhook" {
            Delivery::Webhook
        } else {
            Delivery::Pull
        },
        id: row.id,
        agency: row.agency_id,
        purpose: row.purpose,
        webhook_url: row.webhook_url,
        created_at: from_db(row.created_at),
    }
}

/// Subscribes the caller; call it inside [`AppState::change`].
pub fn subscribe(
    conn: &mut DbConnection,
    state: &AppState,
    caller: &AgencyCaller,
    request: &SubscriptionRequest,
    now: DateTime<Utc>,
) -> Result<(SubscriptionView, Vec<NewEntry>), ApiError> {
    caller.require_scope("consumer")?;
    let reference = RecordTypeRef::parse(&request.record_type)
        .map_err(|e| ApiError::invalid("invalid_record_type", format!("record_type: {e}")))?;
    if !matches!(
        reference.version,
        schemas::record_type::VersionReq::Major(_)
    ) {
        return Err(ApiError::invalid(
            "invalid_record_type",
            "record_type: a subscription names a major version, e.g. person.address@1",
        ));
    }
    let schemas = state.schemas.get_or_load(conn)?;
    schemas.resolve(&reference).map_err(|_| {
        ApiError::invalid(
            "unknown_record_type",
            format!(
                "record_type: no published schema of {}",
                request.record_type
            ),
        )
    })?;
    let purpose = consent::PurposeCode::parse(&request.purpose)
        .map_err(|e| ApiError::invalid("invalid_purpose", format!("purpose: {e}")))?;
    if crate::services::authorizations::purpose_title(conn, purpose.as_str())?.is_none() {
        return Err(ApiError::invalid(
            "unknown_purpose",
            format!("purpose: no purpose `{}` is registered", purpose.as_str()),
        ));
    }
    let major = reference.version.major();
    let laws = state.authorizations.get(conn)?;
    let authorized = laws
        .for_consumer(&caller.agency_id, caller.sector, &caller.roles, now)
        .any(|a| {
            a.record_type == reference.name && a.major == major && a.purposes.contains(&purpose)
        });
    if !authorized {
        return Err(ApiError::invalid(
            "no_authorization",
            format!(
                "no authorization in force lets agency {} receive {}@{major} for {}",
                caller.agency_id,
                reference.name,
                purpose.as_str()
            ),
        ));
    }
    let webhook_url = match (request.delivery, &request.webhook_url) {
        (Delivery::Pull, None) => None,
        (Delivery::Pull, Some(_)) => {
            return Err(ApiError::invalid(
                "invalid_webhook_url",
                "webhook_url: only for delivery `webhook`",
            ));
        }
        (Delivery::Webhook, None) => {
            return Err(ApiError::invalid(
                "invalid_webhook_url",
                "webhook_url: required for delivery `webhook`",
            ));
        }
        (Delivery::Webhook, Some(url)) => Some(webhook::check_url(url, &state.config)?.to_string()),
    };
    let row = SubscriptionRow {
        id: format!("sub-{}", uuid::Uuid::new_v4().simple()),
        agency_id: caller.agency_id.to_string(),
        record_name: reference.name.to_string(),
        major: i32::try_from(major).unwrap_or(i32::MAX),
        purpose: purpose.as_str().to_owned(),
        delivery: request.delivery.as_str().to_owned(),
        webhook_url,
        created_at: db_time(now),
        deleted_at: None,
        lease_owner: None,
        lease_until: None,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
    };
    store::insert_subscription(conn, &row)?;
    let entry = crate::audit_log::actions::by_agency(caller, "subscription.created")?
        .with_record_type(format!("{}@{}", row.record_name, row.major))
        .with_purpose(row.purpose.clone())
        .with_details(serde_json::json!({
            "subscription_id": row.id,
            "delivery": row.delivery,
        }));
    Ok((subscription_view(row), vec![entry]))
}

/// The caller's subscriptions in force.
pub fn subscriptions(
    conn: &mut DbConnection,
    caller: &AgencyCaller,
) -> Result<Vec<SubscriptionView>, ApiError> {
    caller.require_scope("consumer")?;
    Ok(store::subscriptions_of(conn, caller.agency_id.as_str())?
        .into_iter()
        .map(subscription_view)
        .collect())
}

/// Ends one of the caller's subscriptions; call it inside
/// [`AppState::change`]. Notifications made before stay deliverable.
pub fn unsubscribe(
    conn: &mut DbConnection,
    caller: &AgencyCaller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<((), Vec<NewEntry>), ApiError> {
    caller.require_scope("consumer")?;
    if !store::delete_subscription(conn, caller.agency_id.as_str(), id, now)? {
        return Err(ApiError::not_found(
            "subscription_not_found",
            format!("agency {} has no subscription {id}", caller.agency_id),
        ));
    }
    let entry = crate::audit_log::actions::by_agency(caller, "subscription.deleted")?
        .with_details(serde_json::json!({ "subscription_id": id }));
    Ok(((), vec![entry]))
}

/// A notification, as delivered (pull feed and webhook batches).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// `ntf-…`: the idempotency id, the same on every attempt.
    pub id: String,
    /// The exchange id of the decision, in the audit log.
    pub exchange_id: String,
    /// The change.
    pub change_id: String,
    /// The subscription it answers.
    pub subscription_id: String,
    /// The publishing agency (`hub` for `person.lifecycle`).
    pub source: String,
    /// `name@major.minor` of `data`.
    pub record_type: String,
    /// `created`, `updated` or `deleted`.
    pub kind: ChangeKind,
    /// When the change took effect.
    pub effective_date: NaiveDate,
    /// The person, as the receiver names them.
    pub person: String,
    /// The purpose it was decided for.
    pub purpose: String,
    /// The granted fields that changed, when the source named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
    /// The record reduced to the granted fields; null for `deleted`, or
    /// once the retention period is over.
    #[schema(value_type = Option<Object>)]
    pub data: serde_json::Value,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A dead-lettered notification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FailedNotification {
    /// The notification.
    #[serde(flatten)]
    pub notification: Notification,
    /// The receiving agency.
    pub agency: String,
    /// When it was given up.
    pub failed_at: Option<DateTime<Utc>>,
    /// Delivery attempts.
    pub attempts: i32,
    /// Why.
    pub last_error: Option<String>,
}

/// The notification of a stored row.
pub fn notification(row: &NotificationRow) -> Result<Notification, ApiError> {
    let mut notification: Notification = serde_json::from_str(&row.body)
        .map_err(|e| ApiError::internal_from(format!("stored notification {}", row.id), e))?;
    notification.data = match &row.data {
        Some(data) => serde_json::from_str(data)
            .map_err(|e| ApiError::internal_from(format!("stored notification {}", row.id), e))?,
        None => serde_json::Value::Null,
    };
    Ok(notification)
}

/// A dead-lettered notification of a stored row.
pub fn failed_notification(row: &NotificationRow) -> Result<FailedNotification, ApiError> {
    Ok(FailedNotification {
        notification: notification(row)?,
        agency: row.agency_id.clone(),
        failed_at: row.failed_at.map(from_db),
        attempts: row.attempts,
        last_error: row.last_error.clone(),
    })
}

/// The caller's dead letters, newest first.
pub fn failed(
    conn: &mut DbConnection,
    caller: &AgencyCaller,
    limit: i64,
) -> Result<Vec<FailedNotification>, ApiError> {
    caller.require_scope("consumer")?;
    store::failed(conn, Some(caller.agency_id.as_str()), limit)?
        .iter()
        .map(failed_notification)
        .collect()
}

/// Every dead letter (for operators), newest first.
pub fn all_failed(
    conn: &mut DbConnection,
    limit: i64,
) -> Result<Vec<FailedNotification>, ApiError> {
    store::failed(conn, None, limit)?
        .iter()
        .map(failed_notification)
        .collect()
}

/// Whether `agency` holds a subscription in force to `record_name@major`
/// (so it is told of changes to such records without asking).
pub fn subscribes(
    conn: &mut DbConnection,
    agency: &str,
    record_name: &str,
    major: u32,
) -> Result<bool, ApiError> {
    Ok(store::subscriptions_of(conn, agency)?
        .iter()
        .any(|s| s.record_name == record_name && u32::try_from(s.major).ok() == Some(major)))
}
