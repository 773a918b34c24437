//! `crossroads person register|show|merge` as an operator would run them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use e2e::crossroads;

fn run(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = crossroads()
        .env("CROSSROADS_DATA_DIR", data)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn common_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("common ID:"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn register_show_merge() {
    let data = tempfile::tempdir().unwrap();
    let person = [
        "person",
        "register",
        "--given-names",
        "Jan",
        "--family-name",
        "Janssens",
        "--birth-date",
        "1970-02-03",
    ];
    let (ok, out, err) = run(data.path(), &person);
    assert!(ok, "{err}");
    let first = common_id(&out);
    assert!(out.contains("activation code:"), "{out}");

    // The same person again is refused, naming the candidate.
    let (ok, _, err) = run(data.path(), &person);
    assert!(!ok);
    assert!(err.contains(&first.replace(['.', '-'], "")), "{err}");

    let mut distinct = person.to_vec();
    let compact = first.replace(['.', '-'], "");
    distinct.extend(["--distinct-from", &compact]);
    let (ok, out, err) = run(data.path(), &distinct);
    assert!(ok, "{err}");
    let second = common_id(&out);

    let (ok, out, err) = run(data.path(), &["person", "merge", &first, &second]);
    assert!(ok, "{err}");
    assert!(out.contains("now resolves to"), "{out}");
    let (ok, out, err) = run(data.path(), &["person", "show", &second]);
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["id"], compact.as_str());
    assert_eq!(
        shown["resolved_from"],
        second.replace(['.', '-'], "").as_str()
    );
}
