//! Addressable fields of a record type, and minimisation of records to the
//! fields an authorization grants.
//!
//! # Field convention
//!
//! A field is a JSON Pointer (RFC 6901) into the *record*, not into the schema:
//! `/address/street`. The items of an array are addressed with the token `*`:
//! `/children/*/name` is the `name` of every element of `children`. Objects and
//! arrays are fields too (`/address`, `/children`), and granting one grants all
//! of it. `""` is the whole record.
//!
//! # Withholdable fields
//!
//! A schema may declare, at its root, `"x-withholdable": ["/birthDate", …]`: the
//! fields a provider must supply (they are `required`) but that an
//! authorization may leave out of what the consumer receives.
//!
//! # Validating minimised records
//!
//! The hub validates the provider's **full** answer against the schema first,
//! and only then minimises it ([`minimize`]). A minimised record can miss
//! required fields, so it is not checked against the schema itself but against
//! its [`withheld_view`], where withholdable fields are no longer required.
//! [`check_grant`] is what makes that sound: it accepts a grant only when every
//! required field it does not cover is withholdable, so a minimised copy of a
//! valid record always satisfies the withheld view.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::pointer::{self, escape};

/// The keyword listing the fields that may be withheld although required.
pub const WITHHOLDABLE_KEYWORD: &str = "x-withholdable";

/// The token that stands for every element of an array in a field pointer.
pub const ANY_ITEM: &str = "*";

/// Why a grant does not fit a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{pointer:?} is not a JSON Pointer")]
    InvalidPointer { pointer: String },
    #[error("{pointer:?} is not a field of this record type")]
    UnknownField { pointer: String },
    #[error("required field {pointer:?} is neither granted nor declared withholdable")]
    RequiredNotGranted { pointer: String },
}

impl FieldError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPointer { .. } => "field_pointer_invalid",
            Self::UnknownField { .. } => "field_unknown",
            Self::RequiredNotGranted { .. } => "field_required_not_granted",
        }
    }
}

/// Every addressable field of a schema, sorted (see the module docs for the
/// convention). Follows local `$ref`s, `properties` and `items`.
pub fn fields(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_fields(schema, schema, String::new(), 0, &mut out);
    out.sort();
    out.dedup();
    out
}

fn collect_fields(root: &Value, node: &Value, prefix: String, depth: usize, out: &mut Vec<String>) {
    if depth > pointer::MAX_REF_DEPTH {
        return;
    }
    for (name, sub) in pointer::properties(root, node) {
        let path = format!("{prefix}/{}", escape(name));
        out.push(path.clone());
        collect_fields(root, sub, path, depth + 1, out);
    }
    if let Some(items) = pointer::items(root, node) {
        collect_fields(root, items, format!("{prefix}/{ANY_ITEM}"), depth + 1, out);
    }
}

/// The fields a schema declares withholdable (its `x-withholdable` list).
pub fn withholdable(schema: &Value) -> Vec<String> {
    schema
        .get(WITHHOLDABLE_KEYWORD)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A parsed set of granted fields, ready to minimise many records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelection {
    root: Node,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    /// The whole value at this place is granted.
    all: bool,
    children: BTreeMap<String, Node>,
}

impl FieldSelection {
    /// Parses granted field pointers. Fails on the first text that is not a
    /// JSON Pointer.
    pub fn parse<S: AsRef<str>>(granted: &[S]) -> Result<Self, FieldError> {
        let mut selection = Self::default();
        for field in granted {
            let field = field.as_ref();
            if !selection.insert(field) {
                return Err(FieldError::InvalidPointer {
                    pointer: field.to_owned(),
                });
            }
        }
        Ok(selection)
    }

    /// Like [`FieldSelection::parse`], but drops texts that are not JSON
    /// Pointers, so they grant nothing.
    pub fn parse_lenient<S: AsRef<str>>(granted: &[S]) -> Self {
        let mut selection = Self::default();
        for field in granted {
            selection.insert(field.as_ref());
        }
        selection
    }

    /// Adds one pointer; `false` (and nothing added) when it is not one.
    fn insert(&mut self, field: &str) -> bool {
        if !pointer::is_valid(field) {
            return false;
        }
        let mut node = &mut self.root;
        for token in pointer::tokens(field) {
            if node.all {
                return true;
            }
            if !node.children.contains_key(token.as_ref()) {
                node.children
                    .insert(token.clone().into_owned(), Node::default());
            }
            let Some(child) = node.children.get_mut(token.as_ref()) else {
                return true;
            };
            node = child;
        }
        node.all = true;
        node.children.clear();
        true
    }

    /// A copy of `document` holding only the granted fields.
    pub fn apply(&self, document: &Value) -> Value {
        // The root of a record is an object; anything else is withheld whole
        // unless the whole record is granted.
        apply(&self.root, document).unwrap_or(Value::Null)
    }
}

fn apply(node: &Node, value: &Value) -> Option<Value> {
    if node.all {
        return Some(value.clone());
    }
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, child) in &node.children {
                if let Some(v) = object.get(key)
                    && let Some(kept) = apply(child, v)
                {
                    out.insert(key.clone(), kept);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let child = node.children.get(ANY_ITEM)?;
            Some(Value::Array(
                items.iter().filter_map(|item| apply(child, item)).collect(),
            ))
        }
        // A partial grant on a scalar grants nothing of it.
        _ => None,
    }
}

