//! The load generator of `bench/lookups.sh`.
//!
//! - `prepare` makes a CA and the credentials of the two benchmark agencies
//!   (the hub is started with the CA as its trust anchor);
//! - `setup` onboards them on a running hub over HTTP, registers persons,
//!   publishes the source, purpose and authorization, and writes the
//!   simulator's records file;
//! - `run --mode hub` sends permitted lookups (`POST /v1/lookups`) through
//!   the hub; `run --mode direct` sends the provider calls the hub would
//!   make (`POST /records/{type}` with a hub request token signed with the
//!   hub's key file) straight to a provider or a proxy in front of it.
//!
//! `run` keeps a fixed number of requests in flight for a fixed time on one
//! thread (a closed loop: the maximum rate), or with `--rate` sends requests
//! at a fixed rate whatever the answers (an open loop: latency at a steady
//! offered load, each measured from the moment its request was due, so a
//! stalled server is not hidden by requests that were never sent), and
//! prints throughput and latency percentiles.
//!
//! `notify` (for `bench/notifications.sh`) measures change notifications:
//! see [`notify`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use hub::dev::demo::certs::{AgencyCredentials, DemoCa};
use hub::dev::demo::client::HubClient;
use serde_json::json;

mod notify;

const PROVIDER: &str = "BE-0200000001";
const CONSUMER: &str = "BE-0400000001";
const PURPOSE: &str = "benefit-eligibility";
/// A purpose whose authorization needs the person's consent.
const CONSENTED: &str = "social-housing";
/// Citizens' password in the benchmark.
const PASSWORD: &str = "benchmark password 2026";
const RECORD_TYPE: &str = "person.address@1";
/// The exact version the hub asks providers for.
const RECORD_VERSION: &str = "person.address@1.1";

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator for Crossroads lookups")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a CA and the agencies' certificates and keys in DIR.
    Prepare {
        #[arg(long)]
        dir: PathBuf,
        /// How many consumer agencies (the first is the one that looks up).
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
    },
    /// Onboard the agencies and persons on a running hub; write the records.
    Setup {
        #[arg(long)]
        dir: PathBuf,
        /// The hub's base URL.
        #[arg(long)]
        hub: String,
        /// An operator token (`crossroads operator token`).
        #[arg(long, env = "LOADGEN_OPERATOR_TOKEN")]
        operator: String,
        /// The provider's endpoint URL (where the simulator will listen).
        #[arg(long)]
        endpoint: String,
        /// How many persons to register.
        #[arg(long, default_value_t = 200)]
        persons: usize,
        /// How many of them are looked up under a consent (`max_per`, many
        /// per month, for a purpose whose authorization requires consent):
        /// every such lookup reserves a use of it.
        #[arg(long, default_value_t = 0)]
        consents: usize,
        /// How many consumer agencies, all authorized for the purpose that
        /// needs no consent (as many as were prepared).
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
        /// Every consumer declares a `file` reference on every person.
        #[arg(long)]
        files: bool,
    },
    /// Print a free loopback port.
    FreePort,
    /// Publish changes at fixed rates and measure their delivery.
    Notify(notify::Args),
    /// Send permitted lookups and report throughput and latency.
    Run {
        #[arg(long, value_enum)]
        mode: Mode,
        /// Where to send: the hub (mode hub), or the provider or a proxy in
        /// front of it (mode direct).
        #[arg(long)]
        url: String,
        #[arg(long)]
        dir: PathBuf,
        /// Mode direct: the hub's issuer URL (as the simulator was told).
        /// Mode hub: where to get the access token, when `--url` is not
        /// the hub's public URL (one hub process of several, say).
        #[arg(long)]
        issuer: Option<String>,
        /// Mode direct: the hub's key directory (`data_dir/keys`).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Requests in flight (closed loop).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Send this many requests a second instead, whatever the answers
        /// (open loop); `--concurrency` is then ignored.
        #[arg(long, value_name = "PER_SECOND")]
        rate: Option<f64>,
        /// Measured seconds.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Unmeasured seconds before.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// A label for the result line.
        #[arg(long, default_value = "run")]
        label: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Hub,
    Direct,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // reqwest is built without a default TLS crypto provider, and tokens
    // are signed through jsonwebtoken: ring for both.
    provider::install_crypto().map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Prepare { dir, subscribers } => prepare(&dir, subscribers),
            Command::Setup {
                dir,
                hub,
                operator,
                endpoint,
                persons,
                consents,
                subscribers,
                files,
            } => {
                let scene = Scene {
                    persons,
                    consents,
                    subscribers,
                    files,
                };
                setup(&dir, &hub, &operator, &endpoint, &scene).await
            }
            Command::Notify(args) => notify::run(args).await,
            Command::FreePort => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
                println!("{}", listener.local_addr()?.port());
                Ok(())
            }
            Command::Run {
                mode,
                url,
                dir,
                issuer,
                keys,
                concurrency,
                rate,
                duration,
                warmup,
                label,
            } => {
                let requests = match mode {
                    Mode::Hub => {
                        hub_requests(&dir, &url, issuer.as_deref().unwrap_or(&url)).await?
                    }
                    Mode::Direct => {
                        let issuer = issuer.context("--issuer is required with --mode direct")?;
                        let keys = keys.context("--keys is required with --mode direct")?;
                        direct_requests(&dir, &url, &issuer, &keys, warmup + duration + 120)?
                    }
                };
                let (warmup, duration) =
                    (Duration::from_secs(warmup), Duration::from_secs(duration));
                match rate {
                    Some(rate) => {
                        if !(rate.is_finite() && rate > 0.0) {
                            bail!("--rate must be a positive number of requests a second");
                        }
                        let result = drive_at_rate(requests, rate, warmup, duration).await?;
                        result.print(&label, &format!("rate={rate:.0}"));
                    }
                    None => {
                        let result = drive(requests, concurrency, warmup, duration).await?;
                        result.print(&label, &format!("concurrency={concurrency}"));
                    }
                }
                Ok(())
            }
        }
    })
}

