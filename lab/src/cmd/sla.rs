//! `drlab sla PLAN.toml`: the availability budget of each user tier. Loads
//! the plan and its scenarios, runs each scenario over the seed range in the
//! simulator (as `sweep` does), keeps of every report only its small
//! [`Run`] record (taken as the run ends), turns those into each class's
//! incidents with their outage quantiles and order-statistic bounds, and
//! hands them to the reports crate's Monte Carlo and renderers. The
//! Monte Carlo's work bound is checked before any simulation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use drlab_reports::sla::{self, ChoiceRuns, ClassRuns, Incident, Quantile, Run, Settings};
use drlab_scenarios::sla::LoadedPlan;

use super::out;
use crate::Outcome;
use crate::cli::Format;
use crate::quantile;
use crate::seeds::Seeds;

/// Most runs per scenario.
const SEEDS_MAX: u64 = 100_000;

/// `drlab sla`'s arguments.
pub struct SlaArgs<'a> {
    /// The plan file.
    pub plan: &'a Path,
    /// Runs per scenario.
    pub seeds: u64,
    /// First seed (default: the plan's).
    pub seed: Option<u64>,
    /// Simulated years.
    pub years: u64,
    /// Parallel jobs.
    pub jobs: u64,
    /// Output format.
    pub format: Format,
    /// Where to write all formats too.
    pub out: Option<&'a Path>,
}

