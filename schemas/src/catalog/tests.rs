use super::*;
use crate::fields::{check_grant, minimize};
use serde_json::json;

fn builtin() -> Catalog {
    Catalog::builtin(DEFAULT_BASE_URL).unwrap()
}

fn rt(s: &str) -> RecordType {
    s.parse().unwrap()
}

fn r(s: &str) -> RecordTypeRef {
    s.parse().unwrap()
}

#[test]
fn catalog_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Catalog>();
    assert_send_sync::<Arc<SchemaEntry>>();
}

#[test]
fn embedded_list_matches_the_catalog_directory() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let mut on_disk = Vec::new();
    for name in std::fs::read_dir(&dir).unwrap() {
        let name = name.unwrap();
        for file in std::fs::read_dir(name.path()).unwrap() {
            let file = file.unwrap().file_name().into_string().unwrap();
            let version = file.strip_suffix(".json").expect("only .json files");
            on_disk.push(format!("{}@{version}", name.file_name().to_str().unwrap()));
        }
    }
    on_disk.sort();
    let mut embedded: Vec<String> = crate::embedded::FILES
        .iter()
        .map(|f| format!("{}@{}", f.name, f.version))
        .collect();
    embedded.sort();
    assert_eq!(embedded, on_disk);
}

#[test]
fn builtin_catalog_loads_and_lists_every_version() {
    let catalog = builtin();
    let listed: Vec<String> = catalog.list().iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "employment.current-employer@1.0",
            "health.insurance-coverage@1.0",
            "person.address@1.0",
            "person.address@1.1",
            "person.family-composition@1.0",
            "person.identity@1.0",
            "person.lifecycle@1.0",
            "social.benefit-entitlement@1.0",
            "tax.income-statement@1.0",
        ]
    );
}

#[test]
fn every_schema_is_a_valid_2020_12_schema_and_every_example_validates() {
    let catalog = builtin();
    let mut examples = 0;
    for entry in catalog.entries() {
        let doc = entry.document();
        jsonschema::draft202012::meta::validate(doc)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.record_type()));
        assert_eq!(doc["$schema"], DRAFT_2020_12);
        assert_eq!(lint(doc), [], "{}", entry.record_type());
        assert!(!entry.examples().is_empty());
        for example in entry.examples() {
            assert_eq!(entry.validate(example), Ok(()), "{}", entry.record_type());
            examples += 1;
        }
    }
    assert!(examples >= 8);
}

#[test]
fn every_catalog_entry_has_a_title_in_each_portal_language() {
    let catalog = builtin();
    for entry in catalog.entries() {
        let titles = entry.document()[TITLE_KEYWORD]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no {TITLE_KEYWORD}", entry.record_type()));
        for lang in ["en", "fr", "nl"] {
            let title = titles.get(lang).and_then(Value::as_str).unwrap_or_default();
            assert!(
                !title.trim().is_empty(),
                "{}: no {lang} title",
                entry.record_type()
            );
            assert_eq!(entry.title(lang), Some(title));
            assert_eq!(
                crate::embedded::shipped_title(entry.record_type().name.as_str(), lang),
                Some(title)
            );
        }
        // The keyword is an annotation: the validator accepts it and ignores it.
        assert!(entry.has_localized_titles());
    }
}

#[test]
fn a_title_falls_back_to_english_then_to_the_schema_title() {
    let catalog = builtin();
    let address = catalog.resolve(&r("person.address@1")).unwrap();
    assert_eq!(address.title("en"), Some("Your address"));
    assert_eq!(address.title("fr"), Some("Votre adresse"));
    assert_eq!(address.title("nl"), Some("Uw adres"));
    assert_eq!(address.title("de"), Some("Your address"));
    let mut document = address.document().clone();
    document[TITLE_KEYWORD] = json!({ "en": "Where you live" });
    assert_eq!(title_of(&document, "fr"), Some("Where you live"));
    document.as_object_mut().unwrap().remove(TITLE_KEYWORD);
    assert_eq!(title_of(&document, "fr"), Some("Person address"));
    assert_eq!(crate::embedded::shipped_title("person.unknown", "en"), None);
    assert_eq!(crate::embedded::shipped_title("person.address", "de"), None);
}

