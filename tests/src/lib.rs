//! Helpers for end-to-end tests that run the `crossroads` binary as a real
//! process and talk to it over real HTTP.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `crossroads` binary: `CROSSROADS_BIN`, or the one cargo builds beside
/// this test. It is (re)built once per test process, so a test never runs
/// a stale binary (`cargo test -p e2e` alone does not build it).
pub fn crossroads_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CROSSROADS_BIN") {
        return PathBuf::from(bin);
    }
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_binary);
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // target/<profile>/deps/<test> -> target/<profile>/crossroads
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test path {}", exe.display()));
    let bin = profile_dir.join(format!("crossroads{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p hub` or the whole workspace's tests",
        bin.display()
    );
    bin
}

fn build_binary() {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let release = exe.components().any(|c| c.as_os_str() == "release");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "-p", "hub", "--bin", "crossroads"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    if release {
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build crossroads: {e}"));
    assert!(status.success(), "building crossroads failed");
}

/// A `crossroads` command with no `CROSSROADS_*` setting inherited, so that
/// each test states its own.
pub fn crossroads() -> Command {
    let mut cmd = Command::new(crossroads_bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CROSSROADS_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("CROSSROADS_LOG_FORMAT", "json");
    // The simulated providers answer on plain HTTP.
    cmd.env("CROSSROADS_ALLOW_INSECURE_PROVIDERS", "true");
    cmd
}

/// A running `crossroads serve`, stopped when dropped.
pub struct Hub {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Everything written to standard error, collected by a thread.
    stderr: mpsc::Receiver<String>,
}

impl Hub {
    /// Starts `crossroads serve` on a free loopback port with `args` and
    /// waits until it listens.
    pub fn start(cmd: Command) -> Hub {
        Self::start_with(cmd, &[])
    }

    /// Like [`Hub::start`], with extra arguments after `serve`.
    pub fn start_with(cmd: Command, args: &[&str]) -> Hub {
        Self::launch(cmd, "127.0.0.1:0", args)
    }

    /// Like [`Hub::start`], listening on `listen` (to restart a hub at the
    /// same address: its issuer, and so the tokens it issued, stay valid).
    pub fn start_at(cmd: Command, listen: &str) -> Hub {
        Self::launch(cmd, listen, &[])
    }

    fn launch(mut cmd: Command, listen: &str, args: &[&str]) -> Hub {
        cmd.arg("serve")
            .arg("--listen")
            .arg(listen)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start crossroads: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (url_tx, url_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("crossroads listening on ") {
                    let _ = url_tx.send(url.trim().to_owned());
                }
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let base_url = match url_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let log: Vec<String> = err_rx.try_iter().collect();
                panic!("crossroads did not start listening:\n{}", log.join("\n"));
            }
        };
        Hub {
            child: Some(child),
            base_url,
            stderr: err_rx,
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The hub's published key set, `/.well-known/jwks.json`, as served.
    pub async fn jwks(&self, http: &reqwest::Client) -> String {
        http.get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("JWKS: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("JWKS: {e}"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends `signal` (e.g. `TERM`) and waits for the process to exit.
    pub fn stop(mut self, signal: &str) -> (ExitStatus, Vec<String>) {
        let mut child = self
            .child
            .take()
            .unwrap_or_else(|| panic!("already stopped"));
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap_or_else(|e| panic!("kill: {e}"));
        assert!(sent.success(), "kill -{signal} failed");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("wait: {e}")) {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("crossroads did not stop within 30 s of SIG{signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        let log = self.stderr.try_iter().collect();
        (status, log)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running `crossroads agency-sim`: a provider agency answering the hub
/// from a records file, stopped when dropped.
pub struct AgencySim {
    child: Option<Child>,
    /// The agency it plays.
    pub id: String,
    /// Its base URL (the agency's `endpoint_url`), `http://127.0.0.1:PORT`
    /// (`https://` when it serves TLS).
    pub url: String,
    log: Option<mpsc::Receiver<String>>,
    received: Option<mpsc::Receiver<serde_json::Value>>,
    printed: Option<mpsc::Receiver<String>>,
}

impl AgencySim {
    /// The next line it printed on standard output (other than the
    /// notifications its webhook took), waiting up to `timeout`.
    pub fn printed(&self, timeout: Duration) -> Option<String> {
        self.printed.as_ref()?.recv_timeout(timeout).ok()
    }

    /// The notifications its webhook took so far (each id once, in the
    /// order they arrived), waiting up to `timeout` for at least `n`.
    pub fn notifications(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let Some(rx) = self.received.as_ref() else {
            return out;
        };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            out.extend(rx.try_iter());
            let now = std::time::Instant::now();
            if out.len() >= n || now >= deadline {
                return out;
            }
            if let Ok(one) = rx.recv_timeout((deadline - now).min(Duration::from_millis(100))) {
                out.push(one);
            }
        }
    }

    /// What it has logged (standard error) so far.
    pub fn log(&self) -> Vec<String> {
        self.log
            .as_ref()
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default()
    }

    /// Starts `crossroads agency-sim --id ID --hub HUB --records FILE` on a
    /// free loopback port (with `--delay-ms` when `delay_ms` is not zero) and
    /// waits for its "agency-sim … listening on URL" line.
    pub fn start(id: &str, hub_url: &str, records: &Path, delay_ms: u64) -> AgencySim {
        Self::start_with(id, hub_url, records, delay_ms, &[])
    }

    /// Like [`AgencySim::start`], serving HTTPS with the PEM certificate
    /// chain `cert` and its key `key`.
    pub fn start_tls(
        id: &str,
        hub_url: &str,
        records: &Path,
        cert: &Path,
        key: &Path,
    ) -> AgencySim {
        let args = [
            OsStr::new("--tls-cert"),
            cert.as_os_str(),
            OsStr::new("--tls-key"),
            key.as_os_str(),
        ];
        Self::start_with(id, hub_url, records, 0, &args)
    }

    fn start_with(
        id: &str,
        hub_url: &str,
        records: &Path,
        delay_ms: u64,
        args: &[&OsStr],
    ) -> AgencySim {
        let delay_ms = delay_ms.to_string();
        let mut all = vec![
            OsStr::new("--hub"),
            OsStr::new(hub_url),
            OsStr::new("--listen"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--records"),
            records.as_os_str(),
            OsStr::new("--delay-ms"),
            OsStr::new(&delay_ms),
        ];
        all.extend(args);
        Self::run(id, &all)
    }

    /// Starts `crossroads agency-sim --id ID ARGS` and waits for its
    /// "agency-sim ID listening on URL" line.
    pub fn run(id: &str, args: &[&OsStr]) -> AgencySim {
        let mut cmd = crossroads();
        cmd.arg("agency-sim")
            .args(["--id", id])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start agency-sim {id}: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let prefix = format!("agency-sim {id} listening on ");
        let (url_tx, url_rx) = mpsc::channel();
        let (received_tx, received_rx) = mpsc::channel();
        let (printed_tx, printed_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(&prefix) {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = url_tx.send(url.to_owned());
                } else if let Some(json) = line.strip_prefix("notification ")
                    && let Ok(notification) = serde_json::from_str(json)
                {
                    let _ = received_tx.send(notification);
                } else {
                    let _ = printed_tx.send(line);
                }
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let url = match url_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log: Vec<String> = err_rx.try_iter().collect();
                panic!(
                    "agency-sim {id} did not start listening:\n{}",
                    log.join("\n")
                );
            }
        };
        AgencySim {
            child: Some(child),
            id: id.to_owned(),
            url,
            log: Some(err_rx),
            received: Some(received_rx),
            printed: Some(printed_rx),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Kills the process (SIGKILL) and waits until it is gone, so that its
    /// port refuses connections from then on.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for AgencySim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback address with a port free now (to start a process on it, and
/// later again on the same).
pub fn free_address() -> String {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no free port: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no free port: {e}"));
    addr.to_string()
}

/// The agency the identity crate's fixture certificates bind.
pub const FIXTURE_AGENCY: &str = "BE-0123456789";

/// A file of `identity/tests/fixtures/` (certificates and keys made with the
/// openssl command line).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../identity/tests/fixtures")
        .join(name)
}

/// A path of the repository.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// The form body of a client-credentials token request with a
/// `private_key_jwt` client assertion, as the demo's client makes it.
pub use hub::dev::demo::client::client_credentials_form;

/// Makes ring the process's crypto provider, for TLS (the HTTP client needs
/// one) and for JWS (tokens the tests make or check). Idempotent.
pub fn install_crypto_provider() {
    provider::install_crypto().unwrap_or_else(|e| panic!("{e}"));
}

/// An HTTP client for tests, with a 30-second timeout.
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("HTTP client: {e}"))
}

/// A `crossroads` command on the data directory `data` (and the database
/// there) trusting the fixture CA for agencies, as the tests that sign with
/// the fixture agency's key run it.
pub fn crossroads_with_fixture_ca(data: &Path) -> Command {
    let mut cmd = crossroads();
    cmd.env("CROSSROADS_DATA_DIR", data)
        .env("CROSSROADS_TRUST_ANCHORS_FILE", fixture("ca.pem"));
    cmd
}

/// Onboards the fixture agency (`FIXTURE_AGENCY`, P-256 certificate) as a
/// consumer with `crossroads agency add`, run through `cmd` (which carries
/// the environment: data directory, trust anchors…).
pub fn add_fixture_consumer(mut cmd: Command) {
    let out = cmd
        .args([
            "agency",
            "add",
            "--id",
            FIXTURE_AGENCY,
            "--name",
            "Benefits Agency",
        ])
        .args(["--sector", "social", "--roles", "consumer", "--cert"])
        .arg(fixture("agency-p256.pem"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run crossroads agency add: {e}"));
    assert!(
        out.status.success(),
        "agency add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `crossroads` command on `db` with the data directory `data`.
pub fn crossroads_for(db: &hub::dev::testing::TestDb, data: &Path) -> Command {
    let mut cmd = crossroads();
    cmd.env("CROSSROADS_DATA_DIR", data)
        .env("CROSSROADS_DATABASE_URL", db.url.expose_url());
    cmd
}

/// Runs `crossroads ARGS` on `db` with the data directory `data`; the
/// finished process.
pub fn crossroads_on(db: &hub::dev::testing::TestDb, data: &Path, args: &[&str]) -> Output {
    crossroads_for(db, data)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run crossroads: {e}"))
}

/// The standard output of `crossroads ARGS`, finished as `out`, which must
/// have succeeded.
pub fn succeeded(args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "{args:?}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`crossroads_on`], which must succeed; its standard output.
pub fn cli(db: &hub::dev::testing::TestDb, data: &Path, args: &[&str]) -> String {
    succeeded(args, &crossroads_on(db, data, args))
}

/// Waits (at most `within`) until the hand-over table of `db` is drained,
/// then reads every audit entry that names an exchange, by exchange id.
pub fn entries_by_exchange(
    db: &hub::dev::testing::TestDb,
    within: Duration,
) -> std::collections::HashMap<String, Vec<serde_json::Value>> {
    let pool = db.pool();
    let mut conn = pool
        .get()
        .unwrap_or_else(|e| panic!("no database connection: {e}"));
    let deadline = std::time::Instant::now() + within;
    while !hub::store::audit::queue_is_empty(&mut conn)
        .unwrap_or_else(|e| panic!("reading the hand-over table: {e}"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the hand-over table is not drained"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rows = hub::store::audit::entries_from(&mut conn, 0, 1_000_000)
        .unwrap_or_else(|e| panic!("reading the log: {e}"));
    let mut by_exchange: std::collections::HashMap<String, Vec<serde_json::Value>> =
        std::collections::HashMap::new();
    for (_, entry) in rows {
        let entry: serde_json::Value =
            serde_json::from_str(&entry).unwrap_or_else(|e| panic!("entry: {e}"));
        if let Some(id) = entry["exchange_id"].as_str() {
            by_exchange.entry(id.to_owned()).or_default().push(entry);
        }
    }
    by_exchange
}

/// Every audit entry of `db` with its subject salt (kept beside the entry,
/// outside the hashed bytes), oldest first.
pub fn entries_with_salts(
    db: &hub::dev::testing::TestDb,
) -> Vec<(i64, serde_json::Value, Option<String>)> {
    use diesel::prelude::*;
    use hub::store::tables::audit_entries;
    let pool = db.pool();
    let mut conn = pool
        .get()
        .unwrap_or_else(|e| panic!("no database connection: {e}"));
    let rows: Vec<(i64, String, Option<String>)> = audit_entries::table
        .order(audit_entries::seq.asc())
        .select((
            audit_entries::seq,
            audit_entries::entry,
            audit_entries::subject_salt,
        ))
        .load(&mut conn)
        .unwrap_or_else(|e| panic!("reading the log: {e}"));
    rows.into_iter()
        .map(|(seq, entry, salt)| {
            let entry = serde_json::from_str(&entry).unwrap_or_else(|e| panic!("entry: {e}"));
            (seq, entry, salt)
        })
        .collect()
}

/// Whether `entry` concerns the person `common_id`: its commitment opens
/// with `salt` to that ID (an entry of version 2), or its subject is that
/// ID (version 1).
pub fn concerns(entry: &serde_json::Value, salt: Option<&str>, common_id: &str) -> bool {
    if let Some(subject) = entry["subject"].as_str() {
        return subject == common_id;
    }
    let (Some(commitment), Some(salt)) = (entry["subject_commitment"].as_str(), salt) else {
        return false;
    };
    match (
        audit::Salt::from_hex(salt),
        commitment.parse::<audit::Hash>(),
    ) {
        (Ok(salt), Ok(commitment)) => salt.verify(common_id, &commitment),
        _ => false,
    }
}

/// A registered person, as `crossroads person register` printed them.
#[derive(Debug, Clone)]
pub struct Person {
    /// The common ID's digits.
    pub id: String,
    /// The activation code the person received.
    pub code: String,
}

/// An agency of a [`World`]: how it is onboarded.
#[derive(Debug, Clone)]
pub struct AgencySpec<'a> {
    /// Its identifier, `BE-…`.
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its sector.
    pub sector: &'a str,
    /// Its roles (`consumer`, `provider`, `registrar`…).
    pub roles: &'a [&'a str],
    /// Where it answers as a provider.
    pub endpoint: Option<&'a str>,
    /// `common_id` or `sector_pseudonym`.
    pub policy: &'a str,
}

impl<'a> AgencySpec<'a> {
    /// A provider answering at `endpoint`, identified by common ID.
    pub fn provider(id: &'a str, name: &'a str, sector: &'a str, endpoint: &'a str) -> Self {
        AgencySpec {
            id,
            name,
            sector,
            roles: &["provider"],
            endpoint: Some(endpoint),
            policy: "common_id",
        }
    }

    /// A consumer identifying persons by common ID.
    pub fn consumer(id: &'a str, name: &'a str, sector: &'a str) -> Self {
        AgencySpec {
            id,
            name,
            sector,
            roles: &["consumer"],
            endpoint: None,
            policy: "common_id",
        }
    }
}

/// The tax authority of the shared scenario, a provider of income
/// statements.
pub const TAX: &str = "BE-0300000001";
/// The benefits agency of the shared scenario, a consumer.
pub const BENEFITS: &str = "BE-0400000001";
/// The purpose of the shared scenario.
pub const PURPOSE: &str = "benefit-eligibility";
/// The fields of `tax.income-statement` consumers are granted (the income
/// breakdown, withholdable, is not).
pub const INCOME_FIELDS: &[&str] = &[
    "/commonId",
    "/taxYear",
    "/incomeYear",
    "/status",
    "/currency",
    "/taxableIncome",
];
/// The fields of `person.address` consumers are granted (every required
/// one; the box number is not).
pub const ADDRESS_FIELDS: &[&str] = &[
    "/commonId",
    "/addressType",
    "/since",
    "/address/street",
    "/address/houseNumber",
    "/address/postcode",
    "/address/municipality",
    "/address/country",
];

/// An assessed income statement of the person `common_id` for the tax year
/// 2026.
pub fn income_statement(common_id: &str) -> serde_json::Value {
    serde_json::json!({"commonId": common_id, "taxYear": 2026, "incomeYear": 2025, "status": "assessed",
           "currency": "EUR", "taxableIncome": 31250.0,
           "incomeByCategory": {"employment": 31250.0}})
}

/// One set of test actors over real processes, shared by the end-to-end
/// tests: a fresh database, a private CA (the hub's trust anchors), an
/// operator token made with the CLI, registered persons, the running hub,
/// agencies onboarded over HTTP with their credentials and access tokens,
/// and the simulated providers.
pub struct World {
    /// The operator's bearer token (`crossroads operator token`).
    pub operator: String,
    /// The private CA that issues agency certificates and the providers'
    /// TLS certificates.
    pub ca: hub::dev::demo::certs::DemoCa,
    /// Its certificate file, the hub's trust anchors.
    pub ca_file: PathBuf,
    /// The hub's data directory.
    pub data: PathBuf,
    hub: Option<Hub>,
    client: Option<hub::dev::demo::client::HubClient>,
    agencies: std::collections::BTreeMap<String, Onboarded>,
    dir: tempfile::TempDir,
    /// Declared last: the database outlives the processes using it.
    pub db: hub::dev::testing::TestDb,
}

/// An onboarded agency: its credentials and an access token.
pub struct Onboarded {
    /// Its certificate and key, issued by the world's CA.
    pub credentials: hub::dev::demo::certs::AgencyCredentials,
    /// An access token from the hub's token endpoint.
    pub token: String,
}

impl World {
    /// A migrated database on `backend` with an operator token; `None` when
    /// the backend is not available (the caller reports the skip with
    /// [`hub::dev::testing::skip`]). The hub is not running yet.
    pub fn create(backend: hub::dev::testing::Backend) -> Option<World> {
        let db = hub::dev::testing::TestDb::create(backend)?;
        // reqwest with rustls: a client needs a crypto provider, even for
        // plain HTTP.
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let data = dir.path().join("data");
        let ca = hub::dev::demo::certs::DemoCa::new().unwrap_or_else(|e| panic!("CA: {e}"));
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca.pem).unwrap_or_else(|e| panic!("CA file: {e}"));
        cli(&db, &data, &["migrate"]);
        let operator = cli(&db, &data, &["operator", "token", "--name", "Olga"])
            .trim()
            .to_owned();
        Some(World {
            operator,
            ca,
            ca_file,
            data,
            hub: None,
            client: None,
            agencies: std::collections::BTreeMap::new(),
            dir,
            db,
        })
    }

    /// A private folder for the test's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `crossroads ARGS` on the world's database and data directory;
    /// it must succeed; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(&self.db, &self.data, args)
    }

    /// Registers a person with the operator CLI.
    pub fn register(&self, given: &str, family: &str, born: &str) -> Person {
        let out = self.cli(&[
            "person",
            "register",
            "--given-names",
            given,
            "--family-name",
            family,
            "--birth-date",
            born,
        ]);
        let field = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {out}"))
                .trim()
                .to_owned()
        };
        Person {
            id: field("common ID:").replace(['.', '-'], ""),
            code: field("activation code:"),
        }
    }

    /// A `crossroads serve` command on the world's database and data
    /// directory, trusting the world's CA for agencies and providers.
    pub fn serve_command(&self) -> Command {
        let mut serve = crossroads();
        serve
            .env("CROSSROADS_DATA_DIR", &self.data)
            .env("CROSSROADS_DATABASE_URL", self.db.url.expose_url())
            .env("CROSSROADS_TRUST_ANCHORS_FILE", &self.ca_file)
            .env("CROSSROADS_PROVIDER_CA_FILE", &self.ca_file);
        serve
    }

    /// Starts the hub with [`World::serve_command`].
    pub fn serve(&mut self) -> &Hub {
        self.serve_with(self.serve_command())
    }

    /// Starts the hub with `serve` (a [`World::serve_command`] with more
    /// settings).
    pub fn serve_with(&mut self, serve: Command) -> &Hub {
        let hub = Hub::start(serve);
        self.client = Some(hub::dev::demo::client::HubClient::new(&hub.base_url));
        self.hub.insert(hub)
    }

    /// Starts the hub with `serve` on `listen` (see [`Hub::start_at`]).
    pub fn serve_at(&mut self, serve: Command, listen: &str) -> &Hub {
        let hub = Hub::start_at(serve, listen);
        self.client = Some(hub::dev::demo::client::HubClient::new(&hub.base_url));
        self.hub.insert(hub)
    }

    /// The running hub.
    pub fn hub(&self) -> &Hub {
        self.hub
            .as_ref()
            .unwrap_or_else(|| panic!("the hub is not running: call World::serve"))
    }

    /// Stops the hub with `signal`; its exit status and log.
    pub fn stop(&mut self, signal: &str) -> (ExitStatus, Vec<String>) {
        self.client = None;
        self.hub
            .take()
            .unwrap_or_else(|| panic!("the hub is not running"))
            .stop(signal)
    }

    /// Kills the hub (SIGKILL) and waits until it is gone.
    pub fn kill_hub(&mut self) {
        self.client = None;
        self.hub = None;
    }

    /// A client of the running hub.
    pub fn client(&self) -> &hub::dev::demo::client::HubClient {
        self.client
            .as_ref()
            .unwrap_or_else(|| panic!("the hub is not running: call World::serve"))
    }

    /// Writes `records` (record type name → person → record) as a
    /// simulator's records file named `name`.
    pub fn records(&self, name: &str, records: &serde_json::Value) -> PathBuf {
        let file = self.dir().join(format!("{name}.json"));
        let bytes = serde_json::to_vec_pretty(records).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&file, bytes).unwrap_or_else(|e| panic!("records file: {e}"));
        file
    }

    /// Starts a simulated provider `id` answering from `records`, after
    /// `delay_ms`.
    pub fn provider(&self, id: &str, records: &serde_json::Value, delay_ms: u64) -> AgencySim {
        let file = self.records(id, records);
        AgencySim::start(id, &self.hub().base_url, &file, delay_ms)
    }

    /// Like [`World::provider`], serving HTTPS with a certificate of the
    /// world's CA for 127.0.0.1.
    pub fn tls_provider(&self, id: &str, records: &serde_json::Value) -> AgencySim {
        let file = self.records(id, records);
        let tls = self
            .ca
            .issue_server(&["127.0.0.1"])
            .unwrap_or_else(|e| panic!("TLS certificate: {e}"));
        let cert = self.dir().join(format!("{id}-tls.pem"));
        let key = self.dir().join(format!("{id}-tls.key"));
        std::fs::write(&cert, &tls.certificate_pem).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&key, &tls.key_pem).unwrap_or_else(|e| panic!("{e}"));
        AgencySim::start_tls(id, &self.hub().base_url, &file, &cert, &key)
    }

    /// Onboards an agency over HTTP as the operator, with a certificate of
    /// the world's CA, and gets it an access token.
    pub async fn onboard(&mut self, agency: AgencySpec<'_>) -> &Onboarded {
        let credentials = self
            .ca
            .issue(agency.id, agency.name)
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        self.admin(
            "/v1/admin/agencies",
            &serde_json::json!({
                "id": agency.id, "name": agency.name, "sector": agency.sector,
                "roles": agency.roles, "endpoint_url": agency.endpoint,
                "identifier_policy": agency.policy,
                "certificates": [credentials.certificate_pem],
            }),
        )
        .await;
        let token = self
            .client()
            .agency_token(agency.id, &credentials)
            .await
            .unwrap_or_else(|e| panic!("token for {}: {e}", agency.id));
        self.agencies
            .entry(agency.id.to_owned())
            .insert_entry(Onboarded { credentials, token })
            .into_mut()
    }

    /// An onboarded agency.
    pub fn agency(&self, id: &str) -> &Onboarded {
        self.agencies
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not onboarded"))
    }

    /// The access token of an onboarded agency.
    pub fn token(&self, id: &str) -> &str {
        &self.agency(id).token
    }

    /// POSTs `body` to an operator endpoint, which must answer 201; the
    /// answer.
    pub async fn admin(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        self.client()
            .post(path, Some(&self.operator), body, 201)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Declares a purpose with a legal reference.
    pub async fn purpose(&self, code: &str, title: &str) {
        self.admin(
            "/v1/admin/purposes",
            &serde_json::json!({
                "code": code, "title": title,
                "legal_reference": {"title": "Social Assistance Act, art. 12", "url": "https://law.example/sa#12"},
            }),
        )
        .await;
    }

    /// Publishes an authorization for `consumer` to read `fields` of
    /// `record_type` (major 1) for `purpose`.
    pub async fn authorize(
        &self,
        consumer: &str,
        record_type: &str,
        fields: &[&str],
        purpose: &str,
        consent_required: bool,
    ) {
        self.admin(
            "/v1/admin/authorizations",
            &serde_json::json!({
                "consumer": {"agency": consumer}, "record_type": record_type, "major": 1,
                "fields": fields, "purposes": [purpose],
                "legal_reference": {"title": "Deliberation 26/042", "url": "https://law.example/isc/26-042"},
                "consent_required": consent_required,
            }),
        )
        .await;
    }

    /// Declares `provider` the source of `record_type` (major 1), with a
    /// timeout of 5 seconds.
    pub async fn source(&self, record_type: &str, provider: &str) {
        self.admin(
            "/v1/admin/sources",
            &serde_json::json!({"record_type": record_type, "major": 1, "provider": provider, "timeout_ms": 5_000}),
        )
        .await;
    }

    /// The shared scenario: the tax authority [`TAX`] answers income
    /// statements from `records` after `delay_ms`, and the benefits agency
    /// [`BENEFITS`] may read their [`INCOME_FIELDS`] for [`PURPOSE`] (with
    /// the person's consent when `consent_required`). The simulated
    /// provider, to keep running.
    pub async fn income_statements(
        &mut self,
        records: &serde_json::Value,
        delay_ms: u64,
        consent_required: bool,
    ) -> AgencySim {
        let tax_sim = self.provider(
            TAX,
            &serde_json::json!({"tax.income-statement": records}),
            delay_ms,
        );
        let tax_url = tax_sim.url.clone();
        self.onboard(AgencySpec::provider(TAX, "Tax Authority", "tax", &tax_url))
            .await;
        self.onboard(AgencySpec::consumer(BENEFITS, "Benefits Agency", "social"))
            .await;
        self.source("tax.income-statement", TAX).await;
        self.purpose(PURPOSE, "Checking eligibility for a social benefit")
            .await;
        self.authorize(
            BENEFITS,
            "tax.income-statement",
            INCOME_FIELDS,
            PURPOSE,
            consent_required,
        )
        .await;
        tax_sim
    }

    /// Every audit entry that names an exchange, by exchange id, once the
    /// hand-over table is drained.
    pub fn entries_by_exchange(&self) -> std::collections::HashMap<String, Vec<serde_json::Value>> {
        entries_by_exchange(&self.db, Duration::from_secs(10))
    }
}
