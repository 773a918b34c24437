//! An agency obtains a hub access token over real HTTP from a running hub,
//! and an independent JOSE library (Python's PyJWT) verifies it with nothing
//! but the hub's published JWKS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use e2e::{Hub, crossroads_with_fixture_ca, fixture, repo};
use serde_json::{Value, json};

const AGENCY: &str = e2e::FIXTURE_AGENCY;

#[tokio::test]
async fn client_credentials_then_independent_verification() {
    let data = tempfile::tempdir().unwrap();
    e2e::add_fixture_consumer(crossroads_with_fixture_ca(data.path()));

    let hub = Hub::start(crossroads_with_fixture_ca(data.path()));
    let http = e2e::http_client();

    let meta: Value = http
        .get(hub.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = meta["issuer"].as_str().unwrap().to_owned();
    let token_endpoint = meta["token_endpoint"].as_str().unwrap().to_owned();
    assert_eq!(issuer, hub.base_url);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": AGENCY, "sub": AGENCY, "aud": token_endpoint, "iat": now, "exp": now + 60, "jti": format!("e2e-{now}")});
    let key = std::fs::read_to_string(fixture("agency-p256.key.pem")).unwrap();
    let assertion = hub::dev::testing::sign_jws("ES256", &key, &json!({}), &claims);
    let form = format!(
        "{}&scope=consumer",
        e2e::client_credentials_form(&assertion)
    );
    let res = http
        .post(&token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let token: Value = res.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap().to_owned();

    // The same assertion again is a replay.
    let res = http
        .post(&token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");

    let me: Value = http
        .get(hub.url("/v1/agencies/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["agency_id"], AGENCY);

    let jwks = hub.jwks(&http).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), &jwks).unwrap();
    std::fs::write(dir.path().join("token"), &access).unwrap();
    let verify = |token_file: &str| {
        std::process::Command::new("python3")
            .arg(repo("scripts/interop/verify_hub_token.py"))
            .arg(dir.path().join("jwks.json"))
            .arg(dir.path().join(token_file))
            .arg(&issuer)
            .arg(&issuer)
            .output()
            .unwrap()
    };
    let out = verify("token");
    if out.status.code() == Some(3) && std::env::var_os("CI").is_none() {
        eprintln!(
            "skipped the PyJWT check: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    assert!(
        out.status.success(),
        "PyJWT refused the hub's token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verified["claims"]["sub"], AGENCY);
    assert_eq!(verified["header"]["alg"], "EdDSA");
    assert_eq!(verified["header"]["typ"], "at+jwt");

    // And it refuses a token whose payload was changed.
    let mut parts: Vec<&str> = access.split('.').collect();
    let forged = {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = write!(s, "{}", parts[1]);
        s.replace_range(0..1, if s.starts_with('e') { "f" } else { "e" });
        s
    };
    parts[1] = &forged;
    std::fs::write(dir.path().join("forged"), parts.join(".")).unwrap();
    assert!(!verify("forged").status.success());
}
