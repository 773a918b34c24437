//! Record types as a citizen reads them: the schema's title in the page's
//! language ("Your address", "Votre adresse", "Uw adres"), with the technical
//! name (`person.address@1`) in small text beside it.
//!
//! Titles come from the schema registry (`x-title` of the version named, or
//! of the latest version when only a name is given). Stored versions never
//! change, so versions stored before the catalog had titles have none: for
//! those, the shipped catalog's titles of the same record type are used, and
//! failing that the schema's own `title`.

use std::sync::Arc;

use maud::{Markup, html};
use schemas::{RecordTypeName, RecordTypeRef, SchemaEntry};

use super::i18n::Lang;
use crate::app::state::AppState;
use crate::services::DbConnection;
use crate::services::schemas::Schemas;

/// The titles of record types, as the registry holds them when a page is made.
#[derive(Debug, Clone, Default)]
pub struct Titles {
    schemas: Option<Arc<Schemas>>,
}

impl Titles {
    /// The registry's titles. A registry that cannot be loaded leaves the
    /// page with technical names rather than failing it.
    pub fn load(conn: &mut DbConnection, state: &AppState) -> Self {
        match state.schemas.get_or_load(conn) {
            Ok(schemas) => Self {
                schemas: Some(schemas),
            },
            Err(error) => {
                tracing::warn!(
                    ?error,
                    "schema registry not loaded; record types shown by name"
                );
                Self::default()
            }
        }
    }

    /// The title of `record_type` (`name`, `name@major` or
    /// `name@major.minor`) in `lang`, if one is known.
    pub fn title(&self, lang: Lang, record_type: &str) -> Option<String> {
        let (name, entry) = self.entry(record_type)?;
        let tag = lang.tag();
        entry
            .filter(|e| e.has_localized_titles())
            .and_then(|e| e.title(tag))
            .or_else(|| schemas::embedded::shipped_title(name.as_str(), tag))
            .or_else(|| entry.and_then(|e| e.title(tag)))
            .map(str::to_owned)
    }

    /// The record type's name and, when the registry holds it, its entry.
    fn entry(&self, record_type: &str) -> Option<(RecordTypeName, Option<&Arc<SchemaEntry>>)> {
        let schemas = self.schemas.as_deref();
        if record_type.contains('@') {
            let reference = RecordTypeRef::parse(record_type).ok()?;
            let entry = schemas.and_then(|s| s.catalog().resolve(&reference).ok());
            Some((reference.name, entry))
        } else {
            let name = RecordTypeName::parse(record_type).ok()?;
            let entry = schemas.and_then(|s| {
                s.catalog()
                    .entries()
                    .filter(|e| e.record_type().name == name)
                    .last()
            });
            Some((name, entry))
        }
    }

    /// The title with the technical name in small text under it, or the
    /// technical name alone when there is no title.
    pub fn show(&self, lang: Lang, record_type: &str) -> Markup {
        html! {
            @match self.title(lang, record_type) {
                Some(title) => {
                    span class="record-type" { (title) }
                    br; span class="small" { code { (record_type) } }
                }
                None => code { (record_type) },
            }
        }
    }

    /// Several record types, one a line.
    pub fn show_all(&self, lang: Lang, record_types: &[String]) -> Markup {
        html! {
            @for (index, record_type) in record_types.iter().enumerate() {
                @if index > 0 { br; }
                (self.show(lang, record_type))
            }
        }
    }

    /// The title as plain text (for a sentence or a label), else the
    /// technical name.
    pub fn plain(&self, lang: Lang, record_type: &str) -> String {
        self.title(lang, record_type)
            .unwrap_or_else(|| record_type.to_owned())
    }
}

/// The title as it reads inside a sentence: "Your address" becomes "your
/// address".
pub fn in_sentence(title: &str) -> String {
    let mut chars = title.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_shipped_catalog_without_a_registry() {
        let titles = Titles::default();
        assert_eq!(
            titles.title(Lang::Fr, "person.address@1").as_deref(),
            Some("Votre adresse")
        );
        assert_eq!(
            titles.title(Lang::Nl, "person.address").as_deref(),
            Some("Uw adres")
        );
        assert_eq!(titles.title(Lang::En, "no.such-type@1"), None);
        assert_eq!(titles.title(Lang::En, "not a record type"), None);
        assert_eq!(titles.plain(Lang::En, "no.such-type@1"), "no.such-type@1");
        let shown = titles
            .show(Lang::En, "tax.income-statement@1")
            .into_string();
        assert!(shown.contains("Your income statement"), "{shown}");
        assert!(
            shown.contains("<code>tax.income-statement@1</code>"),
            "{shown}"
        );
        let unknown = titles.show(Lang::En, "<b>@1").into_string();
        assert_eq!(unknown, "<code>&lt;b&gt;@1</code>");
    }

    #[test]
    fn a_title_reads_in_a_sentence() {
        assert_eq!(in_sentence("Your address"), "your address");
        assert_eq!(in_sentence("Événements"), "événements");
        assert_eq!(in_sentence(""), "");
    }
}
