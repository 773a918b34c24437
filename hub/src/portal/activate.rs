//! `/portal/activate`: the code from the registration letter and a new password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::{Failure, check_pre_session, csrf_field, layout, pre_session_token};
use crate::app::state::AppState;
use crate::services::citizens::Activation;

/// The activation form as posted.
#[derive(Debug, Deserialize)]
pub struct ActivateForm {
    csrf: String,
    common_id: String,
    activation_code: String,
    password: String,
}

fn render(lang: Lang, csrf: &str, alert: Option<&str>, common_id: &str) -> Markup {
    let title = lang.t("activate.title");
    let body = html! {
        h1 { (title) }
        @if let Some(alert) = alert {
            p class="alert" role="alert" { (alert) }
        }
        p { (lang.t("activate.intro")) }
        form method="post" action="/portal/activate" {
            (csrf_field(csrf))
            label for="common_id" { (lang.t("sign_in.common_id")) }
            input type="text" id="common_id" name="common_id" value=(common_id) required
                autocomplete="username" inputmode="numeric" spellcheck="false";
            label for="activation_code" { (lang.t("activate.code")) }
            input type="text" id="activation_code" name="activation_code" required
                autocomplete="off" spellcheck="false";
            label for="password" { (lang.t("activate.password")) }
            input type="password" id="password" name="password" required minlength="12"
                autocomplete="new-password";
            p { button type="submit" { (lang.t("activate.submit")) } }
        }
        p { a href="/portal/sign-in" { (lang.t("sign_in.title")) } }
    };
    layout::page(lang, title, None, "/portal/activate", body)
}

fn respond(
    req: &HttpRequest,
    status: StatusCode,
    lang: Lang,
    alert: Option<&str>,
    id: &str,
) -> HttpResponse {
    let (token, cookie) = pre_session_token(req);
    let mut res = super::html_response(status, render(lang, &token, alert, id));
    if let Some(cookie) = cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// `GET /portal/activate`.
pub async fn form(req: HttpRequest, lang: Lang) -> HttpResponse {
    respond(&req, StatusCode::OK, lang, None, "")
}

/// `POST /portal/activate`: on success, on to sign-in.
pub async fn submit(
    req: HttpRequest,
    lang: Lang,
    state: web::Data<AppState>,
    form: web::Form<ActivateForm>,
) -> HttpResponse {
    let form = form.into_inner();
    if let Err(failure) = check_pre_session(&req, &form.csrf) {
        return super::failure_page(lang, failure);
    }
    let input = Activation {
        common_id: form.common_id.clone(),
        activation_code: form.activation_code.trim().to_owned(),
        password: form.password,
    };
    match crate::api::citizen::activate::run(&state, input).await {
        Ok(()) => super::see_other("/portal/sign-in?activated=1"),
        Err(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            if status.is_server_error() {
                return super::failure_page(lang, Failure::Api(e));
            }
            let message = super::sign_in::refusal_message(lang, &e);
            respond(&req, status, lang, Some(&message), &form.common_id)
        }
    }
}
