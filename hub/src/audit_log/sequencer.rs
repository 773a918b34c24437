//! The sequencer: one thread per process that gives entries their sequence
//! numbers and makes them durable in batches (group commit).
//!
//! Entries reach it two ways. A lookup's entry is submitted in memory and
//! goes into the next batch. A change of state (a person, an agency, a
//! consent…) writes its entry into the hand-over table `audit_queue` in the
//! same transaction as the change ([`super::stage`]); the sequencer numbers
//! it moments later, and the caller may wait for that number.
//!
//! Every entry waiting when a commit ends goes into the next transaction:
//! the entries, their stored Merkle hashes ([`audit::append_batch`]), the
//! hand-over rows they came from deleted, and one commit, after which every
//! waiter learns its sequence number. Sequence numbers come from the stored
//! tree size read inside that transaction, so no process-local counter can
//! diverge from the database.
//!
//! One process at a time is the sequencer of a database: on PostgreSQL the
//! one holding the advisory lock [`store::SEQUENCER_LOCK`] (on the
//! connection it writes with), on SQLite the one holding an OS file lock
//! (`flock`) beside the database file. The kernel or the server frees the
//! lock when its holder dies. The others (more hub processes, or a command
//! run while `serve` runs) hand their entries over through `audit_queue`
//! and poll until the sequencer has stored them. The sequencer drains that
//! table whoever wrote it, in the order committed rows become visible (it
//! never waits for a gap), so nothing is stranded and nothing is sequenced
//! twice: a hand-over row is deleted in the transaction that stores its
//! entry.
//!
//! A failed commit loses nothing: its entries stay in memory (or in the
//! hand-over table) and the next round tries again, after a backoff. The
//! sequencer keeps its role through transient failures (a lock held by a
//! writer, a serialization failure); callers bound their own wait.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{NewEntry, Prepared, Shared};
use crate::app::config::DatabaseUrl;
use crate::http::error::{ApiError, ResultExt};
use crate::store::audit::{self as store, DbHashReader, EntryRow};
use crate::store::{DbConnection, Manager, Pool, StoreError, Transient};

/// Most entries in one transaction.
pub const MAX_BATCH: usize = 2_000;
/// Under load, the sequencer waits at most this long (and at most as long
/// as its last commit took) for the appenders it just answered to submit
/// again before it commits what it has.
const GATHER_MAX: Duration = Duration::from_millis(3);
/// A checkpoint is signed at least this often while the tree grows, and
/// at most this long after it has grown.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How often a process that handed entries over looks for their numbers,
/// and how often the PostgreSQL sequencer looks at the hand-over table.
const POLL: Duration = Duration::from_millis(4);
/// How often the SQLite sequencer looks at the hand-over table when
/// nothing else wakes it (entries staged in this process wake it at once).
const QUEUE_POLL: Duration = Duration::from_millis(20);
/// How long a stopping worker still waits for handed-over entries.
const GIVE_UP: Duration = Duration::from_secs(10);
/// How often a process that is not the sequencer tries to become it.
const LOCK_RETRY: Duration = Duration::from_millis(50);
/// How often the sequencer looks for lookups interrupted by a crash.
const RECONCILE_EVERY: Duration = Duration::from_secs(5);
/// Most interrupted lookups audited in one transaction.
const RECONCILE_BATCH: i64 = 500;
/// The longest pause after failed commits.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How often the hand-over table's depth and the checkpoint's age are
/// read for the metrics.
const OBSERVE_EVERY: Duration = Duration::from_secs(1);

type Reply = oneshot::Sender<Result<u64, ApiError>>;

// Entries are nearly every job: they are stored in place, without an
// allocation each.
#[allow(clippy::large_enum_variant)]
enum Job {
    /// An entry to append in the next batch.
    Append(Local),
    /// An entry already in the hand-over table: answer once it is numbered.
    Await { queue_id: i64, reply: Reply },
    /// Look at the hand-over table now.
    Wake,
}

/// An entry of this process waiting for a commit.
struct Local {
    entry: NewEntry,
    prepared: Prepared,
    reply: Reply,
}

/// The jobs submitted to the sequencer and not yet taken by it.
///
/// Submitting takes a lock and pushes onto a list; it wakes the
/// sequencer only when the sequencer sleeps and the list has just reached
/// the length it waits for. A batch of entries then costs one wake-up of
/// the sequencer, not one per entry.
struct Inbox {
    state: Mutex<InboxState>,
    ready: Condvar,
}

