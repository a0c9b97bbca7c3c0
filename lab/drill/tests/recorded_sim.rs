//! The drill journal and rollback, proved on the simulator: the library's
//! LAN failover runs through `Recorded` with a `JournalSink`; the journal
//! must list the runbook's actions in order with their outcomes, recording
//! must not change the trace, and a rollback must undo the failover as the
//! interface sees it, even from a journal torn by a crash. A journal that
//! cannot be written stops each action before it is performed.

use std::path::{Path, PathBuf};

use drlab_drill::journal::{self, Action, Performed, Phase};
use drlab_drill::recorded::{
    DrillHeader, JournalSink, Known, PlanSink, Recorded, RollbackReport, UndoResult, rollback,
};
use drlab_drivers::event::trace_hash;
use drlab_drivers::types::{ServiceState, StoreRef};
use drlab_drivers::{
    Clock, Directory, Event, EventKind, Faults, Hosts, MailStores, OpError, Recorder, Services,
    StepOutcome, Timestamp,
};
use drlab_scenarios::Scenario;
use drlab_scenarios::format::RunbookDef;
use drlab_sim::{POLLS_MAX, SimBackend, block_on};

const LAN: &str = "scenarios/library/lan-failover.toml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn scenario() -> Scenario {
    drlab_scenarios::load(&root().join(LAN)).unwrap()
}

fn header(s: &Scenario) -> DrillHeader {
    DrillHeader {
        scenario: s.scenario.name.clone(),
        scenario_file: LAN.into(),
        inventory_file: String::new(),
        lab: "sim".into(),
    }
}

fn sim(s: &Scenario, seed: u64) -> SimBackend {
    SimBackend::new(drlab_sim::world::World::build(s, seed))
}

/// Runs the drill of `s` on `b` through the journal at `path`.
fn journalled(b: &SimBackend, s: &Scenario, seed: u64, path: &Path) -> Vec<Event> {
    let rec = Recorder::with_capacity(4096);
    let sink = JournalSink::create(path, &header(s), b.now()).unwrap();
    {
        let r = Recorded::new(b, &sink, &rec, Known::from_scenario(s));
        block_on(
            b.clock(),
            drlab_scenarios::drill::run(&r, s, seed, &rec),
            POLLS_MAX,
        )
        .unwrap();
    }
    sink.finish(b.now(), "drill ended").unwrap();
    rec.into_events()
}

fn run<F: std::future::Future>(b: &SimBackend, f: F) -> F::Output {
    block_on(b.clock(), f, POLLS_MAX).unwrap()
}

fn start_order(s: &Scenario) -> Vec<String> {
    match &s.runbook {
        RunbookDef::LanFailover(p) => p.start_order.clone(),
        other => panic!("not a LAN failover: {other:?}"),
    }
}

/// Steps of the trace with their outcomes, in order.
fn trace_steps(events: &[Event]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepFinished { step, outcome } => {
                Some((step.to_string(), *outcome == StepOutcome::Ok))
            }
            _ => None,
        })
        .collect()
}

/// A seed whose Information Store fails its first start (the guide's retry).
fn seed_with_a_retry(s: &Scenario) -> u64 {
    (1..200)
        .find(|seed| {
            let run = drlab_sim::run(s, *seed).unwrap();
            trace_steps(&run.events)
                .iter()
                .any(|(step, ok)| step == "net start MSExchangeIS" && !ok)
        })
        .expect("the first start fails with probability 0.3")
}

