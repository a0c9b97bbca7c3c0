//! `drlab bench`: simulator speed on one scenario, as ratios and per-event
//! costs. Uses the wall clock (this is the CLI, not the simulator).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use drlab_reports::Report;

use super::{load, out};
use crate::Outcome;
use crate::progress::Progress;
use crate::seeds::Seeds;

#[derive(Default, Clone, Copy)]
struct Totals {
    runs: u64,
    sim_us: u64,
    events: u64,
    timer_fires: u64,
}

/// The runs of `seeds`, each shown on `progress` when it is done.
fn job(
    s: &drlab_scenarios::Scenario,
    seeds: Seeds,
    with_report: bool,
    progress: &Progress,
) -> Result<Totals> {
    let mut t = Totals::default();
    for seed in seeds.iter() {
        let r = drlab_sim::run(s, seed).with_context(|| format!("seed {seed}"))?;
        progress.inc(1);
        t.runs += 1;
        t.sim_us += r.events.last().map_or(0, |e| e.at.as_micros());
        t.events += r.events.len() as u64;
        t.timer_fires += r.timer_fires;
        if with_report {
            std::hint::black_box(Report::from_events(&r.events));
        }
    }
    Ok(t)
}

fn measure(
    s: &drlab_scenarios::Scenario,
    seeds: Seeds,
    jobs: u64,
    with_report: bool,
    progress: &Progress,
) -> Result<(Totals, f64)> {
    let start = Instant::now();
    let totals = std::thread::scope(|scope| -> Result<Vec<Totals>> {
        let handles: Vec<_> = seeds
            .split(jobs)
            .into_iter()
            .map(|chunk| scope.spawn(move || job(s, chunk, with_report, progress)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("benchmark job panicked"))?
            })
            .collect()
    })?;
    let wall = start.elapsed().as_secs_f64();
    let mut sum = Totals::default();
    for t in totals {
        sum.runs += t.runs;
        sum.sim_us += t.sim_us;
        sum.events += t.events;
        sum.timer_fires += t.timer_fires;
    }
    Ok((sum, wall))
}

pub fn bench(path: &Path, runs: u64, jobs: u64, seed: Option<u64>) -> Result<Outcome> {
    anyhow::ensure!(
        (1..=10_000_000).contains(&runs),
        "--runs must be between 1 and 10000000"
    );
    anyhow::ensure!((1..=64).contains(&jobs), "--jobs must be between 1 and 64");
    let s = load(path)?;
    let seed = seed.unwrap_or(s.scenario.seed);
    // `--runs` per job: runs x jobs consecutive seeds in all.
    let seeds = Seeds::new(seed, runs * jobs).context("--seed with --runs and --jobs")?;
    // Progress on stderr over the three phases; its cost (an atomic add
    // per run, a redraw at most 20 times a second) is within the noise.
    let warm = Seeds::new(seed, runs.min(50))?;
    let progress = Progress::new("bench", Some(warm.count + 2 * seeds.count), "runs");
    // Warm up caches and the allocator; not measured.
    progress.set_message("warm-up");
    job(&s, warm, true, &progress)?;
    progress.set_message("simulator only");
    let (sim, wall_sim) = measure(&s, seeds, jobs, false, &progress)?;
    progress.set_message("simulator + report");
    let (_, wall_full) = measure(&s, seeds, jobs, true, &progress)?;
    progress.finish();
    let sim_s = sim.sim_us as f64 / 1e6;
    out(&format!(
        "drlab bench {} ({} runs x {} job(s), seeds from {seed})\n\
         simulator only:     {:.3} s wall for {:.0} simulated s\n\
         \x20 simulated s per wall s: {:.0}\n\
         \x20 events per second:      {:.0} ({} events/run, {:.0} ns per event)\n\
         \x20 clock jumps per second: {:.0} ({} per run)\n\
         \x20 runs per minute:        {:.0}\n\
         simulator + report: {:.3} s wall\n\
         \x20 runs per minute:        {:.0}\n",
        path.display(),
        runs,
        jobs,
        wall_sim,
        sim_s,
        sim_s / wall_sim,
        sim.events as f64 / wall_sim,
        sim.events / sim.runs,
        wall_sim * 1e9 * jobs as f64 / sim.events as f64,
        sim.timer_fires as f64 / wall_sim,
        sim.timer_fires / sim.runs,
        sim.runs as f64 * 60.0 / wall_sim,
        wall_full,
        sim.runs as f64 * 60.0 / wall_full,
    ));
    Ok(Outcome::Pass)
}
