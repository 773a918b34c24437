//! Signing compact JWS the way an agency's own JOSE library would (for the
//! demo, tests and tools; the hub verifies such signatures, it never holds
//! agencies' keys). Signed through [`identity::jose`], like every token.

use identity::jose::{self, Algorithm, HeaderFields, PrivateKey};

/// Why a JWS could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign: {0}")]
pub struct JoseError(String);

/// A compact JWS over `claims` signed with the PKCS#8 PEM key in `key_pem`
/// (`ES256`, `EdDSA`, `RS256` or `PS256`), header `typ: JWT` unless
/// `extra_header` says otherwise. `extra_header` may set `typ`, `kid` and
/// `x5t#S256` (strings); any other member is refused.
pub fn try_sign_jws(
    alg: &str,
    key_pem: &str,
    extra_header: &serde_json::Value,
    claims: &serde_json::Value,
) -> Result<String, JoseError> {
    let alg = Algorithm::from_name(alg).map_err(|e| JoseError(e.to_string()))?;
    let key = PrivateKey::from_pkcs8_pem(alg, key_pem).map_err(|e| JoseError(e.to_string()))?;
    let mut fields = HeaderFields {
        typ: Some("JWT"),
        ..HeaderFields::default()
    };
    if let Some(extra) = extra_header.as_object() {
        for (name, value) in extra {
            let value = value
                .as_str()
                .ok_or_else(|| JoseError(format!("header member {name} is not a string")))?;
            match name.as_str() {
                "typ" => fields.typ = Some(value),
                "kid" => fields.kid = Some(value),
                "x5t#S256" => fields.x5t_s256 = Some(value),
                other => return Err(JoseError(format!("header member {other} is not supported"))),
            }
        }
    }
    jose::sign(claims, &key, &fields).map_err(|e| JoseError(e.to_string()))
}
