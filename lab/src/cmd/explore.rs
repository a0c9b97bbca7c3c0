//! `drlab explore`: many simulated drills of one scenario, each with a
//! schedule drawn from its run's seed on top of the scenario's own (faults,
//! an operator's delay, timing jitter), every run judged by the invariants
//! of `drlab_reports::invariants`, each failure shrunk to the fewest drawn
//! parts that still break the same invariant and written as a scenario
//! file that replays it exactly.
//!
//! Swarm testing (as FoundationDB's BUGGIFY and TigerBeetle's VOPR do): a
//! run enables a random subset of the fault kinds and of the hosts, and of
//! the other dimensions, so rare combinations are reached. The kinds drawn
//! are host crashes and power cuts, partitions and degraded WAN links
//! (`KINDS`). Every drawn fault heals (a crash or power cut is followed
//! by a power-on, a partition by a heal, a degraded link gets its own
//! figures back, a killed or hung service is restarted by its service
//! manager) before the last `LIVENESS_FRACTION` of the horizon, which is the
//! liveness phase: the estate must serve users again before the drill
//! ends, or the run fails as "not live". Three more dimensions, each enabled
//! in a run with probability `DIMENSION_PROBABILITY`:
//!
//! - an operator who answers late or not at all (scenarios whose `[policy]
//!   decision` is `manual` only): `operator_response_s` times 2 to 20
//!   (`OPERATOR_FACTOR`), at most a quarter of the horizon (`late_max_s`,
//!   so the runbook can still serve users by the end), or, with
//!   probability `OPERATOR_NEVER_PROBABILITY`,
//!   beyond the horizon (`never_s`: twice the horizon, at most the format's
//!   longest duration, which still lies beyond any prompt): a failure
//!   that never heals, so such a run owes no liveness, only the other
//!   invariants;
//! - a service fault (`SERVICE_KINDS`): one service of the scenario's
//!   service set killed or hung on one host that runs it (not a DAG
//!   member, not a host a fault crashes), restarted later by its service
//!   manager (`restart-service`); drawn last, so a seed's other draws are
//!   what they were before this dimension existed;
//! - timing jitter: a random subset of the `[timing]` distributions (and
//!   of the per-service ones the scenario sets), each scaled by 0.5 to 3
//!   (`JITTER_FACTOR`), so what was valid stays valid.
//!
//! The replay file carries them as explicit `[policy]` and `[timing]`
//! values. Shrinking drops drawn faults, then the operator's delay, then
//! the jittered durations (all at once, then each), keeping a removal when
//! the run still breaks the same invariant. A missed objective is counted but is no failure: random
//! faults go beyond what a runbook promises, unless the exploration is
//! bounded by a design envelope (`--envelope single-host`: any one host
//! crashes once, the drawn fault replaces the scenario's, and neither the
//! operator nor the timing is drawn, since the envelope promises nothing
//! for them), inside which a missed objective is a failure: "does this
//! runbook meet its RTO for every single host failure?". `--shard I/N`
//! runs the I-th of N contiguous parts of the seeds, so machines split one
//! exploration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use drlab_reports::invariants::{self, Violation};
use drlab_reports::{Report, Verdict};
use drlab_scenarios::Scenario;
use drlab_scenarios::bounds::DURATION_S_MAX;
use drlab_scenarios::format::{DecisionPolicy, Dist, FaultSpec, Timing};
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
/// Probability that a run enables a dimension other than the faults (a
/// late operator, timing jitter): swarm testing's coin, as for a kind.
const DIMENSION_PROBABILITY: f64 = 0.5;
/// A late operator answers after this many times the scenario's
/// `operator_response_s` (uniform, to the thousandth).
const OPERATOR_FACTOR: [f64; 2] = [2.0, 20.0];
/// A scenario whose operator answers at once (0 s) is late from this
/// response time on: a late operator answers after at least 2 s.
const OPERATOR_FLOOR_S: f64 = 1.0;
/// Share of the drawn operator delays whose operator never answers.
const OPERATOR_NEVER_PROBABILITY: f64 = 0.25;
/// A jittered duration is its distribution scaled by this factor
/// (uniform, to the thousandth), each parameter rounded to the
/// microsecond and kept within the format's longest duration.
const JITTER_FACTOR: [f64; 2] = [0.5, 3.0];

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

