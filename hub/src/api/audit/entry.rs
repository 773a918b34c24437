//! `GET /v1/audit/entries/{seq}`.

use actix_web::get;
use actix_web::{HttpResponse, web};

use super::AuditReader;
use crate::app::state::AppState;
use crate::audit_log::EntryProof;
use crate::http::error::{ApiError, Problem};

/// An audit entry with its inclusion proof against the latest checkpoint
/// (and that checkpoint). Operators may read every entry, with the salt of
/// its commitments; an agency the entries where it is the actor or the
/// provider, without the salt: an entry names persons by commitment only.
#[utoipa::path(
    tag = "audit",
    params(("seq" = u64, Path, description = "Sequence number")),
    security(("operator" = []), ("agency" = [])),
    responses(
        (status = 200, description = "The entry and its proof", body = EntryProof),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry, or not one the caller may read", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/v1/audit/entries/{seq}")]
pub async fn show(
    reader: AuditReader,
    state: web::Data<AppState>,
    seq: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let seq = seq.into_inner();
    let log = state.audit.clone();
    let (row, proof) = state
        .db(move |conn| log.entry_with_proof(conn, seq))
        .await?;
    let proof = match &reader {
        AuditReader::Operator(_) => Some(proof.with_salt(&row)),
        AuditReader::Agency(agency) => {
            let id = agency.agency_id.as_str();
            ((row.actor_type == "agency" && row.actor_id == id)
                || row.provider.as_deref() == Some(id))
            .then_some(proof)
        }
    };
    let Some(proof) = proof else {
        // Not saying whether the entry exists.
        return Err(ApiError::NotFound {
            code: "audit_entry_not_found",
            detail: format!("no audit entry {seq}"),
        });
    };
    Ok(HttpResponse::Ok().json(proof))
}
