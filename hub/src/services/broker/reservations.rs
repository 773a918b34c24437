//! Consent-use reservations with group commit.
//!
//! A lookup that relies on a consent reserves one of its uses before the
//! provider is called, durably (a crash after the call must leave a trace).
//! One durable transaction per lookup would cost a commit (an fsync) each
//! and, on SQLite, queue every such lookup behind the database's one write
//! lock. So one thread per process takes the reservations waiting at a
//! time and makes them in one write transaction: each counts the uses of
//! its consent (those of the same batch included) under the consent's row
//! lock, so they can never over-count, in this process or another; one
//! commit makes them all durable.

use std::sync::Mutex;
use std::sync::mpsc::{self, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use consent::Decision;
use tokio::sync::oneshot;

use crate::app::config::Config;
use crate::http::error::{ApiError, ResultExt};
use crate::services::access::{self, Reservation};
use crate::store::{DbConnection, Manager, Transient, consents as store};

/// Most reservations in one transaction.
const MAX_BATCH: usize = 500;
/// Attempts at one batch before its callers get the error.
const ATTEMPTS: u32 = 5;

type Reply = oneshot::Sender<Result<(u32, bool), ApiError>>;

struct Job {
    reservation: Reservation,
    exchange: String,
    at: DateTime<Utc>,
    reply: Reply,
}

/// The reservation thread of this process, started on first use.
pub struct Reservations {
    manager: Manager,
    running: Mutex<Option<(mpsc::Sender<Job>, JoinHandle<()>)>>,
}

impl Drop for Reservations {
    fn drop(&mut self) {
        let taken = self.running.lock().ok().and_then(|mut r| r.take());
        if let Some((tx, handle)) = taken {
            drop(tx);
            let _ = handle.join();
        }
    }
}

impl Reservations {
    /// Reservations on the database of `config`.
    pub fn new(config: &Config) -> Self {
        Self {
            manager: Manager::new(
                config.database(),
                Duration::from_millis(u64::from(config.sqlite_busy_timeout_ms)),
            ),
            running: Mutex::new(None),
        }
    }

    /// Reserves one use of the consent for `exchange`: `Ok(None)` when
    /// reserved and durable, or the refusal when its uses are spent.
    pub async fn reserve(
        &self,
        reservation: &Reservation,
        exchange: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Decision>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job {
            reservation: reservation.clone(),
            exchange: exchange.to_owned(),
            at,
            reply,
        })?;
        let (used, made) = rx.await.internal("the reservation thread stopped")??;
        Ok((!made).then(|| access::spent(reservation, used)))
    }

    fn send(&self, job: Job) -> Result<(), ApiError> {
        let mut running = self
            .running
            .lock()
            .map_err(|_| ApiError::internal("reservation lock poisoned"))?;
        if let Some((tx, handle)) = running.as_ref()
            && !handle.is_finished()
        {
            return tx.send(job).internal("the reservation thread stopped");
        }
        let (tx, rx) = mpsc::channel();
        let manager = self.manager.clone();
        let handle = std::thread::Builder::new()
            .name("consent-reservations".to_owned())
            .spawn(move || run(&manager, &rx))
            .map_err(|e| ApiError::internal_from("cannot start reservations", e))?;
        tx.send(job).internal("the reservation thread stopped")?;
        *running = Some((tx, handle));
        Ok(())
    }
}

fn run(manager: &Manager, rx: &mpsc::Receiver<Job>) {
    let mut conn: Option<DbConnection> = None;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        // One order of row locks for every batch: two processes' batches
        // cannot deadlock on each other's consents.
        jobs.sort_by(|a, b| {
            a.reservation
                .consent
                .as_str()
                .cmp(b.reservation.consent.as_str())
        });
        let result = commit(manager, &mut conn, &jobs);
        match result {
            Ok(made) => {
                for (job, made) in jobs.into_iter().zip(made) {
                    let _ = job.reply.send(Ok(made));
                }
            }
            Err(error) => {
                tracing::error!(%error, reservations = jobs.len(), "consent uses not reserved");
                for job in jobs {
                    let _ = job.reply.send(Err(ApiError::internal(
                        "the consent's use could not be reserved",
                    )));
                }
            }
        }
    }
}

/// Makes `jobs` in one transaction, retrying transient failures with a
/// new connection if need be.
fn commit(
    manager: &Manager,
    conn: &mut Option<DbConnection>,
    jobs: &[Job],
) -> Result<Vec<(u32, bool)>, String> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(10 << attempt));
        }
        let c = match conn {
            Some(c) => c,
            None => match manager.open() {
                Ok(opened) => conn.insert(opened),
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            },
        };
        let result = crate::store::write(c, |c| {
            jobs.iter()
                .map(|job| {
                    let r = &job.reservation;
                    store::reserve_use(
                        c,
                        r.consent.as_str(),
                        &job.exchange,
                        r.since,
                        job.at,
                        r.limit,
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        });
        match result {
            Ok(made) => return Ok(made),
            Err(e) if e.is_transient() => last = e.to_string(),
            Err(e) => {
                last = e.to_string();
                *conn = None;
            }
        }
    }
    Err(last)
}
