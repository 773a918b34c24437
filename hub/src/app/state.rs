//! What every request handler shares.

use std::sync::Arc;
use std::time::Duration;

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};

use crate::app::clock::Clock;
use crate::app::config::Config;
use crate::audit_log::NewEntry;
use crate::http::error::ApiError;
use crate::store::{self, DbConnection, Pool, StoreError};

/// The shared state of one hub process.
pub struct AppState {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database pool.
    pub pool: Pool,
    /// The HTTP metrics, served at `/metrics`.
    pub metrics: PrometheusMetrics,
    /// The hub's own metrics (audit log, lookups, providers), in the same
    /// registry as the HTTP metrics.
    pub hub_metrics: Arc<crate::app::metrics::HubMetrics>,
    /// The clock every decision reads.
    pub clock: Clock,
    /// The hub's signing keys.
    pub keys: Arc<crate::secrets::keys::HubKeys>,
    /// The CAs agency certificates must chain to (none: no agency can be onboarded).
    pub trust_anchors: Option<Arc<identity::x509::TrustAnchors>>,
    /// The pooled HTTP client that calls providers.
    pub http: reqwest::Client,
    /// A circuit breaker per provider.
    pub breakers: Arc<crate::services::broker::breaker::Breakers>,
    /// Sector pseudonyms.
    pub pseudonyms: Arc<identity::PseudonymService>,
    /// The key of citizens' TOTP secrets at rest.
    pub totp_key: Arc<crate::secrets::TotpKey>,
    /// Rate limits per client address and per agency.
    pub rate_limits: Arc<crate::http::rate_limit::RateLimits>,
    /// Access tokens already verified, by digest, until they expire.
    pub verified_tokens: Arc<crate::http::callers::agency::TokenCache>,
    /// The interoperability schemas, loaded from the database.
    pub schemas: Arc<crate::services::schemas::SchemaRegistry>,
    /// The audit log: append path, checkpoints, proofs.
    pub audit: Arc<crate::audit_log::AuditLog>,
    /// The authorizations (legal bases), cached for the access decision.
    pub authorizations: Arc<crate::services::authorizations::AuthorizationCache>,
    /// Consent-use reservations, made in batches.
    pub reservations: Arc<crate::services::broker::reservations::Reservations>,
    /// What wakes the notification workers and long polls of this process.
    pub signals: Arc<crate::services::notifications::delivery::Signals>,
    /// On SQLite, each thread's own read-only connection for [`Self::read`].
    readers: Option<Readers>,
}

/// One read-only SQLite connection per thread that reads inline (the actix
/// workers), opened on first use and kept.
struct Readers {
    url: crate::app::config::DatabaseUrl,
    busy_timeout: Duration,
    connections: thread_local::ThreadLocal<std::cell::RefCell<Option<DbConnection>>>,
}

impl AppState {
    /// Connects to the database of `config` and prepares the state.
    pub fn new(config: Config, clock: Clock) -> Result<Self, StartError> {
        let pool = store::connect(
            &config.database(),
            config.database_pool_size,
            Duration::from_millis(u64::from(config.sqlite_busy_timeout_ms)),
        )?;
        Self::with_pool(config, pool, clock)
    }

