//! Delivery: webhook batches (leased per subscription, signed, retried with
//! exponential backoff and jitter, then dead-lettered), the pull feed with
//! its long poll and cursor, retention of record data, and the workers
//! every hub process runs.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::ToSchema;

use super::{Notification, notification, webhook};
use crate::app::clock::from_db;
use crate::app::state::AppState;
use crate::audit_log::NewEntry;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, ResultExt};
use crate::store::DbConnection;
use crate::store::notifications::{self as store, NotificationRow, SubscriptionRow};

/// The `typ` of a webhook batch: not usable as any other token.
pub const BATCH_TYPE: &str = "crossroads-notifications+jwt";
/// How long a batch's signature is valid.
const BATCH_TTL_SECS: i64 = 300;
/// Most notifications in one webhook batch.
const BATCH_MAX: i64 = 100;
/// Most subscriptions one worker claims at once.
const CLAIM_MAX: i64 = 16;
/// The first retry's delay; each further one doubles, up to [`BACKOFF_MAX`].
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest delay between two attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(600);
/// Most rows of the pull feed in one answer.
pub const FEED_MAX: i64 = 500;
/// The longest long poll.
pub const WAIT_MAX_SECS: u64 = 30;
/// How often a long poll looks at the table when nothing in this process
/// woke it (another process may have fanned out).
const WAIT_POLL: Duration = Duration::from_millis(250);

/// What wakes the workers and the long polls of one process.
#[derive(Debug, Default)]
pub struct Signals {
    /// A change was accepted.
    pub changes: Notify,
    /// Notifications were made.
    pub notifications: Notify,
}

/// The claims of a webhook batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchClaims {
    /// The hub.
    pub iss: String,
    /// The receiving agency.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// The batch id (new on every attempt).
    pub jti: String,
    /// The notifications, in order.
    pub notifications: Vec<Notification>,
}

/// The delay before attempt `attempts + 1` of a failing batch:
/// exponential, capped, with jitter (half to all of it).
pub fn backoff(attempts: u32) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(BACKOFF_MAX);
    let jitter = rand::rng().random_range(0.5..=1.0);
    exp.mul_f64(jitter)
}

/// Signs a batch for `agency`.
async fn sign_batch(
    state: &AppState,
    agency: &str,
    notifications: Vec<Notification>,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let ring = crate::services::signing_keys::ring(state, now).await?;
    let claims = BatchClaims {
        iss: state.config.public_base(),
        aud: agency.to_owned(),
        iat: now.timestamp(),
        exp: now.timestamp() + BATCH_TTL_SECS,
        jti: format!("bat-{}", uuid::Uuid::new_v4().simple()),
        notifications,
    };
    identity::jwt::sign_token(&claims, ring.current(), BATCH_TYPE)
        .internal("a notification batch cannot be signed")
}

/// The audit entry of a notification's delivery or dead letter.
fn outcome_entry(
    row: &NotificationRow,
    kind: &str,
    outcome: audit::Outcome,
) -> Result<NewEntry, ApiError> {
    let exchange = notification(row)?.exchange_id;
    Ok(NewEntry::new(
        kind,
        audit::Actor::new(audit::ActorType::Agency, row.agency_id.clone()),
        outcome,
    )?
    .with_exchange(exchange)
    .with_person(row.common_id.clone()))
}

/// One round of webhook delivery by worker `owner`: claims due
/// subscriptions (a lease each), and sends each one's head batch, in
/// order. Returns how many subscriptions were served.
pub async fn deliver_webhooks_once(
    state: &web::Data<AppState>,
    client: &reqwest::Client,
    owner: &str,
) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let lease = chrono::Duration::seconds(i64::from(state.config.webhook_timeout_secs) * 2 + 5);
    let me = owner.to_owned();
    let claimed = state
        .db(move |conn| {
            Ok(crate::store::write(conn, |conn| {
                store::claim_subscriptions(conn, &me, now, now + lease, CLAIM_MAX)
            })?)
        })
        .await?;
    let served = claimed.len();
    let sends = claimed
        .into_iter()
        .map(|subscription| serve_subscription(state, client, owner, subscription));
    for result in futures_util::future::join_all(sends).await {
        if let Err(error) = result {
            tracing::warn!(error = %error.chain(), "webhook delivery failed");
        }
    }
    Ok(served)
}

