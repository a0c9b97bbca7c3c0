//! Bounded input and honest counts (issue 12): seeds never wrap and many-run
//! commands run exactly as many runs as asked; a run that would exceed its
//! event budget stops with exit 2; an empty catalogue is an error, not a
//! pass; `--out` holds one run's set and no temporaries.

mod support;
use support::{LAN, drlab, root, stderr};

#[test]
fn seeds_near_the_top_are_refused_or_run_exactly() {
    let o = drlab(&[
        "bench",
        LAN,
        "--runs",
        "10",
        "--seed",
        "18446744073709551610",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("would pass the largest seed"),
        "{}",
        stderr(&o)
    );
    for jobs in ["1", "2"] {
        let o = drlab(&[
            "sweep",
            LAN,
            "--seeds",
            "3",
            "--seed",
            "18446744073709551614",
            "--jobs",
            jobs,
        ]);
        assert_eq!(o.status.code(), Some(2), "--jobs {jobs}: {}", stderr(&o));
        // The last three seeds fit: exactly three runs, whatever the jobs.
        let o = drlab(&[
            "sweep",
            LAN,
            "--seeds",
            "3",
            "--seed",
            "18446744073709551613",
            "--jobs",
            jobs,
            "--format",
            "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "--jobs {jobs}: {}", stderr(&o));
        let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(rows[0]["runs"], 3, "--jobs {jobs}: {rows}");
    }
}

#[test]
fn a_run_over_its_event_budget_stops_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(LAN)).unwrap();
    // 200 s of writes every 200 ms and a probe a second: 1,200 events, which
    // validation lets a budget of 1,300 hold; heartbeats every 200 ms
    // (which validation does not count) take the run past it.
    let text = text
        .replacen("horizon_s = 1800", "horizon_s = 200\nevents_max = 1300", 1)
        .replacen("heartbeat_interval_s = 5", "heartbeat_interval_s = 0.2", 1)
        .replacen("at_s = 120.001", "at_s = 190.001", 1);
    let p = d.path().join("budget.toml");
    std::fs::write(&p, text).unwrap();
    let o = drlab(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("event budget of 1300 events"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_empty_catalogue_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let o = drlab(&["catalogue", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds no scenario file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn out_holds_one_runs_set_and_refuses_a_directory_of_other_files() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r");
    let o = drlab(&["run", LAN, "--seed", "1", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = drlab(&["run", LAN, "--seed", "2", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert_eq!(json["seed"], 2);
    let hash = json["trace_hash"].as_str().unwrap();
    assert!(
        md.contains(hash),
        "report.md is of another run than report.json"
    );
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["r"], "temporaries left: {left:?}");

    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = drlab(&["run", LAN, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("notes.txt, which drlab did not write"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn out_never_replaces_the_current_directory() {
    let d = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_drlab"))
        .args(["run", root().join(LAN).to_str().unwrap(), "--out", "."])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds) the current directory"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}
