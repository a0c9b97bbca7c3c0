//! Behaviour of the catalogue's DR runbooks (issue 3, items 1-5 and 11):
//! WAN failover with DNS propagation per resolver profile, failback and the
//! restore pitfall, the patent's two-site system (state machine, process
//! 300, switch-back, primary-site loss, planned maintenance, degraded user
//! access), Auto Pilot and AutoSync. Each test checks a consequence the
//! source documents predict.

use std::collections::BTreeSet;

use drlab_drivers::{DrState, EventKind, Transition};
use drlab_reports::{Report, Verdict};
use drlab_tests::{run, scenario, table, variant};

fn seeded(stem: &str) -> Report {
    let s = scenario(stem);
    run(&s, s.scenario.seed)
}

fn seeded_variant(stem: &str, edit: impl FnOnce(&mut toml::Table)) -> Report {
    let s = variant(stem, edit).unwrap_or_else(|e| panic!("{e}"));
    run(&s, s.scenario.seed)
}

fn client<'a>(r: &'a Report, name: &str) -> &'a drlab_reports::ClientLine {
    r.clients
        .iter()
        .find(|c| c.client == name)
        .unwrap_or_else(|| panic!("no client {name} in {:?}", r.clients))
}

fn step<'a>(r: &'a Report, prefix: &str) -> &'a drlab_reports::StepLine {
    r.steps
        .iter()
        .find(|s| s.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no step {prefix:?}"))
}

fn codes(r: &Report) -> Vec<u16> {
    r.states.iter().map(|s| s.code).collect()
}

fn push_fault(t: &mut toml::Table, fault: &[(&str, toml::Value)]) {
    let faults = t
        .entry("faults")
        .or_insert_with(|| toml::Value::Array(Vec::new()))
        .as_array_mut()
        .expect("faults is an array");
    let mut f = toml::Table::new();
    for (k, v) in fault {
        f.insert((*k).to_string(), v.clone());
    }
    faults.push(toml::Value::Table(f));
}

// ---- Item 1: WAN failover with DNS -------------------------------------

#[test]
fn wan_detection_is_five_missed_five_second_heartbeats() {
    let r = seeded("wan-failover");
    let b = r.rto_breakdown.expect("restored");
    assert_eq!(b.detection_s, 25.0, "{b:?}");
    assert_eq!(b.decision_s, 30.0);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
}

#[test]
fn wan_propagation_depends_on_each_resolver_profile() {
    let r = seeded("wan-failover");
    let (hq, branch, kiosk) = (
        client(&r, "hq-users"),
        client(&r, "branch-users"),
        client(&r, "kiosk-users"),
    );
    // honour-ttl: stale at most one TTL (300 s) after the change.
    let hq_stale = hq.stale_s.expect("redirected");
    assert!(hq_stale > 0.0 && hq_stale <= 300.0, "{hq_stale}");
    // min-ttl: up to the 900 s floor, longer than the TTL.
    let branch_stale = branch.stale_s.expect("redirected");
    assert!(
        branch_stale > hq_stale && branch_stale <= 900.0,
        "{branch_stale}"
    );
    // never-expire: redirected only by the flush, 60 s after the change.
    let kiosk_stale = kiosk.stale_s.expect("redirected by the flush");
    assert!((kiosk_stale - 60.0).abs() < 1.0, "{kiosk_stale}");
    // The measured RTO's propagation part is the workload client's staleness.
    let b = r.rto_breakdown.unwrap();
    assert!(b.propagation_s > 200.0, "{b:?}");

    // A shorter TTL shortens the honour-ttl population's propagation.
    let short = seeded_variant("wan-failover", |t| {
        let records = t
            .get_mut("dns")
            .and_then(|d| d.get_mut("records"))
            .and_then(toml::Value::as_array_mut)
            .unwrap();
        for r in records {
            r.as_table_mut()
                .unwrap()
                .insert("ttl_s".into(), toml::Value::Integer(30));
        }
    });
    let hq_short = client(&short, "hq-users").stale_s.unwrap();
    assert!(hq_short <= 30.0, "{hq_short}");
    assert!(
        short.rto_breakdown.unwrap().propagation_s < b.propagation_s,
        "propagation must shrink with the TTL"
    );
    // The floor still holds the branch users.
    assert!(client(&short, "branch-users").stale_s.unwrap() > 300.0);
}

