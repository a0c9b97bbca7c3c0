//! The catalogue regression: every scenario in `scenarios/library/` is its
//! own test. Each must validate, run twice with the same seed to the same
//! trace hash, report the same when its events are folded as they are
//! recorded instead of kept, produce the verdict it expects, and match its
//! JSON and Markdown report snapshots, and its JSON report must read back
//! to the same bytes. Adding a file adds its test; no code changes.

use drlab_reports::Verdict;
use drlab_scenarios::format::Expect;
use libtest_mimic::{Arguments, Failed, Trial};

fn check(path: &std::path::Path) -> Result<(), Failed> {
    let s = drlab_scenarios::load(path).map_err(|e| e.to_string())?;
    let seed = s.scenario.seed;
    let first = drlab_sim::run(&s, seed).map_err(|e| e.to_string())?;
    let second = drlab_sim::run(&s, seed).map_err(|e| e.to_string())?;
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
    // The invariants explore checks hold on every library run; a
    // scenario expected to fail may fail the drill's own checks or
    // liveness, never the state machine or the step order.
    for v in drlab_reports::invariants::check(&first.events) {
        let allowed = expected == Verdict::Fail && matches!(v.invariant, "live" | "drill-checks");
        if !allowed {
            return Err(format!(
                "invariant {} broken at {} s: {}",
                v.invariant, v.at_s, v.what
            )
            .into());
        }
    }
    let stem = path
        .file_stem()
        .and_then(|x| x.to_str())
        .unwrap_or("scenario");
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

/// The simulator says what the replica held when it took over in a LAN
/// failover (`replica-held`): EXCH2's stores, mounted after EXCH1's crash,
/// holding (together) the writes replicated before it; and the invariant that reads
/// it catches a loss of one of them (the read-back made to miss it), so
/// the library's runs passing it (`check`) is no vacuous pass.
fn replica_held_in_a_lan_failover() -> Result<(), Failed> {
    use drlab_drivers::EventKind;
    let path = drlab_tests::root().join("scenarios/library/lan-failover.toml");
    let s = drlab_scenarios::load(&path).map_err(|e| e.to_string())?;
    let run = drlab_sim::run(&s, s.scenario.seed).map_err(|e| e.to_string())?;
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
    let broken = |events: &[drlab_drivers::Event]| {
        drlab_reports::invariants::check(events)
            .into_iter()
            .find(|v| v.invariant == "replicated-never-lost")
    };
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
    libtest_mimic::run(&args, trials).exit();
}
