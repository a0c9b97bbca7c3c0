//! `drlab bench`: simulator speed on one scenario, as ratios and per-event
//! costs, beside the floor: a bare `BinaryHeap` discrete-event loop that
//! replays as many events and clock jumps as the measured runs, in the same
//! process. With `--scale KIND=N,…`, the cost per event of scaled estates
//! (`drlab_scenarios::scale`) as a curve. Uses the wall clock (this is the
//! CLI, not the simulator); progress goes to stderr, figures to stdout.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context, Result};
use drlab_drivers::Discard;
use drlab_scenarios::Scenario;
use drlab_scenarios::scale::{ScaleSpec, scaled};

use super::{load, out};
use crate::Outcome;
// the most parallel jobs: explore's bound, shared by every `--jobs`
use super::explore::JOBS_MAX;
use crate::cli::BenchTarget;
use crate::progress::Progress;
use crate::seeds::Seeds;

/// Most runs per job.
const RUNS_MAX: u64 = 10_000_000;
/// Most warm-up runs before each measurement.
const WARM_RUNS_MAX: u64 = 50;
/// Activities of the floor's event loop (the drill's four: workload,
/// probes, faults, control loop).
const FLOOR_ACTIVITIES: u64 = 4;
/// Longest gap the floor draws between two wake-ups of an activity.
const FLOOR_GAP_MAX_US: u64 = 1_000_000;

#[derive(Default, Clone, Copy)]
struct Totals {
    runs: u64,
    sim_us: u64,
    events: u64,
    timer_fires: u64,
}

impl Totals {
    fn add(&mut self, t: Totals) {
        self.runs += t.runs;
        self.sim_us += t.sim_us;
        self.events += t.events;
        self.timer_fires += t.timer_fires;
    }
}

/// The runs of `seeds`, each shown on `progress` when it is done.
fn job(s: &Scenario, seeds: Seeds, with_report: bool, progress: &Progress) -> Result<Totals> {
    let mut t = Totals::default();
    // The world is built once per job and copied for each run, as sweeps
    // do: a run's cost is the run's, not the estate's construction.
    let prepared = drlab_sim::Prepared::new(s);
    for seed in seeds.iter() {
        // Events are counted (or folded into the report) as they are
        // recorded, never kept: a run's memory does not grow with them.
        let r = if with_report {
            super::simulate_report(&prepared, seed).map(|(report, r)| {
                std::hint::black_box(report);
                r
            })
        } else {
            prepared.run_into(seed, &RefCell::new(Discard))
        }
        .with_context(|| format!("seed {seed}"))?;
        progress.inc(1);
        t.runs += 1;
        t.sim_us += r.ended_at.as_micros();
        t.events += r.events as u64;
        t.timer_fires += r.timer_fires;
    }
    Ok(t)
}

fn measure(
    s: &Scenario,
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
        sum.add(t);
    }
    Ok((sum, wall))
}

/// One event the floor records: about what a drill event needs at least
/// (a time, who, a sequence number).
#[derive(Clone, Copy)]
struct FloorEvent {
    at_us: u64,
    activity: u64,
    seq: u64,
}

/// One run of the floor: `FLOOR_ACTIVITIES` activities on a `BinaryHeap`
/// timer queue ordered by (deadline, insertion); `jumps` times the clock
/// jumps to the earliest timer, its activity records its share of `events`
/// into a vector and sleeps again for a drawn gap (xorshift). Returns a
/// checksum so that nothing is optimised away.
fn floor_run(events: u64, jumps: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    let mut gap = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        1 + x % FLOOR_GAP_MAX_US
    };
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    for a in 0..FLOOR_ACTIVITIES {
        heap.push(Reverse((gap(), seq, a)));
        seq += 1;
    }
    let mut log: Vec<FloorEvent> = Vec::new();
    let (mut now, mut emitted) = (0u64, 0u64);
    for j in 0..jumps {
        let Some(Reverse((at, _, a))) = heap.pop() else {
            break;
        };
        now = at;
        let due = events * (j + 1) / jumps;
        while emitted < due {
            log.push(FloorEvent {
                at_us: now,
                activity: a,
                seq: emitted,
            });
            emitted += 1;
        }
        heap.push(Reverse((now + gap(), seq, a)));
        seq += 1;
    }
    // Without clock jumps, every event happens at time zero.
    while emitted < events {
        log.push(FloorEvent {
            at_us: now,
            activity: 0,
            seq: emitted,
        });
        emitted += 1;
    }
    let log = std::hint::black_box(log);
    log.iter()
        .fold(0u64, |h, e| h.rotate_left(5) ^ e.at_us ^ e.activity ^ e.seq)
}

/// The floor over the same runs as `t` (each run its share of the events
/// and clock jumps), on one thread: its wall time.
fn floor(t: Totals) -> f64 {
    let start = Instant::now();
    let mut check = 0u64;
    for r in 0..t.runs {
        let share = |total: u64| total * (r + 1) / t.runs - total * r / t.runs;
        check ^= floor_run(share(t.events), share(t.timer_fires), r);
    }
    std::hint::black_box(check);
    start.elapsed().as_secs_f64()
}

/// Nanoseconds per event of `t` measured over `wall` on `jobs` threads
/// (CPU time per event when every job has its own core).
fn ns_per_event(t: Totals, wall: f64, jobs: u64) -> f64 {
    wall * 1e9 * jobs as f64 / t.events.max(1) as f64
}

