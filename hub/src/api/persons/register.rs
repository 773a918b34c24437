//! `POST /v1/persons`: register a person and issue a common ID.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::app::state::AppState;
use crate::http::callers::AgencyCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::persons::{self, NewPerson, Registered};

/// Registers a person. A registration whose normalised attributes match a
/// registered person is refused with 409 `possible_duplicate` naming the
/// candidate, unless `distinct_from` lists it.
#[utoipa::path(
    tag = "persons",
    request_body = NewPerson,
    security(("agency" = [])),
    responses(
        (status = 201, description = "Registered; the activation code is to be sent by letter", body = Registered),
        (status = 409, description = "possible_duplicate (with `candidate`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid attributes", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/v1/persons")]
pub async fn register(
    caller: AgencyCaller,
    state: web::Data<AppState>,
    body: web::Json<NewPerson>,
) -> Result<HttpResponse, ApiError> {
    let viewer = super::registrar(&caller)?;
    let now = state.clock.now();
    let pseudonyms = state.pseudonyms.clone();
    let registrar = caller.agency_id.to_string();
    let registered = state
        .change(move |conn| {
            let (id, registered) =
                persons::register(conn, viewer, &pseudonyms, &registrar, &body, now)?;
            let event = crate::audit_log::actions::by_agency(&caller, "person.registered")?
                .with_person(id.as_digits());
            Ok((registered, vec![event]))
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/persons/{}", registered.id)))
        .insert_header(("Cache-Control", "no-store"))
        .json(registered))
}
