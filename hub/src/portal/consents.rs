//! `/portal/consents`: pending requests to approve or reject, active and
//! paused consents to pause, resume or revoke (and their signed artefact),
//! and past ones.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use consent::FetchFrequency;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, day};
use super::record_types::Titles;
use super::{Failure, check_csrf, csrf_field, failure_page};
use crate::api::consents::audit_all;
use crate::app::state::AppState;
use crate::http::callers::portal::PortalCitizen;
use crate::services::DbConnection;
use crate::services::consents::{self, Action, ConsentView};
use crate::services::notifications;

const PATH: &str = "/portal/consents";

/// A consent form as posted.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf: String,
}

fn frequency(lang: Lang, f: &FetchFrequency) -> String {
    match f {
        FetchFrequency::Once => lang.t("consents.once").to_owned(),
        FetchFrequency::MaxPer { count, period } => {
            let period = match serde_json::to_value(period) {
                Ok(serde_json::Value::String(p)) => p,
                _ => String::new(),
            };
            let key = match period.as_str() {
                "day" => "period.day",
                "week" => "period.week",
                "month" => "period.month",
                _ => "period.year",
            };
            format!("{count} {} {}", lang.t("consents.times_per"), lang.t(key))
        }
    }
}

fn state_word(lang: Lang, state: &str) -> &'static str {
    match state {
        "pending" => lang.t("state.pending"),
        "active" => lang.t("state.active"),
        "paused" => lang.t("state.paused"),
        "rejected" => lang.t("state.rejected"),
        "revoked" => lang.t("state.revoked"),
        _ => lang.t("state.expired"),
    }
}

fn button(
    (lang, titles): (Lang, &Titles),
    csrf: &str,
    c: &ConsentView,
    action: &str,
    class: &str,
) -> Markup {
    let label = lang.t(&format!("action.{action}"));
    let what: Vec<String> = c
        .record_types
        .iter()
        .map(|r| titles.plain(lang, r))
        .collect();
    html! {
        form method="post" action={ (PATH) "/" (c.id) "/" (action) } class="inline" {
            (csrf_field(csrf))
            button type="submit" class=(class) aria-label={ (label) " — " (c.agency_name) ", " (what.join(", ")) } { (label) }
        }
    }
}

/// The pending single-use consents whose agency subscribes to a record type
/// they cover: the first notification of a change would use them up.
fn told_once(
    conn: &mut DbConnection,
    views: &[ConsentView],
) -> Result<HashSet<String>, crate::http::error::ApiError> {
    let mut told = HashSet::new();
    for c in views {
        if c.state != "pending" || !matches!(c.frequency, FetchFrequency::Once) {
            continue;
        }
        for record_type in &c.record_types {
            let Ok(reference) = schemas::RecordTypeRef::parse(record_type) else {
                continue;
            };
            let (name, major) = (reference.name.as_str(), reference.version.major());
            if notifications::subscribes(conn, &c.agency, name, major)? {
                told.insert(c.id.clone());
                break;
            }
        }
    }
    Ok(told)
}

fn pending(
    (lang, titles): (Lang, &Titles),
    csrf: &str,
    c: &ConsentView,
    told_once: bool,
) -> Markup {
    html! {
        article class="card" aria-labelledby={ "req-" (c.id) } {
            h3 id={ "req-" (c.id) } { (c.agency_name) }
            dl class="terms" {
                dt { (lang.t("consents.who")) } dd { (c.agency_name) " (" (c.agency) ")" }
                dt { (lang.t("consents.what")) } dd { (titles.show_all(lang, &c.record_types)) }
                dt { (lang.t("consents.why")) } dd { (c.purpose_title) " (" (c.purpose) ")" }
                dt { (lang.t("consents.how_long")) } dd { (day(c.valid_from)) " – " (day(c.valid_until)) }
                dt { (lang.t("consents.how_often")) } dd { (frequency(lang, &c.frequency)) }
            }
            @if told_once {
                p class="notice told-once" { (lang.t("consents.told_once")) }
            }
            div class="actions" {
                (button((lang, titles), csrf, c, "approve", ""))
                (button((lang, titles), csrf, c, "reject", "secondary"))
            }
        }
    }
}

