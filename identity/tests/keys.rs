#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use common::{fixture, validated};
use identity::keys::{
    JwkSet, KeyRing, SigningKey, VerificationKeys, VerifyingKey, ed25519_jwk_thumbprint,
};
use serde_json::json;

// RFC 8037 appendix A.1: the Ed25519 example key.
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
// A.3: its RFC 7638 thumbprint.
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
// A.4: signing input and signature.
const RFC8037_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
const RFC8037_SIG: &str =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// The RFC 8037 private key as a PKCS#8 v1 document (RFC 8410): the fixed
/// prefix for Ed25519 followed by the 32-byte seed.
fn rfc8037_pkcs8() -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(URL_SAFE_NO_PAD.decode(RFC8037_D).unwrap());
    der
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000 + secs, 0).unwrap()
}

#[test]
fn rfc8037_a3_thumbprint() {
    assert_eq!(ed25519_jwk_thumbprint(RFC8037_X), RFC8037_THUMBPRINT);
    let key = VerifyingKey::from_bytes(&URL_SAFE_NO_PAD.decode(RFC8037_X).unwrap()).unwrap();
    assert_eq!(key.kid(), RFC8037_THUMBPRINT);
    assert_eq!(key.x(), RFC8037_X);
}

#[test]
fn rfc8037_a4_sign_and_a5_verify() {
    let key = SigningKey::from_pkcs8_der(&rfc8037_pkcs8()).unwrap();
    assert_eq!(key.verifying_key().x(), RFC8037_X);
    assert_eq!(key.kid(), RFC8037_THUMBPRINT);
    let sig = key.sign(RFC8037_INPUT.as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.encode(sig), RFC8037_SIG);
    let expected = URL_SAFE_NO_PAD.decode(RFC8037_SIG).unwrap();
    assert!(
        key.verifying_key()
            .verify(RFC8037_INPUT.as_bytes(), &expected)
    );
    assert!(
        !key.verifying_key()
            .verify(b"eyJhbGciOiJFZERTQSJ9.other", &expected)
    );
}

#[test]
fn generated_keys_round_trip_through_pkcs8_der_and_pem() {
    let (key, document) = SigningKey::generate().unwrap();
    // PKCS#8 v2 (RFC 5958) carries the public key: version 1.
    assert_eq!(document.as_der().len(), 83);
    assert_eq!(&document.as_der()[2..5], &[0x02, 0x01, 0x01]);
    let from_der = SigningKey::from_pkcs8_der(document.as_der()).unwrap();
    let from_pem = SigningKey::from_pkcs8_pem(&document.to_pem()).unwrap();
    assert_eq!(from_der.kid(), key.kid());
    assert_eq!(from_pem.kid(), key.kid());
    assert!(
        document
            .to_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    assert_eq!(format!("{document:?}"), "Pkcs8Document(..)");
    let (other, _) = SigningKey::generate().unwrap();
    assert_ne!(other.kid(), key.kid());
}

#[test]
fn loads_openssl_made_ed25519_key() {
    let pem = String::from_utf8(fixture("agency-ed25519.key.pem")).unwrap();
    let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
    let cert = validated("agency-ed25519.pem");
    assert_eq!(key.verifying_key().public_key(), cert.public_key());
}

#[test]
fn refuses_keys_that_are_not_ed25519() {
    let pem = String::from_utf8(fixture("agency-p256.key.pem")).unwrap();
    assert_eq!(
        SigningKey::from_pkcs8_pem(&pem).unwrap_err().code(),
        "malformed_key"
    );
    let cert = String::from_utf8(fixture("ca.pem")).unwrap();
    assert_eq!(
        SigningKey::from_pkcs8_pem(&cert).unwrap_err().code(),
        "malformed_key"
    );
    assert_eq!(
        SigningKey::from_pkcs8_der(b"\x30\x00").unwrap_err().code(),
        "malformed_key"
    );
    assert_eq!(
        VerifyingKey::from_bytes(&[0; 31]).unwrap_err().code(),
        "malformed_key"
    );
}

#[test]
fn jwk_has_the_rfc7517_members() {
    let key = SigningKey::from_pkcs8_der(&rfc8037_pkcs8()).unwrap();
    assert_eq!(
        key.verifying_key().jwk(),
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": RFC8037_X,
            "kid": RFC8037_THUMBPRINT,
            "alg": "EdDSA",
            "use": "sig",
        })
    );
    assert!(!format!("{key:?}").contains(RFC8037_D));
}

