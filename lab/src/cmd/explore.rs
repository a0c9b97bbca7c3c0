//! `drlab explore`: many simulated drills of one scenario, each with a
//! fault schedule drawn from its run's seed on top of the scenario's own,
//! every run judged by the invariants of `drlab_reports::invariants`, each
//! failure shrunk to the fewest drawn faults that still break the same
//! invariant and written as a scenario file that replays it exactly.
//!
//! Swarm testing (as FoundationDB's BUGGIFY and TigerBeetle's VOPR do): a
//! run enables a random subset of the fault kinds and of the hosts, so
//! rare combinations are reached. Every drawn fault heals (a crash is
//! followed by a power-on, a partition by a heal) before the last
//! `LIVENESS_FRACTION` of the horizon, which is the liveness phase: the
//! estate must serve users again before the drill ends, or the run fails
//! as "not live". A missed objective is counted but is no failure: random
//! faults go beyond what a runbook promises, unless the exploration is
//! bounded by a design envelope (`--envelope single-host`: any one host
//! crashes once, the drawn fault replaces the scenario's), inside which a
//! missed objective is a failure: "does this runbook meet its RTO for
//! every single host failure?". `--shard I/N` runs the I-th of N
//! contiguous parts of the seeds, so machines split one exploration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use drlab_reports::invariants::{self, Violation};
use drlab_reports::{Report, Verdict};
use drlab_scenarios::Scenario;
use drlab_sim::rng::SimRng;
use serde::Serialize;

use super::{load, out};
use crate::Outcome;
use crate::cli::Format;
use crate::seeds::Seeds;

/// Most runs of one exploration.
pub const RUNS_MAX: u64 = 1_000_000;
/// Most faults drawn for one run (each with its repair).
pub const FAULTS_MAX: u32 = 16;
/// Drawn faults start and heal before this share of the horizon; the rest
/// is the liveness phase.
const LIVENESS_FRACTION: f64 = 0.5;
/// Most shrinking attempts for one failure (each a simulated run).
const SHRINK_RUNS_MAX: usize = 200;
/// Most failures shrunk in one exploration; later failing runs are
/// counted by invariant only (so shrinking costs at most
/// `SHRINKS_MAX × SHRINK_RUNS_MAX` runs however many fail).
const SHRINKS_MAX: u64 = 100;
/// Salt of the schedule's generator, so that it never draws what the run's
/// own generator (seeded with the same seed) draws.
const SCHEDULE_SALT: u64 = 0x5eed_fa17_5eed_fa17;

/// What `explore` was asked.
pub struct ExploreArgs<'a> {
    pub scenario: &'a Path,
    pub runs: u64,
    pub seed: Option<u64>,
    pub faults_max: u32,
    pub format: Format,
    pub out: Option<&'a Path>,
    /// `(i, n)`: run only the i-th of n contiguous parts of the seeds.
    pub shard: Option<(u64, u64)>,
    /// Judge the runbook inside a design envelope instead of at random.
    pub envelope: Option<Envelope>,
}

/// A design envelope: the faults a runbook promises to meet its
/// objectives under. In an envelope the drawn faults replace the
/// scenario's, and a missed objective is a failure (`objectives`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Envelope {
    /// Any one host crashes once, at any time, and is powered on later.
    SingleHost,
}

/// Parses `I/N` (0 <= I < N <= 1024).
pub fn parse_shard(v: &str) -> Result<(u64, u64), String> {
    const SHARDS_MAX: u64 = 1024;
    let (i, n) = v.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let (i, n): (u64, u64) = (
        i.trim()
            .parse()
            .map_err(|_| format!("{i:?} is not a shard number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a shard count"))?,
    );
    if n == 0 || n > SHARDS_MAX || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N <= {SHARDS_MAX}"));
    }
    Ok((i, n))
}

/// One drawn fault and its repair, as `[[faults]]` entries.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct Drawn {
    /// `crash-host` or `partition`.
    kind: &'static str,
    /// The host (crash) or the host cut off its site (partition).
    host: String,
    /// Its site (partitions).
    site: String,
    at_s: f64,
    repair_at_s: f64,
}

impl Drawn {
    fn tables(&self) -> [toml::Table; 2] {
        let mut fault = toml::Table::new();
        let mut repair = toml::Table::new();
        fault.insert("at_s".into(), self.at_s.into());
        repair.insert("at_s".into(), self.repair_at_s.into());
        match self.kind {
            "crash-host" => {
                fault.insert("kind".into(), "crash-host".into());
                fault.insert("host".into(), self.host.clone().into());
                repair.insert("kind".into(), "power-on".into());
                repair.insert("host".into(), self.host.clone().into());
            }
            _ => {
                for (t, kind) in [(&mut fault, "partition"), (&mut repair, "heal")] {
                    t.insert("kind".into(), kind.into());
                    t.insert("a".into(), self.host.clone().into());
                    t.insert("b".into(), self.site.clone().into());
                }
            }
        }
        [fault, repair]
    }