/// `drlab bench`.
pub fn bench(target: &BenchTarget, runs: u64, jobs: u64, seed: Option<u64>) -> Result<Outcome> {
    anyhow::ensure!(
        (1..=RUNS_MAX).contains(&runs),
        "--runs must be between 1 and {RUNS_MAX}"
    );
    anyhow::ensure!(
        (1..=JOBS_MAX).contains(&jobs),
        "--jobs must be between 1 and {JOBS_MAX}"
    );
    let path = &target.scenario;
    let s = load(path)?;
    let seed = seed.unwrap_or(s.scenario.seed);
    // `--runs` per job: runs x jobs consecutive seeds in all.
    let seeds = Seeds::new(seed, runs * jobs).context("--seed with --runs and --jobs")?;
    let warm = Seeds::new(seed, runs.min(WARM_RUNS_MAX))?;
    if !target.scale.is_empty() {
        return curves(
            &s,
            &target.scale,
            seeds,
            warm,
            jobs,
            &path.display().to_string(),
        );
    }
    // Progress on stderr over the three phases; its cost (an atomic add
    // per run, a redraw at most 20 times a second) is within the noise.
    let progress = Progress::new("bench", Some(warm.count + 2 * seeds.count), "runs");
    // Warm up caches and the allocator; not measured.
    progress.set_message("warm-up");
    job(&s, warm, true, &progress)?;
    progress.set_message("simulator only");
    let (sim, wall_sim) = measure(&s, seeds, jobs, false, &progress)?;
    progress.set_message("simulator + report");
    let (_, wall_full) = measure(&s, seeds, jobs, true, &progress)?;
    progress.set_message("floor");
    let wall_floor = floor(sim);
    progress.finish();
    let sim_s = sim.sim_us as f64 / 1e6;
    let ns = ns_per_event(sim, wall_sim, jobs);
    let ns_floor = ns_per_event(sim, wall_floor, 1);
    out(&format!(
        "drlab bench {} ({} runs x {} job(s), seeds from {seed})\n\
         simulator only:     {:.3} s wall for {:.0} simulated s\n\
         \x20 simulated s per wall s: {:.0}\n\
         \x20 events per second:      {:.0} ({} events/run, {:.0} ns per event)\n\
         \x20 clock jumps per second: {:.0} ({} per run)\n\
         \x20 runs per minute:        {:.0}\n\
         simulator + report: {:.3} s wall\n\
         \x20 runs per minute:        {:.0}\n\
         floor (bare BinaryHeap event loop, same events and clock jumps, one thread): {:.3} s wall\n\
         \x20 ns per event:           {:.1}\n\
         \x20 drlab / floor:          {:.1}x per event\n",
        path.display(),
        runs,
        jobs,
        wall_sim,
        sim_s,
        sim_s / wall_sim,
        sim.events as f64 / wall_sim,
        sim.events / sim.runs,
        ns,
        sim.timer_fires as f64 / wall_sim,
        sim.timer_fires / sim.runs,
        sim.runs as f64 * 60.0 / wall_sim,
        wall_full,
        sim.runs as f64 * 60.0 / wall_full,
        wall_floor,
        ns_floor,
        ns / ns_floor,
    ));
    Ok(Outcome::Pass)
}

/// One point of a curve.
struct Point {
    n: usize,
    totals: Totals,
    ns: f64,
    ns_floor: f64,
}

/// `--scale`: for each specification, the scaled scenarios (all built and
/// validated before anything is timed), each warmed up and measured
/// (simulator only; each job builds the world once, inside the timing,
/// and copies it for every run), then the curve.
fn curves(
    s: &Scenario,
    specs: &[ScaleSpec],
    seeds: Seeds,
    warm: Seeds,
    jobs: u64,
    shown: &str,
) -> Result<Outcome> {
    let mut estates = Vec::new();
    for spec in specs {
        let mut points = Vec::new();
        for &n in &spec.counts {
            let x =
                scaled(s, spec.kind, n).with_context(|| format!("--scale {}={n}", spec.kind))?;
            points.push((n, x));
        }
        estates.push((spec.kind, points));
    }
    let points: u64 = estates.iter().map(|(_, p)| p.len() as u64).sum();
    let progress = Progress::new("bench", Some(points * (warm.count + seeds.count)), "runs");
    let mut text = format!(
        "drlab bench {shown} ({} runs x {jobs} job(s) per point, seeds from {}; simulator only; the world built once per job, timed, and copied per run)\n",
        seeds.count / jobs,
        seeds.first,
    );
    for (kind, estates) in &estates {
        let mut curve = Vec::new();
        for (n, x) in estates {
            progress.set_message(&format!("{kind}={n} warm-up"));
            job(x, warm, false, &progress)?;
            progress.set_message(&format!("{kind}={n}"));
            let (totals, wall) = measure(x, seeds, jobs, false, &progress)?;
            let ns_floor = ns_per_event(totals, floor(totals), 1);
            curve.push(Point {
                n: *n,
                totals,
                ns: ns_per_event(totals, wall, jobs),
                ns_floor,
            });
        }
        let smallest = curve.iter().min_by_key(|p| p.n).map_or(f64::NAN, |p| p.ns);
        let _ = writeln!(
            text,
            "{kind:>10}  events/run  clock jumps/run  ns per event  vs smallest N  vs floor"
        );
        for p in &curve {
            let _ = writeln!(
                text,
                "{:>10}  {:>10}  {:>15}  {:>12.1}  {:>12.2}x  {:>7.1}x",
                p.n,
                p.totals.events / p.totals.runs.max(1),
                p.totals.timer_fires / p.totals.runs.max(1),
                p.ns,
                p.ns / smallest,
                p.ns / p.ns_floor,
            );
        }
    }
    progress.finish();
    out(&text);
    Ok(Outcome::Pass)
}
