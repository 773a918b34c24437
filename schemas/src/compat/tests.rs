use super::*;
use proptest::prelude::*;
use serde_json::json;

/// A previous version with a bit of everything.
fn base() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["id", "address"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]{11}$"},
            "status": {"type": "string", "enum": ["active", "ended"]},
            "amount": {"type": "number", "minimum": 0, "maximum": 10000, "exclusiveMaximum": 20000},
            "count": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 2},
            "note": {"type": "string", "minLength": 1, "maxLength": 200},
            "since": {"type": "string"},
            "kind": {"type": "string"},
            "address": {
                "type": "object",
                "required": ["street"],
                "properties": {
                    "street": {"type": "string"},
                    "postcode": {"type": "string", "pattern": "^[0-9]{4}$"}
                }
            },
            "members": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {"$ref": "#/$defs/member"}
            },
            "meta": {"type": "object", "additionalProperties": {"type": "string"}}
        },
        "$defs": {
            "member": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "role": {"type": "string", "enum": ["child", "partner"]}
                }
            }
        }
    })
}

/// `base()` with `edit` applied to the value at `pointer`.
fn with(pointer: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut schema = base();
    edit(
        schema
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")),
    );
    schema
}

fn set(pointer: &str, key: &str, value: Value) -> Value {
    with(pointer, |v| {
        v.as_object_mut().unwrap().insert(key.into(), value);
    })
}

fn remove(pointer: &str, key: &str) -> Value {
    with(pointer, |v| {
        v.as_object_mut().unwrap().remove(key);
    })
}

#[track_caller]
fn refused(next: Value, pointer: &str, rule: ViolationKind) {
    let violations = check_compatible(&base(), &next).expect_err("should be refused");
    assert_eq!(
        violations
            .iter()
            .map(|v| (v.pointer.as_str(), v.rule))
            .collect::<Vec<_>>(),
        [(pointer, rule)],
        "{violations:#?}"
    );
}

#[track_caller]
fn accepted(next: Value) {
    assert_eq!(check_compatible(&base(), &next), Ok(()));
}

#[test]
fn identical_schemas_are_compatible() {
    accepted(base());
}

#[test]
fn required_fields() {
    refused(
        set("", "required", json!(["id"])),
        "/required",
        ViolationKind::RequiredRemoved,
    );
    refused(
        set("/properties/address", "required", json!([])),
        "/properties/address/required",
        ViolationKind::RequiredRemoved,
    );
    refused(
        set("", "required", json!(["id", "address", "since"])),
        "/required",
        ViolationKind::RequiredAdded,
    );
    // the same set in another order is fine
    accepted(set("", "required", json!(["address", "id"])));
}

#[test]
fn properties() {
    refused(
        with("/properties", |p| {
            p.as_object_mut().unwrap().remove("note");
        }),
        "/properties/note",
        ViolationKind::PropertyRemoved,
    );
    refused(
        with("/properties/address/properties", |p| {
            p.as_object_mut().unwrap().remove("postcode");
        }),
        "/properties/address/properties/postcode",
        ViolationKind::PropertyRemoved,
    );
    // adding an optional property, at the top and nested
    accepted(set(
        "/properties",
        "nickname",
        json!({"type": "string", "description": "x"}),
    ));
    accepted(set(
        "/properties/address/properties",
        "box",
        json!({"type": "string"}),
    ));
    // adding a required property is not
    let mut next = set("/properties", "nickname", json!({"type": "string"}));
    next["required"] = json!(["id", "address", "nickname"]);
    let v = check_compatible(&base(), &next).unwrap_err();
    assert_eq!(v[0].rule, ViolationKind::RequiredAdded);
}

