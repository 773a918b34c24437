//! `/v1/citizen`: activation, sign-in and the citizen's own data.

pub mod access_log;
pub mod activate;
pub mod me;
pub mod sign_in;
pub mod sign_out;
pub mod totp;

use utoipa::OpenApi;

use crate::api::operations::Operations;

/// The citizen part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::citizens::Activation, crate::services::citizens::SignIn, crate::services::citizens::SignedIn,
        crate::services::citizens::TotpOffer, crate::services::citizens::TotpConfirm, crate::services::citizens::TotpRemoval, me::Me,
        access_log::AccessLog
    )),
    tags((name = "citizen", description = "Citizens: activation, sign-in, their own data"))
)]
pub struct CitizenApi;

/// Registers the citizen routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(activate::activate)
        .add(sign_in::sign_in)
        .add(sign_out::sign_out)
        .add(me::me)
        .add(access_log::access_log)
        .add(totp::offer)
        .add(totp::remove)
        .add(totp::confirm);
}