fn credentials(dir: &Path, id: &str) -> anyhow::Result<AgencyCredentials> {
    let read = |name: String| {
        std::fs::read_to_string(dir.join(&name)).with_context(|| format!("reading {name}"))
    };
    Ok(AgencyCredentials {
        certificate_pem: read(format!("{id}.pem"))?,
        key_pem: read(format!("{id}.key.pem"))?,
    })
}

/// The id of consumer agency `k` (from 0; the first is [`CONSUMER`]).
fn subscriber(k: usize) -> String {
    format!("BE-04{:08}", k + 1)
}

fn prepare(dir: &Path, subscribers: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ca = DemoCa::new()?;
    std::fs::write(dir.join("ca.pem"), &ca.pem)?;
    let mut agencies = vec![(PROVIDER.to_owned(), "Population Register".to_owned())];
    agencies.push((CONSUMER.to_owned(), "Benefits Agency".to_owned()));
    agencies.extend((1..subscribers).map(|k| (subscriber(k), format!("Agency {}", k + 1))));
    for (id, name) in agencies {
        let issued = ca.issue(&id, &name)?;
        std::fs::write(dir.join(format!("{id}.pem")), issued.certificate_pem)?;
        std::fs::write(dir.join(format!("{id}.key.pem")), issued.key_pem)?;
    }
    Ok(())
}

/// What `setup` makes.
struct Scene {
    persons: usize,
    consents: usize,
    subscribers: usize,
    files: bool,
}

