//! `drlab sla`'s availability budget: a Monte Carlo over simulated years of
//! failures and maintenance, from a plan ([`drlab_scenarios::sla`]) and the
//! outages its scenarios' simulated runs measured, and its text, Markdown
//! and JSON renderings.
//!
//! Pure functions of their inputs: the runs are made by the caller and
//! reach this module as [`Run`]s (one small record per report, [`run`]),
//! which [`class_incidents`] turns into each class's [`Incident`]s; the
//! failure times are Poisson processes drawn from the plan's rates on the
//! seed's [`Stream::Availability`], and each incident takes its outage from
//! one of the simulated runs, chosen on the same stream. Every protection
//! choice sees the same failure times and the same choice of run (common
//! random numbers), so choices differ only by what their scenarios measured.
//! Overlapping outages are merged per tier (`union`, `split`), the work
//! is bounded before any run ([`check_work`]), and a meet that too few runs
//! back is undecided (`doubt`).

use std::collections::BTreeMap;
use std::fmt::Write;

use drlab_scenarios::draws::{Draws, Stream};
use drlab_scenarios::sla::{Failure, Plan, Tier, WEEK_S, YEAR_S};
use serde::Serialize;

use crate::Report;

/// Most simulated years.
pub const YEARS_MAX: u64 = 100_000;
/// Most incidents and maintenance windows a Monte Carlo may draw: its work
/// and memory grow with them ([`check_work`]).
pub const INCIDENTS_MAX: f64 = 1e6;
/// An outcome none of `n` runs showed may still occur in up to `3 / n` of
/// the incidents (the rule of three: the 95 % upper bound of a rate seen 0
/// times in `n`).
const RULE_OF_THREE: f64 = 3.0;
/// The most runs per scenario [`doubt`] looks for.
const RUNS_TO_DECIDE_MAX: u64 = 1_000_000_000;
/// z of the two-sided 95 % normal intervals.
const Z95: f64 = 1.959_963_984_540_054;

/// Why a Monte Carlo cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    /// Too few or too many years.
    #[error("{0} years: simulate 2 to {YEARS_MAX} years")]
    Years(u64),
    /// The rates × years could draw too many incidents.
    #[error(
        "the plan's failure rates and maintenance windows over {years} years could draw \
         {bound:.0} incidents and windows (failures with 6 standard deviations of Poisson \
         margin), more than {INCIDENTS_MAX:e}; {knob}"
    )]
    TooManyIncidents {
        /// Years asked for.
        years: u64,
        /// The most incidents and windows they may draw.
        bound: f64,
        /// What to lower.
        knob: String,
    },
    /// Runs of a class never served users again and the class says not
    /// how long such an outage lasts.
    #[error(
        "protection {choice:?}: failure class {failure:?}: {unrecovered} of the {runs} runs \
         of scenario {scenario:?} never served users again, and the class has no \
         unrecovered_outage_s: set unrecovered_outage_s on the class to how long such an \
         outage lasts (e.g. until an operator restores service by hand); the time until the \
         drill ends would understate it"
    )]
    Unrecovered {
        /// The protection choice.
        choice: String,
        /// The failure class.
        failure: String,
        /// Its scenario.
        scenario: String,
        /// Runs that never recovered.
        unrecovered: u64,
        /// Runs.
        runs: u64,
    },
    /// A choice lacks runs for a failure class.
    #[error("protection {choice:?}: failure class {failure:?} has no simulated runs")]
    NoRuns {
        /// The protection choice.
        choice: String,
        /// The failure class.
        failure: String,
    },
}

/// What one simulated run says of one incident.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// Seconds the tier's users were without service.
    pub outage_s: f64,
    /// Whether the run served users again.
    pub recovered: bool,
    /// Where the outage went (detection, decision, each runbook step,
    /// propagation), in seconds.
    pub parts: Vec<(String, f64)>,
}

/// What one simulated run measured, whichever failure class it stands
/// for: the small record `drlab sla` keeps of each report.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Its RTO (`None`: it never served users again).
    pub rto_s: Option<f64>,
    /// Where the RTO went (see [`Incident::parts`]).
    pub parts: Vec<(String, f64)>,
}

/// The run of a report: its RTO split into the breakdown's phases and the
/// runbook's steps, measured from the report's T0 as the RTO is.
pub fn run(report: &Report) -> Run {
    let t0_s = report.timeline.t0_s.unwrap_or(0.0);
    Run {
        rto_s: report.rto_s,
        parts: report
            .rto_s
            .map_or_else(Vec::new, |rto| parts_of(report, t0_s, rto)),
    }
}

/// The incident of a run for a class: a run that never served users again
/// counts `unrecovered_outage_s`; `None` when the class has none (the
/// outage is unknown: [`class_incidents`] refuses it).
pub fn incident(run: &Run, unrecovered_outage_s: Option<f64>) -> Option<Incident> {
    match run.rto_s {
        Some(rto) => Some(Incident {
            outage_s: rto,
            recovered: true,
            parts: run.parts.clone(),
        }),
        None => unrecovered_outage_s.map(|outage_s| Incident {
            outage_s,
            recovered: false,
            parts: vec![(
                "not recovered in the scenario (the plan's unrecovered_outage_s)".to_string(),
                outage_s,
            )],
        }),
    }
}

/// The incidents of a class's runs under a protection choice; refused when
/// a run never recovered and the class has no `unrecovered_outage_s`:
/// counting the time to the drill's end would understate the outage and
/// could turn a miss into a pass.
pub fn class_incidents(
    choice: &str,
    failure: &Failure,
    scenario: &str,
    runs: &[Run],
) -> Result<Vec<Incident>, SlaError> {
    let out: Vec<Incident> = runs
        .iter()
        .filter_map(|r| incident(r, failure.unrecovered_outage_s))
        .collect();
    if out.len() < runs.len() {
        return Err(SlaError::Unrecovered {
            choice: choice.to_string(),
            failure: failure.name.clone(),
            scenario: scenario.to_string(),
            unrecovered: (runs.len() - out.len()) as u64,
            runs: runs.len() as u64,
        });
    }
    Ok(out)
}