#[test]
fn titles_may_change_between_minors_and_appear_after_a_stored_version_without_them() {
    // A hub's stored versions keep the text they were stored with: a
    // person.address@1.1 stored before titles existed, then a 1.2 with them.
    let shipped = builtin();
    let mut untitled = shipped
        .resolve(&r("person.address@1.1"))
        .unwrap()
        .document()
        .clone();
    untitled.as_object_mut().unwrap().remove(TITLE_KEYWORD);
    let mut next = untitled.clone();
    next.as_object_mut().unwrap().remove("$id");
    next[TITLE_KEYWORD] = json!({ "en": "Where you live", "nl": "Waar u woont" });
    let mut catalog = Catalog::new(DEFAULT_BASE_URL).unwrap();
    catalog
        .publish(
            rt("person.address@1.0"),
            shipped
                .resolve(&r("person.address@1.0"))
                .unwrap()
                .document()
                .clone(),
        )
        .unwrap();
    let stored = catalog.publish(rt("person.address@1.1"), untitled).unwrap();
    assert!(!stored.has_localized_titles());
    assert_eq!(stored.title("nl"), Some("Person address"));
    let titled = catalog.publish(rt("person.address@1.2"), next).unwrap();
    assert_eq!(titled.title("nl"), Some("Waar u woont"));
    assert_eq!(titled.title("fr"), Some("Where you live"));
}

#[test]
fn malformed_titles_are_refused_at_publication() {
    let base = builtin()
        .resolve(&r("person.identity@1.0"))
        .unwrap()
        .document()
        .clone();
    for (titles, pointer) in [
        (json!("Your identity"), "/x-title"),
        (json!({ "fr": "Votre identité" }), "/x-title"),
        (json!({ "en": "" }), "/x-title/en"),
        (json!({ "en": "Your identity", "nl": 3 }), "/x-title/nl"),
        (
            json!({ "en": "Your identity", "FR-be": "Votre identité" }),
            "/x-title/FR-be",
        ),
    ] {
        let mut document = base.clone();
        document[TITLE_KEYWORD] = titles.clone();
        let problems = lint(&document);
        assert!(
            problems.iter().any(|p| p.pointer == pointer),
            "{titles}: {problems:?}"
        );
        let mut catalog = Catalog::new(DEFAULT_BASE_URL).unwrap();
        let err = catalog
            .publish(rt("person.identity@1.0"), document)
            .unwrap_err();
        assert_eq!(err.code(), "schema_invalid", "{titles}");
    }
}

#[test]
fn a_lifecycle_event_names_the_survivor_of_a_merge() {
    let catalog = builtin();
    let lifecycle = catalog.resolve(&r("person.lifecycle@1")).unwrap();
    assert_eq!(lifecycle.record_type(), &rt("person.lifecycle@1.0"));
    let merged = json!({
        "commonId": "85073003328",
        "event": "merged",
        "survivorCommonId": "85073012345",
        "effectiveDate": "2026-12-01"
    });
    assert_eq!(lifecycle.validate(&merged), Ok(()));

    let mut no_survivor = merged.clone();
    no_survivor
        .as_object_mut()
        .unwrap()
        .remove("survivorCommonId");
    let issues = lifecycle.validate(&no_survivor).unwrap_err();
    assert!(
        issues.iter().any(|i| i.schema_path.starts_with("/then")),
        "{issues:?}"
    );
    for event in ["deceased", "inactive", "reactivated"] {
        let mut other = no_survivor.clone();
        other["event"] = json!(event);
        assert_eq!(lifecycle.validate(&other), Ok(()), "{event}");
    }
    for (pointer, bad) in [
        ("/event", json!("born")),
        ("/commonId", json!("8507300332")),
        ("/effectiveDate", json!("2026-13-01")),
        ("/note", json!("")),
        ("/extra", json!(true)),
    ] {
        let mut record = merged.clone();
        record[pointer.trim_start_matches('/')] = bad;
        assert!(lifecycle.validate(&record).is_err(), "{pointer}");
    }
    // A grant must include the survivor, required under a condition: a
    // record minimised without it would fail the schema.
    let without_survivor = ["/commonId", "/event", "/effectiveDate"];
    let refused = check_grant(lifecycle.document(), &without_survivor).unwrap_err();
    assert_eq!(
        refused,
        [crate::FieldError::RequiredNotGranted {
            pointer: "/survivorCommonId".into()
        }]
    );
    let with_survivor = ["/commonId", "/event", "/effectiveDate", "/survivorCommonId"];
    assert_eq!(check_grant(lifecycle.document(), &with_survivor), Ok(()));
    let kept = minimize(&merged, &with_survivor);
    assert_eq!(lifecycle.validate_minimized(&kept), Ok(()));
    // Only the note is optional besides the survivor.
    assert_eq!(
        lifecycle.fields(),
        [
            "/commonId",
            "/effectiveDate",
            "/event",
            "/note",
            "/survivorCommonId"
        ]
    );
}

