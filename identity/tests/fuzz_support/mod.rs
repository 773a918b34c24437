//! Shared by the fuzz targets of `identity`, `audit` and `schemas`: byte
//! edits that turn a valid seed into a nearby input, and the readers of the
//! checked-in seeds and regression inputs.
//!
//! A target runs as an ordinary test for bolero's default time (one second
//! of generated inputs); `BOLERO_RANDOM_TEST_TIME_MS` or
//! `BOLERO_RANDOM_ITERATIONS` make it run longer (see `docs/security.md`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// One edit: an operation, a position and a byte, all taken modulo what
/// fits the input.
pub type Edit = (u8, u16, u8);

/// What a mutated-seed target draws: which seed, how many edits, the edits.
pub type SeedEdits = (u8, u8, Vec<Edit>);

/// Bytes that matter to the formats under test (JSON, JWS, notes, paths).
const INTERESTING: &[u8] = b"\"\\{}[],:.-+/_=0123456789eExp \n\t\x00\x7f\xc3\xff";

/// At most this many edits are applied, so most inputs stay close to a
/// valid seed and reach the checks behind the parser.
const MAX_EDITS: usize = 4;

/// `seed` with up to [`MAX_EDITS`] of `edits` applied.
pub fn mutate(seed: &[u8], count: u8, edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for &(op, at, byte) in edits.iter().take(usize::from(count) % (MAX_EDITS + 1)) {
        let at = usize::from(at) % (out.len() + 1);
        let inside = at < out.len();
        match op % 6 {
            0 if inside => out[at] = byte,
            1 => out.insert(at, byte),
            2 if inside => {
                out.remove(at);
            }
            3 if inside => out[at] ^= 1 << (byte % 8),
            4 => {
                let end = (at + usize::from(byte % 16)).min(out.len());
                let chunk = out[at..end].to_vec();
                out.splice(end..end, chunk);
            }
            5 => out.insert(at, INTERESTING[usize::from(byte) % INTERESTING.len()]),
            _ => {}
        }
    }
    out
}

/// The seed `pick` selects, with the edits applied.
pub fn mutate_seed(seeds: &[Vec<u8>], input: &SeedEdits) -> Vec<u8> {
    let (pick, count, edits) = input;
    let seed = &seeds[usize::from(*pick) % seeds.len()];
    mutate(seed, *count, edits)
}

/// The files of `dir`, sorted by name, with their contents.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// The checked-in seeds of `target`: `tests/fuzz-seeds/<target>/*`.
pub fn seeds(manifest_dir: &str, target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(manifest_dir)
        .join("tests/fuzz-seeds")
        .join(target);
    let seeds: Vec<Vec<u8>> = files(&dir).into_iter().map(|(_, b)| b).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Runs `property` on every checked-in regression input of `target`
/// (`tests/fuzz-regressions/<target>/*`) and on every seed; returns how
/// many inputs ran.
pub fn replay(manifest_dir: &str, target: &str, mut property: impl FnMut(&[u8])) -> usize {
    let root = PathBuf::from(manifest_dir).join("tests");
    let mut ran = 0;
    for dir in ["fuzz-regressions", "fuzz-seeds"] {
        for (name, bytes) in files(&root.join(dir).join(target)) {
            eprintln!("{dir}/{target}/{name}");
            property(&bytes);
            ran += 1;
        }
    }
    ran
}
