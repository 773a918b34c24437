//! The OpenAPI document is snapshotted, so every change to the API shows up
//! as a reviewed diff of `hub/tests/snapshots/openapi__document.snap`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

#[test]
fn document() {
    let doc = serde_json::to_value(hub::api::document()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    insta::assert_json_snapshot!(doc);
}
