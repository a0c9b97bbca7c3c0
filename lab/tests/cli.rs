//! The `drlab` command as users meet it: exit codes, located errors,
//! byte-identical reports, files written whole.

use std::path::{Path, PathBuf};

mod support;
use support::{LAN, drlab, root, stderr, stdout};

/// A copy of the LAN failover scenario with `from` replaced by `to`.
fn edited(dir: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join(LAN)).unwrap();
    assert!(text.contains(from), "{from:?} not in the scenario");
    let p = dir.join("edited.toml");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    p
}

#[test]
fn json_report_is_byte_identical_across_runs_and_has_the_documented_keys() {
    let a = drlab(&["run", LAN, "--seed", "7", "--format", "json"]);
    let b = drlab(&["run", LAN, "--seed", "7", "--format", "json"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    for key in [
        "scenario",
        "backend",
        "seed",
        "verdict",
        "rto_s",
        "rpo_s",
        "lost_writes",
        "steps",
        "states",
        "trace_hash",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(v["backend"], "sim");
    assert_eq!(v["seed"], 7);
    assert_eq!(v["verdict"], "pass");
    let c = drlab(&["run", LAN, "--seed", "8", "--format", "json"]);
    assert_ne!(a.stdout, c.stdout, "another seed, another run");
}

#[test]
fn impossible_objectives_exit_1_with_verdict_fail() {
    let d = tempfile::tempdir().unwrap();
    let p = edited(d.path(), "rto_s = 300", "rto_s = 1");
    let o = drlab(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "fail");
}

#[test]
fn broken_toml_exits_2_naming_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let p = edited(d.path(), "rto_s = 300", "rto_s = = 300");
    let o = drlab(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let line = std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .position(|l| l.contains("= = 300"))
        .unwrap()
        + 1;
    assert!(e.contains(&format!("edited.toml:{line}:")), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn unknown_field_and_bad_reference_are_located() {
    let d = tempfile::tempdir().unwrap();
    let p = edited(
        d.path(),
        "heartbeat_interval_s = 5",
        "heartbeat_intervall_s = 5",
    );
    let o = drlab(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("policy.heartbeat_intervall_s") && e.contains("unknown field"),
        "{e}"
    );

    let p = edited(
        d.path(),
        "site = \"hq\"\nip = \"10.0.0.11\"",
        "site = \"hqq\"\nip = \"10.0.0.11\"",
    );
    let o = drlab(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let line = std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .position(|l| l.contains("\"hqq\""))
        .unwrap()
        + 1;
    assert!(e.contains(&format!("edited.toml:{line}:")), "{e}");
    assert!(
        e.contains("hosts[1].site") && e.contains("unknown site \"hqq\""),
        "{e}"
    );
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(LAN))
        .unwrap()
        .replace("missed_heartbeats = 5", "missed_heartbeats = 0")
        .replace("client = \"hq-users\"", "client = \"nobody\"");
    let p = d.path().join("two.toml");
    std::fs::write(&p, text).unwrap();
    let o = drlab(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("policy.missed_heartbeats"), "{e}");
    assert!(e.contains("workload.client"), "{e}");
}

#[test]
fn missing_file_and_bad_arguments_exit_2() {
    let o = drlab(&["run", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no/such/file.toml: cannot read"),
        "{}",
        stderr(&o)
    );
    let o = drlab(&["run", LAN, "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = drlab(&["run", LAN, "--seed", "minus-one"]);
    assert_eq!(o.status.code(), Some(2));
    let o = drlab(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn out_dir_gets_every_artefact_and_no_temporaries() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("result");
    let o = drlab(&["run", LAN, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "events.jsonl",
            "junit.xml",
            "report.html",
            "report.json",
            "report.md"
        ]
    );
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "drill-started");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["events"].as_u64().unwrap() as usize,
        events.lines().count()
    );
}

#[test]
fn validate_accepts_the_whole_library() {
    let files: Vec<String> = std::fs::read_dir(root().join("scenarios/library"))
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let o = drlab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn sweep_summarises_variants_and_answers_a_requirement() {
    // 299 runs: the fewest whose largest value bounds p99 with 95 %
    // confidence (0.99^299 < 0.05).
    let o = drlab(&[
        "sweep",
        LAN,
        "--seeds",
        "299",
        "--jobs",
        "2",
        "--format",
        "json",
        "--vary",
        "sites[0].lan.bandwidth_mbps=1,100",
        "--require",
        "rpo_p99<=5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        rows[0]["meets_requirement"], false,
        "1 Mbit/s strands the backlog"
    );
    assert_eq!(rows[1]["meets_requirement"], true);
    assert!(rows[0]["rpo_s"]["p99"].as_f64().unwrap() > 5.0);
    assert_eq!(rows[1]["rpo_s"]["p99_upper95"], 0.0);
    // 298 runs cannot show a p99: the requirement is not met, and the
    // summary says how many runs would be needed.
    let o = drlab(&[
        "sweep",
        LAN,
        "--seeds",
        "298",
        "--jobs",
        "2",
        "--vary",
        "sites[0].lan.bandwidth_mbps=100",
        "--require",
        "rpo_p99<=5",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("cannot show rpo_p99 with 95 % confidence: run at least 299"),
        "{}",
        stdout(&o)
    );
    // No variant meets an impossible requirement: exit 1.
    let o = drlab(&["sweep", LAN, "--seeds", "5", "--require", "rto_p50<=1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // A key the scenario does not have is a usage error naming it.
    let o = drlab(&["sweep", LAN, "--seeds", "5", "--vary", "policy.nope.x=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no \"nope\""), "{}", stderr(&o));
}

/// A drill journal of the LAN failover, written by a simulated drill run
/// through the journalling wrapper (as a lab drill writes one).
fn sim_journal(dir: &Path) -> PathBuf {
    use drlab_drill::recorded::{DrillHeader, JournalSink, Known, Recorded};
    let s = drlab_scenarios::load(&root().join(LAN)).unwrap();
    let path = dir.join("lan-failover-7.jsonl");
    let b = drlab_sim::SimBackend::new(drlab_sim::world::World::build(&s, 7));
    let rec = drlab_drivers::Recorder::new();
    let header = DrillHeader {
        scenario: s.scenario.name.clone(),
        scenario_file: LAN.into(),
        inventory_file: String::new(),
        lab: "sim".into(),
    };
    let sink = JournalSink::create(&path, &header, drlab_drivers::Timestamp::ZERO).unwrap();
    {
        let r = Recorded::new(&b, &sink, &rec, Known::from_scenario(&s));
        let drill = drlab_scenarios::drill::run(&r, &s, 7, &rec);
        drlab_sim::block_on(b.clock(), drill, drlab_sim::POLLS_MAX).unwrap();
    }
    let end = drlab_drivers::Clock::now(&b);
    sink.finish(end, "restored").unwrap();
    path
}

#[test]
fn drill_journal_lists_a_directory_and_every_action_of_a_file() {
    let d = tempfile::tempdir().unwrap();
    let done = sim_journal(d.path());
    // A second drill, interrupted while writing its last outcome.
    let text = std::fs::read_to_string(&done).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kept = &lines[..lines.len() - 2];
    let torn = lines[lines.len() - 2];
    let cut = d.path().join("lan-failover-8.jsonl");
    std::fs::write(
        &cut,
        format!("{}\n{}", kept.join("\n"), &torn[..torn.len() / 2]),
    )
    .unwrap();

    let o = drlab(&["drill", "journal", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list = stdout(&o);
    let row = |name: &str| {
        list.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{list}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let a = row("lan-failover-7.jsonl");
    assert!(a.contains("lan-failover sim"), "{a}");
    assert!(a.contains(" 22 0 0 0 ended (restored)"), "{a}");
    let b = row("lan-failover-8.jsonl");
    assert!(b.contains(" 21 0 1 0 interrupted, last line torn"), "{b}");

    let o = drlab(&["drill", "journal", done.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let one = stdout(&o);
    for want in [
        "scenario  lan-failover (scenarios/library/lan-failover.toml)",
        "end       ended (restored)",
        "actions   22: 22 done, 0 failed, 0 unknown; 0 undone; 22 to undo by a rollback",
        "step: (none)",
        "inject crash-host on EXCH1",
        "undo: repair: power-on EXCH1",
        "step: fail over IP addresses and server name of EXCH1 to EXCH2",
        "step: net start MSExchangeIS",
        "start MSExchangeIS on EXCH2",
        "undo: stop MSExchangeIS on EXCH2",
        "home mailbox dave on EXCH2 Second Storage Group/Sales (on DC1)",
        "undo: home mailbox dave on EXCH1 Second Storage Group/Sales (on DC1)",
    ] {
        assert!(one.contains(want), "missing {want:?} in:\n{one}");
    }
    let o = drlab(&["drill", "journal", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let one = stdout(&o);
    assert!(one.contains("last line is torn"), "{one}");
    assert!(one.contains("unknown (no outcome recorded)"), "{one}");
}

#[test]
fn drill_rollback_dry_run_prints_the_undos_newest_first_and_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let j = sim_journal(d.path());
    let before = std::fs::read(&j).unwrap();
    let o = drlab(&["drill", "rollback", j.to_str().unwrap(), "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(plan.starts_with("rollback plan of "), "{plan}");
    let undos: Vec<&str> = plan.lines().filter(|l| l.contains("would")).collect();
    assert_eq!(undos.len(), 22, "{plan}");
    assert!(
        undos[0].contains("would      home mailbox dave on EXCH1"),
        "{}",
        undos[0]
    );
    assert!(
        undos[21].contains("would      repair: power-on EXCH1"),
        "{}",
        undos[21]
    );
    let stop_is = undos
        .iter()
        .position(|l| l.contains("stop MSExchangeIS on EXCH2"));
    let stop_sa = undos
        .iter()
        .position(|l| l.contains("stop MSExchangeSA on EXCH2"));
    assert!(stop_is < stop_sa, "services stop in reverse start order");
    assert_eq!(
        std::fs::read(&j).unwrap(),
        before,
        "a dry run writes nothing"
    );

    // Without --dry-run a simulator drill has no inventory to roll back on.
    let o = drlab(&["drill", "rollback", j.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("names no inventory"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&j).unwrap(), before);
}

#[test]
fn drill_commands_on_bad_paths_exit_2_with_a_clear_message() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope.jsonl");
    let o = drlab(&["drill", "journal", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no drill journal at"), "{}", stderr(&o));

    let o = drlab(&["drill", "journal", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no drill journals"), "{}", stderr(&o));

    let o = drlab(&["drill", "rollback", missing.to_str().unwrap(), "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no drill journal at"), "{}", stderr(&o));

    let o = drlab(&["drill", "rollback", d.path().to_str().unwrap(), "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a journal file"),
        "{}",
        stderr(&o)
    );

    // Garbage in the middle is corruption, not a torn tail: located.
    let bad = d.path().join("bad.jsonl");
    std::fs::write(&bad, "garbage\n{}\n").unwrap();
    let o = drlab(&["drill", "journal", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.jsonl:1"), "{}", stderr(&o));
    let o = drlab(&["drill", "journal", d.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unreadable journal is an error"
    );
    assert!(stdout(&o).contains("bad.jsonl"), "{}", stdout(&o));

    // A real drill's journal names its inventory; a missing one is reported.
    let j = sim_journal(d.path());
    let o = drlab(&[
        "drill",
        "rollback",
        j.to_str().unwrap(),
        "--inventory",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("loading the lab inventory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn lab_up_for_a_scenario_no_lab_hosts_is_refused_before_docker() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("lab");
    let o = drlab(&[
        "lab",
        "up",
        "--out",
        out.to_str().unwrap(),
        "--for",
        "scenarios/library/wan-failover.toml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wan-failover.toml: no [lab] table"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing was made");
}

#[test]
fn catalogue_adds_the_lab_batterys_column() {
    let d = tempfile::tempdir().unwrap();
    let sim = drlab(&[
        "run",
        "scenarios/library/lan-failover-lab.toml",
        "--format",
        "json",
    ]);
    let sim: serde_json::Value = serde_json::from_slice(&sim.stdout).unwrap();
    let trace = sim["trace_hash"].as_str().unwrap().to_string();
    let row = serde_json::json!({
        "scenario": "lan-failover-lab", "seed": 7, "differs": null,
        "sim": { "verdict": "pass", "rto_s": 15.501, "rpo_s": 0.196, "lost_writes": 1, "trace_hash": trace },
        "lab": { "verdict": "pass", "rto_s": 17.051, "rpo_s": 0.5, "lost_writes": 3 },
    });
    std::fs::write(d.path().join("lan-failover-lab.json"), row.to_string()).unwrap();
    let o = drlab(&["catalogue", "--lab", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(
        t.lines()
            .next()
            .unwrap()
            .ends_with("| lab RTO (s) | lab vs sim |"),
        "{t}"
    );
    let lan = t
        .lines()
        .find(|l| l.starts_with("| lan-failover-lab |"))
        .unwrap();
    assert!(lan.ends_with("| 17.051 | +10.0 % |"), "{lan}");
    // a row from another version of the scenario says so
    let old = row.to_string().replace(&trace, "0000000000000000");
    std::fs::write(d.path().join("lan-failover-lab.json"), old).unwrap();
    let o = drlab(&["catalogue", "--lab", d.path().to_str().unwrap()]);
    let t = stdout(&o);
    let lan = t
        .lines()
        .find(|l| l.starts_with("| lan-failover-lab |"))
        .unwrap();
    assert!(lan.ends_with("| stale: rerun the battery |"), "{lan}");
    let other = t
        .lines()
        .find(|l| l.starts_with("| failback-original-source-lab |"))
        .unwrap();
    assert!(other.ends_with("| not run | |"), "{other}");
    let plain = t
        .lines()
        .find(|l| l.starts_with("| lan-failover |"))
        .unwrap();
    assert!(plain.ends_with("| pass | pass | | |"), "{plain}");
}

#[test]
fn explore_finds_shrinks_and_writes_a_replay_that_fails_the_same_way() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let args = [
        "explore", LAN, "--runs", "40", "--format", "json", "--out", dir,
    ];
    let a = drlab(&args);
    assert_eq!(a.status.code(), Some(1), "{}", stderr(&a));
    let mut x: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(x["runs"], 40);
    let failures = x["failures"].as_array().unwrap().clone();
    assert!(!failures.is_empty());
    for f in &failures {
        // shrunk: the fewest drawn parts that still break it (an operator
        // who never answers needs no fault of its own)
        let schedule = f["schedule"].as_array().unwrap();
        let jitter = f["jitter"].as_array().map_or(0, Vec::len);
        let parts = schedule.len() + usize::from(f["operator"].is_string()) + jitter;
        assert!(parts > 0 && schedule.len() <= 2, "{f}");
        let replay = f["replay"].as_str().unwrap();
        let r = drlab(&["run", replay, "--format", "json"]);
        assert_eq!(r.status.code(), Some(1), "{replay}: {}", stderr(&r));
        // the replay is the shrunk schedule, which the summary shows
        let text = std::fs::read_to_string(replay).unwrap();
        assert!(text.starts_with("# drlab explore: seed "), "{replay}");
        let own = std::fs::read_to_string(root().join(LAN))
            .unwrap()
            .matches("[[faults]]")
            .count();
        assert_eq!(
            text.matches("[[faults]]").count(),
            own + 2 * schedule.len(),
            "{replay}: the scenario's faults and the shrunk ones with their repairs"
        );
    }
    // the same seeds explore the same schedules (only the speed differs)
    let b = drlab(&args);
    let mut y: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    for v in [&mut x, &mut y] {
        v["runs_per_s"] = 0.into();
        v["wall_s"] = 0.into();
    }
    assert_eq!(x, y);
    // and --out holds the summary it printed
    let written = std::fs::read(d.path().join("summary.json")).unwrap();
    assert_eq!(written, b.stdout);
}

#[test]
fn explore_inside_the_single_host_envelope_and_in_shards() {
    // any one host crashing once: the LAN failover meets its objectives
    let e = drlab(&[
        "explore",
        LAN,
        "--runs",
        "40",
        "--envelope",
        "single-host",
        "--format",
        "json",
    ]);
    assert_eq!(e.status.code(), Some(0), "{}", stdout(&e));
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(
        (v["failed_runs"].as_u64(), v["objectives_missed"].as_u64()),
        (Some(0), Some(0))
    );
    // two shards are the whole exploration, split where the seeds split
    let part = |s: &str| {
        let o = drlab(&[
            "explore", LAN, "--runs", "41", "--seed", "100", "--shard", s, "--format", "json",
        ]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (a, b) = (part("0/2"), part("1/2"));
    assert_eq!(
        (a["first_seed"].as_u64(), a["runs"].as_u64()),
        (Some(100), Some(21))
    );
    assert_eq!(
        (b["first_seed"].as_u64(), b["runs"].as_u64()),
        (Some(121), Some(20))
    );
    let bad = drlab(&["explore", LAN, "--shard", "2/2"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// An explore summary without what differs between equal explorations
/// (speed, wall time, where replay files and their reports went).
fn findings(json: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(json).unwrap();
    v["runs_per_s"] = 0.into();
    v["wall_s"] = 0.into();
    for f in v["failures"].as_array_mut().unwrap() {
        let f = f.as_object_mut().unwrap();
        f.remove("replay");
        f.remove("report");
    }
    v
}

#[test]
fn explore_shards_merge_into_the_summary_of_one_run_over_their_seeds() {
    let args = [
        "explore", LAN, "--runs", "30", "--seed", "3", "--format", "json",
    ];
    let one = drlab(&[&args[..], &["--jobs", "1"]].concat());
    assert_eq!(one.status.code(), Some(1), "{}", stderr(&one));
    let whole = findings(&one.stdout);
    assert!(!whole["failures"].as_array().unwrap().is_empty(), "{whole}");
    // parallel jobs find what one loop finds
    let two = drlab(&[&args[..], &["--jobs", "2"]].concat());
    assert_eq!(findings(&two.stdout), whole);
    // four shards, each in its own directory as on four machines
    let d = tempfile::tempdir().unwrap();
    let dirs: Vec<String> = (0..4)
        .map(|i| d.path().join(format!("shard{i}")).display().to_string())
        .collect();
    for (i, dir) in dirs.iter().enumerate() {
        let shard = format!("{i}/4");
        let o = drlab(&[&args[..], &["--shard", &shard, "--out", dir]].concat());
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    }
    // given in any order
    let merged = drlab(&[
        "explore", "merge", &dirs[2], &dirs[0], &dirs[3], &dirs[1], "--format", "json",
    ]);
    assert_eq!(merged.status.code(), Some(1), "{}", stderr(&merged));
    assert_eq!(findings(&merged.stdout), whole);
    // a missing shard, or a shard of another exploration, is refused
    let missing = drlab(&["explore", "merge", &dirs[0], &dirs[1], &dirs[3]]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("shard 2/4 is missing"),
        "{}",
        stderr(&missing)
    );
    let other = d.path().join("other").display().to_string();
    let o = drlab(&[
        "explore", LAN, "--runs", "31", "--seed", "3", "--shard", "2/4", "--out", &other,
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let mixed = drlab(&["explore", "merge", &dirs[0], &dirs[1], &other, &dirs[3]]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        stderr(&mixed).contains("not one exploration"),
        "{}",
        stderr(&mixed)
    );
    // more shards than runs: the empty one says so, and merges
    let few = ["explore", LAN, "--runs", "3", "--format", "json"];
    let whole3 = findings(&drlab(&few).stdout);
    let dirs3: Vec<String> = (0..4)
        .map(|i| d.path().join(format!("few{i}")).display().to_string())
        .collect();
    for (i, dir) in dirs3.iter().enumerate() {
        let shard = format!("{i}/4");
        let o = drlab(&[&few[..], &["--shard", &shard, "--out", dir]].concat());
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    }
    let empty: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{}/summary.json", dirs3[3])).unwrap())
            .unwrap();
    assert_eq!(empty["runs"], 0);
    let m = drlab(&[
        "explore", "merge", &dirs3[0], &dirs3[1], &dirs3[2], &dirs3[3], "--format", "json",
    ]);
    assert_eq!(findings(&m.stdout), whole3, "{}", stderr(&m));
    // a file that is not a summary says where
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"runs\": x\n}").unwrap();
    let b = drlab(&["explore", "merge", bad.to_str().unwrap()]);
    assert_eq!(b.status.code(), Some(2));
    assert!(stderr(&b).contains("bad.json:2:"), "{}", stderr(&b));
}

#[test]
fn check_judges_a_runs_events_file_and_locates_a_bad_line() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("result");
    let o = drlab(&["run", LAN, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events = out.join("events.jsonl");
    let o = drlab(&["check", events.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("every invariant holds"),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(&events).unwrap();

    // a step that finishes without having started breaks step-pairs
    let cut: String = text
        .lines()
        .filter(|l| {
            !l.contains(r#""event":"step-started""#) || !l.contains("net start MSExchangeSA")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(cut, text, "the run starts MSExchangeSA");
    let tampered = d.path().join("tampered.jsonl");
    std::fs::write(&tampered, cut).unwrap();
    let o = drlab(&["check", tampered.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["violations"][0]["invariant"], "step-pairs", "{v}");
    assert_eq!(v["backend"], "sim");

    // a line that is no event: exit 2 at its line
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = r#"{"at":1.0,"event":"no-such-event"}"#;
    let bad = d.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let o = drlab(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.jsonl:3:") && e.contains("no-such-event"),
        "{e}"
    );
}
