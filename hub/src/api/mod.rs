//! The HTTP API: one resource a folder, one action a file.

pub mod docs;
pub mod health;

use actix_web::web;
use utoipa::OpenApi;

use crate::error::Problem;

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Crossroads hub",
        description = "Identity and data-exchange hub: common identifiers, consented lookups between agencies, and a tamper-evident audit log.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2")
    ),
    paths(health::healthz, health::readyz, docs::openapi_json),
    components(schemas(Problem, health::Health, health::Readiness)),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this description")
    )
)]
pub struct ApiDoc;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // Explicit resources answer 405 to a method they do not serve.
    cfg.service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::readyz)))
        .service(web::resource("/openapi.json").route(web::get().to(docs::openapi_json)))
        .service(web::resource("/docs").route(web::get().to(docs::docs_page)));
}
