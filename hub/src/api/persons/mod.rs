//! `/v1/persons`: the person registry, for registrar agencies.

pub mod merge;
pub mod register;
pub mod show;
pub mod status;

use utoipa::OpenApi;

use crate::api::operations::Operations;
use crate::http::callers::AgencyCaller;
use crate::http::error::ApiError;
use crate::services::persons::Viewer;

/// The person registry's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::persons::NewPerson, crate::services::persons::Registered, crate::services::persons::PersonView,
        crate::services::persons::StatusChange, merge::MergeRequest
    )),
    tags((name = "persons", description = "Registering persons and issuing common IDs (registrar agencies)"))
)]
pub struct PersonsApi;

/// Registers the person routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(register::register)
        .add(show::show)
        .add(merge::merge)
        .add(status::status);
}

/// The registrar's view, after checking it holds the `registrar` scope.
pub fn registrar(caller: &AgencyCaller) -> Result<Viewer, ApiError> {
    caller.require_scope("registrar")?;
    Ok(Viewer {
        sector: caller.sector,
        policy: caller.identifier_policy,
    })
}
