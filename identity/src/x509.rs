//! Agency certificates: X.509 (RFC 5280) certificates chained to the hub's
//! configured trust anchors and bound to an agency identifier.
//!
//! An agency certificate is accepted when it parses, chains to a trust anchor
//! (directly or through one intermediate CA sent along with it), is within its
//! validity period at `now`, allows digital signatures, carries the agency's
//! identifier in its subject (`organizationIdentifier`, OID 2.5.4.97, or
//! `serialNumber`, OID 2.5.4.5) and holds an EC P-256, Ed25519 or RSA
//! (2048 bits or more) public key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_SHA1WITHRSA,
    OID_SHA1_WITH_RSA, OID_SIG_ED25519, OID_X509_SERIALNUMBER,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{SubjectPublicKeyInfo, X509Name};

use crate::encoding::hex_encode;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Intermediate certificates considered after the leaf in a PEM chain.
const MAX_INTERMEDIATES: usize = 4;

/// Why a certificate (or a trust-anchor bundle) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The input is not a well-formed X.509 certificate (PEM or DER).
    #[error("the certificate cannot be parsed: {0}")]
    Malformed(String),
    /// The certificate does not chain, with a valid signature, to a trust anchor.
    #[error("the certificate is not issued by a trusted authority")]
    UntrustedIssuer,
    /// `now` is before the certificate's notBefore.
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid {
        /// The certificate's notBefore.
        not_before: DateTime<Utc>,
    },
    /// `now` is after the certificate's notAfter.
    #[error("the certificate expired at {not_after}")]
    Expired {
        /// The certificate's notAfter.
        not_after: DateTime<Utc>,
    },
    /// The keyUsage extension does not allow digital signatures.
    #[error("the certificate's key usage does not allow digital signatures")]
    KeyUsage,
    /// The subject names another agency, or none.
    #[error("the certificate's subject does not name agency {expected}")]
    AgencyMismatch {
        /// The agency identifier that was expected.
        expected: String,
    },
    /// The public key is not EC P-256, Ed25519 or RSA of at least 2048 bits.
    #[error("the certificate's public key type is not accepted: {0}")]
    UnsupportedKey(String),
    /// A trust-anchor bundle holds no certificate.
    #[error("the trust-anchor bundle holds no certificate")]
    NoTrustAnchor,
}

impl CertificateError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_certificate",
            Self::UntrustedIssuer => "untrusted_issuer",
            Self::NotYetValid { .. } => "certificate_not_yet_valid",
            Self::Expired { .. } => "certificate_expired",
            Self::KeyUsage => "key_usage",
            Self::AgencyMismatch { .. } => "agency_mismatch",
            Self::UnsupportedKey(_) => "unsupported_key",
            Self::NoTrustAnchor => "no_trust_anchor",
        }
    }
}

/// The public key algorithms accepted in agency certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA over NIST P-256 (JOSE `ES256`).
    EcP256,
    /// Ed25519 (JOSE `EdDSA`).
    Ed25519,
    /// RSA (JOSE `RS256` or `PS256`), with the modulus size in bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
}

impl KeyAlgorithm {
    /// A short name: `ec_p256`, `ed25519` or `rsa`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::EcP256 => "ec_p256",
            Self::Ed25519 => "ed25519",
            Self::Rsa { .. } => "rsa",
        }
    }
}

/// The configured certificate authorities that agency certificates chain to.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    anchors: Vec<Authority>,
}

/// What is kept of a trusted or intermediate CA certificate.
#[derive(Debug, Clone)]
struct Authority {
    subject_raw: Vec<u8>,
    spki_der: Vec<u8>,
}

impl Authority {
    fn from_certificate(cert: &X509Certificate<'_>) -> Self {
        Self {
            subject_raw: cert.subject().as_raw().to_vec(),
            spki_der: cert.public_key().raw.to_vec(),
        }
    }

    /// Whether `cert` names this authority as its issuer and carries its signature.
    fn signed(&self, cert: &X509Certificate<'_>) -> bool {
        if cert.issuer().as_raw() != self.subject_raw.as_slice() {
            return false;
        }
        let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(&self.spki_der) else {
            return false;
        };
        verify_issued_by(cert, &spki)
    }
}