#[test]
fn a_never_expiring_cache_never_recovers_unless_flushed() {
    let r = seeded("wan-failover-stale-cache");
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(client(&r, "kiosk-users").redirected_s.is_none());
    let why = r.reasons.join("; ");
    assert!(why.contains("kiosk-users"), "{why}");
    assert!(why.contains("ipconfig /flushdns"), "{why}");
    // The others recover by themselves.
    assert!(client(&r, "hq-users").redirected_s.is_some());
    assert!(client(&r, "branch-users").redirected_s.is_some());
}

#[test]
fn a_refused_dynamic_update_is_reported_with_its_zone() {
    let r = seeded("wan-failover-dns-refused");
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.rto_s.is_none(), "users cannot be redirected");
    let refused: Vec<_> = r
        .steps
        .iter()
        .filter(|s| s.outcome == "failed" && s.name.starts_with("dnscmd"))
        .collect();
    // Delete and add on the forward zone, on both DNS servers.
    assert_eq!(refused.len(), 4, "{refused:?}");
    for s in &refused {
        assert!(s.name.contains("corp.example.com"), "{}", s.name);
        let d = s.detail.as_deref().unwrap_or("");
        assert!(
            d.contains("zone corp.example.com does not allow dynamic updates"),
            "{d}"
        );
    }
    // The reverse zones accept the updates.
    assert!(
        r.steps
            .iter()
            .any(|s| s.name.contains("in-addr.arpa") && s.outcome == "ok")
    );
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("does not allow dynamic updates")),
        "{:?}",
        r.reasons
    );
}

// ---- Item 2: failback and the restore pitfall --------------------------

#[test]
fn the_restore_pitfall_is_detected_and_fails_the_drill() {
    let r = seeded("failback-restore-pitfall");
    assert_eq!(r.verdict, Verdict::Fail);
    let broken: Vec<&str> = r
        .alerts
        .iter()
        .map(|a| a.message.as_str())
        .filter(|m| m.starts_with("invariant broken"))
        .collect();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(
        broken[0].contains("only if backup copy is more recent"),
        "{}",
        broken[0]
    );
    assert!(broken[0].contains("disable the option"), "{}", broken[0]);
    // The skipped data is the mail written on EXCH2 during the outage.
    assert!(r.lost_writes > 1000, "lost {}", r.lost_writes);
    assert!(r.rpo_s.unwrap() > 60.0);
    // The console never claims the resync succeeded.
    assert_eq!(*codes(&r).last().unwrap(), DrState::ReSyncPrimary.code());
    let verify = step(&r, "verify the restore");
    assert_eq!(verify.outcome, "failed");
}

#[test]
fn the_correct_procedure_passes_and_returns_to_normal() {
    for stem in ["failback-original-source", "failback-alternate-order"] {
        let r = seeded(stem);
        assert_eq!(r.verdict, Verdict::Pass, "{stem}: {:?}", r.reasons);
        assert!(r.alerts.is_empty(), "{stem}: {:?}", r.alerts);
        assert_eq!(
            codes(&r),
            [202, 206, 210, 214, 218, 222, 226, 202],
            "{stem}"
        );
        // Only a write committed at the instant of the network cut, never
        // replicated, is overwritten by the restore.
        assert!(r.lost_writes <= 1, "{stem}: {}", r.lost_writes);
    }
}

#[test]
fn the_option_only_bites_when_the_source_was_stopped_last() {
    // Guide order (source stopped before the target) with the option left
    // on: the source's files are older, so everything is restored.
    let r = seeded_variant("failback-original-source", |t| {
        table(t, &["runbook"]).insert("only_if_backup_newer".into(), toml::Value::Boolean(true));
    });
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert!(
        step(&r, "[8-16] Restoration Manager")
            .name
            .contains("enabled")
    );
}

#[test]
fn failback_follows_the_preback_order_and_splits_public_folders() {
    let r = seeded("failback-original-source");
    let source_stops: Vec<&str> = r
        .steps
        .iter()
        .filter(|s| s.name.starts_with("[2] net stop"))
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(source_stops[0], "[2] net stop MSExchangeSA /y on EXCH1");
    assert_eq!(source_stops.len(), 8);
    let pos = |p: &str| {
        r.steps
            .iter()
            .position(|s| s.name.starts_with(p))
            .unwrap_or_else(|| panic!("{p}"))
    };
    assert!(pos("[2] net stop") < pos("[5] preback.bat: net stop"));
    assert!(pos("[5] preback.bat: exchfailover -failback -nopublicfolders") < pos("[8-16]"));
    assert!(pos("[8-16]") < pos("exchfailover -failback -onlypublicfolders"));
    assert!(pos("[6] reconnect EXCH1") < pos("[8-16]"));
    assert!(step(&r, "begin failure monitoring").outcome == "ok");
}

