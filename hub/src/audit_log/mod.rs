//! The hub's audit log: the append path (one sequencer per process, group
//! commit, PostgreSQL leader election), signed checkpoints, proofs for the
//! endpoints, and verification of the stored log.
//!
//! The domain (entries, hashing, tiles, proofs, notes) is the `audit` crate;
//! this module stores it and serialises appends.

pub mod actions;
pub mod bulk;
pub mod cli;
pub mod remote;
pub mod sequencer;
pub mod verify;

use std::path::Path;
use std::sync::{Arc, Mutex};

use audit::{
    Actor, ActorType, Checkpoint, Entry, EntryKind, Hash, LegalBasis, LogSigner, Outcome, Salt,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::Clock;
use crate::app::config::Config;
use crate::http::error::ApiError;
use crate::store::audit::{self as store, DbHashReader, EntryRow};
use crate::store::{DbConnection, Pool};

/// The filters and paging of a person's entries.
pub use crate::store::audit::{EntryFilter, Page};
pub use sequencer::Sequencer;

/// An event to append: everything but the sequence number and the time,
/// which the sequencer assigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEntry {
    /// What happened, e.g. `lookup.permitted`.
    pub kind: EntryKind,
    /// Who acted.
    pub actor: Actor,
    /// With which outcome.
    pub outcome: Outcome,
    /// The person concerned: a common ID. Kept in the `person` column for
    /// the citizen's access log; the entry itself names them by commitment.
    pub person: Option<String>,
    /// Other persons the event concerns (e.g. the identifier a merge
    /// replaced), by the name of their field in `details`: the entry holds
    /// `details.<name>_commitment`, the commitment under the same salt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked: Vec<(String, String)>,
    /// The record type, `name@major.minor`.
    pub record_type: Option<String>,
    /// The purpose stated.
    pub purpose: Option<String>,
    /// The authorization relied on.
    pub legal_basis: Option<LegalBasis>,
    /// The consent relied on.
    pub consent_id: Option<String>,
    /// Why it was refused.
    pub deny_code: Option<String>,
    /// The exchange.
    pub exchange_id: Option<String>,
    /// SHA-256 of the request as sent.
    pub request_digest: Option<Hash>,
    /// SHA-256 of the response as returned.
    pub response_digest: Option<Hash>,
    /// A JSON object of a few extra non-secret fields (never record content).
    /// A string `provider` names the providing agency, which may then read
    /// the entry.
    pub details: Option<serde_json::Value>,
}

impl NewEntry {
    /// An event of `kind` (lowercase dotted words, e.g. `agency.suspended`).
    pub fn new(kind: &str, actor: Actor, outcome: Outcome) -> Result<Self, ApiError> {
        let kind = EntryKind::new(kind).map_err(|e| ApiError::internal_from("audit entry", e))?;
        Ok(Self {
            kind,
            actor,
            outcome,
            person: None,
            linked: Vec::new(),
            record_type: None,
            purpose: None,
            legal_basis: None,
            consent_id: None,
            deny_code: None,
            exchange_id: None,
            request_digest: None,
            response_digest: None,
            details: None,
        })
    }

    /// The person concerned.
    pub fn with_person(mut self, person: impl Into<String>) -> Self {
        self.person = Some(person.into());
        self
    }

    /// Another person the event concerns, under `name` (e.g. `replaced`):
    /// named in the entry by commitment, as `details.<name>_commitment`.
    pub fn with_linked_person(mut self, name: &str, person: impl Into<String>) -> Self {
        self.linked.push((name.to_owned(), person.into()));
        self
    }

    /// The record type.
    pub fn with_record_type(mut self, record_type: impl Into<String>) -> Self {
        self.record_type = Some(record_type.into());
        self
    }

