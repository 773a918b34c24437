//! The hub's calls to providers are bounded, between real processes over
//! real HTTP: a provider answering 50 MiB is refused after at most
//! `provider_max_response_bytes` (and the hub's memory stays small), a
//! redirect is refused and never followed, and a batch against a provider
//! that never answers is answered by its deadline, every person audited
//! exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e::{AgencySpec, World};
use futures_util::StreamExt;
use hub::dev::demo::client::HubClient;
use hub::dev::testing::Backend;
use serde_json::{Value, json};

const CONSUMER: &str = "BE-0400000001";
const PURPOSE: &str = "benefit-eligibility";
/// What the fake providers answer with: 50 MiB.
const BIG: usize = 50 * 1024 * 1024;
/// The largest answer the hub reads.
const LIMIT: usize = 1024 * 1024;
/// Persons of the batches: the most one batch may name.
const PERSONS: usize = 1_000;
/// The batch deadline, in seconds.
const BATCH_DEADLINE_SECS: u64 = 3;
/// The longest any fake provider keeps a connection.
const HOLD: Duration = Duration::from_secs(60);

/// How a fake provider misbehaves.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// 200, `content-length` of 50 MiB, then the body.
    BigWithLength,
    /// 200, 50 MiB in chunks (`transfer-encoding: chunked`).
    BigChunked,
    /// 200, no length: 50 MiB until the connection closes.
    BigUntilClose,
    /// `302 Found` to another port.
    Redirect(u16),
    /// Reads the request and never answers.
    Silent,
}

