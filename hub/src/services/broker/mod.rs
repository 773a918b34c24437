//! Brokering a lookup: decide, route to the authentic source, call it with a
//! hub-signed request, check and minimise the answer, audit, answer.

pub mod breaker;
pub mod reservations;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use chrono::{DateTime, Utc};
use consent::{ConsentId, Decision, DenyCode, PurposeCode};
use identity::{AgencyId, CommonId, IdentifierPolicy};
use provider::{REQUEST_TOKEN_TYPE, RequestClaims};
use schemas::{FieldSelection, RecordType, RecordTypeRef, SchemaEntry};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::audit_log::NewEntry;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, ResultExt};
use crate::services::access::{self, AccessQuery};
use crate::services::persons::{self, Viewer};
use crate::services::references;
use crate::store::agencies as agency_store;

/// A lookup, as a consumer agency asks for it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// The person: a common ID, or the caller's sector pseudonym.
    #[schema(value_type = crate::api::ids::PersonRef)]
    pub person: String,
    /// The record type: `person.address@1` (latest minor) or `person.address@1.1`.
    #[schema(value_type = crate::api::ids::RecordTypeRef)]
    pub record_type: String,
    /// Why: a purpose code, e.g. `benefit-eligibility`.
    #[schema(value_type = crate::api::ids::PurposeCode)]
    pub purpose: String,
    /// The consent this lookup relies on, where the caller knows it.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::ids::ConsentId>)]
    pub consent_id: Option<String>,
}

/// A lookup's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LookupResponse {
    /// The exchange id, in the audit log too.
    pub exchange_id: String,
    /// The authentic source that answered.
    pub provider: String,
    /// The record type and exact version of `data`.
    pub record_type: String,
    /// The person, as the caller names them.
    pub person: String,
    /// The record, reduced to the fields the caller may have.
    pub data: serde_json::Value,
}

/// A failed lookup: the problem, and the exchange id it was audited under.
#[derive(Debug)]
pub struct LookupFailure {
    /// The exchange id (every outcome is audited).
    pub exchange_id: String,
    /// What went wrong.
    pub error: ApiError,
}

impl From<LookupFailure> for ApiError {
    /// The error a failed lookup is answered with: its problem carries the
    /// exchange id it was audited under.
    fn from(failure: LookupFailure) -> Self {
        ApiError::Audited {
            exchange_id: failure.exchange_id,
            inner: Box::new(failure.error),
        }
    }
}

/// What the audit entry of a lookup holds, filled in as the lookup goes.
struct Exchange {
    id: String,
    caller: AgencyId,
    person: Option<CommonId>,
    record_type: String,
    purpose: String,
    authorization: Option<(String, u32)>,
    consent: Option<String>,
    provider: Option<String>,
    request_digest: Option<audit::Hash>,
    /// Whether a use of the consent was reserved for this exchange.
    reserved: bool,
}

impl Exchange {
    fn entry(&self, kind: &str, outcome: audit::Outcome) -> Result<NewEntry, ApiError> {
        let mut entry = NewEntry::new(
            kind,
            audit::Actor::new(audit::ActorType::Agency, self.caller.to_string()),
            outcome,
        )?
        .with_exchange(self.id.clone());
        // What was asked is recorded as asked, unless the entry cannot hold
        // it (empty, or longer than a field may be): such a request is
        // refused as malformed, and its refusal is audited all the same.
        if fits_entry(&self.record_type) {
            entry = entry.with_record_type(self.record_type.clone());
        }
        if fits_entry(&self.purpose) {
            entry = entry.with_purpose(self.purpose.clone());
        }
        if let Some(person) = &self.person {
            entry = entry.with_person(person.as_digits());
        }
        if let Some((id, version)) = &self.authorization {
            entry = entry.with_legal_basis(id.clone(), *version);
        }
        if let Some(consent) = &self.consent {
            entry = entry.with_consent(consent.clone());
        }
        if let Some(provider) = &self.provider {
            entry = entry.with_provider(provider.clone());
        }
        Ok(entry)
    }
}

/// Whether an audit entry can hold `value` in one of its identifier fields.
fn fits_entry(value: &str) -> bool {
    !value.is_empty() && value.len() <= audit::entry::MAX_FIELD_BYTES
}

fn sha256(bytes: &[u8]) -> audit::Hash {
    audit::sha256(bytes)
}

