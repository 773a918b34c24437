//! The HTTP API: one resource a folder, one action a file.

pub mod agencies;
pub mod audit;
pub mod authorizations;
pub mod changes;
pub mod citizen;
pub mod consents;
pub mod docs;
pub mod health;
pub mod ids;
pub mod log;
pub mod lookups;
pub mod notifications;
pub mod oauth;
pub mod operations;
pub mod persons;
pub mod purposes;
pub mod references;
pub mod responses;
pub mod schemas;
pub mod subscriptions;

use actix_web::{App, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::operations::Operations;
use crate::http::error::Problem;

/// The core of the OpenAPI document; the operations come from [`routes`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Crossroads hub",
        description = "Identity and data-exchange hub: common identifiers, consented lookups between agencies, and a tamper-evident audit log.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2")
    ),
    components(schemas(Problem, health::Health, health::Readiness)),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this description")
    ),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// The whole OpenAPI document: the operations as [`routes`] registers them
/// (into an application that is never served), then each area's schemas and
/// tag.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    doc.merge(agencies::AgenciesApi::openapi());
    doc.merge(audit::AuditApi::openapi());
    doc.merge(log::LogApi::openapi());
    doc.merge(oauth::OAuthApi::openapi());
    doc.merge(persons::PersonsApi::openapi());
    doc.merge(citizen::CitizenApi::openapi());
    doc.merge(lookups::LookupsApi::openapi());
    doc.merge(references::ReferencesApi::openapi());
    doc.merge(schemas::SchemasApi::openapi());
    doc.merge(purposes::PurposesApi::openapi());
    doc.merge(authorizations::AuthorizationsApi::openapi());
    doc.merge(consents::ConsentsApi::openapi());
    doc.merge(changes::ChangesApi::openapi());
    doc.merge(subscriptions::SubscriptionsApi::openapi());
    doc.merge(notifications::NotificationsApi::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(ids::schemas());
    // serde's `deny_unknown_fields` on an internally tagged enum closes each
    // variant, which the derived schema does not state.
    if let Some(status_change) = components.schemas.get_mut("StatusChange") {
        ids::close_variants(status_change);
    }
    responses::attach(&mut doc);
    doc
}

/// The bearer credentials the API knows.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut operator = Http::new(HttpAuthScheme::Bearer);
        operator.description =
            Some("An operator token from `crossroads operator token`.".to_owned());
        components.add_security_scheme("operator", SecurityScheme::Http(operator));
        let mut agency = Http::new(HttpAuthScheme::Bearer);
        agency.bearer_format = Some("JWT".to_owned());
        agency.description = Some("An access token from `POST /oauth/token`.".to_owned());
        components.add_security_scheme("agency", SecurityScheme::Http(agency));
        let mut citizen = Http::new(HttpAuthScheme::Bearer);
        citizen.bearer_format = Some("JWT".to_owned());
        citizen.description = Some("A citizen token from `POST /v1/citizen/sign-in`.".to_owned());
        components.add_security_scheme("citizen", SecurityScheme::Http(citizen));
    }
}

/// Registers every route: the operations of each area, then the pages.
pub fn routes(cfg: &mut ServiceConfig<'_>) {
    Operations::register(cfg, |operations| {
        operations
            .add(health::healthz)
            .add(health::readyz)
            .add(health::metrics)
            .add(docs::openapi_json);
        agencies::routes(operations);
        audit::routes(operations);
        log::routes(operations);
        oauth::routes(operations);
        persons::routes(operations);
        citizen::routes(operations);
        lookups::routes(operations);
        references::routes(operations);
        schemas::routes(operations);
        purposes::routes(operations);
        authorizations::routes(operations);
        consents::routes(operations);
        changes::routes(operations);
        subscriptions::routes(operations);
        notifications::routes(operations);
    });
    cfg.map(|cfg| {
        cfg.service(web::resource("/docs").route(web::get().to(docs::docs_page)))
            .configure(crate::portal::routes)
    });
}