#[test]
fn types() {
    refused(
        set("/properties/since", "type", json!("integer")),
        "/properties/since/type",
        ViolationKind::TypeChanged,
    );
    refused(
        set("/properties/amount", "type", json!("integer")),
        "/properties/amount/type",
        ViolationKind::TypeChanged,
    );
    refused(
        set("/properties/kind", "type", json!([])),
        "/properties/kind/type",
        ViolationKind::TypeChanged,
    );
    // a type added where there was none narrows
    refused(
        set(
            "/properties/meta/additionalProperties",
            "type",
            json!("number"),
        ),
        "/properties/meta/additionalProperties/type",
        ViolationKind::TypeChanged,
    );
    // widening is fine
    accepted(set("/properties/count", "type", json!("number")));
    accepted(set("/properties/since", "type", json!(["string", "null"])));
    accepted(remove("/properties/since", "type"));
}

#[test]
fn enums_and_consts() {
    refused(
        set("/properties/status", "enum", json!(["active"])),
        "/properties/status/enum",
        ViolationKind::EnumValueRemoved,
    );
    refused(
        set("/properties/kind", "enum", json!(["a", "b"])),
        "/properties/kind/enum",
        ViolationKind::EnumAdded,
    );
    refused(
        set("/properties/kind", "const", json!("a")),
        "/properties/kind/const",
        ViolationKind::ConstAdded,
    );
    accepted(set(
        "/properties/status",
        "enum",
        json!(["active", "ended", "suspended"]),
    ));
    accepted(remove("/properties/status", "enum"));
}

#[test]
fn numeric_bounds() {
    let cases = [
        (
            "/properties/amount",
            "minimum",
            json!(1),
            json!(-1),
            ViolationKind::MinimumTightened,
        ),
        (
            "/properties/amount",
            "maximum",
            json!(9999.5),
            json!(10001),
            ViolationKind::MaximumTightened,
        ),
        (
            "/properties/count",
            "exclusiveMinimum",
            json!(1),
            json!(-5),
            ViolationKind::ExclusiveMinimumTightened,
        ),
        (
            "/properties/amount",
            "exclusiveMaximum",
            json!(15000),
            json!(30000),
            ViolationKind::ExclusiveMaximumTightened,
        ),
        (
            "/properties/note",
            "minLength",
            json!(2),
            json!(0),
            ViolationKind::MinLengthTightened,
        ),
        (
            "/properties/note",
            "maxLength",
            json!(100),
            json!(500),
            ViolationKind::MaxLengthTightened,
        ),
        (
            "/properties/members",
            "minItems",
            json!(2),
            json!(0),
            ViolationKind::MinItemsTightened,
        ),
        (
            "/properties/members",
            "maxItems",
            json!(10),
            json!(30),
            ViolationKind::MaxItemsTightened,
        ),
    ];
    for (at, key, tighter, looser, rule) in cases {
        refused(set(at, key, tighter), &format!("{at}/{key}"), rule);
        accepted(set(at, key, looser));
        accepted(remove(at, key));
    }
    // a bound added where there was none tightens
    refused(
        set("/properties/since", "maxLength", json!(10)),
        "/properties/since/maxLength",
        ViolationKind::MaxLengthTightened,
    );
    refused(
        set("/properties/meta", "minProperties", json!(1)),
        "/properties/meta/minProperties",
        ViolationKind::MinPropertiesTightened,
    );
    refused(
        set("/properties/members", "uniqueItems", json!(true)),
        "/properties/members/uniqueItems",
        ViolationKind::UniqueItemsAdded,
    );
    refused(
        set("/properties/count", "multipleOf", json!(4)),
        "/properties/count/multipleOf",
        ViolationKind::MultipleOfChanged,
    );
    accepted(set("/properties/count", "multipleOf", json!(1)));
}