/// Runs one lookup end to end. Every outcome, permitted or not, is appended
/// to the audit log and made durable before this returns.
pub async fn lookup(
    state: &web::Data<AppState>,
    caller: &AgencyCaller,
    request: LookupRequest,
) -> Result<LookupResponse, LookupFailure> {
    lookup_until(state, caller, request, None).await
}

/// [`lookup`] within a batch's deadline: a lookup whose batch is out of
/// time before it starts is not made but still audited (`504
/// batch_timeout`), and a provider call is cut at the deadline.
pub async fn lookup_until(
    state: &web::Data<AppState>,
    caller: &AgencyCaller,
    request: LookupRequest,
    deadline: Option<tokio::time::Instant>,
) -> Result<LookupResponse, LookupFailure> {
    let mut exchange = Exchange {
        id: format!("exc-{}", uuid::Uuid::new_v4().simple()),
        caller: caller.agency_id.clone(),
        person: None,
        record_type: request.record_type.clone(),
        purpose: request.purpose.clone(),
        authorization: None,
        consent: None,
        provider: None,
        request_digest: None,
        reserved: false,
    };
    let outcome = if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
        Outcome::Failed(Failure::Hub(ApiError::Provider {
            code: "batch_timeout",
            detail: "the batch ran out of time before this lookup started; nothing was fetched"
                .to_owned(),
        }))
    } else {
        run(state, caller, &request, &mut exchange, deadline).await
    };
    let error = match outcome {
        Outcome::Answered(answered) => {
            let (response, entry) = *answered;
            match release(state, entry).await {
                Ok(()) => return Ok(response),
                Err(error) => error,
            }
        }
        Outcome::Refused(refusal) => audit_stop(state, &exchange, Stop::Refused(refusal)).await,
        Outcome::Failed(failure) => audit_stop(state, &exchange, Stop::Failed(failure)).await,
    };
    Err(LookupFailure {
        exchange_id: exchange.id,
        error,
    })
}

/// How a lookup ends.
enum Outcome {
    /// Permitted, fetched, checked and minimised: the answer, and the audit
    /// entry that must be durable before it is released.
    Answered(Box<(LookupResponse, NewEntry)>),
    /// Refused: nothing is released.
    Refused(Refusal),
    /// The provider or the hub failed: nothing is released.
    Failed(Failure),
}

/// Why a lookup was refused; each kind has its audit entry kind.
#[derive(Debug)]
enum Refusal {
    /// Malformed, or naming a person or record type that does not exist
    /// (`lookup.invalid`).
    Invalid(ApiError),
    /// The caller's token lacks the `consumer` scope (`lookup.denied`).
    OutOfScope(ApiError),
    /// The access decision, or the consent's use limit, refused it
    /// (`lookup.denied`, under the deny code).
    Denied {
        /// The deny code.
        code: DenyCode,
        /// Why, naming the missing authorization or consent.
        detail: String,
    },
    /// No authentic source provides the record for this person
    /// (`lookup.no_provider`).
    NoProvider(ApiError),
}

/// Why a lookup failed.
#[derive(Debug)]
enum Failure {
    /// The provider was not called, did not answer, holds no record, or
    /// answered wrongly (`lookup.provider_error`).
    Provider(ApiError),
    /// The hub failed, or the batch ran out of time (`lookup.error`).
    Hub(ApiError),
}

/// A lookup that stops before an answer: the error of each step.
#[derive(Debug)]
enum Stop {
    Refused(Refusal),
    Failed(Failure),
}

impl From<Refusal> for Stop {
    fn from(refusal: Refusal) -> Self {
        Stop::Refused(refusal)
    }
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Stop::Failed(failure)
    }
}

impl Stop {
    /// A failure of the hub itself.
    fn hub(error: ApiError) -> Self {
        Stop::Failed(Failure::Hub(error))
    }

