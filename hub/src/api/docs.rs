//! `/openapi.json` and a documentation page rendered on the server, so that
//! it works without any asset from the internet.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::get;
use maud::{DOCTYPE, Markup, html};
use utoipa::openapi::path::Operation;
use utoipa::openapi::{HttpMethod, RefOr};

/// The OpenAPI 3.1 description of this hub.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI_JSON.clone())
}

/// The document is the same for the life of the process: made once.
static OPENAPI_JSON: LazyLock<actix_web::web::Bytes> = LazyLock::new(|| {
    serde_json::to_vec(&super::document())
        .unwrap_or_else(|e| unreachable!("an OpenAPI document serializes: {e}"))
        .into()
});

/// The page, made once from the same document.
static DOCS_PAGE: LazyLock<String> = LazyLock::new(|| render(&super::document()).into_string());

/// A readable page of the API, made from the same document.
pub async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(DOCS_PAGE.as_str())
}

const METHODS: [(HttpMethod, &str); 8] = [
    (HttpMethod::Get, "GET"),
    (HttpMethod::Post, "POST"),
    (HttpMethod::Put, "PUT"),
    (HttpMethod::Patch, "PATCH"),
    (HttpMethod::Delete, "DELETE"),
    (HttpMethod::Head, "HEAD"),
    (HttpMethod::Options, "OPTIONS"),
    (HttpMethod::Trace, "TRACE"),
];

fn operation(item: &utoipa::openapi::PathItem, method: &HttpMethod) -> Option<Operation> {
    match method {
        HttpMethod::Get => item.get.clone(),
        HttpMethod::Post => item.post.clone(),
        HttpMethod::Put => item.put.clone(),
        HttpMethod::Patch => item.patch.clone(),
        HttpMethod::Delete => item.delete.clone(),
        HttpMethod::Head => item.head.clone(),
        HttpMethod::Options => item.options.clone(),
        HttpMethod::Trace => item.trace.clone(),
    }
}

fn render(doc: &utoipa::openapi::OpenApi) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (doc.info.title) " — API" }
                style { "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.5}code{background:#f3f3f3;padding:0 .2rem}section{border-top:1px solid #ccc;padding:.5rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:bold}" }
            }
            body {
                main {
                    h1 { (doc.info.title) " " small { (doc.info.version) } }
                    @if let Some(d) = &doc.info.description { p { (d) } }
                    p { "Machine-readable description: " a href="/openapi.json" { "/openapi.json" } " (OpenAPI " "3.1" ")." }
                    @for (path, item) in &doc.paths.paths {
                        @for (method, name) in &METHODS {
                            @if let Some(op) = operation(item, method) {
                                section {
                                    h2 { span class="m" { (name) } code { (path) } }
                                    @if let Some(s) = &op.summary { p { (s) } }
                                    @if let Some(d) = &op.description { p { (d) } }
                                    h3 { "Responses" }
                                    ul {
                                        @for (status, resp) in &op.responses.responses {
                                            li {
                                                code { (status) } " "
                                                @match resp {
                                                    RefOr::T(r) => { (r.description) }
                                                    RefOr::Ref(r) => { (r.ref_location) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
