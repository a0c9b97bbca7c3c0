//! Behaviour of the simulator and the LAN failover runbook: each test
//! changes one parameter of the library scenario (or drives the backend
//! through the interface directly) and checks the consequence the source
//! documents predict.

use std::time::Duration;

use drlab_drivers::types::{DnsRecord, RecordType, StoreRef};
use drlab_drivers::{Clock, Directory as _, Dns as _, Replication as _, Workload as _};
use drlab_reports::Verdict;
use drlab_sim::{SimBackend, block_on, world::World};
use drlab_tests::{run, scenario, table, variant};

fn backend(stem: &str, seed: u64) -> (drlab_scenarios::Scenario, SimBackend) {
    let s = scenario(stem);
    let b = SimBackend::new(World::build(&s, seed));
    (s, b)
}

#[test]
fn detection_is_last_reply_plus_interval_times_missed() {
    for (interval, missed) in [(5.0, 5), (2.0, 3), (10.0, 2)] {
        let s = variant("lan-failover", |t| {
            let p = table(t, &["policy"]);
            p.insert("heartbeat_interval_s".into(), toml::Value::Float(interval));
            p.insert("missed_heartbeats".into(), toml::Value::Integer(missed));
        })
        .unwrap();
        let r = run(&s, 7);
        let b = r.rto_breakdown.expect("restored");
        // The crash lands 1 ms after the 120 s heartbeat was sent (0.5 ms
        // after its reply), so Time to Fail runs almost in full.
        let expect = interval * missed as f64 - 0.0005;
        assert!(
            (b.detection_s - expect).abs() < 0.002,
            "{interval}s x {missed}: detection {} expected {expect}",
            b.detection_s
        );
    }
}

#[test]
fn operator_response_is_the_decision_time() {
    let s = variant("lan-failover", |t| {
        table(t, &["policy"]).insert("operator_response_s".into(), toml::Value::Float(90.0));
    })
    .unwrap();
    let r = run(&s, 7);
    assert_eq!(r.rto_breakdown.unwrap().decision_s, 90.0);
    let auto = variant("lan-failover", |t| {
        let p = table(t, &["policy"]);
        p.insert("decision".into(), "autopilot".into());
        p.insert("autopilot_wait_s".into(), toml::Value::Float(0.0));
    })
    .unwrap();
    let r = run(&auto, 7);
    assert_eq!(r.rto_breakdown.unwrap().decision_s, 0.0);
    assert_eq!(r.decision, Some(drlab_drivers::event::Decision::Autopilot));
}

#[test]
fn information_store_before_system_attendant_fails_with_an_actionable_reason() {
    let s = variant("lan-failover", |t| {
        let order: Vec<toml::Value> = [
            "MSExchangeIS",
            "MSExchangeSA",
            "MSExchangeMTA",
            "POP3Svc",
            "IMAP4Svc",
            "MSExchangeMGMT",
            "RESvc",
            "MSExchangeES",
            "W3SVC",
            "SMTPSVC",
        ]
        .into_iter()
        .map(Into::into)
        .collect();
        table(t, &["runbook"]).insert("start_order".into(), toml::Value::Array(order));
    })
    .unwrap();
    let r = run(&s, 7);
    assert_eq!(r.verdict, Verdict::Fail);
    let why = r.reasons.join("; ");
    assert!(why.contains("net start MSExchangeIS"), "{why}");
    assert!(
        why.contains("requires MSExchangeSA, which is not ready"),
        "{why}"
    );
    assert!(r.rto_s.is_none(), "users must not be served");
}

#[test]
fn without_the_20s_waits_dependent_services_start_too_early() {
    // "Exchange services may return that they have started when in fact
    // they have not": with no wait, the IS finds SA not yet ready.
    let s = variant("lan-failover", |t| {
        let r = table(t, &["runbook"]);
        r.insert("service_wait_s".into(), toml::Value::Float(0.0));
        r.insert("start_attempts_max".into(), toml::Value::Integer(1));
    })
    .unwrap();
    let failing = (1..=20)
        .filter(|seed| run(&s, *seed).verdict == Verdict::Fail)
        .count();
    assert!(
        failing >= 15,
        "only {failing}/20 seeds failed without waits"
    );
}

#[test]
fn information_store_first_start_failures_are_retried() {
    let s = variant("lan-failover", |t| {
        table(t, &["timing", "services", "MSExchangeIS"]).insert(
            "first_start_failure_probability".into(),
            toml::Value::Float(1.0),
        );
    })
    .unwrap();
    let r = run(&s, 7);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    let is: Vec<&str> = r
        .steps
        .iter()
        .filter(|x| x.name.starts_with("net start MSExchangeIS"))
        .map(|x| x.outcome)
        .collect();
    assert_eq!(is, ["failed", "ok"]);
}

