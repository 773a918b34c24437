#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{AGENCY, anchors, fixture, fixture_text, now, pem_der, validated};
use identity::x509::{KeyAlgorithm, TrustAnchors, validate_agency_certificate};

fn refusal(name: &str) -> &'static str {
    validate_agency_certificate(&fixture(name), AGENCY, &anchors(), now())
        .unwrap_err()
        .code()
}

#[test]
fn accepts_p256_agency_certificate() {
    let cert = validated("agency-p256.pem");
    assert_eq!(cert.key_algorithm(), KeyAlgorithm::EcP256);
    assert_eq!(cert.agency_id(), AGENCY);
    assert_eq!(cert.public_key().len(), 65);
    assert_eq!(cert.public_key()[0], 0x04);
    assert!(cert.subject().contains("Example Agency P-256"));
    assert!(cert.issuer().contains("Crossroads Test Root CA"));
    assert!(cert.not_before() < now() && now() < cert.not_after());
    assert!(cert.not_after() - cert.not_before() >= Duration::days(7299));
}

#[test]
fn accepts_ed25519_agency_certificate() {
    let cert = validated("agency-ed25519.pem");
    assert_eq!(cert.key_algorithm(), KeyAlgorithm::Ed25519);
    assert_eq!(cert.public_key().len(), 32);
}