#[test]
fn address_1_1_is_a_compatible_minor_of_1_0() {
    let catalog = builtin();
    let name = RecordTypeName::parse("person.address").unwrap();
    let v1_0 = catalog.get(&name, Version::new(1, 0)).unwrap();
    let v1_1 = catalog.get(&name, Version::new(1, 1)).unwrap();
    assert_eq!(
        crate::check_compatible(v1_0.document(), v1_1.document()),
        Ok(())
    );
    // going back would remove the new property
    let back = crate::check_compatible(v1_1.document(), v1_0.document()).unwrap_err();
    assert_eq!(
        back[0].pointer,
        "/properties/address/properties/municipalityCode"
    );
    // a 1.0 record is a valid 1.1 record
    for example in v1_0.examples() {
        assert_eq!(v1_1.validate(example), Ok(()));
    }
}

#[test]
fn base_url_is_a_parameter() {
    let catalog = Catalog::builtin("https://hub.gov.example/api/schemas/").unwrap();
    assert_eq!(catalog.base_url(), "https://hub.gov.example/api/schemas");
    let entry = catalog.resolve(&r("person.address@1")).unwrap();
    assert_eq!(
        entry.id(),
        "https://hub.gov.example/api/schemas/person.address/1.1"
    );
    assert_eq!(
        builtin().resolve(&r("person.address@1.0")).unwrap().id(),
        "https://crossroads.example/schemas/person.address/1.0"
    );
    for bad in ["", "ftp://x", "https://", "https://x/?a=1", "hub.example"] {
        assert_eq!(
            Catalog::new(bad).unwrap_err().code(),
            "schema_base_url_invalid",
            "{bad}"
        );
    }
}

#[test]
fn resolves_latest_and_exact_versions() {
    let catalog = builtin();
    let name = RecordTypeName::parse("person.address").unwrap();
    assert_eq!(
        catalog.latest(&name, 1).unwrap().record_type(),
        &rt("person.address@1.1")
    );
    assert!(catalog.latest(&name, 2).is_none());
    assert_eq!(
        catalog
            .resolve(&r("person.address@1.0"))
            .unwrap()
            .record_type(),
        &rt("person.address@1.0")
    );
    assert_eq!(
        catalog.resolve(&r("person.address@2")).unwrap_err().code(),
        "record_type_version_unknown"
    );
    assert_eq!(
        catalog
            .resolve(&r("person.shoe-size@1"))
            .unwrap_err()
            .code(),
        "record_type_unknown"
    );
}

#[test]
fn validation_reports_issues_without_record_values() {
    let catalog = builtin();
    let record = json!({
        "commonId": "secret-123",
        "addressType": "castle",
        "since": "2019-02-30",
        "address": {"street": "Rue de la Loi", "houseNumber": "16", "postcode": "1000",
                    "municipality": "Bruxelles", "country": "BE", "floor": 3}
    });
    let err = catalog
        .validate(&r("person.address@1"), &record)
        .unwrap_err();
    assert_eq!(err.code(), "record_invalid");
    let CatalogError::InvalidRecord {
        record_type,
        issues,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(record_type, rt("person.address@1.1"));
    let mut paths: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| (i.instance_path.as_str(), i.schema_path.as_str()))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("/address", "/properties/address/additionalProperties"),
            ("/addressType", "/properties/addressType/enum"),
            ("/commonId", "/properties/commonId/pattern"),
            ("/since", "/properties/since/format"),
        ]
    );
    for issue in &issues {
        assert!(!issue.message.contains("secret-123"), "{}", issue.message);
        assert!(!issue.message.contains("castle"), "{}", issue.message);
    }
    let ok = &catalog.resolve(&r("person.address@1")).unwrap().examples()[0];
    assert_eq!(
        catalog.validate(&r("person.address@1"), ok),
        Ok(&rt("person.address@1.1"))
    );
}

#[test]
fn validate_then_minimise_then_check_the_withheld_view() {
    let catalog = builtin();
    let entry = catalog.resolve(&r("person.family-composition@1")).unwrap();
    let answer = entry.examples()[0].clone();
    let grant = [
        "/commonId",
        "/asOf",
        "/householdSize",
        "/members/*/commonId",
        "/members/*/relationship",
    ];
    // the grant leaves out a required field, which is declared withholdable
    assert_eq!(check_grant(entry.document(), &grant), Ok(()));
    assert_eq!(entry.validate(&answer), Ok(()));
    let out = minimize(&answer, &grant);
    assert_eq!(
        out["members"][1],
        json!({"commonId": "83021504417", "relationship": "legal-cohabitant"})
    );
    assert!(entry.validate(&out).is_err());
    assert_eq!(entry.validate_minimized(&out), Ok(()));
    // a grant leaving out a required field that is not withholdable is refused
    let err = check_grant(entry.document(), &["/commonId", "/members"]).unwrap_err();
    assert_eq!(err.len(), 2);
    assert_eq!(entry.withholdable(), ["/members/*/birthDate"]);
    assert!(entry.fields().contains(&"/members/*/givenName".to_owned()));
}

