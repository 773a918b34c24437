//! `/v1/lookups`: brokered record lookups, and `/v1/admin/sources`: which
//! agency is the authentic source of which record type.

pub mod batch;
pub mod create;

use actix_web::web;
use utoipa::OpenApi;

/// The lookup part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(create::create, batch::batch, crate::api::references::sources::put, crate::api::references::sources::list),
    components(schemas(
        crate::services::broker::LookupRequest, crate::services::broker::LookupResponse, batch::BatchRequest,
        batch::BatchResponse, batch::BatchItem, crate::services::references::Source
    )),
    tags((name = "lookups", description = "Consented record lookups between agencies, brokered by the hub"))
)]
pub struct LookupsApi;

/// Registers the lookup routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/lookups").route(web::post().to(create::create)))
        .service(web::resource("/v1/lookups/batch").route(web::post().to(batch::batch)))
        .service(
            web::resource("/v1/admin/sources")
                .route(web::post().to(crate::api::references::sources::put))
                .route(web::get().to(crate::api::references::sources::list)),
        );
}
