//! Starting and stopping the HTTP server, and logging.

use actix_web::{HttpServer, web};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};
use crate::state::AppState;
use crate::store::migrations;
use crate::time::Clock;

/// Sets up logging to standard error, as text or JSON lines.
pub fn init_logging(config: &Config) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&config.log_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second initialisation (in tests) keeps the first subscriber.
    drop(result);
}

/// Runs pending migrations and reports what was applied.
pub fn migrate(state: &AppState) -> anyhow::Result<Vec<String>> {
    let mut conn = state.pool.get()?;
    let applied = migrations::run_pending(&mut conn)?;
    Ok(applied)
}

/// Serves until SIGTERM or SIGINT, then lets requests in flight finish.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let database = config.database();
    let state = web::block({
        let config = config.clone();
        move || AppState::new(config, Clock::System)
    })
    .await??;
    let state = web::Data::new(state);
    if config.migrate_on_start {
        let applied = web::block({
            let state = state.clone();
            move || migrate(&state)
        })
        .await??;
        for version in &applied {
            tracing::info!(version, "migration applied");
        }
    }
    let mut server = HttpServer::new({
        let state = state.clone();
        move || crate::http::app(state.clone())
    })
    .shutdown_timeout(config.shutdown_timeout_secs);
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    let server = server
        .bind(config.listen)
        .map_err(|e| anyhow::anyhow!("listen: cannot bind {}: {e}", config.listen))?;
    for addr in server.addrs() {
        tracing::info!(%addr, database = %database, "crossroads listening");
        // A plain line on standard output, for scripts that wait for it.
        println!("crossroads listening on http://{addr}");
    }
    server.run().await?;
    tracing::info!("crossroads stopped");
    Ok(())
}
