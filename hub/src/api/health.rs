//! `/healthz` (the process is alive) and `/readyz` (it can serve).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::store::migrations;

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
    /// `sqlite` or `postgres`.
    pub database: String,
    /// The newest applied migration.
    pub schema_version: Option<String>,
}

/// Liveness: answers as long as the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Readiness: the database answers and every migration has been applied.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let readiness = state
        .db(|conn| {
            let pending = migrations::pending(conn)
                .map_err(|e| ApiError::NotReady(format!("database not reachable: {e}")))?;
            if !pending.is_empty() {
                return Err(ApiError::NotReady(format!(
                    "{} migration(s) pending: run `crossroads migrate`",
                    pending.len()
                )));
            }
            let applied = migrations::applied(conn)
                .map_err(|e| ApiError::NotReady(format!("database not reachable: {e}")))?;
            Ok(Readiness {
                status: "ready".to_owned(),
                database: conn.backend().to_owned(),
                schema_version: applied.last().cloned(),
            })
        })
        .await
        .map_err(|e| match e {
            ApiError::Store(e) => ApiError::NotReady(format!("database not reachable: {e}")),
            other => other,
        })?;
    Ok(HttpResponse::Ok().json(readiness))
}