// ---- Items 3 and 11: the patent's two-site system ----------------------

#[test]
fn the_state_machine_is_covered_by_a_failover_switch_back_and_degraded_access() {
    let runs = [seeded("two-site-dr"), seeded("two-site-degraded-access")];
    let mut states = BTreeSet::new();
    let mut transitions = BTreeSet::new();
    for r in &runs {
        // Each trace is a legal path from Normal.
        let mut cur = DrState::Normal;
        assert_eq!(r.states[0].code, 202);
        for s in &r.states[1..] {
            let t = Transition::ALL
                .into_iter()
                .find(|t| Some(t.code()) == s.via)
                .expect("known transition");
            let next = t.apply(cur).expect("legal transition");
            assert_eq!(next.code(), s.code);
            states.insert(next.code());
            transitions.insert(t.code());
            cur = next;
        }
    }
    states.insert(202);
    assert_eq!(states.len(), 8, "{states:?}");
    assert_eq!(transitions.len(), 9, "{transitions:?}");
    assert_eq!(
        codes(&runs[0]),
        [202, 206, 210, 214, 218, 222, 226, 202],
        "failover and switch-back"
    );
    assert_eq!(
        codes(&runs[1]),
        [202, 232, 210, 214],
        "degraded user access"
    );
}

#[test]
fn the_patent_failover_takes_under_fifteen_minutes() {
    for stem in [
        "two-site-dr",
        "two-site-site-loss",
        "two-site-degraded-access",
        "two-site-planned-maintenance",
        "autopilot-failover",
    ] {
        let r = seeded(stem);
        let f = r
            .failover_s
            .unwrap_or_else(|| panic!("{stem}: no failover"));
        assert!(f < 900.0, "{stem}: {f}");
        assert_eq!(r.objectives.failover_s, Some(900.0));
        if let Some(b) = r.switch_back_s {
            assert!(b < 900.0, "{stem}: switch-back {b}");
        }
    }
}

#[test]
fn agents_report_every_thirty_seconds_and_detect_within_one_cycle() {
    let s = scenario("two-site-dr");
    let run = drlab_sim::run(&s, s.scenario.seed).unwrap();
    let reports: Vec<f64> = run
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::AgentReport { host, .. } if &**host == "EXCH2"))
        .map(|e| e.at.as_secs_f64())
        .collect();
    assert!(reports.len() >= 5);
    for w in reports.windows(2).take(4) {
        assert!((w[1] - w[0] - 30.0).abs() < 0.1, "{w:?}");
    }
    let r = Report::from_events(&run.events);
    // Crash at 120.1, after the 120 s round: the 150 s report is missing
    // (5 s report timeout).
    let d = r.rto_breakdown.unwrap().detection_s;
    assert!(d > 29.0 && d <= 35.1, "{d}");
}

#[test]
fn process_300_runs_in_the_patents_order_with_the_primary_available() {
    let r = seeded("two-site-degraded-access");
    let stops: Vec<&str> = r
        .steps
        .iter()
        .filter(|s| s.name.starts_with("308 net stop"))
        .map(|s| s.name.split(' ').nth(3).unwrap())
        .collect();
    assert_eq!(
        stops,
        [
            "POP3Svc",
            "IMAP4Svc",
            "MSExchangeMTA",
            "MSExchangeIS",
            "RESvc",
            "MSExchangeSA",
            "W3SVC",
            "IISADMIN"
        ]
    );
    let order = [
        "304 ",
        "306 ",
        "308 ",
        "310 send",
        "310 pause",
        "312 ",
        "314 ",
        "320 ",
        "322 ",
        "324a",
        "326a",
        "328a",
        "330a",
        "332 ",
        "334 ",
        "336 ",
        "338 ",
        "340 ",
        "342 ",
        "344 ",
        "346 ",
        "348 ",
        "358 ",
        "362 ",
        "366 ",
    ];
    let mut last = 0;
    for p in order {
        let i = r
            .steps
            .iter()
            .position(|s| s.name.starts_with(p))
            .unwrap_or_else(|| panic!("no step {p}"));
        assert!(i >= last, "{p} out of order");
        last = i;
    }
    assert_eq!(step(&r, "326a").name, "326a rename EXCH1 to EXCH1tmp");
    assert_eq!(step(&r, "326b").name, "326b rename EXCH2 to EXCH1");
    // The reverse session stays paused (368): nothing replicated back yet.
    assert_eq!(step(&r, "366 ").outcome, "skipped");
    assert_eq!(r.lost_writes, 0);
}

