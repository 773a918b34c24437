//! `loadgen notify`: change notifications under load.
//!
//! The consumer agencies set up by `setup --subscribers N --files` each
//! subscribe to `person.address@1`: the first half by pull (a long-polling
//! reader each, reading on with the cursor), the others by webhook (a
//! minimal HTTP receiver each, in this process, that reads the batch's
//! claims without verifying the signature and records when each
//! notification arrived). Then, for each rate R, the provider publishes
//! address changes at R a second, open loop (one request every 1/R s,
//! whether or not the earlier ones were answered), for the duration,
//! beside lookups at a modest concurrency; the run then waits for the last
//! notifications of that rate.
//!
//! Reported per rate: deliveries per second, change-to-delivery latency
//! (from the start of the publish request to the arrival at the receiver
//! or in the reader), errors, notifications missing, the lookups, and the
//! hub's memory and CPU time by thread.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hub::dev::demo::certs::AgencyCredentials;
use hub::dev::demo::client::HubClient;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{PROVIDER, PURPOSE, RECORD_TYPE, RECORD_VERSION, credentials, subscriber};

/// How long a long poll of a pull reader waits, in seconds.
const POLL_WAIT: u64 = 10;
/// Most notifications a pull reader takes at once.
const POLL_LIMIT: u32 = 500;
/// Agency tokens live 600 s: renewed well before.
const TOKEN_RENEWAL: Duration = Duration::from_secs(240);

#[derive(clap::Args)]
pub struct Args {
    /// The hub's base URL.
    #[arg(long)]
    url: String,
    #[arg(long)]
    dir: PathBuf,
    /// The consumer agencies set up (half pull, half webhook).
    #[arg(long, default_value_t = 10)]
    subscribers: usize,
    /// Changes published per second, one measurement each.
    #[arg(long, value_delimiter = ',', default_values_t = [100u32, 300, 500])]
    rates: Vec<u32>,
    /// Seconds of publishing at each rate.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Longest wait, in seconds, for the last notifications of a rate.
    #[arg(long, default_value_t = 30)]
    drain: u64,
    /// Lookups in flight beside the publishing (0: none).
    #[arg(long, default_value_t = 8)]
    lookups: usize,
    /// The hub's process id, for its memory and CPU time.
    #[arg(long)]
    hub_pid: Option<u32>,
}

/// A notification as it reached a receiver or a reader.
struct Arrival {
    id: String,
    change: String,
    at: Instant,
    by: By,
}

/// How a notification arrived.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Pull,
    Webhook,
}

/// What the receivers and readers saw, and what went wrong.
#[derive(Default)]
struct Seen {
    arrivals: Vec<Arrival>,
    errors: BTreeMap<&'static str, (u64, String)>,
}

type Shared = Arc<Mutex<Seen>>;

fn note_error(seen: &Shared, what: &'static str, detail: String) {
    if let Ok(mut seen) = seen.lock() {
        let entry = seen.errors.entry(what).or_insert((0, detail));
        entry.0 += 1;
    }
}

