//! `drlab compare` as users meet it: a report agrees with itself, a slowed
//! step is named when the RTO leaves the tolerance (exit 1), and bad input
//! exits 2 with its file, line and column, never a panic.

use std::path::{Path, PathBuf};

mod support;
use support::{LAN, drlab, stderr, stdout};

/// The scenario whose sim and lab reports the lab battery compares.
const LAN_LAB: &str = "scenarios/library/lan-failover-lab.toml";

/// The simulated report of the LAN lab scenario, as `drlab run --format json` writes it.
fn sim_report() -> serde_json::Value {
    let o = drlab(&["run", LAN_LAB, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn write(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

fn compare(a: &Path, b: &Path, more: &[&str]) -> std::process::Output {
    let mut args = vec!["compare", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(more);
    drlab(&args)
}

#[test]
fn a_report_agrees_with_itself_and_every_difference_is_zero() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "sim.json", &sim_report());
    let o = compare(&a, &a, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["agree"], true);
    assert_eq!(c["disagreements"], serde_json::json!([]));
    assert_eq!(c["rto"]["diff"], 0.0);
    assert_eq!(c["rto"]["diff_pct"], 0.0);
    let steps = c["steps"].as_array().unwrap();
    assert!(steps.len() >= 10, "{steps:?}");
    for s in steps {
        assert_eq!(s["same"], true, "{s}");
        assert_eq!(s["start"]["diff"], 0.0, "{s}");
        assert_eq!(s["duration"]["diff"], 0.0, "{s}");
    }
    for p in c["breakdown"].as_array().unwrap() {
        assert_eq!(p["diff"], 0.0, "{p}");
    }
    assert_eq!(c["states_agree"], true);
    // The text and Markdown forms show the same table.
    for format in ["text", "md"] {
        let o = compare(&a, &a, &["--format", format]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let t = stdout(&o);
        assert!(t.contains("AGREE"), "{t}");
        assert!(t.contains("net start MSExchangeIS"), "{t}");
    }
}

#[test]
fn a_slowed_lab_step_beyond_the_tolerance_exits_1_naming_the_step() {
    let d = tempfile::tempdir().unwrap();
    let sim = sim_report();
    let mut lab = sim.clone();
    lab["backend"] = "lab".into();
    let i = lab["steps"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["name"] == "net start MSExchangeIS")
        .unwrap();
    let slowed = |x: &serde_json::Value| x.as_f64().unwrap() + 30.0;
    lab["steps"][i]["duration_s"] = slowed(&lab["steps"][i]["duration_s"]).into();
    lab["rto_s"] = slowed(&lab["rto_s"]).into();
    let (a, b) = (
        write(d.path(), "sim.json", &sim),
        write(d.path(), "lab.json", &lab),
    );
    let o = compare(&a, &b, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.starts_with("DISAGREE"), "{t}");
    let step = format!("step {} \"net start MSExchangeIS\" (+30.000 s)", i + 1);
    let reason = t
        .lines()
        .find(|l| l.contains("disagrees: RTO differs"))
        .unwrap();
    assert!(reason.contains(&step), "{reason}");
    assert!(reason.contains("beyond the tolerance of 10 %"), "{reason}");
    // A tolerance wide enough admits it.
    let o = compare(&a, &b, &["--tolerance", "500"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn bad_json_exits_2_with_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "sim.json", &sim_report());
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"scenario\": ,\n}\n").unwrap();
    let o = compare(&good, &bad, &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.json:2:15: not JSON: expected value"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn other_input_exits_2_and_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let sim = sim_report();
    let good = write(d.path(), "sim.json", &sim);
    let check = |b: &Path, expect: &str| {
        let o = compare(&good, b, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        let e = stderr(&o);
        assert!(e.contains(expect), "{e}");
        assert!(!e.contains("panicked"), "{e}");
    };
    // JSON, but no report: the battery's row, an unknown step outcome.
    let row = write(d.path(), "row.json", &serde_json::json!({"scenario": "x"}));
    check(
        &row,
        "row.json:3:1: not a drlab report: missing field `backend`",
    );
    let mut odd = sim.clone();
    odd["steps"][0]["outcome"] = "maybe".into();
    check(
        &write(d.path(), "odd.json", &odd),
        "not a drlab report: unknown step outcome \"maybe\"",
    );
    let mut huge = sim.clone();
    huge["lost_seqs"] = serde_json::json!([[0, 4_294_967_295u64]]);
    check(&write(d.path(), "huge.json", &huge), "lost_seqs range");
    check(&d.path().join("absent.json"), "absent.json: cannot open");
    // Larger than the limit: refused before it is read (a sparse file).
    let big = d.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(drlab_reports::REPORT_BYTES_MAX + 1)
        .unwrap();
    check(&big, "more than a report's limit");
    // Another scenario's report is refused unless asked for.
    let o = drlab(&["run", LAN, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let other = d.path().join("other.json");
    std::fs::write(&other, &o.stdout).unwrap();
    check(&other, "pass --other-scenario");
    // Asked for, it is a warning; the runs then disagree (RTO 15.5 s against 226 s).
    let o = compare(&good, &other, &["--other-scenario"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("warning: the reports are of different scenarios"),
        "{}",
        stdout(&o)
    );
    // --format html is a page (lab/tests/html_browser.rs opens it).
    let o = compare(&good, &good, &["--format", "html"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("<!DOCTYPE html>"));
    let o = compare(&good, &good, &["--tolerance", "NaN"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tolerance"), "{}", stderr(&o));
}

/// The bound on lost sequence numbers is the scenario format's bound on
/// events (one fact, kept in two crates that must not depend on each other).
#[test]
fn the_lost_seq_limit_is_the_event_budget_limit() {
    assert_eq!(
        drlab_reports::LOST_SEQ_LIMIT,
        drlab_scenarios::bounds::EVENTS_MAX_MAX
    );
}