fn table(
    (lang, titles): (Lang, &Titles),
    csrf: &str,
    caption: &str,
    rows: &[&ConsentView],
    actions: bool,
) -> Markup {
    html! {
        table {
            caption { (caption) }
            thead {
                tr {
                    th scope="col" { (lang.t("consents.who")) }
                    th scope="col" { (lang.t("consents.what")) }
                    th scope="col" { (lang.t("consents.why")) }
                    th scope="col" { (lang.t("consents.how_long")) }
                    th scope="col" { (lang.t("consents.how_often")) }
                    th scope="col" { (lang.t("consents.state")) }
                    @if actions { th scope="col" { (lang.t("consents.actions")) } }
                }
            }
            tbody {
                @for c in rows {
                    tr {
                        th scope="row" { (c.agency_name) }
                        td { (titles.show_all(lang, &c.record_types)) }
                        td { (c.purpose_title) }
                        td { (day(c.valid_from)) " – " (day(c.valid_until)) }
                        td { (frequency(lang, &c.frequency)) }
                        td { (state_word(lang, &c.state)) }
                        @if actions {
                            td {
                                div class="actions" {
                                    @if c.state == "active" {
                                        (button((lang, titles), csrf, c, "pause", "secondary"))
                                        a href={ (PATH) "/" (c.id) "/artefact" } download { (lang.t("action.artefact")) }
                                    } @else {
                                        (button((lang, titles), csrf, c, "resume", ""))
                                    }
                                    (button((lang, titles), csrf, c, "revoke", "danger"))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn render(
    (lang, titles): (Lang, &Titles),
    citizen: &PortalCitizen,
    views: &[ConsentView],
    told: &HashSet<String>,
) -> Markup {
    let csrf = citizen.csrf_token.as_str();
    let waiting: Vec<&ConsentView> = views.iter().filter(|c| c.state == "pending").collect();
    let current: Vec<&ConsentView> = views
        .iter()
        .filter(|c| c.state == "active" || c.state == "paused")
        .collect();
    let past: Vec<&ConsentView> = views
        .iter()
        .filter(|c| !matches!(c.state.as_str(), "pending" | "active" | "paused"))
        .collect();
    let title = lang.t("consents.title");
    let body = html! {
        h1 { (title) }
        section aria-labelledby="pending" {
            h2 id="pending" { (lang.t("consents.pending")) }
            @if waiting.is_empty() { p { (lang.t("consents.none")) } }
            @for c in &waiting { (pending((lang, titles), csrf, c, told.contains(&c.id))) }
        }
        section aria-labelledby="current" {
            h2 id="current" { (lang.t("consents.current")) }
            @if current.is_empty() { p { (lang.t("consents.none")) } }
            @else { (table((lang, titles), csrf, lang.t("consents.current_caption"), &current, true)) }
        }
        section aria-labelledby="past" {
            h2 id="past" { (lang.t("consents.past")) }
            @if past.is_empty() { p { (lang.t("consents.none")) } }
            @else { (table((lang, titles), csrf, lang.t("consents.past_caption"), &past, false)) }
        }
    };
    layout::page(lang, title, Some(citizen), PATH, body)
}

/// `GET /portal/consents`.
pub async fn page(citizen: PortalCitizen, lang: Lang, state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let inner = state.clone();
    let person = citizen.common_id;
    let result = state
        .db(move |conn| {
            let found = consents::list_for_person(conn, &inner, person, now)?;
            let told = told_once(conn, &found.0)?;
            Ok::<_, crate::http::error::ApiError>((found, told, Titles::load(conn, &inner)))
        })
        .await;
    let (views, told, titles) = match result {
        Ok(((views, entries), told, titles)) => match audit_all(&state, entries).await {
            Ok(()) => (views, told, titles),
            Err(e) => return failure_page(lang, Failure::Api(e)),
        },
        Err(e) => return failure_page(lang, Failure::Api(e)),
    };
    super::html_response(
        StatusCode::OK,
        render((lang, &titles), &citizen, &views, &told),
    )
}

/// `POST /portal/consents/{id}/{approve|reject|pause|resume|revoke}`.
pub async fn act(
    citizen: PortalCitizen,
    lang: Lang,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    match act_inner(citizen, &state, id, &action, &form.csrf).await {
        Ok(()) => super::see_other(PATH),
        Err(failure) => failure_page(lang, failure),
    }
}

async fn act_inner(
    citizen: PortalCitizen,
    state: &web::Data<AppState>,
    id: String,
    action: &str,
    csrf: &str,
) -> Result<(), Failure> {
    check_csrf(&citizen, csrf)?;
    let action = match action {
        "approve" => Action::Approve,
        "reject" => Action::Reject,
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "revoke" => Action::Revoke,
        _ => {
            return Err(Failure::Api(crate::http::error::ApiError::NotFound {
                code: "not_found",
                detail: "no such action".to_owned(),
            }));
        }
    };
    let now = state.clock.now();
    let inner = state.clone();
    let (_, entries) = state
        .db(move |conn| consents::change(conn, &inner, citizen.common_id, &id, action, now))
        .await?;
    audit_all(state, entries).await?;
    Ok(())
}

/// `GET /portal/consents/{id}/artefact`: the signed artefact, as a download.
pub async fn artefact(
    citizen: PortalCitizen,
    lang: Lang,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let id = id.into_inner();
    let now = state.clock.now();
    let inner = state.clone();
    let person = citizen.common_id;
    let wanted = id.clone();
    let result = state
        .db(move |conn| consents::artefact_for_person(conn, &inner, person, &wanted, now))
        .await;
    let token = match result {
        Ok((token, entries)) => match audit_all(&state, entries).await {
            Ok(()) => token,
            Err(e) => return failure_page(lang, Failure::Api(e)),
        },
        Err(e) => return failure_page(lang, Failure::Api(e)),
    };
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    HttpResponse::Ok()
        .content_type(crate::api::consents::JOSE)
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"consent-{safe}.jws\""),
        ))
        .body(token)
}
