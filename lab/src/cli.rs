//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Run disaster-recovery scenarios in the deterministic simulator and report
/// whether the recovery objectives held.
#[derive(Debug, Parser)]
#[command(name = "drlab", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Terminal summary.
    Text,
    /// JSON (stable keys; byte-identical for the same scenario and seed).
    Json,
    /// Markdown.
    Md,
    /// One self-contained HTML page with inline SVG charts (`run`, `sweep`, `compare`).
    Html,
}

/// Where a drill runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The deterministic simulator.
    Sim,
    /// Real infrastructure listed in an inventory.
    Lab,
}

/// What `drlab bench` measures: a scenario file, as it is or scaled.
#[derive(Debug, clap::Args)]
pub struct BenchTarget {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Instead of one measurement, a cost-per-event curve over a scaled
    /// estate: KIND=N[,N...] with KIND one of pairs, hosts, mailboxes,
    /// clients (e.g. `pairs=10,100,1000`; N at least the scenario's own
    /// count). Repeat for several curves.
    #[arg(long, value_name = "KIND=N[,N...]")]
    pub scale: Vec<drlab_scenarios::scale::ScaleSpec>,
}

/// Subcommands.

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and print its RTO/RPO report.
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// RNG seed (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Report format on standard output.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write report.json, report.md, report.html, junit.xml and events.jsonl here.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Where the drill runs: the built-in simulator, or the real lab of an inventory.
        #[arg(long, value_enum, default_value_t = BackendKind::Sim)]
        backend: BackendKind,
        /// The lab inventory (with --backend lab).
        #[arg(long, value_name = "FILE")]
        inventory: Option<PathBuf>,
        /// Print the plan (every command the lab drill would issue, no secrets)
        /// and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where lab drills write their journal.
        #[arg(long, value_name = "DIR", default_value = "drlab-journal")]
        journal_dir: PathBuf,
    },

    /// Check scenario files; print every problem with file:line:column.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (docs/scenario.schema.json),
    /// for editors (taplo, Even Better TOML) and validators.
    Schema,
    /// Run every scenario of a directory and print a table of RTO, RPO and verdict.
    Catalogue {
        /// Directory of scenarios.
        #[arg(default_value = "scenarios/library")]
        dir: PathBuf,
        /// Table format.
        #[arg(long, value_enum, default_value_t = Format::Md)]
        format: Format,
        /// The lab battery's results (`cargo test --test lab_drill` writes
        /// them to `target/lab-battery`): adds the measured lab RTO and its
        /// difference from the simulator's for every scenario with `[lab]`.
        #[arg(long, value_name = "DIR")]
        lab: Option<PathBuf>,
    },
    /// Run many simulated drills, each with a random fault schedule drawn
    /// from its seed, check invariants on every run, and shrink each
    /// failure to a replayable scenario file.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Explore {
        /// `merge`: add up the summaries of an exploration's shards.
        #[command(subcommand)]
        action: Option<ExploreAction>,
        /// Scenario file.
        #[arg(required = true)]
        scenario: Option<PathBuf>,
        /// Runs (seeds seed, seed+1, ...), at most 1,000,000.
        #[arg(long, default_value_t = 100)]
        runs: u64,
        /// First seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Most faults drawn per run (each healed later), 1 to 16.
        #[arg(long, default_value_t = 4)]
        faults_max: u32,
        /// Summary format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Where the shrunk failures' replay files go.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Run only part I of N of the seeds (contiguous; 0 <= I < N <= 1024).
        #[arg(long, value_name = "I/N", value_parser = crate::cmd::explore::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Explore inside a design envelope: the drawn faults replace the
        /// scenario's, and a missed objective is a failure.
        #[arg(long, value_enum)]
        envelope: Option<crate::cmd::explore::Envelope>,
        /// Parallel jobs, 1 to 64 (the summary does not depend on them while
        /// each job shrinks all its failures: at most 100 per job).
        #[arg(long, default_value_t = 2)]
        jobs: u64,
    },
    /// Run many seeds (and parameter values) and summarise RTO/RPO as
    /// p50/p95/p99 per value, for SLA and capacity planning.
    Sweep {
        /// Scenario file.
        scenario: PathBuf,
        /// Runs per variant (seeds seed, seed+1, ...).
        #[arg(long, default_value_t = 200)]
        seeds: u64,
        /// First seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Parallel jobs.
        #[arg(long, default_value_t = 2)]
        jobs: u64,
        /// Vary a scenario field: KEY=V1,V2,... (dotted path, [i] for arrays),
        /// e.g. `links[0].bandwidth_mbps=2,5,10`. Repeat for a product.
        #[arg(long, value_parser = crate::cmd::sweep::parse_vary)]
        vary: Vec<crate::cmd::sweep::Vary>,
        /// A condition to check per variant, e.g. `rpo_p99<=60`; exit 1 if none meets it.
        #[arg(long, value_parser = crate::cmd::sweep::parse_require)]
        require: Option<crate::cmd::sweep::Require>,
        /// Output format: the table (md, text), its rows (json), or a page
        /// of the RTO/RPO distributions and quantile curves (html).
        #[arg(long, value_enum, default_value_t = Format::Md)]
        format: Format,
        /// Also write sweep.md, sweep.json and sweep.html into DIR.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Availability budget per user tier from a plan (docs/sla.md): failure
    /// rates × simulated recovery, a Monte Carlo over years of failures and
    /// maintenance; per tier the downtime per week and year, availability,
    /// the chance of staying within budget and what contributes most. Exit
    /// 1 when no protection choice meets every tier's budget.
    Sla {
        /// Plan file (TOML).
        plan: PathBuf,
        /// Simulated runs per scenario (seeds seed, seed+1, ...), 1 to 100000.
        #[arg(long, default_value_t = 200)]
        seeds: u64,
        /// First seed of the runs, and the Monte Carlo's seed (default: the plan's).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulated years, 2 to 100000.
        #[arg(long, default_value_t = 1000)]
        years: u64,
        /// Parallel jobs for the runs, 1 to 64 (the result does not depend on them).
        #[arg(long, default_value_t = 2)]
        jobs: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write sla.txt, sla.md, sla.json and sla.html here.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Measure simulator speed on a scenario (simulated seconds per wall
    /// second, events per second, runs per minute), beside a bare
    /// `BinaryHeap` event loop replaying as many events and clock jumps (the
    /// floor); with `--scale`, the cost per event as the estate grows.
    Bench {
        /// The scenario, and how to scale it.
        #[command(flatten)]
        scenario: BenchTarget,
        /// Runs per job (seeds seed, seed+1, ...).
        #[arg(long, default_value_t = 2000)]
        runs: u64,
        /// Parallel jobs (each a single-threaded simulator).
        #[arg(long, default_value_t = 1)]
        jobs: u64,
        /// First seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Check the invariants `drlab explore` checks on the events of a run
    /// already made: `drlab run --out DIR`'s events.jsonl, simulated or
    /// lab. Exit 1 when one is broken.
    Check {
        /// The events file (one JSON event per line).
        events: PathBuf,
        /// Output format (`html` prints the text).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Compare two report files (`drlab run --format json`, `--out`'s
    /// report.json), typically the simulated and the lab run of one scenario:
    /// verdicts, RTO and its breakdown, every step, the DR state trace, RPO.
    /// Exit 1 when they disagree: the verdicts, the RTO beyond the tolerance,
    /// the state traces, the step lists, or a step's outcome. RPO and lost
    /// writes are shown, not judged: they depend on the replication's phase
    /// when the fault struck.
    Compare {
        /// The reference report (percentages are of its figures), e.g. the simulated one.
        a: PathBuf,
        /// The report compared with it, e.g. the lab's.
        b: PathBuf,
        /// How far B's RTO may be from A's, in % of A's (0 to 1000).
        #[arg(long, value_name = "PCT", default_value_t = drlab_reports::compare::DEFAULT_TOLERANCE_PCT)]
        tolerance: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Compare reports of different scenarios (a warning line instead of an error).
        #[arg(long)]
        other_scenario: bool,
    },
    /// Fit a scenario's [timing] to the step durations measured in reports
    /// (typically of lab drills: one gives fixed values, several
    /// distributions) and write the calibrated scenario.
    Calibrate {
        /// Report files (`drlab run --format json`, report.json) of the scenario.
        #[arg(required = true, value_name = "LAB_REPORT")]
        reports: Vec<PathBuf>,
        /// The scenario to calibrate.
        #[arg(long, value_name = "FILE")]
        scenario: PathBuf,
        /// Where to write the calibrated scenario (atomically; default standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The CI lab of real components in containers (needs Docker).
    Lab {
        /// What to do with it.
        #[command(subcommand)]
        action: LabAction,
    },
    /// Drill journals: list what drills did, roll an interrupted one back.
    Drill {
        /// What to do.
        #[command(subcommand)]
        action: DrillAction,
    },
}

/// `drlab drill` subcommands.
#[derive(Debug, Subcommand)]
pub enum DrillAction {
    /// List drill journals: for a directory, one line per drill; for a
    /// file, also every action with its step, outcome and undo.
    Journal {
        /// A journal file, or a directory of journals (`*.jsonl`).
        #[arg(default_value = "drlab-journal")]
        path: PathBuf,
    },
    /// Undo what a drill did, newest action first, as its journal says;
    /// each undo is appended to the journal.
    Rollback {
        /// The drill's journal file.
        journal: PathBuf,
        /// Print the undos without performing them.
        #[arg(long)]
        dry_run: bool,
        /// Lab inventory (default: the one the journal names).
        #[arg(long, value_name = "FILE")]
        inventory: Option<PathBuf>,
    },
}

/// `drlab lab` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Build the lab image if its recipe changed, start the lab, write its
    /// inventory (and secret files, mode 0600) into DIR.
    Up {
        /// Directory for inventory.toml, known_hosts and secrets/.
        #[arg(long, value_name = "DIR", default_value = "drlab-lab")]
        out: PathBuf,
        /// Lab name (default: lab-<pid>).
        #[arg(long)]
        name: Option<String>,
        /// Start the lab these scenarios name in their `[lab]` table (one
        /// shape for all), with their domain and mailboxes.
        #[arg(long = "for", value_name = "SCENARIO", num_args = 1..)]
        for_scenarios: Vec<PathBuf>,
    },
    /// Remove every container and network of a lab.
    Down {
        /// The lab's name (default: the one in DIR/inventory.toml).
        #[arg(long)]
        name: Option<String>,
        /// Directory `lab up` wrote to (its secrets are removed too).
        #[arg(long, value_name = "DIR", default_value = "drlab-lab")]
        out: PathBuf,
    },
}

/// `drlab explore merge`.
#[derive(Debug, Subcommand)]
pub enum ExploreAction {
    /// Add up the summaries of the shards of one exploration (each the
    /// `summary.json` that `explore --shard I/N --out DIR` writes) into
    /// the summary one run over all their seeds prints.
    Merge {
        /// The shards' `--out` directories (or their summary.json files).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Summary format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}
