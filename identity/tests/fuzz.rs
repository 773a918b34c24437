//! Fuzz targets for every parser of outside input in `identity`: common IDs,
//! sector pseudonyms, activation codes, TOTP secrets and codes, PEM and
//! X.509 agency certificates, client assertions and hub tokens.
//!
//! Each target is a bolero `check!` that runs as an ordinary test on the
//! stable toolchain, over arbitrary inputs and over checked-in valid seeds
//! with a few byte edits. Each asserts a property of what parses, not only
//! that nothing panics. Inputs that once broke a property live in
//! `tests/fuzz-regressions/<target>/` and are replayed by `replay_*`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod fuzz_support;

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bolero::check;
use chrono::{DateTime, Duration};
use common::{AGENCY, anchors, fixture, now, validated};
use fuzz_support::{SeedEdits, mutate_seed, replay, seeds};
use identity::jwt::{
    AccessTokenClaims, AssertionRules, Audience, HubTokenExpectations, issue_access_token,
    verify_client_assertion, verify_hub_token,
};
use identity::keys::{KeyRing, SigningKey};
use identity::x509::{TrustAnchors, ValidatedCertificate, validate_agency_certificate};
use identity::{
    ActivationCode, CommonId, PseudonymService, Sector, SectorPseudonym, Totp, TotpSecret,
};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use serde_json::json;

const DIR: &str = env!("CARGO_MANIFEST_DIR");
const TOKEN_ENDPOINT: &str = "https://hub.example.gov/oauth/token";
const HUB: &str = "https://hub.example.gov";
const API: &str = "https://hub.example.gov/api";

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// Runs `property` over arbitrary bytes and over mutated seeds of `target`.
macro_rules! fuzz_bytes_and_seeds {
    ($target:literal, $seeds:expr, $property:expr) => {{
        check!().for_each(|bytes: &[u8]| $property(bytes));
        let seeds: Vec<Vec<u8>> = $seeds;
        check!()
            .with_type::<SeedEdits>()
            .for_each(|input| $property(&mutate_seed(&seeds, input)));
    }};
}

// ---- common ID ----

/// A common ID's 11 digits `n` are valid exactly when `n mod 97 == 1` and
/// the check digits are the canonical ones (not the aliases 00, 01, 99).
fn common_id_oracle(digits: &str) -> bool {
    let n: u64 = digits.parse().unwrap();
    n % 97 == 1 && !matches!(n % 100, 0 | 1 | 99)
}

fn common_id_property(bytes: &[u8]) {
    let Some(s) = text(bytes) else { return };
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let only_allowed = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.'));
    let expected = only_allowed && digits.len() == 11 && common_id_oracle(&digits);
    match s.parse::<CommonId>() {
        Ok(id) => {
            assert!(expected, "accepted {s:?}");
            assert_eq!(id.as_digits(), digits);
            assert_eq!(id.to_string().parse::<CommonId>(), Ok(id));
            assert_eq!(id.as_digits().parse::<CommonId>(), Ok(id));
            assert_eq!(id.to_u64() % 97, 1);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<CommonId>(&json).unwrap(), id);
        }
        Err(_) => assert!(!expected, "refused {s:?}"),
    }
}

#[test]
fn fuzz_common_id() {
    fuzz_bytes_and_seeds!("common_id", seeds(DIR, "common_id"), common_id_property);
    // Every 11-digit number, with separators placed anywhere.
    check!()
        .with_type::<(u64, u16)>()
        .for_each(|(n, separators)| {
            let digits = format!("{:011}", n % 100_000_000_000);
            let mut s = String::new();
            for (i, c) in digits.chars().enumerate() {
                if separators & (1 << i) != 0 {
                    s.push([' ', '-', '.'][i % 3]);
                }
                s.push(c);
            }
            assert_eq!(s.parse::<CommonId>().is_ok(), common_id_oracle(&digits));
            common_id_property(s.as_bytes());
        });
}

#[test]
fn replay_common_id() {
    assert!(replay(DIR, "common_id", common_id_property) > 0);
}

// ---- sector pseudonym ----

fn pseudonyms() -> &'static PseudonymService {
    static SERVICE: OnceLock<PseudonymService> = OnceLock::new();
    SERVICE.get_or_init(|| PseudonymService::new(&[7u8; 32]).unwrap())
}

/// The common ID whose random part is `r` (below 10^9).
fn common_id_from(r: u32) -> CommonId {
    let r = u64::from(r % 1_000_000_000);
    let check = 98 - (r * 100) % 97;
    format!("{:09}{:02}", r, check).parse().unwrap()
}