    /// The audit entry kind of this stop.
    fn kind(&self) -> &'static str {
        match self {
            Stop::Refused(Refusal::Invalid(_)) => "lookup.invalid",
            Stop::Refused(Refusal::OutOfScope(_) | Refusal::Denied { .. }) => "lookup.denied",
            Stop::Refused(Refusal::NoProvider(_)) => "lookup.no_provider",
            Stop::Failed(Failure::Provider(_)) => "lookup.provider_error",
            Stop::Failed(Failure::Hub(_)) => "lookup.error",
        }
    }

    /// The outcome the audit log records.
    fn audit_outcome(&self) -> audit::Outcome {
        match self {
            Stop::Refused(Refusal::OutOfScope(_) | Refusal::Denied { .. }) => {
                audit::Outcome::Denied
            }
            _ => audit::Outcome::Error,
        }
    }

    /// The error the caller is answered with.
    fn into_error(self) -> ApiError {
        match self {
            Stop::Refused(Refusal::Denied { code, detail }) => ApiError::Denied {
                code: code.as_str(),
                detail,
            },
            Stop::Refused(
                Refusal::Invalid(e) | Refusal::OutOfScope(e) | Refusal::NoProvider(e),
            )
            | Stop::Failed(Failure::Provider(e) | Failure::Hub(e)) => e,
        }
    }
}

/// Releases a permitted answer: its entry is in the audit log first.
async fn release(state: &AppState, entry: NewEntry) -> Result<(), ApiError> {
    match state.audit.append(entry).await {
        Ok(_) => {
            state.hub_metrics.lookup("permitted", "ok");
            Ok(())
        }
        Err(error) => {
            // Permitted, but not released: the log could not record it.
            state.hub_metrics.lookup("error", &error.problem().code);
            Err(error)
        }
    }
}

/// Counts and audits a lookup that stopped, gives back the consent's use
/// it reserved, and returns the error to answer with (the audit log's own
/// where it could not record the stop).
async fn audit_stop(state: &AppState, exchange: &Exchange, stop: Stop) -> ApiError {
    let kind = stop.kind();
    let outcome = stop.audit_outcome();
    let error = stop.into_error();
    let deny_code = code_of(&error);
    state
        .hub_metrics
        .lookup(kind.strip_prefix("lookup.").unwrap_or(kind), deny_code);
    let appended = match exchange.entry(kind, outcome) {
        Ok(entry) => state
            .audit
            .append(entry.with_deny_code(deny_code))
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    // No record reached the consumer: give the consent's use back, once the
    // failure is in the log (a crash before that leaves the reservation,
    // which the failure's entry then settles).
    if exchange.reserved && appended.is_ok() {
        let id = exchange.id.clone();
        if let Err(e) = state.db(move |conn| access::release(conn, &id)).await {
            tracing::error!(
                error = %e.chain(),
                exchange_id = %exchange.id,
                "consent use not released"
            );
        }
    }
    match appended {
        Ok(()) => error,
        Err(audit_error) => audit_error,
    }
}

/// The code a lookup's failure is audited and counted under.
fn code_of(error: &ApiError) -> &'static str {
    match error {
        ApiError::NotFound { code, .. }
        | ApiError::Invalid { code, .. }
        | ApiError::Forbidden { code, .. }
        | ApiError::Conflict { code, .. } => code,
        ApiError::Denied { code, .. } => code,
        ApiError::Provider { code, .. } => code,
        _ => "internal_error",
    }
}

/// The lookup's steps, in order: read the request, decide, route, ask the
/// provider, check and minimise its answer.
async fn run(
    state: &web::Data<AppState>,
    caller: &AgencyCaller,
    request: &LookupRequest,
    exchange: &mut Exchange,
    deadline: Option<tokio::time::Instant>,
) -> Outcome {
    let steps = async {
        let asked = read_request(caller, request)?;
        let now = state.clock.now();
        let mut permitted = decide(state, caller, &asked, exchange, now).await?;
        let routed = route(permitted.route.take(), exchange)?;
        let record = ask_provider(
            state,
            caller,
            &routed,
            permitted.entry.record_type(),
            &asked.purpose,
            &permitted.person,
            exchange,
            deadline,
            now,
        )
        .await?;
        let data = check_and_minimise(
            state,
            &permitted.entry,
            &permitted.fields,
            &record,
            &routed.provider,
            asked.viewer,
            exchange,
        )?;
        answer(state, &permitted, routed, asked.viewer, data, exchange)
    };
    match steps.await {
        Ok(answered) => Outcome::Answered(Box::new(answered)),
        Err(Stop::Refused(refusal)) => Outcome::Refused(refusal),
        Err(Stop::Failed(failure)) => Outcome::Failed(failure),
    }
}

/// A lookup request, read.
struct Asked {
    /// The person: a common ID, or the caller's sector pseudonym.
    person: String,
    record_type: RecordTypeRef,
    purpose: PurposeCode,
    consent_id: Option<ConsentId>,
    /// How the caller names persons.
    viewer: Viewer,
}