    /// The purpose.
    pub fn with_purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = Some(purpose.into());
        self
    }

    /// The authorization (id and version) relied on.
    pub fn with_legal_basis(mut self, authorization_id: impl Into<String>, version: u32) -> Self {
        self.legal_basis = Some(LegalBasis {
            authorization_id: authorization_id.into(),
            version,
        });
        self
    }

    /// The consent relied on.
    pub fn with_consent(mut self, consent_id: impl Into<String>) -> Self {
        self.consent_id = Some(consent_id.into());
        self
    }

    /// The deny code of a refusal.
    pub fn with_deny_code(mut self, code: impl Into<String>) -> Self {
        self.deny_code = Some(code.into());
        self
    }

    /// The exchange.
    pub fn with_exchange(mut self, exchange_id: impl Into<String>) -> Self {
        self.exchange_id = Some(exchange_id.into());
        self
    }

    /// SHA-256 digests of the request and of the response.
    pub fn with_digests(mut self, request: Option<Hash>, response: Option<Hash>) -> Self {
        self.request_digest = request;
        self.response_digest = response;
        self
    }

    /// Extra fields: a JSON object, without record content or secrets.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Sets `details.provider`: the agency that provided the record.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        let mut details = match self.details.take() {
            Some(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        details.insert(
            "provider".to_owned(),
            serde_json::Value::String(provider.into()),
        );
        self.details = Some(serde_json::Value::Object(details));
        self
    }

    /// The providing agency named in `details.provider`.
    pub fn provider(&self) -> Option<&str> {
        self.details.as_ref()?.get("provider")?.as_str()
    }

    /// The entry with its sequence number and time, the persons it concerns
    /// named by commitment under `salt`.
    pub fn to_entry(
        &self,
        seq: u64,
        time: DateTime<Utc>,
        salt: &Salt,
    ) -> Result<Entry, audit::AuditError> {
        let entry = self.unchecked_entry(seq, time, salt)?;
        entry.validate()?;
        Ok(entry)
    }

    /// Whether the entry concerns a person, and so needs a salt.
    pub fn names_a_person(&self) -> bool {
        self.person.is_some() || !self.linked.is_empty()
    }

    /// The entry (version 2), its limits not checked yet: the person
    /// concerned and the linked persons named by their commitments under
    /// `salt`; a citizen acting about themself is the actor `subject`.
    fn unchecked_entry(
        &self,
        seq: u64,
        time: DateTime<Utc>,
        salt: &Salt,
    ) -> Result<Entry, audit::AuditError> {
        let invalid = |m: String| Err(audit::AuditError::InvalidEntry(m));
        let persons = self.person.iter().chain(self.linked.iter().map(|(_, p)| p));
        for person in persons {
            if person.is_empty() || person.len() > audit::entry::MAX_FIELD_BYTES {
                return invalid(format!(
                    "subject must have 1 to {} bytes",
                    audit::entry::MAX_FIELD_BYTES
                ));
            }
        }
        let mut details = match &self.details {
            None => None,
            Some(serde_json::Value::Object(map)) => Some(map.clone()),
            Some(_) => return invalid("details must be a JSON object".to_owned()),
        };
        for (name, person) in &self.linked {
            let key = format!("{name}_commitment");
            let map = details.get_or_insert_with(serde_json::Map::new);
            if map.contains_key(&key) {
                return invalid(format!("details.{key} is set twice"));
            }
            map.insert(key, salt.commit(person).to_hex().into());
        }
        let mut actor = self.actor.clone();
        if actor.actor_type == ActorType::Citizen {
            if self.person.as_deref() != Some(actor.id.as_str()) {
                return invalid("a citizen acts only about themself".to_owned());
            }
            actor.id = CITIZEN_SUBJECT.to_owned();
        }
        let mut entry = Entry::new(seq, time, self.kind.clone(), actor, self.outcome);
        entry.v = audit::EntryVersion::V2;
        entry.subject_commitment = self.person.as_deref().map(|p| salt.commit(p));
        entry.record_type = self.record_type.clone();
        entry.purpose = self.purpose.clone();
        entry.legal_basis = self.legal_basis.clone();
        entry.consent_id = self.consent_id.clone();
        entry.deny_code = self.deny_code.clone();
        entry.exchange_id = self.exchange_id.clone();
        entry.request_digest = self.request_digest;
        entry.response_digest = self.response_digest;
        entry.details = details;
        Ok(entry)
    }

    /// Checks the entry and encodes it with its sequence number and time
    /// left open, with the columns stored beside it: the appender's work,
    /// so that the sequencer only fills in two numbers.
    /// A fresh salt is drawn for an entry that concerns a person.
    pub(crate) fn prepare(&self) -> Result<Prepared, audit::AuditError> {
        let salt = if self.names_a_person() {
            Some(Salt::generate()?)
        } else {
            None
        };
        self.prepare_with_salt(salt)
    }

    /// [`NewEntry::prepare`] with a salt the caller drew (used only if the
    /// entry concerns a person; one is required then).
    pub(crate) fn prepare_with_salt(
        &self,
        salt: Option<Salt>,
    ) -> Result<Prepared, audit::AuditError> {
        let salt = if self.names_a_person() {
            Some(salt.ok_or_else(|| {
                audit::AuditError::InvalidEntry("an entry about a person needs a salt".to_owned())
            })?)
        } else {
            None
        };
        // An entry without a person never uses its salt.
        let fixed = Salt::from_bytes([0; Salt::LEN]);
        // `template` checks the limits.
        let entry =
            self.unchecked_entry(0, DateTime::UNIX_EPOCH, salt.as_ref().unwrap_or(&fixed))?;
        let template = entry.template()?;
        self.check_unnamed(&template)?;
        Ok(Prepared {
            template,
            kind: entry.kind.as_str().to_owned(),
            actor_type: entry.actor.actor_type.as_str(),
            actor_id: self.actor.id.clone(),
            person: self.person.clone(),
            salt: salt.map(|s| s.to_hex()),
            record_type: entry.record_type,
            outcome: entry.outcome.as_str(),
            provider: self.provider().map(str::to_owned),
            settles: match (&self.exchange_id, &self.consent_id) {
                (Some(exchange), Some(_)) => Some(exchange.clone()),
                _ => None,
            },
        })
    }
}

