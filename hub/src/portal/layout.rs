//! The frame of every portal page: the skip link, the header with the
//! menu and the language switch, the main region.

use maud::{DOCTYPE, Markup, html};

use super::i18n::Lang;
use crate::http::callers::portal::PortalCitizen;

const MENU: [(&str, &str); 4] = [
    ("/portal/access-log", "nav.access_log"),
    ("/portal/consents", "nav.consents"),
    ("/portal/holders", "nav.holders"),
    ("/portal/by-law", "nav.by_law"),
];

/// A whole page. `path` is the page's own path (for the menu and the
/// language switch); `citizen` shows the menu and sign-out when signed in.
pub fn page(
    lang: Lang,
    title: &str,
    citizen: Option<&PortalCitizen>,
    path: &str,
    main: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("site.name")) }
                link rel="stylesheet" href=(super::STYLE_PATH.as_str());
            }
            body {
                a class="skip" href="#main" { (lang.t("skip")) }
                header class="site" {
                    div class="bar" {
                        p class="brand" { (lang.t("site.name")) }
                        nav class="langs" aria-label=(lang.t("lang.label")) {
                            ul {
                                @for other in Lang::ALL {
                                    li {
                                        @if other == lang {
                                            a href={ "/portal/language?lang=" (other.tag()) "&back=" (path) }
                                                lang=(other.tag()) hreflang=(other.tag()) aria-current="true" { (other.endonym()) }
                                        } @else {
                                            a href={ "/portal/language?lang=" (other.tag()) "&back=" (path) }
                                                lang=(other.tag()) hreflang=(other.tag()) { (other.endonym()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(citizen) = citizen {
                        div class="bar" {
                            p class="who" { (lang.t("signed_in_as")) " " strong { (citizen.common_id.to_string()) } }
                            form method="post" action="/portal/sign-out" class="inline" {
                                (super::csrf_field(&citizen.csrf_token))
                                button type="submit" class="secondary" { (lang.t("nav.sign_out")) }
                            }
                        }
                        nav class="menu" aria-label=(lang.t("nav.label")) {
                            ul {
                                @for (href, key) in MENU {
                                    li {
                                        @if href == path {
                                            a href=(href) aria-current="page" { (lang.t(key)) }
                                        } @else {
                                            a href=(href) { (lang.t(key)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    (main)
                }
            }
        }
    }
}

/// A date and time as people read it, in UTC.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A date.
pub fn day(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}
