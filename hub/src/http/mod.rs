//! Middleware and the construction of the actix-web application.

pub mod callers;
pub mod error;
pub mod middleware;
pub mod rate_limit;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpResponse, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};

/// The application: every route, every middleware, the shared state.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.config.max_body_bytes;
    let metrics = state.metrics.clone();
    // No answer is sniffed into another type; over TLS, browsers are told
    // to use nothing else for a year.
    let mut headers = DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff"));
    if state.config.tls_cert_file.is_some() {
        headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
    }
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(|err, _req| {
                    let api = match &err {
                        actix_web::error::JsonPayloadError::Overflow { limit }
                        | actix_web::error::JsonPayloadError::OverflowKnownLength {
                            limit, ..
                        } => ApiError::PayloadTooLarge { limit: *limit },
                        actix_web::error::JsonPayloadError::ContentType => {
                            ApiError::UnsupportedMediaType(
                                "the body must be JSON (`Content-Type: application/json`)"
                                    .to_owned(),
                            )
                        }
                        other => ApiError::BadRequest(format!("invalid JSON body: {other}")),
                    };
                    api.into()
                }),
        )
        .app_data(web::QueryConfig::default().error_handler(|err, _req| {
            ApiError::BadRequest(format!("invalid query: {err}")).into()
        }))
        .app_data(
            web::PathConfig::default().error_handler(|err, _req| {
                ApiError::BadRequest(format!("invalid path: {err}")).into()
            }),
        )
        .configure(|cfg| crate::api::routes(&mut ServiceConfig::new(cfg)))
        .default_service(web::to(not_found))
        // Innermost first: bare error statuses become problem documents, the
        // body limit is enforced before any handler reads, metrics see every
        // response, and the request id wraps everything.
        .wrap(ErrorHandlers::new().default_handler(middleware::bare_error_to_problem))
        .wrap(from_fn(middleware::body_limit))
        .wrap(from_fn(rate_limit::by_address))
        .wrap(headers)
        .wrap(metrics)
        .wrap(from_fn(middleware::request_id))
}

async fn not_found() -> HttpResponse {
    Problem::for_status(actix_web::http::StatusCode::NOT_FOUND).response()
}
