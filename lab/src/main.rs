//! The `drlab` command: parse the command line, validate the inputs, then
//! run. Exit codes: 0 objectives met, 1 an objective missed, 2 error.

mod cli;
mod cmd;
mod output;
mod progress;
mod quantile;
mod seeds;

use std::process::ExitCode;

use clap::Parser;

/// What a command concluded.
pub enum Outcome {
    /// Objectives met (or nothing to judge).
    Pass,
    /// An objective was missed.
    Fail,
}

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print and exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cmd::dispatch(args) {
        Ok(Outcome::Pass) => ExitCode::SUCCESS,
        Ok(Outcome::Fail) => ExitCode::from(1),
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