/// The fault kinds explore draws, each with the repair that heals it
/// (power-on, heal, the link's own figures). Service faults are a
/// dimension of their own, drawn last ([`draw_service_fault`]).
const KINDS: [&str; 4] = ["crash-host", "power-off", "partition", "degrade-link"];

/// A service fault's kinds; its repair is `restart-service`.
const SERVICE_KINDS: [&str; 2] = ["kill-service", "hang-service"];

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
    /// The host (crash, power-off, a service's), the host cut off its site
    /// (partition), or the link's first site (degrade-link).
    host: String,
    /// The killed or hung service.
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
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
            ("kill-service" | "hang-service", _) => {
                let service = self.service.clone().unwrap_or_default();
                for (t, kind) in [(&mut fault, self.kind), (&mut repair, "restart-service")] {
                    t.insert("kind".into(), kind.into());
                    t.insert("host".into(), self.host.clone().into());
                    t.insert("service".into(), service.clone().into());
                }
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
            ("kill-service" | "hang-service", _) => format!(
                "{} {}:{} at {:.3} s, restart-service at {:.3} s",
                self.kind,
                self.host,
                self.service.as_deref().unwrap_or_default(),
                self.at_s,
                self.repair_at_s
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

/// An operator who answers late or not at all: the replay's
/// `[policy] operator_response_s`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Operator {
    /// The scenario's own `operator_response_s`.
    original_s: f64,
    /// The drawn one.
    response_s: f64,
    /// A late operator's factor (`OPERATOR_FACTOR`); `None` for one who
    /// never answers within the horizon.
    factor: Option<f64>,
}

impl Operator {
    /// What the summary and the failure's class call it.
    fn kind(&self) -> &'static str {
        match self.factor {
            Some(_) => "operator-late",
            None => "operator-never",
        }
    }

    fn line(&self) -> String {
        match self.factor {
            Some(f) => format!(
                "operator answers after {} s ({f}x the scenario's {} s)",
                self.response_s, self.original_s
            ),
            None => format!(
                "operator never answers (after {} s, beyond the horizon; the scenario's {} s)",
                self.response_s, self.original_s
            ),
        }
    }
}

/// One `[timing]` distribution scaled by a drawn factor.
#[derive(Clone, Debug, PartialEq)]
struct Jittered {
    /// The service of a per-service entry (`[timing.services.NAME]`).
    service: Option<String>,
    /// The entry's key (`store_mount_s`, a service's `start_s`).
    key: &'static str,
    /// One of `JITTER_FACTOR`'s range.
    factor: f64,
    original: Dist,
    scaled: Dist,
}

impl Jittered {
    /// Its path in the scenario: `timing.store_mount_s`,
    /// `timing.services.NAME.start_s`.
    fn path(&self) -> String {
        match &self.service {
            Some(name) => format!("timing.services.{name}.{}", self.key),
            None => format!("timing.{}", self.key),
        }
    }

    fn line(&self) -> String {
        format!(
            "jitter {} x{}: {} becomes {}",
            self.path(),
            self.factor,
            dist_text(&self.original),
            dist_text(&self.scaled)
        )
    }
}

/// A distribution as the summary says it.
fn dist_text(d: &Dist) -> String {
    match *d {
        Dist::Fixed(x) => format!("{x} s"),
        Dist::Uniform { uniform: [a, b] } => format!("uniform [{a}, {b}] s"),
        Dist::Normal {
            normal: [m, sd],
            min,
        } => format!("normal [{m}, {sd}] s from {min} s"),
        Dist::Exponential { exponential: m } => format!("exponential, mean {m} s"),
    }
}

/// A distribution as a scenario writes it.
fn dist_value(d: &Dist) -> toml::Value {
    let pair = |a: f64, b: f64| toml::Value::Array(vec![a.into(), b.into()]);
    let mut t = toml::Table::new();
    match *d {
        Dist::Fixed(x) => return x.into(),
        Dist::Uniform { uniform: [a, b] } => {
            t.insert("uniform".into(), pair(a, b));
        }
        Dist::Normal {
            normal: [m, sd],
            min,
        } => {
            t.insert("normal".into(), pair(m, sd));
            t.insert("min".into(), min.into());
        }
        Dist::Exponential { exponential: m } => {
            t.insert("exponential".into(), m.into());
        }
    }
    toml::Value::Table(t)
}

