//! Compatibility rules between versions of a record type.
//!
//! A new **minor** version must be backward compatible with the previous minor
//! of its major: every record valid under the previous version stays valid, and
//! every field the previous version guaranteed is still described and still
//! guaranteed. Concretely, [`check_compatible`] refuses:
//!
//! - a required field dropped from `required`, or a field newly required;
//! - a property removed;
//! - a `type` changed or narrowed (widening, e.g. `integer` to `number`, is fine);
//! - an enum value removed, or an `enum`/`const` added where there was none;
//! - a tightened constraint: `minimum`, `maximum`, `exclusiveMinimum`,
//!   `exclusiveMaximum`, `minLength`, `maxLength`, `minItems`, `maxItems`,
//!   `minProperties`, `maxProperties`, `uniqueItems` turned on, `multipleOf`
//!   changed, `pattern` changed or added, `format` added or changed;
//! - `additionalProperties` (or `unevaluatedProperties`) closed: absent/`true`
//!   to `false` or to a schema;
//! - a composition or conditional keyword (`allOf`, `anyOf`, `oneOf`, `not`,
//!   `if`/`then`/`else`, `dependentRequired`, `dependentSchemas`,
//!   `patternProperties`, `propertyNames`, `contains`, `prefixItems`) added or
//!   changed, since we do not analyse those; removing one is fine;
//! - a remote `$ref` changed (published versions are immutable, so an
//!   unchanged remote `$ref` is compatible).
//!
//! The comparison recurses into `properties`, `items`, `additionalProperties`
//! schemas and local `$ref`s (`#/$defs/...`). Each [`Violation`] carries a JSON
//! Pointer into the **new** schema where the offending keyword is (for a removed
//! property: where it used to be, `/properties/<name>`).
//!
//! A new **major** version may break anything; [`check_publish`] applies the
//! minor rule only within a major and requires versions to increase.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;

use crate::pointer::{self, escape};
use crate::record_type::Version;

/// What kind of incompatibility a [`Violation`] is; its `code` is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViolationKind {
    RequiredRemoved,
    RequiredAdded,
    PropertyRemoved,
    TypeChanged,
    EnumValueRemoved,
    EnumAdded,
    ConstAdded,
    MinimumTightened,
    MaximumTightened,
    ExclusiveMinimumTightened,
    ExclusiveMaximumTightened,
    MinLengthTightened,
    MaxLengthTightened,
    MinItemsTightened,
    MaxItemsTightened,
    MinPropertiesTightened,
    MaxPropertiesTightened,
    UniqueItemsAdded,
    MultipleOfChanged,
    PatternChanged,
    FormatChanged,
    AdditionalPropertiesClosed,
    SchemaClosed,
    KeywordChanged,
    ReferenceChanged,
}

impl ViolationKind {
    /// A stable, machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::RequiredRemoved => "required_removed",
            Self::RequiredAdded => "required_added",
            Self::PropertyRemoved => "property_removed",
            Self::TypeChanged => "type_changed",
            Self::EnumValueRemoved => "enum_value_removed",
            Self::EnumAdded => "enum_added",
            Self::ConstAdded => "const_added",
            Self::MinimumTightened => "minimum_tightened",
            Self::MaximumTightened => "maximum_tightened",
            Self::ExclusiveMinimumTightened => "exclusive_minimum_tightened",
            Self::ExclusiveMaximumTightened => "exclusive_maximum_tightened",
            Self::MinLengthTightened => "min_length_tightened",
            Self::MaxLengthTightened => "max_length_tightened",
            Self::MinItemsTightened => "min_items_tightened",
            Self::MaxItemsTightened => "max_items_tightened",
            Self::MinPropertiesTightened => "min_properties_tightened",
            Self::MaxPropertiesTightened => "max_properties_tightened",
            Self::UniqueItemsAdded => "unique_items_added",
            Self::MultipleOfChanged => "multiple_of_changed",
            Self::PatternChanged => "pattern_changed",
            Self::FormatChanged => "format_changed",
            Self::AdditionalPropertiesClosed => "additional_properties_closed",
            Self::SchemaClosed => "schema_closed",
            Self::KeywordChanged => "keyword_changed",
            Self::ReferenceChanged => "reference_changed",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for ViolationKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// One reason a new version is not backward compatible.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON Pointer into the new schema.
    pub pointer: String,
    pub rule: ViolationKind,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {:?}: {}", self.rule, self.pointer, self.detail)
    }
}