/// A tiny HTTP/1.1 server on 127.0.0.1 behaving as told, stopped when
/// dropped.
struct FakeProvider {
    url: String,
    port: u16,
    /// Connections accepted so far.
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeProvider {
    fn start(behaviour: Behaviour) -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(600);
            while !stopped.load(Ordering::Relaxed) && Instant::now() < until {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let stopped = stopped.clone();
                        std::thread::spawn(move || answer(stream, behaviour, &stopped));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeProvider {
            url: format!("http://127.0.0.1:{port}"),
            port,
            connections,
            stop,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request (head and `content-length` body); false when the peer
/// closed or broke off first.
fn read_request(stream: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf.len() - head_end;
    while body < length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => body += n,
        }
    }
    true
}

/// Waits (at most `HOLD`) until the peer closes the connection.
fn hold(stream: &mut TcpStream, stop: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let until = Instant::now() + HOLD;
    let mut chunk = [0u8; 8192];
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// 50 MiB of JSON: `{"commonId":"xxxx…"}`, in 64 KiB pieces.
fn big_body() -> impl Iterator<Item = Vec<u8>> {
    const PIECE: usize = 64 * 1024;
    let (open, close) = (b"{\"commonId\":\"".as_slice(), b"\"}".as_slice());
    let filler = BIG - open.len() - close.len();
    let pieces = filler.div_ceil(PIECE);
    std::iter::once(open.to_vec())
        .chain((0..pieces).map(move |i| vec![b'x'; PIECE.min(filler - i * PIECE)]))
        .chain(std::iter::once(close.to_vec()))
}

fn answer(mut stream: TcpStream, behaviour: Behaviour, stop: &AtomicBool) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    if !read_request(&mut stream) {
        return;
    }
    let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";
    // Every write may fail once the hub has had enough: that ends it.
    let _ = match behaviour {
        Behaviour::BigWithLength => (|| {
            stream.write_all(format!("{ok}content-length: {BIG}\r\n\r\n").as_bytes())?;
            for piece in big_body() {
                stream.write_all(&piece)?;
            }
            Ok::<_, std::io::Error>(())
        })(),
        Behaviour::BigChunked => (|| {
            stream.write_all(format!("{ok}transfer-encoding: chunked\r\n\r\n").as_bytes())?;
            for piece in big_body() {
                stream.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                stream.write_all(&piece)?;
                stream.write_all(b"\r\n")?;
            }
            stream.write_all(b"0\r\n\r\n")
        })(),
        Behaviour::BigUntilClose => (|| {
            stream.write_all(format!("{ok}connection: close\r\n\r\n").as_bytes())?;
            for piece in big_body() {
                stream.write_all(&piece)?;
            }
            stream.shutdown(Shutdown::Write)
        })(),
        Behaviour::Redirect(port) => (|| {
            stream.write_all(
                format!(
                    "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/records/elsewhere\r\n\
                     content-length: 0\r\nconnection: close\r\n\r\n"
                )
                .as_bytes(),
            )?;
            stream.shutdown(Shutdown::Write)
        })(),
        Behaviour::Silent => Ok(()),
    };
    hold(&mut stream, stop);
}

/// The hub's peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn lookup(hub: &HubClient, token: &str, person: &str, record_type: &str) -> (u16, Value) {
    hub.send(
        reqwest::Method::POST,
        "/v1/lookups",
        Some(token),
        Some(&json!({"person": person, "record_type": record_type, "purpose": PURPOSE})),
    )
    .await
    .unwrap()
}

async fn batch(
    hub: &HubClient,
    token: &str,
    persons: &[String],
    record_type: &str,
) -> (u16, Value) {
    hub.send(
        reqwest::Method::POST,
        "/v1/lookups/batch",
        Some(token),
        Some(&json!({"persons": persons, "record_type": record_type, "purpose": PURPOSE})),
    )
    .await
    .unwrap()
}

/// Fails with the hub's log.
fn fail(world: &mut World, message: String) -> ! {
    let (_, log) = world.stop("TERM");
    panic!("{message}\nhub log:\n{}", log.join("\n"));
}

#[tokio::test]
async fn provider_calls_are_bounded() {
    let mut world = World::create(Backend::Sqlite).unwrap();

    // The port a redirect points to: nothing may ever connect to it.
    let elsewhere = FakeProvider::start(Behaviour::Silent);
    // Agency, sector, record type, granted fields, behaviour.
    let providers = [
        (
            "BE-0300000001",
            "tax",
            "tax.income-statement",
            e2e::INCOME_FIELDS,
            Behaviour::BigWithLength,
        ),
        (
            "BE-0500000001",
            "employment",
            "employment.current-employer",
            &["/commonId", "/asOf", "/employments"][..],
            Behaviour::BigChunked,
        ),
        (
            "BE-0600000001",
            "civil",
            "person.family-composition",
            &["/commonId", "/asOf", "/householdSize", "/members"][..],
            Behaviour::BigUntilClose,
        ),
        (
            "BE-0700000001",
            "health",
            "health.insurance-coverage",
            &[
                "/commonId",
                "/insurer",
                "/status",
                "/coverage",
                "/increasedReimbursement",
            ][..],
            Behaviour::Redirect(elsewhere.port),
        ),
        (
            "BE-0800000001",
            "social",
            "social.benefit-entitlement",
            &["/commonId", "/benefit", "/status", "/period", "/amount"][..],
            Behaviour::Silent,
        ),
    ];
    let fakes: Vec<FakeProvider> = providers
        .iter()
        .map(|(_, _, _, _, b)| FakeProvider::start(*b))
        .collect();

    let operator = world.operator.clone();
    let mut serve = world.serve_command();
    serve
        .env("CROSSROADS_PROVIDER_MAX_RESPONSE_BYTES", LIMIT.to_string())
        .env(
            "CROSSROADS_BATCH_TIMEOUT_SECS",
            BATCH_DEADLINE_SECS.to_string(),
        );
    world.serve_with(serve);
    let hub = world.client().clone();

    world
        .onboard(AgencySpec {
            roles: &["consumer", "registrar"],
            ..AgencySpec::consumer(CONSUMER, "Benefits Agency", "social")
        })
        .await;
    world
        .purpose(PURPOSE, "Checking eligibility for a social benefit")
        .await;
    for ((id, sector, record_type, fields, _), fake) in providers.iter().zip(&fakes) {
        let name = format!("Provider {id}");
        world
            .onboard(AgencySpec::provider(id, &name, sector, &fake.url))
            .await;
        world.source(record_type, id).await;
        world
            .authorize(CONSUMER, record_type, fields, PURPOSE, false)
            .await;
    }
    let token = world.token(CONSUMER).to_owned();

    // The consumer, a registrar too, registers the persons of the batches.
    let started = Instant::now();
    let registered: Vec<(u16, Value)> = futures_util::stream::iter(0..PERSONS)
        .map(|i| {
            let (hub, token) = (hub.clone(), token.clone());
            async move {
                let body = json!({
                    "given_names": format!("Person {i}"), "family_name": "Outbound",
                    "birth_date": format!("19{:02}-{:02}-{:02}", 40 + i % 60, 1 + i % 12, 1 + i % 28),
                });
                hub.send(reqwest::Method::POST, "/v1/persons", Some(&token), Some(&body))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut persons = Vec::with_capacity(PERSONS);
    for (status, body) in registered {
        if status != 201 {
            fail(&mut world, format!("registering: {status} {body}"));
        }
        persons.push(body["id"].as_str().unwrap().to_owned());
    }
    eprintln!(
        "registered {} persons through the API in {:?}",
        persons.len(),
        started.elapsed()
    );
    let mut exchanges: Vec<String> = Vec::new();

    // (a) 50 MiB answers, three ways, three times each: 502, without
    // reading them.
    let before = peak_rss_kib(world.hub().pid());
    let started = Instant::now();
    for person in &persons[..3] {
        let answers = futures_util::future::join_all(providers[..3].iter().map(
            |(_, _, record_type, _, _)| {
                let (hub, token, person) = (hub.clone(), token.clone(), person.clone());
                let record_type = format!("{record_type}@1");
                async move {
                    (
                        record_type.clone(),
                        lookup(&hub, &token, &person, &record_type).await,
                    )
                }
            },
        ))
        .await;
        for (record_type, (status, body)) in answers {
            if (status, body["code"].as_str()) != (502, Some("provider_invalid_response")) {
                fail(&mut world, format!("{record_type}: {status} {body}"));
            }
            exchanges.push(body["exchange_id"].as_str().unwrap().to_owned());
        }
    }
    let elapsed = started.elapsed();
    let peak = peak_rss_kib(world.hub().pid());
    eprintln!(
        "9 lookups of 50 MiB answers in {elapsed:?}; hub peak RSS {} KiB before, {} KiB after",
        before, peak
    );
    for fake in &fakes[..3] {
        assert!(fake.connections() >= 1, "the hub never called {}", fake.url);
    }
    assert!(peak < 200 * 1024, "peak RSS {peak} KiB");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");

    // (b) A redirect to another port: refused, never followed.
    let (status, body) = lookup(&hub, &token, &persons[0], "health.insurance-coverage@1").await;
    if (status, body["code"].as_str()) != (502, Some("provider_invalid_response")) {
        fail(&mut world, format!("redirect: {status} {body}"));
    }
    exchanges.push(body["exchange_id"].as_str().unwrap().to_owned());
    assert!(fakes[3].connections() >= 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(elsewhere.connections(), 0, "the redirect was followed");

    // (c) A provider that never answers, 1000 persons in a batch.
    // First with a provider timeout longer than the batch's deadline: the
    // deadline cuts the calls in flight and no other lookup starts; every
    // person is answered 504 `batch_timeout`.
    let silent = "social.benefit-entitlement@1";
    let started = Instant::now();
    let (status, body) = batch(&hub, &token, &persons, silent).await;
    let elapsed = started.elapsed();
    if status != 200 {
        fail(&mut world, format!("batch: {status} {body}"));
    }
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), PERSONS);
    let mut codes: HashMap<(u64, String), usize> = HashMap::new();
    for (item, person) in results.iter().zip(&persons) {
        assert_eq!(item["person"], person.as_str());
        exchanges.push(item["exchange_id"].as_str().unwrap().to_owned());
        let code = item["problem"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *codes
            .entry((item["status"].as_u64().unwrap(), code))
            .or_default() += 1;
        assert_eq!(
            item["problem"]["exchange_id"], item["exchange_id"],
            "{item}"
        );
    }
    eprintln!("batch against a silent provider, 5000 ms timeout: {elapsed:?}, {codes:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    assert_eq!(
        codes.get(&(504, "batch_timeout".to_owned())),
        Some(&PERSONS),
        "{codes:?}"
    );

    // Then with a provider timeout shorter than the deadline: the first
    // lookups time out, and the others are cut by the deadline or, once
    // the provider's circuit is open, refused at once.
    hub.post(
        "/v1/admin/sources",
        Some(&operator),
        &json!({"record_type": "social.benefit-entitlement", "major": 1,
                "provider": providers[4].0, "timeout_ms": 2_000}),
        201,
    )
    .await
    .unwrap();
    let started = Instant::now();
    let (status, body) = batch(&hub, &token, &persons, silent).await;
    let elapsed = started.elapsed();
    if status != 200 {
        fail(&mut world, format!("batch: {status} {body}"));
    }
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), PERSONS);
    let mut codes: HashMap<(u64, String), usize> = HashMap::new();
    for (item, person) in results.iter().zip(&persons) {
        assert_eq!(item["person"], person.as_str());
        exchanges.push(item["exchange_id"].as_str().unwrap().to_owned());
        let code = item["problem"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *codes
            .entry((item["status"].as_u64().unwrap(), code))
            .or_default() += 1;
    }
    eprintln!("batch against a silent provider, 2000 ms timeout: {elapsed:?}, {codes:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    for (status, code) in codes.keys() {
        assert!(
            matches!(
                (*status, code.as_str()),
                (504, "provider_timeout" | "batch_timeout") | (503, "provider_unavailable")
            ),
            "{codes:?}"
        );
    }
    assert!(
        codes.contains_key(&(504, "provider_timeout".to_owned())),
        "{codes:?}"
    );

    // Every exchange has exactly one audit entry.
    let by_exchange = world.entries_by_exchange();
    assert_eq!(by_exchange.len(), exchanges.len());
    for id in &exchanges {
        let entries = by_exchange.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(entries.len(), 1, "{id}: {entries:#?}");
        assert_ne!(entries[0]["outcome"], "permitted", "{}", entries[0]);
    }
    drop(fakes);
    world.kill_hub();
}