/// Checks the caller's scope and reads the request into domain types.
fn read_request(caller: &AgencyCaller, request: &LookupRequest) -> Result<Asked, Stop> {
    let invalid = |code: &'static str, detail: String| {
        Stop::Refused(Refusal::Invalid(ApiError::invalid(code, detail)))
    };
    caller
        .require_scope("consumer")
        .map_err(Refusal::OutOfScope)?;
    let record_type: RecordTypeRef =
        request
            .record_type
            .parse()
            .map_err(|e: schemas::RecordTypeError| {
                invalid("invalid_record_type", format!("record_type: {e}"))
            })?;
    let purpose: PurposeCode = PurposeCode::parse(&request.purpose)
        .map_err(|e| invalid("invalid_purpose", format!("purpose: {e}")))?;
    let consent_id: Option<ConsentId> = match &request.consent_id {
        Some(id) => Some(
            ConsentId::parse(id)
                .map_err(|e| invalid("invalid_consent_id", format!("consent_id: {e}")))?,
        ),
        None => None,
    };
    Ok(Asked {
        person: request.person.clone(),
        record_type,
        purpose,
        consent_id,
        viewer: Viewer {
            sector: caller.sector,
            policy: caller.identifier_policy,
        },
    })
}

/// A permitted lookup: whom and what it is about, what may be released,
/// and where it is routed.
struct Permitted {
    person: CommonId,
    entry: Arc<SchemaEntry>,
    fields: Vec<String>,
    route: Option<Result<references::Route, ApiError>>,
}

/// Resolves the person and the record type, decides, and routes a
/// permitted lookup, in one read of the database (on SQLite on this very
/// thread, see [`AppState::read`]); then reserves the
/// consent's use, durably, before anything goes out.
async fn decide(
    state: &web::Data<AppState>,
    caller: &AgencyCaller,
    asked: &Asked,
    exchange: &mut Exchange,
    now: DateTime<Utc>,
) -> Result<Permitted, Stop> {
    let viewer = asked.viewer;
    let person_ref = asked.person.clone();
    let reference = asked.record_type.clone();
    let (agency, agency_sector, agency_roles) = (
        caller.agency_id.clone(),
        caller.sector,
        caller.roles.clone(),
    );
    let registry = state.schemas.clone();
    let inner = state.clone();
    let asked_purpose = asked.purpose.clone();
    let consent_id = asked.consent_id.clone();
    let resolved = state
        .read(move |conn| {
            let asked = persons::parse_reference(conn, viewer, &person_ref)?;
            let (person, _) = persons::resolve(conn, asked)?;
            let schemas = registry.get_or_load(conn)?;
            let entry = schemas.resolve(&reference)?.clone();
            let query = AccessQuery {
                agency: agency.clone(),
                agency_sector,
                agency_roles: agency_roles.clone(),
                person,
                record_type: entry.record_type().clone(),
                purpose: asked_purpose.clone(),
                consent_id: consent_id.clone(),
            };
            let (decision, reservation) = access::decide(conn, &inner, &query, now)?;
            // Route a permitted lookup in the same trip to the database.
            let route = match &decision {
                Decision::Permit { .. } => {
                    let record_type = entry.record_type();
                    let major = i32::try_from(record_type.version.major).unwrap_or(i32::MAX);
                    Some(references::route(
                        conn,
                        record_type.name.as_str(),
                        major,
                        &person,
                        now.date_naive(),
                    ))
                }
                Decision::Deny { .. } => None,
            };
            Ok((person, entry, decision, route, reservation))
        })
        .await;
    let (person, entry, mut decision, route, reservation) = match resolved {
        Ok(found) => found,
        Err(e @ (ApiError::NotFound { .. } | ApiError::Invalid { .. })) => {
            return Err(Refusal::Invalid(e).into());
        }
        Err(e) => return Err(Stop::hub(e)),
    };
    exchange.person = Some(person);
    if let Some(reservation) = &reservation {
        match state
            .reservations
            .reserve(reservation, &exchange.id, now)
            .await
            .map_err(Stop::hub)?
        {
            None => exchange.reserved = true,
            Some(refusal) => decision = refusal,
        }
    }
    exchange.record_type = entry.record_type().to_string();
    match decision {
        Decision::Permit {
            authorization,
            consent,
            fields,
        } => {
            exchange.authorization = Some((authorization.id.to_string(), authorization.version));
            exchange.consent = consent.as_ref().map(ToString::to_string);
            Ok(Permitted {
                person,
                entry,
                fields,
                route,
            })
        }
        Decision::Deny { code, detail } => Err(Refusal::Denied { code, detail }.into()),
    }
}

