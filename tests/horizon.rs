//! Memory independent of the horizon (issue 10), counted, not timed: a
//! LAN failover whose drill lasts a long horizon with a write a second,
//! run with its events folded into the report as they are recorded,
//! retains no event, reports exactly what the kept trace reports, and
//! keeps in its fold as many runs (of probe outcomes, of consecutive
//! acknowledged writes) as a drill five times shorter.

use std::cell::RefCell;

use drlab_reports::{Report, ReportSink, Verdict};
use drlab_scenarios::Scenario;
use drlab_tests::{table, variant};

/// The LAN failover over `horizon_s` seconds, a write a second, its crash
/// 1,000 s before the horizon (just after a heartbeat reply, as in the
/// library's).
fn long(horizon_s: u64) -> Scenario {
    variant("lan-failover", |t| {
        let sc = table(t, &["scenario"]);
        sc.insert("horizon_s".into(), toml::Value::Integer(horizon_s as i64));
        sc.insert("events_max".into(), toml::Value::Integer(50_000_000));
        table(t, &["workload"]).insert("write_interval_ms".into(), toml::Value::Integer(1000));
        let faults = t
            .get_mut("faults")
            .and_then(toml::Value::as_array_mut)
            .expect("faults");
        let crash = faults[0].as_table_mut().expect("a fault table");
        crash.insert(
            "at_s".into(),
            toml::Value::Float((horizon_s - 1000) as f64 + 0.001),
        );
    })
    .expect("the long variant validates")
}

/// The folded run's report, events recorded, events retained, and runs
/// its fold kept.
fn folded(s: &Scenario) -> (Report, usize, usize, usize) {
    let sink = RefCell::new(ReportSink::new());
    let stats = drlab_sim::run_into(s, s.scenario.seed, &sink).expect("the run");
    let sink = sink.into_inner();
    let runs = sink.runs_kept();
    (sink.finish(), stats.events, stats.retained, runs)
}

#[test]
fn a_long_horizon_retains_no_event() {
    let s = long(100_000);
    let (report, events, retained, runs) = folded(&s);
    assert_eq!(retained, 0, "the recorder keeps no event");
    assert!(
        events > 200_000,
        "{events} events: a write and a probe a second"
    );
    assert!(report.workload.acked > 99_000, "{:?}", report.workload);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.reasons);
    let kept = drlab_sim::run(&s, s.scenario.seed).expect("the run");
    assert_eq!(kept.events.len(), events);
    assert_eq!(report, Report::from_events(&kept.events));

    // Five times shorter: the same runs (one streak of successful probes
    // before the crash, the outage, one after; the writes' gaps at the
    // crash), so the fold grows only by its bytes per write.
    let (short, _, _, short_runs) = folded(&long(20_000));
    assert_eq!(short.verdict, Verdict::Pass, "{:?}", short.reasons);
    assert_eq!(runs, short_runs, "the fold's runs grew with the horizon");
    assert!(runs < 20, "{runs} runs");
}