impl TrustAnchors {
    /// Reads one or more PEM `CERTIFICATE` blocks.
    pub fn from_pem(bundle: &[u8]) -> Result<Self, CertificateError> {
        let ders = pem_certificates(bundle)?;
        let mut anchors = Vec::with_capacity(ders.len());
        for der in &ders {
            let cert = parse_der(der)?;
            anchors.push(Authority::from_certificate(&cert));
        }
        if anchors.is_empty() {
            return Err(CertificateError::NoTrustAnchor);
        }
        Ok(Self { anchors })
    }

    /// How many anchors there are.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether there is no anchor (never true for a bundle read by [`Self::from_pem`]).
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Whether an anchor signed `cert`. As in RFC 5280 path validation, an
    /// anchor is trusted by configuration: its own validity dates are not
    /// checked (an operator removes an anchor to stop trusting it).
    fn issued(&self, cert: &X509Certificate<'_>) -> bool {
        self.anchors.iter().any(|anchor| anchor.signed(cert))
    }
}

/// An agency certificate that passed [`validate_agency_certificate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedCertificate {
    agency_id: String,
    subject: String,
    issuer: String,
    serial: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    key_algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
    public_key: Vec<u8>,
    thumbprint_s256: String,
    der: Vec<u8>,
}

impl ValidatedCertificate {
    /// The agency identifier the subject was checked against.
    pub fn agency_id(&self) -> &str {
        &self.agency_id
    }

    /// The subject distinguished name (RFC 4514-like string).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The issuer distinguished name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The serial number, lowercase hexadecimal without leading zero bytes.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of the validity period.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// The public key's algorithm.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }

