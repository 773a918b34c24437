#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use common::{AGENCY, fixture, validated};
use identity::jwt::{
    AccessTokenClaims, AssertionRules, Audience, Confirmation, HubTokenExpectations,
    issue_access_token, sign_token, verify_client_assertion, verify_hub_token,
};
use identity::keys::{JwkSet, KeyRing, SigningKey};
use identity::x509::ValidatedCertificate;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use serde_json::{Value, json};

const HUB: &str = "https://hub.example.gov";
const API: &str = "https://hub.example.gov/api";
const TOKEN_ENDPOINT: &str = "https://hub.example.gov/oauth/token";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap()
}

fn leeway() -> Duration {
    Duration::seconds(30)
}

fn expected() -> HubTokenExpectations<'static> {
    HubTokenExpectations {
        issuer: HUB,
        audience: API,
        typ: "at+jwt",
    }
}

fn claims() -> AccessTokenClaims {
    let now = now().timestamp();
    AccessTokenClaims {
        iss: HUB.into(),
        sub: AGENCY.into(),
        aud: Audience::One(API.into()),
        exp: now + 300,
        iat: now,
        nbf: None,
        jti: "b0e5b1f6-9f57-4a55-9cf3-0bb8f4f0a0c1".into(),
        scope: "lookup:person.address@1".into(),
        client_id: Some(AGENCY.into()),
        cnf: Some(Confirmation {
            x5t_s256: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A".into(),
        }),
    }
}