/// The breakdown's phases with the execution split into its steps (each
/// clipped to the outage), every part longer than 0.
fn parts_of(report: &Report, fault_s: f64, rto: f64) -> Vec<(String, f64)> {
    let Some(b) = report.rto_breakdown else {
        return vec![("recovery".to_string(), rto)];
    };
    let end = fault_s + rto;
    let mut parts = vec![
        ("detection".to_string(), b.detection_s),
        ("decision".to_string(), b.decision_s),
    ];
    let mut in_steps = 0.0;
    for (i, s) in report.steps.iter().enumerate() {
        let took = (s.start_s + s.duration_s).min(end) - s.start_s.max(fault_s);
        if took > 0.0 {
            in_steps += took;
            parts.push((format!("step {}: {}", i + 1, s.name), took));
        }
    }
    parts.push((
        "execution between steps".to_string(),
        (b.execution_s - in_steps).max(0.0),
    ));
    parts.push(("propagation".to_string(), b.propagation_s));
    parts.retain(|(_, s)| *s > 0.0);
    parts
}

/// A quantile of the outage per incident with its 95 % order-statistic
/// bounds (`None`: too few runs to bound it, or no finite bound).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quantile {
    /// `p50`, `p95`, `p99`, `max`.
    pub name: String,
    /// The estimate.
    pub value: Option<f64>,
    /// 95 % lower bound.
    pub lower: Option<f64>,
    /// 95 % upper bound.
    pub upper: Option<f64>,
}

/// The simulated runs of one failure class under one protection choice.
#[derive(Clone, Debug)]
pub struct ClassRuns {
    /// The scenario's name.
    pub scenario: String,
    /// One incident per run, in seed order.
    pub incidents: Vec<Incident>,
    /// Their outage quantiles (the caller computes the bounds).
    pub quantiles: Vec<Quantile>,
}

/// One protection choice's runs, a [`ClassRuns`] per failure class in plan order.
#[derive(Clone, Debug)]
pub struct ChoiceRuns {
    /// Its name.
    pub name: String,
    /// Per failure class.
    pub classes: Vec<ClassRuns>,
}

/// What the Monte Carlo needs besides the plan.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Simulated years.
    pub years: u64,
    /// The Monte Carlo's seed.
    pub seed: u64,
    /// Simulated runs per scenario.
    pub runs: u64,
    /// Their first seed.
    pub first_run_seed: u64,
    /// The fewest runs that bound each quantile from above (`p95`, 59).
    pub runs_for_upper_bounds: Vec<(String, u64)>,
}

/// A mean with its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean.
    pub mean: f64,
    /// Lower bound (normal approximation over the simulated years, at least 0).
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// A share of periods with its 95 % Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Share {
    /// Periods within the budget / periods.
    pub share: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Whole periods simulated.
    pub periods: u64,
}

/// Whether a share of periods shows the budget met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Judgement {
    /// The share's lower bound reaches the required probability.
    Meets,
    /// Its upper bound stays below it.
    Misses,
    /// The interval straddles it (simulate more years), or the runs are
    /// too few to rule out an outcome none of them showed (run more seeds).
    Undecided,
}

/// The outage distribution of one failure class under one choice.
#[derive(Clone, Debug, Serialize)]
pub struct ClassLine {
    /// Protection choice.
    pub protection: String,
    /// Failure class.
    pub failure: String,
    /// Its scenario.
    pub scenario: String,
    /// Incidents per year.
    pub rate_per_year: f64,
    /// Simulated runs.
    pub runs: u64,
    /// Of which served users again.
    pub recovered: u64,
    /// Mean outage per incident.
    pub mean_outage_s: f64,
    /// p50, p95, p99, max with bounds.
    pub quantiles: Vec<Quantile>,
}

/// One failure class's part of a tier's downtime.
#[derive(Clone, Debug, Serialize)]
pub struct Contribution {
    /// Failure class.
    pub failure: String,
    /// Its downtime per year for the tier.
    pub downtime_per_year_s: f64,
    /// Its share of the tier's unplanned downtime.
    pub share: f64,
    /// Periods within the budget if this class were the only downtime.
    pub within_budget_alone: Share,
    /// And what that shows.
    pub alone: Judgement,
    /// The part (phase or runbook step) that takes most of its outage.
    pub top_part: Option<String>,
    /// That part's seconds per year.
    pub top_part_per_year_s: f64,
}

/// One tier under one protection choice.
#[derive(Clone, Debug, Serialize)]
pub struct TierLine {
    /// Protection choice.
    pub protection: String,
    /// Tier.
    pub tier: String,
    /// Allowed downtime per period.
    pub budget_s: f64,
    /// The budget's period.
    pub per: String,
    /// Share of periods that must stay within the budget.
    pub meet_probability: f64,
    /// Counted downtime per week.
    pub downtime_per_week_s: Estimate,
    /// Counted downtime per year (failures and counted maintenance).
    pub downtime_per_year_s: Estimate,
    /// Maintenance the tier's budget excludes, per year.
    pub excluded_maintenance_per_year_s: f64,
    /// Availability from the counted downtime, in percent.
    pub availability_pct: f64,
    /// Its nines (`None`: no downtime at all).
    pub nines: Option<f64>,
    /// Periods within the budget.
    pub within_budget: Share,
    /// What that shows.
    pub judgement: Judgement,
    /// Runs per scenario that would decide an Undecided that the runs'
    /// rule of three makes (if they show nothing new).
    pub seeds_to_decide: Option<u64>,
    /// The failure classes, largest contributor first.
    pub contributions: Vec<Contribution>,
    /// Years that would state the yearly downtime to ±10 % (`None`: none
    /// drawn, or already that precise).
    pub years_for_10pct: Option<u64>,
}

/// The whole result.
#[derive(Clone, Debug, Serialize)]
pub struct SlaReport {
    /// Plan name.
    pub plan: String,
    /// Simulated runs per scenario.
    pub runs: u64,
    /// Their first seed.
    pub first_run_seed: u64,
    /// The fewest runs that bound each quantile from above.
    pub runs_for_upper_bounds: Vec<(String, u64)>,
    /// Simulated years.
    pub years: u64,
    /// The Monte Carlo's seed.
    pub seed: u64,
    /// Incident outages per choice and class.
    pub classes: Vec<ClassLine>,
    /// Per choice and tier.
    pub tiers: Vec<TierLine>,
}

