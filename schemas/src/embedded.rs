//! The shipped catalog, embedded in the binary. Each file lives at
//! `catalog/<name>/<major>.<minor>.json`; a test checks this list matches the
//! directory exactly.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

/// One embedded catalog file.
#[derive(Debug, Clone, Copy)]
pub struct File {
    pub name: &'static str,
    pub version: &'static str,
    pub contents: &'static str,
}

macro_rules! catalog_files {
    ($(($name:literal, $version:literal)),* $(,)?) => {
        /// The shipped catalog files, in publication order.
        pub const FILES: &[File] = &[$(
            File {
                name: $name,
                version: $version,
                contents: include_str!(concat!("../catalog/", $name, "/", $version, ".json")),
            },
        )*];
    };
}

catalog_files![
    ("person.identity", "1.0"),
    ("person.address", "1.0"),
    ("person.address", "1.1"),
    ("person.lifecycle", "1.0"),
    ("person.family-composition", "1.0"),
    ("social.benefit-entitlement", "1.0"),
    ("tax.income-statement", "1.0"),
    ("health.insurance-coverage", "1.0"),
    ("employment.current-employer", "1.0"),
];

/// The `x-title` of the latest shipped version of each record type.
static SHIPPED_TITLES: LazyLock<HashMap<&'static str, Value>> = LazyLock::new(|| {
    FILES
        .iter()
        .filter_map(|file| {
            let document: Value = serde_json::from_str(file.contents).ok()?;
            Some((
                file.name,
                document.get(crate::catalog::TITLE_KEYWORD)?.clone(),
            ))
        })
        .collect()
});

/// The title the shipped catalog gives record type `name` in `lang` (from
/// its latest shipped version), if it ships one in that language.
///
/// Stored versions never change, so a hub whose versions were stored before
/// the catalog had titles keeps documents without `x-title`; this is where
/// such a hub finds the titles of the record types it shipped with.
pub fn shipped_title(name: &str, lang: &str) -> Option<&'static str> {
    SHIPPED_TITLES
        .get(name)?
        .get(lang)?
        .as_str()
        .filter(|s| !s.trim().is_empty())
}
