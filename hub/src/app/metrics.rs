//! The hub's own Prometheus metrics: the audit log's append path, lookups,
//! tokens and providers. They are registered in the registry of the HTTP
//! metrics, so `/metrics` serves both.

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// The prefix of every metric name.
const NAMESPACE: &str = "crossroads";

/// Buckets of a duration in seconds: half a millisecond to ten seconds.
const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of an audit batch's size, up to the largest batch.
const BATCH: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 1500.0, 2000.0,
];

/// The collectors, shared by the request handlers, the broker, the circuit
/// breakers and the audit sequencer.
pub struct HubMetrics {
    audit_queue_depth: IntGauge,
    audit_queue_oldest_age_seconds: prometheus::Gauge,
    audit_entries_appended_total: IntCounter,
    audit_commit_batch_size: Histogram,
    audit_commit_seconds: Histogram,
    audit_tree_size: IntGauge,
    audit_checkpoint_age_seconds: prometheus::Gauge,
    audit_sequencer: IntGauge,
    audit_commit_failures_total: IntCounter,
    lookups_total: IntCounterVec,
    unverifiable_tokens_total: IntCounter,
    password_checks_total: IntCounter,
    provider_request_seconds: HistogramVec,
    provider_errors_total: IntCounterVec,
    provider_circuit_open: IntGaugeVec,
    changes_accepted_total: IntCounter,
    notifications_decided_total: IntCounterVec,
    notifications_delivered_total: IntCounterVec,
    notifications_retried_total: IntCounter,
    notifications_dead_lettered_total: IntCounterVec,
    notification_outbox_depth: IntGaugeVec,
    notification_outbox_oldest_age_seconds: prometheus::GaugeVec,
    changes_waiting: IntGauge,
}

