//! Until the program installs the ring provider, tokens can be neither made
//! nor checked, and nothing panics; installing it is idempotent. (Its own
//! test binary: the provider is process-wide.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration};
use identity::jose::{self, TokenError};
use identity::jwt::{HubTokenExpectations, sign_token, verify_hub_token};
use identity::keys::{KeyRing, SigningKey};
use serde_json::{Value, json};

#[test]
fn nothing_signs_or_verifies_before_install_and_install_is_idempotent() {
    let ring = KeyRing::new(SigningKey::generate().unwrap().0);
    let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    let claims =
        json!({"iss": "hub", "aud": "hub", "iat": now.timestamp(), "exp": now.timestamp() + 60});
    let expected = HubTokenExpectations {
        issuer: "hub",
        audience: "hub",
        typ: "at+jwt",
    };

    assert!(!jose::crypto_installed());
    assert_eq!(
        sign_token(&claims, ring.current(), "at+jwt"),
        Err(TokenError::CryptoProviderMissing)
    );

    assert_eq!(jose::install_crypto(), Ok(()));
    assert_eq!(jose::install_crypto(), Ok(()));
    assert!(jose::crypto_installed());
    let token = sign_token(&claims, ring.current(), "at+jwt").unwrap();
    let got: Value =
        verify_hub_token(&token, &ring, &expected, now, Duration::seconds(30)).unwrap();
    assert_eq!(got, claims);
}
