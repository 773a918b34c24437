//! Certificates for the demo: a CA and one certificate per agency, each
//! binding the agency identifier in `organizationIdentifier` (2.5.4.97),
//! made fresh at every run.

use chrono::{Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// A CA that signs the demo agencies' certificates.
pub struct DemoCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM: the hub's trust anchor.
    pub pem: String,
}

/// An agency's certificate and private key.
pub struct AgencyCredentials {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The private key, PKCS#8 PEM (P-256, for ES256 client assertions).
    pub key_pem: String,
}

fn dn(country: &str, org: &str, common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, country);
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Valid from yesterday for a year.
fn validity(params: &mut CertificateParams) {
    let from = Utc::now() - chrono::Duration::days(1);
    let until = from + chrono::Duration::days(366);
    let ymd = |d: chrono::DateTime<Utc>| {
        rcgen::date_time_ymd(
            d.year(),
            u8::try_from(d.month()).unwrap_or(1),
            u8::try_from(d.day()).unwrap_or(1),
        )
    };
    params.not_before = ymd(from);
    params.not_after = ymd(until);
}

impl DemoCa {
    /// Makes a CA.
    pub fn new() -> anyhow::Result<Self> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("BE", "Crossroads Demo", "Crossroads Demo Agency CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params);
        let pem = params.self_signed(&key)?.pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            pem,
        })
    }

    /// A certificate for `agency_id`, signed by this CA.
    pub fn issue(&self, agency_id: &str, name: &str) -> anyhow::Result<AgencyCredentials> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = dn(agency_id.get(..2).unwrap_or("BE"), name, name);
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 97]), agency_id);
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        validity(&mut params);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(AgencyCredentials {
            certificate_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl DemoCa {
    /// A TLS server certificate for `names` (host names or IP addresses),
    /// signed by this CA: for an agency that serves HTTPS.
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<AgencyCredentials> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("BE", "Crossroads Demo", names.first().unwrap_or(&"server"));
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName((*name).try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(AgencyCredentials {
            certificate_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_certificates_pass_the_hub_checks() {
        let ca = DemoCa::new().unwrap();
        let anchors = identity::x509::TrustAnchors::from_pem(ca.pem.as_bytes()).unwrap();
        let agency = ca.issue("BE-0200000001", "Population Register").unwrap();
        let checked = identity::x509::validate_agency_certificate(
            agency.certificate_pem.as_bytes(),
            "BE-0200000001",
            &anchors,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(checked.agency_id(), "BE-0200000001");
        let other = identity::x509::validate_agency_certificate(
            agency.certificate_pem.as_bytes(),
            "BE-0200000002",
            &anchors,
            Utc::now(),
        );
        assert!(other.is_err());
    }
}