/// The actor id of a citizen acting about themself in an entry: the
/// person the entry concerns, whose identifier the entry does not hold.
pub const CITIZEN_SUBJECT: &str = "subject";

impl NewEntry {
    /// Refuses an encoding that holds the identifier of a person it
    /// concerns anywhere in its bytes (a field or a `details` value that
    /// named them in plain): entries name persons by commitment only.
    fn check_unnamed(&self, template: &audit::EntryTemplate) -> Result<(), audit::AuditError> {
        let persons = self.person.iter().chain(self.linked.iter().map(|(_, p)| p));
        let mut bytes = None;
        for person in persons {
            let Ok(id) = person.parse::<identity::CommonId>() else {
                continue;
            };
            let person = id.as_digits();
            let bytes = match &mut bytes {
                Some(b) => b,
                None => bytes.insert(
                    template.fill(0, &audit::EncodedTime::new(DateTime::UNIX_EPOCH.into()))?,
                ),
            };
            if bytes.windows(person.len()).any(|w| w == person.as_bytes()) {
                return Err(audit::AuditError::InvalidEntry(
                    "the entry holds the identifier of a person it concerns".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// An entry ready for the sequencer: its canonical encoding without
/// sequence number and time, and the columns stored beside it.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    template: audit::EntryTemplate,
    kind: String,
    actor_type: &'static str,
    actor_id: String,
    person: Option<String>,
    /// The salt of the entry's commitments (hex), stored beside it.
    salt: Option<String>,
    record_type: Option<String>,
    outcome: &'static str,
    provider: Option<String>,
    /// The exchange whose consent-use reservation this entry settles.
    pub(crate) settles: Option<String>,
}

impl Prepared {
    /// The stored row of this entry as entry `seq` at `time`, and its leaf
    /// hash.
    pub(crate) fn to_row(
        &self,
        seq: u64,
        time: &audit::EncodedTime,
        queue_id: Option<i64>,
    ) -> Result<(EntryRow, Hash), audit::AuditError> {
        let bytes = self.template.fill(seq, time)?;
        let leaf = audit::leaf_hash(&bytes);
        let text =
            String::from_utf8(bytes).map_err(|e| audit::AuditError::InvalidEntry(e.to_string()))?;
        let row = EntryRow {
            seq: seq as i64,
            entry: text,
            time: time.time().get().naive_utc(),
            kind: self.kind.clone(),
            actor_type: self.actor_type.to_owned(),
            actor_id: self.actor_id.clone(),
            person: self.person.clone(),
            subject_salt: self.salt.clone(),
            record_type: self.record_type.clone(),
            outcome: self.outcome.to_owned(),
            provider: self.provider.clone(),
            queue_id,
        };
        Ok((row, leaf))
    }
}

/// A signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// Number of entries it covers.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
    /// The C2SP signed note.
    pub note: String,
}

/// An entry with its inclusion proof against a signed checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryProof {
    /// The sequence number (leaf index).
    pub seq: u64,
    /// The entry (its canonical JSON is `entry_json`).
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
    /// The canonical JSON that was hashed, byte for byte.
    pub entry_json: String,
    /// The RFC 9162 leaf hash of `entry_json`, base64.
    pub leaf_hash: String,
    /// The size of the tree the proof is for (the checkpoint's size).
    pub tree_size: u64,
    /// The inclusion proof, base64 hashes from the leaf up.
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint (C2SP note) of `tree_size`.
    pub checkpoint: String,
    /// The salt of the entry's commitments (64 hex digits), outside the
    /// hashed bytes: `subject_commitment` is HMAC-SHA256 of the person's
    /// common ID under it. Given only to the person concerned and to
    /// operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_salt: Option<String>,
}

/// The signing key, origin and append path of the audit log.
pub struct AuditLog {
    shared: Arc<Shared>,
    pool: Pool,
    sequencer: Mutex<Option<Sequencer>>,
}

/// What the sequencer thread shares with the log.
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Clock,
    /// Where the sequencer reports commits, failures and checkpoints.
    pub(crate) metrics: Arc<crate::app::metrics::HubMetrics>,
    /// The name of a log key made here.
    origin: String,
    signer: Mutex<Option<Arc<LogSigner>>>,
}

impl AuditLog {
    /// The log of `config` over `pool`; the sequencer starts on first append
    /// and reports to `metrics`.
    pub fn new(
        config: Arc<Config>,
        pool: Pool,
        clock: Clock,
        metrics: Arc<crate::app::metrics::HubMetrics>,
    ) -> Self {
        let origin = config.log_origin();
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                metrics,
                origin,
                signer: Mutex::new(None),
            }),
            pool,
            sequencer: Mutex::new(None),
        }
    }

    /// The origin line of checkpoints: the name of the log key, fixed when
    /// the key is made (from `log_origin`, or the public URL's host).
    pub fn origin(&self) -> Result<String, ApiError> {
        Ok(self.signer()?.name().to_owned())
    }

    /// Starts the sequencer now rather than on first use: a serving hub
    /// drains what was handed over before it started and signs a tail left
    /// unsigned, traffic or not.
    pub fn start(&self) -> Result<(), ApiError> {
        self.with_sequencer(|_| Ok(()))
    }

    /// How long a caller waits for its entry to be in the log.
    pub fn deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.shared.config.audit_append_timeout_ms))
    }

    /// Appends an entry; returns its sequence number once it is durable.
    /// Past the deadline it answers 503 `audit_unavailable`; the entry is
    /// still appended when the database lets it.
    pub async fn append(&self, entry: NewEntry) -> Result<u64, ApiError> {
        let rx = self.submit(entry)?;
        match tokio::time::timeout(self.deadline(), rx).await {
            Ok(answer) => answer.map_err(|_| stopped())?,
            Err(_) => Err(late(self.deadline())),
        }
    }

    /// [`AuditLog::append`] for blocking contexts (the CLI, blocking tasks);
    /// never call it on an async executor thread.
    pub fn append_blocking(&self, entry: NewEntry) -> Result<u64, ApiError> {
        let rx = self.submit(entry)?;
        wait_blocking(rx, self.deadline())
    }

    fn submit(
        &self,
        entry: NewEntry,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<u64, ApiError>>, ApiError> {
        // One bad entry must not fail a whole batch: check and encode it
        // here, on the appender's thread.
        let prepared = entry
            .prepare()
            .map_err(|e| ApiError::internal_from("audit entry refused", e))?;
        self.with_sequencer(|s| s.submit(entry, prepared))
    }

    fn with_sequencer<T>(
        &self,
        f: impl FnOnce(&Sequencer) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = self
            .sequencer
            .lock()
            .map_err(|_| ApiError::internal("audit sequencer lock poisoned"))?;
        let sequencer = match guard.as_mut() {
            Some(s) if s.is_running() => s,
            _ => guard.insert(Sequencer::start(
                Arc::clone(&self.shared),
                self.pool.clone(),
            )?),
        };
        f(sequencer)
    }

    /// Waits until the entries staged by a committed change
    /// ([`stage`]) are in the log, up to the deadline; returns their
    /// sequence numbers, or `None` past the deadline (the entries are safe
    /// in the hand-over table and will be numbered).
    pub async fn settle(&self, queue_ids: &[i64]) -> Option<Vec<u64>> {
        let receivers = self.watch_all(queue_ids)?;
        let all = futures_util::future::join_all(receivers);
        match tokio::time::timeout(self.deadline(), all).await {
            Ok(answers) => answers
                .into_iter()
                .map(|a| a.ok().and_then(Result::ok))
                .collect(),
            Err(_) => {
                tracing::warn!(
                    entries = queue_ids.len(),
                    "audit entries of a committed change not numbered within the deadline; they wait in the hand-over table"
                );
                None
            }
        }
    }

    /// [`AuditLog::settle`] for blocking contexts (the CLI).
    pub fn settle_blocking(&self, queue_ids: &[i64]) -> Option<Vec<u64>> {
        let receivers = self.watch_all(queue_ids)?;
        let mut out = Vec::with_capacity(receivers.len());
        for rx in receivers {
            match wait_blocking(rx, self.deadline()) {
                Ok(seq) => out.push(seq),
                Err(error) => {
                    tracing::warn!(error = %error.chain(), "audit entry of a committed change not numbered yet; it waits in the hand-over table");
                    return None;
                }
            }
        }
        Some(out)
    }

    fn watch_all(
        &self,
        queue_ids: &[i64],
    ) -> Option<Vec<tokio::sync::oneshot::Receiver<Result<u64, ApiError>>>> {
        self.with_sequencer(|s| queue_ids.iter().map(|id| s.watch(*id)).collect())
            .map_err(|error| tracing::warn!(%error, "cannot wait for staged audit entries"))
            .ok()
    }

    /// The log's signer: from `log_signer_key_file`, or from
    /// `<data_dir>/keys/log.key`, made on first use.
    pub fn signer(&self) -> Result<Arc<LogSigner>, ApiError> {
        self.shared.signer()
    }

    /// The verifier key string (`name+hash+base64key`).
    pub fn verifier_key(&self) -> Result<String, ApiError> {
        Ok(self.signer()?.verifier_key().to_string())
    }

    /// The latest checkpoint covering at least `min_size` entries: the
    /// stored one, or a new one of the current size.
    pub fn checkpoint_covering(
        &self,
        conn: &mut DbConnection,
        min_size: u64,
    ) -> Result<SignedCheckpoint, ApiError> {
        if let Some(row) = store::latest_checkpoint(conn)?
            && row.size as u64 >= min_size
            && let Some(root) = Hash::from_slice(&row.root_hash)
        {
            return Ok(SignedCheckpoint {
                size: row.size as u64,
                root,
                note: row.note,
            });
        }
        let size = store::tree_size(conn)?;
        if size < min_size {
            return Err(ApiError::NotFound {
                code: "audit_entry_not_found",
                detail: format!("the audit log has {size} entries"),
            });
        }
        self.shared.checkpoint(conn, size)
    }

    /// The latest checkpoint (a new one when none is stored yet).
    pub fn latest_checkpoint(&self, conn: &mut DbConnection) -> Result<SignedCheckpoint, ApiError> {
        self.checkpoint_covering(conn, 0)
    }

    /// Entry `seq` with its inclusion proof against the latest checkpoint,
    /// and the stored row (to decide who may read it). The proof carries
    /// no salt: see [`EntryProof::with_salt`].
    pub fn entry_with_proof(
        &self,
        conn: &mut DbConnection,
        seq: u64,
    ) -> Result<(EntryRow, EntryProof), ApiError> {
        let row = store::entry(conn, seq)?.ok_or_else(|| ApiError::NotFound {
            code: "audit_entry_not_found",
            detail: format!("no audit entry {seq}"),
        })?;
        let checkpoint = self.checkpoint_covering(conn, seq + 1)?;
        let proof = prove(conn, &row, &checkpoint)?;
        Ok((row, proof))
    }

    /// The entries about `person` that match `filter`, newest first, each
    /// with its inclusion proof against one checkpoint and its salt: for
    /// the citizen's access log.
    pub fn entries_for_person(
        &self,
        conn: &mut DbConnection,
        person: &str,
        filter: &EntryFilter,
        page: Page,
    ) -> Result<Vec<EntryProof>, ApiError> {
        let rows = store::person_entries(conn, person, filter, page)?;
        let Some(max) = rows.iter().map(|r| r.seq as u64).max() else {
            return Ok(Vec::new());
        };
        let checkpoint = self.checkpoint_covering(conn, max + 1)?;
        rows.iter()
            .map(|r| Ok(prove(conn, r, &checkpoint)?.with_salt(r)))
            .collect()
    }
}

