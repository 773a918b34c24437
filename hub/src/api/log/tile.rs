//! `GET /log/tile/{L}/{N}[.p/{W}]`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use audit::{AuditError, Tile};

use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};
use crate::store::audit::DbHashReader;

/// A hash tile (C2SP tlog-tiles): the concatenated 32-byte hashes. Tiles
/// never change once they exist, so they are cached for a year.
#[utoipa::path(
    get,
    path = "/log/tile/{path}",
    tag = "log",
    params(("path" = String, Path, pattern = r"^[0-7]/(x[0-9]{3}/){0,5}[0-9]{3}(\.p/([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$", description = "`<L>/<N>[.p/<W>]`, e.g. `0/x001/234` or `0/000.p/17`")),
    responses(
        (status = 200, description = "The tile's hashes", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "Not a tile path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The log has no such tile yet", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn tile(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tile = Tile::parse_path(&format!("tile/{}", tail.into_inner()))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let data = state
        .db(
            move |conn| match audit::tile::read_tile_data(&tile, &DbHashReader::new(conn)) {
                Ok(data) => Ok(data),
                Err(AuditError::HashMissing { .. }) => Err(ApiError::NotFound {
                    code: "tile_not_found",
                    detail: format!("the log has no tile {tile} yet"),
                }),
                Err(e) => Err(ApiError::internal(format!("tile {tile}: {e}"))),
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(data))
}