impl SlaReport {
    /// Whether some protection choice meets every tier's budget.
    pub fn some_choice_meets_all(&self) -> bool {
        !self.choices_meeting_all().is_empty()
    }

    /// The protection choices that meet every tier's budget, in the
    /// report's order.
    pub fn choices_meeting_all(&self) -> Vec<&str> {
        let mut by_choice: BTreeMap<&str, bool> = BTreeMap::new();
        for t in &self.tiers {
            let all = by_choice.entry(t.protection.as_str()).or_insert(true);
            *all &= t.judgement == Judgement::Meets;
        }
        let mut names: Vec<&str> = Vec::new();
        for t in &self.tiers {
            let name = t.protection.as_str();
            if by_choice[name] && !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// One failure: when, and which run (in [0, 1)) gives its outage.
#[derive(Clone, Copy, Debug)]
struct Drawn {
    at_s: f64,
    run: f64,
}

/// Draws every class's failures over the horizon, class after class on the
/// one stream.
fn draw_failures(failures: &[Failure], horizon_s: f64, seed: u64) -> Vec<Vec<Drawn>> {
    let mut d = Draws::new(seed, Stream::Availability);
    failures
        .iter()
        .map(|f| {
            let per_s = f.rate_per_year() / YEAR_S;
            let mut out = Vec::new();
            if per_s <= 0.0 {
                return out;
            }
            let mut t = 0.0;
            loop {
                t += -(1.0 - d.unit()).ln() / per_s;
                if t >= horizon_s {
                    return out;
                }
                out.push(Drawn {
                    at_s: t,
                    run: d.unit(),
                });
            }
        })
        .collect()
}

/// Downtime per period index, ascending (sparse: most periods have none).
type Buckets = Vec<(u64, f64)>;

/// An outage `[start, end)` in seconds from the start of the simulation.
type Span = (f64, f64);

/// The union of `spans` clipped to `[0, horizon_s)`: sorted, disjoint, so
/// overlapping outages count once (users are either served or not).
fn union(mut spans: Vec<Span>, horizon_s: f64) -> Vec<Span> {
    spans.retain(|&(s, e)| e > s && s < horizon_s);
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        let e = e.min(horizon_s);
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Splits disjoint sorted `spans` ([`union`]) between the periods they
/// touch. A period's downtime never exceeds its length, and the work is at
/// most one step per span plus one per period (disjoint spans share at
/// most their boundary periods): O(incidents + periods).
fn split(spans: &[Span], period_s: f64) -> Buckets {
    let mut b: Buckets = Vec::new();
    for &(s, e) in spans {
        let first = (s / period_s).floor() as u64;
        let last = ((e / period_s).ceil() as u64).max(first + 1) - 1;
        for idx in first..=last {
            let lo = idx as f64 * period_s;
            let take = e.min(lo + period_s) - s.max(lo);
            if take <= 0.0 {
                continue;
            }
            match b.last_mut() {
                Some((i, x)) if *i == idx => *x += take,
                _ => b.push((idx, take)),
            }
        }
    }
    b
}

/// The downtime of all periods (from +0: an empty `sum` is −0).
fn total(b: &Buckets) -> f64 {
    b.iter().fold(0.0, |a, (_, x)| a + x)
}

/// The share of the whole periods whose downtime stays within `allowed_s`.
fn within(b: &Buckets, allowed_s: f64, periods: u64) -> Share {
    let over = b
        .iter()
        .filter(|(i, s)| *i < periods && *s > allowed_s + 1e-9)
        .count() as u64;
    wilson(periods - over, periods)
}

/// The 95 % Wilson score interval of `k` successes in `n`.
fn wilson(k: u64, n: u64) -> Share {
    let (k, nf) = (k as f64, n as f64);
    let p = k / nf;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = Z95 / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Share {
        share: p,
        lower: if k == 0.0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        upper: if k == nf {
            1.0
        } else {
            (centre + half).min(1.0)
        },
        periods: n,
    }
}

fn judge(s: Share, required: f64) -> Judgement {
    if s.lower >= required {
        Judgement::Meets
    } else if s.upper < required {
        Judgement::Misses
    } else {
        Judgement::Undecided
    }
}

/// The mean downtime per year over `years` with its 95 % interval, and the
/// years a ±10 % interval would need.
fn yearly(b: &Buckets, years: u64) -> (Estimate, Option<u64>) {
    let n = years as f64;
    let sum = total(b);
    let mean = sum / n;
    let ss: f64 =
        b.iter().map(|(_, x)| (x - mean).powi(2)).sum::<f64>() + (n - b.len() as f64) * mean * mean;
    let sd = (ss / (n - 1.0)).sqrt();
    let half = Z95 * sd / n.sqrt();
    let needed = (mean > 0.0).then(|| (Z95 * sd / (0.1 * mean)).powi(2).ceil() as u64);
    (
        Estimate {
            mean,
            lower: (mean - half).max(0.0),
            upper: mean + half,
        },
        needed.filter(|&y| y > years),
    )
}

/// What one tier gathers from one class under one choice: its outages
/// and where they went.
#[derive(Default)]
struct Gathered {
    spans: Vec<Span>,
    parts: BTreeMap<String, (usize, f64)>,
}

/// The class's incidents: their outages and their parts.
fn gather(drawn: &[Drawn], runs: &ClassRuns) -> Gathered {
    let mut own = Gathered::default();
    let n = runs.incidents.len();
    for d in drawn {
        let i = ((d.run * n as f64) as usize).min(n - 1);
        let inc = &runs.incidents[i];
        own.spans.push((d.at_s, d.at_s + inc.outage_s));
        for (order, (name, s)) in inc.parts.iter().enumerate() {
            let e = own.parts.entry(name.clone()).or_insert((order, 0.0));
            e.1 += s;
        }
    }
    own
}

/// Per period and per year: the downtime of the union of `spans`.
fn buckets(spans: Vec<Span>, period_s: f64, horizon_s: f64) -> (Buckets, Buckets) {
    let u = union(spans, horizon_s);
    (split(&u, period_s), split(&u, YEAR_S))
}

/// Adds the counted maintenance windows of `tier` to `spans`; returns the
/// excluded maintenance's seconds per year.
fn maintenance(plan: &Plan, tier: &Tier, years: u64, spans: &mut Vec<Span>) -> f64 {
    let mut excluded = 0.0;
    for m in plan
        .maintenance
        .iter()
        .filter(|m| m.tiers.contains(&tier.name))
    {
        if m.excluded.contains(&tier.name) {
            excluded += m.duration_s * m.windows_per_year;
            continue;
        }
        let windows = (m.windows_per_year * years as f64).floor() as u64;
        for k in 0..windows {
            let at = (k as f64 + 0.5) * YEAR_S / m.windows_per_year;
            spans.push((at, at + m.duration_s));
        }
    }
    excluded
}

/// The most incidents and windows `years` of `plan` may draw: each class's
/// Poisson count at its mean `μ` plus six standard deviations (`√μ`: a draw
/// exceeds it with a probability of about 10⁻⁹), and the maintenance
/// windows, which are not drawn.
fn work_bound(plan: &Plan, years: u64) -> f64 {
    let y = years as f64;
    let mean: f64 = plan.failures.iter().map(|f| f.rate_per_year() * y).sum();
    let windows: f64 = plan
        .maintenance
        .iter()
        .map(|m| (m.windows_per_year * y).floor())
        .sum();
    mean + 6.0 * mean.sqrt() + windows
}

/// Refuses a Monte Carlo that could draw more than [`INCIDENTS_MAX`]
/// incidents and windows; the caller checks it before any simulation.
pub fn check_work(plan: &Plan, years: u64) -> Result<(), SlaError> {
    let bound = work_bound(plan, years);
    if bound <= INCIDENTS_MAX {
        return Ok(());
    }
    // The most years that fit (the bound grows with the years).
    let (mut lo, mut hi) = (1u64, years);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if work_bound(plan, mid) <= INCIDENTS_MAX {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let top_failure = plan
        .failures
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.rate_per_year().total_cmp(&b.1.rate_per_year()))
        .map(|(i, f)| (f.rate_per_year(), format!("failures[{i}] ({:?})", f.name)));
    let top_window = plan
        .maintenance
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.windows_per_year.total_cmp(&b.1.windows_per_year))
        .map(|(i, m)| {
            (
                m.windows_per_year,
                format!("maintenance[{i}] ({:?})", m.name),
            )
        });
    let most = match (top_failure, top_window) {
        (Some(f), Some(m)) if m.0 > f.0 => format!("{}'s windows_per_year", m.1),
        (Some(f), _) => format!("{}'s components or failures_per_year/mtbf_h", f.1),
        (None, Some(m)) => format!("{}'s windows_per_year", m.1),
        (None, None) => "the rates".into(),
    };
    let knob = if work_bound(plan, 2) <= INCIDENTS_MAX {
        format!("simulate fewer years (--years {lo} fits) or lower {most}")
    } else {
        format!("lower {most}: even 2 years draw too many")
    };
    Err(SlaError::TooManyIncidents { years, bound, knob })
}

/// Runs the Monte Carlo for every choice and tier.
pub fn monte_carlo(
    plan: &Plan,
    choices: &[ChoiceRuns],
    s: Settings,
) -> Result<SlaReport, SlaError> {
    if !(2..=YEARS_MAX).contains(&s.years) {
        return Err(SlaError::Years(s.years));
    }
    check_work(plan, s.years)?;
    for c in choices {
        for (f, runs) in plan.failures.iter().zip(&c.classes) {
            if runs.incidents.is_empty() {
                return Err(SlaError::NoRuns {
                    choice: c.name.clone(),
                    failure: f.name.clone(),
                });
            }
        }
    }
    let horizon_s = s.years as f64 * YEAR_S;
    let drawn = draw_failures(&plan.failures, horizon_s, s.seed);
    let classes = choices
        .iter()
        .flat_map(|c| {
            plan.failures
                .iter()
                .zip(&c.classes)
                .map(|(f, r)| class_line(&c.name, f, r))
        })
        .collect();
    let tiers = choices
        .iter()
        .flat_map(|c| {
            plan.tiers
                .iter()
                .map(|t| tier_line(plan, t, c, &drawn, s.years))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(SlaReport {
        plan: plan.plan.name.clone(),
        runs: s.runs,
        first_run_seed: s.first_run_seed,
        runs_for_upper_bounds: s.runs_for_upper_bounds,
        years: s.years,
        seed: s.seed,
        classes,
        tiers,
    })
}

fn class_line(choice: &str, f: &Failure, r: &ClassRuns) -> ClassLine {
    let n = r.incidents.len();
    ClassLine {
        protection: choice.to_string(),
        failure: f.name.clone(),
        scenario: r.scenario.clone(),
        rate_per_year: f.rate_per_year(),
        runs: n as u64,
        recovered: r.incidents.iter().filter(|i| i.recovered).count() as u64,
        mean_outage_s: r.incidents.iter().map(|i| i.outage_s).sum::<f64>() / n as f64,
        quantiles: r.quantiles.clone(),
    }
}

fn tier_line(
    plan: &Plan,
    tier: &Tier,
    c: &ChoiceRuns,
    drawn: &[Vec<Drawn>],
    years: u64,
) -> TierLine {
    let period = tier.budget.per;
    let period_s = period.seconds();
    let horizon_s = years as f64 * YEAR_S;
    let periods = (horizon_s / period_s + 1e-9).floor() as u64;
    let allowed = tier.budget.allowed_s();
    let required = tier.budget.meet_probability;
    let mut all: Vec<Span> = Vec::new();
    let mut contributions: Vec<Contribution> = Vec::new();
    // Incidents a year of an outcome no run showed, times the runs.
    let mut unseen = 0.0;
    let mut runs_min = u64::MAX;
    for ((f, runs), d) in plan.failures.iter().zip(&c.classes).zip(drawn) {
        if !f.tiers.contains(&tier.name) {
            continue;
        }
        let n = runs.incidents.len() as u64;
        unseen += RULE_OF_THREE * f.rate_per_year();
        runs_min = runs_min.min(n);
        let own = gather(d, runs);
        all.extend_from_slice(&own.spans);
        let (own_periods, own_years) = buckets(own.spans, period_s, horizon_s);
        let alone = within(&own_periods, allowed, periods);
        let hidden = RULE_OF_THREE * f.rate_per_year();
        let (alone_judgement, _) = doubt(alone, required, hidden, n, period_s);
        let top = own
            .parts
            .iter()
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1).then(b.1.0.cmp(&a.1.0)))
            .filter(|(_, (_, s))| *s > 0.0);
        contributions.push(Contribution {
            failure: f.name.clone(),
            downtime_per_year_s: total(&own_years) / years as f64,
            share: 0.0,
            within_budget_alone: alone,
            alone: alone_judgement,
            top_part: top.map(|(n, _)| n.clone()),
            top_part_per_year_s: top.map_or(0.0, |(_, (_, s))| s / years as f64),
        });
    }
    let unplanned = contributions
        .iter()
        .fold(0.0, |a, c| a + c.downtime_per_year_s);
    for k in &mut contributions {
        k.share = if unplanned > 0.0 {
            k.downtime_per_year_s / unplanned
        } else {
            0.0
        };
    }
    // Largest first; plan order among equals (the sort is stable).
    contributions.sort_by(|a, b| b.downtime_per_year_s.total_cmp(&a.downtime_per_year_s));
    let excluded = maintenance(plan, tier, years, &mut all);
    let (all_periods, all_years) = buckets(all, period_s, horizon_s);
    let (per_year, years_for_10pct) = yearly(&all_years, years);
    let weeks = YEAR_S / WEEK_S;
    let share = within(&all_periods, allowed, periods);
    let (judgement, seeds_to_decide) = if runs_min == u64::MAX {
        (judge(share, required), None)
    } else {
        doubt(share, required, unseen, runs_min, period_s)
    };
    let down = per_year.mean / YEAR_S;
    TierLine {
        protection: c.name.clone(),
        tier: tier.name.clone(),
        budget_s: allowed,
        per: period.name().to_string(),
        meet_probability: required,
        downtime_per_week_s: Estimate {
            mean: per_year.mean / weeks,
            lower: per_year.lower / weeks,
            upper: per_year.upper / weeks,
        },
        downtime_per_year_s: per_year,
        excluded_maintenance_per_year_s: excluded,
        availability_pct: 100.0 * (1.0 - down),
        nines: (down > 0.0).then(|| -down.log10()),
        within_budget: share,
        judgement,
        seeds_to_decide,
        contributions,
        years_for_10pct,
    }
}

/// The judgement of `share` when each class's runs may have missed an
/// outcome: by the rule of three, an outcome none of `n` runs showed may
/// still occur in up to 3/n of the incidents (95 %). `unseen_per_year` is
/// 3 × the classes' incidents a year; `unseen_per_year / n` such incidents
/// a year, each assumed to take its period over the budget, would leave
/// `share × exp(−rate × period)` of the periods within it. A Meets that
/// does not survive that is Undecided, with the runs per scenario that
/// would keep it if they too show nothing new (`None`: no count of runs
/// would; simulate more years). A Misses or Undecided stands.
fn doubt(
    share: Share,
    required: f64,
    unseen_per_year: f64,
    n: u64,
    period_s: f64,
) -> (Judgement, Option<u64>) {
    let base = judge(share, required);
    if base != Judgement::Meets || unseen_per_year <= 0.0 {
        return (base, None);
    }
    let k = (share.share * share.periods as f64).round();
    let meets_with = |runs: u64| {
        let kept = (-unseen_per_year / runs as f64 * period_s / YEAR_S).exp();
        let k = (k * kept).round() as u64;
        judge(wilson(k, share.periods), required) == Judgement::Meets
    };
    if meets_with(n.max(1)) {
        return (Judgement::Meets, None);
    }
    let (mut lo, mut hi) = (n.max(1), RUNS_TO_DECIDE_MAX);
    if !meets_with(hi) {
        return (Judgement::Undecided, None);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if meets_with(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (Judgement::Undecided, Some(hi))
}

/// A duration as people read it: `0 s`, `42.0 s`, `3.5 min`, `2.10 h`.
pub fn human(s: f64) -> String {
    if s == 0.0 {
        "0 s".into()
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.2} h", s / 3600.0)
    }
}

pub(crate) fn est(e: Estimate) -> String {
    format!("{} [{}, {}]", human(e.mean), human(e.lower), human(e.upper))
}

pub(crate) fn pct(s: Share) -> String {
    format!(
        "{:.1} % [{:.1}, {:.1}]",
        100.0 * s.share,
        100.0 * s.lower,
        100.0 * s.upper
    )
}

fn opt_s(x: Option<f64>) -> String {
    x.map_or_else(|| "∞".into(), |v| format!("{v:.1}"))
}

pub(crate) fn quantile(q: &Quantile) -> String {
    if q.name == "max" {
        return opt_s(q.value);
    }
    format!(
        "{} [{}, {}]",
        opt_s(q.value),
        opt_s(q.lower),
        opt_s(q.upper)
    )
}

pub(crate) fn nines(t: &TierLine) -> String {
    t.nines
        .map_or_else(|| "no downtime".into(), |n| format!("{n:.1} nines"))
}

pub(crate) fn judgement(j: Judgement) -> &'static str {
    match j {
        Judgement::Meets => "meets",
        Judgement::Misses => "misses",
        Judgement::Undecided => "undecided",
    }
}

/// The judgement, with the runs that would decide it if they are too few.
pub(crate) fn verdict(t: &TierLine) -> String {
    match t.seeds_to_decide {
        Some(n) => format!("{} (--seeds {n})", judgement(t.judgement)),
        None => judgement(t.judgement).to_string(),
    }
}

pub(crate) fn budget(t: &TierLine) -> String {
    format!(
        "{} per {}, in {:.0} % of {}s",
        human(t.budget_s),
        t.per,
        100.0 * t.meet_probability,
        t.per
    )
}

fn top(t: &TierLine) -> String {
    match t.contributions.first() {
        Some(c) if c.downtime_per_year_s > 0.0 => format!(
            "{} ({:.0} %), most in {}",
            c.failure,
            100.0 * c.share,
            c.top_part.as_deref().unwrap_or("-")
        ),
        _ => "-".into(),
    }
}

pub(crate) fn header(r: &SlaReport) -> String {
    format!(
        "SLA of {}: {} simulated runs per scenario (seeds {} to {}), {} simulated years \
         (seed {})",
        r.plan,
        r.runs,
        r.first_run_seed,
        r.first_run_seed + r.runs.saturating_sub(1),
        r.years,
        r.seed
    )
}

pub(crate) const NOTES: &str = "Outage quantiles: [95 % lower, 95 % upper] order-statistic bounds \
    (∞: too few runs to bound it). Downtime: mean over the \
    simulated years [95 % interval]. Within budget: share of whole periods [95 % Wilson \
    interval]; a tier meets its budget when the interval's lower end reaches the share \
    required, misses it when the upper end stays below, else undecided; a meet is \
    undecided too while an outcome no run of a class showed could, at up to 3/runs of its \
    incidents (rule of three, 95 %) each over the budget, push it below.";

/// The terminal summary.
pub fn text(r: &SlaReport) -> String {
    let mut o = header(r) + "\n";
    for t in &r.tiers {
        let _ = writeln!(
            o,
            "\n{} / {}: {} (budget {})\n  downtime {} a week, {} a year; availability {:.4} % \
             ({}); within budget {}",
            t.protection,
            t.tier,
            judgement(t.judgement).to_uppercase(),
            budget(t),
            est(t.downtime_per_week_s),
            est(t.downtime_per_year_s),
            t.availability_pct,
            nines(t),
            pct(t.within_budget)
        );
        if let Some(n) = t.seeds_to_decide {
            let _ = writeln!(
                o,
                "  undecided by the runs: an outcome none of a class's {} runs showed may still \
                 occur in up to 3/{} of its incidents; --seeds {n} would decide it if they too \
                 show nothing new",
                r.runs, r.runs
            );
        }
        if t.excluded_maintenance_per_year_s > 0.0 {
            let _ = writeln!(
                o,
                "  planned maintenance outside the budget: {} a year",
                human(t.excluded_maintenance_per_year_s)
            );
        }
        for c in &t.contributions {
            let _ = writeln!(
                o,
                "  {:<28} {:>10} a year ({:>3.0} %)  alone: {} {}  most in {}",
                c.failure,
                human(c.downtime_per_year_s),
                100.0 * c.share,
                judgement(c.alone),
                pct(c.within_budget_alone),
                c.top_part.as_deref().unwrap_or("-")
            );
        }
    }
    o += "\noutage per incident (s):\n";
    for c in &r.classes {
        let qs: Vec<String> = c
            .quantiles
            .iter()
            .map(|q| format!("{} {}", q.name, quantile(q)))
            .collect();
        let _ = writeln!(
            o,
            "  {} / {} ({}, {}/{} recovered): {}",
            c.protection,
            c.failure,
            c.scenario,
            c.recovered,
            c.runs,
            qs.join("  ")
        );
    }
    o += &precision(r);
    o + "\n" + NOTES + "\n"
}

/// How many runs and years the figures shown would need to be as precise
/// as stated: an upper bound for every quantile, ±10 % on the downtime.
fn precision(r: &SlaReport) -> String {
    let mut o = String::new();
    let short: Vec<String> = r
        .runs_for_upper_bounds
        .iter()
        .filter(|(_, n)| r.runs < *n)
        .map(|(q, n)| format!("{q} needs --seeds {n}"))
        .collect();
    if !short.is_empty() {
        let _ = writeln!(
            o,
            "\nprecision: {} runs per scenario cannot bound every outage quantile from above \
             ({})",
            r.runs,
            short.join(", ")
        );
    }
    if let Some(n) = r.tiers.iter().filter_map(|t| t.seeds_to_decide).max() {
        let _ = writeln!(
            o,
            "\nprecision: {} runs per scenario leave a tier undecided (an outcome they never \
             showed may occur in up to 3/{} of the incidents); deciding every tier needs \
             --seeds {n}",
            r.runs, r.runs
        );
    }
    if let Some(y) = r.tiers.iter().filter_map(|t| t.years_for_10pct).max() {
        let _ = writeln!(
            o,
            "\nprecision: stating every tier's yearly downtime to ±10 % needs --years {y}"
        );
    }
    o
}

/// Markdown tables.
pub fn markdown(r: &SlaReport) -> String {
    let mut o = format!("## {}\n\n", header(r));
    o += "| protection | tier | budget | downtime a week | downtime a year | availability | \
          within budget | verdict | top contributor |\n|---|---|---|---:|---:|---:|---:|---|---|\n";
    for t in &r.tiers {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {:.4} % ({}) | {} | {} | {} |",
            t.protection,
            t.tier,
            budget(t),
            est(t.downtime_per_week_s),
            est(t.downtime_per_year_s),
            t.availability_pct,
            nines(t),
            pct(t.within_budget),
            verdict(t),
            top(t)
        );
    }
    o += "\n### Failure classes per tier\n\n| protection | tier | failure | downtime a year | \
          share | within budget alone | alone | most of it in |\n|---|---|---|---:|---:|---:|---|---|\n";
    for t in &r.tiers {
        for c in &t.contributions {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {:.0} % | {} | {} | {} |",
                t.protection,
                t.tier,
                c.failure,
                human(c.downtime_per_year_s),
                100.0 * c.share,
                pct(c.within_budget_alone),
                judgement(c.alone),
                c.top_part.as_deref().unwrap_or("-")
            );
        }
    }
    o += "\n### Outage per incident (s)\n\n| protection | failure | scenario | per year | runs | \
          recovered | mean | p50 | p95 | p99 | max |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for c in &r.classes {
        let q = |name: &str| {
            c.quantiles
                .iter()
                .find(|q| q.name == name)
                .map_or_else(|| "-".into(), quantile)
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {:.3} | {} | {} | {:.1} | {} | {} | {} | {} |",
            c.protection,
            c.failure,
            c.scenario,
            c.rate_per_year,
            c.runs,
            c.recovered,
            c.mean_outage_s,
            q("p50"),
            q("p95"),
            q("p99"),
            q("max")
        );
    }
    o += &precision(r);
    o + "\n" + NOTES + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use drlab_scenarios::sla::{Budget, Header, Maintenance, Period};