    /// The SubjectPublicKeyInfo, DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The raw public key: the uncompressed point for P-256, the 32 bytes for
    /// Ed25519, the PKCS#1 `RSAPublicKey` DER for RSA.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// SHA-256 of the DER certificate, base64url without padding: the RFC 8705
    /// `x5t#S256` confirmation value.
    pub fn thumbprint_s256(&self) -> &str {
        &self.thumbprint_s256
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// Validates an agency's certificate (PEM, or DER) for `agency_id` at `now`.
///
/// A PEM input may carry, after the agency certificate, one intermediate CA
/// certificate issued by a trust anchor.
pub fn validate_agency_certificate(
    pem_or_der: &[u8],
    agency_id: &str,
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<ValidatedCertificate, CertificateError> {
    let ders = if looks_like_pem(pem_or_der) {
        pem_certificates(pem_or_der)?
    } else {
        vec![pem_or_der.to_vec()]
    };
    let Some((leaf_der, rest)) = ders.split_first() else {
        return Err(CertificateError::Malformed(
            "no certificate in the input".into(),
        ));
    };
    let leaf = parse_der(leaf_der)?;
    let mut intermediates = Vec::new();
    for der in rest.iter().take(MAX_INTERMEDIATES) {
        intermediates.push(parse_der(der)?);
    }
    let now_ts = now.timestamp();

    if !chains(&leaf, &intermediates, anchors, now_ts) {
        return Err(CertificateError::UntrustedIssuer);
    }

    let validity = leaf.validity();
    let not_before = to_datetime(validity.not_before.timestamp())?;
    let not_after = to_datetime(validity.not_after.timestamp())?;
    if now < not_before {
        return Err(CertificateError::NotYetValid { not_before });
    }
    if now > not_after {
        return Err(CertificateError::Expired { not_after });
    }

    match leaf.key_usage() {
        Ok(Some(usage)) if !usage.value.digital_signature() => {
            return Err(CertificateError::KeyUsage);
        }
        Ok(_) => {}
        Err(e) => return Err(CertificateError::Malformed(e.to_string())),
    }

    if !names_agency(leaf.subject(), agency_id) {
        return Err(CertificateError::AgencyMismatch {
            expected: agency_id.to_owned(),
        });
    }

    let spki = leaf.public_key();
    let key_algorithm = key_algorithm(spki)?;

    Ok(ValidatedCertificate {
        agency_id: agency_id.to_owned(),
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        serial: serial_hex(leaf.raw_serial()),
        not_before,
        not_after,
        key_algorithm,
        spki_der: spki.raw.to_vec(),
        public_key: spki.subject_public_key.data.to_vec(),
        thumbprint_s256: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, leaf_der)),
        der: leaf_der.clone(),
    })
}

/// Whether `leaf` is signed by an anchor, or by an intermediate CA that is.
fn chains(
    leaf: &X509Certificate<'_>,
    intermediates: &[X509Certificate<'_>],
    anchors: &TrustAnchors,
    now: i64,
) -> bool {
    if anchors.issued(leaf) {
        return true;
    }
    intermediates.iter().any(|ca| {
        may_issue(ca)
            && ca.validity().not_before.timestamp() <= now
            && now <= ca.validity().not_after.timestamp()
            && Authority::from_certificate(ca).signed(leaf)
            && anchors.issued(ca)
    })
}

/// Whether `ca` says it is a CA allowed to sign certificates.
fn may_issue(ca: &X509Certificate<'_>) -> bool {
    let is_ca = matches!(ca.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    let signs = match ca.key_usage() {
        Ok(Some(usage)) => usage.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    is_ca && signs
}

/// Verifies `cert`'s signature with the issuer's key. SHA-1 signatures are
/// refused.
fn verify_issued_by(cert: &X509Certificate<'_>, issuer: &SubjectPublicKeyInfo<'_>) -> bool {
    let alg = &cert.signature_algorithm.algorithm;
    if *alg == OID_PKCS1_SHA1WITHRSA || *alg == OID_SHA1_WITH_RSA {
        return false;
    }
    cert.verify_signature(Some(issuer)).is_ok()
}

fn names_agency(subject: &X509Name<'_>, agency_id: &str) -> bool {
    subject.iter_attributes().any(|attr| {
        let oid = attr.attr_type();
        (*oid == OID_X509_SERIALNUMBER || oid.to_id_string() == "2.5.4.97")
            && attr.as_str().is_ok_and(|value| value == agency_id)
    })
}

fn key_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyAlgorithm, CertificateError> {
    let oid = &spki.algorithm.algorithm;
    if *oid == OID_SIG_ED25519 {
        if spki.subject_public_key.data.len() == 32 {
            return Ok(KeyAlgorithm::Ed25519);
        }
        return Err(CertificateError::UnsupportedKey(
            "Ed25519 key of wrong length".into(),
        ));
    }
    if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        return match curve {
            Some(curve) if curve == OID_EC_P256 && spki.subject_public_key.data.len() == 65 => {
                Ok(KeyAlgorithm::EcP256)
            }
            Some(curve) => Err(CertificateError::UnsupportedKey(format!(
                "elliptic curve {}",
                curve.to_id_string()
            ))),
            None => Err(CertificateError::UnsupportedKey(
                "elliptic curve not named".into(),
            )),
        };
    }
    if *oid == OID_PKCS1_RSAENCRYPTION {
        return match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= MIN_RSA_BITS => Ok(KeyAlgorithm::Rsa {
                bits: rsa.key_size(),
            }),
            Ok(PublicKey::RSA(rsa)) => Err(CertificateError::UnsupportedKey(format!(
                "RSA key of {} bits",
                rsa.key_size()
            ))),
            _ => Err(CertificateError::UnsupportedKey(
                "unreadable RSA key".into(),
            )),
        };
    }
    Err(CertificateError::UnsupportedKey(format!(
        "algorithm {}",
        oid.to_id_string()
    )))
}

fn looks_like_pem(input: &[u8]) -> bool {
    input.trim_ascii_start().starts_with(b"-----BEGIN")
}

/// The DER of every `CERTIFICATE` block of a PEM text, in order.
fn pem_certificates(input: &[u8]) -> Result<Vec<Vec<u8>>, CertificateError> {
    let mut ders = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(input) {
        let block = block.map_err(|e| CertificateError::Malformed(e.to_string()))?;
        if block.label != "CERTIFICATE" {
            return Err(CertificateError::Malformed(format!(
                "unexpected PEM block {}",
                block.label
            )));
        }
        ders.push(block.contents);
    }
    Ok(ders)
}

fn parse_der(der: &[u8]) -> Result<X509Certificate<'_>, CertificateError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => {
            canonical_outer_tags(der)?;
            Ok(cert)
        }
        Ok(_) => Err(CertificateError::Malformed(
            "trailing data after the certificate".into(),
        )),
        Err(e) => Err(CertificateError::Malformed(e.to_string())),
    }
}

