//! Signing compact JWS the way an agency's own JOSE library would (for the
//! demo, tests and tools; the hub verifies such signatures, it never holds
//! agencies' keys).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature;

/// Why a JWS could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign: {0}")]
pub struct JoseError(String);

/// A compact JWS over `claims` signed with the PKCS#8 PEM key in `key_pem`
/// (`ES256`, `EdDSA`, `RS256` or `PS256`).
pub fn try_sign_jws(
    alg: &str,
    key_pem: &str,
    extra_header: &serde_json::Value,
    claims: &serde_json::Value,
) -> Result<String, JoseError> {
    let fail = |e: &dyn std::fmt::Display| JoseError(e.to_string());
    let mut header = serde_json::json!({"alg": alg, "typ": "JWT"});
    if let (Some(h), Some(extra)) = (header.as_object_mut(), extra_header.as_object()) {
        h.extend(extra.clone());
    }
    let encode = |v: &serde_json::Value| -> Result<String, JoseError> {
        Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).map_err(|e| fail(&e))?))
    };
    let input = format!("{}.{}", encode(&header)?, encode(claims)?);
    let body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).map_err(|e| fail(&e))?;
    let rng = ring::rand::SystemRandom::new();
    let sig: Vec<u8> = match alg {
        "ES256" => {
            let key = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
                &rng,
            )
            .map_err(|e| fail(&e))?;
            key.sign(&rng, input.as_bytes())
                .map_err(|e| fail(&e))?
                .as_ref()
                .to_vec()
        }
        "EdDSA" => signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| fail(&e))?
            .sign(input.as_bytes())
            .as_ref()
            .to_vec(),
        "RS256" | "PS256" => {
            let key = signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| fail(&e))?;
            let mut sig = vec![0; key.public().modulus_len()];
            let padding: &dyn signature::RsaEncoding = if alg == "RS256" {
                &signature::RSA_PKCS1_SHA256
            } else {
                &signature::RSA_PSS_SHA256
            };
            key.sign(padding, &rng, input.as_bytes(), &mut sig)
                .map_err(|e| fail(&e))?;
            sig
        }
        other => return Err(JoseError(format!("unsupported algorithm {other}"))),
    };
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}
