//! `GET /v1/consents`: the consents an agency holds.

use actix_web::get;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::ApiError;
use crate::services::consents::{self, ConsentView};

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Only this person (common ID or the agency's sector pseudonym).
    pub person: Option<String>,
    /// Only this state.
    pub state: Option<String>,
}

/// The consents and requests the calling agency holds, newest first, with
/// persons named as the agency names them (scope `consumer`).
#[utoipa::path(
    tag = "consents",
    params(Filter),
    security(("agency" = [])),
    responses(
        (status = 200, description = "The consents", body = [ConsentView]),
        (status = 404, description = "No such person (`unknown_person`)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a person reference, or not a state", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/consents")]
pub async fn list(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    filter: web::Query<Filter>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope("consumer")?;
    let now = state.clock.now();
    let inner = state.clone();
    let who = caller.clone();
    let Filter {
        person,
        state: wanted,
    } = filter.into_inner();
    let (views, entries) = state
        .db(move |conn| {
            consents::list_for_agency(
                conn,
                &inner,
                &who,
                person.as_deref(),
                wanted.as_deref(),
                now,
            )
        })
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(HttpResponse::Ok().json(views))
}