    fn plan(rate: f64, budget_s: f64) -> Plan {
        Plan {
            plan: Header {
                name: "t".into(),
                description: String::new(),
                seed: 1,
                protection: "own".into(),
            },
            tiers: vec![Tier {
                name: "users".into(),
                mailboxes: vec![],
                stores: vec![],
                budget: Budget {
                    downtime_s: Some(budget_s),
                    availability_pct: None,
                    per: Period::Month,
                    meet_probability: 0.95,
                },
            }],
            failures: vec![Failure {
                name: "crash".into(),
                what: String::new(),
                components: 1,
                failures_per_year: Some(rate),
                mtbf_h: None,
                scenario: "x.toml".into(),
                tiers: vec!["users".into()],
                unrecovered_outage_s: None,
            }],
            maintenance: vec![],
            protection: vec![],
        }
    }

    /// Many runs of these outages in turn: enough that the rule of three
    /// leaves the judgements to the Monte Carlo.
    fn runs(outages: &[f64]) -> ChoiceRuns {
        runs_n(outages, 5000 * outages.len())
    }

    fn runs_n(outages: &[f64], n: usize) -> ChoiceRuns {
        ChoiceRuns {
            name: "own".into(),
            classes: vec![ClassRuns {
                scenario: "x".into(),
                incidents: outages
                    .iter()
                    .cycle()
                    .take(n)
                    .map(|&o| Incident {
                        outage_s: o,
                        recovered: true,
                        parts: vec![
                            ("detection".into(), o * 0.25),
                            ("step 1: x".into(), o * 0.75),
                        ],
                    })
                    .collect(),
                quantiles: vec![],
            }],
        }
    }

