//! `/portal/by-law`: who may see my data by law — the authorizations in
//! force, with their legal references.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;

use super::i18n::Lang;
use super::layout::{self, day};
use super::record_types::Titles;
use super::{Failure, failure_page};
use crate::app::state::AppState;
use crate::http::callers::portal::PortalCitizen;
use crate::http::error::ApiError;
use crate::services::agencies;
use crate::services::authorizations::{self, AuthorizationView};

const PATH: &str = "/portal/by-law";

/// `GET /portal/by-law`.
pub async fn page(citizen: PortalCitizen, lang: Lang, state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let inner = state.clone();
    let result = state
        .db(move |conn| -> Result<_, ApiError> {
            let set = inner.authorizations.get(conn)?;
            let views = authorizations::in_force(&set, now);
            let mut names = HashMap::new();
            for v in &views {
                if let Some(agency) = &v.consumer.agency
                    && !names.contains_key(agency)
                {
                    let name = agencies::display_name(conn, agency)?;
                    names.insert(agency.clone(), name);
                }
            }
            Ok((views, names, Titles::load(conn, &inner)))
        })
        .await;
    let (views, names, titles): (Vec<AuthorizationView>, HashMap<String, String>, Titles) =
        match result {
            Ok(found) => found,
            Err(e) => return failure_page(lang, Failure::Api(e)),
        };
    let title = lang.t("law.title");
    let body = html! {
        h1 { (title) }
        p { (lang.t("law.intro")) }
        table {
            caption { (lang.t("law.caption")) }
            thead {
                tr {
                    th scope="col" { (lang.t("law.who")) }
                    th scope="col" { (lang.t("log.record_type")) }
                    th scope="col" { (lang.t("law.fields")) }
                    th scope="col" { (lang.t("log.purpose")) }
                    th scope="col" { (lang.t("law.reference")) }
                    th scope="col" { (lang.t("law.consent")) }
                    th scope="col" { (lang.t("law.since")) }
                }
            }
            tbody {
                @for v in &views {
                    tr {
                        th scope="row" {
                            @match &v.consumer.agency {
                                Some(agency) => {
                                    (names.get(agency).filter(|n| !n.is_empty()).unwrap_or(agency))
                                    br; span class="small" { (agency) }
                                }
                                None => {
                                    (lang.t("law.every"))
                                    @if let Some(sector) = &v.consumer.sector { " · " (sector) }
                                    @if let Some(role) = &v.consumer.role { " · " (role) }
                                }
                            }
                        }
                        td { (titles.show(lang, &format!("{}@{}", v.record_type, v.major))) }
                        td { (v.fields.iter().map(|f| f.trim_start_matches('/')).collect::<Vec<_>>().join(", ")) }
                        td { (v.purposes.join(", ")) }
                        td { a href=(v.legal_reference.url) rel="noreferrer" { (v.legal_reference.title) } }
                        td { @if v.consent_required { (lang.t("yes")) } @else { (lang.t("no")) } }
                        td { (day(v.valid_from)) }
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