/// Checks that `next` is a backward-compatible successor of `previous`.
pub fn check_compatible(previous: &Value, next: &Value) -> Result<(), Vec<Violation>> {
    let mut walk = Walk {
        prev_root: previous,
        next_root: next,
        seen: HashSet::new(),
        out: Vec::new(),
    };
    walk.compare(previous, next, String::new(), 0);
    if walk.out.is_empty() {
        Ok(())
    } else {
        Err(walk.out)
    }
}

/// Keywords we do not analyse: adding or changing one is refused.
const OPAQUE_KEYWORDS: &[&str] = &[
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "prefixItems",
];

/// Lower bounds: the new value may only go down.
const LOWER_BOUNDS: &[(&str, ViolationKind)] = &[
    ("minimum", ViolationKind::MinimumTightened),
    ("exclusiveMinimum", ViolationKind::ExclusiveMinimumTightened),
    ("minLength", ViolationKind::MinLengthTightened),
    ("minItems", ViolationKind::MinItemsTightened),
    ("minProperties", ViolationKind::MinPropertiesTightened),
];

/// Upper bounds: the new value may only go up.
const UPPER_BOUNDS: &[(&str, ViolationKind)] = &[
    ("maximum", ViolationKind::MaximumTightened),
    ("exclusiveMaximum", ViolationKind::ExclusiveMaximumTightened),
    ("maxLength", ViolationKind::MaxLengthTightened),
    ("maxItems", ViolationKind::MaxItemsTightened),
    ("maxProperties", ViolationKind::MaxPropertiesTightened),
];

const MAX_DEPTH: usize = 64;

/// The map of the schema `true` (no keywords).
static EMPTY: LazyLock<serde_json::Map<String, Value>> = LazyLock::new(serde_json::Map::new);

struct Walk<'a> {
    prev_root: &'a Value,
    next_root: &'a Value,
    /// Pairs of schema nodes already compared (by address), so shared `$defs`
    /// are reported once and recursive schemas terminate.
    seen: HashSet<(usize, usize)>,
    out: Vec<Violation>,
}

impl<'a> Walk<'a> {
    fn push(&mut self, pointer: String, rule: ViolationKind, detail: String) {
        self.out.push(Violation {
            pointer,
            rule,
            detail,
        });
    }

    /// Follows local `$ref`s; gives the node to compare and where it lives.
    fn resolve(&self, root: &'a Value, mut node: &'a Value, mut at: String) -> (&'a Value, String) {
        for _ in 0..pointer::MAX_REF_DEPTH {
            let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some((target, location)) = pointer::resolve_local(root, reference) else {
                break;
            };
            // A `$ref` with sibling keywords is compared as written.
            if node.as_object().is_some_and(|o| o.len() > 1) {
                break;
            }
            node = target;
            at = location;
        }
        (node, at)
    }

