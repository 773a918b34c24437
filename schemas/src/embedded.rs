//! The shipped catalog, embedded in the binary. Each file lives at
//! `catalog/<name>/<major>.<minor>.json`; a test checks this list matches the
//! directory exactly.

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
    ("person.family-composition", "1.0"),
    ("social.benefit-entitlement", "1.0"),
    ("tax.income-statement", "1.0"),
    ("health.insurance-coverage", "1.0"),
    ("employment.current-employer", "1.0"),
];
