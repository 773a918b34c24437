//! `GET /log/proof/consistency?from=&to=`.

use actix_web::get;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};

/// The two tree sizes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Sizes {
    /// The older size (0 < from <= to).
    #[param(minimum = 1)]
    pub from: u64,
    /// The newer size, at most the latest checkpoint's.
    #[param(minimum = 1)]
    pub to: u64,
}

/// An RFC 9162 consistency proof.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// The proof's hashes, base64.
    pub proof: Vec<String>,
}

/// The proof that the tree of `to` entries extends the tree of `from`.
/// Both sizes must be at most the latest signed checkpoint's.
#[utoipa::path(
    tag = "log",
    params(Sizes),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "Sizes out of order", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A size beyond the latest checkpoint", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/log/proof/consistency")]
pub async fn consistency(
    state: web::Data<AppState>,
    sizes: web::Query<Sizes>,
) -> Result<HttpResponse, ApiError> {
    let Sizes { from, to } = sizes.into_inner();
    if from == 0 || from > to {
        return Err(ApiError::BadRequest(
            "the sizes must satisfy 0 < from <= to".to_owned(),
        ));
    }
    let log = state.audit.clone();
    let proof = state
        .db(move |conn| {
            let latest = log.latest_checkpoint(conn)?;
            if to > latest.size {
                return Err(ApiError::NotFound {
                    code: "tree_size_not_signed",
                    detail: format!("the latest checkpoint has size {}", latest.size),
                });
            }
            crate::audit_log::prove_consistency(conn, from, to)
                .map_err(|e| ApiError::internal_from("consistency proof", e))
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        from,
        to,
        proof: crate::audit_log::base64_hashes(&proof),
    }))
}