    fn compare(&mut self, prev: &'a Value, next: &'a Value, at: String, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let (prev, _) = self.resolve(self.prev_root, prev, String::new());
        let (next, at) = self.resolve(self.next_root, next, at);
        if !self
            .seen
            .insert((prev as *const Value as usize, next as *const Value as usize))
        {
            return;
        }
        match (prev, next) {
            (Value::Bool(false), _) => return,
            (_, Value::Bool(false)) => {
                self.push(
                    at,
                    ViolationKind::SchemaClosed,
                    "the new schema accepts nothing".into(),
                );
                return;
            }
            _ => {}
        }
        let p: &'a serde_json::Map<String, Value> = prev.as_object().unwrap_or(&EMPTY);
        let n: &'a serde_json::Map<String, Value> = next.as_object().unwrap_or(&EMPTY);
        let kw = |k: &str| format!("{at}/{k}");

        // remote references
        match (str_of(p, "$ref"), str_of(n, "$ref")) {
            (a, Some(b)) if a != Some(b) && !b.starts_with('#') => self.push(
                kw("$ref"),
                ViolationKind::ReferenceChanged,
                format!("reference changed from {a:?} to {b:?}"),
            ),
            _ => {}
        }

        self.compare_types(p.get("type"), n.get("type"), &at);

        // enum and const
        match (p.get("enum"), n.get("enum")) {
            (None, Some(_)) if p.get("const").is_none() => self.push(
                kw("enum"),
                ViolationKind::EnumAdded,
                "an enum now restricts a value that was free".into(),
            ),
            (Some(Value::Array(before)), Some(Value::Array(after))) => {
                for value in before.iter().filter(|v| !after.contains(v)) {
                    self.push(
                        kw("enum"),
                        ViolationKind::EnumValueRemoved,
                        format!("enum value {value} was removed"),
                    );
                }
            }
            _ => {}
        }
        match (p.get("const"), n.get("const")) {
            (a, Some(b)) if a != Some(b) => {
                let allowed_before = a.is_none()
                    && p.get("enum")
                        .and_then(Value::as_array)
                        .is_some_and(|e| e.len() == 1 && e[0] == *b);
                if !allowed_before {
                    self.push(
                        kw("const"),
                        ViolationKind::ConstAdded,
                        format!("const {b} added or changed"),
                    );
                }
            }
            _ => {}
        }

        // numeric bounds
        for &(key, rule) in LOWER_BOUNDS {
            self.compare_bound(p, n, key, rule, &at, |before, after| after <= before);
        }
        for &(key, rule) in UPPER_BOUNDS {
            self.compare_bound(p, n, key, rule, &at, |before, after| after >= before);
        }
        if n.get("uniqueItems") == Some(&Value::Bool(true))
            && p.get("uniqueItems") != Some(&Value::Bool(true))
        {
            self.push(
                kw("uniqueItems"),
                ViolationKind::UniqueItemsAdded,
                "items must now be unique".into(),
            );
        }
        if let Some(after) = n.get("multipleOf") {
            let divides = p
                .get("multipleOf")
                .and_then(Value::as_f64)
                .zip(after.as_f64())
                .is_some_and(|(before, after)| {
                    after > 0.0 && ((before / after) - (before / after).round()).abs() < 1e-9
                });
            if !divides {
                self.push(
                    kw("multipleOf"),
                    ViolationKind::MultipleOfChanged,
                    format!("multipleOf {after} does not divide the previous step"),
                );
            }
        }

        // string constraints that cannot be compared: any change tightens
        for (key, rule) in [
            ("pattern", ViolationKind::PatternChanged),
            ("format", ViolationKind::FormatChanged),
        ] {
            if let Some(after) = n.get(key)
                && p.get(key) != Some(after)
            {
                let detail = match p.get(key) {
                    Some(before) => format!("{key} changed from {before} to {after}"),
                    None => format!("{key} {after} added"),
                };
                self.push(kw(key), rule, detail);
            }
        }

        for key in OPAQUE_KEYWORDS {
            if let Some(after) = n.get(*key)
                && p.get(*key) != Some(after)
            {
                self.push(
                    kw(key),
                    ViolationKind::KeywordChanged,
                    format!("{key} added or changed; it is not analysed, so it may narrow"),
                );
            }
        }

        self.compare_object(p, n, prev, next, &at, depth);

        // arrays
        if let Some(after) = n.get("items") {
            let before = p.get("items").unwrap_or(&Value::Bool(true));
            self.compare(before, after, kw("items"), depth + 1);
        }
    }

    fn compare_types(&mut self, before: Option<&Value>, after: Option<&Value>, at: &str) {
        let Some(after) = after else { return };
        let after = type_set(after);
        let before = before.map(type_set).unwrap_or_else(|| {
            [
                "null", "boolean", "object", "array", "number", "string", "integer",
            ]
            .to_vec()
        });
        let lost: Vec<&str> = before
            .iter()
            .copied()
            .filter(|t| !(after.contains(t) || (*t == "integer" && after.contains(&"number"))))
            .collect();
        if !lost.is_empty() {
            self.push(
                format!("{at}/type"),
                ViolationKind::TypeChanged,
                format!(
                    "type {} no longer accepted (now {})",
                    lost.join(", "),
                    after.join(", ")
                ),
            );
        }
    }

    fn compare_bound(
        &mut self,
        p: &serde_json::Map<String, Value>,
        n: &serde_json::Map<String, Value>,
        key: &str,
        rule: ViolationKind,
        at: &str,
        relaxed_or_equal: impl Fn(f64, f64) -> bool,
    ) {
        let Some(after) = n.get(key) else { return };
        let ok = p
            .get(key)
            .and_then(Value::as_f64)
            .zip(after.as_f64())
            .is_some_and(|(b, a)| relaxed_or_equal(b, a));
        if !ok {
            let detail = match p.get(key) {
                Some(before) => format!("{key} tightened from {before} to {after}"),
                None => format!("{key} {after} added"),
            };
            self.push(format!("{at}/{key}"), rule, detail);
        }
    }