fn keyring() -> KeyRing {
    identity::jose::install_crypto().unwrap();
    KeyRing::new(SigningKey::generate().unwrap().0)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64json(value: &Value) -> String {
    b64(&serde_json::to_vec(value).unwrap())
}

/// A token with any header and payload, signed with the hub key.
fn hub_signed(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!("{}.{}", b64json(header), b64json(payload));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn hub_header(key: &SigningKey) -> Value {
    json!({"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid()})
}

fn verify(token: &str, ring: &KeyRing) -> Result<AccessTokenClaims, &'static str> {
    verify_hub_token(token, ring, &expected(), now(), leeway()).map_err(|e| e.code())
}

fn verify_at(
    token: &str,
    ring: &KeyRing,
    at: DateTime<Utc>,
) -> Result<AccessTokenClaims, &'static str> {
    verify_hub_token(token, ring, &expected(), at, leeway()).map_err(|e| e.code())
}

// ---- hub tokens ----

#[test]
fn access_token_round_trip() {
    let ring = keyring();
    let token = issue_access_token(&claims(), &ring).unwrap();
    assert_eq!(token.split('.').count(), 3);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": ring.current().kid()})
    );
    assert_eq!(verify(&token, &ring).unwrap(), claims());
}

#[test]
fn access_token_claims_serialize_as_rfc9068() {
    let value = serde_json::to_value(claims()).unwrap();
    assert_eq!(value["aud"], API);
    assert_eq!(value["cnf"]["x5t#S256"], claims().cnf.unwrap().x5t_s256);
    assert!(value.get("nbf").is_none());
    let mut many = claims();
    many.aud = Audience::Many(vec!["https://other".into(), API.into()]);
    many.cnf = None;
    let value = serde_json::to_value(&many).unwrap();
    assert_eq!(value["aud"], json!(["https://other", API]));
    assert!(value.get("cnf").is_none());
    let ring = keyring();
    let token = issue_access_token(&many, &ring).unwrap();
    assert_eq!(verify(&token, &ring).unwrap(), many);
}

#[test]
fn plain_jwt_type_and_media_type_forms() {
    let ring = keyring();
    let token = sign_token(&claims(), ring.current(), "JWT").unwrap();
    let plain = HubTokenExpectations {
        typ: "jwt",
        ..expected()
    };
    verify_hub_token::<AccessTokenClaims>(&token, &ring, &plain, now(), leeway()).unwrap();
    assert_eq!(verify(&token, &ring).unwrap_err(), "wrong_type");

    let token = sign_token(&claims(), ring.current(), "application/at+jwt").unwrap();
    verify(&token, &ring).unwrap();
}

#[test]
fn verifies_with_published_jwks() {
    let ring = keyring();
    let token = issue_access_token(&claims(), &ring).unwrap();
    let published = JwkSet::from_json(&ring.jwks(now())).unwrap();
    let got: AccessTokenClaims =
        verify_hub_token(&token, &published, &expected(), now(), leeway()).unwrap();
    assert_eq!(got, claims());
}

#[test]
fn retired_key_verifies_until_unpublished() {
    let mut ring = keyring();
    let token = issue_access_token(&claims(), &ring).unwrap();
    ring.rotate(
        SigningKey::generate().unwrap().0,
        now(),
        Duration::seconds(300),
    )
    .unwrap();
    verify(&token, &ring).unwrap();
    let fresh = issue_access_token(&claims(), &ring).unwrap();
    verify(&fresh, &ring).unwrap();
    assert_eq!(
        verify_at(&token, &ring, now() + Duration::seconds(301)).unwrap_err(),
        "unknown_key"
    );
}

#[test]
fn refuses_alg_none() {
    let ring = keyring();
    let token = format!(
        "{}.{}.",
        b64json(&json!({"alg": "none", "typ": "at+jwt", "kid": ring.current().kid()})),
        b64json(&serde_json::to_value(claims()).unwrap())
    );
    assert_eq!(verify(&token, &ring).unwrap_err(), "unsupported_algorithm");
    let token = format!(
        "{}.{}.",
        b64json(&json!({"alg": "None", "typ": "at+jwt"})),
        b64json(&serde_json::to_value(claims()).unwrap())
    );
    assert_eq!(verify(&token, &ring).unwrap_err(), "unsupported_algorithm");
}

#[test]
fn refuses_hs256_signed_with_the_public_key() {
    let ring = keyring();
    let public = ring.current().verifying_key().public_key().to_vec();
    for secret in [
        public.clone(),
        ring.current().verifying_key().x().as_bytes().to_vec(),
    ] {
        for alg in ["HS256", "HS384", "HS512"] {
            let input = format!(
                "{}.{}",
                b64json(&json!({"alg": alg, "typ": "at+jwt", "kid": ring.current().kid()})),
                b64json(&serde_json::to_value(claims()).unwrap())
            );
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
            let tag = ring::hmac::sign(&key, input.as_bytes());
            let token = format!("{input}.{}", b64(tag.as_ref()));
            assert_eq!(verify(&token, &ring).unwrap_err(), "unsupported_algorithm");
        }
    }
}

#[test]
fn refuses_other_asymmetric_algorithms() {
    let ring = keyring();
    for alg in ["ES256", "RS256", "PS256", "EdDSA25519", "Ed25519"] {
        let token = hub_signed(
            ring.current(),
            &json!({"alg": alg, "typ": "at+jwt", "kid": ring.current().kid()}),
            &serde_json::to_value(claims()).unwrap(),
        );
        assert_eq!(
            verify(&token, &ring).unwrap_err(),
            "unsupported_algorithm",
            "{alg}"
        );
    }
}

#[test]
fn refuses_key_carrying_headers() {
    let ring = keyring();
    let key = ring.current();
    let jwk = key.verifying_key().jwk();
    for (name, value) in [
        ("jwk", jwk),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ] {
        let mut header = hub_header(key);
        header[name] = value;
        let token = hub_signed(key, &header, &serde_json::to_value(claims()).unwrap());
        assert_eq!(
            verify(&token, &ring).unwrap_err(),
            "untrusted_header",
            "{name}"
        );
    }
}

#[test]
fn refuses_attacker_key_in_jwk_header() {
    // The attacker signs with their own key and names it in `jwk`.
    let ring = keyring();
    let (attacker, _) = SigningKey::generate().unwrap();
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "jwk": attacker.verifying_key().jwk()});
    let token = hub_signed(&attacker, &header, &serde_json::to_value(claims()).unwrap());
    assert_eq!(verify(&token, &ring).unwrap_err(), "untrusted_header");
    // And with its kid: unknown.
    let token = hub_signed(
        &attacker,
        &hub_header(&attacker),
        &serde_json::to_value(claims()).unwrap(),
    );
    assert_eq!(verify(&token, &ring).unwrap_err(), "unknown_key");
}

#[test]
fn refuses_missing_or_unknown_kid() {
    let ring = keyring();
    let payload = serde_json::to_value(claims()).unwrap();
    let token = hub_signed(
        ring.current(),
        &json!({"alg": "EdDSA", "typ": "at+jwt"}),
        &payload,
    );
    assert_eq!(verify(&token, &ring).unwrap_err(), "unknown_key");
    let token = hub_signed(
        ring.current(),
        &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "nope"}),
        &payload,
    );
    assert_eq!(verify(&token, &ring).unwrap_err(), "unknown_key");
}

