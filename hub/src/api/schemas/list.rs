//! `GET /v1/schemas`: every record type with its versions.

use actix_web::get;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RecordTypeVersions, loaded};
use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};

/// The registry's content.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SchemaList {
    /// Every record type, by name.
    pub record_types: Vec<RecordTypeVersions>,
}

/// Every record type with its versions and their status.
#[utoipa::path(
    tag = "schemas",
    responses(
        (status = 200, description = "Every record type", body = SchemaList),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/schemas")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let schemas = loaded(&state).await?;
    let record_types = schemas
        .names()
        .iter()
        .filter_map(|name| RecordTypeVersions::new(&schemas, name))
        .collect();
    Ok(HttpResponse::Ok().json(SchemaList { record_types }))
}
