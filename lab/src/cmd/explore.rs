//! `drlab explore`: many simulated drills of one scenario, each with a
//! fault schedule drawn from its run's seed on top of the scenario's own,
//! every run judged by the invariants of `drlab_reports::invariants`, each
//! failure shrunk to the fewest drawn faults that still break the same
//! invariant and written as a scenario file that replays it exactly.
//!
//! Swarm testing (as FoundationDB's BUGGIFY and TigerBeetle's VOPR do): a
//! run enables a random subset of the fault kinds and of the hosts, so
//! rare combinations are reached. The kinds drawn are host crashes and
//! power cuts, partitions and degraded WAN links (`KINDS`). Every drawn
//! fault heals (a crash or power cut is followed by a power-on, a
//! partition by a heal, a degraded link gets its own figures back) before
//! the last `LIVENESS_FRACTION` of the horizon, which is the liveness phase: the
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
use serde::{Deserialize, Serialize};

use super::{load, out};
use crate::Outcome;
use crate::cli::Format;
use crate::progress::Progress;
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
    /// Parallel jobs, each a contiguous part of the seeds.
    pub jobs: u64,
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

/// The fault kinds explore draws, each with the repair that heals it.
const KINDS: [&str; 4] = ["crash-host", "power-off", "partition", "degrade-link"];

/// A link made worse: its new and its original figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
struct Degraded {
    latency_ms: f64,
    bandwidth_mbps: f64,
    original_latency_ms: f64,
    original_bandwidth_mbps: f64,
}

/// One drawn fault and its repair, as `[[faults]]` entries.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct Drawn {
    /// One of [`KINDS`].
    kind: &'static str,
    /// The host (crash, power-off), the host cut off its site (partition),
    /// or the link's first site (degrade-link).
    host: String,
    /// Its site (partitions), or the link's other site.
    site: String,
    at_s: f64,
    repair_at_s: f64,
    /// A degraded link's figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<Degraded>,
}

