//! `drlab run`: one scenario, one seed, one report.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use drlab_reports::{Report, Verdict};

use super::{load, out};
use crate::Outcome;
use crate::cli::Format;
use crate::output::write_atomic;

pub fn run(path: &Path, seed: Option<u64>, format: Format, dir: Option<&Path>) -> Result<Outcome> {
    let s = load(path)?;
    let seed = seed.unwrap_or(s.scenario.seed);
    let sim = drlab_sim::run(&s, seed)
        .with_context(|| format!("simulation of {} with seed {seed} failed", path.display()))?;
    let report = Report::from_events(&sim.events);
    let json = serde_json::to_string_pretty(&report)? + "\n";
    out(&match format {
        Format::Text => drlab_reports::text(&report),
        Format::Json => json.clone(),
        Format::Md => drlab_reports::markdown(&report),
    });
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut events = String::new();
        for e in &sim.events {
            let _ = writeln!(events, "{}", serde_json::to_string(e)?);
        }
        write_atomic(&dir.join("events.jsonl"), events.as_bytes())?;
        write_atomic(
            &dir.join("report.md"),
            drlab_reports::markdown(&report).as_bytes(),
        )?;
        write_atomic(
            &dir.join("junit.xml"),
            drlab_reports::junit(std::slice::from_ref(&report)).as_bytes(),
        )?;
        // The JSON report last: its presence means the others are complete.
        write_atomic(&dir.join("report.json"), json.as_bytes())?;
    }
    Ok(match report.verdict {
        Verdict::Pass => Outcome::Pass,
        Verdict::Fail => Outcome::Fail,
    })
}
