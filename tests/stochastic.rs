//! Variability where it is real: a Poisson workload and a drawn fault time
//! make RPO a distribution, and that distribution is the replication
//! queue's, computed here from the scenario's rates and link.
//!
//! # The model and its expectation
//!
//! The simulator (`sim/src/world/replication.rs`) queues each committed
//! write on the replication connection when the source commits it; the
//! link is one FIFO server that serialises a write of `S` bytes in
//! `D = 8 S / B` seconds at its bandwidth `B`, then the write crosses the
//! latency and the target applies it. A crash of the source at `T` loses
//! exactly the writes whose transmission has not finished at `T` (the one
//! on the wire and those waiting; what is through the wire still lands).
//! Writes arrive as a Poisson process of rate `λ` (the scenario's
//! `rate_per_s` times the profile's multiplier at its start hour; the
//! drill stays in that hour until the fault) with sizes independent of
//! the arrivals, so the link is an M/G/1 queue with utilisation
//! `ρ = λ E[D]`. The crash time is drawn independently of the arrivals,
//! so (PASTA, and the queue is stationary long before the earliest crash):
//!
//! - the link is busy, so the run loses writes, with probability `ρ`;
//! - the mean number lost is the mean number in the system,
//!   `L = ρ + λ² E[D²] / (2 (1 − ρ))` (Pollaczek-Khinchine);
//! - RPO is the age of the oldest lost write, the one on the wire (FIFO),
//!   less its reply leg (it counts as acknowledged one reply leg after
//!   its commit). Over a busy period each write on the wire has age `W`
//!   (its wait) growing to `W + D`, so the time-average age given busy is
//!   `E[W D + D²/2] / E[D] = E[W] + E[D²] / (2 E[D])`, with the M/G/1 wait
//!   `E[W] = λ E[D²] / (2 (1 − ρ))`.
//!
//! Departures from the model are small and stated: one client writes one
//! at a time (a gap shorter than a write, about 7 ms, waits for it: about
//! 2 % of gaps at 2.8 writes/s, moving the mean gap by 0.02 %), and commit
//! times are arrival times shifted by independent server delays (which
//! keeps a Poisson process Poisson). Each comparison allows four standard
//! errors of its estimate over the runs, so the test fails only when the
//! simulator and the queue really disagree.
//!
//! # The on-off workload
//!
//! `arrivals = "on-off"` is a two-state Markov-modulated Poisson process:
//! writes at rate `λ` in on periods, none in off periods, the periods
//! exponential with means `on` and `off` (switching rates `α = 1 / on`,
//! `β = 1 / off`), the drill starting on with probability
//! `p = on / (on + off)` so that the process is stationary. Its long-run
//! rate is `λ p`, and the count `N(W)` of a window of `W` seconds has the
//! Cox process's variance `E[N] + Var ∫ Λ`, which gives the index of
//! dispersion `Var N / E N = 1 + 2 λ (1 − p) τ (1 − τ (1 − e^{−W/τ}) / W)`
//! with `τ = 1 / (α + β)` (1 for a Poisson process). The test draws the
//! write process itself (`schedule::Writes`, what both backends follow)
//! over many seeds and compares both with four standard errors computed
//! over the seeds, which are independent, for windows shorter than an on
//! period (set by the on periods) and as long as a mean cycle (set by the
//! off periods' spread too: off periods of a fixed length give about 1650
//! there instead of 2580). A drill of the same workload replays by seed.

use drlab_reports::Report;
use drlab_scenarios::Scenario;
use drlab_scenarios::format::{Dist, FaultWhat};
use drlab_scenarios::schedule;

const RUNS: u64 = 1000;

