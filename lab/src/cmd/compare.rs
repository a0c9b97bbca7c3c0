//! `drlab compare A.json B.json`: two report files side by side (typically
//! the simulated and the lab report of one scenario), judged by the rules of
//! `drlab_reports::compare`. Exit 0 when they agree, 1 when they disagree,
//! 2 on bad input: a file that cannot be read, is larger than
//! `REPORT_BYTES_MAX`, is not a report (`file:line:column: message`), or is
//! the report of another scenario than the first file's (unless
//! `--other-scenario`, which makes that a warning line).

use std::path::Path;

use anyhow::{Context, Result, bail};
use drlab_reports::{REPORT_BYTES_MAX, ReadError, Report, Tolerance};

use super::{out, read_bounded};
use crate::Outcome;
use crate::cli::Format;

/// What `drlab compare` was asked.
pub struct CompareArgs<'a> {
    pub a: &'a Path,
    pub b: &'a Path,
    pub tolerance_pct: f64,
    pub format: Format,
    pub other_scenario: bool,
}

pub fn compare(args: &CompareArgs<'_>) -> Result<Outcome> {
    let tolerance = Tolerance::pct(args.tolerance_pct).context("--tolerance")?;
    let a = read_report(args.a)?;
    let b = read_report(args.b)?;
    if a.scenario != b.scenario && !args.other_scenario {
        bail!(
            "{} is a report of scenario {}, {} of {}: compare the runs of one scenario, or \
             pass --other-scenario to compare them anyway",
            args.a.display(),
            a.scenario,
            args.b.display(),
            b.scenario
        );
    }
    let c = drlab_reports::compare(&a, &b, tolerance);
    out(&match args.format {
        Format::Text => drlab_reports::compare_text(&c),
        Format::Html => drlab_reports::compare_html(&c),
        Format::Md => drlab_reports::compare_markdown(&c),
        Format::Json => serde_json::to_string_pretty(&c)? + "\n",
    });
    Ok(if c.agree {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// Reads a report file: at most `REPORT_BYTES_MAX` bytes (see
/// [`read_bounded`]), UTF-8, a report's JSON.
pub fn read_report(path: &Path) -> Result<Report> {
    let text = read_bounded(path, REPORT_BYTES_MAX, "a report")?;
    Report::from_json(&text).map_err(|e| match e {
        ReadError::TooLarge { .. } => anyhow::anyhow!("{}: {e}", path.display()),
        _ => anyhow::anyhow!("{}:{e}", path.display()),
    })
}