#[test]
fn rotation_keeps_old_key_published_until_its_tokens_expire() {
    let (first, _) = SigningKey::generate().unwrap();
    let (second, _) = SigningKey::generate().unwrap();
    let first_kid = first.kid().to_owned();
    let second_kid = second.kid().to_owned();
    let mut ring = KeyRing::new(first);
    assert_eq!(ring.jwks(t(0))["keys"].as_array().unwrap().len(), 1);

    ring.rotate(second, t(100), Duration::seconds(600)).unwrap();
    assert_eq!(ring.current().kid(), second_kid);
    let retired = &ring.retired()[0];
    assert_eq!(retired.retired_at, t(100));
    assert_eq!(retired.publish_until, t(700));

    let jwks = ring.jwks(t(700));
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [second_kid.as_str(), first_kid.as_str()]);
    assert!(ring.verifying_key(&first_kid, t(700)).is_some());

    assert_eq!(ring.jwks(t(701))["keys"].as_array().unwrap().len(), 1);
    assert!(ring.verifying_key(&first_kid, t(701)).is_none());
    assert!(ring.verifying_key(&second_kid, t(701)).is_some());
    assert!(ring.verifying_key("no-such-kid", t(0)).is_none());

    ring.prune(t(700));
    assert_eq!(ring.retired().len(), 1);
    ring.prune(t(701));
    assert!(ring.retired().is_empty());
}

#[test]
fn rotation_refuses_duplicates_and_negative_lifetimes() {
    let der = rfc8037_pkcs8();
    let mut ring = KeyRing::new(SigningKey::from_pkcs8_der(&der).unwrap());
    let same = SigningKey::from_pkcs8_der(&der).unwrap();
    assert_eq!(
        ring.rotate(same, t(0), Duration::seconds(60))
            .unwrap_err()
            .code(),
        "duplicate_key"
    );
    let (new, _) = SigningKey::generate().unwrap();
    assert_eq!(
        ring.rotate(new, t(0), Duration::seconds(-1))
            .unwrap_err()
            .code(),
        "invalid_lifetime"
    );
    let (new, _) = SigningKey::generate().unwrap();
    ring.rotate(new, t(0), Duration::seconds(60)).unwrap();
    let old_again = SigningKey::from_pkcs8_der(&der).unwrap();
    assert_eq!(
        ring.rotate(old_again, t(1), Duration::seconds(60))
            .unwrap_err()
            .code(),
        "duplicate_key"
    );
}

#[test]
fn published_jwks_reads_back() {
    let (first, _) = SigningKey::generate().unwrap();
    let (second, _) = SigningKey::generate().unwrap();
    let second_kid = second.kid().to_owned();
    let mut ring = KeyRing::new(first);
    ring.rotate(second, t(0), Duration::seconds(60)).unwrap();
    let mut jwks = ring.jwks(t(1));
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}));
    let set = JwkSet::from_json(&jwks).unwrap();
    assert_eq!(set.keys().len(), 2);
    let key = set.verifying_key(&second_kid, t(1_000_000)).unwrap();
    assert_eq!(key, ring.current().verifying_key());

    let private =
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D}]});
    assert_eq!(
        JwkSet::from_json(&private).unwrap_err().code(),
        "malformed_key"
    );
    assert_eq!(
        JwkSet::from_json(&json!({})).unwrap_err().code(),
        "malformed_key"
    );
}
