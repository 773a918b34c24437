//! Citizens on the portal: a web session in the `crossroads_session` cookie
//! (made by sign-in), and the CSRF token that every form of the session
//! must carry.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::InternalError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use identity::CommonId;

use super::sha256_hex;
use crate::app::state::AppState;
use crate::http::error::{ApiError, ResultExt};
use crate::services::citizens::{self, SESSION_COOKIE};

/// Where a request without a valid session is sent.
pub const SIGN_IN_PATH: &str = "/portal/sign-in";

/// A citizen signed in to the portal: only ever the person of the session.
#[derive(Debug, Clone)]
pub struct PortalCitizen {
    /// Who.
    pub common_id: CommonId,
    /// The token the session's forms carry.
    pub csrf_token: String,
    /// The session's digest (to end it).
    pub session_digest: String,
}

impl PortalCitizen {
    /// Whether a form's token is this session's.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        same(submitted.as_bytes(), self.csrf_token.as_bytes())
    }
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn to_sign_in(expired: bool) -> actix_web::Error {
    let location = if expired {
        format!("{SIGN_IN_PATH}?expired=1")
    } else {
        SIGN_IN_PATH.to_owned()
    };
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if expired {
        res.cookie(crate::portal::expired_cookie(SESSION_COOKIE));
    }
    InternalError::from_response("sign in first", res.finish()).into()
}

impl FromRequest for PortalCitizen {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("no state"))?;
            let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
                return Err(to_sign_in(false));
            };
            let digest = sha256_hex(cookie.as_bytes());
            let now = state.clock.now();
            let lookup = digest.clone();
            let row = state
                .db(move |conn| Ok(citizens::session(conn, &lookup, now)?))
                .await?;
            let Some(row) = row else {
                return Err(to_sign_in(true));
            };
            let common_id = row
                .common_id
                .parse()
                .internal("a session names no valid common ID")?;
            Ok(PortalCitizen {
                common_id,
                csrf_token: row.csrf_token,
                session_digest: digest,
            })
        })
    }
}