    fn settings(years: u64) -> Settings {
        Settings {
            years,
            seed: 9,
            runs: 1,
            first_run_seed: 1,
            runs_for_upper_bounds: vec![("p99".into(), 299)],
        }
    }

    #[test]
    fn the_yearly_downtime_matches_rate_times_mean_outage() {
        // 4 failures a year of 600 s or 1200 s (mean 900 s): 3600 s a year.
        let r = monte_carlo(
            &plan(4.0, 3600.0),
            &[runs(&[600.0, 1200.0])],
            settings(20_000),
        )
        .expect("runs");
        let t = &r.tiers[0];
        let want = 4.0 * 900.0;
        assert!(
            (t.downtime_per_year_s.mean - want).abs() < 0.03 * want,
            "{t:?}"
        );
        assert!(t.downtime_per_year_s.lower < want && want < t.downtime_per_year_s.upper);
        // A month stays within one hour unless it has two failures of
        // 1200 s (or more): Poisson with mean 1/3 a month.
        let m = 1.0 / 3.0_f64;
        let p0 = (-m).exp();
        let p1 = m * p0;
        assert!(
            t.within_budget.share > p0 + p1 * 0.99,
            "{:?}",
            t.within_budget
        );
        assert_eq!(t.judgement, Judgement::Meets);
        assert_eq!(t.contributions[0].top_part.as_deref(), Some("step 1: x"));
    }

