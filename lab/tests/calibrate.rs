//! `drlab calibrate`: a scenario with another timing profile, fitted to a
//! "measured" report (here the simulator's own report of the hand-calibrated
//! lab scenario, so the truth is known), simulates the measured step
//! durations and RTO again within 10 %.

use std::path::Path;

mod support;
use support::{LAN, drlab, root, stderr, stdout};

/// The hand-calibrated lab scenario: its report is the measurement.
const LAN_LAB: &str = "scenarios/library/lan-failover-lab.toml";

/// Another step-timing profile for the same file: Exchange-like starts and
/// mounts instead of the container lab's (readiness and timeouts, which no
/// step measures, stay as they were).
const OTHER_TIMING: &str = "\
service_start_s = { uniform = [1.0, 2.0] }
service_ready_s = { uniform = [0.1, 0.5] }
service_stop_s = { uniform = [0.03, 0.09] }
store_mount_s = { uniform = [1.0, 3.0] }
overwrite_flag_s = 0.5
identity_takeover_s = 8
mailbox_move_s = 0.5
client_timeout_s = 2

[timing.services.SMTPSVC]
start_s = 4
";

fn report(path: &str) -> serde_json::Value {
    let o = drlab(&["run", path, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// LAN_LAB with its `[timing]` tables replaced by OTHER_TIMING.
fn detuned(dir: &Path) -> String {
    let text = std::fs::read_to_string(root().join(LAN_LAB)).unwrap();
    let (head, rest) = text.split_once("[timing]\n").unwrap();
    let (_, tail) = rest.split_once("[workload]\n").unwrap();
    let p = dir.join("detuned.toml");
    std::fs::write(
        &p,
        format!("{head}[timing]\n{OTHER_TIMING}\n[workload]\n{tail}"),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

fn within(what: &str, measured: f64, got: f64, pct: f64) {
    let off = (got - measured).abs();
    assert!(
        off <= measured.abs() * pct / 100.0 + 1e-9,
        "{what}: measured {measured}, calibrated {got}"
    );
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn a_calibrated_scenario_simulates_the_measured_steps_and_rto() {
    let d = tempfile::tempdir().unwrap();
    let measured = report(LAN_LAB);
    let m = d.path().join("measured.json");
    std::fs::write(&m, serde_json::to_string_pretty(&measured).unwrap()).unwrap();
    let detuned = detuned(d.path());
    let before = report(&detuned);
    assert!(
        (f(&before["rto_s"]) - f(&measured["rto_s"])).abs() > f(&measured["rto_s"]) * 0.1,
        "the other profile must be off by more than 10 % to prove anything: {} vs {}",
        before["rto_s"],
        measured["rto_s"]
    );

    let cal = d.path().join("calibrated.toml");
    let o = drlab(&[
        "calibrate",
        m.to_str().unwrap(),
        "--scenario",
        &detuned,
        "--out",
        cal.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "--out writes the file only");
    assert!(
        stderr(&o).contains("not calibrated (no timing of its own): wait 2s"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&cal).unwrap();
    assert!(
        text.contains("# [timing] fitted by `drlab calibrate`"),
        "{text}"
    );
    // Everything outside [timing] is the file as it was, comments included.
    assert!(text.contains("# The lab replicates with lsyncd, which batches changes for 1 s."));
    assert!(text.contains("# Runs on the CI lab too"), "{text}");

    let after = report(cal.to_str().unwrap());
    within("RTO", f(&measured["rto_s"]), f(&after["rto_s"]), 10.0);
    let (ms, cs) = (
        measured["steps"].as_array().unwrap(),
        after["steps"].as_array().unwrap(),
    );
    let names = |x: &[serde_json::Value]| x.iter().map(|s| s["name"].clone()).collect::<Vec<_>>();
    assert_eq!(names(ms), names(cs), "the same steps");
    // A step with a timing key of its own (one service's start, the IP
    // takeover, the waits) comes back within 10 %; the mounts share one key,
    // so their total does.
    let mut mounts = (0.0, 0.0);
    for (a, b) in ms.iter().zip(cs) {
        let name = a["name"].as_str().unwrap();
        let (x, y) = (f(&a["duration_s"]), f(&b["duration_s"]));
        if name.starts_with("mount ") {
            mounts = (mounts.0 + x, mounts.1 + y);
        } else {
            within(name, x, y, 10.0);
        }
    }
    within("the mounts together", mounts.0, mounts.1, 10.0);
    // And drlab compare agrees.
    let c = d.path().join("calibrated.json");
    std::fs::write(&c, serde_json::to_string_pretty(&after).unwrap()).unwrap();
    let o = drlab(&["compare", m.to_str().unwrap(), c.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn several_reports_give_distributions_and_bad_input_exits_2() {
    let d = tempfile::tempdir().unwrap();
    let paths: Vec<String> = ["7", "8", "9"]
        .iter()
        .map(|seed| {
            let o = drlab(&["run", LAN_LAB, "--seed", seed, "--format", "json"]);
            assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", stderr(&o));
            let p = d.path().join(format!("seed{seed}.json"));
            std::fs::write(&p, &o.stdout).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    let mut args = vec!["calibrate"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(["--scenario", LAN_LAB]);
    let o = drlab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("store_mount_s = { min = "), "{text}");
    assert!(text.contains(", normal = ["), "{text}");

    // A report of another scenario, and a broken one.
    let o = drlab(&["calibrate", &paths[0], "--scenario", LAN]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not of lan-failover"), "{}", stderr(&o));
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{]").unwrap();
    let o = drlab(&["calibrate", bad.to_str().unwrap(), "--scenario", LAN_LAB]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.json:1:2:"), "{}", stderr(&o));
}
