//! `/v1/admin/purposes` (operators) and `/v1/purposes` (everyone).

pub mod create;
pub mod list;

use utoipa::OpenApi;

use crate::api::operations::Operations;

/// The purposes part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::authorizations::NewPurpose, crate::services::authorizations::PurposeView,
        crate::services::authorizations::LegalRef
    )),
    tags((name = "purposes", description = "The controlled list of purposes agencies state"))
)]
pub struct PurposesApi;

/// Registers the purpose routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations.add(create::create).add(list::list);
}