#[test]
fn with_the_primary_site_gone_its_steps_are_skipped() {
    let r = seeded("two-site-site-loss");
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    for p in [
        "306", "308", "310", "312", "324a", "326a", "328a", "330a", "332", "338", "340", "364",
    ] {
        let s = step(&r, p);
        assert_eq!(s.outcome, "skipped", "{}", s.name);
        assert!(s.detail.as_deref().unwrap_or("").contains("unavailable"));
    }
    // The DC1 records cannot change; DC2's can.
    assert_eq!(step(&r, "334/336 host records on DC1").outcome, "skipped");
    assert_eq!(step(&r, "334 on DC2").outcome, "ok");
    for p in ["324b", "326b", "328b", "330b", "342 ", "362 NS1"] {
        assert_eq!(step(&r, p).outcome, "ok", "{p}");
    }
}

#[test]
fn planned_maintenance_switches_over_and_back_without_data_loss() {
    let r = seeded("two-site-planned-maintenance");
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert_eq!(r.lost_writes, 0);
    assert_eq!(r.rpo_s, Some(0.0));
    assert_eq!(r.faults[0].fault, "planned-outage");
    assert_eq!(r.timeline.t0_s, Some(300.0));
    assert_eq!(
        codes(&r),
        [202, 206, 210, 214, 218, 222, 226, 202],
        "maintenance cycle"
    );
    assert!(r.switch_back_s.is_some());
    // The cached changes were sent back before the switch-back.
    assert_eq!(
        step(&r, "218 unpause replication EXCH2 -> EXCH1").outcome,
        "ok"
    );
}

#[test]
fn an_abort_at_the_confirmation_reverts_to_the_primary() {
    let r = seeded_variant("two-site-planned-maintenance", |t| {
        table(t, &["runbook"]).insert("confirmation".into(), "abort".into());
    });
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.reasons.iter().any(|x| x.contains("aborted")),
        "{:?}",
        r.reasons
    );
    assert!(r.steps.iter().any(|s| s.name.starts_with("318 revert")));
    // No step after the abort renames anything.
    assert!(!r.steps.iter().any(|s| s.name.starts_with("326")));
    // Figure 2 has no way back from Engaging Secondary: the console stays there.
    assert_eq!(*codes(&r).last().unwrap(), 210);
}

#[test]
fn a_confirmation_nobody_answers_times_out_after_ten_seconds() {
    let r = seeded_variant("two-site-degraded-access", |t| {
        table(t, &["runbook"]).insert("confirmation".into(), "timeout".into());
    });
    let s = step(&r, "314 ");
    assert!(s.name.contains("none within 10 s"), "{}", s.name);
    assert_eq!(s.duration_s, 10.0);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
}

#[test]
fn unmountable_replicas_go_through_soft_then_hard_recovery() {
    let r = seeded_variant("two-site-site-loss", |t| {
        push_fault(
            t,
            &[
                ("at_s", toml::Value::Float(130.0)),
                ("kind", "corrupt-store".into()),
                ("host", "EXCH2".into()),
                ("group", "First Storage Group".into()),
                ("store", "Mailboxes".into()),
            ],
        );
    });
    let seq: Vec<(&str, &str)> = r
        .steps
        .iter()
        .filter(|s| {
            s.name.contains("Mailboxes on EXCH2")
                && (s.name.contains("348 mount") || s.name.contains("recovery"))
        })
        .map(|s| (s.name.split(' ').next().unwrap(), s.outcome))
        .collect();
    assert_eq!(
        seq,
        [
            ("348", "failed"),
            ("348", "failed"),
            ("352", "failed"),
            ("356", "ok"),
            ("348", "ok")
        ]
    );
}

#[test]
fn unreachable_public_dns_servers_fail_the_failover() {
    let r = seeded_variant("two-site-site-loss", |t| {
        for ns in ["NS1", "NS2"] {
            push_fault(
                t,
                &[
                    ("at_s", toml::Value::Float(130.0)),
                    ("kind", "crash-host".into()),
                    ("host", ns.into()),
                ],
            );
        }
    });
    assert_eq!(r.verdict, Verdict::Fail);
    let why = r.reasons.join("; ");
    assert!(why.contains("360 failure switch-over failed"), "{why}");
    assert!(why.contains("no DNS server"), "{why}");
}

// ---- Item 4: Auto Pilot ------------------------------------------------

#[test]
fn autopilot_restarts_the_primary_and_does_not_fail_over() {
    let r = seeded("autopilot-restart");
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert_eq!(codes(&r), [202], "no failover");
    assert_eq!(r.decision, Some(drlab_drivers::event::Decision::Autopilot));
    assert_eq!(
        step(&r, "408 restart: net start MSExchangeIS").outcome,
        "ok"
    );
    assert_eq!(step(&r, "410").outcome, "ok");
    assert!(!r.steps.iter().any(|s| s.name.starts_with("304")));
}