/// Records the notifications of a webhook batch or a feed page.
fn note_arrivals(seen: &Shared, notifications: &Value, at: Instant, by: By) {
    let Some(list) = notifications.as_array() else {
        return;
    };
    if let Ok(mut seen) = seen.lock() {
        for n in list {
            seen.arrivals.push(Arrival {
                id: n["id"].as_str().unwrap_or_default().to_owned(),
                change: n["change_id"].as_str().unwrap_or_default().to_owned(),
                at,
                by,
            });
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let hub = HubClient::new(&args.url);
    let seen: Shared = Arc::default();
    let agencies: Vec<String> = (0..args.subscribers).map(subscriber).collect();
    let pulls = agencies.len() / 2;
    for (k, agency) in agencies.iter().enumerate() {
        let creds = credentials(&args.dir, agency)?;
        let token = hub.agency_token(agency, &creds).await?;
        let mut body = json!({"record_type": RECORD_TYPE, "purpose": PURPOSE, "delivery": "pull"});
        if k >= pulls {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/notifications", listener.local_addr()?);
            body = json!({"record_type": RECORD_TYPE, "purpose": PURPOSE, "delivery": "webhook",
                          "webhook_url": url});
            tokio::spawn(receive(listener, Arc::clone(&seen)));
        } else {
            tokio::spawn(read_feed(
                hub.clone(),
                agency.clone(),
                creds,
                Arc::clone(&seen),
            ));
        }
        hub.post("/v1/subscriptions", Some(&token), &body, 201)
            .await
            .with_context(|| format!("subscribing {agency}"))?;
    }
    println!(
        "subscribed: {pulls} agencies by pull, {} by webhook (receivers in the load generator)",
        agencies.len() - pulls
    );
    let people: Arc<Vec<String>> = Arc::new(
        super::persons(&args.dir)?
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
    );
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    for (phase, &rate) in args.rates.iter().enumerate() {
        let label = format!("{nonce}-{phase}");
        measure(&args, &hub, &seen, &people, rate, &label).await?;
    }
    Ok(())
}

/// One publish request: when it started and ended, and the change id.
struct Published {
    sent: Instant,
    done: Instant,
    change: Result<String, String>,
}

/// Publishes at `rate` for the duration beside the lookups, waits for the
/// notifications, and prints what it measured.
async fn measure(
    args: &Args,
    hub: &HubClient,
    seen: &Shared,
    people: &Arc<Vec<String>>,
    rate: u32,
    label: &str,
) -> anyhow::Result<()> {
    println!("starting: rate={rate}/s for {} s", args.duration);
    let duration = Duration::from_secs(args.duration);
    let token = hub
        .agency_token(PROVIDER, &credentials(&args.dir, PROVIDER)?)
        .await?;
    let errors_before = errors(seen);
    let cpu_before = args.hub_pid.map(threads_cpu);
    let lookups = async {
        if args.lookups == 0 {
            return Ok(None);
        }
        let requests = super::hub_requests(&args.dir, &args.url, &args.url).await?;
        super::drive(requests, args.lookups, Duration::ZERO, duration)
            .await
            .map(Some)
    };
    let start = Instant::now();
    let (published, lookups) =
        tokio::join!(publish(hub, &token, people, rate, duration, label), lookups);
    let published = published?;
    let lookups = lookups?;
    let window_end = start + duration;
    let cpu_after = args.hub_pid.map(threads_cpu);
    let cpu_seconds = Instant::now().duration_since(start).as_secs_f64();

    let sent: HashMap<&str, Instant> = published
        .iter()
        .filter_map(|p| p.change.as_deref().ok().map(|c| (c, p.sent)))
        .collect();
    let expected = sent.len() * args.subscribers;
    let drain_until = Instant::now() + Duration::from_secs(args.drain);
    loop {
        let arrived = count_arrivals(seen, &sent);
        if arrived >= expected || Instant::now() >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Latencies of this rate's notifications, each counted once.
    let mut latencies_ms = Vec::with_capacity(expected);
    let mut by_path: HashMap<bool, Vec<f64>> = HashMap::new();
    let mut in_window = 0usize;
    let mut duplicates = 0usize;
    let mut last = start;
    if let Ok(seen) = seen.lock() {
        let mut ids = HashSet::with_capacity(expected);
        for arrival in &seen.arrivals {
            let Some(&sent_at) = sent.get(arrival.change.as_str()) else {
                continue;
            };
            if !ids.insert(arrival.id.as_str()) {
                duplicates += 1;
                continue;
            }
            let ms = arrival.at.duration_since(sent_at).as_secs_f64() * 1000.0;
            latencies_ms.push(ms);
            by_path.entry(arrival.by == By::Pull).or_default().push(ms);
            if arrival.at <= window_end {
                in_window += 1;
            }
            last = last.max(arrival.at);
        }
    }
    latencies_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&latencies_ms, p);
    let mut publish_ms: Vec<f64> = published
        .iter()
        .filter(|p| p.change.is_ok())
        .map(|p| p.done.duration_since(p.sent).as_secs_f64() * 1000.0)
        .collect();
    publish_ms.sort_by(f64::total_cmp);
    let publish_p99 = publish_ms
        .get((publish_ms.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or(0.0);
    let publish_errors: Vec<&String> = published
        .iter()
        .filter_map(|p| p.change.as_ref().err())
        .collect();
    let delivered = latencies_ms.len();
    let secs = duration.as_secs_f64();
    // Deliveries per second: over the publishing and as long after it as
    // the last notification took.
    let late = last.saturating_duration_since(window_end).as_secs_f64();

    println!(
        "notifications: rate={rate}/s subscribers={} seconds={} published={} publish_errors={} publish_p99_ms={publish_p99:.1} \
         expected={expected} delivered={delivered} missing={} duplicates={duplicates} \
         deliveries_per_s={:.0} delivered_in_window_per_s={:.0} last_after_window_s={:.1} \
         latency_p50_ms={:.0} latency_p90_ms={:.0} latency_p99_ms={:.0} latency_max_ms={:.0}",
        args.subscribers,
        args.duration,
        sent.len(),
        publish_errors.len(),
        expected.saturating_sub(delivered),
        delivered as f64 / (secs + late),
        in_window as f64 / secs,
        late,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0),
    );
    for (pull, mut ms) in by_path {
        ms.sort_by(f64::total_cmp);
        println!(
            "notifications: by {}: delivered={} latency_p50_ms={:.0} latency_p99_ms={:.0}",
            if pull { "pull" } else { "webhook" },
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.99)
        );
    }
    if let Some(first) = publish_errors.first() {
        println!("notifications: first publish error: {first}");
    }
    for (what, (n, first)) in errors(seen) {
        let before = errors_before.get(what).map_or(0, |(n, _)| *n);
        if n > before {
            println!(
                "notifications: {what} errors: {} (first: {first})",
                n - before
            );
        }
    }
    if let Some(lookups) = lookups {
        lookups.print(
            &format!("lookups beside rate={rate}/s"),
            &format!("concurrency={}", args.lookups),
        );
    }
    if let (Some(pid), Some(before), Some(after)) = (args.hub_pid, cpu_before, cpu_after) {
        print_hub(pid, &before, &after, cpu_seconds);
    }
    Ok(())
}

/// The `p` percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn errors(seen: &Shared) -> BTreeMap<&'static str, (u64, String)> {
    seen.lock().map(|s| s.errors.clone()).unwrap_or_default()
}

/// How many notifications of the changes in `sent` have arrived (once each).
fn count_arrivals(seen: &Shared, sent: &HashMap<&str, Instant>) -> usize {
    let Ok(seen) = seen.lock() else {
        return 0;
    };
    seen.arrivals
        .iter()
        .filter(|a| sent.contains_key(a.change.as_str()))
        .map(|a| a.id.as_str())
        .collect::<HashSet<_>>()
        .len()
}

/// Publishes `rate` changes a second for `duration`, open loop: each
/// request is started on time, whatever became of the earlier ones.
async fn publish(
    hub: &HubClient,
    token: &str,
    people: &Arc<Vec<String>>,
    rate: u32,
    duration: Duration,
    label: &str,
) -> anyhow::Result<Vec<Published>> {
    let total = u64::from(rate) * duration.as_secs();
    let today = chrono::Utc::now().date_naive().to_string();
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(usize::try_from(total)?);
    for i in 0..total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / f64::from(rate))).await;
        let person = &people[usize::try_from(i)? % people.len()];
        let body = json!({
            "person": person, "record_type": RECORD_VERSION, "kind": "updated",
            "effective_date": today, "changed_fields": ["/address/street"],
            "record": {"commonId": person, "addressType": "legal-residence", "since": today,
                       "address": {"street": format!("Rue {label}-{i}"), "houseNumber": "1",
                                   "postcode": "1000", "municipality": "Bruxelles", "country": "BE"}},
            "reference": format!("bench-{label}-{i}"),
        });
        let (hub, token) = (hub.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = hub
                .send(
                    reqwest::Method::POST,
                    "/v1/changes",
                    Some(&token),
                    Some(&body),
                )
                .await;
            let change = match answer {
                Ok((202, body)) => body["change_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("202 without change_id: {body}")),
                Ok((status, body)) => Err(format!("{status}: {body}")),
                Err(e) => Err(format!("{e:#}")),
            };
            Published {
                sent,
                done: Instant::now(),
                change,
            }
        }));
    }
    let mut published = Vec::with_capacity(tasks.len());
    for task in tasks {
        published.push(task.await?);
    }
    Ok(published)
}