fn schema(name: &str, version: &str) -> Value {
    json!({
        "$schema": DRAFT_2020_12,
        "$id": format!("https://elsewhere.example/schemas/{name}/{version}"),
        "title": "Test",
        "description": "A test record type.",
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"description": "Identifier.", "type": "string"}},
        "examples": [{"id": "a"}]
    })
}

#[test]
fn publish_checks_documents() {
    let mut catalog = Catalog::new("https://hub.example").unwrap();
    let t = rt("test.thing@1.0");
    let entry = catalog
        .publish(t.clone(), schema("test.thing", "1.0"))
        .unwrap();
    assert_eq!(entry.id(), "https://hub.example/test.thing/1.0");

    let code = |catalog: &mut Catalog, t: &str, doc: Value| {
        catalog.publish(rt(t), doc).unwrap_err().code()
    };
    // $id must name the version
    assert_eq!(
        code(&mut catalog, "test.thing@1.1", schema("test.thing", "1.0")),
        "schema_invalid"
    );
    // not a 2020-12 schema
    let mut bad = schema("test.thing", "1.1");
    bad["properties"]["id"]["type"] = json!("text");
    assert_eq!(code(&mut catalog, "test.thing@1.1", bad), "schema_invalid");
    // undescribed property
    let mut bad = schema("test.thing", "1.1");
    bad["properties"]["x"] = json!({"type": "string"});
    let err = catalog.publish(rt("test.thing@1.1"), bad).unwrap_err();
    let CatalogError::InvalidSchema { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problems[0].pointer, "/properties/x");
    // unknown withholdable field
    let mut bad = schema("test.thing", "1.1");
    bad["x-withholdable"] = json!(["/nope"]);
    assert_eq!(code(&mut catalog, "test.thing@1.1", bad), "schema_invalid");
    // an example that does not validate
    let mut bad = schema("test.thing", "1.1");
    bad["examples"] = json!([{"id": 1}]);
    assert_eq!(
        code(&mut catalog, "test.thing@1.1", bad),
        "schema_example_invalid"
    );
    // an incompatible minor, then the same change as a new major
    let mut breaking = schema("test.thing", "1.1");
    breaking["properties"]["id"]["maxLength"] = json!(3);
    assert_eq!(
        code(&mut catalog, "test.thing@1.1", breaking.clone()),
        "version_incompatible"
    );
    breaking["$id"] = json!("https://elsewhere.example/schemas/test.thing/2.0");
    catalog.publish(rt("test.thing@2.0"), breaking).unwrap();
    assert_eq!(
        code(&mut catalog, "test.thing@2.0", schema("test.thing", "2.0")),
        "version_already_published"
    );
    assert_eq!(catalog.list().len(), 2);
}

#[test]
fn refs_resolve_inside_the_catalog_only() {
    let mut catalog = Catalog::new(DEFAULT_BASE_URL).unwrap();
    catalog
        .publish(rt("test.thing@1.0"), schema("test.thing", "1.0"))
        .unwrap();
    let mut holder = schema("test.holder", "1.0");
    holder["properties"]["thing"] = json!({
        "description": "A thing, by reference to another catalog schema.",
        "$ref": "https://crossroads.example/schemas/test.thing/1.0"
    });
    holder["examples"] = json!([{"id": "h", "thing": {"id": "t"}}]);
    let entry = catalog
        .publish(rt("test.holder@1.0"), holder.clone())
        .unwrap();
    assert!(
        entry
            .validate(&json!({"id": "h", "thing": {"id": 5}}))
            .is_err()
    );

    let mut remote = schema("test.remote", "1.0");
    remote["properties"]["thing"] = json!({
        "description": "Somewhere on the internet.",
        "$ref": "https://json.schemastore.org/package.json"
    });
    let err = catalog.publish(rt("test.remote@1.0"), remote).unwrap_err();
    assert_eq!(err.code(), "schema_compile_failed");
    assert!(err.to_string().contains("never fetched"), "{err}");

    // refs to the default base follow the catalog to its own base URL
    let mut rebased = Catalog::new("https://hub.example/s").unwrap();
    rebased
        .publish(rt("test.thing@1.0"), schema("test.thing", "1.0"))
        .unwrap();
    let entry = rebased.publish(rt("test.holder@1.0"), holder).unwrap();
    assert_eq!(
        entry.document()["properties"]["thing"]["$ref"],
        "https://hub.example/s/test.thing/1.0"
    );
}