fn library(name: &str) -> Scenario {
    let path = drlab_tests::root().join("scenarios/library").join(name);
    drlab_scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn poisson() -> Scenario {
    library("wan-failover-poisson.toml")
}

/// `E[X]` and `E[X²]` of a size distribution.
fn moments(d: &Dist) -> (f64, f64) {
    match *d {
        Dist::Fixed(x) => (x, x * x),
        Dist::Uniform { uniform: [a, b] } => ((a + b) / 2.0, (a * a + a * b + b * b) / 3.0),
        Dist::Exponential { exponential: m } => (m, 2.0 * m * m),
        Dist::Normal { .. } => panic!("the test models fixed, uniform and exponential sizes"),
    }
}

/// What the M/G/1 queue of the scenario's link predicts.
#[derive(Debug)]
struct Expected {
    rho: f64,
    lost_mean: f64,
    rpo_given_loss_s: f64,
}

fn expected(s: &Scenario) -> Expected {
    let w = &s.workload;
    let start = w.start_hour.unwrap_or(0) as usize;
    let multiplier = w.hourly_profile.map_or(1.0, |p| p[start]);
    let lambda = w.mean_rate_per_s() * multiplier;
    let fault = &s.faults[0];
    let latest = fault.at_s.upper().expect("a bounded fault time");
    assert!(
        latest < 3600.0,
        "the queue must see one hour's rate up to the fault"
    );
    let bandwidth = s.links[0].bandwidth_mbps * 1e6;
    let (s1, s2) = moments(&w.write_bytes);
    let (d1, d2) = (8.0 * s1 / bandwidth, 64.0 * s2 / (bandwidth * bandwidth));
    let rho = lambda * d1;
    assert!(rho < 1.0, "a stable queue: rho = {rho}");
    let wait = lambda * d2 / (2.0 * (1.0 - rho));
    let client_site = &s.sites[0];
    let reply_s = client_site.lan.latency_ms / 1e3;
    Expected {
        rho,
        lost_mean: rho + lambda * wait,
        rpo_given_loss_s: wait + d2 / (2.0 * d1) - reply_s,
    }
}

fn reports(s: &Scenario, seeds: std::ops::RangeInclusive<u64>) -> Vec<Report> {
    seeds
        .map(|seed| {
            let run = drlab_sim::run(s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            Report::from_events(&run.events)
        })
        .collect()
}

/// Mean and standard error of the mean.
fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// The nearest-rank quantile `q` of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[test]
fn rpo_over_a_thousand_seeds_spreads_as_the_replication_queue_predicts() {
    let s = poisson();
    let e = expected(&s);
    let rs = reports(&s, 1..=RUNS);
    let rpo: Vec<f64> = rs.iter().map(|r| r.rpo_s.expect("read back")).collect();
    let lost: Vec<f64> = rs.iter().map(|r| r.lost_writes as f64).collect();
    let lossy: Vec<f64> = rpo.iter().copied().filter(|x| *x > 0.0).collect();

    let mut sorted = rpo.clone();
    sorted.sort_by(f64::total_cmp);
    let (p50, p99) = (quantile(&sorted, 0.50), quantile(&sorted, 0.99));
    assert!(p99 > p50, "RPO p50 {p50} s, p99 {p99} s: no spread");

    let share = lossy.len() as f64 / RUNS as f64;
    let (lost_mean, _) = mean_se(&lost);
    let (rpo_mean, _) = mean_se(&lossy);
    // The figures, for whoever reads the test's output (`--nocapture`).
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "{RUNS} seeds: RPO p50 {p50:.3} s, p99 {p99:.3} s; lossy share {share:.3} \
             (rho {:.3}); lost writes {lost_mean:.3} (L {:.3}); RPO given loss {rpo_mean:.3} s \
             (expected {:.3} s)",
            e.rho, e.lost_mean, e.rpo_given_loss_s
        );
    }
    let se = (e.rho * (1.0 - e.rho) / RUNS as f64).sqrt();
    assert!(
        (share - e.rho).abs() <= 4.0 * se,
        "runs with lost writes: {share:.3}, the link's utilisation rho = {:.3} (± {:.3})",
        e.rho,
        4.0 * se
    );

    let (m, se) = mean_se(&lost);
    assert!(
        (m - e.lost_mean).abs() <= 4.0 * se,
        "lost writes per run: mean {m:.3}, queue length L = {:.3} (± {:.3})",
        e.lost_mean,
        4.0 * se
    );

    let (m, se) = mean_se(&lossy);
    assert!(
        (m - e.rpo_given_loss_s).abs() <= 4.0 * se,
        "RPO given a loss: mean {m:.3} s, age of the write on the wire {:.3} s (± {:.3})",
        e.rpo_given_loss_s,
        4.0 * se
    );
}

