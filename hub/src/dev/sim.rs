//! `crossroads agency-sim`: a real provider agency over HTTP that answers
//! the hub from a file of records and checks every request's hub token with
//! the provider library — for the demo, the tests and the benchmarks.
//!
//! The records file maps record type names to the records by person (as the
//! agency names persons: common ID or its sector pseudonym):
//!
//! ```json
//! {"person.address": {"12345678901": {"address": {"street": "…"}}}}
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::{Arc, RwLock};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use provider::HubVerifier;

/// How the simulator behaves.
#[derive(Debug, Clone, clap::Args)]
pub struct SimOptions {
    /// The agency it plays, e.g. BE-0123456789.
    #[arg(long)]
    pub id: String,
    /// The hub's public URL (its token issuer; the JWKS is fetched from it).
    #[arg(long)]
    pub hub: String,
    /// The JSON file of records.
    #[arg(long)]
    pub records: PathBuf,
    /// Where to listen (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Wait this long before answering (to test timeouts).
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Records by record type name, then by person.
pub type Records = HashMap<String, HashMap<String, serde_json::Value>>;

/// The records a running simulator serves; they may be replaced while it runs.
pub type SharedRecords = Arc<RwLock<Records>>;

struct Sim {
    verifier: HubVerifier,
    records: SharedRecords,
    delay: Duration,
}

/// Reads a records file.
pub fn read_records(path: &PathBuf) -> anyhow::Result<Records> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--records {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("--records {}: {e}", path.display()))
}

async fn answer(
    sim: web::Data<Sim>,
    req: HttpRequest,
    record_type: web::Path<String>,
) -> HttpResponse {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let request = match sim.verifier.verify_header(header).await {
        Ok(request) => request,
        Err(e) => {
            tracing::warn!(error = %e, "refused a request that is not from the hub");
            return HttpResponse::Unauthorized().json(serde_json::json!({"error": e.to_string()}));
        }
    };
    if request.record_type != *record_type {
        return HttpResponse::BadRequest().json(
            serde_json::json!({"error": "the path and the token name different record types"}),
        );
    }
    if !sim.delay.is_zero() {
        tokio::time::sleep(sim.delay).await;
    }
    let name = request.record_type.split('@').next().unwrap_or_default();
    let found = sim.records.read().ok().and_then(|records| {
        records
            .get(name)
            .and_then(|by_person| by_person.get(&request.person))
            .cloned()
    });
    match found {
        Some(record) => {
            tracing::info!(exchange_id = %request.exchange_id, consumer = %request.consumer, record_type = %request.record_type, "answered");
            HttpResponse::Ok().json(record)
        }
        None => HttpResponse::NotFound().json(serde_json::json!({"error": "no such record"})),
    }
}

/// A running simulator.
pub struct RunningSim {
    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Stops it.
    pub handle: actix_web::dev::ServerHandle,
    /// The server task.
    pub server: actix_web::dev::Server,
}

/// Binds and returns the server (not yet awaited).
pub fn start(options: &SimOptions, records: SharedRecords) -> anyhow::Result<RunningSim> {
    let sim = web::Data::new(Sim {
        verifier: HubVerifier::new(&options.hub, &options.id),
        records,
        delay: Duration::from_millis(options.delay_ms),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(sim.clone())
            .route("/records/{record_type}", web::post().to(answer))
    })
    .workers(1);
    let (server, scheme) = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => {
            let tls =
                crate::app::tls::build_server_config(cert, key, None, ("--tls-cert", "--tls-key"))?;
            (server.bind_rustls_0_23(options.listen, tls)?, "https")
        }
        _ => (server.bind(options.listen)?, "http"),
    };
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("the simulator bound no address"))?;
    let server = server.run();
    Ok(RunningSim {
        url: format!("{scheme}://{addr}"),
        handle: server.handle(),
        server,
    })
}

/// Runs the simulator until stopped (`crossroads agency-sim`).
pub async fn run(options: SimOptions) -> anyhow::Result<()> {
    let records = read_records(&options.records)?;
    let count: usize = records.values().map(HashMap::len).sum();
    let running = start(&options, Arc::new(RwLock::new(records)))?;
    println!(
        "agency-sim {} listening on {} ({count} records)",
        options.id, running.url
    );
    running.server.await?;
    Ok(())
}