    fn line(&self) -> String {
        match self.kind {
            "crash-host" => format!(
                "crash-host {} at {:.3} s, power-on at {:.3} s",
                self.host, self.at_s, self.repair_at_s
            ),
            _ => format!(
                "partition {}<->{} at {:.3} s, heal at {:.3} s",
                self.host, self.site, self.at_s, self.repair_at_s
            ),
        }
    }
}

/// The fault schedule of one run: a random subset of kinds and hosts
/// (at least one of each), then 1 to `faults_max` faults among them.
fn draw(s: &Scenario, seed: u64, faults_max: u32, envelope: Option<Envelope>) -> Vec<Drawn> {
    let mut rng = SimRng::new(seed ^ SCHEDULE_SALT);
    let all: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
    let (kinds, hosts, n) = match envelope {
        Some(Envelope::SingleHost) => (vec!["crash-host"], all, 1),
        None => {
            let kinds = swarm(&mut rng, &["crash-host", "partition"]);
            let hosts = swarm(&mut rng, &all);
            (kinds, hosts, 1 + pick(&mut rng, faults_max as usize))
        }
    };
    let window = s.scenario.horizon_s * LIVENESS_FRACTION;
    (0..n)
        .map(|_| {
            let kind = kinds[pick(&mut rng, kinds.len())];
            let host = hosts[pick(&mut rng, hosts.len())].to_string();
            let site = s
                .hosts
                .iter()
                .find(|h| h.name == host)
                .map(|h| h.site.clone())
                .expect("a scenario host");
            // millisecond times, so the replay file says them exactly
            let at_s = ms(rng.unit() * window);
            let repair_at_s = ms(at_s + 0.001 + rng.unit() * (window - at_s));
            Drawn {
                kind,
                host,
                site,
                at_s,
                repair_at_s,
            }
        })
        .collect()
}

fn ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn pick(rng: &mut SimRng, n: usize) -> usize {
    ((rng.unit() * n as f64) as usize).min(n - 1)
}

/// Each item with probability ½, at least one.
fn swarm<'a>(rng: &mut SimRng, items: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = items.iter().copied().filter(|_| rng.chance(0.5)).collect();
    if v.is_empty() {
        v.push(items[pick(rng, items.len())]);
    }
    v
}

/// The scenario with `drawn` added to its faults, in time order, as the
/// file that replays it (comments are not kept).
fn with_faults(base: &toml::Table, drawn: &[Drawn], replace: bool) -> Result<String> {
    let mut t = base.clone();
    let mut faults: Vec<toml::Value> = match t.get("faults").and_then(toml::Value::as_array) {
        Some(own) if !replace => own.clone(),
        _ => Vec::new(),
    };
    for d in drawn {
        faults.extend(d.tables().into_iter().map(toml::Value::Table));
    }
    let at = |v: &toml::Value| {
        v.get("at_s")
            .and_then(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
            .unwrap_or(0.0)
    };
    faults.sort_by(|a, b| at(a).total_cmp(&at(b)));
    t.insert("faults".into(), toml::Value::Array(faults));
    Ok(toml::to_string(&t)?)
}

/// One run's outcome.
struct Run {
    violations: Vec<Violation>,
    /// `None` when the run did not complete (a panic, a budget).
    report: Option<Report>,
}

impl Run {
    fn broken(invariant: &'static str, what: String) -> Run {
        Run {
            violations: vec![Violation {
                invariant,
                at_s: 0.0,
                what,
            }],
            report: None,
        }
    }
}

fn run_one(
    base: &toml::Table,
    drawn: &[Drawn],
    seed: u64,
    name: &Path,
    envelope: Option<Envelope>,
) -> Result<Run> {
    let text = with_faults(base, drawn, envelope.is_some())?;
    let s = drlab_scenarios::parse(name, &text).map_err(|e| {
        anyhow::anyhow!("a drawn schedule does not validate (a bug of explore): {e}")
    })?;
    // A panic (a broken assertion of the simulator or the drill) and a run
    // that exceeds its budgets are failures of this run, not of explore.
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drlab_sim::run(&s, seed)));
    let sim = match ran {
        Ok(Ok(sim)) => sim,
        Ok(Err(e)) => return Ok(Run::broken("budget", format!("the run stopped: {e}"))),
        Err(p) => {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            return Ok(Run::broken("panic", what));
        }
    };
    let report = Report::from_events(&sim.events);
    let mut violations = invariants::check(&sim.events);
    // inside its design envelope a runbook must meet its objectives
    if envelope.is_some() && report.verdict == Verdict::Fail {
        violations.push(Violation {
            invariant: "objectives",
            at_s: report.timeline.ended_s,
            what: report.reasons.join("; "),
        });
    }
    Ok(Run {
        violations,
        report: Some(report),
    })
}

