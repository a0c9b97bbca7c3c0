//! The catalogue regression: every scenario in `scenarios/library/` is its
//! own test. Each must validate, run twice with the same seed to the same
//! trace hash (the second time from a prepared world another run has
//! used), report the same when its events are folded as they are
//! recorded instead of kept, produce the verdict it expects, and match its
//! JSON and Markdown report snapshots, and its JSON report must read back
//! to the same bytes. Adding a file adds its test; no code changes.

use drlab_reports::Verdict;
use drlab_scenarios::format::Expect;
use libtest_mimic::{Arguments, Failed, Trial};

/// The library's runbooks written in the wrong order on purpose, each with
/// what its `runbook-order` violation must say.
const WRONG_ORDER: &[(&str, &str)] = &[(
    "lan-failover-wrong-order",
    "MSExchangeIS started on EXCH2 before MSExchangeSA, which it requires, ran there: \
     \"net start MSExchangeIS\" asked to start it at 194.282 s; MSExchangeSA was stopped there \
     from the drill's start and the runbook had not started it",
)];

fn check(path: &std::path::Path) -> Result<(), Failed> {
    let s = drlab_scenarios::load(path).map_err(|e| e.to_string())?;
    let seed = s.scenario.seed;
    let first = drlab_sim::run(&s, seed).map_err(|e| e.to_string())?;
    // The second run starts from a prepared world that another seed's run
    // has already used: a run must leave the world it was copied from as
    // it was, and the copy must be the world a fresh build gives.
    let prepared = drlab_sim::Prepared::new(&s);
    let (mut copy, mut fresh) = (
        prepared.world(seed),
        drlab_sim::world::World::build(&s, seed),
    );
    // The generator's `Debug` shows no state: compare its next draws too.
    if format!("{copy:?}") != format!("{fresh:?}")
        || (0..8).any(|_| copy.rng.unit() != fresh.rng.unit())
    {
        return Err("the prepared world differs from a fresh build".into());
    }
    prepared
        .run(seed.wrapping_add(1))
        .map_err(|e| e.to_string())?;
    let second = prepared.run(seed).map_err(|e| e.to_string())?;
    let (a, b) = (
        drlab_reports::Report::from_events(&first.events),
        drlab_reports::Report::from_events(&second.events),
    );
    if a.trace_hash != b.trace_hash || first.events != second.events {
        return Err(format!(
            "nondeterministic: seed {seed} gave traces {} and {}",
            a.trace_hash, b.trace_hash
        )
        .into());
    }
    // Folded as it runs, keeping no event, the run reports the same.
    let sink = std::cell::RefCell::new(drlab_reports::ReportSink::new());
    let folded = drlab_sim::run_into(&s, seed, &sink).map_err(|e| e.to_string())?;
    if folded.retained != 0 || folded.events != first.events.len() {
        return Err(format!(
            "the folded run recorded {} events and retained {}; the kept run has {}",
            folded.events,
            folded.retained,
            first.events.len()
        )
        .into());
    }
    if sink.into_inner().finish() != a {
        return Err("the report folded as the run went differs from the kept trace's".into());
    }
    let expected = match s.scenario.expect {
        Expect::Pass => Verdict::Pass,
        Expect::Fail => Verdict::Fail,
    };
    if a.verdict != expected {
        return Err(format!(
            "expected verdict {expected:?}, got {:?}: {}",
            a.verdict,
            a.reasons.join("; ")
        )
        .into());
    }
    // The invariants explore checks hold on every library run
    // (`drlab_tests::broken_invariants`), except that the runbooks written
    // in the wrong order break the runbook order, at their first
    // misordered start (which every other runbook keeps).
    let stem = path
        .file_stem()
        .and_then(|x| x.to_str())
        .unwrap_or("scenario");
    let wrong_order = WRONG_ORDER.iter().find(|(name, _)| *name == stem);
    let violations = drlab_tests::broken_invariants(&first.events, s.scenario.expect);
    if let Some((_, want)) = wrong_order {
        match violations.iter().find(|v| v.invariant == "runbook-order") {
            Some(v) if v.what == *want => {}
            other => return Err(format!("the wrong order was not caught: {other:?}").into()),
        }
    }
    let allowed = |v: &&drlab_reports::invariants::Violation| {
        wrong_order.is_some() && v.invariant == "runbook-order"
    };
    if let Some(v) = violations.iter().find(|v| !allowed(v)) {
        return Err(format!(
            "invariant {} broken at {} s: {}",
            v.invariant, v.at_s, v.what
        )
        .into());
    }
    // Its events.jsonl reads back (`drlab check`) to as many events, which
    // break the same invariants.
    let jsonl = drlab_reports::events_to_jsonl(&first.events)?;
    let back = drlab_reports::events_from_jsonl(&jsonl).map_err(|e| format!("events.jsonl:{e}"))?;
    let names = |events: &[drlab_drivers::Event]| {
        drlab_reports::invariants::check(events)
            .into_iter()
            .map(|v| v.invariant)
            .collect::<Vec<_>>()
    };
    if back.len() != first.events.len() || names(&back) != names(&first.events) {
        return Err(format!(
            "events.jsonl read back as {} events breaking {:?}, written as {} breaking {:?}",
            back.len(),
            names(&back),
            first.events.len(),
            names(&first.events)
        )
        .into());
    }
    let json = serde_json::to_string_pretty(&a).map_err(|e| e.to_string())?;
    // A report reads back (`drlab compare`) to the same report and bytes.
    let back = drlab_reports::Report::from_json(&json).map_err(|e| format!("read back: {e}"))?;
    let again = serde_json::to_string_pretty(&back).map_err(|e| e.to_string())?;
    if back != a || again != json {
        return Err("the report's JSON does not read back to the same report and bytes".into());
    }
    let md = drlab_reports::markdown(&a);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(drlab_tests::root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(format!("{} with seed {seed}", path.display()));
    settings.bind(|| {
        insta::assert_snapshot!(format!("{stem}.json"), json);
        insta::assert_snapshot!(format!("{stem}.md"), md);
    });
    Ok(())
}

/// The library's LAN failover, run with its own seed.
fn lan_failover() -> Result<drlab_sim::SimRun, Failed> {
    let path = drlab_tests::root().join("scenarios/library/lan-failover.toml");
    let s = drlab_scenarios::load(&path).map_err(|e| e.to_string())?;
    Ok(drlab_sim::run(&s, s.scenario.seed).map_err(|e| e.to_string())?)
}

/// The first violation of `invariant` in `events`.
fn first_broken(
    events: &[drlab_drivers::Event],
    invariant: &str,
) -> Option<drlab_reports::invariants::Violation> {
    drlab_reports::invariants::check(events)
        .into_iter()
        .find(|v| v.invariant == invariant)
}

/// The simulator says what the replica held when it took over in a LAN
/// failover (`replica-held`): EXCH2's stores, mounted after EXCH1's crash,
/// holding (together) the writes replicated before it; and the invariant that reads
/// it catches a loss of one of them (the read-back made to miss it), so
/// the library's runs passing it (`check`) is no vacuous pass.
fn replica_held_in_a_lan_failover() -> Result<(), Failed> {
    use drlab_drivers::EventKind;
    let run = lan_failover()?;
    let crash = run
        .events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::FaultInjected { fault, .. } if &**fault == "crash-host"))
        .ok_or("no crash")?
        .at;
    let read_back = run
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::ReadBack { .. }))
        .ok_or("no read-back")?;
    let mut held = drlab_drivers::SeqSet::new();
    for (i, e) in run.events.iter().enumerate() {
        let EventKind::ReplicaHeld {
            host,
            store,
            held_at,
            held: store_held,
        } = &e.kind
        else {
            continue;
        };
        if &**host != "EXCH2" || *held_at < crash || *held_at > e.at || i > read_back {
            return Err(format!(
                "replica-held {host} {store} at {held_at} (event {i} at {}): expected EXCH2 \
                 after the crash at {crash}, before the read-back (event {read_back})",
                e.at
            )
            .into());
        }
        held.union_with(store_held);
    }
    // Nearly every write acknowledged before the crash was replicated.
    let acked_before: Vec<u64> = run
        .events
        .iter()
        .filter(|e| e.at < crash)
        .filter_map(|e| match e.kind {
            EventKind::WriteAcked { seq, .. } => Some(seq),
            _ => None,
        })
        .collect();
    let replicated = acked_before.iter().filter(|q| held.contains(**q)).count();
    if acked_before.is_empty() || replicated + 5 < acked_before.len() {
        return Err(format!(
            "the replica held {replicated} of the {} writes acknowledged before the crash",
            acked_before.len()
        )
        .into());
    }
    let broken = |events: &[drlab_drivers::Event]| first_broken(events, "replicated-never-lost");
    if let Some(v) = broken(&run.events) {
        return Err(format!("replicated-never-lost broken: {}", v.what).into());
    }
    // Lose one replicated write after the fact: the invariant sees it.
    let victim = held.iter().next().ok_or("the replica held nothing")?;
    let mut events = run.events.clone();
    for e in &mut events {
        if let EventKind::ReadBack { held, .. } = &mut e.kind {
            held.remove(victim);
        }
    }
    match broken(&events) {
        Some(v) if v.what.starts_with(&format!("write {victim},")) => Ok(()),
        other => Err(format!("losing write {victim} was not caught: {other:?}").into()),
    }
}