async fn setup(
    dir: &Path,
    hub_url: &str,
    operator: &str,
    endpoint: &str,
    scene: &Scene,
) -> anyhow::Result<()> {
    let (persons, consents) = (scene.persons, scene.consents);
    let hub = HubClient::new(hub_url);
    let provider = credentials(dir, PROVIDER)?;
    let consumer = credentials(dir, CONSUMER)?;
    for (id, name, sector, roles, endpoint, certificate) in [
        (
            PROVIDER,
            "Population Register",
            "civil",
            json!(["provider", "registrar"]),
            Some(endpoint),
            &provider.certificate_pem,
        ),
        (
            CONSUMER,
            "Benefits Agency",
            "social",
            json!(["consumer"]),
            None,
            &consumer.certificate_pem,
        ),
    ] {
        hub.post(
            "/v1/admin/agencies",
            Some(operator),
            &json!({"id": id, "name": name, "sector": sector, "roles": roles,
                    "endpoint_url": endpoint, "identifier_policy": "common_id",
                    "certificates": [certificate]}),
            201,
        )
        .await?;
    }
    hub.post(
        "/v1/admin/sources",
        Some(operator),
        &json!({"record_type": "person.address", "major": 1, "provider": PROVIDER}),
        201,
    )
    .await?;
    hub.post(
        "/v1/admin/purposes",
        Some(operator),
        &json!({"code": PURPOSE, "title": "Checking eligibility for a social benefit",
                "legal_reference": {"title": "Social Assistance Act, art. 12", "url": "https://law.example/sa#12"}}),
        201,
    )
    .await?;
    hub.post(
        "/v1/admin/purposes",
        Some(operator),
        &json!({"code": CONSENTED, "title": "Allocating social housing",
                "legal_reference": {"title": "Housing Code, art. 7", "url": "https://law.example/hc#7"}}),
        201,
    )
    .await?;
    for (purpose, consent_required) in [(PURPOSE, false), (CONSENTED, true)] {
        hub.post(
            "/v1/admin/authorizations",
            Some(operator),
            &json!({
                "consumer": {"agency": CONSUMER}, "record_type": "person.address", "major": 1,
                "fields": ["/commonId", "/addressType", "/since", "/address/street", "/address/houseNumber",
                           "/address/postcode", "/address/municipality", "/address/country"],
                "purposes": [purpose],
                "legal_reference": {"title": "Deliberation 26/042", "url": "https://law.example/isc/26-042"},
                "consent_required": consent_required,
            }),
            201,
        )
        .await?;
    }

    let registrar = hub.agency_token(PROVIDER, &provider).await?;
    let asker = hub.agency_token(CONSUMER, &consumer).await?;
    let mut ids = Vec::with_capacity(persons);
    let mut addresses = serde_json::Map::new();
    for i in 0..persons {
        let registered = hub
            .post(
                "/v1/persons",
                Some(&registrar),
                &json!({"given_names": format!("Person {i}"), "family_name": "Bench",
                        "birth_date": format!("19{:02}-{:02}-{:02}", 40 + i % 60, 1 + i % 12, 1 + i % 28)}),
                201,
            )
            .await?;
        let id = registered["id"]
            .as_str()
            .context("registration without id")?
            .to_owned();
        let purpose = if i < consents {
            let code = registered["activation_code"]
                .as_str()
                .context("registration without activation code")?;
            consent(&hub, &asker, &id, code).await?;
            CONSENTED
        } else {
            PURPOSE
        };
        addresses.insert(
            id.clone(),
            json!({"commonId": id, "addressType": "legal-residence", "since": "2019-09-01",
                   "address": {"street": "Rue de la Loi", "houseNumber": format!("{}", i + 1), "box": "2",
                               "postcode": "1000", "municipality": "Bruxelles", "country": "BE"}}),
        );
        ids.push(format!("{id} {purpose}"));
    }
    let others = (1..scene.subscribers).map(subscriber).collect::<Vec<_>>();
    for (k, id) in others.iter().enumerate() {
        let certificate = credentials(dir, id)?.certificate_pem;
        hub.post(
            "/v1/admin/agencies",
            Some(operator),
            &json!({"id": id, "name": format!("Agency {}", k + 2), "sector": "social",
                    "roles": ["consumer"], "identifier_policy": "common_id",
                    "certificates": [certificate]}),
            201,
        )
        .await?;
        hub.post(
            "/v1/admin/authorizations",
            Some(operator),
            &json!({
                "consumer": {"agency": id}, "record_type": "person.address", "major": 1,
                "fields": ["/commonId", "/addressType", "/since", "/address/street", "/address/houseNumber",
                           "/address/postcode", "/address/municipality", "/address/country"],
                "purposes": [PURPOSE],
                "legal_reference": {"title": "Deliberation 26/042", "url": "https://law.example/isc/26-042"},
                "consent_required": false,
            }),
            201,
        )
        .await?;
    }
    if scene.files {
        let people: Vec<String> = ids
            .iter()
            .map(|line| line.split(' ').next().unwrap_or_default().to_owned())
            .collect();
        for id in std::iter::once(CONSUMER.to_owned()).chain(others) {
            let token = hub.agency_token(&id, &credentials(dir, &id)?).await?;
            declare_files(&hub, &token, &people).await?;
        }
    }
    std::fs::write(
        dir.join("records.json"),
        serde_json::to_vec(&json!({"person.address": addresses}))?,
    )?;
    std::fs::write(dir.join("persons.txt"), ids.join("\n"))?;

    // Fail now rather than under load if the consumer cannot sign in.
    hub.agency_token(CONSUMER, &consumer).await?;
    println!(
        "set up: {persons} persons ({consents} under a consent), provider {PROVIDER} at {endpoint}, {} consumer(s){}",
        scene.subscribers.max(1),
        if scene.files {
            ", each holding a file on every person"
        } else {
            ""
        }
    );
    Ok(())
}

