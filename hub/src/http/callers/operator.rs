//! Operators: people who onboard agencies and publish schemas and rules.
//! They present a bearer token made by `crossroads operator token`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};

use super::token_and_state;
use crate::http::error::ApiError;
use crate::services::operators::authenticate;

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct OperatorCaller {
    /// The credential's id (named in audit events).
    pub id: String,
    /// Who holds it.
    pub name: String,
}

impl FromRequest for OperatorCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let started = token_and_state(
            req,
            "operator endpoints need `Authorization: Bearer <operator token>`",
        );
        Box::pin(async move {
            let (token, state) = started?;
            let found = state
                .db(move |conn| Ok(authenticate(conn, &token)?))
                .await?;
            found.ok_or(ApiError::Unauthenticated(
                "the operator token is unknown or revoked",
            ))
        })
    }
}
