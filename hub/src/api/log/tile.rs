//! `GET /log/tile/{L}/{N}[.p/{W}]`.

use actix_web::get;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use audit::{AuditError, Tile};

use crate::app::state::AppState;
use crate::http::error::{ApiError, Problem};

/// A hash tile (C2SP tlog-tiles): the concatenated 32-byte hashes. Tiles
/// never change once they exist, so they are cached for a year.
// The document names the tile path `{path}`, one parameter; actix-web's
// pattern lets it span segments (and is read from the request, not as a
// `web::Path`, which would document a second parameter).
#[utoipa::path(
    path = "/log/tile/{path}",
    tag = "log",
    params(("path" = String, Path, pattern = r"^[0-7]/(x[0-9]{3}/){0,5}[0-9]{3}(\.p/([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$", description = "`<L>/<N>[.p/<W>]`, e.g. `0/x001/234` or `0/000.p/17`")),
    responses(
        (status = 200, description = "The tile's hashes", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "Not a tile path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The log has no such tile yet", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/log/tile/{tail:.*}")]
pub async fn tile(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let tail = request.match_info().query("tail");
    let tile = Tile::parse_path(&format!("tile/{tail}"))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let data = state
        .db(move |conn| match crate::audit_log::read_tile(conn, &tile) {
            Ok(data) => Ok(data),
            Err(AuditError::HashMissing { .. }) => Err(ApiError::NotFound {
                code: "tile_not_found",
                detail: format!("the log has no tile {tile} yet"),
            }),
            Err(e) => Err(ApiError::internal_from(format!("tile {tile}"), e)),
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(data))
}
