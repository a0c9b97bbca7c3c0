//! Replays the cargo-fuzz corpus (`fuzz/corpus/<target>/`) through the same
//! entry points the fuzz targets call, on stable and in seconds: every input
//! that ever mattered (the library, the docs' inventory, real journals, and
//! any crash a campaign found, added after its fix) stays a regression.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = drlab_tests::root().join("fuzz/corpus").join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{} is empty", dir.display());
    v
}

#[test]
fn scenario_corpus() {
    for p in corpus("scenario") {
        let bytes = std::fs::read(&p).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            drlab_sim::fuzz_scenario(text);
        }
    }
}

#[test]
fn inventory_corpus() {
    for p in corpus("inventory") {
        let bytes = std::fs::read(&p).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            drlab_real::inventory::fuzz_inventory(text);
        }
    }
}

#[test]
fn journal_corpus() {
    for p in corpus("journal") {
        drlab_drill::journal::fuzz_journal(&std::fs::read(&p).unwrap());
    }
}