#[test]
fn impossible_objectives_fail_with_reasons() {
    let s = variant("lan-failover", |t| {
        table(t, &["objectives"]).insert("rto_s".into(), toml::Value::Float(1.0));
    })
    .unwrap();
    let r = run(&s, 7);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.reasons[0].contains("exceeds the objective of 1 s"),
        "{:?}",
        r.reasons
    );
}

#[test]
fn a_slow_replication_link_loses_the_queued_writes() {
    // 32 KiB every 200 ms is 1.3 Mbit/s; at 1 Mbit/s the queue grows, so the
    // crash strands the backlog on EXCH1.
    let s = variant("lan-failover", |t| {
        let sites = t
            .get_mut("sites")
            .and_then(toml::Value::as_array_mut)
            .unwrap();
        let lan = sites[0]
            .get_mut("lan")
            .and_then(toml::Value::as_table_mut)
            .unwrap();
        lan.insert("bandwidth_mbps".into(), toml::Value::Float(1.0));
    })
    .unwrap();
    let r = run(&s, 7);
    assert!(r.lost_writes > 100, "lost {}", r.lost_writes);
    assert_eq!(r.verdict, Verdict::Fail);
    let rpo = r.rpo_s.unwrap();
    // Writes queue for 120 s at a 1.31:1 overload: roughly a quarter of
    // the run is still queued at the crash.
    assert!(rpo > 20.0 && rpo < 40.0, "rpo {rpo}");
    assert_eq!(r.lost_bytes, r.lost_writes * 32768);
    // Every lost write is acknowledged and absent; none precedes the backlog.
    let first_lost = r.lost_seqs.iter().next().unwrap();
    let last_lost = r.lost_seqs.iter().last().unwrap();
    assert_eq!(
        last_lost - first_lost + 1,
        r.lost_writes,
        "lost writes are one contiguous tail"
    );
}

#[test]
fn different_seeds_give_different_traces_same_seed_the_same() {
    let s = scenario("lan-failover");
    let a = drlab_sim::run(&s, 1).unwrap();
    let b = drlab_sim::run(&s, 1).unwrap();
    let c = drlab_sim::run(&s, 2).unwrap();
    assert_eq!(a.events, b.events);
    let h = |r: &drlab_sim::SimRun| drlab_drivers::event::trace_hash(&r.events);
    assert_ne!(h(&a), h(&c));
}

#[test]
fn client_caches_honour_ttl_until_flushed() {
    let (_, b) = backend("lan-failover", 1);
    let name = "exch1.corp.example.com";
    block_on(
        b.clock(),
        async {
            let first = b.resolve("hq-users", name, RecordType::A).await.unwrap();
            assert_eq!(&*first[0].data, "10.0.0.11");
            let old = first[0].clone();
            b.delete_record("DC1", &old).await.unwrap();
            let new = DnsRecord {
                data: "10.0.0.12".into(),
                ..old.clone()
            };
            b.add_record("DC1", &new).await.unwrap();
            // The server answers the new address at once...
            let server = b.query_server("DC1", name, RecordType::A).await.unwrap();
            assert_eq!(&*server[0].data, "10.0.0.12");
            // ...the client keeps its cached answer until the TTL (1200 s) runs out.
            b.sleep(Duration::from_secs(1100)).await;
            let cached = b.resolve("hq-users", name, RecordType::A).await.unwrap();
            assert_eq!(&*cached[0].data, "10.0.0.11");
            b.sleep(Duration::from_secs(101)).await;
            let fresh = b.resolve("hq-users", name, RecordType::A).await.unwrap();
            assert_eq!(&*fresh[0].data, "10.0.0.12");
            // A flush forgets at once.
            b.delete_record("DC1", &new).await.unwrap();
            b.add_record("DC1", &old).await.unwrap();
            b.flush_cache("hq-users").await.unwrap();
            let flushed = b.resolve("hq-users", name, RecordType::A).await.unwrap();
            assert_eq!(&*flushed[0].data, "10.0.0.11");
        },
        1_000_000,
    )
    .unwrap();
}

#[test]
fn refused_dynamic_updates_are_an_error() {
    let s = variant("lan-failover", |t| {
        let zones = t
            .get_mut("dns")
            .and_then(|d| d.get_mut("zones"))
            .and_then(toml::Value::as_array_mut)
            .unwrap();
        zones[0]
            .as_table_mut()
            .unwrap()
            .insert("dynamic_updates".into(), toml::Value::Boolean(false));
    })
    .unwrap();
    let b = SimBackend::new(World::build(&s, 1));
    let rec = DnsRecord {
        name: "exch1.corp.example.com".into(),
        rtype: RecordType::A,
        data: "10.0.0.12".into(),
        ttl_s: 0,
    };
    let err = block_on(b.clock(), async { b.add_record("DC1", &rec).await }, 1000)
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("does not allow dynamic updates"),
        "{err}"
    );
}