/// Reads an agency's pull feed on and on, with the cursor.
async fn read_feed(hub: HubClient, agency: String, creds: AgencyCredentials, seen: Shared) {
    let mut token: Option<(String, Instant)> = None;
    let mut cursor: Option<String> = None;
    loop {
        if token
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() > TOKEN_RENEWAL)
        {
            match hub.agency_token(&agency, &creds).await {
                Ok(t) => token = Some((t, Instant::now())),
                Err(e) => {
                    note_error(&seen, "pull feed token", format!("{e:#}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let bearer = token.as_ref().map(|(t, _)| t.as_str());
        let after = cursor
            .as_deref()
            .map(|c| format!("&after={c}"))
            .unwrap_or_default();
        let path = format!("/v1/notifications?limit={POLL_LIMIT}&wait={POLL_WAIT}{after}");
        match hub.send(reqwest::Method::GET, &path, bearer, None).await {
            Ok((200, body)) => {
                note_arrivals(&seen, &body["notifications"], Instant::now(), By::Pull);
                if let Some(next) = body["cursor"].as_str() {
                    cursor = Some(next.to_owned());
                }
            }
            Ok((status, body)) => {
                note_error(&seen, "pull feed", format!("{agency}: {status}: {body}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                note_error(&seen, "pull feed", format!("{agency}: {e:#}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The webhook receiver of one agency.
async fn receive(listener: TcpListener, seen: Shared) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, &seen).await {
                        note_error(&seen, "webhook receiver", format!("{e:#}"));
                    }
                });
            }
            Err(e) => note_error(&seen, "webhook receiver", e.to_string()),
        }
    }
}

/// Serves one keep-alive connection of webhook batches: a minimal
/// HTTP/1.1 server (requests with a `content-length`), answering 200 to
/// each batch whose claims it could read, 400 otherwise.
async fn connection(mut stream: TcpStream, seen: &Shared) -> anyhow::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map(|v| v.trim().parse())
            .transpose()?
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if stream.read_buf(&mut buf).await? == 0 {
                anyhow::bail!("connection closed within a request");
            }
        }
        let at = Instant::now();
        let read = claims(&buf[head_end..head_end + length]);
        buf.drain(..head_end + length);
        let answer: &[u8] = match read {
            Ok(claims) => {
                note_arrivals(seen, &claims["notifications"], at, By::Webhook);
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
            }
            Err(e) => {
                note_error(seen, "webhook batch", format!("{e:#}"));
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
            }
        };
        stream.write_all(answer).await?;
    }
}

/// The claims of a compact JWS, unverified.
fn claims(body: &[u8]) -> anyhow::Result<Value> {
    let text = std::str::from_utf8(body)?;
    let payload = text.split('.').nth(1).context("not a compact JWS")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

/// CPU time (in clock ticks) of each thread of process `pid`, by name.
fn threads_cpu(pid: u32) -> HashMap<(u32, String), u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let tid: u32 = task.file_name().to_string_lossy().parse().unwrap_or(0);
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After the name: state, ppid, … utime is field 14, stime 15.
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            out.insert((tid, name), user + system);
        }
    }
    out
}

