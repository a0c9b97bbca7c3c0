//! The HTML report on hostile and huge inputs: every scenario-provided
//! string is escaped, the page stays small whatever the number of events,
//! and an empty or odd trace draws without panicking.

use drlab_drivers::event::StepOutcome;
use drlab_drivers::{Event, EventKind, Timestamp};

use crate::compute::Report;
use crate::html::{BUCKETS_MAX, html};

fn ev(at_s: f64, kind: EventKind) -> Event {
    Event {
        at: Timestamp::from_secs_f64(at_s),
        kind,
    }
}

fn started(name: &str) -> EventKind {
    EventKind::DrillStarted {
        scenario: name.into(),
        backend: "sim".into(),
        seed: 7,
        runbook: "r".into(),
        probe_successes_required: 1,
        rto_objective_us: 60_000_000,
        rpo_objective_us: 5_000_000,
    }
}

#[test]
fn scenario_strings_are_escaped() {
    let evil = "<script>alert(1)</script>\"'&";
    let events = vec![
        ev(0.0, started(evil)),
        ev(
            1.0,
            EventKind::FaultInjected {
                fault: "crash-host".into(),
                target: evil.into(),
            },
        ),
        ev(2.0, EventKind::StepStarted { step: evil.into() }),
        ev(
            3.0,
            EventKind::StepFinished {
                step: evil.into(),
                outcome: StepOutcome::Failed { error: evil.into() },
            },
        ),
        ev(
            4.0,
            EventKind::Alert {
                message: evil.into(),
            },
        ),
        ev(
            5.0,
            EventKind::DrillEnded {
                reason: evil.into(),
            },
        ),
    ];
    let r = Report::from_events(&events);
    let page = html(&r, &events, "my scenarios/<evil>.toml");
    assert!(!page.contains("<script"), "unescaped markup in the page");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The replay command quotes a path a shell would split.
    assert!(page.contains("drlab run 'my scenarios/&lt;evil&gt;.toml' --seed 7"));
}

#[test]
fn a_huge_trace_makes_a_small_page() {
    // 1.2e6 s is exactly BUCKETS_MAX buckets of 5000 s, with a write and a
    // probe at its last second: the most buckets a page can have, two
    // series drawn in each.
    let n = 400_000u64;
    let mut events = vec![ev(0.0, started("big"))];
    for i in 0..=n {
        let at = i as f64 * 3.0;
        events.push(ev(at, EventKind::WriteAcked { seq: i, bytes: 1 }));
        events.push(ev(at, EventKind::ProbeOk));
    }
    let end = n as f64 * 3.0;
    events.push(ev(
        end,
        EventKind::DrillEnded {
            reason: "horizon".into(),
        },
    ));
    let r = Report::from_events(&events);
    let page = html(&r, &events, "big.toml");
    assert!(page.len() < 1_000_000, "{} bytes", page.len());
    let buckets = page.matches("class=\"bucket\"").count();
    assert_eq!(buckets, 2 * BUCKETS_MAX as usize, "{buckets} buckets drawn");
    assert!(page.contains(&format!("at most {BUCKETS_MAX} time buckets")));
}

#[test]
fn an_empty_or_unfinished_trace_draws_without_panicking() {
    let r = Report::from_events(&[]);
    let page = html(&r, &[], "");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("FAIL"));

    let events = vec![
        ev(0.0, started("s")),
        ev(0.0, EventKind::StepStarted { step: "a".into() }),
    ];
    let r = Report::from_events(&events);
    let page = html(&r, &events, "s.toml");
    assert!(page.contains("step-unfinished"));
    assert_eq!(page, html(&r, &events, "s.toml"), "not deterministic");
}
