//! `POST /v1/admin/purposes`: add a purpose.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::OperatorCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::authorizations::{self, NewPurpose, PurposeView};

/// Adds a purpose to the controlled list (operators only).
#[utoipa::path(
    tag = "purposes",
    request_body = NewPurpose,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Added", body = PurposeView),
        (status = 409, description = "The code exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/admin/purposes")]
pub async fn create(
    operator: OperatorCaller,
    state: web::Data<AppState>,
    body: web::Json<NewPurpose>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let view = state
        .change(move |conn| {
            let view = authorizations::create_purpose(conn, &body, &operator.id, now)?;
            let event = crate::audit_log::actions::by_operator(&operator, "purpose.created")?
                .with_purpose(view.code.clone())
                .with_details(serde_json::json!({"legal_reference": view.legal_reference.url}));
            Ok((view, vec![event]))
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}