/// `d` with every parameter times `factor` (> 0), to the microsecond and
/// at most `DURATION_S_MAX`: a valid distribution stays valid (bounds
/// keep their order, nothing turns negative).
fn scaled(d: Dist, factor: f64) -> Dist {
    let x = |v: f64| ((v * factor * 1e6).round() / 1e6).min(DURATION_S_MAX);
    match d {
        Dist::Fixed(v) => Dist::Fixed(x(v)),
        Dist::Uniform { uniform: [a, b] } => Dist::Uniform {
            uniform: [x(a), x(b)],
        },
        Dist::Normal {
            normal: [m, sd],
            min,
        } => Dist::Normal {
            normal: [x(m), x(sd)],
            min: x(min),
        },
        Dist::Exponential { exponential: m } => Dist::Exponential { exponential: x(m) },
    }
}

/// A `[timing]` entry explore may jitter: its service (per-service
/// entries), key and distribution.
type TimingEntry<'a> = (Option<&'a str>, &'static str, Dist);

/// Every distribution of `t`: the top-level ones ([`Timing::durations`],
/// with their defaults), then each service's own (those the scenario
/// sets).
fn timing_entries(t: &Timing) -> Vec<TimingEntry<'_>> {
    let mut v: Vec<TimingEntry<'_>> = t
        .durations()
        .into_iter()
        .map(|(k, d)| (None, k, d))
        .collect();
    for (name, st) in &t.services {
        v.extend(st.durations().map(|(k, d)| (Some(name.as_str()), k, d)));
    }
    v
}

/// What one run draws on top of the scenario.
#[derive(Clone, Debug, Default, PartialEq)]
struct Schedule {
    faults: Vec<Drawn>,
    operator: Option<Operator>,
    jitter: Vec<Jittered>,
}

impl Schedule {
    /// The dimensions other than faults this schedule draws, as the
    /// summary counts them (`operator-late`, `operator-never`, `jitter`,
    /// and a service fault's kind).
    fn dimensions(&self) -> Vec<&'static str> {
        let jitter = (!self.jitter.is_empty()).then_some("jitter");
        let service = self
            .faults
            .iter()
            .filter(|d| d.service.is_some())
            .map(|d| d.kind);
        self.operator
            .map(|o| o.kind())
            .into_iter()
            .chain(service)
            .chain(jitter)
            .collect()
    }

    /// How many parts it has to shrink.
    fn size(&self) -> Size {
        Size {
            faults: self.faults.len(),
            operator: self.operator.is_some(),
            jitter: self.jitter.len(),
        }
    }

    /// The schedule without its `k`-th part: each fault, then the
    /// operator's delay, then all the jittered durations at once (one run
    /// instead of one each, when none is needed), then each of them;
    /// `None` past the last. The slot of all the jittered durations stays
    /// while any is left, so removing one shifts only those after it.
    fn without(&self, k: usize) -> Option<Schedule> {
        let mut fewer = self.clone();
        let faults = self.faults.len();
        let operator = usize::from(self.operator.is_some());
        let jitter = k.checked_sub(faults + operator);
        match jitter {
            None if k < faults => {
                fewer.faults.remove(k);
            }
            None => fewer.operator = None,
            Some(_) if self.jitter.is_empty() => return None,
            Some(0) => fewer.jitter.clear(),
            Some(j) if j <= self.jitter.len() => {
                fewer.jitter.remove(j - 1);
            }
            Some(_) => return None,
        }
        Some(fewer)
    }

    /// `base` with this schedule in it, as the TOML of the file that
    /// replays it: the faults added (or, with `replace`, instead of the
    /// scenario's), the operator's response and the jittered durations
    /// set explicitly.
    fn apply(&self, base: &toml::Table, replace: bool) -> Result<toml::Table> {
        let mut t = base.clone();
        add_faults(&mut t, &self.faults, replace);
        if let Some(o) = &self.operator {
            table_at(&mut t, &["policy"])?
                .insert("operator_response_s".into(), o.response_s.into());
        }
        for j in &self.jitter {
            let at = match &j.service {
                Some(name) => table_at(&mut t, &["timing", "services", name.as_str()])?,
                None => table_at(&mut t, &["timing"])?,
            };
            at.insert(j.key.into(), dist_value(&j.scaled));
        }
        Ok(t)
    }
}

