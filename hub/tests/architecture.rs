//! `docs/architecture.md` matches the tree: each folder it names exists, and
//! each folder of the workspace root and of `hub/src/` is named there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("the hub crate sits in the workspace"))
}

/// Root-level names `.gitignore` ignores (`/name` lines): never part of the
/// tree, whatever a developer's checkout holds.
fn ignored_at_root(root: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root.join(".gitignore")).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix('/'))
        .map(|name| name.trim_end_matches('/').to_owned())
        .collect()
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    found.sort();
    found
}

/// The folders the page must name, relative to the workspace, with a
/// trailing slash: those at the root and every one under `hub/src/`.
fn folders(root: &Path) -> BTreeSet<String> {
    let ignored = ignored_at_root(root);
    let mut out = BTreeSet::new();
    for path in subfolders(root) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == ".git" || ignored.contains(&name) {
            continue;
        }
        out.insert(format!("{name}/"));
    }
    let mut pending = subfolders(&root.join("hub/src"));
    while let Some(dir) = pending.pop() {
        pending.extend(subfolders(&dir));
        let relative = dir
            .strip_prefix(root)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string_lossy()
            .replace('\\', "/");
        out.insert(format!("{relative}/"));
    }
    out
}

/// Every `code span` of the page that names a folder (ends with `/`).
fn named(page: &str) -> BTreeSet<String> {
    page.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.ends_with('/') && !span.contains(' ') && !span.contains("://"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_architecture_page_names_every_folder_and_only_folders_that_exist() {
    let root = workspace();
    let page = std::fs::read_to_string(root.join("docs/architecture.md"))
        .unwrap_or_else(|e| panic!("docs/architecture.md: {e}"));
    let named = named(&page);
    let missing: Vec<&String> = named.iter().filter(|f| !root.join(f).is_dir()).collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md names folders that do not exist: {missing:?}"
    );
    let unnamed: Vec<String> = folders(&root).difference(&named).cloned().collect();
    assert!(
        unnamed.is_empty(),
        "folders missing from docs/architecture.md: {unnamed:?}"
    );
}

#[test]
fn folder_names_are_read_from_code_spans() {
    let spans = named("`hub/src/app/` owns `config.rs`; see `a b/` and `https://x/`");
    assert_eq!(spans, BTreeSet::from(["hub/src/app/".to_owned()]));
}

#[test]
fn the_readme_links_every_page_of_the_docs() {
    let root = workspace();
    let readme = std::fs::read_to_string(root.join("README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    let mut unlinked = Vec::new();
    for entry in std::fs::read_dir(root.join("docs"))
        .unwrap_or_else(|e| panic!("docs: {e}"))
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && !readme.contains(&format!("](docs/{name})")) {
            unlinked.push(name);
        }
    }
    assert!(
        unlinked.is_empty(),
        "pages of docs/ the README does not link: {unlinked:?}"
    );
}
