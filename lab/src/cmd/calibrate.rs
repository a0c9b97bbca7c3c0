//! `drlab calibrate LAB_REPORT... --scenario FILE [--out FILE]`: fits the
//! scenario's `[timing]` to the step durations measured in one or more
//! reports (typically of lab drills) and writes the scenario with that
//! `[timing]` table, everything else of the file kept as it was.
//!
//! The files around `drlab_drill::calibrate` (which steps are timings, how
//! they are fitted, how the table is rewritten): it reads the scenario and
//! the reports (as `drlab compare` does), prints each step not calibrated
//! on standard error, and writes the calibrated scenario to `--out`
//! (atomically) or standard output. Exit 0 when written, 2 on bad input
//! (an unreadable or broken file, a report of another scenario, no step
//! that is a timing, a result that would not load).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use drlab_drill::calibrate::Measurement;

use super::compare::read_report;
use super::{load, out};
use crate::Outcome;
use crate::output::write_file;

/// What `drlab calibrate` was asked.
pub struct CalibrateArgs<'a> {
    pub reports: &'a [PathBuf],
    pub scenario: &'a Path,
    pub out: Option<&'a Path>,
}

pub fn calibrate(a: &CalibrateArgs<'_>) -> Result<Outcome> {
    let s = load(a.scenario)?;
    let text = std::fs::read_to_string(a.scenario)
        .with_context(|| format!("cannot read {}", a.scenario.display()))?;
    let reports = a
        .reports
        .iter()
        .map(|p| Ok((p.display().to_string(), read_report(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let measurements: Vec<Measurement<'_>> = reports
        .iter()
        .map(|(name, report)| Measurement { name, report })
        .collect();
    let c = drlab_drill::calibrate::calibrate(&text, &s, &measurements)?;
    for step in &c.not_calibrated {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("drlab: not calibrated (no timing of its own): {step}");
        }
    }
    match a.out {
        Some(path) => write_file(path, c.text.as_bytes())?,
        None => out(&c.text),
    }
    Ok(Outcome::Pass)
}