#[test]
fn the_same_seed_replays_byte_identically() {
    let s = poisson();
    let a = drlab_sim::run(&s, 42).expect("run");
    let b = drlab_sim::run(&s, 42).expect("run");
    assert_eq!(a.events, b.events);
    let (ra, rb) = (
        Report::from_events(&a.events),
        Report::from_events(&b.events),
    );
    assert_eq!(ra.trace_hash, rb.trace_hash);
    let c = drlab_sim::run(&s, 43).expect("run");
    assert_ne!(ra.trace_hash, Report::from_events(&c.events).trace_hash);
}

/// The first `n` write start times and sizes of a seed.
fn writes(s: &Scenario, seed: u64, n: usize) -> Vec<(u64, u32)> {
    let mut w = schedule::Writes::new(s, seed);
    let mut at = w.first();
    let mut out = Vec::new();
    while let Some(t) = at.filter(|_| out.len() < n) {
        out.push((t.as_micros(), w.size()));
        at = w.after(t);
    }
    out
}

#[test]
fn different_seeds_draw_different_schedules_and_fixed_ones_draw_nothing() {
    let s = poisson();
    assert_ne!(schedule::faults(&s, 1), schedule::faults(&s, 2));
    assert_eq!(schedule::faults(&s, 1), schedule::faults(&s, 1));
    assert_ne!(writes(&s, 1, 50), writes(&s, 2, 50));
    assert_eq!(writes(&s, 1, 50), writes(&s, 1, 50));
    // Without distributions every seed has the same schedule and writes.
    let fixed = library("wan-failover.toml");
    assert_eq!(schedule::faults(&fixed, 1), schedule::faults(&fixed, 99));
    assert_eq!(writes(&fixed, 1, 50), writes(&fixed, 99, 50));
    assert!(writes(&fixed, 1, 3) == [(0, 32768), (200_000, 32768), (400_000, 32768)]);
}

#[test]
fn a_weighted_set_is_drawn_in_proportion_and_injected_in_time_order() {
    let text = std::fs::read_to_string(
        drlab_tests::root().join("scenarios/library/wan-failover-poisson.toml"),
    )
    .expect("read");
    let one_of = "[[faults]]\nat_s = { uniform = [60, 600] }\none_of = [\n  \
                  { kind = \"crash-host\", host = \"EXCH1\", weight = 3 },\n  \
                  { kind = \"kill-service\", host = \"EXCH1\", service = \"MSExchangeIS\" },\n]\n\
                  [[faults]]\nat_s = { uniform = [0, 700] }\nkind = \"crash-host\"\nhost = \"DC2\"\n";
    let at = text.find("[[faults]]").expect("faults");
    let end = text.find("[runbook]").expect("runbook");
    let edited = format!("{}{one_of}\n{}", &text[..at], &text[end..]);
    let s = drlab_scenarios::parse(std::path::Path::new("one-of.toml"), &edited)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(s.faults[0].what, FaultWhat::OneOf(ref v) if v.len() == 2));
    let mut crashes = 0;
    for seed in 0..4000 {
        let plan = schedule::faults(&s, seed);
        assert!(plan.windows(2).all(|w| w[0].at_s <= w[1].at_s), "{plan:?}");
        let first = plan.iter().find(|f| f.entry == 0).expect("entry 0");
        crashes += usize::from(first.fault.kind_name() == "crash-host");
    }
    let share = crashes as f64 / 4000.0;
    assert!(
        (share - 0.75).abs() < 4.0 * (0.75f64 * 0.25 / 4000.0).sqrt(),
        "{share}"
    );
}

