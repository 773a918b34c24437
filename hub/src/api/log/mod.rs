//! `/log/…`: the public, hash-only face of the audit log (C2SP
//! tlog-checkpoint and tlog-tiles), for citizens, agencies and auditors.
//! Entries themselves are not public: they name persons.

pub mod checkpoint;
pub mod consistency;
pub mod tile;
pub mod verifier_key;

use actix_web::web;
use utoipa::OpenApi;

/// The public log part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        checkpoint::checkpoint, tile::tile, consistency::consistency,
        verifier_key::verifier_key
    ),
    components(schemas(consistency::ConsistencyProof)),
    tags((name = "log", description = "The audit log's public checkpoints, tiles and proofs (hashes only)"))
)]
pub struct LogApi;

/// Registers the public log routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/log/checkpoint").route(web::get().to(checkpoint::checkpoint)))
        .service(
            web::resource("/log/verifier-key").route(web::get().to(verifier_key::verifier_key)),
        )
        .service(
            web::resource("/log/proof/consistency").route(web::get().to(consistency::consistency)),
        )
        .service(web::resource("/log/tile/{tail:.*}").route(web::get().to(tile::tile)));
}
