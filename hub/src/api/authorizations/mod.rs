//! `/v1/admin/authorizations` (operators), `/v1/authorizations` (agencies)
//! and `/v1/citizen/authorizations` (citizens).

pub mod citizen;
pub mod list;
pub mod mine;
pub mod publish;
pub mod show;
pub mod supersede;

use utoipa::OpenApi;

use crate::api::operations::Operations;

/// The authorizations part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::authorizations::NewAuthorization, crate::services::authorizations::NewVersion,
        crate::services::authorizations::ConsumerSpec,
        crate::services::authorizations::AuthorizationView, crate::services::authorizations::LegalRef
    )),
    tags((name = "authorizations", description = "Legal bases: who may obtain which records, why, under which law"))
)]
pub struct AuthorizationsApi;

/// Registers the authorization routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(list::list)
        .add(publish::publish)
        .add(show::show)
        .add(supersede::supersede)
        .add(mine::mine)
        .add(citizen::citizen);
}