    /// The state over an existing pool.
    pub fn with_pool(config: Config, pool: Pool, clock: Clock) -> Result<Self, StartError> {
        let trust_anchors = match &config.trust_anchors_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    StartError::Config(format!(
                        "trust_anchors_file: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                let anchors = identity::x509::TrustAnchors::from_pem(&pem).map_err(|e| {
                    StartError::Config(format!("trust_anchors_file: {}: {e}", path.display()))
                })?;
                Some(Arc::new(anchors))
            }
            None => None,
        };
        let pseudonyms =
            Arc::new(crate::secrets::pseudonyms::load(&config).map_err(StartError::Config)?);
        let totp_key =
            Arc::new(crate::secrets::TotpKey::load(&config).map_err(StartError::Config)?);
        let config = Arc::new(config);
        let reservations = Arc::new(crate::services::broker::reservations::Reservations::new(
            &config,
        ));
        let readers = match config.database() {
            url @ crate::app::config::DatabaseUrl::Sqlite { .. } => Some(Readers {
                url,
                busy_timeout: Duration::from_millis(u64::from(config.sqlite_busy_timeout_ms)),
                connections: thread_local::ThreadLocal::new(),
            }),
            crate::app::config::DatabaseUrl::Postgres { .. } => None,
        };
        let metrics = build_metrics()?;
        let hub_metrics = Arc::new(
            crate::app::metrics::HubMetrics::new(&metrics.registry)
                .map_err(|e| StartError::Metrics(e.to_string()))?,
        );
        let audit = Arc::new(crate::audit_log::AuditLog::new(
            Arc::clone(&config),
            pool.clone(),
            clock.clone(),
            Arc::clone(&hub_metrics),
        ));
        // Idempotent: `main` has installed it; in-process tests start here.
        provider::install_crypto().map_err(|e| StartError::Config(e.to_string()))?;
        let mut http = reqwest::Client::builder()
            // A provider answers itself: a redirect (to another host, say)
            // is refused, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .connect_timeout(std::time::Duration::from_secs(2))
            .https_only(!config.allow_insecure_providers);
        if let Some(path) = &config.provider_ca_file {
            http = http.tls_certs_merge(provider_roots(path)?);
        }
        let http = http
            .build()
            .map_err(|e| StartError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            signals: Arc::default(),
            breakers: Arc::new(crate::services::broker::breaker::Breakers::with_metrics(
                Arc::clone(&hub_metrics),
            )),
            audit,
            pseudonyms,
            totp_key,
            rate_limits: Arc::new(crate::http::rate_limit::RateLimits::new(&config)),
            keys: Arc::new(crate::secrets::keys::HubKeys::new(Arc::clone(&config))),
            schemas: Arc::new(crate::services::schemas::SchemaRegistry::new(
                &config.public_base(),
            )),
            config,
            pool,
            metrics,
            hub_metrics,
            clock,
            trust_anchors,
            verified_tokens: Arc::new(crate::http::callers::agency::TokenCache::default()),
            authorizations: Arc::default(),
            reservations,
            readers,
        })
    }

    /// Runs `f`, which reads (and rarely writes), as cheaply as the backend
    /// allows. On SQLite it runs here, on the calling thread, on that
    /// thread's own read-only connection: reads in WAL mode never wait for
    /// the writer, and a few of them cost less than the trip to the
    /// blocking pool and back. Should `f` need a write transaction (it is
    /// refused before anything is written), it runs again on the blocking
    /// pool, as [`Self::db`]. On PostgreSQL, where every query is a round
    /// trip over the network, it runs on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        if let Some(readers) = &self.readers {
            let cell = readers.connections.get_or_default();
            // Taken out while `f` runs: a nested read on this thread (there
            // is none) would open a second connection rather than panic.
            let taken = cell.borrow_mut().take();
            let opened = match taken {
                Some(conn) => Some(conn),
                None => store::open_reader(&readers.url, readers.busy_timeout)
                    .inspect_err(|e| {
                        tracing::warn!(error = %e, "no read-only connection; reading on the pool");
                    })
                    .ok(),
            };
            if let Some(mut conn) = opened {
                let outcome = store::read_inline(&mut conn, &f);
                *cell.borrow_mut() = Some(conn);
                if let store::Inline::Done(result) = outcome {
                    return result;
                }
            }
        }
        self.db(move |conn| f(conn)).await
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, so that
    /// no actix worker waits on the database.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs a change of state on a blocking thread, in one write
    /// transaction with its audit entries (staged in the hand-over table):
    /// `f` returns its result and the entries. Once the transaction has
    /// committed the entries cannot be lost; this then waits, up to the
    /// audit deadline, until the sequencer has numbered them.
    pub async fn change<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<(T, Vec<NewEntry>), ApiError> + Send + 'static,
    {
        let now = self.clock.now();
        let (value, staged) = self
            .db(move |conn| crate::audit_log::commit_change(conn, now, f))
            .await?;
        self.audit.settle(&staged).await;
        Ok(value)
    }

    /// [`AppState::change`] on the calling thread (the command line).
    pub fn change_blocking<T>(
        &self,
        conn: &mut DbConnection,
        f: impl FnMut(&mut DbConnection) -> Result<(T, Vec<NewEntry>), ApiError>,
    ) -> Result<T, ApiError> {
        let (value, staged) = crate::audit_log::commit_change(conn, self.clock.now(), f)?;
        self.audit.settle_blocking(&staged);
        Ok(value)
    }
}

/// The CA certificates of `provider_ca_file`: at least one, all valid.
fn provider_roots(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, StartError> {
    let invalid = |detail: String| {
        StartError::Config(format!("provider_ca_file: {}: {detail}", path.display()))
    };
    let pem = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no PEM certificate in it".to_owned()));
    }
    Ok(certs)
}

/// Why the hub's state could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting names something unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The metrics registry refused a metric.
    #[error("cannot set up metrics: {0}")]
    Metrics(String),
}

fn build_metrics() -> Result<PrometheusMetrics, StartError> {
    let buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    // Each state has its own registry, so in-process tests never collide.
    PrometheusMetricsBuilder::new("crossroads")
        .registry(prometheus::Registry::new())
        .buckets(&buckets)
        .mask_unmatched_patterns("unmatched")
        .build()
        .map_err(|e| StartError::Metrics(e.to_string()))
}
