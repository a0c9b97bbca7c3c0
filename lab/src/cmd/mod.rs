//! The subcommands.

mod bench;
mod catalogue;
mod drill;
pub mod explore;
mod lab;
mod run;
pub mod sweep;

mod validate;

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use drlab_scenarios::Scenario;

use crate::Outcome;
use crate::cli::{Cli, Command};

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
        Command::Explore {
            scenario,
            runs,
            seed,
            faults_max,
            format,
            out,
            shard,
            envelope,
        } => explore::explore(&explore::ExploreArgs {
            scenario: &scenario,
            runs,
            seed,
            faults_max,
            format,
            out: out.as_deref(),
            shard,
            envelope,
        }),
        Command::Sweep {
            scenario,
            seeds,
            seed,
            jobs,
            vary,
            require,
            format,
        } => sweep::sweep(
            &scenario,
            seeds,
            seed,
            jobs,
            &vary,
            require.as_ref(),
            format,
        ),

        Command::Catalogue { dir, format, lab } => {
            catalogue::catalogue(&dir, format, lab.as_deref())
        }
        Command::Bench {
            scenario,
            runs,
            jobs,
            seed,
        } => bench::bench(&scenario, runs, jobs, seed),
        Command::Lab { action } => lab::lab(action),
        Command::Drill { action } => drill::drill(action),
    }
}

/// Loads a scenario; problems become one error listing each location.
pub fn load(path: &Path) -> Result<Scenario> {
    drlab_scenarios::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes to standard output, ignoring a closed pipe (`drlab ... | head`).
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}