#[test]
fn refuses_tampered_payload_and_signature() {
    let ring = keyring();
    let token = issue_access_token(&claims(), &ring).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims();
    forged.scope = "lookup:*".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64json(&serde_json::to_value(&forged).unwrap()),
        parts[2]
    );
    assert_eq!(verify(&tampered, &ring).unwrap_err(), "bad_signature");

    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert_eq!(verify(&tampered, &ring).unwrap_err(), "bad_signature");

    let other = keyring();
    assert_eq!(verify(&token, &other).unwrap_err(), "unknown_key");
}

#[test]
fn refuses_malformed_tokens() {
    let ring = keyring();
    let token = issue_access_token(&claims(), &ring).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        String::new(),
        "abc".into(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.x"),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], "!!", parts[2]),
        format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
        "a".repeat(20_000),
    ] {
        assert_eq!(
            verify(&bad, &ring).unwrap_err(),
            "malformed_token",
            "{bad:.40}"
        );
    }
}

#[test]
fn time_claims_are_enforced_with_leeway() {
    let ring = keyring();
    let token = issue_access_token(&claims(), &ring).unwrap();
    let exp = now() + Duration::seconds(300);
    verify_at(&token, &ring, exp + leeway()).unwrap();
    assert_eq!(
        verify_at(&token, &ring, exp + leeway() + Duration::seconds(1)).unwrap_err(),
        "token_expired"
    );

    let mut later = claims();
    later.nbf = Some(now().timestamp() + 120);
    let token = issue_access_token(&later, &ring).unwrap();
    assert_eq!(verify(&token, &ring).unwrap_err(), "token_not_yet_valid");
    verify_at(&token, &ring, now() + Duration::seconds(90)).unwrap();

    let mut future_iat = claims();
    future_iat.iat = now().timestamp() + 60;
    let token = issue_access_token(&future_iat, &ring).unwrap();
    assert_eq!(verify(&token, &ring).unwrap_err(), "token_not_yet_valid");
}

#[test]
fn refuses_missing_exp_or_iat() {
    let ring = keyring();
    for missing in ["exp", "iat"] {
        let mut payload = serde_json::to_value(claims()).unwrap();
        payload.as_object_mut().unwrap().remove(missing);
        let token = hub_signed(ring.current(), &hub_header(ring.current()), &payload);
        assert_eq!(
            verify(&token, &ring).unwrap_err(),
            "missing_claim",
            "{missing}"
        );
    }
}

#[test]
fn refuses_wrong_issuer_audience_and_type() {
    let ring = keyring();
    let mut c = claims();
    c.iss = "https://other-hub.example".into();
    let token = issue_access_token(&c, &ring).unwrap();
    assert_eq!(verify(&token, &ring).unwrap_err(), "wrong_issuer");

    let mut c = claims();
    c.aud = Audience::Many(vec!["https://provider.example".into()]);
    let token = issue_access_token(&c, &ring).unwrap();
    assert_eq!(verify(&token, &ring).unwrap_err(), "wrong_audience");

    let token = sign_token(&claims(), ring.current(), "dpop+jwt").unwrap();
    assert_eq!(verify(&token, &ring).unwrap_err(), "wrong_type");
    let payload = serde_json::to_value(claims()).unwrap();
    let token = hub_signed(
        ring.current(),
        &json!({"alg": "EdDSA", "kid": ring.current().kid()}),
        &payload,
    );
    assert_eq!(verify(&token, &ring).unwrap_err(), "wrong_type");
}

// ---- client assertions ----

enum AgencyKey {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

fn pkcs8(name: &str) -> Vec<u8> {
    let (_, block) = x509_parser::pem::parse_x509_pem(&fixture(name)).unwrap();
    block.contents
}

fn agency_key(name: &str) -> AgencyKey {
    let der = pkcs8(&format!("{name}.key.pem"));
    let rng = SystemRandom::new();
    if name.contains("ed25519") {
        AgencyKey::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap())
    } else if name.contains("rsa") {
        AgencyKey::Rsa(RsaKeyPair::from_pkcs8(&der).unwrap())
    } else {
        AgencyKey::Ec(
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
                .unwrap(),
        )
    }
}

