//! `/log/…`: the public, hash-only face of the audit log (C2SP
//! tlog-checkpoint and tlog-tiles), for citizens, agencies and auditors.
//! Entries themselves are not public: they name persons.

pub mod checkpoint;
pub mod consistency;
pub mod tile;
pub mod verifier_key;

use utoipa::OpenApi;

use crate::api::operations::Operations;

/// The public log part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(consistency::ConsistencyProof)),
    tags((name = "log", description = "The audit log's public checkpoints, tiles and proofs (hashes only)"))
)]
pub struct LogApi;

/// Registers the public log routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(checkpoint::checkpoint)
        .add(verifier_key::verifier_key)
        .add(consistency::consistency)
        .add(tile::tile);
}
