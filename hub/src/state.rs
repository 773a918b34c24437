//! What every request handler shares.

use std::sync::Arc;
use std::time::Duration;

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};

use crate::config::Config;
use crate::error::ApiError;
use crate::store::{self, DbConnection, Pool, StoreError};
use crate::time::Clock;

/// The shared state of one hub process.
pub struct AppState {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database pool.
    pub pool: Pool,
    /// The HTTP metrics, served at `/metrics`.
    pub metrics: PrometheusMetrics,
    /// The clock every decision reads.
    pub clock: Clock,
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
        Ok(Self {
            config: Arc::new(config),
            pool,
            metrics: build_metrics()?,
            clock,
        })
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
}

/// Why the hub's state could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
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
        .endpoint("/metrics")
        .buckets(&buckets)
        .mask_unmatched_patterns("unmatched")
        .build()
        .map_err(|e| StartError::Metrics(e.to_string()))
}
