//! `/v1/lookups`: brokered record lookups, and `/v1/admin/sources`: which
//! agency is the authentic source of which record type.

pub mod batch;
pub mod create;

use utoipa::OpenApi;

use crate::api::operations::Operations;

/// The lookup part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::broker::LookupRequest, crate::services::broker::LookupResponse, batch::BatchRequest,
        batch::BatchResponse, batch::BatchItem, crate::services::references::Source
    )),
    tags((name = "lookups", description = "Consented record lookups between agencies, brokered by the hub"))
)]
pub struct LookupsApi;

/// Registers the lookup routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(create::create)
        .add(batch::batch)
        .add(crate::api::references::sources::put)
        .add(crate::api::references::sources::list);
}
