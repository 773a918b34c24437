//! `/v1/consents` (consumer agencies) and `/v1/citizen/consents` (citizens).

pub mod artefact;
pub mod change;
pub mod events;
pub mod grant;
pub mod list;
pub mod mine;
pub mod request;
pub mod show;

use actix_web::HttpResponse;
use utoipa::OpenApi;

use crate::api::operations::Operations;
use crate::app::state::AppState;
use crate::http::error::ApiError;

/// The media type of a compact JWS.
pub const JOSE: &str = "application/jose";

/// The consents part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::services::consents::NewRequest, crate::services::consents::NewGrant, crate::services::consents::ConsentView,
        crate::services::consents::ConsentEvent, crate::services::consents::EventPage
    )),
    tags((name = "consents", description = "Consent requests, consents and their artefacts"))
)]
pub struct ConsentsApi;

/// Registers the consent routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(list::list)
        .add(request::request)
        .add(events::events)
        .add(show::show)
        .add(artefact::agency)
        .add(mine::mine)
        .add(grant::grant)
        .add(artefact::citizen)
        .add(change::approve)
        .add(change::reject)
        .add(change::pause)
        .add(change::resume)
        .add(change::revoke);
}

/// Waits (up to the audit deadline) until the audit entries a committed
/// change staged are in the log.
pub async fn audit_all(state: &AppState, staged: Vec<i64>) -> Result<(), ApiError> {
    if !staged.is_empty() {
        state.audit.settle(&staged).await;
    }
    Ok(())
}

/// A compact JWS response.
pub fn jose(token: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CONTENT_TYPE, JOSE))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(token)
}
