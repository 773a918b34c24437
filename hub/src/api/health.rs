//! `/healthz` (the process is alive) and `/readyz` (it can serve).

use actix_web::get;
use actix_web::{FromRequest as _, HttpRequest, HttpResponse, web};
use prometheus::Encoder as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};
use crate::services::maintenance;

/// The process is alive.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    /// The hub's version.
    pub version: String,
}

/// The process can serve requests.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    /// `sqlite` or `postgres` (shown to operators only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The newest applied migration (shown to operators only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
}

/// Liveness: answers as long as the process runs.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Alive", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Readiness: the database answers and every migration has been applied.
/// The backend and schema version are shown to operators only.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/readyz")]
pub async fn readyz(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let operator = crate::http::callers::OperatorCaller::extract(&req)
        .await
        .is_ok();
    let mut readiness = state
        .db(|conn| {
            let ready = maintenance::readiness(conn)?;
            Ok(Readiness {
                status: "ready".to_owned(),
                database: Some(ready.backend.to_owned()),
                schema_version: ready.schema_version,
            })
        })
        .await
        .map_err(|e| match e {
            ApiError::Store(e) => ApiError::NotReady(format!("database not reachable: {e}")),
            other => other,
        })?;
    if !operator {
        readiness.database = None;
        readiness.schema_version = None;
    }
    Ok(HttpResponse::Ok().json(readiness))
}

/// The metrics in the Prometheus text format.
pub fn metrics_text(state: &AppState) -> Result<HttpResponse, ApiError> {
    let mut buffer = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&state.metrics.registry.gather(), &mut buffer)
        .map_err(|e| ApiError::internal_from("metrics", e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(buffer))
}

/// Prometheus metrics, for operators: with an operator token here, or
/// without one on the separate `metrics_listen` address when that is set
/// (then this path answers 404).
#[utoipa::path(
    tag = "operations",
    security(("operator" = [])),
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "No operator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Metrics are served on a separate address", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.config.metrics_listen.is_some() {
        return Ok(
            crate::http::error::Problem::for_status(actix_web::http::StatusCode::NOT_FOUND)
                .response(),
        );
    }
    crate::http::callers::OperatorCaller::extract(&req).await?;
    metrics_text(&state)
}

/// The application of the separate metrics address: `/metrics` only,
/// without a token.
pub fn metrics_app(
    state: web::Data<AppState>,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new().app_data(state).route(
        "/metrics",
        web::get().to(|state: web::Data<AppState>| async move { metrics_text(&state) }),
    )
}
