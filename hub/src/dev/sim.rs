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
//!
//! It also receives change notifications by webhook at `POST /notifications`
//! (`content-type: application/jwt`): each batch is verified with the
//! provider library, and each notification printed once to stdout as
//! `notification <json>`; one seen before (a redelivery) is named on stderr
//! as `notification-repeat <id>`. A good batch is answered 204, or the
//! status of `--webhook-status` (to make the hub retry); a bad one 401.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::{Arc, Mutex, RwLock};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use provider::{HubVerifier, Notification};

/// The largest notification batch body read (the verifier refuses tokens
/// over `identity::jwt::MAX_TOKEN_LEN` anyway; this keeps its answer).
const MAX_BATCH_BODY: usize = 1024 * 1024;

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
    /// The status answered to a good notification batch (anything but 2xx
    /// makes the hub send it again later).
    #[arg(long, value_name = "CODE", default_value_t = 204,
          value_parser = clap::value_parser!(u16).range(200..=599))]
    pub webhook_status: u16,
    /// Publish the changes of this JSON file (an array of change requests,
    /// as `POST /v1/changes` takes them) once listening, as this agency,
    /// and print each receipt (with `--key`).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub publish: Option<PathBuf>,
    /// The agency's private key (PKCS#8 PEM, P-256), to sign its client
    /// assertion for an access token (with `--publish`).
    #[arg(long, value_name = "FILE", requires = "publish")]
    pub key: Option<PathBuf>,
}

/// Records by record type name, then by person.
pub type Records = HashMap<String, HashMap<String, serde_json::Value>>;

/// The records a running simulator serves; they may be replaced while it runs.
pub type SharedRecords = Arc<RwLock<Records>>;

struct Sim {
    verifier: HubVerifier,
    records: SharedRecords,
    delay: Duration,
    webhook_status: StatusCode,
    /// Ids of the notifications received so far.
    seen: Mutex<HashSet<String>>,
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

/// `POST /notifications`: a webhook batch from the hub.
async fn receive_notifications(
    sim: web::Data<Sim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let is_jwt = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/jwt"));
    if !is_jwt {
        return HttpResponse::UnsupportedMediaType()
            .content_type("text/plain")
            .body("a notification batch is sent as application/jwt");
    }
    let Ok(body) = std::str::from_utf8(&body) else {
        return HttpResponse::Unauthorized()
            .content_type("text/plain")
            .body("the batch is not a token");
    };
    let batch = match sim.verifier.verify_notifications(body).await {
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!(error = %e, "refused a notification batch that is not from the hub");
            return HttpResponse::Unauthorized()
                .content_type("text/plain")
                .body(format!("not a notification batch from the hub: {e}"));
        }
    };
    tracing::info!(batch_id = %batch.batch_id, count = batch.notifications.len(), "notification batch received");
    for notification in &batch.notifications {
        report(&sim.seen, notification);
    }
    HttpResponse::build(sim.webhook_status).finish()
}

/// Prints a notification the first time its id is seen (stdout), and names
/// it as a repeat after that (stderr).
fn report(seen: &Mutex<HashSet<String>>, notification: &Notification) {
    let first = seen
        .lock()
        .map(|mut seen| seen.insert(notification.id.clone()))
        .unwrap_or(true);
    if first {
        match serde_json::to_string(notification) {
            Ok(json) => println!("notification {json}"),
            Err(e) => {
                tracing::error!(error = %e, id = %notification.id, "cannot print a notification")
            }
        }
    } else {
        eprintln!("notification-repeat {}", notification.id);
    }
}

impl Sim {
    fn new(options: &SimOptions, records: SharedRecords) -> anyhow::Result<Self> {
        Ok(Self {
            verifier: HubVerifier::new(&options.hub, &options.id),
            records,
            delay: Duration::from_millis(options.delay_ms),
            webhook_status: StatusCode::from_u16(options.webhook_status)
                .map_err(|e| anyhow::anyhow!("--webhook-status {}: {e}", options.webhook_status))?,
            seen: Mutex::default(),
        })
    }
}