/// Sends the head batch of one leased subscription and records the
/// outcome; the lease ends with it.
async fn serve_subscription(
    state: &web::Data<AppState>,
    client: &reqwest::Client,
    owner: &str,
    subscription: SubscriptionRow,
) -> Result<(), ApiError> {
    let id = subscription.id.clone();
    let head = state
        .db(move |conn| Ok(store::head(conn, &id, BATCH_MAX)?))
        .await?;
    if head.is_empty() {
        release(state, owner, &subscription.id, 0, None, None).await?;
        return Ok(());
    }
    let now = state.clock.now();
    let (head, notifications) = fit_batch(head)?;
    if notifications.is_empty() {
        // One notification alone does not fit a batch: it can never be
        // sent, so it is given up at once.
        return give_up(state, owner, &subscription, head, "too_large", now).await;
    }
    let url = subscription.webhook_url.clone().unwrap_or_default();
    let sent = match sign_batch(state, &subscription.agency_id, notifications, now).await {
        Ok(body) => webhook::post(client, &url, &state.config, body).await,
        Err(error) => Err(format!("not signed: {}", error.chain())),
    };
    let ids: Vec<String> = head.iter().map(|r| r.id.clone()).collect();
    let attempts = u32::try_from(subscription.attempts).unwrap_or(0) + 1;
    let oldest = head.first().map_or(now, |r| from_db(r.created_at));
    let retry_for = chrono::Duration::hours(i64::from(state.config.notification_retry_hours));
    match sent {
        Ok(()) => {
            let n = ids.len() as u64;
            let sub_id = subscription.id.clone();
            let owner = owner.to_owned();
            state
                .change(move |conn| {
                    let moved = store::mark_delivered(conn, &ids, now)?;
                    store::release_subscription(conn, &sub_id, &owner, 0, None, None)?;
                    // Another worker whose lease ran out may have settled
                    // some already: each is audited once.
                    let entries = head
                        .iter()
                        .filter(|r| moved.contains(&r.id))
                        .map(|r| {
                            outcome_entry(r, "notification.delivered", audit::Outcome::Permitted)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(((), entries))
                })
                .await?;
            state.hub_metrics.notifications_delivered("webhook", n);
        }
        Err(reason) if now - oldest >= retry_for => {
            tracing::warn!(subscription = %subscription.id, agency = %subscription.agency_id, %reason, notifications = ids.len(), "webhook notifications dead-lettered after retrying");
            state
                .db(move |conn| {
                    Ok(crate::store::write(conn, |conn| {
                        store::count_attempt(conn, &ids, &reason)
                    })?)
                })
                .await?;
            give_up(state, owner, &subscription, head, "retries_exhausted", now).await?;
        }
        Err(reason) => {
            let next = now
                + chrono::Duration::from_std(backoff(attempts))
                    .unwrap_or_else(|_| chrono::Duration::seconds(1));
            tracing::info!(subscription = %subscription.id, agency = %subscription.agency_id, %reason, attempts, retry_at = %next, "webhook batch not taken; it will be sent again");
            state.hub_metrics.notification_retried();
            let counted = ids.clone();
            let why = reason.clone();
            state
                .db(move |conn| {
                    Ok(crate::store::write(conn, |conn| {
                        store::count_attempt(conn, &counted, &why)
                    })?)
                })
                .await?;
            release(
                state,
                owner,
                &subscription.id,
                i32::try_from(attempts).unwrap_or(i32::MAX),
                Some(next),
                Some(reason),
            )
            .await?;
        }
    }
    Ok(())
}

/// Ends `owner`'s lease on a subscription, with when to try it again.
async fn release(
    state: &web::Data<AppState>,
    owner: &str,
    subscription: &str,
    attempts: i32,
    next: Option<DateTime<Utc>>,
    error: Option<String>,
) -> Result<(), ApiError> {
    let (owner, subscription) = (owner.to_owned(), subscription.to_owned());
    state
        .db(move |conn| {
            Ok(crate::store::write(conn, |conn| {
                store::release_subscription(
                    conn,
                    &subscription,
                    &owner,
                    attempts,
                    next,
                    error.as_deref(),
                )
            })?)
        })
        .await?;
    Ok(())
}

/// The longest JSON of a batch's notifications: its JWS stays within the
/// size every hub token keeps to ([`identity::jwt::MAX_TOKEN_LEN`]).
const BATCH_BYTES: usize = 11 * 1024;

/// The longest prefix of `head` whose notifications fit one batch, with
/// those notifications; when even the first does not fit, that one row and
/// no notification.
fn fit_batch(
    head: Vec<NotificationRow>,
) -> Result<(Vec<NotificationRow>, Vec<Notification>), ApiError> {
    let mut rows = Vec::new();
    let mut notifications = Vec::new();
    let mut bytes = 0;
    for row in head {
        let n = notification(&row)?;
        let size = serde_json::to_vec(&n)
            .map_err(|e| ApiError::internal_from("notification", e))?
            .len()
            + 1;
        if bytes + size > BATCH_BYTES {
            if rows.is_empty() {
                rows.push(row);
            }
            break;
        }
        bytes += size;
        rows.push(row);
        notifications.push(n);
    }
    Ok((rows, notifications))
}

/// Dead-letters `rows` of a leased subscription for `reason`, audited, and
/// ends the lease.
async fn give_up(
    state: &web::Data<AppState>,
    owner: &str,
    subscription: &SubscriptionRow,
    rows: Vec<NotificationRow>,
    reason: &'static str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let n = ids.len() as u64;
    let sub_id = subscription.id.clone();
    let owner = owner.to_owned();
    state
        .change(move |conn| {
            let moved = store::mark_dead(conn, &ids, reason, now)?;
            store::release_subscription(conn, &sub_id, &owner, 0, None, None)?;
            let entries = rows
                .iter()
                .filter(|r| moved.contains(&r.id))
                .map(|r| {
                    Ok(
                        outcome_entry(r, "notification.dead_lettered", audit::Outcome::Error)?
                            .with_deny_code(reason),
                    )
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok(((), entries))
        })
        .await?;
    state.hub_metrics.notifications_dead_lettered(reason, n);
    Ok(())
}

/// A page of the pull feed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Feed {
    /// The notifications after the cursor, in order.
    pub notifications: Vec<Notification>,
    /// Pass it as `after` to read on (and acknowledge this page).
    pub cursor: String,
    /// Whether more notifications wait already.
    pub more: bool,
}

/// The opaque cursor of feed position `seq`.
pub fn cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("n{seq}"))
}

/// The position an opaque cursor stands for.
pub fn position(cursor: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::invalid("invalid_cursor", "after: not a cursor this hub gave out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    let seq: i64 = text
        .strip_prefix('n')
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    if seq < 0 {
        return Err(bad());
    }
    Ok(seq)
}

/// Reads the caller's pull feed after `after` (acknowledging everything up
/// to it), waiting up to `wait` for something new.
pub async fn feed(
    state: &web::Data<AppState>,
    caller: &AgencyCaller,
    after: Option<&str>,
    limit: i64,
    wait: Duration,
) -> Result<Feed, ApiError> {
    caller.require_scope("consumer")?;
    let after = after.map(position).transpose()?;
    let agency = caller.agency_id.to_string();
    if let Some(upto) = after {
        let agency = agency.clone();
        let now = state.clock.now();
        let acknowledged = state
            .change(move |conn| {
                let rows = store::acknowledge(conn, &agency, upto, now)?;
                let entries = rows
                    .iter()
                    .map(|r| outcome_entry(r, "notification.delivered", audit::Outcome::Permitted))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((rows.len(), entries))
            })
            .await?;
        state
            .hub_metrics
            .notifications_delivered("pull", acknowledged as u64);
    }
    let from = after.unwrap_or(0);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before reading, so a notification made between the
        // read and the wait is not missed.
        let woken = state.signals.notifications.notified();
        let agency = agency.clone();
        let rows = state
            .db(move |conn| Ok(store::feed(conn, &agency, from, limit)?))
            .await?;
        let now = tokio::time::Instant::now();
        if !rows.is_empty() || now >= deadline {
            let last = rows.last().map_or(from, |r| r.seq);
            return Ok(Feed {
                more: rows.len() as i64 == limit,
                notifications: rows.iter().map(notification).collect::<Result<_, _>>()?,
                cursor: cursor(last),
            });
        }
        let _ = tokio::time::timeout((deadline - now).min(WAIT_POLL), woken).await;
    }
}

/// Deletes the record data of notifications past the retention period.
pub fn expire(conn: &mut DbConnection, state: &AppState) -> Result<usize, ApiError> {
    let before = state.clock.now()
        - chrono::Duration::days(i64::from(state.config.notification_retention_days));
    let mut total = 0;
    loop {
        let n = crate::store::write(conn, |conn| store::expire_data(conn, before, 1_000))?;
        total += n;
        if n < 1_000 {
            return Ok(total);
        }
    }
}

/// Reads the outbox into the metrics.
fn observe(conn: &mut DbConnection, state: &AppState) -> Result<(), ApiError> {
    let now = state.clock.now();
    let outbox: Vec<(String, i64, Duration)> = store::outbox(conn)?
        .into_iter()
        .map(|(agency, depth, oldest)| {
            let age = oldest
                .map(|at| (now - from_db(at)).to_std().unwrap_or_default())
                .unwrap_or_default();
            (agency, depth, age)
        })
        .collect();
    let waiting = store::fan_out_depth(conn)?;
    state.hub_metrics.notification_outbox(&outbox, waiting);
    Ok(())
}

/// Starts this process's notification workers: fan-out, webhook delivery,
/// and retention with the outbox metrics. On PostgreSQL every hub process
/// runs them; fan-out is serialised by a transaction lock, webhook
/// subscriptions are leased with `FOR UPDATE SKIP LOCKED`.
pub fn start_workers(state: web::Data<AppState>) -> Result<(), ApiError> {
    let client = webhook::client(&state.config)?;
    let owner = format!("w-{}", uuid::Uuid::new_v4().simple());
    actix_web::rt::spawn(fan_out_worker(state.clone()));
    actix_web::rt::spawn(webhook_worker(state.clone(), client, owner));
    actix_web::rt::spawn(upkeep_worker(state));
    Ok(())
}

async fn fan_out_worker(state: web::Data<AppState>) {
    let signals: Arc<Signals> = Arc::clone(&state.signals);
    loop {
        let woken = signals.changes.notified();
        let inner = state.clone();
        match web::block(move || super::fanout::fan_out_once(&inner)).await {
            Ok(Ok(done)) if done.changes > 0 => {
                if done.notifications > 0 {
                    signals.notifications.notify_waiters();
                }
                // More may wait: go on at once.
                continue;
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %error.chain(), "fan-out of changes failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                tracing::error!(%error, "fan-out of changes failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), woken).await;
    }
}

async fn webhook_worker(state: web::Data<AppState>, client: reqwest::Client, owner: String) {
    let signals: Arc<Signals> = Arc::clone(&state.signals);
    loop {
        let woken = signals.notifications.notified();
        match deliver_webhooks_once(&state, &client, &owner).await {
            Ok(served) if served > 0 => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::error!(error = %error.chain(), "webhook delivery round failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), woken).await;
    }
}

async fn upkeep_worker(state: web::Data<AppState>) {
    let mut round: u64 = 0;
    loop {
        let inner = state.clone();
        let expire_now = round.is_multiple_of(60);
        let done = web::block(move || -> Result<(), ApiError> {
            let mut conn = inner.pool.get().map_err(crate::store::StoreError::from)?;
            if expire_now {
                let n = expire(&mut conn, &inner)?;
                if n > 0 {
                    tracing::info!(notifications = n, "record data past retention deleted");
                }
            }
            observe(&mut conn, &inner)
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(error = %error.chain(), "notification upkeep failed"),
            Err(error) => tracing::warn!(%error, "notification upkeep failed"),
        }
        round += 1;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        for seq in [0, 1, 42, i64::MAX] {
            assert_eq!(position(&cursor(seq)).unwrap(), seq);
        }
        for bad in [
            "",
            "n1",
            "bjE=",
            "%%%",
            &URL_SAFE_NO_PAD.encode("n-1"),
            &URL_SAFE_NO_PAD.encode("x1"),
        ] {
            assert!(position(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempts in 1..=30 {
            let d = backoff(attempts);
            let full = BACKOFF_BASE
                .saturating_mul(1u32 << (attempts - 1).min(20))
                .min(BACKOFF_MAX);
            assert!(d <= full && d >= full / 2, "{attempts}: {d:?} of {full:?}");
        }
    }
}