#[test]
fn directory_changes_reach_other_controllers_after_the_delay_or_when_forced() {
    let s = variant("lan-failover", |t| {
        let hosts = t
            .get_mut("hosts")
            .and_then(toml::Value::as_array_mut)
            .unwrap();
        let mut dc2 = hosts[0].as_table().unwrap().clone();
        dc2.insert("name".into(), "DC2".into());
        dc2.insert("ip".into(), "10.0.0.20".into());
        hosts.push(toml::Value::Table(dc2));
        let d = table(t, &["domain"]);
        d.insert(
            "controllers".into(),
            toml::Value::Array(vec!["DC1".into(), "DC2".into()]),
        );
        d.insert("replication_delay_s".into(), toml::Value::Float(60.0));
    })
    .unwrap();
    let b = SimBackend::new(World::build(&s, 1));
    block_on(
        b.clock(),
        async {
            let store = StoreRef::new("Second Storage Group", "Sales");
            b.set_mailbox_home("DC1", "alice", "EXCH2", &store)
                .await
                .unwrap();
            let b = &b;
            let on = |dc: &'static str| async move {
                b.list_mailboxes(dc, "EXCH2").await.unwrap().len()
            };

            assert_eq!(on("DC1").await, 1);
            assert_eq!(on("DC2").await, 0, "not yet replicated");
            b.sleep(Duration::from_secs(61)).await;
            assert_eq!(on("DC2").await, 1, "replicated after the delay");
            b.set_mailbox_home("DC1", "bob", "EXCH2", &store)
                .await
                .unwrap();
            assert_eq!(on("DC2").await, 1);
            b.force_replication("DC1", "DC2").await.unwrap();
            assert_eq!(on("DC2").await, 2, "forced replication delivers at once");
        },
        1_000_000,
    )
    .unwrap();
}

#[test]
fn paused_replication_queues_and_drain_waits_for_the_idle_time() {
    let (_, b) = backend("lan-failover", 1);
    block_on(
        b.clock(),
        async {
            b.pause("EXCH1", "EXCH2").await.unwrap();
            for seq in 0..10 {
                b.write("hq-users", "exch1.corp.example.com", "alice", seq, 100_000)
                    .await
                    .unwrap();
            }
            let q = b.queue_status("EXCH1", "EXCH2").await.unwrap();
            assert_eq!(q.source_queued_items, 10);
            assert_eq!(q.source_queued_bytes, 1_000_000);
            assert!(b.read_back("EXCH2").await.unwrap().is_empty());
            b.resume("EXCH1", "EXCH2").await.unwrap();
            let start = b.now();
            let q = b
                .wait_drained(
                    "EXCH1",
                    "EXCH2",
                    Duration::from_secs(10),
                    Duration::from_secs(600),
                )
                .await
                .unwrap();
            assert!(q.is_drained());
            // 1 MB at 100 Mbit/s is 80 ms of transfer, then 10 s idle.
            let waited = b.now().since(start).as_secs_f64();
            assert!(waited > 10.0 && waited < 10.2, "waited {waited}");
            assert_eq!(b.read_back("EXCH2").await.unwrap().len(), 10);
        },
        1_000_000,
    )
    .unwrap();
}

/// The LAN failover's estate with a fixed server-side write time, so the
/// legs of one write are known: DNS (cached), 0.25 ms there, 2 ms of work,
/// 0.25 ms back.
fn fixed_write_backend() -> SimBackend {
    let s = variant("lan-failover", |t| {
        table(t, &["timing"]).insert("server_write_s".into(), toml::Value::Float(0.002));
    })
    .unwrap();
    SimBackend::new(World::build(&s, 1))
}

/// Writes seq 0 to warm the client's resolver cache, then returns how long
/// seq 1 took (request, work and reply).
async fn one_write_takes(b: &SimBackend) -> Duration {
    let w = |seq| b.write("hq-users", "exch1.corp.example.com", "alice", seq, 1000);
    w(0).await.unwrap();
    let start = b.now();
    w(1).await.unwrap();
    b.now().since(start)
}

/// Runs `op` with `fault` injected `after` it began; returns its result
/// and how long the client waited for it.
async fn faulted<T>(
    b: &SimBackend,
    op: impl std::future::Future<Output = drlab_drivers::caps::OpResult<T>>,
    after: Duration,
    fault: drlab_drivers::types::Fault,
) -> (drlab_drivers::caps::OpResult<T>, Duration) {
    use drlab_drivers::Faults as _;
    let start = b.now();
    let inject = async {
        b.sleep(after).await;
        b.inject(&fault).await.unwrap();
    };
    let (r, ()) = futures::future::join(async { (op.await, b.now()) }, inject).await;
    (r.0, r.1.since(start))
}