/// The hub's memory, and its CPU use over the measurement by thread name
/// (at 100 clock ticks a second).
fn print_hub(
    pid: u32,
    before: &HashMap<(u32, String), u64>,
    after: &HashMap<(u32, String), u64>,
    seconds: f64,
) {
    let mut by_name: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for (key, ticks) in after {
        let used = ticks - before.get(key).copied().unwrap_or(0).min(*ticks);
        let entry = by_name.entry(key.1.clone()).or_default();
        entry.0 += used;
        entry.1 += 1;
    }
    let total: u64 = by_name.values().map(|(t, _)| t).sum();
    let pct = |ticks: u64| ticks as f64 / seconds;
    let mut threads: Vec<_> = by_name.into_iter().filter(|(_, (t, _))| *t > 0).collect();
    threads.sort_by_key(|t| std::cmp::Reverse(t.1.0));
    let busiest: Vec<String> = threads
        .iter()
        .take(6)
        .map(|(name, (t, n))| format!("{name} x{n} {:.0}%", pct(*t)))
        .collect();
    println!(
        "hub: cpu={:.0}% (of one core) rss={} peak={} threads: {}",
        pct(total),
        status_field(pid, "VmRSS"),
        status_field(pid, "VmHWM"),
        busiest.join(", ")
    );
}

fn status_field(pid: u32, field: &str) -> String {
    std::fs::read_to_string(Path::new(&format!("/proc/{pid}/status")))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(&format!("{field}:"))
                    .map(|v| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "?".to_owned())
}
