//! The subcommands.

mod bench;
mod calibrate;
mod catalogue;
mod check;
mod compare;
mod drill;
pub mod explore;
mod lab;
mod run;
mod schema;
mod sla;
pub mod sweep;

mod validate;

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use drlab_scenarios::Scenario;

use crate::Outcome;
use crate::cli::{Cli, Command, Format};

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Run {
            scenario,
            seed,
            format,
            out,
            backend,
            inventory,
            dry_run,
            journal_dir,
        } => run::run(&run::RunArgs {
            scenario: &scenario,
            seed,
            format,
            out: out.as_deref(),
            backend,
            inventory: inventory.as_deref(),
            dry_run,
            journal_dir: &journal_dir,
        }),

        Command::Validate { scenarios } => validate::validate(&scenarios),
        Command::Schema => schema::schema(),
        Command::Explore {
            action: Some(crate::cli::ExploreAction::Merge { dirs, format }),
            ..
        } => explore::merge(&dirs, format),
        Command::Explore {
            action: None,
            scenario,
            runs,
            seed,
            faults_max,
            format,
            out,
            shard,
            envelope,
            jobs,
        } => explore::explore(&explore::ExploreArgs {
            scenario: &scenario.context("a scenario file is required")?,
            runs,
            seed,
            faults_max,
            format,
            out: out.as_deref(),
            shard,
            envelope,
            jobs,
        }),
        Command::Sweep {
            scenario,
            seeds,
            seed,
            jobs,
            vary,
            require,
            format,
            out,
        } => sweep::sweep(&sweep::SweepArgs {
            scenario: &scenario,
            seeds,
            first_seed: seed,
            jobs,
            vary: &vary,
            require: require.as_ref(),
            format,
            out: out.as_deref(),
        }),

        Command::Sla {
            plan,
            seeds,
            seed,
            years,
            jobs,
            format,
            out,
        } => sla::sla(&sla::SlaArgs {
            plan: &plan,
            seeds,
            seed,
            years,
            jobs,
            format,
            out: out.as_deref(),
        }),
        Command::Catalogue { dir, format, lab } => {
            catalogue::catalogue(&dir, format, lab.as_deref())
        }
        Command::Bench {
            scenario,
            runs,
            jobs,
            seed,
        } => bench::bench(&scenario, runs, jobs, seed),
        Command::Check { events, format } => check::check(&events, format),
        Command::Compare {
            a,
            b,
            tolerance,
            format,
            other_scenario,
        } => compare::compare(&compare::CompareArgs {
            a: &a,
            b: &b,
            tolerance_pct: tolerance,
            format,
            other_scenario,
        }),
        Command::Calibrate {
            reports,
            scenario,
            out,
        } => calibrate::calibrate(&calibrate::CalibrateArgs {
            reports: &reports,
            scenario: &scenario,
            out: out.as_deref(),
        }),
        Command::Lab { action } => lab::lab(action),
        Command::Drill { action } => drill::drill(action),
    }
}

/// Simulates a prepared scenario with `seed` and computes its report as
/// the events are recorded, keeping none of them
/// (`drlab_reports::ReportSink`): the report `Report::from_events` gives
/// for the kept trace, in memory that does not grow with the run's events.
pub fn simulate_report(
    prepared: &drlab_sim::Prepared<'_>,
    seed: u64,
) -> Result<(drlab_reports::Report, drlab_sim::SimStats), drlab_sim::ExecError> {
    let sink = std::cell::RefCell::new(drlab_reports::ReportSink::new());
    let stats = prepared.run_into(seed, &sink)?;
    Ok((sink.into_inner().finish(), stats))
}

/// Loads a scenario; problems become one error listing each location.
pub fn load(path: &Path) -> Result<Scenario> {
    drlab_scenarios::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Refuses `--format html` for a command that has no HTML output yet,
/// before it does any work.
pub fn no_html(format: Format, command: &str) -> Result<()> {
    anyhow::ensure!(
        format != Format::Html,
        "--format html is for `drlab run`, `sweep`, `compare` and `sla`; `drlab {command}` prints text, md or json"
    );
    Ok(())
}

/// Reads a UTF-8 file of at most `bytes_max` bytes: refused before reading
/// when its metadata says it is larger, and stopped at the limit when it
/// grows while it is read (or is a pipe). `what` names the file's kind with
/// its article (`a report`, `an explore summary`) in the messages:
/// `PATH: cannot open a report: …`, `PATH: N bytes is more than a report's
/// limit of M bytes`, `PATH:LINE:COLUMN: not UTF-8 text`.
pub fn read_bounded(path: &Path, bytes_max: u64, what: &str) -> Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("{}: cannot open {what}", path.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("{}: cannot read {what}", path.display()))?
        .len();
    let too_large = |bytes: u64| {
        anyhow::anyhow!(
            "{}: {bytes} bytes is more than {what}'s limit of {bytes_max} bytes",
            path.display()
        )
    };
    if size > bytes_max {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    file.take(bytes_max.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: cannot read {what}", path.display()))?;
    if bytes.len() as u64 > bytes_max {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let (line, column) = line_column(valid);
        anyhow::anyhow!("{}:{line}:{column}: not UTF-8 text", path.display())
    })
}

/// The 1-based line and column just after `before`.
fn line_column(before: &[u8]) -> (usize, usize) {
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

/// Writes to standard output, ignoring a closed pipe (`drlab ... | head`).
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}