/// The tag and the header length of the DER element at the start of
/// `bytes`, and its content length.
fn der_header(bytes: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *bytes.first()?;
    let first = *bytes.get(1)?;
    if first < 0x80 {
        return Some((tag, 2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let len = bytes
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((tag, 2 + n, len))
}

/// Refuses a certificate whose outer encoding is not the one DER allows:
/// the signature covers only the `tbsCertificate`, so a parser that lets the
/// outer `SEQUENCE`, the `signatureAlgorithm` or the `signatureValue` carry
/// another tag or other content would let one certificate come in several
/// encodings, each with its own thumbprint (a revoked certificate could come
/// back under a new one). So the outer `signatureAlgorithm` must be, byte for
/// byte, the `signature` field inside the `tbsCertificate` (RFC 5280,
/// 4.1.1.2), and the `signatureValue` must have no unused bits.
fn canonical_outer_tags(der: &[u8]) -> Result<(), CertificateError> {
    let malformed = || CertificateError::Malformed("not a DER certificate".into());
    let (tag, header, _) = der_header(der).ok_or_else(malformed)?;
    if tag != 0x30 {
        return Err(malformed());
    }
    let mut at = header;
    let mut elements = Vec::with_capacity(3);
    for expected in [0x30, 0x30, 0x03] {
        let rest = der.get(at..).ok_or_else(malformed)?;
        let (tag, header, len) = der_header(rest).ok_or_else(malformed)?;
        if tag != expected {
            return Err(malformed());
        }
        let end = header.checked_add(len).ok_or_else(malformed)?;
        elements.push((rest.get(..end).ok_or_else(malformed)?, header));
        at = at.checked_add(end).ok_or_else(malformed)?;
    }
    if at != der.len() {
        return Err(malformed());
    }
    let [
        (tbs, tbs_header),
        (outer_algorithm, _),
        (signature, signature_header),
    ] = elements.as_slice()
    else {
        return Err(malformed());
    };
    if tbs_signature_algorithm(tbs.get(*tbs_header..).ok_or_else(malformed)?)
        != Some(*outer_algorithm)
    {
        return Err(CertificateError::Malformed(
            "the signature algorithm differs from the one signed".into(),
        ));
    }
    if signature.get(*signature_header) != Some(&0) {
        return Err(malformed());
    }
    Ok(())
}

/// The `signature` field (with its header) of a `tbsCertificate`'s content:
/// the element after the optional `[0]` version and the serial number.
fn tbs_signature_algorithm(content: &[u8]) -> Option<&[u8]> {
    let (first, rest) = der_element(content)?;
    let rest = if first == 0xa0 { rest } else { content };
    let (serial, rest) = der_element(rest)?;
    if serial != 0x02 {
        return None;
    }
    let (tag, header, len) = der_header(rest)?;
    if tag != 0x30 {
        return None;
    }
    rest.get(..header.checked_add(len)?)
}

/// The tag of the DER element at the start of `bytes`, and what follows it.
fn der_element(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let (tag, header, len) = der_header(bytes)?;
    Some((tag, bytes.get(header.checked_add(len)?..)?))
}

fn to_datetime(timestamp: i64) -> Result<DateTime<Utc>, CertificateError> {
    DateTime::from_timestamp(timestamp, 0)
        .ok_or_else(|| CertificateError::Malformed("validity date out of range".into()))
}

fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex_encode(raw.get(start..).unwrap_or(raw))
}
