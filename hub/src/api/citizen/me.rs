//! `GET /v1/citizen/me`.

use actix_web::get;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::state::AppState;
use crate::http::callers::CitizenCaller;
use crate::http::error::ApiError;
use crate::services::citizens;
use crate::services::persons::{self, PersonView, Viewer};

/// The signed-in citizen's own record.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CitizenMe)]
pub struct Me {
    /// The person.
    pub person: PersonView,
    /// The common ID in its display form.
    pub display_id: String,
    /// Whether sign-in needs a TOTP code.
    pub totp_enabled: bool,
}

/// The signed-in citizen: never anyone else.
#[utoipa::path(
    tag = "citizen",
    security(("citizen" = [])),
    responses((status = 200, description = "The citizen", body = Me))
)]
#[get("/v1/citizen/me")]
pub async fn me(
    caller: CitizenCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pseudonyms = state.pseudonyms.clone();
    let id = caller.common_id;
    let me = state
        .db(move |conn| {
            let person = persons::show(conn, Viewer::PLAIN, &pseudonyms, id.as_digits())?;
            let totp_enabled = citizens::has_totp(conn, &id)?;
            Ok(Me {
                person,
                display_id: id.to_string(),
                totp_enabled,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}
