//! `POST /v1/citizen/consents/{id}/{approve|reject|pause|resume|revoke}`.

use actix_web::{HttpResponse, post, web};

use crate::app::state::AppState;
use crate::http::callers::CitizenCaller;
use crate::http::error::{ApiError, Problem};
use crate::services::consents::{self, Action, ConsentView};

async fn apply(
    caller: CitizenCaller,
    state: web::Data<AppState>,
    id: String,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inner = state.clone();
    let (view, entries) = state
        .db(move |conn| consents::change(conn, &inner, caller.common_id, &id, action, now))
        .await?;
    super::audit_all(&state, entries).await?;
    Ok(HttpResponse::Ok().json(view))
}

macro_rules! action {
    ($name:ident, $action:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            tag = "citizen",
            params(("id" = crate::api::ids::ConsentId, Path, description = "Consent id")),
            security(("citizen" = [])),
            responses(
                (status = 200, description = "The consent after the change", body = ConsentView),
                (status = 404, description = "No such consent of this person", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "The state does not allow it (`illegal_transition`, `consent_window_ended`)", body = Problem, content_type = "application/problem+json")
            )
        )]
        #[post($path)]
        pub async fn $name(
            caller: CitizenCaller,
            state: web::Data<AppState>,
            id: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            apply(caller, state, id.into_inner(), $action).await
        }
    };
}

action!(
    approve,
    Action::Approve,
    "/v1/citizen/consents/{id}/approve",
    "Approves a pending consent request: it becomes active."
);
action!(
    reject,
    Action::Reject,
    "/v1/citizen/consents/{id}/reject",
    "Rejects a pending consent request."
);
action!(
    pause,
    Action::Pause,
    "/v1/citizen/consents/{id}/pause",
    "Pauses an active consent; no lookup may rest on it until it is resumed."
);
action!(
    resume,
    Action::Resume,
    "/v1/citizen/consents/{id}/resume",
    "Resumes a paused consent."
);
action!(
    revoke,
    Action::Revoke,
    "/v1/citizen/consents/{id}/revoke",
    "Revokes an active or paused consent, for every lookup that starts after it."
);