#[test]
fn a_fault_drawn_past_the_horizon_is_not_scheduled_and_nothing_waits_for_it() {
    use drlab_scenarios::draws::{Draws, Stream};
    // An exponential crash time with a mean of 1000 s inside the 2400 s
    // horizon: about one seed in eleven draws it past the horizon.
    let late = Dist::Exponential {
        exponential: 1000.0,
    };
    let text = std::fs::read_to_string(
        drlab_tests::root().join("scenarios/library/wan-failover-poisson.toml"),
    )
    .expect("read");
    let from = "at_s = { uniform = [60, 600] }";
    assert!(text.contains(from));
    let edited = text.replacen(from, "at_s = { exponential = 1000 }", 1);
    let s = drlab_scenarios::parse(std::path::Path::new("late.toml"), &edited)
        .unwrap_or_else(|e| panic!("{e}"));
    let horizon = s.scenario.horizon_s;
    let mut beyond = Vec::new();
    for seed in 0..200 {
        let drawn = Draws::new(seed, Stream::Faults).sample(&late);
        let plan = schedule::faults(&s, seed);
        if drawn < horizon {
            assert_eq!(plan.len(), 1, "seed {seed}: {plan:?}");
            assert_eq!(plan[0].at_s, drawn, "seed {seed}");
        } else {
            assert!(plan.is_empty(), "seed {seed}: drawn at {drawn} s: {plan:?}");
            beyond.push(seed);
        }
    }
    assert!(beyond.len() > 5, "{beyond:?}");
    // The drill ends `settle_s` in, as without faults, instead of waiting
    // `settle_s` past a fault that never comes and running to the horizon.
    for seed in beyond.into_iter().take(3) {
        let run = drlab_sim::run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let r = Report::from_events(&run.events);
        assert_eq!(r.end_reason, "no faults scheduled", "seed {seed}");
        assert!(r.faults.is_empty(), "seed {seed}: {:?}", r.faults);
        assert!(r.timeline.t0_s.is_none(), "seed {seed}");
        assert!(
            r.timeline.ended_s < horizon / 2.0,
            "seed {seed}: {}",
            r.timeline.ended_s
        );
    }
}

