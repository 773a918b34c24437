//! Providers served over HTTPS by a private CA: the hub reaches them when
//! `provider_ca_file` holds that CA, and refuses the handshake otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hub::app::clock::Clock;
use hub::app::state::AppState;
use hub::dev::demo::certs::DemoCa;
use hub::dev::sim::{self, SimOptions};
use hub::dev::testing::{Backend, TestApp, TestDb};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A request the simulator answers 401 (no hub token): reaching that answer
/// means the TLS handshake succeeded.
async fn reach(app: &TestApp, url: &str) -> Result<u16, reqwest::Error> {
    app.state
        .http
        .post(format!("{url}/records/person.address@1"))
        .body("{}")
        .send()
        .await
        .map(|r| r.status().as_u16())
}

#[actix_web::test]
async fn providers_behind_a_private_ca_are_trusted_through_provider_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = DemoCa::new().unwrap();
    let stranger = DemoCa::new().unwrap();
    let server = ca.issue_server(&["127.0.0.1", "localhost"]).unwrap();
    let options = SimOptions {
        id: "BE-0200000001".to_owned(),
        hub: "http://127.0.0.1:9".to_owned(),
        records: PathBuf::new(),
        listen: ([127, 0, 0, 1], 0).into(),
        delay_ms: 0,
        tls_cert: Some(write(dir.path(), "server.pem", &server.certificate_pem)),
        tls_key: Some(write(dir.path(), "server.key", &server.key_pem)),
        webhook_status: 204,
        publish: None,
        key: None,
    };
    let running = sim::start(&options, Default::default()).unwrap();
    assert!(
        running.url.starts_with("https://127.0.0.1:"),
        "{}",
        running.url
    );
    actix_web::rt::spawn(running.server);

    let ca_file = write(dir.path(), "ca.pem", &ca.pem);
    let trusting = TestApp::with_config(Backend::Sqlite, |c| {
        c.provider_ca_file = Some(ca_file.clone());
    })
    .unwrap();
    assert_eq!(reach(&trusting, &running.url).await.unwrap(), 401);

    let stranger_file = write(dir.path(), "stranger.pem", &stranger.pem);
    let other = TestApp::with_config(Backend::Sqlite, |c| {
        c.provider_ca_file = Some(stranger_file.clone());
    })
    .unwrap();
    let default = TestApp::new(Backend::Sqlite).unwrap();
    for app in [&other, &default] {
        let error = reach(app, &running.url).await.unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        assert!(
            format!("{error:?}").contains("InvalidCertificate"),
            "not refused for its certificate: {error:?}"
        );
    }
    running.handle.stop(false).await;
}

#[test]
fn a_provider_ca_file_that_is_not_a_pem_bundle_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create(Backend::Sqlite).unwrap();
    for (name, text) in [
        ("empty.pem", ""),
        (
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
        ),
    ] {
        let mut config = db.config();
        config.provider_ca_file = Some(write(dir.path(), name, text));
        let error = AppState::with_pool(config, db.pool(), Clock::System)
            .err()
            .expect(name)
            .to_string();
        assert!(error.contains("provider_ca_file"), "{error}");
        assert!(error.contains(name), "{error}");
    }
    let mut config = db.config();
    config.provider_ca_file = Some(dir.path().join("missing.pem"));
    let error = AppState::with_pool(config, db.pool(), Clock::System)
        .err()
        .expect("missing")
        .to_string();
    assert!(error.contains("missing.pem"), "{error}");
}