#[test]
fn patterns_and_formats() {
    refused(
        set("/properties/id", "pattern", json!("^[0-9]{12}$")),
        "/properties/id/pattern",
        ViolationKind::PatternChanged,
    );
    refused(
        set("/properties/since", "pattern", json!("^2")),
        "/properties/since/pattern",
        ViolationKind::PatternChanged,
    );
    refused(
        set("/properties/since", "format", json!("date")),
        "/properties/since/format",
        ViolationKind::FormatChanged,
    );
    accepted(remove("/properties/id", "pattern"));
    let dated = set("/properties/since", "format", json!("date"));
    let changed = {
        let mut s = dated.clone();
        s["properties"]["since"]["format"] = json!("date-time");
        s
    };
    let v = check_compatible(&dated, &changed).unwrap_err();
    assert_eq!(v[0].rule, ViolationKind::FormatChanged);
    assert_eq!(v[0].pointer, "/properties/since/format");
    assert_eq!(check_compatible(&dated, &base()), Ok(()));
}

#[test]
fn additional_properties() {
    refused(
        set("", "additionalProperties", json!(false)),
        "/additionalProperties",
        ViolationKind::AdditionalPropertiesClosed,
    );
    refused(
        set(
            "/properties/address",
            "additionalProperties",
            json!({"type": "string"}),
        ),
        "/properties/address/additionalProperties",
        ViolationKind::AdditionalPropertiesClosed,
    );
    // a schema for additional properties is compared like any schema
    refused(
        set(
            "/properties/meta/additionalProperties",
            "maxLength",
            json!(3),
        ),
        "/properties/meta/additionalProperties/maxLength",
        ViolationKind::MaxLengthTightened,
    );
    accepted(set("", "additionalProperties", json!(true)));
    accepted(set("/properties/meta", "additionalProperties", json!(true)));
    // opening a closed object is fine, and so is adding a property to it
    let closed = set("", "additionalProperties", json!(false));
    assert_eq!(check_compatible(&closed, &base()), Ok(()));
}

#[test]
fn refs_and_items_are_followed() {
    refused(
        set("/$defs/member/properties/role", "enum", json!(["child"])),
        "/$defs/member/properties/role/enum",
        ViolationKind::EnumValueRemoved,
    );
    refused(
        with("/$defs/member/properties", |p| {
            p.as_object_mut().unwrap().remove("role");
        }),
        "/$defs/member/properties/role",
        ViolationKind::PropertyRemoved,
    );
    // the same item schema inlined instead of referenced is compatible
    let member = base()["$defs"]["member"].clone();
    accepted(set("/properties/members", "items", member.clone()));
    // an inlined item schema changed is reported at its inline place
    let mut narrowed = member;
    narrowed["properties"]["id"]["minLength"] = json!(11);
    refused(
        set("/properties/members", "items", narrowed),
        "/properties/members/items/properties/id/minLength",
        ViolationKind::MinLengthTightened,
    );
    // items constrained where any item was allowed
    let v = check_compatible(
        &json!({"type": "array"}),
        &json!({"type": "array", "items": {"type": "string"}}),
    )
    .unwrap_err();
    assert_eq!(v[0].pointer, "/items/type");
    assert_eq!(v[0].rule, ViolationKind::TypeChanged);
}

#[test]
fn remote_refs_and_opaque_keywords() {
    let remote = |uri: &str| set("/properties", "home", json!({"$ref": uri}));
    let before = remote("https://crossroads.example/schemas/person.address/1.0");
    assert_eq!(check_compatible(&before, &before.clone()), Ok(()));
    let v = check_compatible(
        &before,
        &remote("https://crossroads.example/schemas/person.address/2.0"),
    )
    .unwrap_err();
    assert_eq!(v[0].pointer, "/properties/home/$ref");
    assert_eq!(v[0].rule, ViolationKind::ReferenceChanged);

    refused(
        set("/properties/kind", "anyOf", json!([{"minLength": 2}])),
        "/properties/kind/anyOf",
        ViolationKind::KeywordChanged,
    );
    let with_if = set("/properties/kind", "not", json!({"const": "x"}));
    assert_eq!(check_compatible(&with_if, &base()), Ok(()));
    refused(
        set("/properties", "kind", json!(false)),
        "/properties/kind",
        ViolationKind::SchemaClosed,
    );
}

