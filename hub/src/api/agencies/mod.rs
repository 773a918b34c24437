//! `/v1/admin/agencies` (operators) and `/v1/agencies/me` (agencies).

pub mod certificates;
pub mod list;
pub mod me;
pub mod onboard;
pub mod roles;
pub mod show;
pub mod status;

use utoipa::OpenApi;

use crate::api::operations::Operations;

/// The agency part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::agencies::NewAgency, crate::services::agencies::AgencyView, crate::services::agencies::CertificateView,
        certificates::NewCertificate, roles::NewRoles, me::Me
    )),
    tags((name = "agencies", description = "Onboarding agencies and their certificates"))
)]
pub struct AgenciesApi;

/// Registers the agency routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(list::list)
        .add(onboard::onboard)
        .add(show::show)
        .add(status::suspend)
        .add(status::reactivate)
        .add(roles::set)
        .add(certificates::add)
        .add(certificates::revoke)
        .add(me::me);
}
