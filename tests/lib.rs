//! Helpers shared by drlab's integration tests: finding the library,
//! loading scenarios and variants of them, running them in the simulator.

use std::path::{Path, PathBuf};

use drlab_reports::Report;
use drlab_scenarios::Scenario;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The library's scenario files, in name order.
pub fn library() -> Vec<PathBuf> {
    let dir = root().join("scenarios/library");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// Loads a library scenario by file stem, panicking with the located error.
pub fn scenario(stem: &str) -> Scenario {
    let p = root()
        .join("scenarios/library")
        .join(format!("{stem}.toml"));
    drlab_scenarios::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// A library scenario edited as a TOML table, then validated.
pub fn variant(stem: &str, edit: impl FnOnce(&mut toml::Table)) -> Result<Scenario, String> {
    let p = root()
        .join("scenarios/library")
        .join(format!("{stem}.toml"));
    let text = std::fs::read_to_string(&p).expect("library file");
    let mut table: toml::Table = toml::from_str(&text).expect("library file parses");
    edit(&mut table);
    let edited = toml::to_string(&table).expect("serialises");
    drlab_scenarios::parse(Path::new("variant.toml"), &edited).map_err(|e| e.to_string())
}

/// Mutable access to a nested table, e.g. `table(t, &["runbook"])`.
pub fn table<'a>(t: &'a mut toml::Table, path: &[&str]) -> &'a mut toml::Table {
    let mut cur = t;
    for k in path {
        cur = cur
            .get_mut(*k)
            .and_then(toml::Value::as_table_mut)
            .unwrap_or_else(|| panic!("no table {k}"));
    }
    cur
}

/// Runs a scenario in the simulator and computes its report.
pub fn run(s: &Scenario, seed: u64) -> Report {
    let r = drlab_sim::run(s, seed).unwrap_or_else(|e| panic!("{}: {e}", s.scenario.name));
    Report::from_events(&r.events)
}

/// The invariants `drlab explore` checks that `events` break although a
/// run of a scenario expecting `expect` must keep them: every run
/// keeps them all, except that a scenario expected to fail may fail the
/// drill's own checks or liveness (never the state machine, the step
/// order, the interlocks or a replicated write). Judges simulated and lab
/// runs alike.
pub fn broken_invariants(
    events: &[drlab_drivers::Event],
    expect: drlab_scenarios::format::Expect,
) -> Vec<drlab_reports::invariants::Violation> {
    let may_fail = expect == drlab_scenarios::format::Expect::Fail;
    drlab_reports::invariants::check(events)
        .into_iter()
        .filter(|v| !(may_fail && matches!(v.invariant, "live" | "drill-checks")))
        .collect()
}
