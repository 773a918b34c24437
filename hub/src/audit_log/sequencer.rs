//! The sequencer: one thread per process that gives entries their sequence
//! numbers and makes them durable in batches (group commit).
//!
//! Every entry waiting when a commit ends goes into the next transaction:
//! the entries, their stored Merkle hashes ([`audit::append_batch`]) and one
//! commit, after which every waiter learns its sequence number. Sequence
//! numbers come from the stored tree size read inside that transaction, so
//! no process-local counter can diverge from the database.
//!
//! On PostgreSQL several hub processes may share the log: the one holding
//! the advisory lock [`store::SEQUENCER_LOCK`] (on the connection it writes
//! with) is the sequencer; the others hand their entries over through
//! `audit_queue` and poll until the sequencer has stored them. When the
//! sequencer dies its session ends, the lock is freed, its uncommitted
//! transaction is rolled back, and the next process with entries to append
//! takes the lock and drains the queue: nothing acknowledged is lost and
//! nothing is sequenced twice (a queue row is deleted in the transaction that
//! stores its entry).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::Connection as _;
use tokio::sync::oneshot;

use super::{NewEntry, Prepared, Shared};
use crate::error::ApiError;
use crate::store::audit::{self as store, DbHashReader, EntryRow};
use crate::store::{DbConnection, Manager, Pool, StoreError};

/// Most entries in one transaction.
pub const MAX_BATCH: usize = 2_000;
/// Under load, the sequencer keeps gathering a batch while entries arrive
/// at most this far apart…
const GATHER_GAP: Duration = Duration::from_micros(200);
/// …and for at most this long.
const GATHER_MAX: Duration = Duration::from_millis(3);
/// A checkpoint is signed at least this often while entries arrive.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How often a process that handed entries over looks for their numbers,
/// and how often the PostgreSQL sequencer looks at the queue.
const POLL: Duration = Duration::from_millis(4);
/// How long a stopping worker still waits for handed-over entries.
const GIVE_UP: Duration = Duration::from_secs(10);
/// How often a process that is not the sequencer tries to become it.
const LOCK_RETRY: Duration = Duration::from_millis(50);

type Reply = oneshot::Sender<Result<u64, ApiError>>;

struct Job {
    /// The entry as given, for handing over to another process.
    entry: NewEntry,
    /// The entry encoded, for storing here.
    prepared: Prepared,
    reply: Reply,
}

