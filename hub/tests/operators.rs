//! Operator credentials on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use hub::dev::testing::TestApp;
use hub::services::operators::{authenticate, issue};
use hub::storage_test;
use hub::store::operators;

storage_test!(issue_authenticate_revoke, |app: TestApp| async move {
    let mut conn = app.conn();
    let now = app.clock.now();
    let issued = issue(&mut conn, "Alice Operator", now).unwrap();
    assert!(issued.token.starts_with("crop_"));
    let caller = authenticate(&mut conn, &issued.token).unwrap().unwrap();
    assert_eq!(caller.id, issued.id);
    assert_eq!(caller.name, "Alice Operator");

    // Only a digest is stored.
    let rows = operators::list(&mut conn).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].token_digest.contains(&issued.token));

    assert!(authenticate(&mut conn, "crop_wrong").unwrap().is_none());
    assert!(
        authenticate(&mut conn, "not-even-a-token")
            .unwrap()
            .is_none()
    );
    assert!(operators::revoke(&mut conn, &issued.id, now).unwrap());
    assert!(authenticate(&mut conn, &issued.token).unwrap().is_none());
    assert!(!operators::revoke(&mut conn, &issued.id, now).unwrap());
    assert!(issue(&mut conn, "   ", now).is_err());
});
