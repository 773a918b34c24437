//! `/v1/consents` (consumer agencies) and `/v1/citizen/consents` (citizens).

pub mod artefact;
pub mod change;
pub mod events;
pub mod grant;
pub mod list;
pub mod mine;
pub mod request;
pub mod show;

use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use crate::app::state::AppState;
use crate::http::error::ApiError;

/// The media type of a compact JWS.
pub const JOSE: &str = "application/jose";

/// The consents part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        request::request, list::list, show::show, artefact::agency, events::events,
        mine::mine, grant::grant, change::approve, change::reject, change::pause,
        change::resume, change::revoke, artefact::citizen
    ),
    components(schemas(
        crate::services::consents::NewRequest, crate::services::consents::NewGrant, crate::services::consents::ConsentView,
        crate::services::consents::ConsentEvent, crate::services::consents::EventPage
    )),
    tags((name = "consents", description = "Consent requests, consents and their artefacts"))
)]
pub struct ConsentsApi;

/// Registers the consent routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/consents").route(web::get().to(list::list)))
        .service(web::resource("/v1/consents/requests").route(web::post().to(request::request)))
        .service(web::resource("/v1/consents/events").route(web::get().to(events::events)))
        .service(web::resource("/v1/consents/{id}").route(web::get().to(show::show)))
        .service(web::resource("/v1/consents/{id}/artefact").route(web::get().to(artefact::agency)))
        .service(
            web::resource("/v1/citizen/consents")
                .route(web::get().to(mine::mine))
                .route(web::post().to(grant::grant)),
        )
        .service(
            web::resource("/v1/citizen/consents/{id}/artefact")
                .route(web::get().to(artefact::citizen)),
        )
        .service(
            web::resource("/v1/citizen/consents/{id}/approve")
                .route(web::post().to(change::approve)),
        )
        .service(
            web::resource("/v1/citizen/consents/{id}/reject").route(web::post().to(change::reject)),
        )
        .service(
            web::resource("/v1/citizen/consents/{id}/pause").route(web::post().to(change::pause)),
        )
        .service(
            web::resource("/v1/citizen/consents/{id}/resume").route(web::post().to(change::resume)),
        )
        .service(
            web::resource("/v1/citizen/consents/{id}/revoke").route(web::post().to(change::revoke)),
        );
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