/// The authentic source a permitted lookup was routed to.
fn route(
    route: Option<Result<references::Route, ApiError>>,
    exchange: &mut Exchange,
) -> Result<references::Route, Stop> {
    let routed = route
        .ok_or_else(|| Stop::hub(ApiError::internal("a permitted lookup was not routed")))?
        .map_err(Refusal::NoProvider)?;
    exchange.provider = Some(routed.provider.clone());
    Ok(routed)
}

/// Asks the provider for the record, with a request only it can use, for
/// this exchange only; cut at the batch's deadline.
#[allow(clippy::too_many_arguments)]
async fn ask_provider(
    state: &AppState,
    caller: &AgencyCaller,
    routed: &references::Route,
    record_type: &RecordType,
    purpose: &PurposeCode,
    person: &CommonId,
    exchange: &mut Exchange,
    deadline: Option<tokio::time::Instant>,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, Stop> {
    let body = serde_json::json!({
        "exchange_id": exchange.id,
        "record_type": record_type.to_string(),
        "purpose": purpose.as_str(),
    });
    let body_bytes = serde_json::to_vec(&body).unwrap_or_default();
    exchange.request_digest = Some(sha256(&body_bytes));
    let subject = match routed.policy {
        IdentifierPolicy::CommonId => person.as_digits().to_owned(),
        IdentifierPolicy::SectorPseudonym => state
            .pseudonyms
            .pseudonym(routed.sector, person)
            .to_string(),
    };
    let claims = RequestClaims {
        iss: state.config.public_base(),
        aud: routed.provider.clone(),
        sub: subject,
        jti: exchange.id.clone(),
        iat: now.timestamp(),
        exp: now.timestamp() + 60,
        record_type: record_type.to_string(),
        purpose: purpose.as_str().to_owned(),
        consumer: caller.agency_id.to_string(),
    };
    let token = sign_request(state, &claims, now).await.map_err(Stop::hub)?;
    let call = call_provider(state, routed, record_type, &token, body_bytes);
    let answer = match deadline {
        None => call.await,
        Some(deadline) => tokio::time::timeout_at(deadline, call)
            .await
            .unwrap_or_else(|_| {
                state
                    .hub_metrics
                    .provider_error(&routed.provider, "batch_timeout");
                Err(ApiError::Provider {
                    code: "batch_timeout",
                    detail: format!(
                        "the batch ran out of time while provider {} was answering",
                        routed.provider
                    ),
                })
            }),
    };
    answer.map_err(|e| Stop::Failed(Failure::Provider(e)))
}

/// Checks the provider's answer against the schema, then keeps only the
/// granted fields, naming persons as the caller does.
fn check_and_minimise(
    state: &AppState,
    entry: &SchemaEntry,
    fields: &[String],
    record: &serde_json::Value,
    provider: &str,
    viewer: Viewer,
    exchange: &Exchange,
) -> Result<serde_json::Value, Stop> {
    let record_type = entry.record_type();
    if let Err(issues) = entry.validate(record) {
        tracing::warn!(
            exchange_id = %exchange.id,
            provider = %provider,
            record_type = %record_type,
            // Where the answer fails and which schema keyword refuses it:
            // never the message, which may quote a record's value.
            issues = ?issues.iter().map(|i| format!("{} (schema {})", i.instance_path, i.schema_path)).collect::<Vec<_>>(),
            "provider answer does not validate"
        );
        return Err(Failure::Provider(ApiError::Provider {
            code: "provider_invalid_response",
            detail: format!(
                "the provider's answer does not match {record_type}: {} schema error(s), logged for the operator under this exchange id",
                issues.len()
            ),
        })
        .into());
    }
    let mut data = FieldSelection::parse_lenient(fields).apply(record);
    if viewer.policy == IdentifierPolicy::SectorPseudonym {
        pseudonymise(&mut data, &state.pseudonyms, viewer.sector);
    }
    Ok(data)
}

/// The answer, and the audit entry that records it (with the digests of
/// what was asked and what is released).
fn answer(
    state: &AppState,
    permitted: &Permitted,
    routed: references::Route,
    viewer: Viewer,
    data: serde_json::Value,
    exchange: &Exchange,
) -> Result<(LookupResponse, NewEntry), Stop> {
    let response_bytes = serde_json::to_vec(&data).unwrap_or_default();
    let audited = exchange
        .entry("lookup.permitted", audit::Outcome::Permitted)
        .map_err(Stop::hub)?
        .with_digests(exchange.request_digest, Some(sha256(&response_bytes)));
    Ok((
        LookupResponse {
            exchange_id: exchange.id.clone(),
            provider: routed.provider,
            record_type: permitted.entry.record_type().to_string(),
            person: persons::name_for(viewer, &state.pseudonyms, &permitted.person),
            data,
        },
        audited,
    ))
}

/// Whether a member name holds a person's common ID (`commonId`,
/// `partnerCommonId`, `holderCommonId`, …).
fn names_a_person(key: &str) -> bool {
    key == "commonId" || key.ends_with("CommonId")
}

/// Replaces every common ID in a record with the consumer's sector
/// pseudonym of that person: a consumer whose policy is `sector_pseudonym`
/// never sees a common ID, not even inside the data.
pub(crate) fn pseudonymise(
    value: &mut serde_json::Value,
    pseudonyms: &identity::PseudonymService,
    sector: identity::Sector,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if names_a_person(key)
                    && let Some(id) = member.as_str().and_then(|s| s.parse::<CommonId>().ok())
                {
                    *member =
                        serde_json::Value::String(pseudonyms.pseudonym(sector, &id).to_string());
                } else {
                    pseudonymise(member, pseudonyms, sector);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                pseudonymise(item, pseudonyms, sector);
            }
        }
        _ => {}
    }
}

