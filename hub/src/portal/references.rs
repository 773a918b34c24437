//! `/portal/holders`: who holds data about me — the reference directory's
//! entries for this person.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;

use super::i18n::Lang;
use super::record_types::Titles;
use super::{Failure, failure_page, layout};
use crate::app::state::AppState;
use crate::http::callers::portal::PortalCitizen;
use crate::services::references;

const PATH: &str = "/portal/holders";

/// `GET /portal/holders`.
pub async fn page(citizen: PortalCitizen, lang: Lang, state: web::Data<AppState>) -> HttpResponse {
    let person = citizen.common_id.as_digits().to_owned();
    let inner = state.clone();
    let result = state
        .db(move |conn| {
            let rows = references::held_about(conn, &person)?;
            Ok::<_, crate::http::error::ApiError>((rows, Titles::load(conn, &inner)))
        })
        .await;
    let (rows, titles) = match result {
        Ok(rows) => rows,
        Err(e) => return failure_page(lang, Failure::Api(e)),
    };
    let title = lang.t("holders.title");
    let body = html! {
        h1 { (title) }
        p { (lang.t("holders.intro")) }
        @if rows.is_empty() {
            p { (lang.t("holders.none")) }
        } @else {
            table {
                caption { (lang.t("holders.caption")) }
                thead {
                    tr {
                        th scope="col" { (lang.t("log.agency")) }
                        th scope="col" { (lang.t("holders.kind")) }
                        th scope="col" { (lang.t("holders.capacity")) }
                        th scope="col" { (lang.t("holders.since")) }
                        th scope="col" { (lang.t("holders.until")) }
                    }
                }
                tbody {
                    @for (row, name) in &rows {
                        tr {
                            th scope="row" {
                                @if name.is_empty() { (row.agency_id) }
                                @else { (name) br; span class="small" { (row.agency_id) } }
                            }
                            td {
                                @match (row.kind.as_str(), &row.record_type, row.major) {
                                    ("source", Some(name), Some(major)) => {
                                        (lang.t("holders.kind.source")) br;
                                        (titles.show(lang, &format!("{name}@{major}")))
                                    }
                                    _ => (lang.t("holders.kind.file")),
                                }
                            }
                            td { (row.capacity) }
                            td { (row.valid_from.to_string()) }
                            td {
                                @match row.valid_until {
                                    Some(until) => (until.to_string()),
                                    None => (lang.t("holders.ongoing")),
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    super::html_response(
        StatusCode::OK,
        layout::page(lang, title, Some(&citizen), PATH, body),
    )
}
