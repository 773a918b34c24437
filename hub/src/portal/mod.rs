//! The citizen portal: server-rendered pages (maud) at `/portal/…` where a
//! person signs in, sees who looked at their data, and manages their
//! consents. One file per page; every page reuses the hub's own service
//! functions, so the portal and the citizen API cannot disagree.
//!
//! Safety: every form carries a CSRF token (the session's, or before
//! sign-in a double-submit cookie), every response a strict
//! Content-Security-Policy, and cookies are Secure, HttpOnly and
//! SameSite=Strict.

pub mod access_log;
pub mod activate;
pub mod by_law;
pub mod consents;
pub mod i18n;
pub mod layout;
pub mod record_types;
pub mod references;
pub mod sign_in;

use std::sync::LazyLock;

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

use crate::http::callers::portal::{PortalCitizen, same};
use crate::http::error::ApiError;
use i18n::Lang;

/// The Content-Security-Policy of every portal response.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The cookie that carries the CSRF token of the forms shown before sign-in.
pub const PRE_SESSION_COOKIE: &str = "crossroads_csrf";

const STYLE: &str = include_str!("style.css");

/// The stylesheet's path, named by its content hash so it can be cached for good.
pub static STYLE_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = crate::http::callers::sha256_hex(STYLE.as_bytes());
    format!("/portal/assets/style-{}.css", &digest[..16])
});

/// Registers the portal's routes, and `/` sending visitors to it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(home)))
        .service(
            web::scope("/portal")
                .wrap(from_fn(security_headers))
                .service(web::resource("").route(web::get().to(home)))
                .service(web::resource("/").route(web::get().to(home)))
                .service(web::resource("/assets/{name}").route(web::get().to(asset)))
                .service(web::resource("/language").route(web::get().to(language)))
                .service(
                    web::resource("/sign-in")
                        .route(web::get().to(sign_in::form))
                        .route(web::post().to(sign_in::submit)),
                )
                .service(
                    web::resource("/activate")
                        .route(web::get().to(activate::form))
                        .route(web::post().to(activate::submit)),
                )
                .service(web::resource("/sign-out").route(web::post().to(sign_in::sign_out)))
                .service(web::resource("/access-log").route(web::get().to(access_log::page)))
                .service(web::resource("/consents").route(web::get().to(consents::page)))
                .service(
                    web::resource("/consents/{id}/artefact")
                        .route(web::get().to(consents::artefact)),
                )
                .service(
                    web::resource("/consents/{id}/{action}").route(web::post().to(consents::act)),
                )
                .service(web::resource("/holders").route(web::get().to(references::page)))
                .service(web::resource("/by-law").route(web::get().to(by_law::page)))
                .default_service(web::to(not_found)),
        );
}

/// Adds the security headers to every portal response.
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        headers.insert(
            header::HeaderName::from_static(name),
            header::HeaderValue::from_static(value),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

async fn home() -> HttpResponse {
    see_other("/portal/access-log")
}

async fn asset(name: web::Path<String>, lang: Lang) -> HttpResponse {
    if format!("/portal/assets/{name}") != *STYLE_PATH {
        return not_found(lang).await;
    }
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(STYLE)
}

#[derive(serde::Deserialize)]
struct LanguageQuery {
    lang: String,
    #[serde(default)]
    back: Option<String>,
}

/// Sets the `lang` cookie and goes back to the page (only within the portal).
async fn language(query: web::Query<LanguageQuery>) -> HttpResponse {
    let back = query
        .back
        .as_deref()
        .filter(|b| b.starts_with("/portal/") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or("/portal/access-log");
    let mut res = see_other(back);
    if let Some(lang) = Lang::parse(&query.lang) {
        let cookie = Cookie::build(i18n::LANG_COOKIE, lang.tag())
            .path("/")
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Strict)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish();
        let _ = res.add_cookie(&cookie);
    }
    res
}

async fn not_found(lang: Lang) -> HttpResponse {
    error_page(lang, StatusCode::NOT_FOUND, lang.t("error.not_found"))
}

/// A 303 redirect.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An HTML page response.
pub fn html_response(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// A cookie that removes `name`.
pub fn expired_cookie(name: &str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name.to_owned(), "")
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}

/// Why a portal action failed.
#[derive(Debug)]
pub enum Failure {
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// The hub refused or failed.
    Api(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

/// The page of a failure, in the visitor's language.
pub fn failure_page(lang: Lang, failure: Failure) -> HttpResponse {
    match failure {
        Failure::Csrf => error_page(lang, StatusCode::FORBIDDEN, lang.t("error.csrf")),
        Failure::Api(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            if status.is_server_error() {
                e.log("portal request failed");
                error_page(lang, status, lang.t("error.internal"))
            } else if status == StatusCode::NOT_FOUND {
                error_page(lang, status, lang.t("error.not_found"))
            } else {
                error_page(lang, status, &format!("{} {e}", lang.t("error.refused")))
            }
        }
    }
}

/// An error page with a way back.
pub fn error_page(lang: Lang, status: StatusCode, message: &str) -> HttpResponse {
    let title = if status == StatusCode::FORBIDDEN {
        lang.t("forbidden.title")
    } else {
        lang.t("error.title")
    };
    let body = html! {
        h1 { (title) }
        p role="alert" { (message) }
        p { a href="/portal/access-log" { (lang.t("error.back")) } }
    };
    html_response(
        status,
        layout::page(lang, title, None, "/portal/sign-in", body),
    )
}

/// The hidden field that carries a form's CSRF token.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// Checks a form's token against the session's.
pub fn check_csrf(citizen: &PortalCitizen, submitted: &str) -> Result<(), Failure> {
    if citizen.csrf_ok(submitted) {
        Ok(())
    } else {
        Err(Failure::Csrf)
    }
}

/// The pre-session CSRF token of a visitor: the cookie's, or a new one
/// (then the response must set it).
pub fn pre_session_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req
        .cookie(PRE_SESSION_COOKIE)
        .filter(|c| c.value().len() >= 32)
    {
        return (c.value().to_owned(), None);
    }
    let mut bytes = [0u8; 32];
    let token = match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes) {
        Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        Err(_) => {
            uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
        }
    };
    let cookie = Cookie::build(PRE_SESSION_COOKIE, token.clone())
        .path("/portal")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

/// Checks a pre-session form's token against the visitor's cookie.
pub fn check_pre_session(req: &HttpRequest, submitted: &str) -> Result<(), Failure> {
    match req.cookie(PRE_SESSION_COOKIE) {
        Some(c) if same(c.value().as_bytes(), submitted.as_bytes()) => Ok(()),
        _ => Err(Failure::Csrf),
    }
}