/// A copy of `document` with everything not granted removed.
///
/// Granting an object or array grants all of it; granting `/a/b` keeps `a`
/// with only `b`; `/list/*/x` keeps every element of `list` with only `x`.
/// Texts that are not JSON Pointers grant nothing (see
/// [`FieldSelection::parse`] to reject them instead). To minimise many records
/// with one grant, parse a [`FieldSelection`] once.
pub fn minimize<S: AsRef<str>>(document: &Value, granted: &[S]) -> Value {
    FieldSelection::parse_lenient(granted).apply(document)
}

/// Checks that a grant fits a schema: every granted field exists, and every
/// required field of each object the grant reaches (required under a
/// condition too: the `required` of an `if`'s `then` or `else`) is granted or
/// withholdable.
pub fn check_grant<S: AsRef<str>>(schema: &Value, granted: &[S]) -> Result<(), Vec<FieldError>> {
    let selection = FieldSelection::parse(granted).map_err(|e| vec![e])?;
    let withholdable = withholdable(schema);
    let mut issues = Vec::new();
    check_node(
        schema,
        schema,
        &selection.root,
        String::new(),
        &withholdable,
        0,
        &mut issues,
    );
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

fn check_node(
    root: &Value,
    schema: &Value,
    node: &Node,
    path: String,
    withholdable: &[String],
    depth: usize,
    issues: &mut Vec<FieldError>,
) {
    if node.all || depth > pointer::MAX_REF_DEPTH {
        return;
    }
    // A field required under a condition (`if`/`then`) is required of a
    // grant too: minimising it away would leave a record that fails the
    // condition.
    let required = pointer::required(root, schema)
        .into_iter()
        .chain(pointer::conditionally_required(root, schema));
    for name in required {
        let field = format!("{path}/{}", escape(name));
        if !node.children.contains_key(name) && !withholdable.contains(&field) {
            issues.push(FieldError::RequiredNotGranted { pointer: field });
        }
    }
    for (key, child) in &node.children {
        let field = format!("{path}/{}", escape(key));
        let sub = if key == ANY_ITEM {
            pointer::items(root, schema)
        } else {
            pointer::property(root, schema, key)
        };
        match sub {
            Some(sub) => check_node(root, sub, child, field, withholdable, depth + 1, issues),
            None => issues.push(FieldError::UnknownField { pointer: field }),
        }
    }
}

/// The schema against which minimised records are validated: `schema` with
/// every withholdable field removed from its parent's `required` list.
pub fn withheld_view(schema: &Value) -> Value {
    let mut view = schema.clone();
    if let Some(object) = view.as_object_mut() {
        object.remove(WITHHOLDABLE_KEYWORD);
    }
    for field in withholdable(schema) {
        let Some(mut tokens) = pointer::split(&field) else {
            continue;
        };
        let Some(name) = tokens.pop() else {
            continue;
        };
        for location in parent_locations(schema, &tokens) {
            for list in ["required", "then/required", "else/required"] {
                if let Some(list) = view
                    .pointer_mut(&format!("{location}/{list}"))
                    .and_then(Value::as_array_mut)
                {
                    list.retain(|r| r.as_str() != Some(name.as_str()));
                }
            }
        }
    }
    view
}

/// Schema pointers of the node (and its `$ref` targets) that describes the
/// record value at `tokens`.
fn parent_locations(root: &Value, tokens: &[String]) -> Vec<String> {
    let mut here: (&Value, String) = (root, String::new());
    for token in tokens {
        let next = chain_with_locations(root, here.0, &here.1)
            .into_iter()
            .find_map(|(node, loc)| {
                if token == ANY_ITEM {
                    node.get("items")
                        .filter(|i| i.is_object())
                        .map(|i| (i, format!("{loc}/items")))
                } else {
                    node.get("properties")
                        .and_then(|p| p.get(token.as_str()))
                        .map(|p| (p, format!("{loc}/properties/{}", escape(token))))
                }
            });
        match next {
            Some(found) => here = found,
            None => return Vec::new(),
        }
    }
    chain_with_locations(root, here.0, &here.1)
        .into_iter()
        .map(|(_, loc)| loc)
        .collect()
}

fn chain_with_locations<'a>(
    root: &'a Value,
    node: &'a Value,
    location: &str,
) -> Vec<(&'a Value, String)> {
    let mut out = vec![(node, location.to_owned())];
    let mut current = node;
    while out.len() <= pointer::MAX_REF_DEPTH {
        let Some(target) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| pointer::resolve_local(root, r))
        else {
            break;
        };
        current = target.0;
        out.push(target);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["id", "name", "birthDate", "address"],
            "x-withholdable": ["/birthDate", "/address/box"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "birthDate": {"type": "string", "format": "date"},
                "address": {
                    "type": "object",
                    "required": ["street", "box"],
                    "properties": {
                        "street": {"type": "string"},
                        "box": {"type": "string"},
                        "city": {"type": "string"}
                    }
                },
                "children": {"type": "array", "items": {"$ref": "#/$defs/child"}},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "$defs": {
                "child": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "birthDate": {"type": "string"}}
                }
            }
        })
    }

    fn document() -> Value {
        json!({
            "id": "85073003328",
            "name": "An",
            "birthDate": "1985-07-30",
            "address": {"street": "Rue Haute 1", "box": "3", "city": "Brussel"},
            "children": [
                {"name": "Lotte", "birthDate": "2015-02-01"},
                {"name": "Sam", "birthDate": "2018-11-20"}
            ],
            "tags": ["a", "b"]
        })
    }

    #[test]
    fn lists_nested_fields_through_refs_and_arrays() {
        assert_eq!(
            fields(&schema()),
            [
                "/address",
                "/address/box",
                "/address/city",
                "/address/street",
                "/birthDate",
                "/children",
                "/children/*/birthDate",
                "/children/*/name",
                "/id",
                "/name",
                "/tags",
            ]
        );
    }

    #[test]
    fn a_field_required_under_a_condition_must_be_granted_unless_withholdable() {
        let mut conditional = json!({
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"enum": ["a", "b"]},
                "other": {"type": "string"}
            },
            "if": {"properties": {"kind": {"const": "a"}}},
            "then": {"required": ["other"]}
        });
        assert_eq!(
            check_grant(&conditional, &["/kind"]),
            Err(vec![FieldError::RequiredNotGranted {
                pointer: "/other".into()
            }])
        );
        assert_eq!(check_grant(&conditional, &["/kind", "/other"]), Ok(()));
        conditional[WITHHOLDABLE_KEYWORD] = json!(["/other"]);
        assert_eq!(check_grant(&conditional, &["/kind"]), Ok(()));
        assert_eq!(withheld_view(&conditional)["then"]["required"], json!([]));
    }

    #[test]
    fn removes_what_is_not_granted() {
        let out = minimize(&document(), &["/id", "/address/street", "/children/*/name"]);
        assert_eq!(
            out,
            json!({
                "id": "85073003328",
                "address": {"street": "Rue Haute 1"},
                "children": [{"name": "Lotte"}, {"name": "Sam"}]
            })
        );
    }

    #[test]
    fn granting_a_parent_grants_all_of_it() {
        let out = minimize(&document(), &["/address", "/address/street", "/tags"]);
        assert_eq!(
            out,
            json!({
                "address": {"street": "Rue Haute 1", "box": "3", "city": "Brussel"},
                "tags": ["a", "b"]
            })
        );
        assert_eq!(minimize(&document(), &[""]), document());
    }

    #[test]
    fn fails_closed_on_odd_grants() {
        let doc = document();
        // not a pointer: grants nothing
        assert_eq!(minimize(&doc, &["id"]), json!({}));
        // a child of a scalar, an array without `*`, a missing field
        assert_eq!(
            minimize(&doc, &["/id/x", "/children/name", "/nothing"]),
            json!({})
        );
        assert!(FieldSelection::parse(&["id"]).is_err());
        let none: [&str; 0] = [];
        assert_eq!(minimize(&doc, &none), json!({}));
    }

    #[test]
    fn checks_grants_against_the_schema() {
        let s = schema();
        assert_eq!(
            check_grant(&s, &["/id", "/name", "/address/street"]),
            Ok(())
        );
        assert_eq!(check_grant(&s, &["/id", "/name", "/address"]), Ok(()));
        assert_eq!(check_grant(&s, &[""]), Ok(()));
        let err = check_grant(&s, &["/id", "/address/city", "/children/*/age"]).unwrap_err();
        assert_eq!(
            err,
            [
                FieldError::RequiredNotGranted {
                    pointer: "/name".into()
                },
                FieldError::RequiredNotGranted {
                    pointer: "/address/street".into()
                },
                // reaching into the items makes their required fields due
                FieldError::RequiredNotGranted {
                    pointer: "/children/*/name".into()
                },
                FieldError::UnknownField {
                    pointer: "/children/*/age".into()
                },
            ]
        );
        assert_eq!(err[0].code(), "field_required_not_granted");
        // a required field inside array items is enforced too
        let err =
            check_grant(&s, &["/id", "/name", "/address", "/children/*/birthDate"]).unwrap_err();
        assert_eq!(
            err,
            [FieldError::RequiredNotGranted {
                pointer: "/children/*/name".into()
            }]
        );
    }

    #[test]
    fn minimised_records_validate_against_the_withheld_view() {
        let s = schema();
        let view = withheld_view(&s);
        assert_eq!(view["required"], json!(["id", "name", "address"]));
        assert_eq!(view["properties"]["address"]["required"], json!(["street"]));
        assert!(view.get(WITHHOLDABLE_KEYWORD).is_none());

        let full = jsonschema::validator_for(&s).unwrap();
        let withheld = jsonschema::validator_for(&view).unwrap();
        let doc = document();
        assert!(full.is_valid(&doc));
        let grant = ["/id", "/name", "/address/street"];
        check_grant(&s, &grant).unwrap();
        let out = minimize(&doc, &grant);
        assert!(!full.is_valid(&out));
        assert!(withheld.is_valid(&out));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_grant() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            prop::collection::vec(prop_oneof!["[a-c]", Just("*".to_owned())], 0..4)
                .prop_map(|t| t.iter().map(|s| format!("/{s}")).collect::<String>()),
            0..5,
        )
    }

    /// Every value of `small` is found at the same place in `big`.
    fn is_subset(small: &Value, big: &Value) -> bool {
        match (small, big) {
            (Value::Object(s), Value::Object(b)) => s
                .iter()
                .all(|(k, v)| b.get(k).is_some_and(|bv| is_subset(v, bv))),
            (Value::Array(s), Value::Array(b)) => {
                s.len() <= b.len() && s.iter().all(|v| b.iter().any(|bv| is_subset(v, bv)))
            }
            _ => small == big,
        }
    }

    proptest! {
        #[test]
        fn minimising_only_removes_and_is_idempotent(doc in arb_json(), grant in arb_grant()) {
            let once = minimize(&doc, &grant);
            if doc.is_object() {
                prop_assert!(is_subset(&once, &doc), "{once} not within {doc}");
                prop_assert_eq!(minimize(&once, &grant), once);
            }
        }

        #[test]
        fn granting_everything_keeps_everything(doc in arb_json(), grant in arb_grant()) {
            let mut all = grant;
            all.push(String::new());
            prop_assert_eq!(minimize(&doc, &all), doc);
        }
    }
}