async fn sign_request(
    state: &AppState,
    claims: &RequestClaims,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let ring = crate::services::signing_keys::ring(state, now).await?;
    identity::jwt::sign_token(claims, ring.current(), REQUEST_TOKEN_TYPE)
        .internal("a provider request cannot be signed")
}

/// Calls the provider unless its circuit is open: times the call and counts
/// its failures (`circuit_open` when it was not called).
async fn call_provider(
    state: &AppState,
    routed: &references::Route,
    record_type: &RecordType,
    token: &str,
    body: Vec<u8>,
) -> Result<serde_json::Value, ApiError> {
    if !state.breakers.allow(&routed.provider) {
        state
            .hub_metrics
            .provider_error(&routed.provider, "circuit_open");
        return Err(ApiError::Provider {
            code: "provider_unavailable",
            detail: format!(
                "provider {} is failing; the hub stopped calling it for a few seconds",
                routed.provider
            ),
        });
    }
    let timer = ProviderTimer {
        state,
        provider: &routed.provider,
        started: std::time::Instant::now(),
    };
    let answer = request_provider(state, routed, record_type, token, body).await;
    drop(timer);
    match &answer {
        // The provider answered: it holds no such record.
        Err(ApiError::NotFound { .. }) | Ok(_) => {}
        Err(error) => state
            .hub_metrics
            .provider_error(&routed.provider, code_of(error)),
    }
    answer
}

/// Records how long a provider call took when dropped: also when the call
/// is cut at a batch's deadline.
struct ProviderTimer<'a> {
    state: &'a AppState,
    provider: &'a str,
    started: std::time::Instant,
}

impl Drop for ProviderTimer<'_> {
    fn drop(&mut self) {
        self.state
            .hub_metrics
            .provider_request(self.provider, self.started.elapsed());
    }
}

