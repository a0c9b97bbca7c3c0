//! `drlab check EVENTS.jsonl`: the invariants `drlab explore` checks, on
//! the events of a run already made (`drlab run --out DIR`'s
//! `events.jsonl`, a lab drill's), so a lab drill is judged by the same
//! checker as a simulated one. Exit 0 when every invariant holds, 1 when
//! one is broken (each broken invariant with the drill time of its first
//! witness and what the events show), 2 on bad input: a file that cannot
//! be read, is larger than `EVENTS_FILE_BYTES_MAX`, or holds a line that
//! is not an event (`file:line:column: message`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use drlab_drivers::{Event, EventKind};
use drlab_reports::events_file::{EVENTS_FILE_BYTES_MAX, EventsError};
use drlab_reports::invariants::{self, Violation};

use super::{out, read_bounded};
use crate::Outcome;
use crate::cli::Format;

/// What a check found, as `--format json` prints it.
#[derive(serde::Serialize)]
struct Checked<'a> {
    file: String,
    scenario: Option<&'a str>,
    backend: Option<&'a str>,
    events: usize,
    violations: Vec<Violation>,
}

pub fn check(path: &Path, format: Format) -> Result<Outcome> {
    let text = read_bounded(path, EVENTS_FILE_BYTES_MAX, "an events file")?;
    let events = drlab_reports::events_from_jsonl(&text).map_err(|e| match e {
        EventsError::TooLarge { .. } => anyhow::anyhow!("{}: {e}", path.display()),
        EventsError::NotAnEvent { .. } => anyhow::anyhow!("{}:{e}", path.display()),
    })?;
    let (scenario, backend) = started(&events).unzip();
    let checked = Checked {
        file: path.display().to_string(),
        scenario,
        backend,
        events: events.len(),
        violations: invariants::check(&events),
    };
    out(&match format {
        Format::Json => serde_json::to_string_pretty(&checked)? + "\n",
        Format::Md => markdown(&checked),
        Format::Text | Format::Html => plain(&checked),
    });
    Ok(if checked.violations.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// The scenario and backend the drill-started event names.
fn started(events: &[Event]) -> Option<(&str, &str)> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::DrillStarted {
            scenario, backend, ..
        } => Some((&**scenario, &**backend)),
        _ => None,
    })
}

fn heading(c: &Checked<'_>) -> String {
    match (c.scenario, c.backend) {
        (Some(s), Some(b)) => format!("{}: {} events of {s} ({b})", c.file, c.events),
        _ => format!("{}: {} events (no drill-started event)", c.file, c.events),
    }
}

fn plain(c: &Checked<'_>) -> String {
    let mut t = heading(c) + "\n";
    if c.violations.is_empty() {
        t += "every invariant holds\n";
    }
    for v in &c.violations {
        let _ = writeln!(t, "BROKEN {} at {:.3} s: {}", v.invariant, v.at_s, v.what);
    }
    t
}

fn markdown(c: &Checked<'_>) -> String {
    let mut t = format!("# Invariants\n\n{}\n\n", heading(c));
    if c.violations.is_empty() {
        t += "Every invariant holds.\n";
        return t;
    }
    t += "| invariant | at (s) | what the events show |\n|---|---:|---|\n";
    for v in &c.violations {
        let what = v.what.replace('|', "\\|");
        let _ = writeln!(t, "| {} | {:.3} | {what} |", v.invariant, v.at_s);
    }
    t
}
