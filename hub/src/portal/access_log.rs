//! `/portal/access-log`: who looked at my data — newest first, paginated,
//! filterable — each row's inclusion proof checked here, on the server,
//! against the log's signed checkpoint and the log's verifier key.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use audit::{Checkpoint, Entry, Hash, VerifierKey};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, when};
use super::record_types::{Titles, in_sentence};
use super::{Failure, failure_page};
use crate::app::state::AppState;
use crate::audit_log::{EntryFilter, EntryProof, Page};
use crate::http::callers::portal::PortalCitizen;
use crate::http::error::ApiError;

const PATH: &str = "/portal/access-log";
const PAGE_SIZE: u32 = 25;

/// The entry kind of a change passed on to a subscribing agency.
const NOTIFICATION_PERMITTED: &str = "notification.permitted";

/// The filters and the page, as the form sends them (empty means none).
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    record_type: String,
    #[serde(default)]
    before: Option<u64>,
}

impl LogQuery {
    fn filter(&self) -> EntryFilter {
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        EntryFilter {
            since: date(&self.from)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc()),
            until: date(&self.to)
                .and_then(|d| d.succ_opt())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc()),
            agency: some(&self.agency),
            record_type: some(&self.record_type),
            outcome: None,
        }
    }

    /// The query string of these filters (without the page).
    fn filters_query(&self) -> String {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("agency", &self.agency),
            ("record_type", &self.record_type),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", urlencoding(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The outcome of checking one row's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofCheck {
    /// The leaf hash is the entry's, the proof leads to the root of a
    /// checkpoint signed by the log's key, of this size.
    Verified {
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// Something did not check out.
    Failed(String),
}

/// Checks an entry's inclusion proof and its checkpoint's signature.
pub fn check_proof(proof: &EntryProof, key: &VerifierKey) -> ProofCheck {
    let run = || -> Result<u64, String> {
        let checkpoint =
            Checkpoint::parse_and_verify_with(&proof.checkpoint, key).map_err(|e| e.to_string())?;
        if checkpoint.size != proof.tree_size {
            return Err("the proof is for another tree size".to_owned());
        }
        let leaf = audit::leaf_hash(proof.entry_json.as_bytes());
        let stated = Hash::from_base64(&proof.leaf_hash).map_err(|e| e.to_string())?;
        if leaf != stated {
            return Err("the entry does not match its leaf hash".to_owned());
        }
        let path = proof
            .inclusion_proof
            .iter()
            .map(|h| Hash::from_base64(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        audit::verify_inclusion(
            &leaf,
            proof.seq,
            checkpoint.size,
            &path,
            &checkpoint.root_hash,
        )
        .map_err(|e| e.to_string())?;
        Ok(checkpoint.size)
    };
    match run() {
        Ok(checkpoint) => ProofCheck::Verified { checkpoint },
        Err(reason) => ProofCheck::Failed(reason),
    }
}

/// One row of the page.
struct Row {
    seq: u64,
    time: DateTime<Utc>,
    kind: String,
    by_citizen: bool,
    actor: String,
    actor_name: String,
    provider: Option<String>,
    provider_name: String,
    record_type: Option<String>,
    purpose: Option<String>,
    legal_basis: Option<(String, u32, Option<String>)>,
    consent: Option<String>,
    outcome: String,
    deny_code: Option<String>,
    check: ProofCheck,
}

/// The agency's name, looked up once a page.
fn name_of(
    conn: &mut crate::services::DbConnection,
    names: &mut HashMap<String, String>,
    agency: &str,
) -> Result<String, ApiError> {
    if let Some(name) = names.get(agency) {
        return Ok(name.clone());
    }
    let name = crate::services::agencies::display_name(conn, agency)?;
    names.insert(agency.to_owned(), name.clone());
    Ok(name)
}

fn load(
    conn: &mut crate::services::DbConnection,
    state: &AppState,
    person: &str,
    filter: &EntryFilter,
    page: Page,
) -> Result<(Vec<Row>, Titles), ApiError> {
    let proofs = state.audit.entries_for_person(conn, person, filter, page)?;
    let key = VerifierKey::parse(&state.audit.verifier_key()?)
        .map_err(|e| ApiError::internal_from("log verifier key", e))?;
    let laws = state.authorizations.get(conn)?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut purposes: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(proofs.len());
    for proof in &proofs {
        let entry: Entry = serde_json::from_str(&proof.entry_json)
            .map_err(|e| ApiError::internal_from(format!("audit entry {}", proof.seq), e))?;
        let actor = entry.actor.id.clone();
        let by_citizen = serde_json::to_value(entry.actor.actor_type).is_ok_and(|v| v == "citizen");
        let actor_name = name_of(conn, &mut names, &actor)?;
        let purpose = match &entry.purpose {
            Some(code) => {
                if !purposes.contains_key(code) {
                    let title = crate::services::authorizations::purpose_title(conn, code)?
                        .unwrap_or_else(|| code.clone());
                    purposes.insert(code.clone(), title);
                }
                purposes.get(code).cloned()
            }
            None => None,
        };
        let legal_basis = entry.legal_basis.as_ref().map(|b| {
            let reference = laws
                .iter()
                .find(|a| a.id.to_string() == b.authorization_id && a.version == b.version)
                .map(|a| a.legal_reference.title.clone());
            (b.authorization_id.clone(), b.version, reference)
        });
        let provider = entry
            .details
            .as_ref()
            .and_then(|d| d.get("provider"))
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        let provider_name = match &provider {
            Some(provider) => name_of(conn, &mut names, provider)?,
            None => String::new(),
        };
        rows.push(Row {
            seq: proof.seq,
            time: entry.time.get(),
            kind: entry.kind.as_str().to_owned(),
            by_citizen,
            actor_name,
            actor,
            provider,
            provider_name,
            record_type: entry.record_type.clone(),
            purpose,
            legal_basis,
            consent: entry.consent_id.clone(),
            outcome: serde_json::to_value(entry.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            deny_code: entry.deny_code.clone(),
            check: check_proof(proof, &key),
        });
    }
    Ok((rows, Titles::load(conn, state)))
}

/// An agency as a sentence names it: its name, else its identifier.
fn agency_in_sentence<'a>(name: &'a str, id: &'a str) -> &'a str {
    if name.is_empty() { id } else { name }
}

/// What a `notification.permitted` entry means, as a sentence: the
/// publishing agency told the receiving agency (the actor) about a change
/// to a record about the person.
fn notified_sentence(lang: Lang, titles: &Titles, r: &Row) -> String {
    let provider = r
        .provider
        .as_deref()
        .map(|id| agency_in_sentence(&r.provider_name, id))
        .unwrap_or("—");
    let record = match &r.record_type {
        Some(record_type) => in_sentence(&titles.plain(lang, record_type)),
        None => "—".to_owned(),
    };
    lang.t("log.notified")
        .replace("{provider}", provider)
        .replace("{receiver}", agency_in_sentence(&r.actor_name, &r.actor))
        .replace("{record}", &record)
}

fn outcome_word(lang: Lang, outcome: &str) -> &'static str {
    match outcome {
        "permitted" => lang.t("outcome.permitted"),
        "denied" => lang.t("outcome.denied"),
        "error" => lang.t("outcome.error"),
        _ => lang.t("outcome.recorded"),
    }
}

fn row(lang: Lang, titles: &Titles, r: &Row) -> Markup {
    let is_lookup = r.kind.starts_with("lookup.");
    let is_notification = r.kind == NOTIFICATION_PERMITTED;
    html! {
        tr class={ "outcome-" (r.outcome) } data-seq=(r.seq) data-kind=(r.kind) {
            td { time datetime=(r.time.to_rfc3339()) { (when(r.time)) } }
            th scope="row" {
                @if r.by_citizen { (lang.t("log.you")) }
                @else if r.actor_name.is_empty() { (r.actor) }
                @else { (r.actor_name) br; span class="small" { (r.actor) } }
            }
            td {
                @if is_lookup { (lang.t("kind.lookup")) }
                @else if is_notification { (lang.t("kind.notification")) }
                @else { (lang.t("kind.other")) }
                br; span class="small" { (r.kind) }
                @if is_notification {
                    p class="notified" { (notified_sentence(lang, titles, r)) }
                }
                @if let Some(provider) = &r.provider { br; span class="small" { "→ " (provider) } }
            }
            td {
                @match &r.record_type {
                    Some(record_type) => (titles.show(lang, record_type)),
                    None => "—",
                }
            }
            td { (r.purpose.as_deref().unwrap_or("—")) }
            td {
                @if let Some((id, version, reference)) = &r.legal_basis {
                    (lang.t("log.authorization")) " " (id) " v" (version)
                    @if let Some(reference) = reference { br; span class="small" { (reference) } }
                }
                @if let Some(consent) = &r.consent {
                    @if r.legal_basis.is_some() { br; }
                    (lang.t("log.consent")) " " (consent)
                }
                @if r.legal_basis.is_none() && r.consent.is_none() { "—" }
            }
            td {
                @if r.outcome == "denied" || r.outcome == "error" {
                    span class="bad" { (outcome_word(lang, &r.outcome)) }
                } @else {
                    (outcome_word(lang, &r.outcome))
                }
                @if let Some(code) = &r.deny_code { br; span class="small" { (code) } }
            }
            td {
                @match &r.check {
                    ProofCheck::Verified { checkpoint } => {
                        span class="ok proof-verified" { (lang.t("log.proof_ok")) " " (checkpoint) }
                    }
                    ProofCheck::Failed(reason) => {
                        span class="bad proof-failed" title=(reason) { (lang.t("log.proof_bad")) }
                    }
                }
            }
        }
    }
}

fn render(
    lang: Lang,
    citizen: &PortalCitizen,
    query: &LogQuery,
    (rows, titles): (&[Row], &Titles),
    more: bool,
) -> Markup {
    let title = lang.t("log.title");
    let filters = query.filters_query();
    let sep = if filters.is_empty() { "" } else { "&" };
    let body = html! {
        h1 { (title) }
        p { (lang.t("log.intro")) }
        form method="get" action=(PATH) {
            fieldset class="filters" {
                legend { (lang.t("log.filter")) }
                div {
                    label for="from" { (lang.t("log.from")) }
                    input type="date" id="from" name="from" value=(query.from);
                }
                div {
                    label for="to" { (lang.t("log.to")) }
                    input type="date" id="to" name="to" value=(query.to);
                }
                div {
                    label for="agency" { (lang.t("log.agency")) }
                    input type="text" id="agency" name="agency" value=(query.agency) placeholder="BE-0400000001";
                }
                div {
                    label for="record_type" { (lang.t("log.record_type")) }
                    input type="text" id="record_type" name="record_type" value=(query.record_type) placeholder="tax.income-statement";
                }
                div { button type="submit" { (lang.t("log.apply")) } }
            }
        }
        @if rows.is_empty() {
            p { (lang.t("log.empty")) }
        } @else {
            table id="access-log" {
                caption { (lang.t("log.caption")) }
                thead {
                    tr {
                        th scope="col" { (lang.t("log.when")) }
                        th scope="col" { (lang.t("log.agency")) }
                        th scope="col" { (lang.t("log.what")) }
                        th scope="col" { (lang.t("log.record_type")) }
                        th scope="col" { (lang.t("log.purpose")) }
                        th scope="col" { (lang.t("log.basis")) }
                        th scope="col" { (lang.t("log.outcome")) }
                        th scope="col" { (lang.t("log.proof")) }
                    }
                }
                tbody { @for r in rows { (row(lang, titles, r)) } }
            }
        }
        nav class="pager" aria-label=(lang.t("log.pages")) {
            ul {
                @if query.before.is_some() {
                    li { a href={ (PATH) "?" (filters) } { (lang.t("log.newest")) } }
                }
                @if more {
                    @if let Some(last) = rows.last() {
                        li { a href={ (PATH) "?" (filters) (sep) "before=" (last.seq) } { (lang.t("log.older")) } }
                    }
                }
            }
        }
    };
    layout::page(lang, title, Some(citizen), PATH, body)
}

/// `GET /portal/access-log`.
pub async fn page(
    citizen: PortalCitizen,
    lang: Lang,
    state: web::Data<AppState>,
    query: web::Query<LogQuery>,
) -> HttpResponse {
    let query = query.into_inner();
    let filter = query.filter();
    let page = Page {
        before: query.before,
        limit: PAGE_SIZE,
    };
    let inner = state.clone();
    let person = citizen.common_id.as_digits().to_owned();
    let result = state
        .db(move |conn| load(conn, &inner, &person, &filter, page))
        .await;
    match result {
        Ok((rows, titles)) => {
            let more = rows.len() == PAGE_SIZE as usize;
            let page = render(lang, &citizen, &query, (&rows, &titles), more);
            super::html_response(StatusCode::OK, page)
        }
        Err(e) => failure_page(lang, Failure::Api(e)),
    }
}
