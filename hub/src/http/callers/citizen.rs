//! Citizens calling the citizen API with the access token from sign-in.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};
use identity::CommonId;
use identity::jwt::{ACCESS_TOKEN_TYPE, AccessTokenClaims, HubTokenExpectations, verify_hub_token};

use super::token_and_state;
use crate::http::error::{ApiError, ResultExt};
use crate::services::citizens::citizen_audience;

/// An authenticated citizen: only ever the person the token was issued to.
#[derive(Debug, Clone)]
pub struct CitizenCaller {
    /// Who.
    pub common_id: CommonId,
    /// The session the token belongs to (the digest of its id).
    pub session: String,
}

impl FromRequest for CitizenCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let started = token_and_state(
            req,
            "citizen endpoints need `Authorization: Bearer <token from /v1/citizen/sign-in>`",
        );
        Box::pin(async move {
            let (token, state) = started?;
            let now = state.clock.now();
            let issuer = state.config.public_base();
            let audience = citizen_audience(&state.config);
            let keys = state.keys.clone();
            let claims: AccessTokenClaims = state
                .db(move |conn| {
                    let ring = keys
                        .ring(conn, now)
                        .internal("the hub's signing keys cannot be read")?;
                    verify_hub_token(
                        &token,
                        ring.as_ref(),
                        &HubTokenExpectations {
                            issuer: &issuer,
                            audience: &audience,
                            typ: ACCESS_TOKEN_TYPE,
                        },
                        now,
                        chrono::Duration::seconds(super::agency::LEEWAY_SECS),
                    )
                    .map_err(|e| ApiError::InvalidToken {
                        code: e.code(),
                        detail: format!("the citizen token is not valid: {e}"),
                    })
                    .and_then(|claims: AccessTokenClaims| {
                        // The token lives only as long as its session.
                        crate::services::citizens::session(conn, &claims.jti, now)?
                            .map(|_| claims)
                            .ok_or(ApiError::InvalidToken {
                                code: "session_ended",
                                detail: "the session this token belongs to has ended (signed out or expired); sign in again".to_owned(),
                            })
                    })
                })
                .await?;
            let common_id = claims.sub.parse().map_err(|_| ApiError::InvalidToken {
                code: "malformed_token",
                detail: "the token's subject is not a common ID".to_owned(),
            })?;
            Ok(CitizenCaller {
                common_id,
                session: claims.jti,
            })
        })
    }
}