/// One call to the provider; the caller checked its circuit.
async fn request_provider(
    state: &AppState,
    routed: &references::Route,
    record_type: &RecordType,
    token: &str,
    body: Vec<u8>,
) -> Result<serde_json::Value, ApiError> {
    let unavailable = |detail: String| ApiError::Provider {
        code: "provider_unavailable",
        detail,
    };
    if routed.endpoint.starts_with("http://") && !state.config.allow_insecure_providers {
        return Err(ApiError::Provider {
            code: "provider_insecure",
            detail: format!(
                "provider {} has a plain http:// endpoint, which this hub does not call",
                routed.provider
            ),
        });
    }
    let url = format!("{}/records/{}", routed.endpoint, record_type);
    let sent = state
        .http
        .post(&url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_millis(routed.timeout_ms))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) if e.is_timeout() => {
            state.breakers.failure(&routed.provider);
            return Err(ApiError::Provider {
                code: "provider_timeout",
                detail: format!(
                    "provider {} did not answer within {} ms",
                    routed.provider, routed.timeout_ms
                ),
            });
        }
        Err(e) => {
            state.breakers.failure(&routed.provider);
            tracing::warn!(provider = %routed.provider, error = %e, "provider unreachable");
            return Err(unavailable(format!(
                "provider {} cannot be reached",
                routed.provider
            )));
        }
    };
    let status = response.status();
    if status.is_server_error() {
        state.breakers.failure(&routed.provider);
        return Err(unavailable(format!(
            "provider {} answered {status}",
            routed.provider
        )));
    }
    state.breakers.success(&routed.provider);
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(ApiError::NotFound {
            code: "no_record",
            detail: format!(
                "provider {} holds no {record_type} record for this person",
                routed.provider
            ),
        });
    }
    if !status.is_success() {
        return Err(ApiError::Provider {
            code: "provider_invalid_response",
            detail: format!(
                "provider {} refused the hub's request with {status}",
                routed.provider
            ),
        });
    }
    let limit = state.config.provider_max_response_bytes;
    let too_large = || ApiError::Provider {
        code: "provider_invalid_response",
        detail: format!(
            "provider {} answered more than {limit} bytes",
            routed.provider
        ),
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let read = read_limited(response, limit);
    let bytes = tokio::time::timeout(Duration::from_millis(routed.timeout_ms), read)
        .await
        .map_err(|_| ApiError::Provider {
            code: "provider_timeout",
            detail: format!(
                "provider {} did not finish its answer in time",
                routed.provider
            ),
        })?
        .map_err(|e| {
            unavailable(format!(
                "provider {} broke off its answer: {e}",
                routed.provider
            ))
        })?
        .ok_or_else(too_large)?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::Provider {
        code: "provider_invalid_response",
        detail: format!(
            "provider {} answered something that is not JSON",
            routed.provider
        ),
    })
}

/// Reads a body of at most `limit` bytes; `None` when it is longer (the
/// rest is not read).
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Looks up an agency's provider endpoint and identifier policy.
pub fn provider_facts(
    conn: &mut crate::store::DbConnection,
    provider: &str,
) -> Result<(String, IdentifierPolicy, identity::Sector, bool), ApiError> {
    let row = agency_store::get(conn, provider)?.ok_or_else(|| ApiError::NotFound {
        code: "no_provider",
        detail: format!("the source {provider} is not an agency"),
    })?;
    let endpoint = row.endpoint_url.clone().ok_or_else(|| ApiError::NotFound {
        code: "no_provider",
        detail: format!("provider {provider} has no endpoint"),
    })?;
    let policy = row.identifier_policy.parse().map_err(|_| {
        ApiError::internal(format!("agency {provider} has a bad identifier policy"))
    })?;
    let sector = row
        .sector
        .parse()
        .internal(format!("agency {provider} has a bad sector"))?;
    Ok((endpoint, policy, sector, row.status == "active"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonymous_consumers_see_no_common_id() {
        let service = identity::PseudonymService::new(&[7u8; 32]).unwrap();
        let anna = CommonId::generate(&mut rand::rng());
        let tom = CommonId::generate(&mut rand::rng());
        let mut record = serde_json::json!({
            "commonId": anna.as_digits(),
            "partnerCommonId": tom.as_digits(),
            "members": [{"commonId": tom.as_digits(), "relationship": "partner"}],
            "note": format!("not an id: {}", anna.as_digits()),
        });
        pseudonymise(&mut record, &service, identity::Sector::Social);
        let text = record.to_string();
        assert!(
            !text.contains(&format!("\"{}\"", anna.as_digits())),
            "{text}"
        );
        assert!(!text.contains(tom.as_digits()), "{text}");
        assert_eq!(
            record["commonId"],
            service
                .pseudonym(identity::Sector::Social, &anna)
                .to_string()
        );
        assert_eq!(
            record["members"][0]["commonId"],
            service
                .pseudonym(identity::Sector::Social, &tom)
                .to_string()
        );
        // Free text is left alone: only members that name a person change.
        assert_eq!(record["note"], format!("not an id: {}", anna.as_digits()));
    }
}