/// The simulator's endpoints (its `Sim` is in the app data).
fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/records/{record_type}", web::post().to(answer))
        .service(
            web::resource("/notifications")
                .app_data(web::PayloadConfig::new(MAX_BATCH_BODY))
                .route(web::post().to(receive_notifications)),
        );
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
    let sim = web::Data::new(Sim::new(options, records)?);
    let server =
        HttpServer::new(move || App::new().app_data(sim.clone()).configure(routes)).workers(1);
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
    if let (Some(changes), Some(key)) = (&options.publish, &options.key) {
        let changes = read_changes(changes)?;
        let key_pem = std::fs::read_to_string(key)
            .map_err(|e| anyhow::anyhow!("--key {}: {e}", key.display()))?;
        publish(&options.hub, &options.id, &key_pem, &changes).await?;
    }
    running.server.await?;
    Ok(())
}

/// Reads a file of change requests (a JSON array).
fn read_changes(path: &PathBuf) -> anyhow::Result<Vec<provider::ChangeRequest>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--publish {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("--publish {}: {e}", path.display()))
}

/// Publishes `changes` as agency `id` (an access token from a client
/// assertion signed with `key_pem`), in order, with the provider library;
/// prints `published CHANGE_ID REFERENCE` (or `published-again …` for a
/// reference published before) per change. A refusal stops the run.
async fn publish(
    hub: &str,
    id: &str,
    key_pem: &str,
    changes: &[provider::ChangeRequest],
) -> anyhow::Result<()> {
    let credentials = crate::dev::demo::certs::AgencyCredentials {
        certificate_pem: String::new(),
        key_pem: key_pem.to_owned(),
    };
    let token = crate::dev::demo::client::HubClient::new(hub)
        .agency_token(id, &credentials)
        .await?;
    let publisher = provider::Publisher::new(hub);
    for change in changes {
        let receipt = publisher
            .publish(&token, change)
            .await
            .map_err(|e| anyhow::anyhow!("change {}: {e}", change.reference))?;
        let word = if receipt.duplicate {
            "published-again"
        } else {
            "published"
        };
        println!("{word} {} {}", receipt.change_id, change.reference);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service};
    use chrono::Utc;
    use identity::jwt::sign_token;
    use identity::keys::{KeyRing, SigningKey};
    use provider::{NOTIFICATION_BATCH_TYPE, NotificationClaims, REQUEST_TOKEN_TYPE};
    use serde_json::json;

    use super::*;

    const AGENCY: &str = "BE-0300000002";

    /// Serves `ring`'s key set as a hub would; returns the hub URL.
    fn serve_keys(ring: &KeyRing) -> String {
        let jwks = ring.jwks(Utc::now());
        let server = HttpServer::new(move || {
            let jwks = jwks.clone();
            App::new().route(
                "/.well-known/jwks.json",
                web::get().to(move || {
                    let jwks = jwks.clone();
                    async move { HttpResponse::Ok().json(jwks) }
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        format!("http://{addr}")
    }

    fn options(hub: &str, webhook_status: u16) -> SimOptions {
        SimOptions {
            id: AGENCY.to_owned(),
            hub: hub.to_owned(),
            records: PathBuf::new(),
            listen: ([127, 0, 0, 1], 0).into(),
            delay_ms: 0,
            tls_cert: None,
            tls_key: None,
            webhook_status,
            publish: None,
            key: None,
        }
    }

    fn batch(hub: &str, ring: &KeyRing, aud: &str, ids: &[&str]) -> String {
        let now = Utc::now().timestamp();
        let notifications = ids
            .iter()
            .map(|id| {
                serde_json::from_value(json!({
                    "id": id,
                    "exchange_id": "exc-00000000000000000000000000000001",
                    "change_id": "chg-00000000000000000000000000000001",
                    "subscription_id": "sub-00000000000000000000000000000001",
                    "source": "BE-0200000001",
                    "record_type": "person.address@1.1",
                    "kind": "updated",
                    "effective_date": "2026-12-01",
                    "person": "85073003328",
                    "purpose": "benefit-eligibility",
                    "data": {"address": {"street": "Rue Neuve 1"}},
                    "created_at": "2026-12-04T10:00:00Z"
                }))
                .unwrap()
            })
            .collect();
        let claims = NotificationClaims {
            iss: hub.to_owned(),
            aud: aud.to_owned(),
            iat: now,
            exp: now + 300,
            jti: "bat-0123456789abcdef0123456789abcdef".into(),
            notifications,
        };
        sign_token(&claims, ring.current(), NOTIFICATION_BATCH_TYPE).unwrap()
    }

    fn post(body: &str, content_type: &str) -> TestRequest {
        TestRequest::post()
            .uri("/notifications")
            .insert_header(("content-type", content_type))
            .set_payload(body.to_owned())
    }

    #[actix_web::test]
    async fn a_batch_from_the_hub_is_acknowledged_and_each_notification_reported_once() {
        provider::install_crypto().unwrap();
        let ring = KeyRing::new(SigningKey::generate().unwrap().0);
        let hub = serve_keys(&ring);
        let sim = web::Data::new(Sim::new(&options(&hub, 204), Arc::default()).unwrap());
        let app = init_service(App::new().app_data(sim.clone()).configure(routes)).await;

        let first = batch(&hub, &ring, AGENCY, &["ntf-1", "ntf-2"]);
        let answer = call_service(&app, post(&first, "application/jwt").to_request()).await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        // A redelivery (new batch, same ids) is acknowledged again.
        let again = batch(&hub, &ring, AGENCY, &["ntf-2", "ntf-3"]);
        let answer = call_service(
            &app,
            post(&again, "application/jwt; charset=utf-8").to_request(),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        let seen = sim.seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            HashSet::from(["ntf-1", "ntf-2", "ntf-3"].map(String::from))
        );

        // Not from the hub for this agency, not a batch, not a token.
        let elsewhere = batch(&hub, &ring, "BE-0400000003", &["ntf-4"]);
        let now = Utc::now().timestamp();
        let request = sign_token(
            &json!({"iss": hub, "aud": AGENCY, "sub": "85073003328", "jti": "exc-1", "iat": now,
                    "exp": now + 60, "record_type": "person.address@1.1",
                    "purpose": "benefit-eligibility", "consumer": "BE-0200000001"}),
            ring.current(),
            REQUEST_TOKEN_TYPE,
        )
        .unwrap();
        for refused in [elsewhere.as_str(), request.as_str(), "not-a-token"] {
            let answer = call_service(&app, post(refused, "application/jwt").to_request()).await;
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{refused}");
        }
        assert_eq!(sim.seen.lock().unwrap().len(), 3);

        let answer = call_service(&app, post(&first, "application/json").to_request()).await;
        assert_eq!(answer.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[actix_web::test]
    async fn the_webhook_status_option_answers_a_good_batch() {
        provider::install_crypto().unwrap();
        let ring = KeyRing::new(SigningKey::generate().unwrap().0);
        let hub = serve_keys(&ring);
        let sim = web::Data::new(Sim::new(&options(&hub, 503), Arc::default()).unwrap());
        let app = init_service(App::new().app_data(sim.clone()).configure(routes)).await;

        let good = batch(&hub, &ring, AGENCY, &["ntf-1"]);
        let answer = call_service(&app, post(&good, "application/jwt").to_request()).await;
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(sim.seen.lock().unwrap().len(), 1);
        let bad = batch(&hub, &ring, "BE-0400000003", &["ntf-2"]);
        let answer = call_service(&app, post(&bad, "application/jwt").to_request()).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

        assert!(Sim::new(&options(&hub, 1000), Arc::default()).is_err());
    }
}