fn agency_sign(key: &AgencyKey, alg: &str, header_extra: &Value, payload: &Value) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    for (k, v) in header_extra.as_object().unwrap() {
        header[k] = v.clone();
    }
    let input = format!("{}.{}", b64json(&header), b64json(payload));
    let rng = SystemRandom::new();
    let sig = match key {
        AgencyKey::Ec(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        AgencyKey::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        AgencyKey::Rsa(k) => {
            let padding: &dyn signature::RsaEncoding = if alg == "PS256" {
                &signature::RSA_PSS_SHA256
            } else {
                &signature::RSA_PKCS1_SHA256
            };
            let mut sig = vec![0; k.public().modulus_len()];
            k.sign(padding, &rng, input.as_bytes(), &mut sig).unwrap();
            sig
        }
    };
    format!("{input}.{}", b64(&sig))
}

fn assertion_claims() -> Value {
    let now = now().timestamp();
    json!({
        "iss": AGENCY,
        "sub": AGENCY,
        "aud": TOKEN_ENDPOINT,
        "jti": "6f1c3a0e-2d7b-4c1e-9a55-0d3c2b1a4f10",
        "iat": now,
        "exp": now + 120,
    })
}

fn certificates() -> Vec<ValidatedCertificate> {
    [
        "agency-p256.pem",
        "agency-ed25519.pem",
        "agency-rsa2048.pem",
    ]
    .into_iter()
    .map(validated)
    .collect()
}

fn check(
    token: &str,
    certs: &[ValidatedCertificate],
) -> Result<identity::jwt::ClientAssertion, &'static str> {
    identity::jose::install_crypto().unwrap();
    verify_client_assertion(
        token,
        certs,
        &[TOKEN_ENDPOINT, HUB],
        now(),
        &AssertionRules::default(),
    )
    .map_err(|e| e.code())
}

#[test]
fn client_assertions_for_each_key_type() {
    let certs = certificates();
    for (name, alg) in [
        ("agency-p256", "ES256"),
        ("agency-ed25519", "EdDSA"),
        ("agency-rsa2048", "RS256"),
        ("agency-rsa2048", "PS256"),
    ] {
        let key = agency_key(name);
        let token = agency_sign(&key, alg, &json!({}), &assertion_claims());
        let got = check(&token, &certs).unwrap_or_else(|e| panic!("{name} {alg}: {e}"));
        let cert = validated(&format!("{name}.pem"));
        assert_eq!(got.thumbprint_s256, cert.thumbprint_s256());
        assert_eq!(got.iss, AGENCY);
        assert_eq!(got.sub, AGENCY);
        assert_eq!(got.jti, "6f1c3a0e-2d7b-4c1e-9a55-0d3c2b1a4f10");
        assert_eq!(got.exp, now() + Duration::seconds(120));
        // Only that certificate registered: still accepted.
        check(&token, std::slice::from_ref(&cert)).unwrap();
    }
}

#[test]
fn client_assertion_audience_may_be_a_list_and_header_may_select_certificate() {
    let certs = certificates();
    let key = agency_key("agency-p256");
    let mut claims = assertion_claims();
    claims["aud"] = json!(["https://elsewhere.example", HUB]);
    let thumbprint = certs[0].thumbprint_s256().to_owned();
    let token = agency_sign(&key, "ES256", &json!({"x5t#S256": thumbprint}), &claims);
    check(&token, &certs).unwrap();

    let wrong = json!({"x5t#S256": certs[1].thumbprint_s256()});
    let token = agency_sign(&key, "ES256", &wrong, &claims);
    assert_eq!(check(&token, &certs).unwrap_err(), "unknown_key");
}

#[test]
fn client_assertion_alg_must_fit_the_certificate() {
    let ed = [validated("agency-ed25519.pem")];
    let p256_key = agency_key("agency-p256");
    let token = agency_sign(&p256_key, "ES256", &json!({}), &assertion_claims());
    assert_eq!(check(&token, &ed).unwrap_err(), "unknown_key");

    let rsa = [validated("agency-rsa2048.pem")];
    let rsa_key = agency_key("agency-rsa2048");
    // PKCS#1 v1.5 signature announced as PSS.
    let token = agency_sign(&rsa_key, "RS256", &json!({}), &assertion_claims());
    let (input, sig) = token.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    let _ = header;
    let relabelled = format!(
        "{}.{payload}.{sig}",
        b64json(&json!({"alg": "PS256", "typ": "JWT"}))
    );
    assert_eq!(check(&relabelled, &rsa).unwrap_err(), "bad_signature");
}

