//! `drlab explore`'s dimensions beyond faults, as users meet them: an
//! operator who answers late or not at all, a killed or hung service,
//! timing jitter, their replay
//! files and their shrinking; and a runbook written in the wrong order,
//! found by the runbook-order invariant.

mod support;
use support::{LAN, drlab, stderr};

/// A library scenario whose failover is engaged automatically.
const AUTOPILOT: &str = "scenarios/library/autopilot-failover.toml";

/// The JSON summary of `drlab explore ARGS`, which must not be an error.
fn explore(args: &[&str]) -> serde_json::Value {
    let o = drlab(&[&["explore"], args, &["--format", "json"]].concat());
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// How many runs of a summary drew `dimension`.
fn drew(summary: &serde_json::Value, dimension: &str) -> u64 {
    summary["runs_drawing"][dimension].as_u64().unwrap_or(0)
}

fn failures(summary: &serde_json::Value) -> Vec<serde_json::Value> {
    summary["failures"].as_array().unwrap().clone()
}

/// `drlab run` of a failure's replay prints the failing run's report, byte
/// for byte; the replay's path.
fn replays_its_report(f: &serde_json::Value) -> &str {
    let replay = f["replay"].as_str().unwrap();
    let report = std::fs::read(f["report"].as_str().unwrap()).unwrap();
    let r = drlab(&["run", replay, "--format", "json"]);
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&report),
        "{replay}"
    );
    replay
}

#[test]
fn a_late_operator_is_drawn_and_its_failure_replays_byte_identically() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    // the LAN failover's decision is manual: an operator acknowledges
    let x = explore(&[LAN, "--runs", "60", "--out", dir]);
    assert!(drew(&x, "operator-late") > 0, "{x}");
    assert!(drew(&x, "operator-never") > 0, "{x}");
    let all = failures(&x);
    let late = all.iter().filter(|f| {
        f["operator"]
            .as_str()
            .is_some_and(|l| l.starts_with("operator answers after"))
    });
    assert!(late.count() > 0, "no failure needs a late operator: {x}");
    // an operator who never answers is a failure that never heals: no
    // liveness is owed then
    assert!(
        !all.iter().any(|f| f["invariant"] == "live"
            && f["operator"]
                .as_str()
                .is_some_and(|l| l.starts_with("operator never"))),
        "{x}"
    );
    for f in &all {
        let replay = replays_its_report(f);
        // and the file says the drawn response time itself
        let text = std::fs::read_to_string(replay).unwrap();
        let t: toml::Table = toml::from_str(&text).unwrap();
        let response = t["policy"]["operator_response_s"].as_float();
        match f["operator"].as_str() {
            Some(line) => {
                let response = response.unwrap();
                assert!(line.contains(&format!("after {response} s")), "{line}");
                assert!(response > 30.0, "{line}");
            }
            None => assert_eq!(response, None, "{replay}: only the scenario's 30"),
        }
    }
}

#[test]
fn a_schedule_with_jitter_shrinks_to_fewer_jittered_durations() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let x = explore(&[LAN, "--runs", "60", "--out", dir]);
    assert!(drew(&x, "jitter") > 0, "{x}");
    let mut shrank = 0;
    for f in failures(&x) {
        let drawn = f["shrunk_from"]["jitter"].as_u64().unwrap();
        let kept = f["jitter"].as_array().map_or(0, Vec::len) as u64;
        assert!(kept <= drawn, "{f}");
        if kept < drawn {
            shrank += 1;
        }
        // what is kept is in the replay's [timing], scaled
        let text = std::fs::read_to_string(f["replay"].as_str().unwrap()).unwrap();
        let t: toml::Value = toml::from_str(&text).unwrap();
        for line in f["jitter"].as_array().into_iter().flatten() {
            let path = line.as_str().unwrap().split(' ').nth(1).unwrap();
            let value = path.split('.').try_fold(&t, |v, k| v.get(k));
            assert!(value.is_some(), "{path} is not in the replay");
        }
    }
    assert!(shrank > 0, "no failure shed a jittered duration: {x}");
}

#[test]
fn only_a_manual_decision_draws_an_operator_and_an_envelope_draws_neither() {
    let auto = explore(&[AUTOPILOT, "--runs", "20"]);
    let operators = drew(&auto, "operator-late") + drew(&auto, "operator-never");
    assert_eq!(operators, 0, "{auto}");
    assert!(drew(&auto, "jitter") > 0, "{auto}");
    let envelope = explore(&[LAN, "--runs", "20", "--envelope", "single-host"]);
    assert_eq!(
        envelope["runs_drawing"],
        serde_json::json!({}),
        "{envelope}"
    );
}

/// The library's LAN failover with the Information Store started before
/// the System Attendant.
const WRONG_ORDER: &str = "scenarios/library/lan-failover-wrong-order.toml";

#[test]
fn a_runbook_in_the_wrong_order_is_found_by_its_order_and_replays() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let x = explore(&[WRONG_ORDER, "--runs", "12", "--out", dir]);
    let all = failures(&x);
    // shrunk by its cause, not by the outage it causes
    let order: Vec<&serde_json::Value> = all
        .iter()
        .filter(|f| f["invariant"] == "runbook-order")
        .collect();
    assert!(!order.is_empty(), "{x}");
    for f in order {
        assert!(f["schedule"].as_array().unwrap().len() <= 2, "{f}");
        let what = f["what"].as_str().unwrap();
        assert!(
            what.starts_with(
                "MSExchangeIS started on EXCH2 before MSExchangeSA, which it requires, ran there"
            ),
            "{what}"
        );
        replays_its_report(f);
    }
}

/// A killed or hung service is drawn with its restart, on a host that runs
/// the service set and no fault takes down; a DAG member is never drawn
/// (Active Manager, not a restart, mounts its databases). Every failure a
/// service fault is part of replays byte for byte.
#[test]
fn a_service_fault_is_drawn_with_its_restart_and_never_on_a_dag_member() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let x = explore(&[LAN, "--runs", "60", "--out", dir]);
    assert!(drew(&x, "kill-service") > 0, "{x}");
    assert!(drew(&x, "hang-service") > 0, "{x}");
    for f in failures(&x) {
        let text = std::fs::read_to_string(f["replay"].as_str().unwrap()).unwrap();
        if text.contains("kill-service") || text.contains("hang-service") {
            assert!(text.contains("restart-service"), "{text}");
            replays_its_report(&f);
        }
    }
    let dag = explore(&[
        "scenarios/library/dag-aim-reprovisioning.toml",
        "--runs",
        "40",
    ]);
    assert_eq!(
        drew(&dag, "kill-service") + drew(&dag, "hang-service"),
        0,
        "{dag}"
    );
}