#[test]
fn recursive_schemas_terminate() {
    let tree = json!({
        "$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
        "$ref": "#/$defs/node"
    });
    assert_eq!(check_compatible(&tree, &tree), Ok(()));
}

#[test]
fn codes_are_snake_case() {
    let v = check_compatible(&base(), &set("", "required", json!(["id"]))).unwrap_err();
    assert_eq!(
        serde_json::to_value(&v[0]).unwrap(),
        json!({"pointer": "/required", "rule": "required_removed", "detail": "\"address\" is no longer required"})
    );
}

#[test]
fn publish_rules() {
    let v1_0 = base();
    let v1_1 = set("/properties", "nickname", json!({"type": "string"}));
    let breaking = set("", "required", json!(["id"]));
    let published = [(Version::new(1, 0), &v1_0), (Version::new(1, 1), &v1_1)];

    assert_eq!(check_publish(&[], (Version::new(1, 0), &v1_0)), Ok(()));
    assert_eq!(
        check_publish(&published[..1], (Version::new(1, 1), &v1_1)),
        Ok(())
    );
    // a compatible minor after the latest
    assert_eq!(
        check_publish(&published, (Version::new(1, 2), &v1_1)),
        Ok(())
    );
    // a breaking minor is checked against the latest minor of its major
    let err = check_publish(&published, (Version::new(1, 2), &breaking)).unwrap_err();
    assert_eq!(err.code(), "version_incompatible");
    assert!(
        matches!(err, PublishError::Incompatible { previous, .. } if previous == Version::new(1, 1))
    );
    // a new major may break
    assert_eq!(
        check_publish(&published, (Version::new(2, 0), &breaking)),
        Ok(())
    );
    let err = check_publish(&published, (Version::new(2, 1), &breaking)).unwrap_err();
    assert_eq!(err.code(), "major_must_start_at_zero");
    let err = check_publish(&published, (Version::new(1, 1), &v1_1)).unwrap_err();
    assert_eq!(err.code(), "version_already_published");
    let err = check_publish(&published[1..], (Version::new(1, 0), &v1_0)).unwrap_err();
    assert_eq!(err.code(), "version_not_increasing");
    let later = [(Version::new(3, 0), &v1_0)];
    let err = check_publish(&later, (Version::new(2, 0), &v1_0)).unwrap_err();
    assert_eq!(err.code(), "major_not_increasing");
}

proptest! {
    #[test]
    fn length_bounds_follow_their_direction(before in 0u64..50, after in 0u64..50) {
        let prev = json!({"type": "string", "minLength": before, "maxLength": before + 50});
        let next = json!({"type": "string", "minLength": after, "maxLength": after + 50});
        let result = check_compatible(&prev, &next);
        if after == before {
            prop_assert_eq!(result, Ok(()));
        } else {
            let rules: Vec<_> = result.unwrap_err().into_iter().map(|v| v.rule).collect();
            let expected = if after > before { ViolationKind::MinLengthTightened } else { ViolationKind::MaxLengthTightened };
            prop_assert_eq!(rules, vec![expected]);
        }
    }

    #[test]
    fn enum_growth_is_compatible_and_shrinking_is_not(values in prop::collection::btree_set("[a-z]{1,3}", 1..6), extra in "[A-Z]{1,3}") {
        let values: Vec<_> = values.into_iter().collect();
        let prev = json!({"enum": values});
        let mut grown = values.clone();
        grown.push(extra);
        prop_assert_eq!(check_compatible(&prev, &json!({"enum": grown})), Ok(()));
        let shrunk = &values[1..];
        let result = check_compatible(&prev, &json!({"enum": shrunk}));
        prop_assert_eq!(result.map_err(|v| v.len()), Err(1));
    }
}