#[test]
fn client_assertion_refuses_none_and_hmac() {
    let certs = certificates();
    let none = format!(
        "{}.{}.",
        b64json(&json!({"alg": "none"})),
        b64json(&assertion_claims())
    );
    assert_eq!(check(&none, &certs).unwrap_err(), "unsupported_algorithm");

    for cert in &certs {
        for secret in [cert.public_key(), cert.spki_der(), cert.der()] {
            let input = format!(
                "{}.{}",
                b64json(&json!({"alg": "HS256", "typ": "JWT"})),
                b64json(&assertion_claims())
            );
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            let tag = ring::hmac::sign(&key, input.as_bytes());
            let token = format!("{input}.{}", b64(tag.as_ref()));
            assert_eq!(check(&token, &certs).unwrap_err(), "unsupported_algorithm");
        }
    }
}

#[test]
fn client_assertion_refuses_embedded_keys() {
    let certs = certificates();
    let key = agency_key("agency-ed25519");
    for extra in [
        json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}),
        json!({"x5c": ["MIIB"]}),
        json!({"jku": "https://attacker.example/jwks"}),
        json!({"x5u": "https://attacker.example/cert"}),
    ] {
        let token = agency_sign(&key, "EdDSA", &extra, &assertion_claims());
        assert_eq!(check(&token, &certs).unwrap_err(), "untrusted_header");
    }
}

#[test]
fn client_assertion_signed_by_another_key() {
    let certs = certificates();
    // Same key type, not the registered key.
    let other = agency_key("agency-unknown-ca");
    let token = agency_sign(&other, "ES256", &json!({}), &assertion_claims());
    assert_eq!(check(&token, &certs).unwrap_err(), "bad_signature");
}

#[test]
fn client_assertion_claim_checks() {
    let certs = certificates();
    let key = agency_key("agency-ed25519");
    let now = now().timestamp();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut claims = assertion_claims();
        edit(&mut claims);
        check(&agency_sign(&key, "EdDSA", &json!({}), &claims), &certs)
    };
    assert_eq!(
        with(&|c| c["iss"] = json!("BE-0987654321")).unwrap_err(),
        "wrong_issuer"
    );
    assert_eq!(
        with(&|c| c["sub"] = json!("BE-0987654321")).unwrap_err(),
        "wrong_subject"
    );
    assert_eq!(
        with(&|c| c["aud"] = json!("https://elsewhere")).unwrap_err(),
        "wrong_audience"
    );
    assert_eq!(
        with(&|c| c["exp"] = json!(now - 120)).unwrap_err(),
        "token_expired"
    );
    assert_eq!(
        with(&|c| c["exp"] = json!(now + 3600)).unwrap_err(),
        "lifetime_too_long"
    );
    assert_eq!(
        with(&|c| {
            c["iat"] = json!(now - 500);
            c["exp"] = json!(now + 10);
        })
        .unwrap_err(),
        "lifetime_too_long"
    );
    assert_eq!(
        with(&|c| c["nbf"] = json!(now + 600)).unwrap_err(),
        "token_not_yet_valid"
    );
    assert_eq!(
        with(&|c| c["iat"] = json!(now + 600)).unwrap_err(),
        "token_not_yet_valid"
    );
    for claim in ["iss", "sub", "aud", "exp", "jti"] {
        assert_eq!(
            with(&|c| {
                c.as_object_mut().unwrap().remove(claim);
            })
            .unwrap_err(),
            "missing_claim",
            "{claim}"
        );
    }
    assert_eq!(
        with(&|c| c["jti"] = json!("")).unwrap_err(),
        "missing_claim"
    );
    assert_eq!(
        with(&|c| c["exp"] = json!("soon")).unwrap_err(),
        "malformed_token"
    );
    // Within leeway: a just-expired assertion is still accepted.
    with(&|c| c["exp"] = json!(now - 30)).unwrap();
    // A fractional NumericDate is accepted.
    with(&|c| c["exp"] = json!(now as f64 + 60.5)).unwrap();
}