/// How many parts a schedule has, before or after shrinking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Size {
    faults: usize,
    operator: bool,
    jitter: usize,
}

impl Size {
    /// `3 faults, the operator's delay and 2 jittered durations`.
    fn text(&self) -> String {
        let plural = |n: usize, one: &str, many: &str| match n {
            1 => format!("1 {one}"),
            n => format!("{n} {many}"),
        };
        let mut parts = vec![plural(self.faults, "fault", "faults")];
        if self.operator {
            parts.push("the operator's delay".into());
        }
        if self.jitter > 0 {
            parts.push(plural(
                self.jitter,
                "jittered duration",
                "jittered durations",
            ));
        }
        match parts.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// The table at `path` in `t`, made when missing; an error when a value
/// on the way is not a table.
fn table_at<'a>(t: &'a mut toml::Table, path: &[&str]) -> Result<&'a mut toml::Table> {
    let mut at = t;
    for key in path {
        at = at
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("`{key}` of the scenario is not a table"))?;
    }
    Ok(at)
}

/// The schedule of one run, from the seed's own generator: its faults
/// first (so the new dimensions leave a seed's faults as they were), then
/// outside an envelope the operator's delay and the timing jitter.
fn draw(s: &Scenario, seed: u64, faults_max: u32, envelope: Option<Envelope>) -> Schedule {
    let mut rng = SimRng::new(seed ^ SCHEDULE_SALT);
    let faults = draw_faults(&mut rng, s, faults_max, envelope);
    if envelope.is_some() {
        return Schedule {
            faults,
            ..Schedule::default()
        };
    }
    let operator = draw_operator(&mut rng, s);
    let jitter = draw_jitter(&mut rng, &s.timing);
    let mut faults = faults;
    faults.extend(draw_service_fault(&mut rng, s, &faults));
    Schedule {
        faults,
        operator,
        jitter,
    }
}

/// With probability `DIMENSION_PROBABILITY`, for a manual decision only:
/// an operator who never answers (`OPERATOR_NEVER_PROBABILITY`) or who
/// answers `OPERATOR_FACTOR` times later than the scenario's.
fn draw_operator(rng: &mut SimRng, s: &Scenario) -> Option<Operator> {
    if s.policy.decision != DecisionPolicy::Manual || !rng.chance(DIMENSION_PROBABILITY) {
        return None;
    }
    let original_s = s.policy.operator_response_s;
    if rng.chance(OPERATOR_NEVER_PROBABILITY) {
        return Some(Operator {
            original_s,
            response_s: never_s(s.scenario.horizon_s),
            factor: None,
        });
    }
    let [lo, hi] = OPERATOR_FACTOR;
    // to the thousandth, so the summary says it exactly
    let drawn = ms(lo + (hi - lo) * rng.unit());
    let base_s = original_s.max(OPERATOR_FLOOR_S);
    // A late operator still answers early enough for the runbook to serve
    // users by the end (later is "never", which owes no liveness).
    let late_max_s = late_max_s(s.scenario.horizon_s).max(base_s);
    let response_s = ms(drawn * base_s).min(late_max_s).min(DURATION_S_MAX);
    Some(Operator {
        original_s,
        response_s,
        factor: Some(ms(response_s / base_s)),
    })
}

/// The latest a late operator answers: a quarter of the horizon (half
/// of what precedes the liveness phase), so that an answer to a prompt
/// made before the liveness phase leaves the runbook its time to finish.
fn late_max_s(horizon_s: f64) -> f64 {
    horizon_s * (1.0 - LIVENESS_FRACTION) / 2.0
}

/// The response time of an operator who never answers: twice the
/// horizon, at most `DURATION_S_MAX` (the format's bound on
/// `operator_response_s`). Since the horizon is itself at most that
/// bound and a prompt comes after the drill's start, the answer would
/// always come after the drill ends.
fn never_s(horizon_s: f64) -> f64 {
    (2.0 * horizon_s).min(DURATION_S_MAX)
}