impl HubMetrics {
    /// Makes the collectors and registers them in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(NAMESPACE);
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            HistogramOpts::new(name, help)
                .namespace(NAMESPACE)
                .buckets(buckets.to_vec())
        };
        let metrics = Self {
            audit_queue_depth: IntGauge::with_opts(opts(
                "audit_queue_depth",
                "Audit entries waiting in the hand-over table for the sequencer",
            ))?,
            audit_queue_oldest_age_seconds: prometheus::Gauge::with_opts(opts(
                "audit_queue_oldest_age_seconds",
                "How long the oldest entry in the hand-over table has waited",
            ))?,
            audit_entries_appended_total: IntCounter::with_opts(opts(
                "audit_entries_appended_total",
                "Audit entries this process stored in the log as its sequencer",
            ))?,
            audit_commit_batch_size: Histogram::with_opts(histogram(
                "audit_commit_batch_size",
                "Audit entries stored per commit",
                &BATCH,
            ))?,
            audit_commit_seconds: Histogram::with_opts(histogram(
                "audit_commit_seconds",
                "Time of one audit commit (transaction and fsync)",
                &SECONDS,
            ))?,
            audit_tree_size: IntGauge::with_opts(opts(
                "audit_tree_size",
                "Entries in the audit log, as its sequencer last stored them",
            ))?,
            audit_checkpoint_age_seconds: prometheus::Gauge::with_opts(opts(
                "audit_checkpoint_age_seconds",
                "How long the oldest audit entry not covered by a signed checkpoint has waited (0: every entry is covered)",
            ))?,
            audit_sequencer: IntGauge::with_opts(opts(
                "audit_sequencer",
                "1 while this process is the audit log's sequencer, else 0",
            ))?,
            audit_commit_failures_total: IntCounter::with_opts(opts(
                "audit_commit_failures_total",
                "Failed rounds of the audit append path (commit, hand-over, connection), each retried",
            ))?,
            lookups_total: IntCounterVec::new(
                opts(
                    "lookups_total",
                    "Lookups by outcome and deny or problem code",
                ),
                &["outcome", "code"],
            )?,
            unverifiable_tokens_total: IntCounter::with_opts(opts(
                "unverifiable_tokens_total",
                "Access tokens refused because their signature could not be verified",
            ))?,
            password_checks_total: IntCounter::with_opts(opts(
                "password_checks_total",
                "Citizens' passwords checked against their stored hash (sign-in attempts let through)",
            ))?,
            provider_request_seconds: HistogramVec::new(
                histogram(
                    "provider_request_seconds",
                    "Time of one call to a provider, until its answer is read",
                    &SECONDS,
                ),
                &["provider"],
            )?,
            provider_errors_total: IntCounterVec::new(
                opts(
                    "provider_errors_total",
                    "Failed provider calls by problem code",
                ),
                &["provider", "code"],
            )?,
            provider_circuit_open: IntGaugeVec::new(
                opts(
                    "provider_circuit_open",
                    "1 while the circuit breaker of a provider is open, else 0",
                ),
                &["provider"],
            )?,
            changes_accepted_total: IntCounter::with_opts(opts(
                "changes_accepted_total",
                "Changes accepted from authentic sources and the hub's person lifecycle events",
            ))?,
            notifications_decided_total: IntCounterVec::new(
                opts(
                    "notifications_decided_total",
                    "Notifications decided, by outcome (permitted, or the deny code)",
                ),
                &["outcome"],
            )?,
            notifications_delivered_total: IntCounterVec::new(
                opts(
                    "notifications_delivered_total",
                    "Notifications delivered, by delivery (pull, webhook)",
                ),
                &["delivery"],
            )?,
            notifications_retried_total: IntCounter::with_opts(opts(
                "notifications_retried_total",
                "Webhook batches that failed and will be sent again",
            ))?,
            notifications_dead_lettered_total: IntCounterVec::new(
                opts(
                    "notifications_dead_lettered_total",
                    "Notifications dead-lettered, by reason",
                ),
                &["reason"],
            )?,
            notification_outbox_depth: IntGaugeVec::new(
                opts(
                    "notification_outbox_depth",
                    "Notifications waiting for delivery, per agency",
                ),
                &["agency"],
            )?,
            notification_outbox_oldest_age_seconds: prometheus::GaugeVec::new(
                opts(
                    "notification_outbox_oldest_age_seconds",
                    "Age of the oldest notification waiting for delivery, per agency",
                ),
                &["agency"],
            )?,
            changes_waiting: IntGauge::with_opts(opts(
                "changes_waiting",
                "Accepted changes not fanned out yet",
            ))?,
        };
        metrics.register(registry)?;
        Ok(metrics)
    }

    fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.audit_queue_depth.clone()))?;
        registry.register(Box::new(self.audit_queue_oldest_age_seconds.clone()))?;
        registry.register(Box::new(self.audit_entries_appended_total.clone()))?;
        registry.register(Box::new(self.audit_commit_batch_size.clone()))?;
        registry.register(Box::new(self.audit_commit_seconds.clone()))?;
        registry.register(Box::new(self.audit_tree_size.clone()))?;
        registry.register(Box::new(self.audit_checkpoint_age_seconds.clone()))?;
        registry.register(Box::new(self.audit_sequencer.clone()))?;
        registry.register(Box::new(self.audit_commit_failures_total.clone()))?;
        registry.register(Box::new(self.lookups_total.clone()))?;
        registry.register(Box::new(self.unverifiable_tokens_total.clone()))?;
        registry.register(Box::new(self.password_checks_total.clone()))?;
        registry.register(Box::new(self.provider_request_seconds.clone()))?;
        registry.register(Box::new(self.provider_errors_total.clone()))?;
        registry.register(Box::new(self.provider_circuit_open.clone()))?;
        registry.register(Box::new(self.changes_accepted_total.clone()))?;
        registry.register(Box::new(self.notifications_decided_total.clone()))?;
        registry.register(Box::new(self.notifications_delivered_total.clone()))?;
        registry.register(Box::new(self.notifications_retried_total.clone()))?;
        registry.register(Box::new(self.notifications_dead_lettered_total.clone()))?;
        registry.register(Box::new(self.notification_outbox_depth.clone()))?;
        registry.register(Box::new(
            self.notification_outbox_oldest_age_seconds.clone(),
        ))?;
        registry.register(Box::new(self.changes_waiting.clone()))?;
        Ok(())
    }

    /// The collectors on a registry of their own, which nothing serves.
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Self::new(&Registry::new())
    }

    /// The hand-over table holds `depth` entries, the oldest waiting for
    /// `oldest` (`None`: the table is empty).
    pub fn audit_queue(&self, depth: i64, oldest: Option<Duration>) {
        self.audit_queue_depth.set(depth);
        self.audit_queue_oldest_age_seconds
            .set(oldest.map_or(0.0, |age| age.as_secs_f64()));
    }

    /// A commit stored `entries` entries in `took`.
    pub fn audit_committed(&self, entries: usize, took: Duration) {
        self.audit_entries_appended_total.inc_by(entries as u64);
        self.audit_commit_batch_size.observe(entries as f64);
        self.audit_commit_seconds.observe(took.as_secs_f64());
    }

    /// The log now holds `size` entries.
    pub fn audit_tree_size(&self, size: u64) {
        self.audit_tree_size
            .set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// The oldest entry not covered by a signed checkpoint has waited
    /// `age` (zero: every entry is covered).
    pub fn audit_checkpoint_age(&self, age: Duration) {
        self.audit_checkpoint_age_seconds.set(age.as_secs_f64());
    }

    /// Whether this process is the audit log's sequencer.
    pub fn audit_sequencer(&self, leader: bool) {
        self.audit_sequencer.set(i64::from(leader));
    }

    /// A round of the audit append path failed; it is retried.
    pub fn audit_commit_failed(&self) {
        self.audit_commit_failures_total.inc();
    }

    /// A lookup ended with `outcome` (`permitted`, `denied`, `error`,
    /// `invalid`…) and `code` (a deny or problem code, `ok` when permitted).
    pub fn lookup(&self, outcome: &str, code: &str) {
        self.lookups_total.with_label_values(&[outcome, code]).inc();
    }

    /// An access token was refused because its signature could not be
    /// verified.
    pub fn unverifiable_token(&self) {
        self.unverifiable_tokens_total.inc();
    }

    /// A citizen's password was checked against its stored hash.
    pub fn password_checked(&self) {
        self.password_checks_total.inc();
    }

    /// How many passwords were checked against a stored hash so far.
    pub fn password_checks(&self) -> u64 {
        self.password_checks_total.get()
    }

    /// How many access tokens were refused as unverifiable so far.
    pub fn unverifiable_tokens(&self) -> u64 {
        self.unverifiable_tokens_total.get()
    }

    /// A call to `provider` took `took`.
    pub fn provider_request(&self, provider: &str, took: Duration) {
        self.provider_request_seconds
            .with_label_values(&[provider])
            .observe(took.as_secs_f64());
    }

    /// A call to `provider` failed with `code`.
    pub fn provider_error(&self, provider: &str, code: &str) {
        self.provider_errors_total
            .with_label_values(&[provider, code])
            .inc();
    }

    /// Whether the circuit breaker of `provider` is open.
    pub fn provider_circuit(&self, provider: &str, open: bool) {
        self.provider_circuit_open
            .with_label_values(&[provider])
            .set(i64::from(open));
    }

    /// `n` changes were accepted.
    pub fn changes_accepted(&self, n: u64) {
        self.changes_accepted_total.inc_by(n);
    }

    /// A notification was decided: `permitted` or the deny code.
    pub fn notification_decided(&self, outcome: &str) {
        self.notifications_decided_total
            .with_label_values(&[outcome])
            .inc();
    }

    /// `n` notifications were delivered by `delivery`.
    pub fn notifications_delivered(&self, delivery: &str, n: u64) {
        self.notifications_delivered_total
            .with_label_values(&[delivery])
            .inc_by(n);
    }

    /// A webhook batch failed and will be sent again.
    pub fn notification_retried(&self) {
        self.notifications_retried_total.inc();
    }

    /// `n` notifications were dead-lettered for `reason`.
    pub fn notifications_dead_lettered(&self, reason: &str, n: u64) {
        self.notifications_dead_lettered_total
            .with_label_values(&[reason])
            .inc_by(n);
    }

    /// The outbox: per agency, what waits and for how long; agencies no
    /// longer listed are set to zero.
    pub fn notification_outbox(&self, agencies: &[(String, i64, Duration)], changes_waiting: i64) {
        self.notification_outbox_depth.reset();
        self.notification_outbox_oldest_age_seconds.reset();
        for (agency, depth, oldest) in agencies {
            self.notification_outbox_depth
                .with_label_values(&[agency])
                .set(*depth);
            self.notification_outbox_oldest_age_seconds
                .with_label_values(&[agency])
                .set(oldest.as_secs_f64());
        }
        self.changes_waiting.set(changes_waiting);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collector_is_served_by_the_registry() {
        let registry = Registry::new();
        let metrics = HubMetrics::new(&registry).unwrap();
        metrics.audit_committed(3, Duration::from_millis(2));
        metrics.lookup("denied", "no_legal_basis");
        metrics.provider_circuit("agency-b", true);
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(
            text.contains("crossroads_audit_entries_appended_total 3"),
            "{text}"
        );
        assert!(
            text.contains(r#"crossroads_lookups_total{code="no_legal_basis",outcome="denied"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"crossroads_provider_circuit_open{provider="agency-b"} 1"#),
            "{text}"
        );
        assert!(text.contains("crossroads_audit_sequencer 0"), "{text}");
        // A second set on the same registry is refused, not doubled.
        assert!(HubMetrics::new(&registry).is_err());
    }
}
