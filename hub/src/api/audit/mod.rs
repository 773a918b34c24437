//! `/v1/audit/…`: audit entries with their inclusion proofs, for the
//! parties they concern.

pub mod entry;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};
use utoipa::OpenApi;

use crate::api::operations::Operations;
use crate::http::callers::{AgencyCaller, OperatorCaller, bearer};
use crate::http::error::ApiError;
use crate::services::operators::TOKEN_PREFIX;

/// The audit part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(crate::audit_log::EntryProof)),
    tags((name = "audit", description = "Audit entries with inclusion proofs, for the parties involved"))
)]
pub struct AuditApi;

/// Registers the audit routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations.add(entry::show);
}

/// Who may read audit entries: an operator (all of them) or an agency (the
/// entries it is named in).
#[derive(Debug, Clone)]
pub enum AuditReader {
    /// An operator or auditor.
    Operator(OperatorCaller),
    /// An agency.
    Agency(AgencyCaller),
}

impl FromRequest for AuditReader {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        if bearer(req).is_some_and(|t| t.starts_with(TOKEN_PREFIX)) {
            let fut = OperatorCaller::from_request(req, payload);
            Box::pin(async move { fut.await.map(AuditReader::Operator) })
        } else {
            let fut = AgencyCaller::from_request(req, payload);
            Box::pin(async move { fut.await.map(AuditReader::Agency) })
        }
    }
}
