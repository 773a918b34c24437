//! `/v1/admin/purposes` (operators) and `/v1/purposes` (everyone).

pub mod create;
pub mod list;

use actix_web::web;
use utoipa::OpenApi;

/// The purposes part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(create::create, list::list),
    components(schemas(
        crate::services::authorizations::NewPurpose, crate::services::authorizations::PurposeView,
        crate::services::authorizations::LegalRef
    )),
    tags((name = "purposes", description = "The controlled list of purposes agencies state"))
)]
pub struct PurposesApi;

/// Registers the purpose routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/admin/purposes").route(web::post().to(create::create)))
        .service(web::resource("/v1/purposes").route(web::get().to(list::list)));
}