/// The partition between the users and EXCH1, or its heal.
fn cut(heal: bool) -> drlab_drivers::types::Fault {
    let (a, b) = ("hq-users".into(), "EXCH1".into());
    if heal {
        drlab_drivers::types::Fault::Heal { a, b }
    } else {
        drlab_drivers::types::Fault::Partition { a, b }
    }
}

/// Issue 12: an acknowledgement is a reply that arrived. A server that dies
/// after committing a write but before its reply reaches the client has
/// not acknowledged it: the client waits out its 5 s limit and gives up.
#[test]
fn a_reply_lost_to_a_crash_is_not_an_acknowledgement() {
    let b = fixed_write_backend();
    block_on(
        b.clock(),
        async {
            let took = one_write_takes(&b).await;
            let write = b.write("hq-users", "exch1.corp.example.com", "alice", 2, 1000);
            // 0.1 ms before the reply arrives: the write is committed.
            let crash = drlab_drivers::types::Fault::CrashHost {
                host: "EXCH1".into(),
            };
            let (acked, waited) =
                faulted(&b, write, took - Duration::from_micros(100), crash).await;
            assert!(acked.is_err(), "a reply from a crashed server arrived");
            assert_eq!(waited, Duration::from_secs(5), "the client's time limit");
        },
        1_000_000,
    )
    .unwrap();
}

/// The same for a partition: the write is committed on the server (it
/// reads back after the heal) but the client never saw the reply, so it is
/// neither acknowledged nor, later, counted as lost. (The old model routed
/// a write once, when it started, and acknowledged it across the cut.)
#[test]
fn a_reply_cut_off_by_a_partition_is_not_an_acknowledgement_but_was_committed() {
    use drlab_drivers::Faults as _;
    let b = fixed_write_backend();
    block_on(
        b.clock(),
        async {
            let took = one_write_takes(&b).await;
            let write = b.write("hq-users", "exch1.corp.example.com", "alice", 2, 1000);
            let (acked, _) =
                faulted(&b, write, took - Duration::from_micros(100), cut(false)).await;
            assert!(acked.is_err(), "a reply crossed a partition");
            b.inject(&cut(true)).await.unwrap();
            assert!(b.read_back("EXCH1").await.unwrap().contains(2), "committed");
            // A probe whose reply is cut (0.25 ms there, 0.25 ms back) is
            // no success either.
            let probe = b.probe("hq-users", "exch1.corp.example.com", "alice");
            let (probed, _) = faulted(&b, probe, Duration::from_micros(400), cut(false)).await;
            assert!(probed.is_err(), "a probe's reply crossed a partition");
        },
        1_000_000,
    )
    .unwrap();
}

/// Issue 12: replication follows the pairing, not list positions. EXCH2
/// lists its storage groups in the other order; alice's writes (First
/// Storage Group/Mailbox Store, `priv1.edb`) must land in EXCH2's
/// `priv1.edb` store, whatever its position, and nothing in Sales.
#[test]
fn replication_lands_in_the_store_of_the_same_database_file() {
    let s = variant("lan-failover", |t| {
        let groups = t["exchange"]["storage_groups"].as_array().unwrap().clone();
        let reversed: Vec<toml::Value> = groups.into_iter().rev().collect();
        let hosts = t.get_mut("hosts").unwrap().as_array_mut().unwrap();
        let exch2 = hosts
            .iter_mut()
            .find(|h| h["name"].as_str() == Some("EXCH2"))
            .unwrap();
        let x = exch2["exchange"].as_table_mut().unwrap();
        x.insert("storage_groups".into(), toml::Value::Array(reversed));
    })
    .unwrap();
    let b = SimBackend::new(World::build(&s, 1));
    block_on(
        b.clock(),
        async {
            for seq in 0..5 {
                b.write("hq-users", "exch1.corp.example.com", "alice", seq, 1000)
                    .await
                    .unwrap();
            }
            b.sleep(Duration::from_secs(5)).await;
            // Any interface call settles the flows.
            assert_eq!(b.read_back("EXCH2").await.unwrap().len(), 5);
        },
        1_000_000,
    )
    .unwrap();
    let w = b.world();
    let exch2 = w.hosts.iter().find(|h| &*h.name == "EXCH2").unwrap();
    let held = |file: &str| {
        let st = exch2.stores.iter().find(|st| &*st.file == file).unwrap();
        st.records.len()
    };
    assert_eq!(
        exch2.stores[0].file.as_ref(),
        "sales.edb",
        "the order is reversed"
    );
    assert_eq!(held("priv1.edb"), 5, "alice's store on the target");
    assert_eq!(
        held("sales.edb"),
        0,
        "nothing in the store at alice's list position"
    );
}
