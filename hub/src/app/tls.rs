//! Serving HTTPS with rustls (the ring provider only), asking clients for a
//! certificate that chains to the configured trust anchors. A client that
//! presents one gets access tokens bound to it (RFC 8705, `cnf.x5t#S256`),
//! and a bound token is refused over any other certificate.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Extensions;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::app::config::Config;

/// The SHA-256 thumbprint (base64url, `x5t#S256`) of the certificate the
/// client presented on this connection, if it presented one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub String);

/// The thumbprint of a DER certificate, as `x5t#S256`.
pub fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

fn read_certs(path: &Path, key: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("{key}: {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{key}: {}: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{key}: {} holds no certificate", path.display());
    }
    Ok(certs)
}

/// The rustls server configuration of `config`, if TLS is configured.
pub fn server_config(config: &Config) -> anyhow::Result<Option<rustls::ServerConfig>> {
    match (&config.tls_cert_file, &config.tls_key_file) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(build_server_config(
            cert,
            key,
            config.trust_anchors_file.as_deref(),
            ("tls_cert_file", "tls_key_file"),
        )?)),
        _ => anyhow::bail!("tls_cert_file and tls_key_file: set both or neither"),
    }
}

/// A server configuration with the PEM chain `cert_file` and key
/// `key_file`; with `client_anchors`, it asks clients for a certificate
/// chaining to them (and accepts clients without one). `names` are the
/// settings the files come from, for error messages.
pub fn build_server_config(
    cert_file: &Path,
    key_file: &Path,
    client_anchors: Option<&Path>,
    names: (&str, &str),
) -> anyhow::Result<rustls::ServerConfig> {
    let chain = read_certs(cert_file, names.0)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| anyhow::anyhow!("{}: {}: {e}", names.1, key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
    let builder = match client_anchors {
        Some(anchors) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(anchors, "trust_anchors_file")? {
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("trust_anchors_file: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| anyhow::anyhow!("client certificate verifier: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|e| anyhow::anyhow!("{} / {}: {e}", names.0, names.1))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(server)
}

/// Records the client certificate of a new TLS connection, for handlers.
pub fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(stream) = connection.downcast_ref::<Tls>() {
        let (_, session) = stream.get_ref();
        if let Some(cert) = session.peer_certificates().and_then(|certs| certs.first()) {
            data.insert(ClientCertificate(thumbprint(cert.as_ref())));
        }
    }
}
