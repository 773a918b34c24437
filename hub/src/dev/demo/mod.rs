//! `crossroads demo`: the hub on a fresh SQLite database, and on loopback a
//! population register and a tax authority (providers, run by the agency
//! simulator) and a benefits agency (consumer); onboarded with freshly made
//! certificates; then a short story told in the terminal, every step over
//! real HTTP as the agencies and the citizen would do it.

pub mod certs;
pub mod client;
pub mod scenario;
mod story;

use std::path::PathBuf;

use anyhow::Context;

use self::certs::DemoCa;
use crate::app::config::Config;

/// Options of `crossroads demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// Stop after the story (for scripts and CI) instead of serving on.
    #[arg(long)]
    pub exit: bool,
    /// Also leave a second person with a pending consent request, and write
    /// what a test needs to play them and the consumer agency to this file.
    #[arg(long)]
    pub scenario_file: Option<PathBuf>,
}

/// Runs the demo.
pub async fn run(mut config: Config, options: DemoOptions) -> anyhow::Result<()> {
    let data = config.data_dir.join(format!(
        "demo-{}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    ));
    crate::secrets::create_private_dir(&data)
        .with_context(|| format!("cannot create {}", data.display()))?;
    let ca = DemoCa::new()?;
    let ca_file = data.join("demo-ca.pem");
    std::fs::write(&ca_file, &ca.pem)?;
    config.data_dir = data.clone();
    config.database_url = Some(crate::app::config::DatabaseUrl::Sqlite {
        path: data.join("crossroads.db"),
    });
    config.trust_anchors_file = Some(ca_file);
    if std::net::TcpListener::bind(config.listen).is_err() {
        config.listen.set_port(0);
    }
    config.public_url = None;
    // The demo's simulated providers answer on plain HTTP on this machine,
    // and so do the webhooks an agency simulator serves beside it.
    config.allow_insecure_providers = true;
    config.allow_insecure_webhooks = true;
    config.webhook_allow_private = true;

    println!("Crossroads demo — data in {}", data.display());
    let started = crate::app::server::start(config).await?;
    let hub_url = format!("http://{}", started.addr);
    let state = started.state.clone();
    let server_handle = started.server.handle();
    let server = actix_web::rt::spawn(started.server);

    let outcome = story::tell(&state, &hub_url, &ca, options.scenario_file.as_deref()).await;
    let stop = |code| async move {
        server_handle.stop(true).await;
        let _ = server.await;
        code
    };
    if let Err(e) = outcome {
        eprintln!("\nthe demo failed: {e:#}");
        return stop(Err(e)).await;
    }
    if options.exit {
        return stop(Ok(())).await;
    }
    println!("\nThe hub keeps running; press Ctrl-C to stop.");
    until_stopped().await;
    stop(Ok(())).await
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM, as `serve` stops on.
async fn until_stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C stops the demo")
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