/// Runs `drlab sla`.
pub fn sla(a: &SlaArgs<'_>) -> Result<Outcome> {
    anyhow::ensure!(
        (1..=SEEDS_MAX).contains(&a.seeds),
        "--seeds must be between 1 and {SEEDS_MAX}"
    );
    anyhow::ensure!(
        (1..=super::explore::JOBS_MAX).contains(&a.jobs),
        "--jobs must be between 1 and {}",
        super::explore::JOBS_MAX
    );
    anyhow::ensure!(
        (2..=sla::YEARS_MAX).contains(&a.years),
        "--years must be between 2 and {}",
        sla::YEARS_MAX
    );
    let loaded = drlab_scenarios::sla::load(a.plan).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seed = a.seed.unwrap_or(loaded.plan.plan.seed);
    let seeds = Seeds::new(seed, a.seeds).context("--seed with --seeds")?;
    // Before any simulation: the Monte Carlo's work must fit.
    sla::check_work(&loaded.plan, a.years)?;
    let runs = run_scenarios(&loaded, seeds, a.jobs)?;
    let choices = choice_runs(&loaded, &runs)?;
    let settings = Settings {
        years: a.years,
        seed,
        runs: a.seeds,
        first_run_seed: seed,
        runs_for_upper_bounds: [("p95", 0.95), ("p99", 0.99)]
            .into_iter()
            .map(|(q, p)| (q.to_string(), quantile::runs_needed(p)))
            .collect(),
    };
    let result = sla::monte_carlo(&loaded.plan, &choices, settings)?;
    let json = serde_json::to_string_pretty(&result)? + "\n";
    if let Some(dir) = a.out {
        write_all(dir, &result, &json, &page(&result, a.plan))?;
    }
    out(&match a.format {
        Format::Json => json,
        Format::Md => sla::markdown(&result),
        Format::Html => page(&result, a.plan),
        Format::Text => sla::text(&result),
    });
    Ok(if result.some_choice_meets_all() {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// Every scenario the plan names, run once over the seed range; of each
/// report only its [`Run`] is kept.
fn run_scenarios(
    loaded: &LoadedPlan,
    seeds: Seeds,
    jobs: u64,
) -> Result<BTreeMap<PathBuf, Vec<Run>>> {
    let mut reports = BTreeMap::new();
    for (path, scenario) in &loaded.scenarios {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("sla: {} ({} runs)", path.display(), seeds.count);
        }
        let runs = super::sweep::runs_map(scenario, seeds, jobs, &|| {}, &|r| sla::run(&r))
            .with_context(|| format!("{}", path.display()))?;
        reports.insert(path.clone(), runs);
    }
    Ok(reports)
}

/// Per protection choice, per failure class: the incidents of its
/// scenario's runs and their outage quantiles.
fn choice_runs(
    loaded: &LoadedPlan,
    reports: &BTreeMap<PathBuf, Vec<Run>>,
) -> Result<Vec<ChoiceRuns>> {
    loaded
        .choices
        .iter()
        .map(|c| {
            let classes = loaded
                .plan
                .failures
                .iter()
                .zip(&c.scenarios)
                .map(|(f, path)| {
                    let runs = reports
                        .get(path)
                        .with_context(|| format!("{} was not run", path.display()))?;
                    let name = loaded
                        .scenarios
                        .get(path)
                        .map_or_else(|| path.display().to_string(), |s| s.scenario.name.clone());
                    let incidents = sla::class_incidents(&c.name, f, &name, runs)?;
                    Ok(class_runs(name, incidents))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(ChoiceRuns {
                name: c.name.clone(),
                classes,
            })
        })
        .collect()
}

fn class_runs(scenario: String, incidents: Vec<Incident>) -> ClassRuns {
    let quantiles = outage_quantiles(&incidents);
    ClassRuns {
        scenario,
        incidents,
        quantiles,
    }
}

/// p50, p95, p99 with their 95 % lower and upper order-statistic bounds,
/// and the largest outage.
fn outage_quantiles(incidents: &[Incident]) -> Vec<Quantile> {
    let mut xs: Vec<Option<f64>> = incidents.iter().map(|i| Some(i.outage_s)).collect();
    xs.sort_by(|a, b| {
        a.unwrap_or(f64::INFINITY)
            .total_cmp(&b.unwrap_or(f64::INFINITY))
    });
    let mut qs: Vec<Quantile> = [("p50", 0.50), ("p95", 0.95), ("p99", 0.99)]
        .into_iter()
        .map(|(name, p)| Quantile {
            name: name.into(),
            value: quantile::nearest_rank(&xs, p),
            lower: quantile::lower_bound(&xs, p),
            upper: quantile::upper_bound(&xs, p),
        })
        .collect();
    qs.push(Quantile {
        name: "max".into(),
        value: quantile::nearest_rank(&xs, 1.0),
        lower: None,
        upper: None,
    });
    qs
}

/// The HTML page of `r`, whose replay command names `plan`.
fn page(r: &sla::SlaReport, plan: &Path) -> String {
    let plan_file = plan.display().to_string();
    drlab_reports::sla_html(
        r,
        &drlab_reports::SlaRun {
            plan_file: &plan_file,
        },
    )
}

/// The files `drlab sla --out DIR` writes.
const ARTEFACTS: [&str; 4] = ["sla.txt", "sla.md", "sla.json", "sla.html"];

/// Replaces `dir` by one holding sla.txt, sla.md, sla.json and sla.html,
/// atomically (`output::write_set`: a directory holding other files is
/// refused).
fn write_all(dir: &Path, r: &sla::SlaReport, json: &str, html: &str) -> Result<()> {
    let (text, md) = (sla::text(r), sla::markdown(r));
    let files: [(&str, &[u8]); 4] = [
        (ARTEFACTS[0], text.as_bytes()),
        (ARTEFACTS[1], md.as_bytes()),
        (ARTEFACTS[2], json.as_bytes()),
        (ARTEFACTS[3], html.as_bytes()),
    ];
    crate::output::write_set(dir, &files, &ARTEFACTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drlab_reports::Report;

    fn simulated(stem: &str, seed: u64) -> Report {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/library")
            .join(format!("{stem}.toml"));
        let s = drlab_scenarios::load(&p).unwrap_or_else(|e| panic!("{e}"));
        let run = drlab_sim::run(&s, seed).expect("the run");
        Report::from_events(&run.events)
    }

    fn parts_sum(r: &Report) -> f64 {
        let i = sla::incident(&sla::run(r), None).expect("a recovered run");
        i.parts.iter().map(|(_, s)| s).sum()
    }

    #[test]
    fn an_incidents_parts_add_up_to_its_rto() {
        let r = simulated("lan-failover", 7);
        let i = sla::incident(&sla::run(&r), None).expect("recovered");
        let rto = r.rto_s.expect("lan-failover recovers");
        assert!(i.recovered);
        assert_eq!(i.outage_s, rto);
        let sum = parts_sum(&r);
        assert!((sum - rto).abs() < 0.01, "{sum} vs {rto}: {:?}", i.parts);
        assert!(
            i.parts.iter().any(|(n, _)| n.starts_with("step ")),
            "{:?}",
            i.parts
        );
    }

    #[test]
    fn an_incidents_parts_are_measured_from_t0_not_from_the_first_fault_line() {
        // The fault list holds repairs and failed injections too: a line
        // before the fault that took effect must not move the parts.
        let mut r = simulated("lan-failover", 7);
        let before = sla::run(&r);
        let rto = r.rto_s.expect("lan-failover recovers");
        let t0 = r.timeline.t0_s.expect("a T0");
        let mut early = r.faults[0].clone();
        early.at_s = t0 + rto / 2.0;
        early.error = Some("injection failed".into());
        r.faults.insert(0, early);
        assert_eq!(sla::run(&r), before);
        let sum = parts_sum(&r);
        assert!((sum - rto).abs() < 0.01, "{sum} vs {rto}");
    }

    #[test]
    fn an_unrecovered_run_counts_the_plans_outage_or_is_refused() {
        let r = simulated("everrun-application-hang", 4);
        assert_eq!(r.rto_s, None);
        let run = sla::run(&r);
        let counted = sla::incident(&run, Some(3600.0)).expect("counted");
        assert_eq!((counted.outage_s, counted.recovered), (3600.0, false));
        assert_eq!(sla::incident(&run, None), None, "no outage to guess");
    }

    #[test]
    fn outage_quantiles_carry_both_bounds_or_none() {
        let incidents: Vec<Incident> = (1..=100)
            .map(|x| Incident {
                outage_s: f64::from(x),
                recovered: true,
                parts: vec![],
            })
            .collect();
        let q = outage_quantiles(&incidents);
        assert_eq!(
            (q[0].value, q[0].lower, q[0].upper),
            (Some(50.0), Some(42.0), Some(59.0))
        );
        assert_eq!(q[2].name, "p99");
        assert_eq!(q[2].upper, None, "100 runs cannot bound p99 from above");
        assert_eq!(q[3].value, Some(100.0));
    }
}