/// The fewest drawn faults that still break `invariant` (each removal
/// kept when the run still breaks it), at most `SHRINK_RUNS_MAX` runs.
fn shrink(
    base: &toml::Table,
    mut drawn: Vec<Drawn>,
    seed: u64,
    invariant: &str,
    name: &Path,
    envelope: Option<Envelope>,
) -> Result<Vec<Drawn>> {
    let mut tries = 0;
    let mut i = 0;
    while i < drawn.len() && tries < SHRINK_RUNS_MAX {
        let mut fewer = drawn.clone();
        fewer.remove(i);
        tries += 1;
        let r = run_one(base, &fewer, seed, name, envelope)?;
        if r.violations.iter().any(|v| v.invariant == invariant) {
            drawn = fewer;
        } else {
            i += 1;
        }
    }
    Ok(drawn)
}

#[derive(Serialize)]
struct Failure {
    /// What makes two failures the same: faulted kinds and hosts, outcome.
    #[serde(skip)]
    class: (Vec<String>, String),
    /// Runs that failed this way.
    runs: u64,
    /// The first seed that did.
    seed: u64,
    invariant: &'static str,
    at_s: f64,
    what: String,
    /// The drawn faults that still break it, after shrinking.
    schedule: Vec<String>,
    /// The replay file, when `--out` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<PathBuf>,
}

#[derive(Serialize)]
struct Summary {
    scenario: String,
    runs: u64,
    first_seed: u64,
    failed_runs: u64,
    failures_by_invariant: BTreeMap<&'static str, u64>,
    objectives_missed: u64,
    /// Failing runs not shrunk (beyond `SHRINKS_MAX`).
    unshrunk: u64,
    runs_per_s: f64,
    /// One per distinct (invariant, shrunk schedule), with its first seed.
    failures: Vec<Failure>,
}