fn check_journal_follows_the_runbook(s: &Scenario, events: &[Event], path: &Path) {
    let c = journal::read(path).unwrap();
    assert!(!c.torn_tail);
    assert!(c.ended());
    assert!(matches!(
        c.header(),
        Some(Phase::Drill { scenario, lab, .. }) if scenario == "lan-failover" && lab == "sim"
    ));
    let done = c.performed();
    assert!(
        done.iter().all(|p| p.succeeded.is_some()),
        "every outcome recorded"
    );

    // The crash comes first, outside any step; it is undone by powering on.
    let crash = &done[0];
    assert_eq!(
        crash.action,
        Action::Fault {
            fault: "crash-host".into(),
            target: "EXCH1".into(),
            link: None,
        }
    );
    assert_eq!(crash.step, None);
    assert_eq!(crash.succeeded, Some(true));
    assert_eq!(
        crash.undo,
        Some(Action::Repair {
            fault: "power-on".into(),
            target: "EXCH1".into()
        })
    );

    // Then the runbook, action by action, filed under its steps.
    let takeover = &done[1];
    assert_eq!(
        takeover.action,
        Action::TakeOverIdentity {
            from: "EXCH1".into(),
            to: "EXCH2".into(),
            ip: true,
            name: true
        }
    );
    assert_eq!(
        takeover.step.as_deref(),
        Some("fail over IP addresses and server name of EXCH1 to EXCH2")
    );
    let flags: Vec<&Performed> = done[2..5].iter().collect();
    for f in &flags {
        assert!(
            matches!(&f.action, Action::SetOverwrite { host, on: true, .. } if host == "EXCH2"),
            "{:?}",
            f.action
        );
        assert_eq!(
            f.step.as_deref(),
            Some("exchfailover -setup: overwrite flag on 3 stores")
        );
        assert!(matches!(
            &f.undo,
            Some(Action::SetOverwrite { on: false, .. })
        ));
    }

    // Each start in the guide's order; a failed first start of the
    // Information Store is journalled as failed, its retry as a new action.
    let starts: Vec<&Performed> = done
        .iter()
        .filter(|p| matches!(p.action, Action::StartService { .. }))
        .collect();
    let mut services: Vec<String> = Vec::new();
    for p in &starts {
        let Action::StartService { host, service } = &p.action else {
            unreachable!()
        };
        assert_eq!(host, "EXCH2");
        let step = p.step.as_deref().unwrap();
        assert!(step.starts_with(&format!("net start {service}")), "{step}");
        if services.last() != Some(service) {
            services.push(service.clone());
        }
    }
    assert_eq!(services, start_order(s));

    let mounts: Vec<(String, String)> = done
        .iter()
        .filter_map(|p| match &p.action {
            Action::MountStore { host, group, store } => {
                assert_eq!(host, "EXCH2");
                let st = format!("{group}/{store}");
                assert_eq!(p.step.as_deref(), Some(&*format!("mount {st} on EXCH2")));
                Some((group.clone(), store.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(mounts.len(), 3);

    let moves: Vec<&Performed> = done
        .iter()
        .filter(|p| matches!(p.action, Action::SetMailboxHome { .. }))
        .collect();
    assert_eq!(moves.len(), 4);
    for m in &moves {
        let Action::SetMailboxHome {
            server, previous, ..
        } = &m.action
        else {
            unreachable!()
        };
        assert_eq!(server, "EXCH2");
        assert_eq!(previous.as_ref().map(|p| p[0].as_str()), Some("EXCH1"));
        assert_eq!(
            m.step.as_deref(),
            Some("exchfailover -failover: move mailboxes EXCH1 -> EXCH2")
        );
    }
    assert_eq!(
        done.last().unwrap().action,
        moves[3].action,
        "moves come last"
    );

    // Read-only calls (heartbeats, drain waits, listings, writes, probes)
    // are not journalled: the actions above are all there is.
    assert_eq!(
        done.len(),
        1 + 1 + 3 + starts.len() + mounts.len() + moves.len()
    );

    // Journal and trace agree step by step: every step that made calls
    // ended as its last action did.
    let steps = trace_steps(events);
    let mut at = 0;
    for p in done.iter().filter(|p| p.step.is_some()) {
        let step = p.step.as_deref().unwrap();
        let i = steps[at..]
            .iter()
            .position(|(s, _)| s == step)
            .unwrap_or_else(|| panic!("step {step:?} out of order"));
        at += i;
        if !steps[at].1 {
            // A failed step failed at its last action.
            let last = done.iter().rfind(|q| q.step == p.step).unwrap();
            assert_eq!(last.succeeded, Some(false), "{step}");
        }
    }
}

#[test]
fn journalled_drill_lists_the_runbook_and_keeps_the_trace() {
    let s = scenario();
    let d = tempfile::tempdir().unwrap();
    for seed in [s.scenario.seed, seed_with_a_retry(&s)] {
        let path = d.path().join(format!("drill-{seed}.jsonl"));
        let b = sim(&s, seed);
        let events = journalled(&b, &s, seed, &path);
        // Recording changes nothing the drill does.
        let plain = drlab_sim::run(&s, seed).unwrap();
        assert_eq!(
            trace_hash(&events),
            trace_hash(&plain.events),
            "seed {seed}"
        );
        check_journal_follows_the_runbook(&s, &events, &path);
    }
}

#[test]
fn the_retried_start_is_journalled_as_failed_and_not_rolled_back() {
    let s = scenario();
    let seed = seed_with_a_retry(&s);
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("drill.jsonl");
    let b = sim(&s, seed);
    journalled(&b, &s, seed, &path);
    let c = journal::read(&path).unwrap();
    let is: Vec<Performed> = c
        .performed()
        .into_iter()
        .filter(|p| {
            matches!(&p.action, Action::StartService { service, .. } if service == "MSExchangeIS")
        })
        .collect();
    assert_eq!(is.len(), 2);
    assert_eq!(is[0].succeeded, Some(false));
    assert_eq!(is[0].step.as_deref(), Some("net start MSExchangeIS"));
    assert_eq!(is[1].succeeded, Some(true));
    assert_eq!(
        is[1].step.as_deref(),
        Some("net start MSExchangeIS (attempt 2)")
    );
    let plan: Vec<u64> = c.rollback_plan().iter().map(|p| p.n).collect();
    assert!(!plan.contains(&is[0].n) && plan.contains(&is[1].n));
}

/// Checks the failover is undone, through the interface.
fn check_rolled_back(s: &Scenario, b: &SimBackend, report: &RollbackReport) {
    assert_eq!(report.failures(), 0, "{:#?}", report.undos);
    assert!(report.undos.iter().all(|u| u.result == UndoResult::Done));
    // The crash is the oldest action, so its repair comes last.
    assert_eq!(
        report.undos.last().map(|u| &u.undo),
        Some(&Action::Repair {
            fault: "power-on".into(),
            target: "EXCH1".into()
        })
    );
    run(b, async {
        for svc in start_order(s) {
            assert_eq!(
                b.service_status("EXCH2", &svc).await.unwrap(),
                ServiceState::Stopped,
                "{svc} on EXCH2"
            );
        }
        for st in b.list_stores("EXCH2").await.unwrap() {
            assert!(!st.mounted, "{} still mounted on EXCH2", st.id);
            assert!(!st.overwrite_on_restore, "{} flag still set", st.id);
        }
        let mut home: Vec<String> = b
            .list_mailboxes("DC1", "EXCH1")
            .await
            .unwrap()
            .iter()
            .map(|m| m.name.to_string())
            .collect();
        home.sort();
        assert_eq!(home, ["alice", "bob", "carol", "dave"]);
        assert!(b.list_mailboxes("DC1", "EXCH2").await.unwrap().is_empty());
        // EXCH1 runs again: it answers heartbeats and its services start.
        b.ping("DC1", "EXCH1", std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            b.service_status("EXCH1", "MSExchangeIS").await.unwrap(),
            ServiceState::Running
        );
    });
    // The identity is back: EXCH1 holds its address again, EXCH2 only its own.
    let w = b.world();
    let ips = |n: &str| {
        let h = w.hosts.iter().find(|h| &*h.name == n).unwrap();
        h.ips.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    assert_eq!(ips("EXCH1"), ["10.0.0.11"]);
    assert_eq!(ips("EXCH2"), ["10.0.0.12"]);
}

#[test]
fn rollback_undoes_the_failover_newest_first() {
    let s = scenario();
    let seed = s.scenario.seed;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("drill.jsonl");
    let b = sim(&s, seed);
    journalled(&b, &s, seed, &path);

    // A dry run lists the plan and changes nothing.
    let before = std::fs::read(&path).unwrap();
    let dry = run(&b, rollback(&b, &path, true)).unwrap();
    assert!(dry.undos.iter().all(|u| u.result == UndoResult::Planned));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    run(&b, async {
        assert_eq!(
            b.service_status("EXCH2", "MSExchangeSA").await.unwrap(),
            ServiceState::Running
        );
    });
    let planned: Vec<u64> = dry.undos.iter().map(|u| u.done.n).collect();
    let mut sorted = planned.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(planned, sorted, "newest first");

    let report = run(&b, rollback(&b, &path, false)).unwrap();
    assert_eq!(
        report.undos.iter().map(|u| u.done.n).collect::<Vec<_>>(),
        planned
    );
    check_rolled_back(&s, &b, &report);

    // The journal records each undo; a second rollback has nothing to do.
    let c = journal::read(&path).unwrap();
    assert!(c.rollback_plan().is_empty());
    let undone = c
        .records
        .iter()
        .filter(|r| matches!(r.phase, Phase::Undone { .. }))
        .count();
    assert_eq!(undone, planned.len());
    let again = run(&b, rollback(&b, &path, false)).unwrap();
    assert!(again.undos.is_empty());
}

#[test]
fn a_drill_on_a_lab_an_earlier_drill_left_changed_is_refused_until_rolled_back() {
    let s = scenario();
    let seed = s.scenario.seed;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("drill.jsonl");
    let b = sim(&s, seed);
    journalled(&b, &s, seed, &path);
    // `header` names the lab "sim"; another lab's journals are not in the way
    drlab_drill::lab::check_rolled_back(d.path(), "other").unwrap();
    let e = drlab_drill::lab::check_rolled_back(d.path(), "sim").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("roll it back first: drlab drill rollback")
            && text.contains("drill.jsonl")
            && text.contains("IP takeover"),
        "{text}"
    );
    run(&b, rollback(&b, &path, false)).unwrap();
    drlab_drill::lab::check_rolled_back(d.path(), "sim").unwrap();
}

#[test]
fn a_journal_torn_by_a_crash_is_listed_and_rolled_back() {
    let s = scenario();
    let seed = s.scenario.seed;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("drill.jsonl");
    let b = sim(&s, seed);
    journalled(&b, &s, seed, &path);

    // The process died while writing the outcome of the last mailbox move:
    // no end record, and half a line.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.pop().unwrap().contains("\"phase\":\"end\""));
    let last = lines.pop().unwrap();
    assert!(last.contains("\"phase\":\"ok\""), "{last}");
    let torn = format!("{}\n{}", lines.join("\n"), &last[..last.len() / 2]);
    std::fs::write(&path, torn).unwrap();

    let c = journal::read(&path).unwrap();
    assert!(c.torn_tail && !c.ended());
    let done = c.performed();
    let last = done.last().unwrap();
    assert!(matches!(last.action, Action::SetMailboxHome { .. }));
    assert_eq!(last.succeeded, None, "outcome unknown");
    assert_eq!(
        c.rollback_plan()[0].n,
        last.n,
        "unknown outcomes are undone too"
    );

    let report = run(&b, rollback(&b, &path, false)).unwrap();
    assert!(report.torn_tail && !report.drill_ended);
    check_rolled_back(&s, &b, &report);
    // The torn line was cut before the undos were appended.
    let c = journal::read(&path).unwrap();
    assert!(!c.torn_tail);
    assert!(c.rollback_plan().is_empty());
}

#[test]
fn an_unwritable_journal_stops_each_action_before_it_is_performed() {
    let s = scenario();
    let d = tempfile::tempdir().unwrap();
    // A path under a regular file cannot be created, even by root.
    let file = d.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let path = file.join("drill.jsonl");
    assert!(JournalSink::create(&path, &header(&s), Timestamp::ZERO).is_err());

    let b = sim(&s, s.scenario.seed);
    let rec = Recorder::new();
    let sink = JournalSink::deferred(&path, &header(&s));
    let r = Recorded::new(&b, &sink, &rec, Known::from_scenario(&s));
    run(&b, async {
        let e = r.start_service("EXCH2", "MSExchangeSA").await.unwrap_err();
        assert!(matches!(e, OpError::Io { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("journal could not be written"), "{msg}");
        assert!(msg.contains("start MSExchangeSA on EXCH2"), "{msg}");
        let crash = drlab_drivers::types::Fault::CrashHost {
            host: "EXCH1".into(),
        };
        assert!(matches!(r.inject(&crash).await, Err(OpError::Io { .. })));
        let store = StoreRef::new("First Storage Group", "Mailbox Store");
        assert!(matches!(
            r.mount_store("EXCH2", &store).await,
            Err(OpError::Io { .. })
        ));
        // Nothing changed, as the interface sees it (read-only calls pass).
        assert_eq!(
            r.service_status("EXCH2", "MSExchangeSA").await.unwrap(),
            ServiceState::Stopped
        );
        assert!(!r.store_mounted("EXCH2", &store).await.unwrap());
        r.ping("DC1", "EXCH1", std::time::Duration::from_secs(5))
            .await
            .unwrap();
    });
    assert!(!path.exists());
    drop(r);
    assert!(sink.finish(b.now(), "drill ended").is_err());
}

#[test]
fn a_plan_sink_rehearses_the_drill_with_rendered_commands() {
    let s = scenario();
    let seed = s.scenario.seed;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("drill.jsonl");
    journalled(&sim(&s, seed), &s, seed, &path);

    let b = sim(&s, seed);
    let rec = Recorder::new();
    let plan = PlanSink::new(|a: &Action| match a {
        Action::StartService { host, service } => vec![format!("ssh {host} net start {service}")],
        _ => Vec::new(),
    });
    {
        let r = Recorded::new(&b, &plan, &rec, Known::from_scenario(&s));
        run(&b, drlab_scenarios::drill::run(&r, &s, seed, &rec));
    }
    let lines = plan.lines();
    let journalled: Vec<Action> = journal::read(&path)
        .unwrap()
        .performed()
        .into_iter()
        .map(|p| p.action)
        .collect();
    assert_eq!(
        lines.iter().map(|l| l.action.clone()).collect::<Vec<_>>(),
        journalled
    );
    let text = plan.render_text();
    assert!(
        text.contains("$ ssh EXCH2 net start MSExchangeSA"),
        "{text}"
    );
    assert!(text.contains("step: net start MSExchangeIS"), "{text}");
}

/// Each step of the trace with the times it started and finished.
fn step_spans(events: &[Event]) -> Vec<(String, Timestamp, Timestamp)> {
    let mut open: Vec<(String, Timestamp)> = Vec::new();
    let mut spans = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::StepStarted { step } => open.push((step.to_string(), e.at)),
            EventKind::StepFinished { step, .. } => {
                let i = open.iter().rposition(|(s, _)| **s == **step).unwrap();
                let (name, from) = open.remove(i);
                spans.push((name, from, e.at));
            }
            _ => {}
        }
    }
    spans.sort_by_key(|(_, from, _)| *from);
    spans
}

/// The fault schedule runs beside the runbook: a heal that lands while a
/// runbook step is open belongs to the schedule, not to that step, and the
/// runbook's own actions keep their steps.
#[test]
fn a_heal_during_a_runbook_step_is_filed_under_no_step() {
    let plain = scenario();
    let seed = plain.scenario.seed;
    let d = tempfile::tempdir().unwrap();
    let base_path = d.path().join("plain.jsonl");
    let base = journalled(&sim(&plain, seed), &plain, seed, &base_path);

    // A step of the runbook that takes a while: the heal lands in its middle.
    let (step, from, to) = step_spans(&base)
        .into_iter()
        .find(|(_, from, to)| to.0 - from.0 >= 2_000_000)
        .expect("the LAN failover has a step of 2 s or more");
    let heal_at = Timestamp(from.0 + (to.0 - from.0) / 2);
    let text = std::fs::read_to_string(root().join(LAN)).unwrap().replace(
        "\n[runbook]\n",
        &format!(
            "\n[[faults]]\nat_s = {}\nkind = \"heal\"\na = \"EXCH1\"\nb = \"DC1\"\n\n[runbook]\n",
            heal_at.0 as f64 / 1e6
        ),
    );
    let s = drlab_scenarios::parse(&root().join(LAN), &text).unwrap();
    assert_eq!(s.faults.len(), 2);

    let path = d.path().join("drill.jsonl");
    let events = journalled(&sim(&s, seed), &s, seed, &path);
    let healed = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::FaultInjected { fault, .. } if &**fault == "heal"))
        .expect("the heal was injected");
    assert!(
        step_spans(&events)
            .iter()
            .any(|(st, a, b)| *st == step && *a < healed.at && healed.at < *b),
        "the heal at {} lands inside step {step:?} ({from}..{to})",
        healed.at
    );

    let is_heal = |a: &Action| matches!(a, Action::Repair { fault, .. } if fault == "heal");
    let done = journal::read(&path).unwrap().performed();
    let heals: Vec<&Performed> = done.iter().filter(|p| is_heal(&p.action)).collect();
    assert_eq!(heals.len(), 1);
    assert_eq!(
        heals[0].step, None,
        "the fault schedule's heal is journalled under runbook step {:?}",
        heals[0].step
    );
    // Everything else is filed as it was without the heal.
    let filed = |done: &[Performed]| -> Vec<(Option<String>, Action)> {
        done.iter()
            .filter(|p| !is_heal(&p.action))
            .map(|p| (p.step.clone(), p.action.clone()))
            .collect()
    };
    assert_eq!(
        filed(&done),
        filed(&journal::read(&base_path).unwrap().performed())
    );
    assert!(
        done.iter()
            .filter(|p| !matches!(p.action, Action::Fault { .. } | Action::Repair { .. }))
            .all(|p| p.step.is_some()),
        "every runbook action has its step"
    );

    // The plan says the same.
    let b = sim(&s, seed);
    let rec = Recorder::new();
    let plan = PlanSink::new(|_: &Action| Vec::new());
    {
        let r = Recorded::new(&b, &plan, &rec, Known::from_scenario(&s));
        run(&b, drlab_scenarios::drill::run(&r, &s, seed, &rec));
    }
    let lines = plan.lines();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.step.clone(), l.action.clone()))
            .collect::<Vec<_>>(),
        done.iter()
            .map(|p| (p.step.clone(), p.action.clone()))
            .collect::<Vec<_>>()
    );
    // and does not show the heal under the step it interrupted
    let text = plan.render_text();
    let lines: Vec<&str> = text.lines().collect();
    let heal = lines
        .iter()
        .position(|l| l.contains("heal"))
        .expect("the plan lists the heal");
    assert!(lines[heal - 1].ends_with("step: (none)"), "{text}");
}
