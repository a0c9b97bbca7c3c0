//! `drlab catalogue`: every scenario of a directory, run with its own seed,
//! as one table (the README's scenario table is made by this command).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use drlab_reports::Verdict;
use serde::Serialize;

use super::{load, out};
use crate::Outcome;
use crate::cli::Format;

/// The scenario files of a directory, in name order; at least one (a
/// catalogue of nothing proves nothing, so it is an error, not a pass).
pub fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|x| x == "toml") {
            files.push(path);
        }
    }
    anyhow::ensure!(
        !files.is_empty(),
        "{} holds no scenario file (*.toml)",
        dir.display()
    );
    files.sort();
    Ok(files)
}

#[derive(Serialize)]
struct Row {
    scenario: String,
    runbook: String,
    seed: u64,
    rto_s: Option<f64>,
    rto_objective_s: f64,
    rpo_s: Option<f64>,
    rpo_objective_s: f64,
    lost_writes: u64,
    verdict: Verdict,
    expected: Verdict,
    trace_hash: String,
    /// Whether the scenario names a lab (`[lab]`).
    #[serde(skip)]
    lab_hosted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lab: Option<LabColumn>,
}

/// The lab column of a scenario with `[lab]`, from the battery's row.
#[derive(Serialize)]
struct LabColumn {
    /// The measured RTO; `None` when the lab drill did not restore service.
    rto_s: Option<f64>,
    verdict: Verdict,
    /// Why the lab arm may differ (the scenario's `[lab] differs`).
    differs: Option<String>,
    /// The row was made from another version of the scenario (its
    /// simulated trace differs from today's).
    stale: bool,
}

/// What the battery wrote for one scenario (`tests/lab_drill.rs`).
#[derive(serde::Deserialize)]
struct BatteryRow {
    lab: BatteryArm,
    sim: SimArm,
    differs: Option<String>,
}

/// The simulator's arm as the battery ran it: its trace tells whether the
/// scenario is still the one the lab ran.
#[derive(serde::Deserialize)]
struct SimArm {
    trace_hash: Option<String>,
}

#[derive(serde::Deserialize)]
struct BatteryArm {
    rto_s: Option<f64>,
    verdict: Verdict,
}

/// The battery's row for `scenario` in `dir`; `None` when it has none (the
/// scenario was not run on the lab there).
fn battery_row(dir: &Path, scenario: &str, trace_hash: &str) -> Result<Option<LabColumn>> {
    let path = dir.join(format!("{scenario}.json"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let row: BatteryRow = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a lab battery row", path.display()))?;
    Ok(Some(LabColumn {
        stale: row.sim.trace_hash.as_deref() != Some(trace_hash),
        rto_s: row.lab.rto_s,
        verdict: row.lab.verdict,
        differs: row.differs,
    }))
}

pub fn catalogue(dir: &Path, format: Format, lab: Option<&Path>) -> Result<Outcome> {
    super::no_html(format, "catalogue")?;
    let mut rows = Vec::new();
    for path in scenario_files(dir)? {
        let s = load(&path)?;
        let (r, _) = super::simulate_report(&drlab_sim::Prepared::new(&s), s.scenario.seed)
            .with_context(|| format!("simulation of {} failed", path.display()))?;
        let expected = match s.scenario.expect {
            drlab_scenarios::format::Expect::Pass => Verdict::Pass,
            drlab_scenarios::format::Expect::Fail => Verdict::Fail,
        };
        let lab = match (lab, &s.lab) {
            (Some(d), Some(_)) => battery_row(d, &r.scenario, &r.trace_hash)?,
            _ => None,
        };
        rows.push(Row {
            lab_hosted: s.lab.is_some(),
            lab,
            scenario: r.scenario,
            runbook: r.runbook,
            seed: r.seed,
            rto_s: r.rto_s,
            rto_objective_s: r.objectives.rto_s,
            rpo_s: r.rpo_s,
            rpo_objective_s: r.objectives.rpo_s,
            lost_writes: r.lost_writes,
            verdict: r.verdict,
            expected,
            trace_hash: r.trace_hash,
        });
    }
    let f = |x: Option<f64>| x.map_or_else(|| "not restored".to_string(), |v| format!("{v:.3}"));
    out(&match format {
        Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
        Format::Md | Format::Text | Format::Html => {
            let mut t = String::from(
                "| scenario | runbook | seed | RTO (s) | RTO objective | RPO (s) | RPO objective | lost writes | verdict | expected |",
            );
            t += if lab.is_some() {
                " lab RTO (s) | lab vs sim |\n|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|\n"
            } else {
                "\n|---|---|---:|---:|---:|---:|---:|---:|---|---|\n"
            };
            for r in &rows {
                t += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.scenario,
                    r.runbook,
                    r.seed,
                    f(r.rto_s),
                    r.rto_objective_s,
                    f(r.rpo_s),
                    r.rpo_objective_s,
                    r.lost_writes,
                    word(r.verdict),
                    if r.verdict == r.expected {
                        word(r.expected).to_string()
                    } else {
                        format!("**{}: MISMATCH**", word(r.expected))
                    }
                );
                if lab.is_some() {
                    t += &lab_cells(r);
                }
                t += "\n";
            }
            t
        }
    });
    // A scenario that no longer produces its expected verdict is a regression.
    Ok(if rows.iter().all(|r| r.verdict == r.expected) {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// ` lab RTO | lab vs sim |`: the measured RTO and its difference from the
/// simulated one in % of the simulated (a different verdict, or a declared
/// difference, is said instead of a figure that would mislead).
fn lab_cells(r: &Row) -> String {
    let Some(l) = &r.lab else {
        return if r.lab_hosted { " not run | |" } else { " | |" }.to_string();
    };
    let rto = l
        .rto_s
        .map_or_else(|| "not restored".to_string(), |v| format!("{v:.3}"));
    let vs = match (r.rto_s, l.rto_s) {
        _ if l.stale => "stale: rerun the battery".to_string(),
        _ if l.verdict != r.verdict => format!("lab {}", word(l.verdict)),
        _ if l.differs.is_some() => "differs (see file)".to_string(),
        (Some(a), Some(b)) if a > 0.0 => {
            drlab_reports::compare::pct(drlab_reports::compare::difference_pct(a, b))
        }
        _ => "-".to_string(),
    };
    format!(" {rto} | {vs} |")
}

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
    }
}