#[test]
fn client_assertion_with_no_certificates() {
    let key = agency_key("agency-p256");
    let token = agency_sign(&key, "ES256", &json!({}), &assertion_claims());
    assert_eq!(check(&token, &[]).unwrap_err(), "unknown_key");
}

mod tampering {
    use super::*;
    use proptest::prelude::*;

    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Changing any one character of a hub token makes it refused.
        #[test]
        fn any_changed_character_is_refused(position in 0usize..10_000, replacement in 0usize..64) {
            let ring = keyring();
            let token = issue_access_token(&claims(), &ring).unwrap();
            let position = position % token.len();
            let mut bytes = token.clone().into_bytes();
            prop_assume!(bytes[position] != b'.');
            let new = ALPHABET[replacement];
            prop_assume!(bytes[position] != new);
            bytes[position] = new;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(verify(&changed, &ring).is_err());
        }
    }
}

#[test]
fn client_assertion_refuses_crit_and_other_hash_sizes() {
    let certs = certificates();
    let key = agency_key("agency-ed25519");
    let token = agency_sign(
        &key,
        "EdDSA",
        &json!({"crit": ["exp"]}),
        &assertion_claims(),
    );
    assert_eq!(check(&token, &certs).unwrap_err(), "untrusted_header");

    // SHA-384/512 variants, even with a signature by the registered key
    // (made with SHA-256: the name alone must be refused).
    for (name, alg) in [
        ("agency-p256", "ES384"),
        ("agency-rsa2048", "RS384"),
        ("agency-rsa2048", "RS512"),
        ("agency-rsa2048", "PS384"),
        ("agency-rsa2048", "PS512"),
    ] {
        let token = agency_sign(&agency_key(name), alg, &json!({}), &assertion_claims());
        assert_eq!(
            check(&token, &certs).unwrap_err(),
            "unsupported_algorithm",
            "{alg}"
        );
    }
}

#[test]
fn client_assertion_typ_is_jwt_or_absent() {
    let certs = certificates();
    let key = agency_key("agency-p256");
    // `agency_sign` sets `typ: JWT`; its media-type form is the same.
    check(
        &agency_sign(&key, "ES256", &json!({}), &assertion_claims()),
        &certs,
    )
    .unwrap();
    let media = agency_sign(
        &key,
        "ES256",
        &json!({"typ": "application/jwt"}),
        &assertion_claims(),
    );
    check(&media, &certs).unwrap();
    // Without `typ`.
    let input = format!(
        "{}.{}",
        b64json(&json!({"alg": "ES256"})),
        b64json(&assertion_claims())
    );
    let AgencyKey::Ec(pair) = &key else {
        panic!("a P-256 key")
    };
    let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    check(&format!("{input}.{}", b64(sig.as_ref())), &certs).unwrap();
    // Another token type, signed by the agency's own key.
    for typ in ["at+jwt", "consent+jwt", "crossroads-request+jwt"] {
        let token = agency_sign(&key, "ES256", &json!({"typ": typ}), &assertion_claims());
        assert_eq!(check(&token, &certs).unwrap_err(), "wrong_type", "{typ}");
    }
}

#[test]
fn a_validly_signed_token_over_the_length_cap_is_refused() {
    let ring = keyring();
    let mut big = claims();
    big.scope = "lookup:person.address@1 ".repeat(800);
    let token = issue_access_token(&big, &ring).unwrap();
    assert!(token.len() > identity::jwt::MAX_TOKEN_LEN);
    assert_eq!(verify(&token, &ring).unwrap_err(), "malformed_token");

    let certs = certificates();
    let mut claims = assertion_claims();
    claims["padding"] = json!("x".repeat(20_000));
    let token = agency_sign(&agency_key("agency-ed25519"), "EdDSA", &json!({}), &claims);
    assert_eq!(check(&token, &certs).unwrap_err(), "malformed_token");
}

#[test]
fn a_header_member_given_twice_is_malformed() {
    let ring = keyring();
    let kid = ring.current().kid().to_owned();
    let header = format!(r#"{{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"{kid}"}}"#);
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64json(&serde_json::to_value(claims()).unwrap())
    );
    let token = format!("{input}.{}", b64(&ring.current().sign(input.as_bytes())));
    assert_eq!(verify(&token, &ring).unwrap_err(), "malformed_token");
}
