//! Who is calling: extractors that authenticate a request before a handler
//! runs, so that no endpoint can forget to.

pub mod agency;
pub mod citizen;
pub mod operator;
pub mod portal;

pub use agency::AgencyCaller;
pub use citizen::CitizenCaller;
pub use operator::OperatorCaller;

/// A bearer token from the `Authorization` header, if there is one.
pub fn bearer(req: &actix_web::HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What a bearer-token extractor starts from: the token, and the shared
/// state. A request without a token is refused with `missing` as the detail.
pub fn token_and_state(
    req: &actix_web::HttpRequest,
    missing: &'static str,
) -> Result<(String, actix_web::web::Data<crate::app::state::AppState>), crate::http::error::ApiError>
{
    let state = req
        .app_data::<actix_web::web::Data<crate::app::state::AppState>>()
        .cloned()
        .ok_or_else(|| crate::http::error::ApiError::internal("no state"))?;
    let token = bearer(req).ok_or(crate::http::error::ApiError::Unauthenticated(missing))?;
    Ok((token.to_owned(), state))
}

/// SHA-256 of `data`, as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