pub fn explore(a: &ExploreArgs<'_>) -> Result<Outcome> {
    ensure!(
        (1..=RUNS_MAX).contains(&a.runs),
        "--runs must be between 1 and {RUNS_MAX}, got {}",
        a.runs
    );
    ensure!(
        (1..=FAULTS_MAX).contains(&a.faults_max),
        "--faults-max must be between 1 and {FAULTS_MAX}, got {}",
        a.faults_max
    );
    let s = load(a.scenario)?;
    ensure!(
        !s.hosts.is_empty(),
        "{}: a scenario without hosts has nothing to fault",
        a.scenario.display()
    );
    let all = Seeds::new(a.seed.unwrap_or(s.scenario.seed), a.runs)?;
    let seeds = match a.shard {
        // an empty shard (more shards than runs) runs nothing
        Some((i, n)) => match all.split(n).get(i as usize) {
            Some(part) => *part,
            None => return Ok(Outcome::Pass),
        },
        None => all,
    };
    let text = std::fs::read_to_string(a.scenario)
        .with_context(|| format!("cannot read {}", a.scenario.display()))?;
    let base: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", a.scenario.display()))?;
    let started = Instant::now();
    let mut by_invariant: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut failed_runs, mut objectives_missed) = (0, 0);
    let (mut shrinks, mut unshrunk) = (0, 0);
    let mut failures: Vec<Failure> = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        let name = PathBuf::from(format!("{} (explore seed {seed})", a.scenario.display()));
        let drawn = draw(&s, seed, a.faults_max, a.envelope);
        let r = run_one(&base, &drawn, seed, &name, a.envelope)?;
        if r.report.as_ref().is_none_or(|x| x.verdict == Verdict::Fail) {
            objectives_missed += 1;
        }
        if let Some(first) = r.violations.first() {
            failed_runs += 1;
            for v in &r.violations {
                *by_invariant.entry(v.invariant).or_default() += 1;
            }
            if shrinks >= SHRINKS_MAX {
                unshrunk += 1;
                continue;
            }
            shrinks += 1;
            let small = shrink(&base, drawn, seed, first.invariant, &name, a.envelope)?;
            // what the shrunk schedule shows (its time and words)
            let again = run_one(&base, &small, seed, &name, a.envelope)?;
            let first = again
                .violations
                .into_iter()
                .find(|v| v.invariant == first.invariant)
                .unwrap_or_else(|| first.clone());
            let first = &first;
            let schedule: Vec<String> = small.iter().map(Drawn::line).collect();
            // one failure per invariant, outcome and faulted hosts: the
            // times differ from seed to seed, the cause does not
            let class = |f: &[Drawn], what: &str| {
                let mut k: Vec<String> =
                    f.iter().map(|d| format!("{} {}", d.kind, d.host)).collect();
                k.sort();
                (
                    k,
                    what.split(':').next().unwrap_or("").to_string()
                        + what.rsplit('"').nth(1).unwrap_or(""),
                )
            };
            let key = class(&small, &first.what);
            let known = failures
                .iter()
                .any(|f| f.invariant == first.invariant && f.class == key);
            if let Some(f) = failures
                .iter_mut()
                .find(|f| f.invariant == first.invariant && f.class == key)
            {
                f.runs += 1;
            }
            if !known {
                let replay = match a.out {
                    Some(dir) => Some(write_replay(
                        dir,
                        &s,
                        &base,
                        (&small, a.envelope.is_some()),
                        seed,
                        first,
                    )?),
                    None => None,
                };
                failures.push(Failure {
                    class: key,
                    runs: 1,
                    seed,
                    invariant: first.invariant,
                    at_s: first.at_s,
                    what: first.what.clone(),
                    schedule,
                    replay,
                });
            }
        }
        if (i + 1) % 1000 == 0 {
            // progress on stderr, so that stdout stays the summary
            #[allow(clippy::print_stderr)]
            {
                eprintln!("explore: {} of {} runs", i + 1, seeds.count);
            }
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let summary = Summary {
        scenario: s.scenario.name.clone(),
        runs: seeds.count,
        first_seed: seeds.first,
        failed_runs,
        failures_by_invariant: by_invariant,
        objectives_missed,
        unshrunk,
        runs_per_s: if wall_s > 0.0 {
            seeds.count as f64 / wall_s
        } else {
            0.0
        },
        failures,
    };
    out(&match a.format {
        Format::Json => serde_json::to_string_pretty(&summary)? + "\n",
        Format::Text | Format::Md => text_summary(&summary),
    });
    Ok(if summary.failed_runs == 0 {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// Writes the replay file of a failure (atomically): the scenario with the
/// shrunk schedule, its seed, and a header saying how to replay it.
fn write_replay(
    dir: &Path,
    s: &Scenario,
    base: &toml::Table,
    (drawn, replace): (&[Drawn], bool),
    seed: u64,
    v: &Violation,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut t = base.clone();
    if let Some(meta) = t.get_mut("scenario").and_then(toml::Value::as_table_mut) {
        meta.insert("seed".into(), toml::Value::Integer(seed.cast_signed()));
    }
    let path = dir.join(format!(
        "{}-{}-seed-{seed}.toml",
        s.scenario.name, v.invariant
    ));
    let body = with_faults(&t, drawn, replace)?;
    let text = format!(
        "# drlab explore: seed {seed} breaks {} at {:.3} s: {}\n\
         # replay: drlab run {} (the drill; drlab explore checks the invariant)\n{body}",
        v.invariant,
        v.at_s,
        v.what.replace('\n', " "),
        path.display()
    );
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn text_summary(s: &Summary) -> String {
    let mut t = format!(
        "explore {}: {} runs from seed {} ({:.0} runs/s), {} failed, {} missed an objective\n",
        s.scenario, s.runs, s.first_seed, s.runs_per_s, s.failed_runs, s.objectives_missed
    );
    for (inv, n) in &s.failures_by_invariant {
        t += &format!("  {inv}: {n} runs\n");
    }
    if s.unshrunk > 0 {
        t += &format!(
            "  ({} failing runs beyond the first {SHRINKS_MAX} were not shrunk)\n",
            s.unshrunk
        );
    }
    for f in &s.failures {
        t += &format!(
            "FAIL seed {} (and {} more runs like it): {} at {:.3} s: {}\n",
            f.seed,
            f.runs - 1,
            f.invariant,
            f.at_s,
            f.what
        );
        for line in &f.schedule {
            t += &format!("    {line}\n");
        }
        if let Some(p) = &f.replay {
            t += &format!("    replay: drlab run {}\n", p.display());
        }
    }
    t
}