/// The workload of `wan-failover-poisson.toml` without its profile, with
/// `arrivals` (field, value) and a horizon of `horizon_s`.
fn arrivals_variant(arrivals: &[(&str, toml::Value)], horizon_s: i64) -> Scenario {
    drlab_tests::variant("wan-failover-poisson", |t| {
        let w = drlab_tests::table(t, &["workload"]);
        w.remove("hourly_profile");
        w.remove("start_hour");
        for (k, v) in arrivals {
            w.insert((*k).into(), v.clone());
        }
        drlab_tests::table(t, &["scenario"]).insert("horizon_s".into(), horizon_s.into());
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The documented example: 20 writes a second in on periods of 2 minutes
/// on average, off periods of 8 (a burst every 10 minutes on average).
const ON_RATE: f64 = 20.0;
const ON_MEAN_S: f64 = 120.0;
const OFF_MEAN_S: f64 = 480.0;
/// Four hours a seed: 24 on-off cycles on average.
const HORIZON_S: i64 = 14_400;
/// Windows shorter than an on period, and as long as a mean cycle.
const WINDOWS_S: [f64; 2] = [60.0, 600.0];

fn on_off() -> Scenario {
    arrivals_variant(
        &[
            ("arrivals", "on-off".into()),
            ("rate_per_s", ON_RATE.into()),
            ("on_mean_s", ON_MEAN_S.into()),
            ("off_mean_s", OFF_MEAN_S.into()),
        ],
        HORIZON_S,
    )
}

/// The start times of one seed's writes over the horizon, in seconds, as
/// the write process draws them.
fn write_times(s: &Scenario, seed: u64) -> Vec<f64> {
    schedule::Writes::new(s, seed).starts_s()
}

/// The writes of each window of `width_s` seconds over `horizon_s`.
fn window_counts(times: &[f64], width_s: f64, horizon_s: f64) -> Vec<f64> {
    let mut counts = vec![0.0; (horizon_s / width_s).ceil() as usize];
    for t in times {
        counts[(t / width_s) as usize] += 1.0;
    }
    counts
}

/// The index of dispersion of window counts over seeds, with its standard
/// error, and the mean count of a window. Each seed's mean squared
/// deviation from the mean over all seeds estimates the variance of a
/// window's count (the process is stationary from its start); the seeds
/// are independent, so their spread gives the standard error.
fn dispersion(per_seed: &[Vec<f64>]) -> (f64, f64, f64) {
    let all: Vec<f64> = per_seed.iter().flatten().copied().collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let variances: Vec<f64> = per_seed
        .iter()
        .map(|c| c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / c.len() as f64)
        .collect();
    let (var, se) = mean_se(&variances);
    (var / mean, se / mean, mean)
}

/// The on-off index of dispersion of a window of `w` seconds (module doc).
fn on_off_dispersion(w: f64) -> f64 {
    let p = ON_MEAN_S / (ON_MEAN_S + OFF_MEAN_S);
    let tau = 1.0 / (1.0 / ON_MEAN_S + 1.0 / OFF_MEAN_S);
    1.0 + 2.0 * ON_RATE * (1.0 - p) * tau * (1.0 - tau * (1.0 - (-w / tau).exp()) / w)
}

#[test]
fn on_off_writes_keep_the_long_run_rate_and_come_in_bursts() {
    let s = on_off();
    let horizon = s.scenario.horizon_s;
    let times: Vec<Vec<f64>> = (1..=200).map(|seed| write_times(&s, seed)).collect();
    let seeds = times.len();

    // (a) The long-run rate, λ on / (on + off), from each seed's writes.
    let rates: Vec<f64> = times.iter().map(|t| t.len() as f64 / horizon).collect();
    let (rate, rate_se) = mean_se(&rates);
    let expected_rate = s.workload.mean_rate_per_s();
    assert_eq!(
        expected_rate,
        ON_RATE * ON_MEAN_S / (ON_MEAN_S + OFF_MEAN_S)
    );
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "on-off over {seeds} seeds of {horizon} s: rate {rate:.4}/s ± {rate_se:.4} \
             (expected {expected_rate})"
        );
    }
    assert!(
        (rate - expected_rate).abs() <= 4.0 * rate_se,
        "long-run rate {rate:.4}/s, expected {expected_rate}/s (± {:.4})",
        4.0 * rate_se
    );

    // (b) Windows' counts: over-dispersed as the MMPP predicts, where
    // Poisson writes at the same long-run rate are not.
    let poisson = arrivals_variant(
        &[
            ("arrivals", "poisson".into()),
            ("rate_per_s", expected_rate.into()),
        ],
        HORIZON_S,
    );
    let poisson_times: Vec<Vec<f64>> = (1..=100).map(|seed| write_times(&poisson, seed)).collect();
    for width in WINDOWS_S {
        let counts = |ts: &[Vec<f64>]| -> Vec<Vec<f64>> {
            ts.iter()
                .map(|t| window_counts(t, width, horizon))
                .collect()
        };
        let (iod, iod_se, window_mean) = dispersion(&counts(&times));
        let (p_iod, p_iod_se, _) = dispersion(&counts(&poisson_times));
        let expected = on_off_dispersion(width);
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "{width} s windows: mean {window_mean:.1} writes, index of dispersion \
                 {iod:.1} ± {iod_se:.1} (expected {expected:.1}); Poisson at the same mean: \
                 {p_iod:.4} ± {p_iod_se:.4}"
            );
        }
        assert!(
            (p_iod - 1.0).abs() <= 4.0 * p_iod_se,
            "Poisson {width} s windows: index of dispersion {p_iod:.4}, expected 1 (± {:.4})",
            4.0 * p_iod_se
        );
        assert!(
            iod - 4.0 * iod_se > 10.0 * (p_iod + 4.0 * p_iod_se),
            "on-off {width} s windows are not clearly over-dispersed: {iod:.1} ± {:.1}, \
             Poisson {p_iod:.3}",
            4.0 * iod_se
        );
        assert!(
            (iod - expected).abs() <= 4.0 * iod_se,
            "on-off {width} s windows: index of dispersion {iod:.1}, the MMPP's \
             {expected:.1} (± {:.1})",
            4.0 * iod_se
        );
    }
}

#[test]
fn an_on_off_drill_replays_byte_identically_by_seed() {
    let s = arrivals_variant(
        &[
            ("arrivals", "on-off".into()),
            ("rate_per_s", ON_RATE.into()),
            ("on_mean_s", 30.0.into()),
            ("off_mean_s", 90.0.into()),
        ],
        2400,
    );
    let a = drlab_sim::run(&s, 5).expect("run");
    let b = drlab_sim::run(&s, 5).expect("run");
    assert_eq!(a.events, b.events);
    let hash = |r: &drlab_sim::SimRun| Report::from_events(&r.events).trace_hash;
    let c = drlab_sim::run(&s, 6).expect("run");
    assert_ne!(hash(&a), hash(&c));
    assert_eq!(
        writes(&s, 5, 500),
        writes(&s, 5, 500),
        "the write process replays"
    );
    assert_ne!(writes(&s, 5, 500), writes(&s, 6, 500));
}
