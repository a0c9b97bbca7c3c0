//! Progress of the long commands: on standard error only, as a few plain
//! lines when stderr is not a terminal (here it is a pipe), as an
//! `indicatif` bar when it is one (under `script`'s pseudo-terminal, when
//! util-linux's `script` is installed), and never a byte on stdout: the
//! result is the same either way.

use std::process::Command;

mod support;
use support::{LAN, drlab, root, stderr, stdout};

/// The progress lines `o` printed, each checked to be one of `name`'s.
fn progress_lines(o: &std::process::Output, name: &str) -> Vec<String> {
    let lines: Vec<String> = stderr(o).lines().map(str::to_string).collect();
    for l in &lines {
        assert!(
            l.starts_with(&format!("{name}: ")),
            "not a progress line: {l:?}"
        );
        assert!(
            !l.contains('\x1b') && !l.contains('\r'),
            "escape codes in a pipe: {l:?}"
        );
    }
    lines
}

#[test]
fn sweep_prints_its_result_on_stdout_and_a_few_progress_lines_on_stderr() {
    let args = [
        "sweep",
        LAN,
        "--seeds",
        "60",
        "--vary",
        "policy.decision=manual,autopilot",
        "--format",
        "json",
    ];
    let o = drlab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // stdout is the result alone: JSON, one row per variant
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{}", stdout(&o));
    assert!(!stdout(&o).contains("sweep:"), "{}", stdout(&o));
    // 120 runs: a line per tenth at most, then the last, never one per run
    let lines = progress_lines(&o, "sweep");
    assert!((2..=10).contains(&lines.len()), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/120 runs (") && l.contains("variant 1/2")),
        "{lines:#?}"
    );
    let last = lines.last().unwrap();
    assert!(last.starts_with("sweep: 120 runs done in "), "{last}");
    // the result does not depend on progress or threads
    let mut again = args.to_vec();
    again.extend(["--jobs", "3"]);
    let b = drlab(&again);
    assert_eq!(o.stdout, b.stdout);

    // one run: one line, the last
    let one = drlab(&["sweep", LAN, "--seeds", "1"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let lines = progress_lines(&one, "sweep");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(stdout(&one).starts_with("sweep of "), "{}", stdout(&one));
}

#[test]
fn explore_progress_is_bounded_lines_on_stderr() {
    let o = drlab(&["explore", LAN, "--runs", "40", "--format", "json"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(summary["runs"], 40);
    let lines = progress_lines(&o, "explore");
    assert!((1..=10).contains(&lines.len()), "{lines:#?}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("explore: 40 runs done in "),
        "{lines:#?}"
    );
}

/// Runs `drlab ARGS > out` under a pseudo-terminal (stderr on it), with
/// `TERM` as given; what the terminal showed, and stdout. `None` when
/// util-linux's `script` is not installed.
fn on_a_terminal(args: &str, term: &str) -> Option<(String, Vec<u8>)> {
    if Command::new("script").arg("--version").output().is_err() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: `script` (util-linux) is not installed, so no pseudo-terminal");
        }
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let cmd = format!(
        "'{}' {args} > '{}'",
        env!("CARGO_BIN_EXE_drlab"),
        out.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("TERM", term)
        .env_remove("NO_COLOR")
        .current_dir(root())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some((
        String::from_utf8_lossy(&o.stdout).into_owned(),
        std::fs::read(&out).unwrap(),
    ))
}

#[test]
fn on_a_terminal_sweep_draws_a_bar_and_prints_the_same_result() {
    let args = format!("sweep {LAN} --seeds 60 --format json");
    let Some((shown, result)) = on_a_terminal(&args, "xterm") else {
        return;
    };
    // a bar redrawn in place (carriage return, erase line), not lines
    assert!(shown.contains("\r\x1b[2K"), "{shown:?}");
    assert!(
        shown.contains("sweep [") && shown.contains("/60 runs"),
        "{shown:?}"
    );
    assert!(!shown.contains("runs done in"), "{shown:?}");
    // stdout is byte for byte what a pipe gets
    let piped = drlab(&["sweep", LAN, "--seeds", "60", "--format", "json"]);
    assert_eq!(result, piped.stdout);

    // a dumb terminal gets the plain lines
    let Some((shown, result)) = on_a_terminal(&args, "dumb") else {
        return;
    };
    assert!(!shown.contains('\x1b'), "{shown:?}");
    assert!(shown.contains("sweep: 60 runs done in "), "{shown:?}");
    assert_eq!(result, piped.stdout);
}