/// With probability `DIMENSION_PROBABILITY`: a random subset (at least
/// one) of `t`'s distributions, each scaled by a factor drawn in
/// `JITTER_FACTOR`.
fn draw_jitter(rng: &mut SimRng, t: &Timing) -> Vec<Jittered> {
    let entries = timing_entries(t);
    if entries.is_empty() || !rng.chance(DIMENSION_PROBABILITY) {
        return Vec::new();
    }
    let chosen = swarm(rng, &(0..entries.len()).collect::<Vec<_>>());
    let [lo, hi] = JITTER_FACTOR;
    chosen
        .into_iter()
        .map(|i| {
            let (service, key, original) = entries[i];
            let factor = ms(lo + (hi - lo) * rng.unit());
            Jittered {
                service: service.map(str::to_string),
                key,
                factor,
                original,
                scaled: scaled(original, factor),
            }
        })
        .collect()
}

/// The faults of one run: a random subset of kinds and hosts (at least
/// one of each), then 1 to `faults_max` faults among them. A degraded
/// link keeps 2 % to 50 % of its bandwidth and gets 1 to 10 times its
/// latency; a scenario without `[[links]]` draws no link fault.
fn draw_faults(
    rng: &mut SimRng,
    s: &Scenario,
    faults_max: u32,
    envelope: Option<Envelope>,
) -> Vec<Drawn> {
    let all: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
    let (kinds, hosts, n) = match envelope {
        Some(Envelope::SingleHost) => (vec!["crash-host"], all, 1),
        None => {
            let usable: Vec<&str> = KINDS
                .into_iter()
                .filter(|k| *k != "degrade-link" || !s.links.is_empty())
                .collect();
            let kinds = swarm(rng, &usable);
            let hosts = swarm(rng, &all);
            (kinds, hosts, 1 + pick(rng, faults_max as usize))
        }
    };
    let window = s.scenario.horizon_s * LIVENESS_FRACTION;
    (0..n)
        .map(|_| {
            let kind = kinds[pick(rng, kinds.len())];
            let (host, site, link) = if kind == "degrade-link" {
                let l = &s.links[pick(rng, s.links.len())];
                let degraded = Degraded {
                    latency_ms: ms(l.latency_ms * (1.0 + 9.0 * rng.unit())),
                    bandwidth_mbps: ms(l.bandwidth_mbps * (0.02 + 0.48 * rng.unit())).max(0.001),
                    original_latency_ms: l.latency_ms,
                    original_bandwidth_mbps: l.bandwidth_mbps,
                };
                (l.between[0].clone(), l.between[1].clone(), Some(degraded))
            } else {
                let host = hosts[pick(rng, hosts.len())].to_string();
                let site = site_of(s, &host);
                (host, site, None)
            };
            // millisecond times, so the replay file says them exactly
            let at_s = ms(rng.unit() * window);
            let repair_at_s = ms(at_s + 0.001 + rng.unit() * (window - at_s));
            Drawn {
                kind,
                host,
                service: None,
                site,
                at_s,
                repair_at_s,
                link,
            }
        })
        .collect()
}

