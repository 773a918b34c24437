//! Over mutual TLS, access tokens are bound to the client certificate
//! (RFC 8705): the token works over that certificate and no other.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::sync::Arc;

use base64::Engine;
use e2e::{Hub, crossroads_with_fixture_ca, fixture};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

const AGENCY: &str = e2e::FIXTURE_AGENCY;

/// A client trusting `server_cert`, presenting `identity` (cert, key) if any.
fn client(
    server_cert: &CertificateDer<'static>,
    identity: Option<(&str, &str)>,
) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_cert.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let tls = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(fixture(cert))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(fixture(key)).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

#[tokio::test]
async fn tokens_are_bound_to_the_client_certificate() {
    let data = tempfile::tempdir().unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&server_key)
        .unwrap();
    std::fs::write(data.path().join("tls.pem"), server_cert.pem()).unwrap();
    std::fs::write(data.path().join("tls.key"), server_key.serialize_pem()).unwrap();
    let server_der = server_cert.der().clone();

    let setup = || {
        let mut cmd = crossroads_with_fixture_ca(&data.path().join("data"));
        cmd.env("CROSSROADS_TLS_CERT_FILE", data.path().join("tls.pem"))
            .env("CROSSROADS_TLS_KEY_FILE", data.path().join("tls.key"));
        cmd
    };
    e2e::add_fixture_consumer(setup());
    let hub = Hub::start(setup());
    assert!(hub.base_url.starts_with("https://"), "{}", hub.base_url);

    let p256 = client(
        &server_der,
        Some(("agency-p256.pem", "agency-p256.key.pem")),
    );
    let other = client(
        &server_der,
        Some(("agency-ed25519.pem", "agency-ed25519.key.pem")),
    );
    let none = client(&server_der, None);

    let meta: Value = none
        .get(hub.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["tls_client_certificate_bound_access_tokens"], true);
    let endpoint = meta["token_endpoint"].as_str().unwrap().to_owned();

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": AGENCY, "sub": AGENCY, "aud": endpoint, "iat": now, "exp": now + 60, "jti": "mtls-1"});
    let assertion = hub::dev::testing::sign_jws(
        "ES256",
        &std::fs::read_to_string(fixture("agency-p256.key.pem")).unwrap(),
        &json!({}),
        &claims,
    );
    let form = e2e::client_credentials_form(&assertion);
    let res = p256
        .post(&endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap().to_owned();
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let expected = std::fs::read_to_string(fixture("agency-p256.x5t-s256.txt")).unwrap();
    assert_eq!(payload["cnf"]["x5t#S256"], expected.trim());

    let me = |c: reqwest::Client| {
        let url = hub.url("/v1/agencies/me");
        let access = access.clone();
        async move {
            let res = c.get(url).bearer_auth(access).send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    assert_eq!(me(p256.clone()).await.0, 200);
    let (status, body) = me(other).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("certificate_binding_mismatch")),
        "{body}"
    );
    let (status, body) = me(none).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("certificate_binding_mismatch")),
        "{body}"
    );
}
