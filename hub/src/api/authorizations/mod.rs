//! `/v1/admin/authorizations` (operators), `/v1/authorizations` (agencies)
//! and `/v1/citizen/authorizations` (citizens).

pub mod citizen;
pub mod list;
pub mod mine;
pub mod publish;
pub mod show;
pub mod supersede;

use actix_web::web;
use utoipa::OpenApi;

/// The authorizations part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        publish::publish, supersede::supersede, list::list, show::show, mine::mine,
        citizen::citizen
    ),
    components(schemas(
        crate::services::authorizations::NewAuthorization, crate::services::authorizations::NewVersion,
        crate::services::authorizations::ConsumerSpec,
        crate::services::authorizations::AuthorizationView, crate::services::authorizations::LegalRef
    )),
    tags((name = "authorizations", description = "Legal bases: who may obtain which records, why, under which law"))
)]
pub struct AuthorizationsApi;

/// Registers the authorization routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/admin/authorizations")
            .route(web::get().to(list::list))
            .route(web::post().to(publish::publish)),
    )
    .service(web::resource("/v1/admin/authorizations/{id}").route(web::get().to(show::show)))
    .service(
        web::resource("/v1/admin/authorizations/{id}/versions")
            .route(web::post().to(supersede::supersede)),
    )
    .service(web::resource("/v1/authorizations").route(web::get().to(mine::mine)))
    .service(web::resource("/v1/citizen/authorizations").route(web::get().to(citizen::citizen)));
}
