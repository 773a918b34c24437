//! `POST /v1/admin/sources` and `GET /v1/admin/sources`.

use actix_web::{HttpResponse, web};
use actix_web::{get, post};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::references::{self, Source};

/// Registers an agency as the authentic source of a record type (operators).
#[utoipa::path(
    tag = "lookups",
    request_body = Source,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Registered", body = Source),
        (status = 404, description = "`agency_not_found`: the provider is not an onboarded agency", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/sources")]
pub async fn put(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    body: web::Json<Source>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let source = state
        .change(move |conn| {
            let source = references::put_source(conn, &body, now)?;
            let event = crate::audit_log::actions::by_operator(&operator, "source.registered")?
                .with_record_type(format!("{}@{}", source.record_type, source.major))
                .with_provider(source.provider.clone());
            Ok((source, vec![event]))
        })
        .await?;
    Ok(HttpResponse::Created().json(source))
}

/// Every authentic source (operators).
#[utoipa::path(
    tag = "lookups",
    security(("operator" = [])),
    responses((status = 200, description = "Every source", body = Vec<Source>))
)]
#[get("/v1/admin/sources")]
pub async fn list(
    _operator: OperatorCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.db(references::sources).await?;
    Ok(HttpResponse::Ok().json(all))
}