    fn compare_object(
        &mut self,
        p: &'a serde_json::Map<String, Value>,
        n: &'a serde_json::Map<String, Value>,
        prev: &'a Value,
        next: &'a Value,
        at: &str,
        depth: usize,
    ) {
        // required
        let before = pointer::required(self.prev_root, prev);
        let after = pointer::required(self.next_root, next);
        for name in before.iter().filter(|r| !after.contains(r)) {
            self.push(
                format!("{at}/required"),
                ViolationKind::RequiredRemoved,
                format!("{name:?} is no longer required"),
            );
        }
        for name in after.iter().filter(|r| !before.contains(r)) {
            self.push(
                format!("{at}/required"),
                ViolationKind::RequiredAdded,
                format!("{name:?} is now required"),
            );
        }

        // properties
        let before = pointer::properties(self.prev_root, prev);
        let after = pointer::properties(self.next_root, next);
        for (name, sub_before) in &before {
            let place = format!("{at}/properties/{}", escape(name));
            match after.iter().find(|(n, _)| n == name) {
                Some((_, sub_after)) => self.compare(sub_before, sub_after, place, depth + 1),
                None => self.push(
                    place,
                    ViolationKind::PropertyRemoved,
                    format!("property {name:?} was removed"),
                ),
            }
        }

        // additionalProperties / unevaluatedProperties
        for key in ["additionalProperties", "unevaluatedProperties"] {
            let open_before = matches!(p.get(key), None | Some(Value::Bool(true)));
            match n.get(key) {
                None | Some(Value::Bool(true)) => {}
                Some(after) if open_before => {
                    let what = if after.is_boolean() {
                        "false"
                    } else {
                        "a schema"
                    };
                    self.push(
                        format!("{at}/{key}"),
                        ViolationKind::AdditionalPropertiesClosed,
                        format!("{key} closed: was open, now {what}"),
                    );
                }
                Some(after) => {
                    if let Some(before) = p.get(key) {
                        self.compare(before, after, format!("{at}/{key}"), depth + 1);
                    }
                }
            }
        }
    }
}

fn str_of<'v>(object: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v str> {
    object.get(key).and_then(Value::as_str)
}

fn type_set(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Why a version may not be published.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    #[error("version {version} is already published")]
    AlreadyPublished { version: Version },
    #[error("version {version} does not follow the latest version {latest} of its major")]
    NotIncreasing { version: Version, latest: Version },
    #[error("new major {version} is not above the latest published version {latest}")]
    MajorNotIncreasing { version: Version, latest: Version },
    #[error("a new major must start at minor 0, not {version}")]
    MajorMustStartAtZero { version: Version },
    #[error("version {version} is not backward compatible with {previous}: {} violation(s)", violations.len())]
    Incompatible {
        version: Version,
        previous: Version,
        violations: Vec<Violation>,
    },
}

impl PublishError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyPublished { .. } => "version_already_published",
            Self::NotIncreasing { .. } => "version_not_increasing",
            Self::MajorNotIncreasing { .. } => "major_not_increasing",
            Self::MajorMustStartAtZero { .. } => "major_must_start_at_zero",
            Self::Incompatible { .. } => "version_incompatible",
        }
    }
}

/// Checks that `new` may be published after `previous` (all published versions
/// of the same record type, in any order).
///
/// - The version must not exist yet and must be above the latest minor of its
///   major.
/// - A new major must be above every published version and start at minor 0;
///   it may break compatibility.
/// - A new minor must be backward compatible with the latest minor of its
///   major ([`check_compatible`]).
pub fn check_publish(
    previous: &[(Version, &Value)],
    new: (Version, &Value),
) -> Result<(), PublishError> {
    let (version, schema) = new;
    if previous.iter().any(|(v, _)| *v == version) {
        return Err(PublishError::AlreadyPublished { version });
    }
    let same_major = previous
        .iter()
        .filter(|(v, _)| v.major == version.major)
        .max_by_key(|(v, _)| *v);
    match same_major {
        Some((latest, latest_schema)) => {
            if version < *latest {
                return Err(PublishError::NotIncreasing {
                    version,
                    latest: *latest,
                });
            }
            check_compatible(latest_schema, schema).map_err(|violations| {
                PublishError::Incompatible {
                    version,
                    previous: *latest,
                    violations,
                }
            })
        }
        None => {
            if let Some((latest, _)) = previous.iter().max_by_key(|(v, _)| *v)
                && *latest > version
            {
                return Err(PublishError::MajorNotIncreasing {
                    version,
                    latest: *latest,
                });
            }
            if version.minor != 0 {
                return Err(PublishError::MajorMustStartAtZero { version });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
