//! The consent artefact: a compact JWS (RFC 7515), EdDSA (RFC 8037), signed
//! with the hub's key and named by its `kid`, over the content of an active
//! consent at one revision. Anyone holding the hub's JWKS can verify it.
//!
//! Header: `{"alg":"EdDSA","typ":"consent+jwt","kid":…}`. Claims: `jti`
//! (`<consent id>.<revision>`), `sub` (the person as the consumer names
//! them: the common ID, or its sector pseudonym for a consumer whose
//! identifier policy is `sector_pseudonym`), `aud` (the
//! consumer agency), `iat`, `exp` (the end of the consent's window), then the
//! consent's content.

use chrono::{DateTime, Duration, Utc};
use identity::AgencyId;
use identity::jose::{self, Rules, TypRule};
use identity::jwt::{TokenError, hub_key, sign_token};
use identity::keys::{SigningKey, VerificationKeys};
use schemas::RecordTypeRef;
use serde::{Deserialize, Serialize};

use crate::consent::{Consent, ConsentState, FetchFrequency};
use crate::ids::ConsentId;
use crate::purpose::PurposeCode;

/// `typ` header of consent artefacts.
pub const CONSENT_ARTEFACT_TYPE: &str = "consent+jwt";

/// Clock skew tolerated on `iat` when verifying.
pub const ARTEFACT_LEEWAY_SECONDS: i64 = 60;

/// Why an artefact cannot be made or is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtefactError {
    /// Only an active consent (within its window) has an artefact.
    #[error("consent {id} is {state}; only an active consent has an artefact")]
    NotActive {
        /// The consent.
        id: ConsentId,
        /// Its state at the time asked.
        state: ConsentState,
    },
    /// The token could not be made, or is not a valid artefact.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl ArtefactError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotActive { .. } => "consent_not_active",
            Self::Token(e) => e.code(),
        }
    }
}

/// The claims of a consent artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentArtefactClaims {
    /// `<consent id>.<revision>`: unique per artefact.
    pub jti: String,
    /// The person as the consumer names them: the common ID, or the
    /// consumer's sector pseudonym of the person.
    pub sub: String,
    /// The consumer agency.
    pub aud: AgencyId,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// End of the consent's window, seconds since the epoch.
    pub exp: i64,
    /// The consent.
    pub consent_id: ConsentId,
    /// Its revision.
    pub revision: u32,
    /// The record types covered.
    pub record_types: Vec<RecordTypeRef>,
    /// The purpose.
    pub purpose: PurposeCode,
    /// Start of the window (inclusive).
    pub valid_from: DateTime<Utc>,
    /// End of the window (exclusive).
    pub valid_until: DateTime<Utc>,
    /// How often data may be fetched.
    pub frequency: FetchFrequency,
    /// The state when issued (always `active`).
    pub state: ConsentState,
    /// When the consent was requested or granted.
    pub created_at: DateTime<Utc>,
}

impl ConsentArtefactClaims {
    /// The claims for `consent` issued at `at`, naming the person by
    /// common ID.
    pub fn of(consent: &Consent, at: DateTime<Utc>) -> Self {
        Self::naming(consent, consent.terms().person.as_digits(), at)
    }

    /// The claims for `consent` issued at `at`, naming the person
    /// `subject` (the consumer's sector pseudonym of them, or the common ID).
    pub fn naming(consent: &Consent, subject: &str, at: DateTime<Utc>) -> Self {
        let terms = consent.terms();
        Self {
            jti: format!("{}.{}", consent.id(), consent.revision()),
            sub: subject.to_owned(),
            aud: terms.consumer.clone(),
            iat: at.timestamp(),
            exp: terms.valid_until.timestamp(),
            consent_id: consent.id().clone(),
            revision: consent.revision(),
            record_types: terms.record_types.clone(),
            purpose: terms.purpose.clone(),
            valid_from: terms.valid_from,
            valid_until: terms.valid_until,
            frequency: terms.frequency,
            state: consent.state_at(at),
            created_at: consent.created_at(),
        }
    }
}

/// Signs the artefact of `consent` as of `at`, naming the person by common
/// ID. Refused unless the consent is active at `at`.
pub fn artefact(
    consent: &Consent,
    key: &SigningKey,
    at: DateTime<Utc>,
) -> Result<String, ArtefactError> {
    artefact_naming(consent, consent.terms().person.as_digits(), key, at)
}

