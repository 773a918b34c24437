//! `/v1/admin/agencies` (operators) and `/v1/agencies/me` (agencies).

pub mod certificates;
pub mod list;
pub mod me;
pub mod onboard;
pub mod roles;
pub mod show;
pub mod status;

use actix_web::web;
use utoipa::OpenApi;

/// The agency part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        onboard::onboard, list::list, show::show, status::suspend, status::reactivate,
        certificates::add, certificates::revoke, roles::set, me::me
    ),
    components(schemas(
        crate::services::agencies::NewAgency, crate::services::agencies::AgencyView, crate::services::agencies::CertificateView,
        certificates::NewCertificate, roles::NewRoles, me::Me
    )),
    tags((name = "agencies", description = "Onboarding agencies and their certificates"))
)]
pub struct AgenciesApi;

/// Registers the agency routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/admin/agencies")
            .route(web::get().to(list::list))
            .route(web::post().to(onboard::onboard)),
    )
    .service(web::resource("/v1/admin/agencies/{id}").route(web::get().to(show::show)))
    .service(
        web::resource("/v1/admin/agencies/{id}/suspend").route(web::post().to(status::suspend)),
    )
    .service(
        web::resource("/v1/admin/agencies/{id}/reactivate")
            .route(web::post().to(status::reactivate)),
    )
    .service(web::resource("/v1/admin/agencies/{id}/roles").route(web::put().to(roles::set)))
    .service(
        web::resource("/v1/admin/agencies/{id}/certificates")
            .route(web::post().to(certificates::add)),
    )
    .service(
        web::resource("/v1/admin/agencies/{id}/certificates/{thumbprint}/revoke")
            .route(web::post().to(certificates::revoke)),
    )
    .service(web::resource("/v1/agencies/me").route(web::get().to(me::me)));
}