/// The agency of `token` declares a `file` reference on each of `people`,
/// sixteen at a time.
async fn declare_files(hub: &HubClient, token: &str, people: &[String]) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let mut declared = futures_util::stream::iter(people.iter().map(|person| async move {
        let body = json!({"person": person, "kind": "file", "capacity": "beneficiary",
                          "valid_from": "2020-01-01"});
        hub.post("/v1/references", Some(token), &body, 201).await
    }))
    .buffer_unordered(16);
    while let Some(result) = declared.next().await {
        result?;
    }
    Ok(())
}

/// The consumer asks `person` for a consent of many uses a month; the
/// person activates their account with `code`, signs in and approves.
async fn consent(hub: &HubClient, asker: &str, person: &str, code: &str) -> anyhow::Result<()> {
    let until = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    let requested = hub
        .post(
            "/v1/consents/requests",
            Some(asker),
            &json!({"person": person, "record_types": [RECORD_TYPE], "purpose": CONSENTED,
                    "valid_until": until,
                    "frequency": {"kind": "max_per", "count": 100_000_000, "period": "month"}}),
            201,
        )
        .await?;
    let id = requested["id"].as_str().context("consent without id")?;
    let citizen = hub.activate_and_sign_in(person, code, PASSWORD).await?;
    hub.post(
        &format!("/v1/citizen/consents/{id}/approve"),
        Some(&citizen),
        &json!({}),
        200,
    )
    .await?;
    Ok(())
}

/// The persons set up, each with the purpose to look them up for.
fn persons(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(dir.join("persons.txt")).context("reading persons.txt")?;
    let ids: Vec<(String, String)> = text
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((id, purpose)) => (id.to_owned(), purpose.to_owned()),
            None => (line.to_owned(), PURPOSE.to_owned()),
        })
        .collect();
    if ids.is_empty() {
        bail!("persons.txt is empty");
    }
    Ok(ids)
}

/// One prepared request: URL, bearer token, body.
struct Prepared {
    url: String,
    bearer: String,
    body: Vec<u8>,
}

async fn hub_requests(dir: &Path, url: &str, issuer: &str) -> anyhow::Result<Vec<Prepared>> {
    let hub = HubClient::new(issuer);
    let token = hub
        .agency_token(CONSUMER, &credentials(dir, CONSUMER)?)
        .await?;
    let url = format!("{}/v1/lookups", url.trim_end_matches('/'));
    persons(dir)?
        .into_iter()
        .map(|(person, purpose)| {
            Ok(Prepared {
                url: url.clone(),
                bearer: token.clone(),
                body: serde_json::to_vec(
                    &json!({"person": person, "record_type": RECORD_TYPE, "purpose": purpose}),
                )?,
            })
        })
        .collect()
}

/// The requests the hub would send the provider, with request tokens
/// signed by the hub's current key, valid for `valid_secs`.
fn direct_requests(
    dir: &Path,
    url: &str,
    issuer: &str,
    keys: &Path,
    valid_secs: u64,
) -> anyhow::Result<Vec<Prepared>> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(keys).with_context(|| format!("reading {}", keys.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "pk8") {
            let modified = std::fs::metadata(&path)?.modified()?;
            if newest.as_ref().is_none_or(|(m, _)| modified > *m) {
                newest = Some((modified, path));
            }
        }
    }
    let (_, key_file) = newest.context("no .pk8 key in the key directory")?;
    let key = identity::keys::SigningKey::from_pkcs8_der(&std::fs::read(&key_file)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let url = format!("{}/records/{RECORD_VERSION}", url.trim_end_matches('/'));
    persons(dir)?
        .into_iter()
        .enumerate()
        .map(|(i, (person, _))| {
            let jti = format!("exc-bench{i:08}");
            let claims = provider::RequestClaims {
                iss: issuer.trim_end_matches('/').to_owned(),
                aud: PROVIDER.to_owned(),
                sub: person,
                jti: jti.clone(),
                iat: now,
                exp: now + i64::try_from(valid_secs)?,
                record_type: RECORD_VERSION.to_owned(),
                purpose: PURPOSE.to_owned(),
                consumer: CONSUMER.to_owned(),
            };
            let bearer = identity::jwt::sign_token(&claims, &key, provider::REQUEST_TOKEN_TYPE)
                .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
            Ok(Prepared {
                url: url.clone(),
                bearer,
                body: serde_json::to_vec(
                    &json!({"exchange_id": jti, "record_type": RECORD_VERSION, "purpose": PURPOSE}),
                )?,
            })
        })
        .collect()
}

