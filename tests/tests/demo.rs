//! `crossroads demo --exit` tells the whole story and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use e2e::crossroads;

#[test]
fn the_demo_tells_the_whole_story() {
    let dir = tempfile::tempdir().unwrap();
    let out = crossroads()
        .current_dir(dir.path())
        .env("CROSSROADS_LISTEN", "127.0.0.1:0")
        .args(["demo", "--exit"])
        .output()
        .unwrap();
    let story = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{story}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let permitted = story.matches("  permitted — exchange exc-").count();
    let refused = story.matches("  refused — exchange exc-").count();
    assert_eq!((permitted, refused), (2, 2), "{story}");
    assert!(story.contains("403 consent_required"), "{story}");
    assert!(story.contains("403 consent_revoked"), "{story}");
    assert_eq!(story.matches(" 200 — exchange exc-").count(), 4, "{story}");
    assert!(story.contains("Verified {"), "{story}");
    assert!(
        story.contains("common ID") && story.contains("with password"),
        "{story}"
    );
    // The minimised address has no box number; the income has no breakdown.
    assert!(!story.contains("\"box\""), "{story}");
    assert!(!story.contains("incomeByCategory"), "{story}");
}