fn pseudonym_property(bytes: &[u8]) {
    let Some(s) = text(bytes) else { return };
    if let Ok(p) = s.parse::<SectorPseudonym>() {
        assert_eq!(p.as_str(), s);
        assert_eq!(p.to_string(), s);
        assert_eq!(format!("{}:{}", p.sector(), p.value()), s);
        assert_eq!(p.value().len(), 32);
        assert_eq!(p.as_str().parse::<SectorPseudonym>(), Ok(p));
    }
}

#[test]
fn fuzz_sector_pseudonym() {
    fuzz_bytes_and_seeds!("pseudonym", seeds(DIR, "pseudonym"), pseudonym_property);
    // A computed pseudonym parses back to itself and matches only its
    // person; a pseudonym of another sector or with one character changed
    // does not match.
    check!()
        .with_type::<(u32, u32, u8, u8)>()
        .for_each(|(a, b, sector, flip)| {
            let sector = Sector::ALL[usize::from(*sector) % Sector::ALL.len()];
            let (id, other) = (common_id_from(*a), common_id_from(*b));
            let p = pseudonyms().pseudonym(sector, &id);
            assert_eq!(p.as_str().parse::<SectorPseudonym>(), Ok(p.clone()));
            assert!(pseudonyms().matches(&p, &id));
            assert_eq!(pseudonyms().matches(&p, &other), id == other);
            let mut value: Vec<u8> = p.value().bytes().collect();
            let at = usize::from(*flip) % value.len();
            value[at] = if value[at] == b'a' { b'b' } else { b'a' };
            let changed = format!("{sector}:{}", String::from_utf8(value).unwrap());
            let changed: SectorPseudonym = changed.parse().unwrap();
            assert!(!pseudonyms().matches(&changed, &id));
            for s in Sector::ALL.iter().filter(|s| **s != sector) {
                let moved: SectorPseudonym = format!("{s}:{}", p.value()).parse().unwrap();
                assert!(!pseudonyms().matches(&moved, &id));
            }
        });
}

#[test]
fn replay_sector_pseudonym() {
    assert!(replay(DIR, "pseudonym", pseudonym_property) > 0);
}

// ---- activation code and TOTP ----

fn activation_code_property(bytes: &[u8]) {
    let Some(s) = text(bytes) else { return };
    if let Ok(code) = s.parse::<ActivationCode>() {
        let compact = code.as_compact();
        assert_eq!(compact.len(), 16);
        assert!(compact.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(code.to_string().parse::<ActivationCode>().unwrap(), code);
        assert_eq!(compact.parse::<ActivationCode>().unwrap(), code);
        assert_eq!(s.to_lowercase().parse::<ActivationCode>().unwrap(), code);
        assert!(code.digest().verify(&code));
    }
}

#[test]
fn fuzz_activation_code() {
    fuzz_bytes_and_seeds!(
        "activation_code",
        seeds(DIR, "activation_code"),
        activation_code_property
    );
    // The digest of a code verifies it and no other code.
    check!()
        .with_type::<([u8; 10], u8)>()
        .for_each(|(raw, at)| {
            let a = ActivationCode::generate(&mut rand::rng());
            let mut other = a.as_compact().as_bytes().to_vec();
            let at = usize::from(*at) % other.len();
            other[at] = if other[at] == b'A' { b'B' } else { b'A' };
            let other: ActivationCode = std::str::from_utf8(&other).unwrap().parse().unwrap();
            assert!(a.digest().verify(&a));
            assert!(!a.digest().verify(&other));
            activation_code_property(raw);
        });
}

#[test]
fn replay_activation_code() {
    assert!(replay(DIR, "activation_code", activation_code_property) > 0);
}

fn totp_secret_property(bytes: &[u8]) {
    let Some(s) = text(bytes) else { return };
    if let Ok(secret) = TotpSecret::from_base32(s) {
        let again = TotpSecret::from_base32(&secret.to_base32()).unwrap();
        assert_eq!(again.as_bytes(), secret.as_bytes());
    }
}

/// A submitted TOTP code: accepted only within the drift, never twice.
fn totp_code_property(bytes: &[u8]) {
    let Some(code) = text(bytes) else { return };
    let totp = Totp::default();
    let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap();
    let at = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    if let Ok(step) = totp.verify(&secret, code, at, None) {
        let current = totp.step_at(at).unwrap();
        assert!(step.abs_diff(current) <= 1, "step {step} at {current}");
        assert!(totp.verify(&secret, code, at, Some(step)).is_err());
        assert_eq!(code.trim().len(), 6);
    }
}

#[test]
fn fuzz_totp() {
    fuzz_bytes_and_seeds!(
        "totp_secret",
        seeds(DIR, "totp_secret"),
        totp_secret_property
    );
    let totp = Totp::default();
    let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap();
    let at = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    let codes: Vec<Vec<u8>> = [-30, 0, 30]
        .into_iter()
        .map(|s| {
            totp.code(&secret, at + Duration::seconds(s))
                .unwrap()
                .into_bytes()
        })
        .collect();
    for code in &codes {
        assert!(totp.verify(&secret, text(code).unwrap(), at, None).is_ok());
    }
    fuzz_bytes_and_seeds!("totp_code", codes, totp_code_property);
}

#[test]
fn replay_totp() {
    assert!(replay(DIR, "totp_secret", totp_secret_property) > 0);
    replay(DIR, "totp_code", totp_code_property);
}

// ---- PEM and X.509 ----

const CERTIFICATES: &[&str] = &[
    "agency-p256.pem",
    "agency-ed25519.pem",
    "agency-rsa2048.pem",
    "agency-via-intermediate-chain.pem",
    "agency-expired.pem",
    "agency-wrong-id.pem",
    "ca.pem",
];

fn trust() -> &'static TrustAnchors {
    static ANCHORS: OnceLock<TrustAnchors> = OnceLock::new();
    ANCHORS.get_or_init(anchors)
}