/// Signs the artefact of `consent` as of `at`, naming the person `subject`
/// (the consumer's sector pseudonym of them, for a consumer that sees
/// pseudonyms). Refused unless the consent is active at `at`.
pub fn artefact_naming(
    consent: &Consent,
    subject: &str,
    key: &SigningKey,
    at: DateTime<Utc>,
) -> Result<String, ArtefactError> {
    let state = consent.state_at(at);
    if state != ConsentState::Active {
        return Err(ArtefactError::NotActive {
            id: consent.id().clone(),
            state,
        });
    }
    Ok(sign_token(
        &ConsentArtefactClaims::naming(consent, subject, at),
        key,
        CONSENT_ARTEFACT_TYPE,
    )?)
}

/// Verifies a consent artefact with the hub's published keys (a
/// [`identity::keys::JwkSet`] read from the JWKS is enough) and returns its
/// claims.
///
/// Refuses: any `alg` but `EdDSA`; a header naming its own key or `crit`; a
/// `typ` other than `consent+jwt`; a `kid` not among `keys` at `at`; a bad
/// signature; `exp` (the end of the window) past at `at`; `iat` in the
/// future beyond [`ARTEFACT_LEEWAY_SECONDS`]; claims that are not those of
/// an active consent.
pub fn verify_artefact(
    token: &str,
    keys: &impl VerificationKeys,
    at: DateTime<Utc>,
) -> Result<ConsentArtefactClaims, ArtefactError> {
    // Anyone may verify an artefact: no issuer or audience is expected.
    let rules = Rules {
        algorithms: jose::HUB_ALGORITHMS,
        typ: TypRule::Exactly(CONSENT_ARTEFACT_TYPE),
        issuers: None,
        audiences: None,
        require_sub: true,
        require_iat: true,
        require_jti: true,
        now: at,
        leeway: Duration::seconds(ARTEFACT_LEEWAY_SECONDS),
    };
    let claims: ConsentArtefactClaims = jose::verify(token, hub_key(keys, at), &rules)?.claims;
    // The consent's window ends at `exp`, exclusive, with no leeway.
    if at.timestamp() >= claims.exp {
        return Err(TokenError::Expired.into());
    }
    if claims.state != ConsentState::Active {
        return Err(
            TokenError::Malformed("an artefact is issued for an active consent".into()).into(),
        );
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use identity::keys::{JwkSet, KeyRing};

    fn key() -> SigningKey {
        assert_eq!(jose::install_crypto(), Ok(()));
        SigningKey::generate()
            .map(|(k, _)| k)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn consent() -> Consent {
        Consent::grant(consent_id("cns-1"), consent_terms(day(1), day(30)), day(1))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn jwks_of(ring: &KeyRing) -> JwkSet {
        JwkSet::from_json(&ring.jwks(day(2))).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_artefact_names_the_person_as_its_consumer_does() {
        let ring = KeyRing::new(key());
        let c = consent();
        let jwks = jwks_of(&ring);
        let by_id = artefact(&c, ring.current(), day(2)).unwrap_or_else(|e| panic!("{e}"));
        let claims = verify_artefact(&by_id, &jwks, day(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims.sub, c.terms().person.as_digits());
        let pseudonym = "hlth-0123456789abcdef";
        let token = artefact_naming(&c, pseudonym, ring.current(), day(2))
            .unwrap_or_else(|e| panic!("{e}"));
        let claims = verify_artefact(&token, &jwks, day(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims.sub, pseudonym);
        let payload = token.split('.').nth(1).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        let payload = String::from_utf8_lossy(&payload);
        assert!(!payload.contains(c.terms().person.as_digits()), "{payload}");
    }

    #[test]
    fn round_trip_with_the_jwks_alone() {
        let ring = KeyRing::new(key());
        let c = consent();
        let token = artefact(&c, ring.current(), day(2)).unwrap_or_else(|e| panic!("{e}"));
        let jwks = jwks_of(&ring);
        let claims = verify_artefact(&token, &jwks, day(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims, ConsentArtefactClaims::of(&c, day(2)));
        assert_eq!(claims.jti, "cns-1.1");
        assert_eq!(claims.aud, c.terms().consumer);
        assert_eq!(claims.exp, day(30).timestamp());
    }

    #[test]
    fn verifies_with_plain_ed25519_and_base64() {
        // Checked without this crate's verifier: the JWKS `x`, base64url and
        // an Ed25519 implementation are all a JOSE library needs.
        let ring = KeyRing::new(key());
        let token = artefact(&consent(), ring.current(), day(2)).unwrap_or_else(|e| panic!("{e}"));
        let jwks = ring.jwks(day(2));
        let x = jwks["keys"][0]["x"].as_str().unwrap_or_default();
        let public = URL_SAFE_NO_PAD.decode(x).unwrap_or_default();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "consent+jwt");
        assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
        let message = format!("{}.{}", parts[0], parts[1]);
        let verified = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
            .verify(message.as_bytes(), &signature);
        assert!(verified.is_ok());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(claims["consent_id"], "cns-1");
        assert_eq!(claims["state"], "active");
        assert_eq!(claims["purpose"], "benefit-eligibility");
    }

    #[test]
    fn only_active_consents_have_an_artefact() {
        let k = key();
        let mut c = consent();
        assert!(c.pause(day(2)).is_ok());
        let err = artefact(&c, &k, day(3)).err().map(|e| e.code());
        assert_eq!(err, Some("consent_not_active"));
        let pending = Consent::request(consent_id("cns-2"), consent_terms(day(1), day(30)), day(1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            artefact(&pending, &k, day(2)).err().map(|e| e.code()),
            Some("consent_not_active")
        );
        // Expired by time, even before the state records it.
        assert_eq!(
            artefact(&consent(), &k, day(30)).err().map(|e| e.code()),
            Some("consent_not_active")
        );
    }

    #[test]
    fn a_changed_consent_gets_a_new_artefact() {
        let k = key();
        let mut c = consent();
        let first = artefact(&c, &k, day(2)).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.pause(day(3)).is_ok());
        assert!(c.resume(day(4)).is_ok());
        let second = artefact(&c, &k, day(4)).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(first, second);
        let ring = KeyRing::new(k);
        let claims = verify_artefact(&second, &ring, day(5)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims.revision, 3);
        assert_eq!(claims.jti, "cns-1.3");
    }

    #[test]
    fn refusals() {
        let ring = KeyRing::new(key());
        let token = artefact(&consent(), ring.current(), day(2)).unwrap_or_else(|e| panic!("{e}"));
        let code = |t: &str, at| verify_artefact(t, &ring, at).err().map(|e| e.code());

        assert_eq!(code(&token, day(30)), Some("token_expired"));
        assert_eq!(code(&token, day(1)), Some("token_not_yet_valid"));
        assert_eq!(code("a.b", day(3)), Some("malformed_token"));
        assert_eq!(code("a.b.c.d", day(3)), Some("malformed_token"));

        // Another key.
        let other = KeyRing::new(key());
        assert_eq!(
            verify_artefact(&token, &other, day(3))
                .err()
                .map(|e| e.code()),
            Some("unknown_key")
        );

        // Tampered payload.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
                .unwrap_or_default();
        claims["purpose"] = "tax-assessment".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(code(&forged, day(3)), Some("bad_signature"));

        // Another token type signed by the same key.
        let access =
            sign_token(&claims, ring.current(), "at+jwt").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code(&access, day(3)), Some("wrong_type"));

        // Headers that are never accepted.
        let header = |h: serde_json::Value| {
            let h = URL_SAFE_NO_PAD.encode(h.to_string());
            let input = format!("{h}.{}", parts[1]);
            let sig = URL_SAFE_NO_PAD.encode(ring.current().sign(input.as_bytes()));
            format!("{input}.{sig}")
        };
        let kid = ring.current().kid().to_owned();
        assert_eq!(
            code(
                &header(serde_json::json!({"alg": "none", "typ": "consent+jwt", "kid": kid})),
                day(3)
            ),
            Some("unsupported_algorithm")
        );
        assert_eq!(
            code(
                &header(
                    serde_json::json!({"alg": "EdDSA", "typ": "consent+jwt", "kid": kid, "jwk": {}})
                ),
                day(3)
            ),
            Some("untrusted_header")
        );
        assert_eq!(
            code(
                &header(serde_json::json!({"alg": "EdDSA", "typ": "consent+jwt"})),
                day(3)
            ),
            Some("unknown_key")
        );
        assert_eq!(
            code(
                &header(
                    serde_json::json!({"alg": "EdDSA", "typ": "application/consent+jwt", "kid": kid})
                ),
                day(3)
            ),
            None
        );
    }
}
