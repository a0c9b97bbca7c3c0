//! `drlab sla`'s availability budget: a Monte Carlo over simulated years of
//! failures and maintenance, from a plan ([`drlab_scenarios::sla`]) and the
//! outages its scenarios' simulated runs measured, and its text, Markdown
//! and JSON renderings.
//!
//! Pure functions of their inputs: the runs are made by the caller and
//! reach this module as [`Incident`]s (one per report, [`incident`]); the
//! failure times are Poisson processes drawn from the plan's rates on the
//! seed's [`Stream::Availability`], and each incident takes its outage from
//! one of the simulated runs, chosen on the same stream. Every protection
//! choice sees the same failure times and the same choice of run (common
//! random numbers), so choices differ only by what their scenarios measured.

use std::collections::BTreeMap;
use std::fmt::Write;

use drlab_scenarios::draws::{Draws, Stream};
use drlab_scenarios::sla::{Failure, Plan, Tier, WEEK_S, YEAR_S};
use serde::Serialize;

use crate::Report;

/// Most simulated years.
pub const YEARS_MAX: u64 = 100_000;
/// Most incidents and maintenance windows a Monte Carlo may expect to
/// draw (rates × years): its work and memory grow with them.
pub const INCIDENTS_MAX: f64 = 1e6;
/// z of the two-sided 95 % normal intervals.
const Z95: f64 = 1.959_963_984_540_054;