/// The LAN failover records its service starts (`service-requested`), ten
/// on EXCH2 in postover.bat's order, and keeps the runbook order; made to
/// start the Information Store first (the first two calls' services
/// swapped after the fact), the same run breaks it, so the library's runs
/// passing it (`check`) is no vacuous pass.
fn runbook_order_in_a_lan_failover() -> Result<(), Failed> {
    use drlab_drivers::EventKind;
    let run = lan_failover()?;
    let broken = |events: &[drlab_drivers::Event]| first_broken(events, "runbook-order");
    if let Some(v) = broken(&run.events) {
        return Err(format!("runbook-order broken: {}", v.what).into());
    }
    let calls: Vec<usize> = (0..run.events.len())
        .filter(|&i| matches!(&run.events[i].kind, EventKind::ServiceRequested { host, .. } if &**host == "EXCH2"))
        .collect();
    if calls.len() != 10 {
        return Err(format!("{} service calls on EXCH2, not 10", calls.len()).into());
    }
    let mut events = run.events.clone();
    let (a, b) = (calls[0], calls[1]);
    let service = |e: &mut drlab_drivers::Event| match &mut e.kind {
        EventKind::ServiceRequested { service, .. } => Some(std::mem::take(service)),
        _ => None,
    };
    let (sa, is) = (service(&mut events[a]), service(&mut events[b]));
    for (i, svc) in [(a, is), (b, sa)] {
        if let EventKind::ServiceRequested { service, .. } = &mut events[i].kind {
            *service = svc.ok_or("no service")?;
        }
    }
    match broken(&events) {
        Some(v)
            if v.at_s == drlab_reports::secs(events[a].at.as_micros())
                && v.what.starts_with(
                    "MSExchangeIS started on EXCH2 before MSExchangeSA, which it requires, ran \
                     there: \"net start MSExchangeSA\" asked to start it",
                ) =>
        {
            Ok(())
        }
        other => Err(format!("starting IS first was not caught: {other:?}").into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = drlab_tests::library()
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|x| x.to_str())
                .unwrap_or("?")
                .to_string();
            Trial::test(format!("library::{name}"), move || check(&p))
        })
        .collect();
    trials.push(Trial::test(
        "replica_held::lan_failover",
        replica_held_in_a_lan_failover,
    ));
    trials.push(Trial::test(
        "runbook_order::lan_failover",
        runbook_order_in_a_lan_failover,
    ));
    libtest_mimic::run(&args, trials).exit();
}
