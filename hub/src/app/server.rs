//! Starting and stopping the HTTP server, and logging.

use actix_web::{HttpServer, web};
use tracing_subscriber::EnvFilter;

use crate::app::clock::Clock;
use crate::app::config::{Config, LogFormat};
use crate::app::state::AppState;

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

/// Runs pending migrations, then stores the versions of the shipped schema
/// catalog not stored yet (see [`crate::services::maintenance::migrate`]);
/// reports the migrations applied.
pub fn migrate(state: &AppState) -> anyhow::Result<Vec<String>> {
    let mut conn = state.pool.get()?;
    crate::services::maintenance::migrate(&mut conn, &state.totp_key, &state.clock)
}

/// Loads the schema registry from the database. When that fails (say,
/// migrations are pending) the registry loads on first use instead.
fn load_schemas(state: &AppState) {
    let loaded = state
        .pool
        .get()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| state.schemas.load(&mut conn).map_err(|e| e.to_string()));
    match loaded {
        Ok(schemas) => {
            let versions = schemas.catalog().list().len();
            tracing::info!(
                versions,
                base = state.schemas.base_url(),
                "schema registry loaded"
            );
        }
        Err(error) => {
            tracing::warn!(%error, "schema registry not loaded; it loads on first use");
        }
    }
}

/// A hub bound to its address, with migrations applied, not yet serving.
pub struct Started {
    /// The server; await it to serve until SIGTERM or SIGINT.
    pub server: actix_web::dev::Server,
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    /// Its shared state.
    pub state: web::Data<AppState>,
}

/// Serves until SIGTERM or SIGINT, then lets requests in flight finish.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let started = start(config).await?;
    started.server.await?;
    tracing::info!("crossroads stopped");
    Ok(())
}

/// Binds, prepares the state and applies migrations; the server is returned
/// unstarted (await it).
pub async fn start(mut config: Config) -> anyhow::Result<Started> {
    // Bind first, so that with port 0 the address (and so the default
    // public URL, the token issuer) is the one really in use.
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| anyhow::anyhow!("listen: cannot bind {}: {e}", config.listen))?;
    config.listen = listener.local_addr()?;
    let database = config.database();
    let state = web::block({
        let config = config.clone();
        move || AppState::new(config, Clock::System)
    })
    .await??;
    let state = web::Data::new(state);
    crate::secrets::check_permissions(&config);
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
    web::block({
        let state = state.clone();
        move || load_schemas(&state)
    })
    .await?;
    // The sequencer runs from the start: it drains entries handed over
    // before (by a process that crashed, or by a command) and signs a tail
    // left unsigned, whether or not traffic comes.
    web::block({
        let state = state.clone();
        move || -> anyhow::Result<()> {
            let mut conn = state.pool.get()?;
            state.audit.check_not_rolled_back(&mut conn)?;
            Ok(())
        }
    })
    .await??;
    state.audit.start()?;
    crate::services::notifications::delivery::start_workers(state.clone())?;
    let tls = crate::app::tls::server_config(&config)?;
    let mut server = HttpServer::new({
        let state = state.clone();
        move || crate::http::app(state.clone())
    })
    .on_connect(crate::app::tls::on_connect)
    .shutdown_timeout(config.shutdown_timeout_secs);
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    }
    .map_err(|e| anyhow::anyhow!("listen: cannot serve on {}: {e}", config.listen))?;
    let scheme = if config.tls_cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("listen: no address bound"))?;
    if let Some(metrics) = config.metrics_listen {
        // Metrics on their own address, without a token (and not on the
        // main one): for a network only the monitoring system reaches.
        let server = HttpServer::new({
            let state = state.clone();
            move || crate::api::health::metrics_app(state.clone())
        })
        .workers(1)
        .disable_signals()
        .bind(metrics)
        .map_err(|e| anyhow::anyhow!("metrics_listen: cannot bind {metrics}: {e}"))?;
        let bound = server.addrs().first().copied().unwrap_or(metrics);
        tracing::info!(addr = %bound, "metrics served");
        actix_web::rt::spawn(server.run());
    }
    tracing::info!(%addr, database = %database, "crossroads listening");
    // A plain line on standard output, for scripts that wait for it.
    println!("crossroads listening on {scheme}://{addr}");
    Ok(Started {
        server: server.run(),
        addr,
        state,
    })
}