/// With probability `DIMENSION_PROBABILITY`: one service of the
/// scenario's service set killed or hung on one host, and restarted by its
/// service manager later in the same window as the other drawn faults.
/// Drawn last, so that a seed's other draws stay as they were, and one at
/// a time: two service faults on a host could leave a service that needs
/// the other unable to start, which no service manager repairs. The hosts
/// are those that run the service set, leaving out DAG members (Active
/// Manager, not a restart, decides where their databases mount) and every
/// host that a fault of the scenario or a drawn one crashes or powers off
/// (a service fault needs its host up).
fn draw_service_fault(rng: &mut SimRng, s: &Scenario, drawn: &[Drawn]) -> Option<Drawn> {
    if !rng.chance(DIMENSION_PROBABILITY) {
        return None;
    }
    let services: Vec<&str> = s
        .exchange
        .iter()
        .flat_map(|x| &x.services)
        .map(|v| v.name.as_str())
        .collect();
    let downed = |h: &str| {
        drawn
            .iter()
            .any(|d| d.host == h && matches!(d.kind, "crash-host" | "power-off"))
            || s.faults.iter().any(|f| {
                f.what.choices().iter().any(|(spec, _)| {
                    matches!(spec, FaultSpec::CrashHost { host } | FaultSpec::PowerOff { host } if host == h)
                })
            })
    };
    let hosts: Vec<&str> = s
        .hosts
        .iter()
        .filter(|h| h.exchange.is_some())
        .map(|h| h.name.as_str())
        .filter(|h| !s.dag.iter().any(|d| d.members.iter().any(|m| m == h)))
        .filter(|h| !downed(h))
        .collect();
    if services.is_empty() || hosts.is_empty() {
        return None;
    }
    let kind = SERVICE_KINDS[pick(rng, SERVICE_KINDS.len())];
    let host = hosts[pick(rng, hosts.len())].to_string();
    let service = services[pick(rng, services.len())].to_string();
    let window = s.scenario.horizon_s * LIVENESS_FRACTION;
    let at_s = ms(rng.unit() * window);
    let repair_at_s = ms(at_s + 0.001 + rng.unit() * (window - at_s));
    Some(Drawn {
        kind,
        site: site_of(s, &host),
        host,
        service: Some(service),
        at_s,
        repair_at_s,
        link: None,
    })
}

/// The site of scenario host `host`.
fn site_of(s: &Scenario, host: &str) -> String {
    s.hosts
        .iter()
        .find(|h| h.name == host)
        .map(|h| h.site.clone())
        .expect("a scenario host")
}

fn ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn pick(rng: &mut SimRng, n: usize) -> usize {
    ((rng.unit() * n as f64) as usize).min(n - 1)
}

/// Each item with probability ½, at least one.
fn swarm<T: Copy>(rng: &mut SimRng, items: &[T]) -> Vec<T> {
    let mut v: Vec<T> = items.iter().copied().filter(|_| rng.chance(0.5)).collect();
    if v.is_empty() {
        v.push(items[pick(rng, items.len())]);
    }
    v
}

/// The scenario with `schedule` in it, as the file that replays it
/// (comments are not kept).
fn with_schedule(base: &toml::Table, schedule: &Schedule, replace: bool) -> Result<String> {
    Ok(toml::to_string(&schedule.apply(base, replace)?)?)
}

/// `t` with `drawn` added to its faults (or instead of them, with
/// `replace`), in time order.
fn add_faults(t: &mut toml::Table, drawn: &[Drawn], replace: bool) {
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
    schedule: &Schedule,
    seed: u64,
    name: &Path,
    envelope: Option<Envelope>,
) -> Result<Run> {
    let text = with_schedule(base, schedule, envelope.is_some())?;
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
    // An operator who never answers is a failure that never heals: the
    // liveness phase owes nothing then (every other invariant still holds).
    if schedule.operator.is_some_and(|o| o.factor.is_none()) {
        violations.retain(|v| v.invariant != "live");
    }
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

/// The fewest drawn parts that still break `invariant`: each fault, then
/// the operator's delay, then the jittered durations (all, then each) are
/// removed in turn (`Schedule::without`), the removal kept when the run
/// still breaks it (so no single part of what remains can go, and the
/// fewest jittered durations that break it are kept), in at most
/// `SHRINK_RUNS_MAX` runs.
fn shrink(
    base: &toml::Table,
    mut schedule: Schedule,
    seed: u64,
    invariant: &str,
    name: &Path,
    envelope: Option<Envelope>,
) -> Result<Schedule> {
    let mut tries = 0;
    let mut part = 0;
    while tries < SHRINK_RUNS_MAX {
        let Some(fewer) = schedule.without(part) else {
            break;
        };
        tries += 1;
        let r = run_one(base, &fewer, seed, name, envelope)?;
        if r.violations.iter().any(|v| v.invariant == invariant) {
            schedule = fewer;
        } else {
            part += 1;
        }
    }
    Ok(schedule)
}

/// What makes two failures the same: the faulted kinds and hosts, the
/// operator's kind of delay and the jittered entries, and the outcome
/// (the times and factors differ from seed to seed, the cause does not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Class {
    faults: Vec<String>,
    outcome: String,
}

