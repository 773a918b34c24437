//! A citizen grants a consent on a running hub over real HTTP, and an
//! independent JOSE library (Python's PyJWT) verifies its artefact with
//! nothing but the hub's published JWKS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use e2e::{Hub, crossroads_with_fixture_ca, fixture, repo, succeeded};
use serde_json::{Value, json};

const AGENCY: &str = e2e::FIXTURE_AGENCY;

fn run(data: &std::path::Path, args: &[&str]) -> String {
    let out = crossroads_with_fixture_ca(data)
        .args(args)
        .output()
        .unwrap();
    succeeded(args, &out)
}

fn line(stdout: &str, prefix: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn artefact_verifies_with_pyjwt_and_the_jwks() {
    let data = tempfile::tempdir().unwrap();
    let cert = fixture("agency-p256.pem").display().to_string();
    run(
        data.path(),
        &[
            "agency",
            "add",
            "--id",
            AGENCY,
            "--name",
            "Benefits Agency",
            "--sector",
            "social",
            "--roles",
            "consumer",
            "--cert",
            &cert,
        ],
    );
    let operator = run(data.path(), &["operator", "token", "--name", "Olga"])
        .trim()
        .to_owned();
    let person = run(
        data.path(),
        &[
            "person",
            "register",
            "--given-names",
            "Jan",
            "--family-name",
            "Janssens",
            "--birth-date",
            "1970-02-03",
        ],
    );
    let common_id = line(&person, "common ID:").replace(['.', '-'], "");
    let code = line(&person, "activation code:");

    let hub = Hub::start(crossroads_with_fixture_ca(data.path()));
    let http = e2e::http_client();

    let res = http
        .post(hub.url("/v1/admin/purposes"))
        .bearer_auth(&operator)
        .json(&json!({"code": "benefit-eligibility", "title": "Benefit eligibility", "legal_reference": {"title": "Law of 15 January 1990", "url": "https://example.gov/law/1990"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let password = "correct horse battery staple";
    let res = http
        .post(hub.url("/v1/citizen/activate"))
        .json(&json!({"common_id": common_id, "activation_code": code, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let signed: Value = http
        .post(hub.url("/v1/citizen/sign-in"))
        .json(&json!({"common_id": common_id, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let citizen = signed["access_token"].as_str().unwrap().to_owned();

    let until = "2099-01-01T00:00:00Z";
    let res = http
        .post(hub.url("/v1/citizen/consents"))
        .bearer_auth(&citizen)
        .json(&json!({"agency": AGENCY, "record_types": ["person.address@1"], "purpose": "benefit-eligibility", "valid_until": until, "frequency": {"kind": "max_per", "count": 4, "period": "month"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let granted: Value = res.json().await.unwrap();
    let id = granted["id"].as_str().unwrap().to_owned();

    let res = http
        .get(hub.url(&format!("/v1/citizen/consents/{id}/artefact")))
        .bearer_auth(&citizen)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jose");
    let artefact = res.text().await.unwrap();
    let jwks = hub.jwks(&http).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), &jwks).unwrap();
    std::fs::write(dir.path().join("artefact"), &artefact).unwrap();
    let verify = |file: &str| {
        std::process::Command::new("python3")
            .arg(repo("scripts/interop/verify_consent_artefact.py"))
            .arg(dir.path().join("jwks.json"))
            .arg(dir.path().join(file))
            .output()
            .unwrap()
    };
    let out = verify("artefact");
    if out.status.code() == Some(3) && std::env::var_os("CI").is_none() {
        eprintln!(
            "skipped the PyJWT check: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    assert!(
        out.status.success(),
        "PyJWT refused the artefact: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verified["header"]["alg"], "EdDSA");
    assert_eq!(verified["header"]["typ"], "consent+jwt");
    assert_eq!(verified["claims"]["consent_id"], id.as_str());
    assert_eq!(verified["claims"]["sub"], common_id.as_str());
    assert_eq!(verified["claims"]["aud"], AGENCY);
    assert_eq!(verified["claims"]["exp"], 4_070_908_800_i64);
    assert_eq!(verified["claims"]["state"], "active");

    // A changed payload is refused.
    let mut parts: Vec<String> = artefact.split('.').map(str::to_owned).collect();
    let first = if parts[1].starts_with('e') { "f" } else { "e" };
    parts[1].replace_range(0..1, first);
    std::fs::write(dir.path().join("forged"), parts.join(".")).unwrap();
    assert!(!verify("forged").status.success());
}