/// The handle of a running sequencer thread.
pub struct Sequencer {
    tx: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Sequencer {
    /// Lets the thread answer what it holds and sign a last checkpoint.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Sequencer {
    /// Starts the thread; it opens its own connection on first use.
    pub(crate) fn start(shared: Arc<Shared>, _pool: Pool) -> Result<Self, ApiError> {
        let (tx, rx) = mpsc::channel();
        let manager = Manager::new(
            shared.config.database(),
            Duration::from_millis(u64::from(shared.config.sqlite_busy_timeout_ms)),
        );
        let handle = std::thread::Builder::new()
            .name("audit-sequencer".to_owned())
            .spawn(move || Worker::new(shared, manager).run(&rx))
            .map_err(|e| ApiError::Internal(format!("cannot start the audit sequencer: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Whether the thread still runs.
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Queues an entry; the receiver gets its sequence number once durable.
    pub(crate) fn submit(
        &self,
        entry: NewEntry,
        prepared: Prepared,
    ) -> Result<oneshot::Receiver<Result<u64, ApiError>>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .as_ref()
            .ok_or_else(|| ApiError::Internal("the audit sequencer stopped".to_owned()))?
            .send(Job {
                entry,
                prepared,
                reply,
            })
            .map_err(|_| ApiError::Internal("the audit sequencer stopped".to_owned()))?;
        Ok(rx)
    }
}

struct Worker {
    shared: Arc<Shared>,
    manager: Manager,
    conn: Option<DbConnection>,
    leader: bool,
    last_lock_try: Option<Instant>,
    /// Entries handed over through the queue, by queue id.
    waiting: HashMap<i64, Reply>,
    /// The size of the last checkpoint this worker signed, and when.
    checkpointed: (u64, Instant),
    /// The tree size after this worker's last commit.
    size: u64,
}

fn fail(jobs: Vec<Job>, why: &str) {
    fail_replies(jobs.into_iter().map(|j| j.reply), why);
}

fn fail_replies(replies: impl IntoIterator<Item = Reply>, why: &str) {
    for reply in replies {
        let _ = reply.send(Err(ApiError::Internal(why.to_owned())));
    }
}

impl Worker {
    fn new(shared: Arc<Shared>, manager: Manager) -> Self {
        Self {
            shared,
            manager,
            conn: None,
            leader: false,
            last_lock_try: None,
            waiting: HashMap::new(),
            checkpointed: (0, Instant::now()),
            size: 0,
        }
    }

    fn dirty(&self) -> bool {
        self.leader && self.size > self.checkpointed.0
    }

    fn is_postgres(&self) -> bool {
        matches!(self.conn, Some(DbConnection::Postgres(_)))
    }

    fn run(mut self, rx: &mpsc::Receiver<Job>) {
        let mut open = true;
        let mut closed_at: Option<Instant> = None;
        let mut last_batch = 0;
        while open || !self.waiting.is_empty() {
            if !open && closed_at.get_or_insert_with(Instant::now).elapsed() > GIVE_UP {
                for (_, reply) in self.waiting.drain() {
                    let _ = reply.send(Err(ApiError::Internal(
                        "the audit sequencer stopped before the entry was stored".to_owned(),
                    )));
                }
                break;
            }
            let timeout = if !self.waiting.is_empty() || (self.leader && self.is_postgres()) {
                Some(POLL)
            } else if self.dirty() {
                Some(CHECKPOINT_EVERY.saturating_sub(self.checkpointed.1.elapsed()))
            } else {
                None
            };
            let mut jobs = Vec::new();
            if open {
                let first = match timeout {
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(t) => rx.recv_timeout(t),
                };
                match first {
                    Ok(job) => jobs.push(job),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
                open &= gather(rx, &mut jobs, last_batch);
                last_batch = jobs.len();
            } else {
                std::thread::sleep(POLL);
            }
            self.step(jobs);
        }
        if self.dirty() {
            self.checkpoint();
        }
    }

    /// One round: append or hand over `jobs`, collect handed-over results,
    /// sign a checkpoint when one is due.
    fn step(&mut self, jobs: Vec<Job>) {
        if self.conn.is_none() {
            match self.manager.open() {
                Ok(conn) => self.conn = Some(conn),
                Err(error) => {
                    tracing::error!(%error, "audit sequencer cannot connect");
                    fail(jobs, "the audit log's database is unreachable");
                    std::thread::sleep(Duration::from_millis(100));
                    return;
                }
            }
        }
        if !self.leader && (!jobs.is_empty() || !self.waiting.is_empty()) {
            self.try_lead();
        }
        if self.leader {
            self.commit(jobs);
        } else {
            self.hand_over(jobs);
        }
        if !self.waiting.is_empty() {
            self.collect();
        }
        if self.dirty() && self.checkpointed.1.elapsed() >= CHECKPOINT_EVERY {
            self.checkpoint();
        }
    }

    fn try_lead(&mut self) {
        if self
            .last_lock_try
            .is_some_and(|at| at.elapsed() < LOCK_RETRY)
        {
            return;
        }
        self.last_lock_try = Some(Instant::now());
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match store::try_sequencer_lock(conn) {
            Ok(true) => {
                if conn.backend() == "postgres" {
                    tracing::info!("this process is now the audit log's sequencer");
                }
                self.leader = true;
                self.checkpointed.1 = Instant::now();
            }
            Ok(false) => {}
            Err(error) => self.broken(&error),
        }
    }

    fn broken(&mut self, error: &dyn std::fmt::Display) {
        tracing::error!(%error, "audit sequencer database error; reconnecting");
        // Dropping the connection ends the session and frees the lock.
        self.conn = None;
        self.leader = false;
    }

    /// Stores `jobs` and the queued entries in one transaction.
    fn commit(&mut self, jobs: Vec<Job>) {
        let postgres = self.is_postgres();
        let Some(conn) = self.conn.as_mut() else {
            fail(jobs, "the audit log's database is unreachable");
            return;
        };
        let now = self.shared.clock.now();
        let room = MAX_BATCH.saturating_sub(jobs.len()).max(1) as i64;
        let (entries, replies): (Vec<Prepared>, Vec<Reply>) =
            jobs.into_iter().map(|j| (j.prepared, j.reply)).unzip();
        let result = conn.transaction(|conn| {
            let queued = if postgres {
                store::queued(conn, room)?
            } else {
                Vec::new()
            };
            if entries.is_empty() && queued.is_empty() {
                return Ok::<_, CommitError>(None);
            }
            append_rows(conn, entries, &queued, now).map(Some)
        });
        match result {
            Ok(None) => {}
            Ok(Some(done)) => {
                self.size = done.size;
                for (reply, seq) in replies.into_iter().zip(done.local) {
                    let _ = reply.send(seq);
                }
                for (queue_id, seq) in done.queued {
                    if let Some(reply) = self.waiting.remove(&queue_id) {
                        let _ = reply.send(Ok(seq));
                    }
                }
            }
            Err(error) => {
                fail_replies(replies, "the audit log could not store the entry");
                self.broken(&error);
            }
        }
    }

    /// Hands `jobs` to the sequencer through the queue table.
    fn hand_over(&mut self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            fail(jobs, "the audit log's database is unreachable");
            return;
        };
        let mut rows = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let id = (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64;
            match serde_json::to_string(&job.entry) {
                Ok(json) => rows.push((id, json)),
                Err(e) => {
                    tracing::error!(error = %e, "audit entry not serialisable");
                    rows.push((id, String::new()));
                }
            }
        }
        let now = self.shared.clock.now();
        match conn.transaction(|conn| store::enqueue(conn, &rows, now)) {
            Ok(()) => {
                for ((id, _), job) in rows.into_iter().zip(jobs) {
                    self.waiting.insert(id, job.reply);
                }
            }
            Err(error) => {
                fail(jobs, "the audit log could not store the entry");
                self.broken(&error);
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
            Ok(_) => self.checkpointed = (size, Instant::now()),
            Err(error) => {
                tracing::warn!(%error, size, "audit checkpoint not signed");
                self.checkpointed.1 = Instant::now();
            }
        }
    }
}

/// Adds the jobs waiting in `rx` to `jobs`, up to [`MAX_BATCH`]; returns
/// whether the channel is still open.
///
/// Under load (the last batch held several entries) it keeps gathering
/// while entries keep coming, at most [`GATHER_GAP`] apart and for at most
/// [`GATHER_MAX`]: the appenders just answered are submitting again, and
/// one commit of all of them costs one fsync instead of many. A lone
/// appender never waits.
fn gather(rx: &mpsc::Receiver<Job>, jobs: &mut Vec<Job>, last_batch: usize) -> bool {
    let linger = last_batch > 1 && !jobs.is_empty();
    let deadline = Instant::now() + GATHER_MAX;
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => {
                jobs.push(job);
                continue;
            }
            Err(TryRecvError::Disconnected) => return false,
            Err(TryRecvError::Empty) => {}
        }
        let now = Instant::now();
        if !linger || now >= deadline || jobs.len() >= last_batch.saturating_mul(2) {
            break;
        }
        match rx.recv_timeout(GATHER_GAP.min(deadline - now)) {
            Ok(job) => jobs.push(job),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
    true
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

struct Committed {
    size: u64,
    local: Vec<Result<u64, ApiError>>,
    queued: Vec<(i64, u64)>,
}

/// Inside a transaction: numbers and stores the local entries, then the
/// queued ones, with their Merkle hashes.
fn append_rows(
    conn: &mut DbConnection,
    local: Vec<Prepared>,
    queued: &[(i64, String)],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Committed, CommitError> {
    let now = audit::EncodedTime::new(now.into());
    let start = store::tree_size(conn)?;
    let mut next = start;
    let mut rows: Vec<EntryRow> = Vec::with_capacity(local.len() + queued.len());
    let mut leaves = Vec::with_capacity(local.len() + queued.len());
    let mut local_seqs = Vec::with_capacity(local.len());
    for entry in local {
        match entry.into_row(next, &now, None) {
            Ok((row, leaf)) => {
                rows.push(row);
                leaves.push(leaf);
                local_seqs.push(Ok(next));
                next += 1;
            }
            Err(e) => local_seqs.push(Err(ApiError::Internal(format!("audit entry refused: {e}")))),
        }
    }
    let mut queued_seqs = Vec::with_capacity(queued.len());
    for (id, json) in queued {
        let row = serde_json::from_str::<NewEntry>(json)
            .map_err(|e| audit::AuditError::InvalidEntry(e.to_string()))
            .and_then(|entry| entry.prepare())
            .and_then(|prepared| prepared.into_row(next, &now, Some(*id)));
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
    Ok(Committed {
        size: next,
        local: local_seqs,
        queued: queued_seqs,
    })
}