impl Class {
    fn of(schedule: &Schedule, what: &str) -> Class {
        let faults = schedule.faults.iter().map(|d| match &d.service {
            Some(svc) => format!("{} {}:{svc}", d.kind, d.host),
            None => format!("{} {}", d.kind, d.host),
        });
        let operator = schedule.operator.map(|o| o.kind().to_string());
        let jitter = schedule
            .jitter
            .iter()
            .map(|j| format!("jitter {}", j.path()));
        let mut faults: Vec<String> = faults.chain(operator).chain(jitter).collect();
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
    /// The operator's delay, when it still takes part after shrinking.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    operator: Option<String>,
    /// The jittered durations that still take part after shrinking.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    jitter: Vec<String>,
    /// What the failing run drew, before shrinking.
    #[serde(default)]
    shrunk_from: Size,
    /// The replay file, when `--out` was given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    replay: Option<PathBuf>,
    /// The shrunk run's report beside it (`drlab run REPLAY --format
    /// json` prints the same bytes), when `--out` was given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    report: Option<PathBuf>,
    /// The shrunk schedule itself, until its replay file is written.
    #[serde(skip)]
    drawn: Schedule,
    /// The shrunk run's report as JSON (`None`: the run did not complete),
    /// until it is written.
    #[serde(skip)]
    report_json: Option<String>,
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
    /// Runs that drew each dimension other than faults
    /// (`Schedule::dimensions`), failed or not.
    #[serde(default)]
    runs_drawing: BTreeMap<String, u64>,
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
        for (dimension, n) in later.runs_drawing {
            *self.runs_drawing.entry(dimension).or_default() += n;
        }
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
            for d in drawn.dimensions() {
                *found.runs_drawing.entry(d.to_string()).or_default() += 1;
            }
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
        drawn: Schedule,
        seed: u64,
        first: &Violation,
        name: &Path,
    ) -> Result<Failure> {
        let env = self.a.envelope;
        let shrunk_from = drawn.size();
        let small = shrink(self.base, drawn, seed, first.invariant, name, env)?;
        let again = run_one(self.base, &small, seed, name, env)?;
        let report_json = match &again.report {
            Some(r) => Some(serde_json::to_string_pretty(r)? + "\n"),
            None => None,
        };
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
            schedule: small.faults.iter().map(Drawn::line).collect(),
            operator: small.operator.map(|o| o.line()),
            jitter: small.jitter.iter().map(Jittered::line).collect(),
            shrunk_from,
            replay: None,
            report: None,
            drawn: small,
            report_json,
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
            write_replay(dir, &s, &base, f, a.envelope.is_some())?;
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
/// shrunk schedule, its seed, and a header saying how to replay it; and
/// beside it the shrunk run's report, which replaying it prints.
fn write_replay(
    dir: &Path,
    s: &Scenario,
    base: &toml::Table,
    v: &mut Failure,
    replace: bool,
) -> Result<()> {
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
    let body = with_schedule(&t, drawn, replace)?;
    let drawn_lines: String = v
        .schedule
        .iter()
        .chain(&v.operator)
        .chain(&v.jitter)
        .map(|line| format!("# drawn: {line}\n"))
        .collect();
    let text = format!(
        "# drlab explore: seed {seed} breaks {} at {:.3} s: {}\n\
         # replay: drlab run {} (the drill; drlab explore checks the invariant)\n\
         {drawn_lines}{body}",
        v.invariant,
        v.at_s,
        v.what.replace('\n', " "),
        path.display()
    );
    crate::output::write_file(&path, text.as_bytes())?;
    if let Some(json) = &v.report_json {
        let report = path.with_extension("report.json");
        crate::output::write_file(&report, json.as_bytes())?;
        v.report = Some(report);
    }
    v.replay = Some(path);
    Ok(())
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
    for (dimension, n) in &s.found.runs_drawing {
        t += &format!("  drew {dimension} in {n} runs\n");
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
        for line in f.schedule.iter().chain(&f.operator).chain(&f.jitter) {
            t += &format!("    {line}\n");
        }
        t += &format!("    (shrunk from {})\n", f.shrunk_from.text());
        if let Some(p) = &f.replay {
            t += &format!("    replay: drlab run {}\n", p.display());
        }
    }
    t
}