    #[test]
    fn a_zero_outage_meets_a_zero_budget_and_any_outage_misses_it() {
        let masked = monte_carlo(&plan(2.0, 0.0), &[runs(&[0.0])], settings(1000)).expect("runs");
        assert_eq!(masked.tiers[0].judgement, Judgement::Meets);
        assert_eq!(masked.tiers[0].nines, None);
        let hang = monte_carlo(&plan(2.0, 0.0), &[runs(&[1500.0])], settings(1000)).expect("runs");
        let t = &hang.tiers[0];
        assert_eq!(t.judgement, Judgement::Misses);
        // P(no failure in a month) = exp(-2/12).
        let want = (-2.0_f64 / 12.0).exp();
        assert!(
            t.within_budget.lower < want && want < t.within_budget.upper,
            "{t:?}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_result_and_choices_share_failure_times() {
        let a = monte_carlo(&plan(3.0, 60.0), &[runs(&[10.0, 200.0])], settings(500)).expect("a");
        let b = monte_carlo(&plan(3.0, 60.0), &[runs(&[10.0, 200.0])], settings(500)).expect("b");
        assert_eq!(text(&a), text(&b));
        let mut other = settings(500);
        other.seed = 10;
        let c = monte_carlo(&plan(3.0, 60.0), &[runs(&[10.0, 200.0])], other).expect("c");
        assert_ne!(text(&a), text(&c));
        // Doubling every outage doubles the downtime exactly: same draws.
        let d = monte_carlo(&plan(3.0, 60.0), &[runs(&[20.0, 400.0])], settings(500)).expect("d");
        let (x, y) = (
            a.tiers[0].downtime_per_year_s.mean,
            d.tiers[0].downtime_per_year_s.mean,
        );
        assert!((2.0 * x - y).abs() < 1e-6 * y, "{x} {y}");
    }

    #[test]
    fn counted_maintenance_adds_and_excluded_maintenance_does_not() {
        let mut p = plan(0.0, 3600.0);
        p.maintenance.push(Maintenance {
            name: "patching".into(),
            duration_s: 7200.0,
            windows_per_year: 12.0,
            tiers: vec!["users".into()],
            excluded: vec![],
        });
        let r = monte_carlo(&p, &[runs(&[0.0])], settings(10)).expect("runs");
        let t = &r.tiers[0];
        assert!(
            (t.downtime_per_year_s.mean - 12.0 * 7200.0).abs() < 1e-6,
            "{t:?}"
        );
        assert_eq!(t.judgement, Judgement::Misses, "every month has 2 h > 1 h");
        p.maintenance[0].excluded = vec!["users".into()];
        let r = monte_carlo(&p, &[runs(&[0.0])], settings(10)).expect("runs");
        assert_eq!(r.tiers[0].downtime_per_year_s.mean, 0.0);
        assert_eq!(r.tiers[0].excluded_maintenance_per_year_s, 12.0 * 7200.0);
    }

    #[test]
    fn outages_spanning_periods_are_split_between_them() {
        let u = union(vec![(90.0, 115.0), (990.0, 1040.0)], 1000.0);
        let b = split(&u, 100.0);
        assert_eq!(
            b,
            vec![(0, 10.0), (1, 15.0), (9, 10.0)],
            "clipped at the horizon"
        );
    }

    #[test]
    fn overlapping_outages_are_merged_before_they_are_split() {
        let u = union(
            vec![(50.0, 250.0), (0.0, 60.0), (100.0, 120.0), (300.0, 300.0)],
            1000.0,
        );
        assert_eq!(u, vec![(0.0, 250.0)]);
        assert_eq!(split(&u, 100.0), vec![(0, 100.0), (1, 100.0), (2, 50.0)]);
        // An outage ending on a boundary does not touch the next period.
        assert_eq!(split(&[(0.0, 200.0)], 100.0), vec![(0, 100.0), (1, 100.0)]);
    }

    #[test]
    fn overlapping_outages_never_exceed_the_time_simulated() {
        // 500 failures a year, each out for 1e8 s (3 years): users are
        // never served, but no more than always.
        let r = monte_carlo(&plan(500.0, 3600.0), &[runs(&[1e8])], settings(200)).expect("runs");
        let t = &r.tiers[0];
        assert!(
            (0.0..=100.0).contains(&t.availability_pct),
            "{}",
            t.availability_pct
        );
        assert!(t.downtime_per_year_s.mean <= YEAR_S * (1.0 + 1e-9), "{t:?}");
        assert!(t.availability_pct < 0.01, "{}", t.availability_pct);
        assert!(t.contributions[0].downtime_per_year_s <= YEAR_S * (1.0 + 1e-9));
        assert_eq!(t.judgement, Judgement::Misses);
    }

    #[test]
    fn a_run_that_never_recovered_without_an_unrecovered_outage_is_refused() {
        let f = &plan(1.0, 0.0).failures[0];
        let runs = [
            Run {
                rto_s: Some(10.0),
                parts: vec![],
            },
            Run {
                rto_s: None,
                parts: vec![],
            },
        ];
        let e = class_incidents("own", f, "x", &runs).expect_err("refused");
        let m = e.to_string();
        for want in [
            "\"crash\"",
            "\"x\"",
            "1 of the 2 runs",
            "set unrecovered_outage_s",
        ] {
            assert!(m.contains(want), "{want}: {m}");
        }
        let mut g = f.clone();
        g.unrecovered_outage_s = Some(3600.0);
        let i = class_incidents("own", &g, "x", &runs).expect("counted");
        assert_eq!((i[1].outage_s, i[1].recovered), (3600.0, false));
    }

    #[test]
    fn few_runs_leave_a_meet_undecided_by_the_rule_of_three() {
        // No outage in any run: but 20 runs cannot rule out an outcome
        // seen in none of them at up to 3/20 of the incidents.
        let few =
            monte_carlo(&plan(20.0, 0.0), &[runs_n(&[0.0], 20)], settings(1000)).expect("runs");
        let t = &few.tiers[0];
        assert_eq!(t.judgement, Judgement::Undecided, "{t:?}");
        assert_eq!(t.contributions[0].alone, Judgement::Undecided);
        let n = t.seeds_to_decide.expect("the runs that would decide it");
        assert!(n > 20, "{n}");
        assert!(
            text(&few).contains(&format!("--seeds {n}")),
            "{}",
            text(&few)
        );
        let enough = monte_carlo(
            &plan(20.0, 0.0),
            &[runs_n(&[0.0], n as usize)],
            settings(1000),
        )
        .expect("runs");
        assert_eq!(enough.tiers[0].judgement, Judgement::Meets);
        assert_eq!(enough.tiers[0].seeds_to_decide, None);
        let short = monte_carlo(
            &plan(20.0, 0.0),
            &[runs_n(&[0.0], n as usize - 1)],
            settings(1000),
        )
        .expect("runs");
        assert_eq!(short.tiers[0].judgement, Judgement::Undecided);
    }

    #[test]
    fn wilson_intervals_hold_the_share_and_narrow_with_n() {
        let s = wilson(90, 100);
        assert!(s.lower < 0.9 && 0.9 < s.upper);
        assert!((s.lower - 0.825_6).abs() < 1e-3, "{s:?}");
        let wide = s.upper - s.lower;
        let t = wilson(9000, 10_000);
        assert!(t.upper - t.lower < wide / 5.0);
        assert_eq!(wilson(10, 10).upper, 1.0);
    }

    #[test]
    fn the_incident_budget_has_a_poisson_margin_and_names_the_knob() {
        // A mean of 999,000 failures fits 1e6, but not with 6 σ (≈ 6,000).
        let e = check_work(&plan(9990.0, 0.0), 100).expect_err("refused");
        let m = e.to_string();
        assert!(m.contains("--years 99 fits"), "{m}");
        assert!(m.contains("failures[0] (\"crash\")"), "{m}");
        check_work(&plan(9900.0, 0.0), 100).expect("fits");
        let m = check_work(&plan(1e6, 0.0), 2)
            .expect_err("refused")
            .to_string();
        assert!(m.contains("even 2 years draw too many"), "{m}");
    }

    #[test]
    fn too_many_years_or_incidents_are_refused() {
        assert!(matches!(
            monte_carlo(&plan(1.0, 0.0), &[runs(&[1.0])], settings(1)),
            Err(SlaError::Years(1))
        ));
        assert!(matches!(
            monte_carlo(&plan(1e6, 0.0), &[runs(&[1.0])], settings(100)),
            Err(SlaError::TooManyIncidents { .. })
        ));
        // Maintenance windows are work too.
        let mut p = plan(0.0, 0.0);
        p.maintenance.push(Maintenance {
            name: "often".into(),
            duration_s: 1.0,
            windows_per_year: 1e5,
            tiers: vec!["users".into()],
            excluded: vec![],
        });
        assert!(matches!(
            monte_carlo(&p, &[runs(&[1.0])], settings(100)),
            Err(SlaError::TooManyIncidents { .. })
        ));
    }
}
