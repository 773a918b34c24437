//! The provider crate is embedded by agencies: it installs no process-wide
//! crypto provider behind its user's back. Until `install_crypto` is
//! called, a verifier refuses (without panicking); after it, ring is in
//! place for TLS and for JWS. (Its own test binary: providers are
//! process-wide.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossroads_provider::{HubVerifier, ProviderError, install_crypto};

#[tokio::test]
async fn a_verifier_installs_nothing_and_the_explicit_call_does() {
    let verifier = HubVerifier::new("https://hub.invalid", "BE-0200000001");
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    assert!(!identity::jose::crypto_installed());

    let refused = verifier.verify_header("Bearer a.b.c").await;
    assert!(
        matches!(&refused, Err(ProviderError::Keys(detail)) if detail.contains("install_crypto")),
        "{refused:?}"
    );
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    assert!(!identity::jose::crypto_installed());

    install_crypto().unwrap();
    install_crypto().unwrap();
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    assert!(identity::jose::crypto_installed());
}
