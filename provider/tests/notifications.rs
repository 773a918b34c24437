//! Webhook batches and change publication against real HTTP on loopback:
//! the hub's key set and the hub's change endpoint are served by a tiny
//! HTTP/1.1 server, batches are signed with a real Ed25519 key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use crossroads_provider::{
    ChangeAccepted, ChangeKind, ChangeRequest, HubVerifier, NOTIFICATION_BATCH_TYPE, Notification,
    NotificationClaims, ProviderError, PublishError, Publisher, REQUEST_TOKEN_TYPE, RequestClaims,
};
use identity::jwt::sign_token;
use identity::keys::{KeyRing, SigningKey};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const AGENCY: &str = "BE-0300000002";
const PUBLISHER: &str = "BE-0200000001";

/// One request the test server received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

type Answer = (u16, &'static str, String);
type Handler = Arc<dyn Fn(&Received) -> Answer + Send + Sync>;

/// A minimal HTTP/1.1 server (one request a connection) on 127.0.0.1:0.
struct Server {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    async fn start(handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let (status, content_type, body) = handler(&request);
                    log.lock().unwrap().push(request);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { url, received }
    }

    fn hits(&self, path: &str) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    fn last(&self) -> Received {
        self.received.lock().unwrap().last().cloned().unwrap()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

/// The hub's side: a key ring whose published keys the server serves.
struct Hub {
    server: Server,
    ring: KeyRing,
    published: Arc<Mutex<Value>>,
}

impl Hub {
    async fn start() -> Self {
        crossroads_provider::install_crypto().unwrap();
        let ring = KeyRing::new(SigningKey::generate().unwrap().0);
        let published = Arc::new(Mutex::new(ring.jwks(Utc::now())));
        let served = Arc::clone(&published);
        let server = Server::start(Arc::new(move |request: &Received| {
            if request.path == "/.well-known/jwks.json" {
                (
                    200,
                    "application/jwk-set+json",
                    served.lock().unwrap().to_string(),
                )
            } else {
                (404, "text/plain", "not found".into())
            }
        }))
        .await;
        Self {
            server,
            ring,
            published,
        }
    }

    fn verifier(&self) -> HubVerifier {
        HubVerifier::new(&self.server.url, AGENCY)
    }

    fn claims(&self, aud: &str, iat: DateTime<Utc>) -> NotificationClaims {
        NotificationClaims {
            iss: self.server.url.clone(),
            aud: aud.to_owned(),
            iat: iat.timestamp(),
            exp: iat.timestamp() + 300,
            jti: "bat-0123456789abcdef0123456789abcdef".into(),
            notifications: vec![notification(), deletion()],
        }
    }

    fn sign_batch(&self, claims: &NotificationClaims) -> String {
        sign_token(claims, self.ring.current(), NOTIFICATION_BATCH_TYPE).unwrap()
    }

    fn jwks_fetches(&self) -> usize {
        self.server.hits("/.well-known/jwks.json")
    }
}

fn notification() -> Notification {
    serde_json::from_value(json!({
        "id": "ntf-00000000000000000000000000000001",
        "exchange_id": "exc-00000000000000000000000000000001",
        "change_id": "chg-00000000000000000000000000000001",
        "subscription_id": "sub-00000000000000000000000000000001",
        "source": PUBLISHER,
        "record_type": "person.address@1.1",
        "kind": "updated",
        "effective_date": "2026-12-01",
        "person": "85073003328",
        "purpose": "benefit-eligibility",
        "changed_fields": ["/address/street"],
        "data": {"address": {"street": "Rue Neuve 1"}},
        "created_at": "2026-12-04T10:00:00Z"
    }))
    .unwrap()
}

fn deletion() -> Notification {
    Notification {
        id: "ntf-00000000000000000000000000000002".into(),
        kind: ChangeKind::Deleted,
        changed_fields: None,
        data: Value::Null,
        ..notification()
    }
}

fn code(result: Result<impl std::fmt::Debug, ProviderError>) -> &'static str {
    match result {
        Err(ProviderError::InvalidToken { code, .. }) => code,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[test]
fn a_notification_is_the_wire_format() {
    let updated = serde_json::to_value(notification()).unwrap();
    assert_eq!(updated["kind"], "updated");
    assert_eq!(updated["effective_date"], "2026-12-01");
    assert_eq!(updated["changed_fields"], json!(["/address/street"]));
    assert_eq!(updated["created_at"], "2026-12-04T10:00:00Z");
    assert_eq!(updated.as_object().unwrap().len(), 13);

    let deleted = serde_json::to_value(deletion()).unwrap();
    assert!(deleted.get("changed_fields").is_none());
    assert_eq!(deleted["data"], Value::Null);
    assert_eq!(
        serde_json::from_value::<Notification>(deleted).unwrap(),
        deletion()
    );
}

#[tokio::test]
async fn a_good_batch_verifies() {
    let hub = Hub::start().await;
    let now = Utc::now();
    let claims = hub.claims(AGENCY, now);
    let body = hub.sign_batch(&claims);

    let batch = hub.verifier().verify_notifications(&body).await.unwrap();
    assert_eq!(batch.batch_id, claims.jti);
    assert_eq!(batch.issued_at.timestamp(), claims.iat);
    assert_eq!(batch.expires_at.timestamp(), claims.exp);
    assert_eq!(batch.notifications, vec![notification(), deletion()]);
    // A trailing newline in the body is not part of the token.
    let again = hub
        .verifier()
        .verify_notifications_at(&format!("{body}\r\n"), now)
        .await
        .unwrap();
    assert_eq!(again, batch);
}

#[tokio::test]
async fn a_batch_for_another_agency_is_refused() {
    let hub = Hub::start().await;
    let now = Utc::now();
    let body = hub.sign_batch(&hub.claims("BE-0400000003", now));
    assert_eq!(
        code(hub.verifier().verify_notifications_at(&body, now).await),
        "wrong_audience"
    );

    let mut foreign = hub.claims(AGENCY, now);
    foreign.iss = "https://another-hub.example".into();
    let body = hub.sign_batch(&foreign);
    assert_eq!(
        code(hub.verifier().verify_notifications_at(&body, now).await),
        "wrong_issuer"
    );
}

#[tokio::test]
async fn a_request_token_is_not_a_batch_and_a_batch_is_not_a_request() {
    let hub = Hub::start().await;
    let now = Utc::now();
    let request = RequestClaims {
        iss: hub.server.url.clone(),
        aud: AGENCY.into(),
        sub: "85073003328".into(),
        jti: "exc-00000000000000000000000000000009".into(),
        iat: now.timestamp(),
        exp: now.timestamp() + 60,
        record_type: "person.address@1.1".into(),
        purpose: "benefit-eligibility".into(),
        consumer: PUBLISHER.into(),
    };
    let token = sign_token(&request, hub.ring.current(), REQUEST_TOKEN_TYPE).unwrap();
    let verifier = hub.verifier();
    // The request token is good as what it is...
    assert_eq!(
        verifier.verify(&token, now).await.unwrap().exchange_id,
        request.jti
    );
    // ...and refused as a batch.
    assert_eq!(
        code(verifier.verify_notifications_at(&token, now).await),
        "wrong_type"
    );

    let batch = hub.sign_batch(&hub.claims(AGENCY, now));
    assert_eq!(code(verifier.verify(&batch, now).await), "wrong_type");
    assert_eq!(
        code(verifier.verify_header(&format!("Bearer {batch}")).await),
        "wrong_type"
    );
}

#[tokio::test]
async fn an_expired_batch_is_refused_after_the_leeway() {
    let hub = Hub::start().await;
    let issued = Utc::now() - chrono::Duration::seconds(400);
    let body = hub.sign_batch(&hub.claims(AGENCY, issued));
    let verifier = hub.verifier();
    let expiry = issued + chrono::Duration::seconds(300);

    assert!(
        verifier
            .verify_notifications_at(&body, expiry + chrono::Duration::seconds(20))
            .await
            .is_ok()
    );
    assert_eq!(
        code(
            verifier
                .verify_notifications_at(&body, expiry + chrono::Duration::seconds(31))
                .await
        ),
        "token_expired"
    );
    assert_eq!(
        code(verifier.verify_notifications(&body).await),
        "token_expired"
    );
    // Issued in the future (beyond the leeway).
    assert_eq!(
        code(
            verifier
                .verify_notifications_at(&body, issued - chrono::Duration::seconds(60))
                .await
        ),
        "token_not_yet_valid"
    );
}

#[tokio::test]
async fn a_tampered_batch_is_refused() {
    let hub = Hub::start().await;
    let now = Utc::now();
    let body = hub.sign_batch(&hub.claims(AGENCY, now));
    let parts: Vec<&str> = body.split('.').collect();

    let mut claims = hub.claims(AGENCY, now);
    claims.notifications[0].person = "00000000097".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_eq!(
        code(hub.verifier().verify_notifications_at(&forged, now).await),
        "bad_signature"
    );

    // Signed by a key the hub never published (and the token names the
    // hub's key id).
    let (attacker, _) = SigningKey::generate().unwrap();
    let theirs = sign_token(&claims, &attacker, NOTIFICATION_BATCH_TYPE).unwrap();
    let theirs: Vec<&str> = theirs.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], theirs[1], theirs[2]);
    assert_eq!(
        code(hub.verifier().verify_notifications_at(&spliced, now).await),
        "bad_signature"
    );

    assert_eq!(
        code(hub.verifier().verify_notifications_at("", now).await),
        "malformed_token"
    );
}

#[tokio::test]
async fn an_unknown_key_fetches_the_keys_again_then_refuses() {
    let mut hub = Hub::start().await;
    let now = Utc::now();
    let verifier = hub.verifier().with_min_refresh(Duration::ZERO);
    let good = hub.sign_batch(&hub.claims(AGENCY, now));
    verifier.verify_notifications_at(&good, now).await.unwrap();
    assert_eq!(hub.jwks_fetches(), 1);

    // The hub rotates but has not published the new key yet.
    let (next, _) = SigningKey::generate().unwrap();
    hub.ring
        .rotate(next, now, chrono::Duration::days(1))
        .unwrap();
    let rotated = hub.sign_batch(&hub.claims(AGENCY, now));
    assert_eq!(
        code(verifier.verify_notifications_at(&rotated, now).await),
        "unknown_key"
    );
    assert_eq!(
        hub.jwks_fetches(),
        2,
        "an unknown key fetches the set again"
    );

    // Once published, the same verifier accepts it after one more fetch,
    // and the old key's batches still verify from the cache.
    *hub.published.lock().unwrap() = hub.ring.jwks(now);
    verifier
        .verify_notifications_at(&rotated, now)
        .await
        .unwrap();
    assert_eq!(hub.jwks_fetches(), 3);
    verifier.verify_notifications_at(&good, now).await.unwrap();
    assert_eq!(hub.jwks_fetches(), 3);

    // By default, unknown keys fetch the set at most every ten seconds.
    let (stranger, _) = SigningKey::generate().unwrap();
    let unknown = sign_token(&hub.claims(AGENCY, now), &stranger, NOTIFICATION_BATCH_TYPE).unwrap();
    let default = hub.verifier();
    default.verify_notifications_at(&good, now).await.unwrap();
    assert_eq!(hub.jwks_fetches(), 4);
    for _ in 0..3 {
        assert_eq!(
            code(default.verify_notifications_at(&unknown, now).await),
            "unknown_key"
        );
    }
    assert_eq!(hub.jwks_fetches(), 4);
}

fn change() -> ChangeRequest {
    ChangeRequest {
        person: "85073003328".into(),
        record_type: "person.address@1.1".into(),
        kind: ChangeKind::Updated,
        effective_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        changed_fields: Some(vec!["/address/street".into()]),
        record: Some(json!({"address": {"street": "Rue Neuve 1"}})),
        reference: "move-2026-000123".into(),
    }
}

#[tokio::test]
async fn a_published_change_is_posted_and_its_receipt_read() {
    crossroads_provider::install_crypto().unwrap();
    let hub = Server::start(Arc::new(|_: &Received| {
        (
            202,
            "application/json",
            json!({"change_id": "chg-0123456789abcdef0123456789abcdef", "duplicate": false})
                .to_string(),
        )
    }))
    .await;
    let publisher = Publisher::new(&format!("{}/", hub.url));

    let accepted = publisher.publish("the-token", &change()).await.unwrap();
    assert_eq!(
        accepted,
        ChangeAccepted {
            change_id: "chg-0123456789abcdef0123456789abcdef".into(),
            duplicate: false
        }
    );
    let sent = hub.last();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/changes");
    assert_eq!(sent.headers["authorization"], "Bearer the-token");
    assert_eq!(sent.headers["content-type"], "application/json");
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        json!({
            "person": "85073003328",
            "record_type": "person.address@1.1",
            "kind": "updated",
            "effective_date": "2026-12-01",
            "changed_fields": ["/address/street"],
            "record": {"address": {"street": "Rue Neuve 1"}},
            "reference": "move-2026-000123"
        })
    );

    // A deletion carries no record, and no changed fields unless given.
    let deletion = ChangeRequest {
        kind: ChangeKind::Deleted,
        record: None,
        changed_fields: None,
        ..change()
    };
    publisher.publish("the-token", &deletion).await.unwrap();
    let sent: Value = serde_json::from_slice(&hub.last().body).unwrap();
    assert!(sent.get("record").is_none() && sent.get("changed_fields").is_none());
    assert_eq!(sent["kind"], "deleted");
}

#[tokio::test]
async fn a_refusal_names_the_problem() {
    crossroads_provider::install_crypto().unwrap();
    let hub = Server::start(Arc::new(|request: &Received| {
        if request.headers["authorization"] == "Bearer consumer-token" {
            (
                403,
                "application/problem+json",
                json!({
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                    "code": "not_a_source",
                    "detail": "BE-0300000002 is not a source of person.address@1"
                })
                .to_string(),
            )
        } else {
            (502, "text/html", "<h1>Bad gateway</h1>".into())
        }
    }))
    .await;
    let publisher = Publisher::new(&hub.url);

    match publisher.publish("consumer-token", &change()).await {
        Err(PublishError::Refused {
            status,
            code,
            detail,
        }) => {
            assert_eq!((status, code.as_str()), (403, "not_a_source"));
            assert!(detail.contains("not a source"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    match publisher.publish("other", &change()).await {
        Err(PublishError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (502, "unexpected_answer"));
        }
        other => panic!("{other:?}"),
    }

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = Publisher::new(&nowhere).publish("t", &change()).await;
    assert!(
        matches!(unreachable, Err(PublishError::Transport(_))),
        "{unreachable:?}"
    );
}

#[tokio::test]
async fn a_batch_is_at_most_the_longest_token() {
    let hub = Hub::start().await;
    let now = Utc::now();
    let mut claims = hub.claims(AGENCY, now);
    let filler = |n: usize| {
        let mut big = notification();
        big.data = json!({"address": {"street": "x".repeat(n)}});
        big
    };
    // Grow the batch until it just fits, then by one more notification.
    claims.notifications = vec![filler(100)];
    while hub.sign_batch(&claims).len() <= identity::jwt::MAX_TOKEN_LEN - 1500 {
        claims.notifications.push(filler(100));
    }
    let fits = hub.sign_batch(&claims);
    assert!(fits.len() <= identity::jwt::MAX_TOKEN_LEN);
    let verifier = hub.verifier();
    assert!(verifier.verify_notifications_at(&fits, now).await.is_ok());

    claims.notifications.push(filler(2000));
    let too_long = hub.sign_batch(&claims);
    assert!(too_long.len() > identity::jwt::MAX_TOKEN_LEN);
    assert_eq!(
        code(verifier.verify_notifications_at(&too_long, now).await),
        "malformed_token"
    );
}