fn stopped() -> ApiError {
    ApiError::internal("the audit sequencer stopped")
}

/// The answer past the deadline.
fn late(deadline: std::time::Duration) -> ApiError {
    ApiError::AuditUnavailable(format!(
        "the audit log could not record this within {} ms; nothing was released",
        deadline.as_millis()
    ))
}

/// Waits on a blocking thread for an answer of the sequencer.
fn wait_blocking(
    rx: tokio::sync::oneshot::Receiver<Result<u64, ApiError>>,
    deadline: std::time::Duration,
) -> Result<u64, ApiError> {
    let until = std::time::Instant::now() + deadline;
    let mut rx = rx;
    loop {
        match rx.try_recv() {
            Ok(answer) => return answer,
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => return Err(stopped()),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
        }
        if std::time::Instant::now() >= until {
            return Err(late(deadline));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The hashes of `tile` (C2SP tlog-tiles), read from the stored tree.
pub fn read_tile(
    conn: &mut DbConnection,
    tile: &audit::Tile,
) -> Result<Vec<u8>, audit::AuditError> {
    audit::tile::read_tile_data(tile, &DbHashReader::new(conn))
}

/// The consistency proof between the stored tree's sizes `from` and `to`.
pub fn prove_consistency(
    conn: &mut DbConnection,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>, audit::AuditError> {
    audit::prove_consistency(from, to, &DbHashReader::new(conn))
}

/// Runs a change and stages its audit entries in one write transaction
/// (see [`crate::store::write`]): `f` returns its result and the entries.
/// Returns the result and the entries' hand-over ids.
pub fn commit_change<T>(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    mut f: impl FnMut(&mut DbConnection) -> Result<(T, Vec<NewEntry>), ApiError>,
) -> Result<(T, Vec<i64>), ApiError> {
    crate::store::write(conn, |conn| {
        let (value, entries) = f(conn)?;
        let staged = stage(conn, &entries, now)?;
        Ok((value, staged))
    })
}

/// Inside the transaction of a change: writes its audit entries into the
/// hand-over table, so that the change and its entries commit together.
/// Returns their hand-over ids (for [`AuditLog::settle`]). An entry that
/// cannot be encoded fails the change.
pub fn stage(
    conn: &mut DbConnection,
    entries: &[NewEntry],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, ApiError> {
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        entry
            .prepare()
            .map_err(|e| ApiError::internal_from("audit entry refused", e))?;
        let json =
            serde_json::to_string(entry).map_err(|e| ApiError::internal_from("audit entry", e))?;
        rows.push((sequencer::new_queue_id(), json));
    }
    store::enqueue(conn, &rows, now)?;
    Ok(rows.into_iter().map(|(id, _)| id).collect())
}

impl EntryProof {
    /// The proof with the salt of `row`'s commitments: only for the person
    /// concerned and for operators.
    pub fn with_salt(mut self, row: &EntryRow) -> Self {
        self.subject_salt = row.subject_salt.clone();
        self
    }
}

/// An entry's inclusion proof, without its salt.
fn prove(
    conn: &mut DbConnection,
    row: &EntryRow,
    checkpoint: &SignedCheckpoint,
) -> Result<EntryProof, ApiError> {
    let internal = |e: audit::AuditError| ApiError::internal_from("audit proof", e);
    let seq = row.seq as u64;
    let proof =
        audit::prove_inclusion(seq, checkpoint.size, &DbHashReader::new(conn)).map_err(internal)?;
    let leaf = audit::leaf_hash(row.entry.as_bytes());
    let entry: serde_json::Value = serde_json::from_str(&row.entry)
        .map_err(|e| ApiError::internal_from(format!("audit entry {seq}"), e))?;
    Ok(EntryProof {
        seq,
        entry,
        entry_json: row.entry.clone(),
        leaf_hash: leaf.to_base64(),
        tree_size: checkpoint.size,
        inclusion_proof: proof.iter().map(Hash::to_base64).collect(),
        checkpoint: checkpoint.note.clone(),
        subject_salt: None,
    })
}

impl Shared {
    pub(crate) fn signer(&self) -> Result<Arc<LogSigner>, ApiError> {
        let mut guard = self
            .signer
            .lock()
            .map_err(|_| ApiError::internal("log signer lock poisoned"))?;
        if let Some(signer) = guard.as_ref() {
            return Ok(Arc::clone(signer));
        }
        let path = self.config.log_signer_key_path();
        let signer = Arc::new(load_or_make_signer(&path, &self.origin)?);
        *guard = Some(Arc::clone(&signer));
        Ok(signer)
    }

    /// Signs and stores the checkpoint of `size` entries.
    pub(crate) fn checkpoint(
        &self,
        conn: &mut DbConnection,
        size: u64,
    ) -> Result<SignedCheckpoint, ApiError> {
        let root = audit::tree_hash(size, &DbHashReader::new(conn))
            .map_err(|e| ApiError::internal_from("audit tree hash", e))?;
        let signer = self.signer()?;
        let note = Checkpoint::new(signer.name(), size, root)
            .map_err(|e| ApiError::internal_from("audit checkpoint", e))?
            .sign(&signer);
        store::insert_checkpoint(conn, size, &root, &note, self.clock.now())?;
        if let Err(error) = remember(&self.config, size, &note) {
            tracing::warn!(%error, "checkpoint not kept outside the database");
        }
        Ok(SignedCheckpoint { size, root, note })
    }
}

/// Where the hub keeps, outside the database, the latest checkpoint it
/// signed: a database restored from an older backup is noticed at start.
pub fn witness_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("audit-checkpoint.note")
}

/// The size in the kept checkpoint, if any (not verified).
fn remembered_size(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().nth(1)?.trim().parse().ok()
}

/// Keeps `note` (of `size` entries) outside the database, unless a larger
/// one is kept already; written to a temporary file and renamed.
fn remember(config: &Config, size: u64, note: &str) -> std::io::Result<()> {
    let path = witness_path(config);
    if remembered_size(&path).is_some_and(|kept| kept > size) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        crate::secrets::create_private_dir(dir)?;
    }
    let tmp = path.with_extension(format!("note.{}", std::process::id()));
    std::fs::write(&tmp, note)?;
    std::fs::rename(&tmp, &path)
}

/// Why the hub must not serve this database's log.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// The database's log is shorter than a checkpoint the hub signed.
    #[error(
        "the database's audit log has {database} entries, but this hub signed a checkpoint of {signed} entries ({path}): the database looks restored from an older backup, and serving it would fork the public log. Restore the newest backup; or, to go on from this database knowingly, run `crossroads audit accept-database`"
    )]
    Shorter {
        /// Entries in the database.
        database: u64,
        /// The kept checkpoint's size.
        signed: u64,
        /// The kept checkpoint's file.
        path: String,
    },
    /// The database's log has a different history than the checkpoint.
    #[error(
        "the database's audit log ({database} entries) is not consistent with the checkpoint of {signed} entries this hub signed ({path}): its first {signed} entries differ. Serving it would fork the public log; to go on from this database knowingly, run `crossroads audit accept-database`"
    )]
    Inconsistent {
        /// Entries in the database.
        database: u64,
        /// The kept checkpoint's size.
        signed: u64,
        /// The kept checkpoint's file.
        path: String,
    },
    /// The kept checkpoint cannot be read or verified.
    #[error("the checkpoint kept in {path} is unreadable: {detail}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The database could not be read.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl AuditLog {
    /// Checks the database's log against the checkpoint kept outside it:
    /// the database must hold at least as many entries, with the same first
    /// ones. Call it before serving.
    pub fn check_not_rolled_back(&self, conn: &mut DbConnection) -> Result<(), RollbackError> {
        let path = witness_path(&self.shared.config);
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(RollbackError::Unreadable {
                    path: shown,
                    detail: e.to_string(),
                });
            }
        };
        let key = self.verifier_key()?;
        let kept =
            Checkpoint::parse_and_verify(&text, &key).map_err(|e| RollbackError::Unreadable {
                path: shown.clone(),
                detail: e.to_string(),
            })?;
        let database = store::tree_size(conn).map_err(ApiError::from)?;
        if database < kept.size {
            return Err(RollbackError::Shorter {
                database,
                signed: kept.size,
                path: shown,
            });
        }
        let root = audit::tree_hash(kept.size, &DbHashReader::new(conn))
            .map_err(|e| ApiError::internal_from("audit tree hash", e))?;
        if root != kept.root_hash {
            return Err(RollbackError::Inconsistent {
                database,
                signed: kept.size,
                path: shown,
            });
        }
        Ok(())
    }

    /// Accepts the database's log as it is: the kept checkpoint is replaced
    /// by a new one of the database's size, and the decision is audited.
    /// Returns the kept size before and the size now.
    pub fn accept_database(&self, conn: &mut DbConnection) -> Result<(Option<u64>, u64), ApiError> {
        let path = witness_path(&self.shared.config);
        let before = remembered_size(&path);
        let entry = NewEntry::new(
            "audit.database_accepted",
            audit::Actor::new(audit::ActorType::Operator, "console"),
            Outcome::Recorded,
        )?
        .with_details(serde_json::json!({
            "kept_checkpoint_size": before,
            "database_size": store::tree_size(conn)?,
        }));
        if let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(ApiError::internal(format!("{}: {error}", path.display())));
        }
        self.append_blocking(entry)?;
        // Sign the tree as it now is, which keeps it outside the database.
        let size = store::tree_size(conn)?;
        self.shared.checkpoint(conn, size)?;
        Ok((before, size))
    }
}

/// Reads the signer key string at `path`, or makes a new key named `name`
/// and writes it there (mode 0600).
pub fn load_or_make_signer(path: &Path, name: &str) -> Result<LogSigner, ApiError> {
    let file_error = |e: std::io::Error| {
        ApiError::internal_from(format!("log signer key {}", path.display()), e)
    };
    let parse = |text: &str| {
        LogSigner::from_signer_key(text.trim())
            .map_err(|e| ApiError::internal_from(format!("log signer key {}", path.display()), e))
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(e)),
    }
    let signer =
        LogSigner::generate(name).map_err(|e| ApiError::internal_from("log signer key", e))?;
    let text = format!("{}\n", signer.signer_key_string());
    if crate::secrets::write_new(path, text.as_bytes()).map_err(file_error)? {
        tracing::info!(key = %signer.verifier_key(), "audit log key made");
        Ok(signer)
    } else {
        // Another process made it first: use that one.
        std::thread::sleep(std::time::Duration::from_millis(50));
        parse(&std::fs::read_to_string(path).map_err(file_error)?)
    }
}

/// Base64 of a list of hashes.
pub fn base64_hashes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h.0)).collect()
}
