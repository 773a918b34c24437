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
    // Anna moves: the register publishes, the subscribed agency is told on
    // its long poll (in tens of milliseconds; the bound leaves room for a
    // loaded machine), minimised to its grant.
    assert!(
        story.contains("subscribes to changes of person.address@1 (pull): sub-"),
        "{story}"
    );
    assert!(
        story.contains("POST /v1/changes: 202 — change chg-"),
        "{story}"
    );
    let told = story
        .lines()
        .find(|l| l.contains("the benefits agency was told in "))
        .unwrap_or_else(|| panic!("{story}"));
    let ms: u64 = told
        .split("told in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{told}"));
    assert!(ms < 5_000, "{told}");
    assert!(told.contains("notification ntf-"), "{told}");
    assert!(
        story.contains("person.address@1.1 updated from BE-0200000001")
            && story.contains("Place Sainte-Croix"),
        "{story}"
    );
    assert!(!story.contains("/address/box"), "{story}");
    assert!(story.contains("Verified {"), "{story}");
    assert!(
        story.contains("common ID") && story.contains("with password"),
        "{story}"
    );
    // The minimised address has no box number; the income has no breakdown.
    assert!(!story.contains("\"box\""), "{story}");
    assert!(!story.contains("incomeByCategory"), "{story}");
}

/// Without `--exit` the demo keeps serving until SIGTERM (or Ctrl-C), then
/// exits 0, as `serve` does.
#[cfg(unix)]
#[test]
fn the_demo_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = crossroads()
        .current_dir(dir.path())
        .env("CROSSROADS_LISTEN", "127.0.0.1:0")
        .arg("demo")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read every line on a thread, so the demo can write until it exits.
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let told = lines
        .iter()
        .any(|line| line.contains("The hub keeps running"));
    assert!(told, "the demo did not reach its end");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
