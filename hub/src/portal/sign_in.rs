//! `/portal/sign-in` (common ID, password and perhaps a TOTP code) and
//! `/portal/sign-out`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::{Failure, check_csrf, check_pre_session, csrf_field, layout, pre_session_token};
use crate::app::state::AppState;
use crate::http::callers::portal::PortalCitizen;
use crate::http::error::ApiError;
use crate::services::citizens::{self, SESSION_COOKIE, SESSION_MINUTES, SignIn};

/// Notices the sign-in page can show after a redirect.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    activated: Option<String>,
    #[serde(default)]
    signed_out: Option<String>,
}

/// The sign-in form as posted.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    csrf: String,
    common_id: String,
    password: String,
    #[serde(default)]
    totp: String,
}

/// The sign-out form as posted.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

fn render(
    lang: Lang,
    csrf: &str,
    notice: Option<&str>,
    alert: Option<&str>,
    common_id: &str,
) -> Markup {
    let title = lang.t("sign_in.title");
    let body = html! {
        h1 { (title) }
        @if let Some(notice) = notice {
            p class="notice" role="status" { (notice) }
        }
        @if let Some(alert) = alert {
            p class="alert" role="alert" id="sign-in-error" { (alert) }
        }
        p { (lang.t("sign_in.intro")) }
        form method="post" action="/portal/sign-in" {
            (csrf_field(csrf))
            label for="common_id" { (lang.t("sign_in.common_id")) }
            input type="text" id="common_id" name="common_id" value=(common_id) required
                autocomplete="username" inputmode="numeric" spellcheck="false";
            label for="password" { (lang.t("sign_in.password")) }
            input type="password" id="password" name="password" required autocomplete="current-password";
            label for="totp" { (lang.t("sign_in.totp")) }
            input type="text" id="totp" name="totp" autocomplete="one-time-code" inputmode="numeric";
            p { button type="submit" { (lang.t("sign_in.submit")) } }
        }
        p { a href="/portal/activate" { (lang.t("sign_in.first_time")) } }
    };
    layout::page(lang, title, None, "/portal/sign-in", body)
}

fn with_pre_session(
    req: &HttpRequest,
    status: StatusCode,
    make: impl FnOnce(&str) -> Markup,
) -> HttpResponse {
    let (token, cookie) = pre_session_token(req);
    let mut res = super::html_response(status, make(&token));
    if let Some(cookie) = cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// `GET /portal/sign-in`.
pub async fn form(req: HttpRequest, lang: Lang, notice: web::Query<Notice>) -> HttpResponse {
    let notice = if notice.expired.is_some() {
        Some(lang.t("sign_in.expired"))
    } else if notice.activated.is_some() {
        Some(lang.t("sign_in.activated"))
    } else if notice.signed_out.is_some() {
        Some(lang.t("sign_in.signed_out"))
    } else {
        None
    };
    with_pre_session(&req, StatusCode::OK, |csrf| {
        render(lang, csrf, notice, None, "")
    })
}

/// The message shown for a refused sign-in or activation.
pub fn refusal_message(lang: Lang, e: &ApiError) -> String {
    match e {
        ApiError::InvalidCredentials(_) => lang.t("error.credentials").to_owned(),
        ApiError::Locked { .. } => lang.t("error.locked").to_owned(),
        other => format!("{} {other}", lang.t("error.refused")),
    }
}

/// `POST /portal/sign-in`: a session cookie and on to the portal.
pub async fn submit(
    req: HttpRequest,
    lang: Lang,
    state: web::Data<AppState>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    let form = form.into_inner();
    if let Err(failure) = check_pre_session(&req, &form.csrf) {
        return super::failure_page(lang, failure);
    }
    let input = SignIn {
        common_id: form.common_id.clone(),
        password: form.password,
        totp: Some(form.totp.trim().to_owned()).filter(|t| !t.is_empty()),
    };
    let now = state.clock.now();
    let result = citizens::sign_in(&state, input, now).await;
    match result {
        Ok((_, session)) => {
            let cookie = Cookie::build(SESSION_COOKIE, session)
                .path("/")
                .http_only(true)
                .secure(true)
                .same_site(SameSite::Strict)
                .max_age(actix_web::cookie::time::Duration::minutes(SESSION_MINUTES))
                .finish();
            let mut res = super::see_other("/portal/access-log");
            let _ = res.add_cookie(&cookie);
            res
        }
        Err(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            if status.is_server_error() {
                return super::failure_page(lang, Failure::Api(e));
            }
            let message = refusal_message(lang, &e);
            with_pre_session(&req, status, |csrf| {
                render(lang, csrf, None, Some(&message), &form.common_id)
            })
        }
    }
}

/// `POST /portal/sign-out`: ends the session.
pub async fn sign_out(
    citizen: PortalCitizen,
    lang: Lang,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if let Err(failure) = check_csrf(&citizen, &form.csrf) {
        return super::failure_page(lang, failure);
    }
    let digest = citizen.session_digest.clone();
    if let Err(e) = state
        .db(move |conn| Ok(citizens::end_session(conn, &digest)?))
        .await
    {
        return super::failure_page(lang, Failure::Api(e));
    }
    let mut res = super::see_other("/portal/sign-in?signed_out=1");
    let _ = res.add_cookie(&super::expired_cookie(SESSION_COOKIE));
    res
}
