//! `/v1/citizen`: activation, sign-in and the citizen's own data.

pub mod access_log;
pub mod activate;
pub mod me;
pub mod sign_in;
pub mod sign_out;
pub mod totp;

use actix_web::web;
use utoipa::OpenApi;

/// The citizen part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(access_log::access_log, activate::activate, sign_in::sign_in, sign_out::sign_out, me::me, totp::offer, totp::confirm, totp::remove),
    components(schemas(
        crate::services::citizens::Activation, crate::services::citizens::SignIn, crate::services::citizens::SignedIn,
        crate::services::citizens::TotpOffer, crate::services::citizens::TotpConfirm, crate::services::citizens::TotpRemoval, me::Me,
        access_log::AccessLog
    )),
    tags((name = "citizen", description = "Citizens: activation, sign-in, their own data"))
)]
pub struct CitizenApi;

/// Registers the citizen routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/citizen/activate").route(web::post().to(activate::activate)))
        .service(web::resource("/v1/citizen/sign-in").route(web::post().to(sign_in::sign_in)))
        .service(web::resource("/v1/citizen/sign-out").route(web::post().to(sign_out::sign_out)))
        .service(web::resource("/v1/citizen/me").route(web::get().to(me::me)))
        .service(
            web::resource("/v1/citizen/access-log").route(web::get().to(access_log::access_log)),
        )
        .service(
            web::resource("/v1/citizen/totp")
                .route(web::post().to(totp::offer))
                .route(web::delete().to(totp::remove)),
        )
        .service(web::resource("/v1/citizen/totp/confirm").route(web::post().to(totp::confirm)));
}