struct InboxState {
    jobs: Vec<Job>,
    /// While the sequencer sleeps: the number of jobs it waits for (0
    /// while it is awake).
    wake_at: usize,
    /// Whether the handle still accepts jobs.
    open: bool,
}

impl Inbox {
    fn new() -> Self {
        Self {
            state: Mutex::new(InboxState {
                jobs: Vec::new(),
                wake_at: 0,
                open: true,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, InboxState> {
        // A panic while the lock was held left the list itself whole.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, job: Job) -> Result<(), ApiError> {
        let wake = {
            let mut state = self.lock();
            if !state.open {
                return Err(stopped());
            }
            state.jobs.push(job);
            let wake = state.wake_at > 0 && state.jobs.len() >= state.wake_at;
            if wake {
                state.wake_at = 0;
            }
            wake
        };
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Accepts no more jobs and wakes the sequencer.
    fn close(&self) {
        self.lock().open = false;
        self.ready.notify_one();
    }

    /// Moves the waiting jobs into `out` once there is one, waiting at
    /// most until `first_by` (forever if `None`); then, if the first jobs
    /// are fewer than `want`, waits at most `linger` more for `want` of
    /// them. Returns whether the inbox is still open.
    fn take(
        &self,
        out: &mut Vec<Job>,
        first_by: Option<Instant>,
        want: usize,
        linger: Duration,
    ) -> bool {
        let mut state = self.lock();
        state = self.wait_for(state, 1, first_by);
        if !state.jobs.is_empty() && state.jobs.len() < want {
            state = self.wait_for(state, want, Some(Instant::now() + linger));
        }
        out.append(&mut state.jobs);
        state.open
    }

    /// Sleeps until `want` jobs wait, the inbox closes, or `until` passes.
    fn wait_for<'a>(
        &self,
        mut state: MutexGuard<'a, InboxState>,
        want: usize,
        until: Option<Instant>,
    ) -> MutexGuard<'a, InboxState> {
        while state.open && state.jobs.len() < want {
            state.wake_at = want;
            state = match until {
                None => self
                    .ready
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
        state.wake_at = 0;
        state
    }
}

/// Closes the inbox when the sequencer thread ends, however it ends:
/// later submissions fail at once, and the entries still in it are
/// dropped, which tells their callers that the sequencer stopped.
struct ClosedOnExit(Arc<Inbox>);

impl Drop for ClosedOnExit {
    fn drop(&mut self) {
        let left = {
            let mut state = self.0.lock();
            state.open = false;
            std::mem::take(&mut state.jobs)
        };
        drop(left);
    }
}

/// The handle of a running sequencer thread.
pub struct Sequencer {
    inbox: Arc<Inbox>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Sequencer {
    /// Lets the thread answer what it holds and sign a last checkpoint.
    fn drop(&mut self) {
        self.inbox.close();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn stopped() -> ApiError {
    ApiError::internal("the audit sequencer stopped")
}

impl Sequencer {
    /// Starts the thread; it opens its own connection at once.
    pub(crate) fn start(shared: Arc<Shared>, _pool: Pool) -> Result<Self, ApiError> {
        let inbox = Arc::new(Inbox::new());
        let database = shared.config.database();
        let manager = Manager::new(
            database.clone(),
            Duration::from_millis(u64::from(shared.config.sqlite_busy_timeout_ms)),
        );
        let lock_path = match &database {
            DatabaseUrl::Sqlite { path } => Some(lock_file_path(path)),
            DatabaseUrl::Postgres { .. } => None,
        };
        // Wake it once: it drains what earlier processes handed over and
        // signs a tail left unsigned.
        inbox.push(Job::Wake)?;
        let worker_inbox = Arc::clone(&inbox);
        let handle = std::thread::Builder::new()
            .name("audit-sequencer".to_owned())
            .spawn(move || {
                let inbox = ClosedOnExit(worker_inbox);
                Worker::new(shared, manager, lock_path).run(&inbox.0);
            })
            .map_err(|e| ApiError::internal_from("cannot start the audit sequencer", e))?;
        Ok(Self {
            inbox,
            handle: Some(handle),
        })
    }

    /// Whether the thread still runs.
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    fn send(&self, job: Job) -> Result<(), ApiError> {
        if !self.is_running() {
            return Err(stopped());
        }
        self.inbox.push(job)
    }

    /// Queues an entry; the receiver gets its sequence number once durable.
    pub(crate) fn submit(
        &self,
        entry: NewEntry,
        prepared: Prepared,
    ) -> Result<oneshot::Receiver<Result<u64, ApiError>>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Append(Local {
            entry,
            prepared,
            reply,
        }))?;
        Ok(rx)
    }

    /// Waits for an entry staged in the hand-over table: the receiver gets
    /// its sequence number once it is in the log.
    pub(crate) fn watch(
        &self,
        queue_id: i64,
    ) -> Result<oneshot::Receiver<Result<u64, ApiError>>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Await { queue_id, reply })?;
        Ok(rx)
    }
}

/// The lock file that elects the sequencer of an SQLite database.
pub fn lock_file_path(database: &std::path::Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".sequencer.lock");
    database.with_file_name(name)
}

struct Worker {
    shared: Arc<Shared>,
    manager: Manager,
    conn: Option<DbConnection>,
    /// SQLite: the lock file, held open while this process is the sequencer.
    lock_path: Option<PathBuf>,
    lock_file: Option<File>,
    leader: bool,
    last_lock_try: Option<Instant>,
    /// Entries of this process not yet committed.
    pending: Vec<Local>,
    /// Entries in the hand-over table, by hand-over id.
    waiting: HashMap<i64, Reply>,
    /// The size of the last checkpoint this worker signed (or found), and
    /// when.
    checkpointed: (u64, Instant),
    /// The tree size after this worker's last commit.
    size: u64,
    /// Consecutive failed rounds, and when the next may run.
    failures: u32,
    retry_at: Option<Instant>,
    /// When consent-use reservations were last looked at.
    reconciled: Option<Instant>,
    /// Since when the oldest entry not covered by a signed checkpoint has
    /// waited for one (`None`: every entry is covered).
    unsigned_since: Option<Instant>,
    /// When the gauges read from the database were last refreshed.
    observed: Option<Instant>,
    /// How many entries of this process the last commit answered, and how
    /// long it took.
    answered: usize,
    last_commit: Duration,
}

impl Worker {
    fn new(shared: Arc<Shared>, manager: Manager, lock_path: Option<PathBuf>) -> Self {
        Self {
            shared,
            manager,
            conn: None,
            lock_path,
            lock_file: None,
            leader: false,
            last_lock_try: None,
            pending: Vec::new(),
            waiting: HashMap::new(),
            checkpointed: (0, Instant::now()),
            size: 0,
            failures: 0,
            retry_at: None,
            reconciled: None,
            unsigned_since: None,
            observed: None,
            answered: 0,
            last_commit: Duration::ZERO,
        }
    }

    fn dirty(&self) -> bool {
        self.leader && self.size > self.checkpointed.0
    }

    fn busy(&self) -> bool {
        !self.pending.is_empty() || !self.waiting.is_empty()
    }

    /// How the next round gathers its jobs: until when to wait for the
    /// first one (`None`: as long as it takes), how many to wait for after
    /// it, and for how long at most.
    ///
    /// Entries left over from a full batch go into the next one at once.
    /// Under load (the last commit answered several entries of this
    /// process) the sequencer waits for as many as it answered, for at
    /// most [`GATHER_MAX`] and at most as long as that commit took: the
    /// appenders just answered are submitting again, and one commit of all
    /// of them costs one fsync instead of many. A lone appender never
    /// waits.
    fn plan(&self) -> (Option<Instant>, usize, Duration) {
        let now = Instant::now();
        if self.leader && self.retry_at.is_none() && !self.pending.is_empty() {
            return (Some(now), 0, Duration::ZERO);
        }
        let first_by = self.timeout().map(|t| now + t);
        if self.answered > 1 {
            (first_by, self.answered, self.last_commit.min(GATHER_MAX))
        } else {
            (first_by, 0, Duration::ZERO)
        }
    }

    fn timeout(&self) -> Option<Duration> {
        let mut t: Option<Duration> = None;
        let mut at_most = |d: Duration| t = Some(t.map_or(d, |t| t.min(d)));
        if let Some(at) = self.retry_at {
            at_most(at.saturating_duration_since(Instant::now()));
        } else if self.busy() {
            at_most(POLL);
        }
        if self.leader {
            at_most(if self.lock_path.is_some() {
                QUEUE_POLL
            } else {
                POLL
            });
        } else {
            // Not the sequencer: try to become it now and then, so that
            // handed-over entries never wait for a process that is gone.
            at_most(Duration::from_millis(250));
        }
        if self.dirty() {
            at_most(CHECKPOINT_EVERY.saturating_sub(self.checkpointed.1.elapsed()));
        }
        t
    }

    fn run(mut self, inbox: &Inbox) {
        let mut open = true;
        let mut closed_at: Option<Instant> = None;
        let mut jobs = Vec::new();
        while open || self.busy() {
            if !open && closed_at.get_or_insert_with(Instant::now).elapsed() > GIVE_UP {
                let why = "the audit sequencer stopped before the entry was stored";
                for local in self.pending.drain(..) {
                    let _ = local.reply.send(Err(ApiError::internal(why)));
                }
                for (_, reply) in self.waiting.drain() {
                    let _ = reply.send(Err(ApiError::internal(why)));
                }
                break;
            }
            if open {
                let (first_by, want, linger) = self.plan();
                open = inbox.take(&mut jobs, first_by, want, linger);
            } else {
                std::thread::sleep(POLL);
            }
            for job in jobs.drain(..) {
                match job {
                    Job::Append(local) => self.pending.push(local),
                    Job::Await { queue_id, reply } => {
                        self.waiting.insert(queue_id, reply);
                    }
                    Job::Wake => {}
                }
            }
            self.observe();
            if self.retry_at.is_some_and(|at| Instant::now() < at) {
                continue;
            }
            self.retry_at = None;
            self.step();
        }
        if self.dirty() {
            self.checkpoint();
        }
        // The lock goes with the connection and the file.
        self.shared.metrics.audit_sequencer(false);
    }

    /// One round: append or hand over the pending entries, collect
    /// handed-over results, sign a checkpoint when one is due.
    fn step(&mut self) {
        if self.conn.is_none() {
            match self.manager.open() {
                Ok(conn) => self.conn = Some(conn),
                Err(error) => {
                    tracing::error!(%error, "audit sequencer cannot connect");
                    self.failed();
                    return;
                }
            }
        }
        if !self.leader {
            self.try_lead();
        }
        let ok = if self.leader {
            self.commit()
        } else {
            self.hand_over()
        };
        if ok && !self.waiting.is_empty() {
            self.collect();
        }
        if ok
            && self.leader
            && self
                .reconciled
                .is_none_or(|at| at.elapsed() >= RECONCILE_EVERY)
        {
            self.reconcile();
        }
        if self.dirty() && self.checkpointed.1.elapsed() >= CHECKPOINT_EVERY {
            self.checkpoint();
        }
    }

    /// Refreshes, at most once every [`OBSERVE_EVERY`], the gauges of the
    /// hand-over table (sequencer or not) and of the checkpoint's age.
    fn observe(&mut self) {
        if self.observed.is_some_and(|at| at.elapsed() < OBSERVE_EVERY) {
            return;
        }
        self.observed = Some(Instant::now());
        let metrics = &self.shared.metrics;
        metrics.audit_checkpoint_age(match self.unsigned_since {
            Some(since) if self.leader => since.elapsed(),
            _ => Duration::ZERO,
        });
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match store::queue_depth(conn) {
            Ok((depth, oldest)) => {
                let now = self.shared.clock.now();
                let age = oldest.and_then(|at| (now - at.and_utc()).to_std().ok());
                metrics.audit_queue(depth, age);
            }
            Err(error) => tracing::debug!(%error, "audit hand-over table not measured"),
        }
    }

    /// Notes that the tree grew past the latest checkpoint at `at`.
    fn grew(&mut self, size: u64, at: Instant) {
        self.size = size;
        self.shared.metrics.audit_tree_size(size);
        if size > self.checkpointed.0 && self.unsigned_since.is_none() {
            self.unsigned_since = Some(at);
        }
    }

    /// Pauses the next round, longer after each failure in a row.
    fn failed(&mut self) {
        self.shared.metrics.audit_commit_failed();
        self.failures = self.failures.saturating_add(1);
        let backoff = Duration::from_millis(10u64 << self.failures.min(7)).min(MAX_BACKOFF);
        self.retry_at = Some(Instant::now() + backoff);
    }

    fn try_lead(&mut self) {
        if self
            .last_lock_try
            .is_some_and(|at| at.elapsed() < LOCK_RETRY)
        {
            return;
        }
        self.last_lock_try = Some(Instant::now());
        let won = match &self.lock_path {
            Some(path) => match take_file_lock(path) {
                Ok(Some(file)) => {
                    self.lock_file = Some(file);
                    true
                }
                Ok(None) => false,
                Err(error) => {
                    tracing::error!(%error, path = %path.display(), "audit sequencer lock file");
                    false
                }
            },
            None => {
                let Some(conn) = self.conn.as_mut() else {
                    return;
                };
                match store::try_sequencer_lock(conn) {
                    Ok(won) => won,
                    Err(error) => {
                        self.broken(&error);
                        return;
                    }
                }
            }
        };
        if !won {
            return;
        }
        // Start from what is stored: the tree's size and the latest
        // checkpoint, so that a tail left unsigned (a crash) is signed
        // within a second, traffic or not.
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let found = store::tree_size(conn).and_then(|size| {
            let signed = store::latest_checkpoint(conn)?.map_or(0, |c| c.size as u64);
            // A tail left unsigned has waited since its first entry.
            let waiting = if size > signed {
                store::entry(conn, signed)?.map(|row| row.time)
            } else {
                None
            };
            Ok((size, signed, waiting))
        });
        match found {
            Ok((size, signed, waiting)) => {
                tracing::info!(
                    size,
                    signed,
                    "this process is now the audit log's sequencer"
                );
                self.leader = true;
                self.checkpointed = (
                    signed,
                    Instant::now()
                        .checked_sub(CHECKPOINT_EVERY)
                        .unwrap_or_else(Instant::now),
                );
                let now = Instant::now();
                let waited = waiting
                    .and_then(|at| (self.shared.clock.now() - at.and_utc()).to_std().ok())
                    .unwrap_or_default();
                self.unsigned_since = None;
                self.grew(size, now.checked_sub(waited).unwrap_or(now));
                self.shared.metrics.audit_sequencer(true);
                self.observed = None;
            }
            Err(error) => self.broken(&error),
        }
    }

    /// A failure that a new connection may cure: drop it (which frees the
    /// PostgreSQL lock) and the file lock, and try again after a pause.
    fn broken(&mut self, error: &dyn std::fmt::Display) {
        tracing::error!(%error, "audit sequencer database error; reconnecting");
        self.conn = None;
        self.lock_file = None;
        self.leader = false;
        self.unsigned_since = None;
        self.shared.metrics.audit_sequencer(false);
        self.shared.metrics.audit_checkpoint_age(Duration::ZERO);
        self.failed();
    }

    /// Stores the pending entries and the handed-over ones in one
    /// transaction; returns whether it went through.
    fn commit(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        // Look before taking the write lock: an idle sequencer must not
        // hold up other writers.
        if self.pending.is_empty() {
            match store::queue_is_empty(conn) {
                Ok(true) => {
                    self.answered = 0;
                    return true;
                }
                Ok(false) => {}
                Err(error) => {
                    self.broken(&error);
                    return false;
                }
            }
        }
        let now = self.shared.clock.now();
        let take = self.pending.len().min(MAX_BATCH);
        let room = MAX_BATCH.saturating_sub(take).max(1) as i64;
        let entries: Vec<&Prepared> = self.pending[..take].iter().map(|l| &l.prepared).collect();
        let started = Instant::now();
        let result = crate::store::write(conn, |conn| {
            let queued = store::queued(conn, room)?;
            if entries.is_empty() && queued.is_empty() {
                return Ok::<_, CommitError>(None);
            }
            append_rows(conn, &entries, &queued, now).map(Some)
        });
        match result {
            Ok(None) => {
                self.failures = 0;
                self.answered = 0;
                true
            }
            Ok(Some(done)) => {
                self.failures = 0;
                self.answered = take;
                self.last_commit = started.elapsed();
                self.shared
                    .metrics
                    .audit_committed(done.appended, self.last_commit);
                self.grew(done.size, started);
                let answered: Vec<Local> = self.pending.drain(..take).collect();
                for (local, seq) in answered.into_iter().zip(done.local) {
                    let _ = local.reply.send(seq);
                }
                for (queue_id, seq) in done.queued {
                    if let Some(reply) = self.waiting.remove(&queue_id) {
                        let _ = reply.send(Ok(seq));
                    }
                }
                true
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, entries = take, "audit batch not committed yet; retrying");
                self.failed();
                false
            }
            Err(error) => {
                self.broken(&error);
                false
            }
        }
    }

    /// Audits as `lookup.interrupted` every consent-use reservation left
    /// pending longer than any lookup can take: its process died between
    /// reserving (maybe calling the provider) and appending the lookup's
    /// entry. The entry settles the reservation in the same transaction;
    /// the use stays spent.
    fn reconcile(&mut self) {
        self.reconciled = Some(Instant::now());
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let now = self.shared.clock.now();
        let started = Instant::now();
        let cutoff = now
            - chrono::Duration::seconds(i64::from(
                self.shared.config.lookup_interrupted_after_secs,
            ));
        let result = crate::store::write(conn, |conn| {
            let pending = crate::store::consents::pending_uses(conn, cutoff, RECONCILE_BATCH)?;
            if pending.is_empty() {
                return Ok::<_, CommitError>(None);
            }
            let mut prepared = Vec::with_capacity(pending.len());
            for (exchange, consent, reserved_at) in pending {
                let Some(row) = crate::store::consents::get(conn, &consent)? else {
                    continue;
                };
                let entry = interrupted_entry(&exchange, &row, reserved_at)
                    .and_then(|e| e.prepare().internal("an audit entry cannot be prepared"));
                match entry {
                    Ok(p) => prepared.push(p),
                    Err(error) => {
                        tracing::error!(error = %error.chain(), exchange_id = %exchange, "interrupted lookup not auditable");
                    }
                }
            }
            let refs: Vec<&Prepared> = prepared.iter().collect();
            append_rows(conn, &refs, &[], now).map(|done| Some((done, refs.len())))
        });
        match result {
            Ok(None) => {}
            Ok(Some((done, n))) => {
                tracing::warn!(lookups = n, "interrupted lookups audited");
                self.shared
                    .metrics
                    .audit_committed(done.appended, started.elapsed());
                self.grew(done.size, started);
                // More may wait: look again at once.
                self.reconciled = None;
            }
            Err(error) => tracing::warn!(%error, "interrupted lookups not audited yet"),
        }
    }

    /// Hands the pending entries to the sequencer through the hand-over
    /// table; returns whether it went through.
    fn hand_over(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let mut rows = Vec::with_capacity(self.pending.len());
        for local in &self.pending {
            match serde_json::to_string(&local.entry) {
                Ok(json) => rows.push((new_queue_id(), json)),
                Err(e) => {
                    tracing::error!(error = %e, "audit entry not serialisable");
                    rows.push((new_queue_id(), String::new()));
                }
            }
        }
        let now = self.shared.clock.now();
        match crate::store::write(conn, |conn| store::enqueue(conn, &rows, now)) {
            Ok(()) => {
                self.failures = 0;
                for ((id, _), local) in rows.into_iter().zip(self.pending.drain(..)) {
                    self.waiting.insert(id, local.reply);
                }
                true
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "audit entries not handed over yet; retrying");
                self.failed();
                false
            }
            Err(error) => {
                self.broken(&error);
                false
            }
        }
    }

    /// Answers the handed-over entries that the sequencer has stored.
    fn collect(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let ids: Vec<i64> = self.waiting.keys().copied().collect();
        match store::sequenced(conn, &ids) {
            Ok(found) => {
                for (queue_id, seq) in found {
                    if let Some(reply) = self.waiting.remove(&queue_id) {
                        let _ = reply.send(Ok(seq as u64));
                    }
                }
            }
            Err(error) => self.broken(&error),
        }
    }

    fn checkpoint(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let size = self.size;
        match self.shared.checkpoint(conn, size) {
            Ok(_) => {
                self.checkpointed = (size, Instant::now());
                self.unsigned_since = None;
                self.shared.metrics.audit_checkpoint_age(Duration::ZERO);
            }
            Err(error) => {
                tracing::warn!(error = %error.chain(), size, "audit checkpoint not signed");
                self.checkpointed.1 = Instant::now();
            }
        }
    }
}

/// The entry of a lookup interrupted after it reserved a use of `consent`.
fn interrupted_entry(
    exchange: &str,
    consent: &crate::store::consents::ConsentRow,
    reserved_at: chrono::NaiveDateTime,
) -> Result<NewEntry, ApiError> {
    Ok(NewEntry::new(
        "lookup.interrupted",
        audit::Actor::new(audit::ActorType::Agency, consent.consumer.clone()),
        audit::Outcome::Error,
    )?
    .with_exchange(exchange)
    .with_consent(consent.id.clone())
    .with_person(consent.person.clone())
    .with_purpose(consent.purpose.clone())
    .with_deny_code("lookup_interrupted")
    .with_details(serde_json::json!({
        "reserved_at": reserved_at.and_utc().to_rfc3339(),
    })))
}

/// A new hand-over id: random, positive.
pub(crate) fn new_queue_id() -> i64 {
    (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64
}

/// Takes the sequencer's file lock, if no other process holds it.
fn take_file_lock(path: &std::path::Path) -> std::io::Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Why a batch could not be stored.
#[derive(Debug, thiserror::Error)]
enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("audit tree: {0}")]
    Tree(#[from] audit::AuditError),
}

impl Transient for CommitError {
    fn is_transient(&self) -> bool {
        match self {
            CommitError::Store(e) => e.is_transient(),
            CommitError::Query(e) => e.is_transient(),
            CommitError::Tree(audit::AuditError::Store(e)) => e
                .downcast_ref::<StoreError>()
                .is_some_and(Transient::is_transient),
            CommitError::Tree(_) => false,
        }
    }
}

struct Committed {
    size: u64,
    /// Entries stored.
    appended: usize,
    local: Vec<Result<u64, ApiError>>,
    queued: Vec<(i64, u64)>,
}

/// Inside a transaction: numbers and stores the local entries, then the
/// queued ones, with their Merkle hashes.
fn append_rows(
    conn: &mut DbConnection,
    local: &[&Prepared],
    queued: &[(i64, String)],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Committed, CommitError> {
    let now = audit::EncodedTime::new(now.into());
    let start = store::tree_size(conn)?;
    let mut next = start;
    let mut rows: Vec<EntryRow> = Vec::with_capacity(local.len() + queued.len());
    let mut leaves = Vec::with_capacity(local.len() + queued.len());
    let mut local_seqs = Vec::with_capacity(local.len());
    let mut settled: Vec<String> = Vec::new();
    for entry in local {
        if let Some(exchange) = &entry.settles {
            settled.push(exchange.clone());
        }
        match entry.to_row(next, &now, None) {
            Ok((row, leaf)) => {
                rows.push(row);
                leaves.push(leaf);
                local_seqs.push(Ok(next));
                next += 1;
            }
            Err(e) => local_seqs.push(Err(ApiError::internal(format!("audit entry refused: {e}")))),
        }
    }
    let mut queued_seqs = Vec::with_capacity(queued.len());
    for (id, json) in queued {
        let row = serde_json::from_str::<NewEntry>(json)
            .map_err(|e| audit::AuditError::InvalidEntry(e.to_string()))
            .and_then(|entry| entry.prepare())
            .inspect(|prepared| settled.extend(prepared.settles.clone()))
            .and_then(|prepared| prepared.to_row(next, &now, Some(*id)));
        match row {
            Ok((row, leaf)) => {
                rows.push(row);
                leaves.push(leaf);
                queued_seqs.push((*id, next));
                next += 1;
            }
            Err(error) => {
                tracing::error!(%error, queue_id = id, "handed-over audit entry dropped: invalid");
            }
        }
    }
    let hashes = audit::append_batch(start, &leaves, &DbHashReader::new(conn))?;
    store::insert_batch(conn, &rows, &hashes)?;
    let ids: Vec<i64> = queued.iter().map(|(id, _)| *id).collect();
    store::dequeue(conn, &ids)?;
    crate::store::consents::settle_reservations(conn, &settled)?;
    Ok(Committed {
        size: next,
        appended: rows.len(),
        local: local_seqs,
        queued: queued_seqs,
    })
}