#[test]
fn autopilot_fails_over_only_after_a_failed_restart_and_its_wait() {
    let r = seeded("autopilot-failover");
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert_eq!(step(&r, "410").outcome, "failed");
    let wait = step(&r, "400 Auto Pilot waits 60 s");
    assert_eq!(wait.duration_s, 60.0);
    assert!(step(&r, "314 ").name.contains("none within 10 s"));
    assert_eq!(codes(&r), [202, 206, 210, 214]);
    // Degrading Primary lasts exactly the configured wait.
    assert!((r.states[2].at_s - r.states[1].at_s - 60.0).abs() < 0.01);

    let quick = seeded_variant("autopilot-failover", |t| {
        table(t, &["policy"]).insert("autopilot_wait_s".into(), toml::Value::Float(0.0));
    });
    assert!(
        quick.rto_s.unwrap() < r.rto_s.unwrap() - 30.0,
        "{:?} vs {:?}",
        quick.rto_s,
        r.rto_s
    );
}

// ---- Item 5: AutoSync --------------------------------------------------

#[test]
fn autosync_establishes_pauses_and_unpauses() {
    let r = seeded("autosync");
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    assert_eq!(step(&r, "506").start_s, 0.0);
    assert_eq!(step(&r, "510").start_s, 300.0);
    assert_eq!(step(&r, "516").start_s, 600.0);
    assert_eq!(step(&r, "verify: EXCH2 holds").outcome, "ok");
}

#[test]
fn an_unpause_failure_raises_an_alert() {
    let r = seeded("autosync-unpause-failure");
    assert_eq!(step(&r, "516").outcome, "failed");
    assert_eq!(r.alerts.len(), 1, "{:?}", r.alerts);
    assert!(
        r.alerts[0]
            .message
            .contains("resuming data synchronization EXCH1 -> EXCH2 failed"),
        "{}",
        r.alerts[0].message
    );
    assert_eq!(r.alerts[0].at_s, 605.0);
}

#[test]
fn autosync_left_disabled_leaves_the_replica_behind() {
    let r = seeded_variant("autosync", |t| {
        let sched = table(t, &["runbook"])
            .get_mut("schedule")
            .and_then(toml::Value::as_array_mut)
            .unwrap();
        sched.truncate(1);
    });
    assert_eq!(r.verdict, Verdict::Fail);
    let why = r.reasons.join("; ");
    assert!(why.contains("the replica EXCH2 lacks"), "{why}");
}

// ---- Validation of the runbooks' parameters ----------------------------

#[test]
fn runbook_parameters_are_checked_against_the_estate() {
    let err = variant("wan-failover", |t| {
        let r = table(t, &["runbook"]);
        r.insert(
            "flush_clients".into(),
            toml::Value::Array(vec!["nobody".into()]),
        );
        r.insert(
            "dns_servers".into(),
            toml::Value::Array(vec!["EXCH2".into()]),
        );
    })
    .unwrap_err();
    assert!(
        err.contains("runbook.flush_clients[0]: unknown client \"nobody\""),
        "{err}"
    );
    assert!(err.contains("runbook.dns_servers[0]"), "{err}");

    let err = variant("two-site-dr", |t| {
        let r = table(t, &["runbook"]);
        r.insert("mount_attempts".into(), toml::Value::Integer(1));
        r.insert(
            "redirect_records".into(),
            toml::Value::Array(vec!["webmail.example.com".into()]),
        );
    })
    .unwrap_err();
    assert!(
        err.contains("runbook.mount_attempts: step 348 makes at least two"),
        "{err}"
    );
    assert!(
        err.contains("runbook.redirect_records: the users' name mail.example.com"),
        "{err}"
    );

    let err = variant("failback-original-source", |t| {
        let r = table(t, &["runbook"]);
        r.insert(
            "stop_order".into(),
            toml::Value::Array(vec!["MSExchangeXX".into()]),
        );
    })
    .unwrap_err();
    assert!(
        err.contains("runbook.stop_order[0]: unknown service"),
        "{err}"
    );

    let err = variant("autosync", |t| {
        table(t, &["runbook"]).insert("until_s".into(), toml::Value::Float(5000.0));
    })
    .unwrap_err();
    assert!(
        err.contains("runbook.until_s: monitoring must end before the horizon"),
        "{err}"
    );
}
