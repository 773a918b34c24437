//! Helpers shared by the identity integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use identity::x509::{TrustAnchors, ValidatedCertificate, validate_agency_certificate};
use x509_parser::prelude::{FromDer, X509Certificate};

pub const AGENCY: &str = "BE-0123456789";

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture file's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A fixture file's text, trimmed.
pub fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap().trim().to_owned()
}

/// The DER inside the first PEM block of a fixture.
pub fn pem_der(name: &str) -> Vec<u8> {
    let pem = fixture(name);
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    block.contents
}

pub fn anchors() -> TrustAnchors {
    TrustAnchors::from_pem(&fixture("ca.pem")).unwrap()
}

/// A moment inside every good fixture's validity: 30 days after the test CA
/// was made (the good certificates are valid for 20 years from then).
pub fn now() -> DateTime<Utc> {
    let der = pem_der("ca.pem");
    let (_, ca) = X509Certificate::from_der(&der).unwrap();
    DateTime::from_timestamp(ca.validity().not_before.timestamp(), 0).unwrap() + Duration::days(30)
}

pub fn validated(name: &str) -> ValidatedCertificate {
    validate_agency_certificate(&fixture(name), AGENCY, &anchors(), now()).unwrap()
}