/// Why a Monte Carlo cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    /// Too few or too many years.
    #[error("{0} years: simulate 2 to {YEARS_MAX} years")]
    Years(u64),
    /// The rates × years would draw too many incidents.
    #[error(
        "the plan's failure rates and maintenance windows over {years} years draw about \
         {expected:.0} incidents and windows, more than {INCIDENTS_MAX:e}: simulate fewer years"
    )]
    TooManyIncidents {
        /// Years asked for.
        years: u64,
        /// Incidents expected.
        expected: f64,
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

/// The incident of a report: its RTO split into the breakdown's phases and
/// the runbook's steps; a run that never served users again counts
/// `unrecovered_outage_s`, or else the time from the fault to the run's end.
pub fn incident(report: &Report, unrecovered_outage_s: Option<f64>) -> Incident {
    let fault_s = report.faults.first().map_or(0.0, |f| f.at_s);
    let Some(rto) = report.rto_s else {
        let outage_s =
            unrecovered_outage_s.unwrap_or_else(|| (report.timeline.ended_s - fault_s).max(0.0));
        let why = match unrecovered_outage_s {
            Some(_) => "not recovered in the scenario (the plan's unrecovered_outage_s)",
            None => "not recovered in the scenario (until its end, a lower bound)",
        };
        return Incident {
            outage_s,
            recovered: false,
            parts: vec![(why.to_string(), outage_s)],
        };
    };
    Incident {
        outage_s: rto,
        recovered: true,
        parts: parts_of(report, fault_s, rto),
    }
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
    /// The interval straddles it: simulate more years.
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
        let mut by_choice: BTreeMap<&str, bool> = BTreeMap::new();
        for t in &self.tiers {
            let all = by_choice.entry(t.protection.as_str()).or_insert(true);
            *all &= t.judgement == Judgement::Meets;
        }
        by_choice.values().any(|&ok| ok)
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

/// Downtime per period index (sparse: most periods have none).
type Buckets = BTreeMap<u64, f64>;

/// Adds `[start, start + len)` (clipped to the horizon) to the periods it spans.
fn add_outage(b: &mut Buckets, (start, len): (f64, f64), period_s: f64, horizon_s: f64) {
    let (mut at, end) = (start, (start + len).min(horizon_s));
    while at < end {
        let idx = (at / period_s).floor();
        let take = ((idx + 1.0) * period_s).min(end) - at;
        *b.entry(idx as u64).or_insert(0.0) += take;
        at += take.max(f64::EPSILON * at.max(1.0));
    }
}

/// The downtime of all periods (from +0: an empty `sum` is −0).
fn total(b: &Buckets) -> f64 {
    b.values().fold(0.0, |a, x| a + x)
}

/// The share of the whole periods whose downtime stays within `allowed_s`.
fn within(b: &Buckets, allowed_s: f64, periods: u64) -> Share {
    let over = b
        .iter()
        .filter(|(i, s)| **i < periods && **s > allowed_s + 1e-9)
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
        b.values().map(|x| (x - mean).powi(2)).sum::<f64>() + (n - b.len() as f64) * mean * mean;
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

/// What one tier gathers from one class under one choice.
#[derive(Default)]
struct Gathered {
    periods: Buckets,
    years: Buckets,
    parts: BTreeMap<String, (usize, f64)>,
}

/// Adds the class's incidents to `all` and returns its own buckets.
fn gather(
    drawn: &[Drawn],
    runs: &ClassRuns,
    period_s: f64,
    horizon_s: f64,
    all: &mut Gathered,
) -> Gathered {
    let mut own = Gathered::default();
    let n = runs.incidents.len();
    for d in drawn {
        let i = ((d.run * n as f64) as usize).min(n - 1);
        let inc = &runs.incidents[i];
        let span = (d.at_s, inc.outage_s);
        for g in [&mut own, &mut *all] {
            add_outage(&mut g.periods, span, period_s, horizon_s);
            add_outage(&mut g.years, span, YEAR_S, horizon_s);
        }
        for (order, (name, s)) in inc.parts.iter().enumerate() {
            let e = own.parts.entry(name.clone()).or_insert((order, 0.0));
            e.1 += s;
        }
    }
    own
}

/// Adds the counted maintenance of `tier` to `all`; returns the excluded
/// maintenance's seconds per year.
fn maintenance(plan: &Plan, tier: &Tier, years: u64, period_s: f64, all: &mut Gathered) -> f64 {
    let horizon_s = years as f64 * YEAR_S;
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
            add_outage(&mut all.periods, (at, m.duration_s), period_s, horizon_s);
            add_outage(&mut all.years, (at, m.duration_s), YEAR_S, horizon_s);
        }
    }
    excluded
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
    let per_year = plan
        .failures
        .iter()
        .map(Failure::rate_per_year)
        .sum::<f64>()
        + plan
            .maintenance
            .iter()
            .map(|m| m.windows_per_year)
            .sum::<f64>();
    let expected = per_year * s.years as f64;
    if expected > INCIDENTS_MAX {
        return Err(SlaError::TooManyIncidents {
            years: s.years,
            expected,
        });
    }
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
    let mut all = Gathered::default();
    let mut contributions: Vec<Contribution> = Vec::new();
    for ((f, runs), d) in plan.failures.iter().zip(&c.classes).zip(drawn) {
        if !f.tiers.contains(&tier.name) {
            continue;
        }
        let own = gather(d, runs, period_s, horizon_s, &mut all);
        let alone = within(&own.periods, allowed, periods);
        let top = own
            .parts
            .iter()
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1).then(b.1.0.cmp(&a.1.0)))
            .filter(|(_, (_, s))| *s > 0.0);
        contributions.push(Contribution {
            failure: f.name.clone(),
            downtime_per_year_s: total(&own.years) / years as f64,
            share: 0.0,
            within_budget_alone: alone,
            alone: judge(alone, required),
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
    let excluded = maintenance(plan, tier, years, period_s, &mut all);
    let (per_year, years_for_10pct) = yearly(&all.years, years);
    let weeks = YEAR_S / WEEK_S;
    let share = within(&all.periods, allowed, periods);
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
        judgement: judge(share, required),
        contributions,
        years_for_10pct,
    }
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

fn est(e: Estimate) -> String {
    format!("{} [{}, {}]", human(e.mean), human(e.lower), human(e.upper))
}

fn pct(s: Share) -> String {
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

fn quantile(q: &Quantile) -> String {
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

fn nines(t: &TierLine) -> String {
    t.nines
        .map_or_else(|| "no downtime".into(), |n| format!("{n:.1} nines"))
}

fn judgement(j: Judgement) -> &'static str {
    match j {
        Judgement::Meets => "meets",
        Judgement::Misses => "misses",
        Judgement::Undecided => "undecided",
    }
}

fn budget(t: &TierLine) -> String {
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

fn header(r: &SlaReport) -> String {
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

const NOTES: &str = "Outage quantiles: [95 % lower, 95 % upper] order-statistic bounds \
    (∞: too few runs to bound it). Downtime: mean over the \
    simulated years [95 % interval]. Within budget: share of whole periods [95 % Wilson \
    interval]; a tier meets its budget when the interval's lower end reaches the share \
    required, misses it when the upper end stays below, else undecided.";

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
            judgement(t.judgement),
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

    fn runs(outages: &[f64]) -> ChoiceRuns {
        ChoiceRuns {
            name: "own".into(),
            classes: vec![ClassRuns {
                scenario: "x".into(),
                incidents: outages
                    .iter()
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
        let mut b = Buckets::new();
        add_outage(&mut b, (90.0, 25.0), 100.0, 1000.0);
        assert_eq!(b.get(&0), Some(&10.0));
        assert_eq!(b.get(&1), Some(&15.0));
        add_outage(&mut b, (990.0, 50.0), 100.0, 1000.0);
        assert_eq!(b.get(&9), Some(&10.0), "clipped at the horizon");
        assert_eq!(b.get(&10), None);
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