/// The certificates that validate unchanged, by their DER.
fn valid_ders() -> &'static Vec<Vec<u8>> {
    static DERS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    DERS.get_or_init(|| {
        [
            "agency-p256.pem",
            "agency-ed25519.pem",
            "agency-rsa2048.pem",
        ]
        .into_iter()
        .map(|name| validated(name).der().to_vec())
        .chain(std::iter::once(
            validated("agency-via-intermediate-chain.pem")
                .der()
                .to_vec(),
        ))
        .collect()
    })
}

fn pem(der: &[u8]) -> Vec<u8> {
    use base64::engine::general_purpose::STANDARD;
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    let b64 = STANDARD.encode(der);
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out.into_bytes()
}

/// Whatever the bytes, validation never panics; a certificate it accepts is
/// one of the fixtures signed by the test CA, for the agency asked, valid
/// now, and the same whether read as DER or as PEM.
fn certificate_property(bytes: &[u8]) {
    let _ = TrustAnchors::from_pem(bytes);
    for input in [bytes.to_vec(), pem(bytes)] {
        if let Ok(cert) = validate_agency_certificate(&input, AGENCY, trust(), now()) {
            check_accepted(&input, &cert);
        }
    }
}

/// `input` was accepted as `cert`.
fn check_accepted(input: &[u8], cert: &ValidatedCertificate) {
    assert_eq!(cert.agency_id(), AGENCY);
    assert!(cert.not_before() <= now() && now() <= cert.not_after());
    assert!(
        valid_ders().iter().any(|d| d == cert.der()),
        "accepted a certificate that is not a valid fixture: {}",
        cert.der()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let again = validate_agency_certificate(input, AGENCY, trust(), now()).unwrap();
    assert_eq!(again.thumbprint_s256(), cert.thumbprint_s256());
    assert_eq!(again.public_key(), cert.public_key());
    assert_eq!(again.der(), cert.der());
}

fn certificate_seeds() -> Vec<Vec<u8>> {
    CERTIFICATES
        .iter()
        .map(|name| common::pem_der(name))
        .collect()
}

#[test]
fn fuzz_x509_certificate() {
    fuzz_bytes_and_seeds!("x509", certificate_seeds(), certificate_property);
    // PEM text with edits: the armour, the base64 and the chain.
    let pems: Vec<Vec<u8>> = CERTIFICATES.iter().map(|n| fixture(n)).collect();
    check!().with_type::<SeedEdits>().for_each(|input| {
        let bytes = mutate_seed(&pems, input);
        if let Ok(cert) = validate_agency_certificate(&bytes, AGENCY, trust(), now()) {
            check_accepted(&bytes, &cert);
        }
        let _ = TrustAnchors::from_pem(&bytes);
    });
}

#[test]
fn replay_x509_certificate() {
    replay(DIR, "x509", certificate_property);
    for der in certificate_seeds() {
        certificate_property(&der);
    }
}

// ---- client assertions ----

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pkcs8(name: &str) -> Vec<u8> {
    common::pem_der(&format!("{name}.key.pem"))
}

/// A client assertion signed by a fixture key with `alg`.
fn assertion(name: &str, alg: &str) -> String {
    let t = now().timestamp();
    let header = json!({"alg": alg, "typ": "JWT"});
    let claims = json!({
        "iss": AGENCY, "sub": AGENCY, "aud": TOKEN_ENDPOINT,
        "jti": "6f1c3a0e-2d7b-4c1e-9a55-0d3c2b1a4f10", "iat": t, "exp": t + 120,
    });
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&claims).unwrap())
    );
    let rng = SystemRandom::new();
    let der = pkcs8(name);
    let sig = match alg {
        "EdDSA" => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .unwrap()
            .sign(input.as_bytes())
            .as_ref()
            .to_vec(),
        "ES256" => {
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
                .unwrap()
                .sign(&rng, input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec()
        }
        _ => {
            let key = RsaKeyPair::from_pkcs8(&der).unwrap();
            let padding: &dyn signature::RsaEncoding = if alg == "PS256" {
                &signature::RSA_PSS_SHA256
            } else {
                &signature::RSA_PKCS1_SHA256
            };
            let mut sig = vec![0; key.public().modulus_len()];
            key.sign(padding, &rng, input.as_bytes(), &mut sig).unwrap();
            sig
        }
    };
    format!("{input}.{}", b64(&sig))
}