struct Outcome {
    elapsed: Duration,
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Outcome {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((self.latencies_us.len() as f64) * p).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[index]) / 1000.0
    }

    fn print(&self, label: &str, load: &str) {
        let ok = self.latencies_us.len();
        let rps = ok as f64 / self.elapsed.as_secs_f64();
        println!(
            "{label}: {load} ok={ok} errors={} seconds={:.1} rps={rps:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2}",
            self.errors,
            self.elapsed.as_secs_f64(),
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            self.percentile(1.0),
        );
        if let Some(e) = &self.first_error {
            println!("{label}: first error: {e}");
        }
    }
}

/// Keeps `concurrency` requests in flight, round-robin over `requests`;
/// measures after `warmup` for `duration`.
async fn drive(
    requests: Vec<Prepared>,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    provider::install_crypto().map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let requests = Arc::new(requests);
    let start = Instant::now();
    let measure_from = start + warmup;
    let stop_at = measure_from + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let http = http.clone();
        let requests = Arc::clone(&requests);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            let mut next = worker;
            loop {
                let sent = Instant::now();
                if sent >= stop_at {
                    break;
                }
                let request = &requests[next % requests.len()];
                next += concurrency;
                let ok = match send(&http, request).await {
                    Ok(()) => true,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        false
                    }
                };
                let done = Instant::now();
                if sent >= measure_from && done <= stop_at {
                    if ok {
                        let us = done.duration_since(sent).as_micros();
                        latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut outcome = Outcome {
        elapsed: duration,
        latencies_us: Vec::new(),
        errors: 0,
        first_error: None,
    };
    for task in tasks {
        let (latencies, errors, first_error) = task.await?;
        outcome.latencies_us.extend(latencies);
        outcome.errors += errors;
        if outcome.first_error.is_none() {
            outcome.first_error = first_error;
        }
    }
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

/// One answer: whether it succeeded (or why not).
async fn send(http: &reqwest::Client, request: &Prepared) -> Result<(), String> {
    let response = http
        .post(&request.url)
        .bearer_auth(&request.bearer)
        .header("content-type", "application/json")
        .body(request.body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)))
    }
}

/// At most this many requests of an open loop wait for their answer; a
/// request due beyond it is counted as an error (the server has fallen
/// behind the offered rate) rather than queued without bound.
const OPEN_LOOP_MAX_IN_FLIGHT: usize = 20_000;

/// Sends requests at `rate` a second, round-robin over `requests`, each on
/// its own task at the moment it is due, whatever the answers so far;
/// measures every request due in the `duration` after `warmup`, however
/// late its answer (up to the client's 30 s timeout). Latency runs from when
/// a request was due, not from when it was sent.
async fn drive_at_rate(
    requests: Vec<Prepared>,
    rate: f64,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()?;
    let requests = Arc::new(requests);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(OPEN_LOOP_MAX_IN_FLIGHT));
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    let start = tokio::time::Instant::now();
    let measure_from = start + warmup;
    let stop_at = measure_from + duration;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut errors = 0u64;
    let mut first_error = None;
    for i in 0u64.. {
        let due = start + interval.mul_f64(i as f64);
        if due >= stop_at {
            break;
        }
        tokio::time::sleep_until(due).await;
        let measured = due >= measure_from;
        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
            if measured {
                errors += 1;
                first_error.get_or_insert_with(|| {
                    format!("more than {OPEN_LOOP_MAX_IN_FLIGHT} requests waiting for an answer")
                });
            }
            continue;
        };
        let (http, requests, answers) = (http.clone(), Arc::clone(&requests), answers.clone());
        tokio::spawn(async move {
            let result = send(&http, &requests[i as usize % requests.len()]).await;
            let done = tokio::time::Instant::now();
            drop(permit);
            if measured {
                let _ = answers.send((done.duration_since(due), result));
            }
        });
    }
    drop(answers);
    let mut outcome = Outcome {
        elapsed: duration,
        latencies_us: Vec::new(),
        errors,
        first_error,
    };
    // Every task holds a sender: the channel ends when the last is answered.
    let _ = tokio::time::timeout_at(stop_at + Duration::from_secs(35), async {
        while let Some((latency, result)) = answered.recv().await {
            match result {
                Ok(()) => outcome
                    .latencies_us
                    .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX)),
                Err(e) => {
                    outcome.errors += 1;
                    outcome.first_error.get_or_insert(e);
                }
            }
        }
    })
    .await;
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}