#[test]
fn accepts_rsa_2048_agency_certificate() {
    let cert = validated("agency-rsa2048.pem");
    assert_eq!(cert.key_algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
}

#[test]
fn thumbprint_and_serial_match_openssl() {
    for name in ["agency-p256", "agency-ed25519", "agency-rsa2048"] {
        let cert = validated(&format!("{name}.pem"));
        assert_eq!(
            cert.thumbprint_s256(),
            fixture_text(&format!("{name}.x5t-s256.txt")),
            "{name}"
        );
        let serial = fixture_text(&format!("{name}.serial.txt")).to_ascii_lowercase();
        assert_eq!(cert.serial(), serial.trim_start_matches("00"), "{name}");
        assert_eq!(cert.der(), pem_der(&format!("{name}.pem")).as_slice());
    }
}

#[test]
fn spki_holds_the_raw_public_key() {
    let cert = validated("agency-ed25519.pem");
    assert!(cert.spki_der().ends_with(cert.public_key()));
    assert_eq!(cert.spki_der().len(), 44);
}

#[test]
fn accepts_der_input() {
    let der = pem_der("agency-p256.pem");
    let from_der = validate_agency_certificate(&der, AGENCY, &anchors(), now()).unwrap();
    assert_eq!(from_der, validated("agency-p256.pem"));
}

#[test]
fn accepts_agency_id_in_serial_number_attribute() {
    let cert = validated("agency-serial-number.pem");
    assert_eq!(cert.agency_id(), AGENCY);
}

#[test]
fn accepts_chain_through_one_intermediate() {
    let cert = validated("agency-via-intermediate-chain.pem");
    assert!(cert.issuer().contains("Crossroads Test Agencies CA"));
}

#[test]
fn refuses_leaf_without_its_intermediate() {
    assert_eq!(refusal("agency-via-intermediate.pem"), "untrusted_issuer");
}

#[test]
fn refuses_intermediate_alone_as_agency_certificate() {
    // The intermediate is a CA, signed by the root, but names no agency and
    // only signs certificates.
    assert_eq!(refusal("intermediate-ca.pem"), "key_usage");
}

#[test]
fn refuses_expired_certificate() {
    assert_eq!(refusal("agency-expired.pem"), "certificate_expired");
}

#[test]
fn refuses_not_yet_valid_certificate() {
    assert_eq!(
        refusal("agency-not-yet-valid.pem"),
        "certificate_not_yet_valid"
    );
}

#[test]
fn refuses_certificate_of_unknown_ca() {
    assert_eq!(refusal("agency-unknown-ca.pem"), "untrusted_issuer");
}

#[test]
fn accepts_unknown_ca_once_it_is_an_anchor() {
    let mut bundle = fixture("ca.pem");
    bundle.extend_from_slice(&fixture("other-ca.pem"));
    let anchors = TrustAnchors::from_pem(&bundle).unwrap();
    assert_eq!(anchors.len(), 2);
    validate_agency_certificate(&fixture("agency-unknown-ca.pem"), AGENCY, &anchors, now())
        .unwrap();
}

#[test]
fn refuses_wrong_organization_identifier() {
    assert_eq!(refusal("agency-wrong-id.pem"), "agency_mismatch");
}

#[test]
fn refuses_good_certificate_for_another_agency() {
    let err = validate_agency_certificate(
        &fixture("agency-p256.pem"),
        "BE-0123456780",
        &anchors(),
        now(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "agency_mismatch");
}

#[test]
fn refuses_key_usage_without_digital_signature() {
    assert_eq!(refusal("agency-no-digital-signature.pem"), "key_usage");
}

#[test]
fn refuses_p384_key() {
    assert_eq!(refusal("agency-p384.pem"), "unsupported_key");
}

#[test]
fn refuses_malformed_pem() {
    assert_eq!(refusal("malformed.pem"), "malformed_certificate");
}

#[test]
fn refuses_garbage() {
    for input in [&b""[..], b"not a certificate", b"\x30\x03\x02\x01\x01"] {
        let err = validate_agency_certificate(input, AGENCY, &anchors(), now()).unwrap_err();
        assert_eq!(err.code(), "malformed_certificate");
    }
}

#[test]
fn refuses_tampered_signature() {
    let mut der = pem_der("agency-p256.pem");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let err = validate_agency_certificate(&der, AGENCY, &anchors(), now()).unwrap_err();
    assert_eq!(err.code(), "untrusted_issuer");
}

#[test]
fn refuses_tampered_subject() {
    // Same length, other agency name: the CA's signature no longer covers it.
    let mut der = pem_der("agency-p256.pem");
    let at = der
        .windows(14)
        .position(|w| w == b"Example Agency")
        .unwrap();
    der[at] = b'F';
    let err = validate_agency_certificate(&der, AGENCY, &anchors(), now()).unwrap_err();
    assert_eq!(err.code(), "untrusted_issuer");
}

#[test]
fn refuses_trailing_data_after_der() {
    let mut der = pem_der("agency-p256.pem");
    der.push(0);
    let err = validate_agency_certificate(&der, AGENCY, &anchors(), now()).unwrap_err();
    assert_eq!(err.code(), "malformed_certificate");
}

#[test]
fn validity_bounds_are_checked_at_now() {
    let cert = validated("agency-p256.pem");
    let pem = fixture("agency-p256.pem");
    let just_after = cert.not_after() + Duration::seconds(1);
    let just_before = cert.not_before() - Duration::seconds(1);
    let at = |t| validate_agency_certificate(&pem, AGENCY, &anchors(), t);
    assert_eq!(at(just_after).unwrap_err().code(), "certificate_expired");
    assert_eq!(
        at(just_before).unwrap_err().code(),
        "certificate_not_yet_valid"
    );
    at(cert.not_after()).unwrap();
    at(cert.not_before()).unwrap();
}

#[test]
fn trust_anchor_bundle_must_hold_a_certificate() {
    assert_eq!(
        TrustAnchors::from_pem(b"").unwrap_err().code(),
        "no_trust_anchor"
    );
    assert_eq!(
        TrustAnchors::from_pem(&fixture("malformed.pem"))
            .unwrap_err()
            .code(),
        "malformed_certificate"
    );
    assert_eq!(
        TrustAnchors::from_pem(&fixture("agency-p256.key.pem"))
            .unwrap_err()
            .code(),
        "malformed_certificate"
    );
}

/// The bytes of `der` with the first `from` after `after` replaced by `to`.
fn edited(der: &[u8], after: usize, from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = after
        + der[after..]
            .windows(from.len())
            .position(|w| w == from)
            .unwrap();
    let mut out = der.to_vec();
    out.splice(at..at + from.len(), to.iter().copied());
    out
}

/// Outside the signed `tbsCertificate`, a certificate has exactly one
/// encoding: a re-encoded `signatureAlgorithm` or `signatureValue` (each
/// with a new thumbprint) is refused, whatever the key's algorithm.
#[test]
fn refuses_re_encodings_outside_the_signed_part() {
    for name in ["agency-p256", "agency-ed25519", "agency-rsa2048"] {
        let der = pem_der(&format!("{name}.pem"));
        assert!(validate_agency_certificate(&der, AGENCY, &anchors(), now()).is_ok());
        // The end of the tbsCertificate: the outer header, then its own.
        let tbs_len = usize::from(u16::from_be_bytes([der[6], der[7]]));
        let tbs_end = 4 + 4 + tbs_len;
        let outer = &der[tbs_end..];
        let alg_len = usize::from(outer[1]);
        let algorithm = &outer[..2 + alg_len];
        // The OID's tag changed (06 -> 07) in the outer copy only.
        let mut other_tag = algorithm.to_vec();
        other_tag[2] = 0x07;
        // The signature's unused-bits octet set.
        let signature = &outer[2 + alg_len..];
        let header = if signature[1] < 0x80 {
            2
        } else {
            2 + usize::from(signature[1] & 0x7f)
        };
        let mut unused = der.clone();
        let at = der.len() - signature.len() + header;
        assert_eq!(unused[at], 0);
        unused[at] = 1;
        for (what, bytes) in [
            (
                "algorithm tag",
                edited(&der, tbs_end, algorithm, &other_tag),
            ),
            ("unused bits", unused),
        ] {
            let refused = validate_agency_certificate(&bytes, AGENCY, &anchors(), now());
            assert_eq!(
                refused.map(|_| ()).unwrap_err().code(),
                "malformed_certificate",
                "{name}: {what}"
            );
        }
    }
}