struct Assertions {
    certificates: Vec<ValidatedCertificate>,
    valid: Vec<String>,
}

fn assertions() -> &'static Assertions {
    static ASSERTIONS: OnceLock<Assertions> = OnceLock::new();
    // Signing and verifying go through jsonwebtoken on ring, installed
    // explicitly as any user of the crates does.
    identity::jose::install_crypto().unwrap();
    ASSERTIONS.get_or_init(|| Assertions {
        certificates: [
            "agency-p256.pem",
            "agency-ed25519.pem",
            "agency-rsa2048.pem",
        ]
        .into_iter()
        .map(validated)
        .collect(),
        valid: [
            ("agency-p256", "ES256"),
            ("agency-ed25519", "EdDSA"),
            ("agency-rsa2048", "RS256"),
            ("agency-rsa2048", "PS256"),
        ]
        .into_iter()
        .map(|(name, alg)| assertion(name, alg))
        .collect(),
    })
}

/// Only the assertions the agencies signed verify: no edit of one, and no
/// other input, is accepted.
fn client_assertion_property(bytes: &[u8]) {
    let Some(token) = text(bytes) else { return };
    let a = assertions();
    let got = verify_client_assertion(
        token,
        &a.certificates,
        &[TOKEN_ENDPOINT, HUB],
        now(),
        &AssertionRules::default(),
    );
    if let Ok(got) = got {
        assert!(
            a.valid.iter().any(|v| v == token),
            "accepted an assertion no agency signed: {token}"
        );
        assert_eq!((got.iss.as_str(), got.sub.as_str()), (AGENCY, AGENCY));
    }
}

#[test]
fn fuzz_client_assertion() {
    let valid: Vec<Vec<u8>> = assertions()
        .valid
        .iter()
        .map(|t| t.clone().into_bytes())
        .collect();
    for token in &valid {
        let verified = verify_client_assertion(
            text(token).unwrap(),
            &assertions().certificates,
            &[TOKEN_ENDPOINT],
            now(),
            &AssertionRules::default(),
        );
        assert!(verified.is_ok(), "{verified:?}");
    }
    fuzz_bytes_and_seeds!("client_assertion", valid, client_assertion_property);
}

#[test]
fn replay_client_assertion() {
    replay(DIR, "client_assertion", client_assertion_property);
}

// ---- hub tokens ----

struct HubTokens {
    ring: KeyRing,
    valid: String,
}

fn hub_tokens() -> &'static HubTokens {
    static TOKENS: OnceLock<HubTokens> = OnceLock::new();
    identity::jose::install_crypto().unwrap();
    TOKENS.get_or_init(|| {
        let pem = String::from_utf8(fixture("agency-ed25519.key.pem")).unwrap();
        let ring = KeyRing::new(SigningKey::from_pkcs8_pem(&pem).unwrap());
        let t = now().timestamp();
        let claims = AccessTokenClaims {
            iss: HUB.into(),
            sub: AGENCY.into(),
            aud: Audience::One(API.into()),
            exp: t + 300,
            iat: t,
            nbf: None,
            jti: "b0e5b1f6-9f57-4a55-9cf3-0bb8f4f0a0c1".into(),
            scope: "lookup:person.address@1".into(),
            client_id: Some(AGENCY.into()),
            cnf: None,
        };
        let valid = issue_access_token(&claims, &ring).unwrap();
        HubTokens { ring, valid }
    })
}

fn hub_token_property(bytes: &[u8]) {
    let Some(token) = text(bytes) else { return };
    let h = hub_tokens();
    let expected = HubTokenExpectations {
        issuer: HUB,
        audience: API,
        typ: "at+jwt",
    };
    let got: Result<AccessTokenClaims, _> =
        verify_hub_token(token, &h.ring, &expected, now(), Duration::seconds(30));
    if got.is_ok() {
        assert_eq!(token, h.valid, "accepted a token the hub did not sign");
    }
}

#[test]
fn fuzz_hub_token() {
    let valid = vec![hub_tokens().valid.clone().into_bytes()];
    hub_token_property(&valid[0]);
    fuzz_bytes_and_seeds!("hub_token", valid, hub_token_property);
}

#[test]
fn replay_hub_token() {
    replay(DIR, "hub_token", hub_token_property);
}