impl Drawn {
    fn tables(&self) -> [toml::Table; 2] {
        let mut fault = toml::Table::new();
        let mut repair = toml::Table::new();
        fault.insert("at_s".into(), self.at_s.into());
        repair.insert("at_s".into(), self.repair_at_s.into());
        match (self.kind, self.link) {
            ("crash-host" | "power-off", _) => {
                fault.insert("kind".into(), self.kind.into());
                fault.insert("host".into(), self.host.clone().into());
                repair.insert("kind".into(), "power-on".into());
                repair.insert("host".into(), self.host.clone().into());
            }
            ("degrade-link", Some(l)) => {
                // the repair is the same fault with the link's own figures
                for (t, lat, bw) in [
                    (&mut fault, l.latency_ms, l.bandwidth_mbps),
                    (
                        &mut repair,
                        l.original_latency_ms,
                        l.original_bandwidth_mbps,
                    ),
                ] {
                    t.insert("kind".into(), "degrade-link".into());
                    t.insert("a".into(), self.host.clone().into());
                    t.insert("b".into(), self.site.clone().into());
                    t.insert("latency_ms".into(), lat.into());
                    t.insert("bandwidth_mbps".into(), bw.into());
                }
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
        match (self.kind, self.link) {
            ("crash-host" | "power-off", _) => format!(
                "{} {} at {:.3} s, power-on at {:.3} s",
                self.kind, self.host, self.at_s, self.repair_at_s
            ),
            ("degrade-link", Some(l)) => format!(
                "degrade-link {}<->{} to {} ms, {} Mbit/s at {:.3} s, back to {} ms, {} Mbit/s at {:.3} s",
                self.host,
                self.site,
                l.latency_ms,
                l.bandwidth_mbps,
                self.at_s,
                l.original_latency_ms,
                l.original_bandwidth_mbps,
                self.repair_at_s
            ),
            _ => format!(
                "partition {}<->{} at {:.3} s, heal at {:.3} s",
                self.host, self.site, self.at_s, self.repair_at_s
            ),
        }
    }
}

/// The fault schedule of one run: a random subset of kinds and hosts
/// (at least one of each), then 1 to `faults_max` faults among them. A
/// degraded link keeps 2 % to 50 % of its bandwidth and gets 1 to 10
/// times its latency; a scenario without `[[links]]` draws no link fault.
fn draw(s: &Scenario, seed: u64, faults_max: u32, envelope: Option<Envelope>) -> Vec<Drawn> {
    let mut rng = SimRng::new(seed ^ SCHEDULE_SALT);
    let all: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
    let (kinds, hosts, n) = match envelope {
        Some(Envelope::SingleHost) => (vec!["crash-host"], all, 1),
        None => {
            let usable: Vec<&str> = KINDS
                .into_iter()
                .filter(|k| *k != "degrade-link" || !s.links.is_empty())
                .collect();
            let kinds = swarm(&mut rng, &usable);
            let hosts = swarm(&mut rng, &all);
            (kinds, hosts, 1 + pick(&mut rng, faults_max as usize))
        }
    };
    let window = s.scenario.horizon_s * LIVENESS_FRACTION;
    (0..n)
        .map(|_| {
            let kind = kinds[pick(&mut rng, kinds.len())];
            let (host, site, link) = if kind == "degrade-link" {
                let l = &s.links[pick(&mut rng, s.links.len())];
                let degraded = Degraded {
                    latency_ms: ms(l.latency_ms * (1.0 + 9.0 * rng.unit())),
                    bandwidth_mbps: ms(l.bandwidth_mbps * (0.02 + 0.48 * rng.unit())).max(0.001),
                    original_latency_ms: l.latency_ms,
                    original_bandwidth_mbps: l.bandwidth_mbps,
                };
                (l.between[0].clone(), l.between[1].clone(), Some(degraded))
            } else {
                let host = hosts[pick(&mut rng, hosts.len())].to_string();
                let site = s
                    .hosts
                    .iter()
                    .find(|h| h.name == host)
                    .map(|h| h.site.clone())
                    .expect("a scenario host");
                (host, site, None)
            };
            // millisecond times, so the replay file says them exactly
            let at_s = ms(rng.unit() * window);
            let repair_at_s = ms(at_s + 0.001 + rng.unit() * (window - at_s));
            Drawn {
                kind,
                host,
                site,
                at_s,
                repair_at_s,
                link,
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
    // Only fixed times must be in order (a drawn time, a distribution
    // table, is placed by its draw): a drawn one sorts first, and a value
    // that is neither fails the scenario's validation after this.
    let at = |v: &toml::Value| match v.get("at_s") {
        Some(toml::Value::Float(x)) => *x,
        Some(toml::Value::Integer(i)) => *i as f64,
        _ => f64::NEG_INFINITY,
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

/// What makes two failures the same: the faulted kinds and hosts, and the
/// outcome (the times differ from seed to seed, the cause does not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Class {
    faults: Vec<String>,
    outcome: String,
}

impl Class {
    fn of(drawn: &[Drawn], what: &str) -> Class {
        let mut faults: Vec<String> = drawn
            .iter()
            .map(|d| format!("{} {}", d.kind, d.host))
            .collect();
        faults.sort();
        Class {
            faults,
            outcome: what.split(':').next().unwrap_or("").to_string()
                + what.rsplit('"').nth(1).unwrap_or(""),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Failure {
    class: Class,
    /// Runs that failed this way.
    runs: u64,
    /// The first seed that did.
    seed: u64,
    invariant: String,
    at_s: f64,
    what: String,
    /// The drawn faults that still break it, after shrinking.
    schedule: Vec<String>,
    /// The replay file, when `--out` was given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    replay: Option<PathBuf>,
    /// The shrunk schedule itself, until its replay file is written.
    #[serde(skip)]
    drawn: Vec<Drawn>,
}

/// What the runs of consecutive seeds found. Findings of later seeds
/// are added with [`Found::then`], so parallel jobs and shards on other
/// machines add up to what one loop over all the seeds finds, as long as
/// each part shrinks every failure it meets (at most `SHRINKS_MAX` per
/// part: beyond that a part counts failing runs without shrinking them,
/// so parts together may shrink more than one loop would).
#[derive(Default, Serialize, Deserialize)]
struct Found {
    failed_runs: u64,
    failures_by_invariant: BTreeMap<String, u64>,
    objectives_missed: u64,
    /// Failing runs not shrunk (beyond `SHRINKS_MAX` in their part).
    unshrunk: u64,
    /// One per distinct (invariant, class), with its first seed.
    failures: Vec<Failure>,
}

impl Found {
    /// These findings followed by those of the seeds after them.
    fn then(mut self, later: Found) -> Found {
        self.failed_runs += later.failed_runs;
        for (inv, n) in later.failures_by_invariant {
            *self.failures_by_invariant.entry(inv).or_default() += n;
        }
        self.objectives_missed += later.objectives_missed;
        self.unshrunk += later.unshrunk;
        for f in later.failures {
            self.add(f);
        }
        self
    }

    /// Counts `f` with the failure of its class, or keeps it as a new one.
    fn add(&mut self, f: Failure) {
        match self
            .failures
            .iter_mut()
            .find(|k| k.invariant == f.invariant && k.class == f.class)
        {
            Some(known) => known.runs += f.runs,
            None => self.failures.push(f),
        }
    }
}

/// Which part of an exploration a summary covers, when not all of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ShardOf {
    index: u64,
    count: u64,
    /// The whole exploration's seeds.
    first_seed: u64,
    runs: u64,
}

/// The summary `explore` prints and writes (`DIR/summary.json`), and
/// `explore merge` reads back.
#[derive(Serialize, Deserialize)]
struct Summary {
    scenario: String,
    /// The seeds this summary covers.
    runs: u64,
    first_seed: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    shard: Option<ShardOf>,
    faults_max: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    envelope: Option<String>,
    /// Wall time of the runs (summed over merged shards).
    wall_s: f64,
    runs_per_s: f64,
    #[serde(flatten)]
    found: Found,
}

/// Largest summary `explore merge` reads.
const SUMMARY_BYTES_MAX: u64 = 64 << 20;

/// What every run of one exploration shares.
struct Explorer<'a> {
    a: &'a ExploreArgs<'a>,
    s: &'a Scenario,
    base: &'a toml::Table,
    /// Runs done so far, over all jobs, on stderr (`crate::progress`).
    progress: Progress,
    /// Failing runs so far, over all jobs (for the progress message).
    failed: std::sync::atomic::AtomicU64,
}

impl Explorer<'_> {
    /// Runs, judges and shrinks the seeds of one part, in order.
    fn part(&self, seeds: Seeds) -> Result<Found> {
        let mut found = Found::default();
        let mut shrinks = 0;
        for seed in seeds.iter() {
            let name = PathBuf::from(format!(
                "{} (explore seed {seed})",
                self.a.scenario.display()
            ));
            let drawn = draw(self.s, seed, self.a.faults_max, self.a.envelope);
            let r = run_one(self.base, &drawn, seed, &name, self.a.envelope)?;
            self.ran(!r.violations.is_empty());
            if r.report.as_ref().is_none_or(|x| x.verdict == Verdict::Fail) {
                found.objectives_missed += 1;
            }
            let Some(first) = r.violations.first() else {
                continue;
            };
            found.failed_runs += 1;
            for v in &r.violations {
                *found
                    .failures_by_invariant
                    .entry(v.invariant.to_string())
                    .or_default() += 1;
            }
            if shrinks >= SHRINKS_MAX {
                found.unshrunk += 1;
                continue;
            }
            shrinks += 1;
            let f = self.shrunk(drawn, seed, first, &name)?;
            found.add(f);
        }
        Ok(found)
    }

    /// The failure of `seed`, shrunk, with what its shrunk schedule shows
    /// (its time and words).
    fn shrunk(
        &self,
        drawn: Vec<Drawn>,
        seed: u64,
        first: &Violation,
        name: &Path,
    ) -> Result<Failure> {
        let env = self.a.envelope;
        let small = shrink(self.base, drawn, seed, first.invariant, name, env)?;
        let again = run_one(self.base, &small, seed, name, env)?;
        let first = again
            .violations
            .into_iter()
            .find(|v| v.invariant == first.invariant)
            .unwrap_or_else(|| first.clone());
        Ok(Failure {
            class: Class::of(&small, &first.what),
            runs: 1,
            seed,
            invariant: first.invariant.to_string(),
            at_s: first.at_s,
            what: first.what,
            schedule: small.iter().map(Drawn::line).collect(),
            replay: None,
            drawn: small,
        })
    }

    /// One more run done, failed or not, shown on stderr (stdout stays
    /// the summary). The progress does not change what is found.
    fn ran(&self, failed: bool) {
        if failed {
            let n = self
                .failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            self.progress.set_message(&format!("{n} failed"));
        }
        self.progress.inc(1);
    }

    /// The parts in parallel, added up in seed order, so the findings do
    /// not depend on thread timing.
    fn parts(&self, seeds: Seeds, jobs: u64) -> Result<Found> {
        let found = std::thread::scope(|scope| -> Result<Vec<Found>> {
            let handles: Vec<_> = seeds
                .split(jobs)
                .into_iter()
                .map(|part| scope.spawn(move || self.part(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| anyhow::anyhow!("an explore job panicked"))?
                })
                .collect()
        })?;
        Ok(found.into_iter().fold(Found::default(), Found::then))
    }
}

/// Most parallel jobs.
pub const JOBS_MAX: u64 = 64;

pub fn explore(a: &ExploreArgs<'_>) -> Result<Outcome> {
    super::no_html(a.format, "explore")?;
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
    ensure!(
        (1..=JOBS_MAX).contains(&a.jobs),
        "--jobs must be between 1 and {JOBS_MAX}, got {}",
        a.jobs
    );
    let s = load(a.scenario)?;
    ensure!(
        !s.hosts.is_empty(),
        "{}: a scenario without hosts has nothing to fault",
        a.scenario.display()
    );
    let all = Seeds::new(a.seed.unwrap_or(s.scenario.seed), a.runs)?;
    let (seeds, shard) = match a.shard {
        Some((i, n)) => match all.split(n).get(i as usize) {
            Some(part) => (
                *part,
                Some(ShardOf {
                    index: i,
                    count: n,
                    first_seed: all.first,
                    runs: all.count,
                }),
            ),
            // an empty shard (more shards than runs) runs nothing, and
            // says so in a summary `explore merge` accepts
            None => {
                let empty = Summary {
                    scenario: s.scenario.name.clone(),
                    runs: 0,
                    first_seed: all.first,
                    shard: Some(ShardOf {
                        index: i,
                        count: n,
                        first_seed: all.first,
                        runs: all.count,
                    }),
                    faults_max: a.faults_max,
                    envelope: a.envelope.map(envelope_name),
                    wall_s: 0.0,
                    runs_per_s: 0.0,
                    found: Found::default(),
                };
                return finish(&empty, a.format, a.out);
            }
        },
        None => (all, None),
    };
    let text = std::fs::read_to_string(a.scenario)
        .with_context(|| format!("cannot read {}", a.scenario.display()))?;
    let base: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", a.scenario.display()))?;
    let explorer = Explorer {
        a,
        s: &s,
        base: &base,
        progress: Progress::new("explore", Some(seeds.count), "runs"),
        failed: 0.into(),
    };
    let started = Instant::now();
    let mut found = explorer.parts(seeds, a.jobs)?;
    let wall_s = started.elapsed().as_secs_f64();
    explorer.progress.finish();
    if let Some(dir) = a.out {
        for f in &mut found.failures {
            f.replay = Some(write_replay(dir, &s, &base, f, a.envelope.is_some())?);
        }
    }
    let summary = Summary {
        scenario: s.scenario.name.clone(),
        runs: seeds.count,
        first_seed: seeds.first,
        shard,
        faults_max: a.faults_max,
        envelope: a.envelope.map(envelope_name),
        wall_s,
        runs_per_s: per_s(seeds.count, wall_s),
        found,
    };
    finish(&summary, a.format, a.out)
}

fn envelope_name(e: Envelope) -> String {
    match e {
        Envelope::SingleHost => "single-host".into(),
    }
}

fn per_s(runs: u64, wall_s: f64) -> f64 {
    if wall_s > 0.0 {
        runs as f64 / wall_s
    } else {
        0.0
    }
}

/// Prints the summary, writes it beside the replay files, and judges.
fn finish(summary: &Summary, format: Format, out_dir: Option<&Path>) -> Result<Outcome> {
    let json = serde_json::to_string_pretty(summary)? + "\n";
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        crate::output::write_file(&dir.join("summary.json"), json.as_bytes())?;
    }
    out(&match format {
        Format::Json => json,
        Format::Text | Format::Md | Format::Html => text_summary(summary),
    });
    Ok(if summary.found.failed_runs == 0 {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// `drlab explore merge DIR...`: the shards' summaries (each `DIR/summary.json`
/// of `explore --shard I/N --out DIR`) added up into the summary one
/// exploration over all their seeds prints. Every shard of the same
/// exploration must be there, each once.
pub fn merge(dirs: &[PathBuf], format: Format) -> Result<Outcome> {
    super::no_html(format, "explore merge")?;
    let mut parts: Vec<(ShardOf, Summary)> = Vec::new();
    for d in dirs {
        let p = read_summary(d)?;
        let shard = p.shard.with_context(|| {
            format!(
                "{}: not a shard's summary (no `shard`): it is a whole exploration already",
                d.display()
            )
        })?;
        parts.push((shard, p));
    }
    parts.sort_by_key(|(shard, _)| shard.index);
    let (whole, first) = parts.first().context("no summaries to merge")?;
    let whole = *whole;
    let mut seen = std::collections::BTreeSet::new();
    for (shard, p) in &parts {
        let same = p.scenario == first.scenario
            && p.faults_max == first.faults_max
            && p.envelope == first.envelope;
        ensure!(
            same,
            "the summaries are of different explorations ({} with --faults-max {} and {:?}, {} with --faults-max {} and {:?})",
            first.scenario,
            first.faults_max,
            first.envelope,
            p.scenario,
            p.faults_max,
            p.envelope
        );
        ensure!(
            (shard.count, shard.first_seed, shard.runs)
                == (whole.count, whole.first_seed, whole.runs),
            "shard {}/{} is of {} runs from seed {}, shard {}/{} of {} runs from seed {}: not one exploration",
            shard.index,
            shard.count,
            shard.runs,
            shard.first_seed,
            whole.index,
            whole.count,
            whole.runs,
            whole.first_seed
        );
        ensure!(
            seen.insert(shard.index),
            "shard {}/{} is given twice",
            shard.index,
            shard.count
        );
    }
    // every shard that has seeds must be here; empty ones (more shards
    // than runs) may be
    let split = Seeds::new(whole.first_seed, whole.runs)?.split(whole.count);
    for (i, part) in split.iter().enumerate() {
        ensure!(
            seen.contains(&(i as u64)),
            "shard {i}/{} is missing (got shards {:?})",
            whole.count,
            seen
        );
        if let Some((_, p)) = parts.iter().find(|(s, _)| s.index == i as u64) {
            ensure!(
                (p.first_seed, p.runs) == (part.first, part.count),
                "shard {i}/{} ran {} runs from seed {}, where its part is {} runs from seed {}",
                whole.count,
                p.runs,
                p.first_seed,
                part.count,
                part.first
            );
        }
    }
    let first = &parts[0].1;
    let (scenario, faults_max, envelope) = (
        first.scenario.clone(),
        first.faults_max,
        first.envelope.clone(),
    );
    let wall_s: f64 = parts.iter().map(|(_, p)| p.wall_s).sum();
    let found = parts
        .into_iter()
        .map(|(_, p)| p.found)
        .fold(Found::default(), Found::then);
    let summary = Summary {
        scenario,
        runs: whole.runs,
        first_seed: whole.first_seed,
        shard: None,
        faults_max,
        envelope,
        wall_s,
        runs_per_s: per_s(whole.runs, wall_s),
        found,
    };
    finish(&summary, format, None)
}

fn read_summary(dir: &Path) -> Result<Summary> {
    let path = if dir.is_dir() {
        dir.join("summary.json")
    } else {
        dir.to_path_buf()
    };
    let text = super::read_bounded(&path, SUMMARY_BYTES_MAX, "an explore summary")?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not an explore summary: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Writes the replay file of a failure (atomically): the scenario with its
/// shrunk schedule, its seed, and a header saying how to replay it.
fn write_replay(
    dir: &Path,
    s: &Scenario,
    base: &toml::Table,
    v: &Failure,
    replace: bool,
) -> Result<PathBuf> {
    let (drawn, seed) = (&v.drawn, v.seed);
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
    crate::output::write_file(&path, text.as_bytes())?;
    Ok(path)
}

fn text_summary(s: &Summary) -> String {
    let mut t = format!(
        "explore {}: {} runs from seed {} ({:.0} runs/s), {} failed, {} missed an objective\n",
        s.scenario,
        s.runs,
        s.first_seed,
        s.runs_per_s,
        s.found.failed_runs,
        s.found.objectives_missed
    );
    for (inv, n) in &s.found.failures_by_invariant {
        t += &format!("  {inv}: {n} runs\n");
    }
    if s.found.unshrunk > 0 {
        t += &format!(
            "  ({} failing runs beyond the first {SHRINKS_MAX} were not shrunk)\n",
            s.found.unshrunk
        );
    }
    for f in &s.found.failures {
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
