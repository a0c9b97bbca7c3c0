//! The real DNS clients under network hardship, in-process: queries, the
//! client resolver's cache and RFC 2136 updates talk to a small DNS server
//! on another host of a turmoil simulation, through latency, loss, held
//! and partitioned links and replies cut on their way back. Every duration
//! is simulated time, so the limits are checked to the tick.
//!
//! What is asserted: every exchange ends within its limit (UDP attempts ×
//! per-try timeout, or the TCP limit), retransmissions are bounded (counted
//! at the server), an update whose response is lost is an error even though
//! the server applied it, and the resolver's cache keeps an answer exactly
//! as long as its policy says (TTL, floor, never) counted from when the
//! delayed answer arrived.

mod turmoil_net;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_drivers::{ErrorKind, OpError};
use drlab_real::dns::client::{DnsLimits, query_via};
use drlab_real::dns::message::{from_record, to_record};
use drlab_real::dns::{CachePolicy, DnsError, Resolver, Rfc2136Client};
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::RecordType as HRecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use turmoil_net::{TICK, TurmoilNet, assert_took, sim, sim_ticking};

const NAME: &str = "exch1.drlab.test";
const PORT: u16 = 53;

/// What the in-process server does with each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Logs the request and never answers.
    Silent,
    /// Answers: an A record for a query, NOERROR for an update (applied).
    Answer,
    /// Applies and answers, but first partitions the way back to the
    /// client: the response is lost on the wire.
    CutReply,
    /// Answers over UDP with TC set; over TCP reads the request and never
    /// answers.
    TruncateThenSilentTcp,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    /// Simulated time of arrival.
    at: Duration,
    id: u16,
    op: OpCode,
    tcp: bool,
}

/// The server's state, shared with the test.
#[derive(Clone)]
struct Server {
    mode: Arc<Mutex<Mode>>,
    /// The address A queries are answered with, and its TTL.
    address: Arc<Mutex<(String, u32)>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Records added by the updates the server applied.
    applied: Arc<Mutex<Vec<DnsRecord>>>,
}

impl Server {
    fn new(mode: Mode) -> Server {
        Server {
            mode: Arc::new(Mutex::new(mode)),
            address: Arc::new(Mutex::new(("10.0.0.1".into(), 5))),
            seen: Arc::default(),
            applied: Arc::default(),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn set_address(&self, ip: &str) {
        self.address.lock().unwrap().0 = ip.into();
    }

    fn log(&self, q: &Message, tcp: bool) {
        self.seen.lock().unwrap().push(Seen {
            at: turmoil::sim_elapsed().expect("inside the simulation"),
            id: q.metadata.id,
            op: q.metadata.op_code,
            tcp,
        });
    }

    /// The response to `q` (applying an update).
    fn respond(&self, q: &Message, truncated: bool) -> Vec<u8> {
        let mut r = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
        r.add_queries(q.queries.clone());
        r.metadata.truncation = truncated;
        match q.metadata.op_code {
            OpCode::Query if !truncated => {
                let (ip, ttl_s) = self.address.lock().unwrap().clone();
                let name = q.queries[0].name().to_ascii();
                let rec = DnsRecord {
                    name: name.as_str().into(),
                    rtype: RecordType::A,
                    data: ip.as_str().into(),
                    ttl_s,
                };
                r.add_answer(to_record(&rec).unwrap());
            }
            OpCode::Update => {
                let mut applied = self.applied.lock().unwrap();
                applied.extend(q.authorities.iter().filter_map(from_record));
            }
            _ => {}
        }
        r.to_vec().unwrap()
    }

    /// Registers the server as host `dns` of `sim` (UDP and TCP port 53).
    fn install(&self, sim: &mut turmoil::Sim<'_>) {
        let me = self.clone();
        sim.host("dns", move || {
            let me = me.clone();
            async move {
                let any: SocketAddr = (IpAddr::from([0, 0, 0, 0]), PORT).into();
                let tcp = turmoil::net::TcpListener::bind(any).await?;
                let tcp_me = me.clone();
                tokio::spawn(async move {
                    while let Ok((mut s, _)) = tcp.accept().await {
                        let me = tcp_me.clone();
                        tokio::spawn(async move {
                            let Ok(n) = s.read_u16().await else { return };
                            let mut buf = vec![0u8; usize::from(n)];
                            if s.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            let q = Message::from_vec(&buf).unwrap();
                            me.log(&q, true);
                            if *me.mode.lock().unwrap() == Mode::TruncateThenSilentTcp {
                                // keep the connection open, never answer
                                std::future::pending::<()>().await;
                            }
                            let r = me.respond(&q, false);
                            let _ = s.write_all(&(r.len() as u16).to_be_bytes()).await;
                            let _ = s.write_all(&r).await;
                            std::future::pending::<()>().await;
                        });
                    }
                });
                let udp = turmoil::net::UdpSocket::bind(any).await?;
                let mut buf = vec![0u8; 4096];
                loop {
                    let (n, from) = udp.recv_from(&mut buf).await?;
                    let q = Message::from_vec(&buf[..n]).unwrap();
                    me.log(&q, false);
                    let mode = *me.mode.lock().unwrap();
                    let reply = match mode {
                        Mode::Silent => continue,
                        Mode::Answer => me.respond(&q, false),
                        Mode::CutReply => {
                            let r = me.respond(&q, false);
                            turmoil::partition_oneway("dns", "client");
                            r
                        }
                        Mode::TruncateThenSilentTcp => me.respond(&q, true),
                    };
                    udp.send_to(&reply, from).await?;
                }
            }
        });
    }
}

fn server_addr() -> SocketAddr {
    SocketAddr::new(turmoil::lookup("dns"), PORT)
}

fn limits(udp_timeout_ms: u64, udp_attempts: u32) -> DnsLimits {
    DnsLimits {
        udp_timeout_ms,
        udp_attempts,
        tcp_timeout_ms: 900,
        ..DnsLimits::default()
    }
}

fn a(ip: &str, ttl_s: u32) -> DnsRecord {
    DnsRecord {
        name: NAME.into(),
        rtype: RecordType::A,
        data: ip.into(),
        ttl_s,
    }
}

#[test]
fn an_unanswered_query_times_out_at_its_limit_after_exactly_its_attempts() {
    let mut sim = sim(Duration::from_secs(10));
    let server = Server::new(Mode::Silent);
    server.install(&mut sim);
    let seen = server.clone();
    sim.client("client", async move {
        let t0 = Instant::now();
        let e = query_via(
            &TurmoilNet,
            server_addr(),
            NAME,
            HRecordType::A,
            limits(400, 3),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, DnsError::Timeout { after_ms: 1200, .. }), "{e}");
        assert_took(t0.elapsed(), 1200, 1, "3 attempts of 400 ms");
        // what the lab backend reports: a timeout, not an I/O error
        assert_eq!(OpError::from(e).kind(), ErrorKind::Timeout);
        // nothing more is sent once the exchange has given up
        tokio::time::sleep(Duration::from_secs(3)).await;
        let log = seen.seen();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log.iter().all(|s| s.id == log[0].id && !s.tcp));
        for w in log.windows(2) {
            let gap = w[1].at - w[0].at;
            assert!(
                gap >= Duration::from_millis(400) && gap <= Duration::from_millis(400) + TICK * 2,
                "retransmission after {gap:?}"
            );
        }
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn a_held_link_times_out_and_its_released_queries_are_not_retried_again() {
    let mut sim = sim(Duration::from_secs(10));
    let server = Server::new(Mode::Answer);
    server.install(&mut sim);
    let seen = server.clone();
    sim.client("client", async move {
        turmoil::hold("client", "dns");
        let t0 = Instant::now();
        let e = query_via(
            &TurmoilNet,
            server_addr(),
            NAME,
            HRecordType::A,
            limits(250, 2),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, DnsError::Timeout { after_ms: 500, .. }), "{e}");
        assert_took(t0.elapsed(), 500, 1, "2 attempts of 250 ms");
        assert!(seen.seen().is_empty(), "nothing crosses a held link");
        // the held datagrams arrive late, are answered, and the answers
        // find no socket waiting: the client does not count them
        turmoil::release("client", "dns");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(seen.seen().len(), 2);
        let r = query_via(
            &TurmoilNet,
            server_addr(),
            NAME,
            HRecordType::A,
            limits(250, 2),
        )
        .await
        .unwrap();
        assert_eq!(&*r.answers[0].data, "10.0.0.1");
        assert_eq!(seen.seen().len(), 3, "one query, answered at once");
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn an_answer_slower_than_one_try_is_taken_in_the_retransmission_window() {
    let mut sim = sim(Duration::from_secs(20));
    let server = Server::new(Mode::Answer);
    server.install(&mut sim);
    let seen = server.clone();
    sim.client("client", async move {
        // one way 300 ms: the answer to the first try comes at 600 ms,
        // after its 500 ms timeout, while the second try waits; it
        // carries the same ID, so it is the answer
        let t0 = Instant::now();
        let r = query_via(
            &TurmoilNet,
            server_addr(),
            NAME,
            HRecordType::A,
            limits(500, 2),
        )
        .await
        .unwrap();
        assert_eq!(&*r.answers[0].data, "10.0.0.1");
        assert_took(t0.elapsed(), 600, 3, "the first answer's round trip");
        // the retransmission sent at 500 ms arrives at 800 ms, and no
        // third one follows
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(seen.seen().len(), 2, "one retransmission");
        // one try only: the slow answer is too late
        let t0 = Instant::now();
        let e = query_via(
            &TurmoilNet,
            server_addr(),
            NAME,
            HRecordType::A,
            limits(500, 1),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, DnsError::Timeout { after_ms: 500, .. }), "{e}");
        assert_took(t0.elapsed(), 500, 1, "one try");
        Ok(())
    });
    sim.set_link_latency("client", "dns", Duration::from_millis(300));
    sim.run().unwrap();
}

#[test]
fn on_a_lossy_link_every_query_ends_within_its_limit_with_bounded_retries() {
    const QUERIES: usize = 60;
    const ATTEMPTS: u32 = 3;
    const TRY_MS: u64 = 200;
    let mut sim = sim(Duration::from_secs(120));
    let server = Server::new(Mode::Answer);
    server.install(&mut sim);
    let seen = server.clone();
    let outcome = Arc::new(Mutex::new((0usize, 0usize)));
    let out = outcome.clone();
    // each query's span of simulated time: query ids are random, so two
    // of the 60 queries may share one; a query's datagrams are the ones
    // that arrived while it ran
    let spans = Arc::new(Mutex::new(Vec::new()));
    let spans_client = spans.clone();
    sim.client("client", async move {
        for _ in 0..QUERIES {
            let t0 = Instant::now();
            let start = turmoil::sim_elapsed().expect("inside the simulation");
            let r = query_via(
                &TurmoilNet,
                server_addr(),
                NAME,
                HRecordType::A,
                limits(TRY_MS, ATTEMPTS),
            )
            .await;
            let took = t0.elapsed();
            let end = turmoil::sim_elapsed().expect("inside the simulation");
            spans_client.lock().unwrap().push((start, end));
            assert!(
                took <= Duration::from_millis(TRY_MS * u64::from(ATTEMPTS)) + TICK,
                "a query took {took:?}"
            );
            let mut o = out.lock().unwrap();
            match r {
                Ok(r) => {
                    assert_eq!(&*r.answers[0].data, "10.0.0.1");
                    o.0 += 1;
                }
                Err(DnsError::Timeout { after_ms, .. }) => {
                    assert_eq!(after_ms, TRY_MS * u64::from(ATTEMPTS));
                    o.1 += 1;
                }
                Err(e) => panic!("unexpected error on a lossy link: {e}"),
            }
        }
        Ok(())
    });
    // 20 ms each way; each datagram is lost with probability 0.3
    sim.set_link_latency("client", "dns", Duration::from_millis(20));
    sim.set_link_fail_rate("client", "dns", 0.3);
    sim.run().unwrap();
    let (ok, timed_out) = *outcome.lock().unwrap();
    assert_eq!(ok + timed_out, QUERIES);
    let log = seen.seen();
    let spans = spans.lock().unwrap().clone();
    assert_eq!(spans.len(), QUERIES);
    // every datagram arrived while its query ran: the last try is sent
    // a whole try before the query gives up, and the link takes 20 ms
    let arrivals = |&(start, end): &(Duration, Duration)| {
        log.iter()
            .filter(|s| s.at >= start && s.at <= end)
            .collect::<Vec<_>>()
    };
    let per_query: Vec<_> = spans.iter().map(arrivals).collect();
    assert_eq!(
        per_query.iter().map(Vec::len).sum::<usize>(),
        log.len(),
        "a datagram arrived outside every query's span"
    );
    // retries bounded: no query reached the server more than ATTEMPTS
    // times, and each query's datagrams carry one id
    for (i, seen) in per_query.iter().enumerate() {
        assert!(
            seen.len() <= ATTEMPTS as usize,
            "query {i} arrived {} times",
            seen.len()
        );
        assert!(
            seen.windows(2).all(|w| w[0].id == w[1].id),
            "query {i} changed its id"
        );
    }
    // the loss was real (some retransmissions arrived) and mostly survived
    let reached = per_query.iter().filter(|s| !s.is_empty()).count();
    assert!(log.len() > reached, "no retransmission reached the server");
    assert!(ok > QUERIES / 2, "{ok} of {QUERIES} answered");
}

#[test]
fn a_truncated_answer_over_a_silent_tcp_server_times_out_at_the_tcp_limit() {
    let mut sim = sim(Duration::from_secs(10));
    let server = Server::new(Mode::TruncateThenSilentTcp);
    server.install(&mut sim);
    let seen = server.clone();
    sim.client("client", async move {
        let t0 = Instant::now();
        let e = query_via(
            &TurmoilNet,
            server_addr(),
            NAME,
            HRecordType::A,
            limits(300, 2),
        )
        .await
        .unwrap_err();
        match &e {
            DnsError::Timeout { what, after_ms, .. } => {
                assert!(what.ends_with("(TCP)"), "{what}");
                assert_eq!(*after_ms, 900);
            }
            other => panic!("want the TCP timeout, got {other}"),
        }
        // the UDP round trip is within a tick or two; then the TCP limit
        assert_took(t0.elapsed(), 900, 4, "the TCP exchange");
        let log = seen.seen();
        assert_eq!(
            log.iter().map(|s| s.tcp).collect::<Vec<_>>(),
            [false, true],
            "one UDP try answered (TC), one TCP request"
        );
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn an_update_whose_response_is_cut_is_an_error_although_the_server_applied_it() {
    let mut sim = sim(Duration::from_secs(10));
    let server = Server::new(Mode::CutReply);
    server.install(&mut sim);
    let state = server.clone();
    sim.client("client", async move {
        let client = Rfc2136Client {
            server: server_addr(),
            zone: "drlab.test".into(),
            key: None,
            limits: limits(300, 2),
        };
        let t0 = Instant::now();
        let e = client
            .via(TurmoilNet)
            .add(&a("10.0.0.2", 60))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, DnsError::Timeout { what, after_ms: 600, .. } if what == "update"),
            "{e}"
        );
        assert_took(t0.elapsed(), 600, 1, "2 attempts of 300 ms");
        // the server applied it (twice: the retransmission is the same
        // message), the client was never told so
        let log = state.seen();
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(
            log.iter()
                .all(|s| s.op == OpCode::Update && s.id == log[0].id)
        );
        assert_eq!(state.applied.lock().unwrap().len(), 2);
        // the way back repaired and the server answering, the same client
        // succeeds with one exchange
        *state.mode.lock().unwrap() = Mode::Answer;
        turmoil::repair("dns", "client");
        client
            .via(TurmoilNet)
            .replace(&[a("10.0.0.3", 60)])
            .await
            .unwrap();
        assert_eq!(state.seen().len(), 3);
        assert_eq!(&*state.applied.lock().unwrap()[2].data, "10.0.0.3");
        Ok(())
    });
    sim.run().unwrap();
}

/// Resolves `NAME` and returns (address, from_cache, when the call returned).
async fn resolve(r: &Resolver<TurmoilNet>) -> (String, bool, Instant) {
    let got = r.resolve(NAME, RecordType::A).await.unwrap();
    let ip = got.first_addr().expect("an address").to_string();
    (ip, got.from_cache, Instant::now())
}

/// Ticks of the cache simulations, which wait minutes of simulated time.
const CACHE_TICK: Duration = Duration::from_millis(10);

/// A resolver of `policy` asking the simulated server; the link has 100 ms
/// latency each way, so every answer arrives 200 ms after its question.
/// The server's record has TTL 5 s. After the first answer the server's
/// address changes to 10.0.0.2: what each lookup returns shows whether it
/// came from the cache, and the server's log counts the questions.
fn cache_sim(policy: CachePolicy, check: fn(Resolver<TurmoilNet>, Server) -> Checks) {
    let mut sim = sim_ticking(Duration::from_secs(200), CACHE_TICK);
    let server = Server::new(Mode::Answer);
    server.install(&mut sim);
    let s = server.clone();
    sim.client("client", async move {
        let r = Resolver::with_net(TurmoilNet, server_addr(), policy, limits(500, 2));
        check(r, s).await;
        Ok(())
    });
    sim.set_link_latency("client", "dns", Duration::from_millis(100));
    sim.run().unwrap();
}

type Checks = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// The first lookup: from the server, 200 ms after it was asked; then the
/// server changes its answer.
async fn first_lookup(r: &Resolver<TurmoilNet>, s: &Server) -> Instant {
    let t0 = Instant::now();
    let (ip, cached, at) = resolve(r).await;
    assert_eq!((ip.as_str(), cached), ("10.0.0.1", false));
    let took = at - t0;
    assert!(
        took >= Duration::from_millis(200) && took <= Duration::from_millis(200) + CACHE_TICK * 3,
        "the first answer after {took:?}"
    );
    assert_eq!(s.seen().len(), 1);
    s.set_address("10.0.0.2");
    at
}

#[test]
fn honour_ttl_keeps_the_delayed_answer_its_ttl_from_arrival() {
    cache_sim(CachePolicy::HonourTtl, |r, s| {
        Box::pin(async move {
            let got_at = first_lookup(&r, &s).await;
            // 5 s from arrival (5.2 s from the question): still cached
            tokio::time::sleep_until(got_at + Duration::from_millis(4_990)).await;
            assert_eq!(resolve(&r).await.0, "10.0.0.1");
            assert_eq!(s.seen().len(), 1, "a live answer asks nobody");
            tokio::time::sleep_until(got_at + Duration::from_secs(5)).await;
            let (ip, cached, _) = resolve(&r).await;
            assert_eq!((ip.as_str(), cached), ("10.0.0.2", false));
            assert_eq!(s.seen().len(), 2);
            // expired again while the server is unreachable: an error
            // within the limit, never the stale answer
            tokio::time::sleep(Duration::from_secs(6)).await;
            turmoil::partition("client", "dns");
            let t0 = Instant::now();
            let e = r.resolve(NAME, RecordType::A).await.unwrap_err();
            assert!(matches!(e, DnsError::Timeout { after_ms: 1000, .. }), "{e}");
            // timers fire at their instant whatever the tick
            assert_took(t0.elapsed(), 1000, 0, "2 attempts of 500 ms");
        })
    });
}

#[test]
fn min_ttl_holds_a_short_ttl_for_the_floor() {
    cache_sim(CachePolicy::MinTtl { floor_s: 30 }, |r, s| {
        Box::pin(async move {
            let got_at = first_lookup(&r, &s).await;
            // far beyond the 5 s TTL, within the 30 s floor
            tokio::time::sleep_until(got_at + Duration::from_millis(29_990)).await;
            let (ip, cached, _) = resolve(&r).await;
            assert_eq!((ip.as_str(), cached), ("10.0.0.1", true));
            assert_eq!(s.seen().len(), 1);
            tokio::time::sleep_until(got_at + Duration::from_secs(30)).await;
            let (ip, cached, _) = resolve(&r).await;
            assert_eq!((ip.as_str(), cached), ("10.0.0.2", false));
            assert_eq!(s.seen().len(), 2);
        })
    });
}

#[test]
fn never_expire_serves_the_first_answer_through_a_partition_until_flushed() {
    cache_sim(CachePolicy::NeverExpire, |r, s| {
        Box::pin(async move {
            let got_at = first_lookup(&r, &s).await;
            assert_eq!(r.expires_at(NAME, RecordType::A), None);
            turmoil::partition("client", "dns");
            for after_s in [6, 31, 120] {
                tokio::time::sleep_until(got_at + Duration::from_secs(after_s)).await;
                let (ip, cached, _) = resolve(&r).await;
                assert_eq!(
                    (ip.as_str(), cached),
                    ("10.0.0.1", true),
                    "after {after_s} s"
                );
            }
            assert_eq!(s.seen().len(), 1, "never asked again");
            // flushed, the next lookup asks (and the partition makes it
            // fail within its limit)
            r.flush();
            assert!(r.resolve(NAME, RecordType::A).await.is_err());
            turmoil::repair("client", "dns");
            let (ip, cached, _) = resolve(&r).await;
            assert_eq!((ip.as_str(), cached), ("10.0.0.2", false));
        })
    });
}

#[test]
fn serve_expired_answers_at_once_while_the_refresh_waits_on_a_held_link() {
    use drlab_real::dns::resolver::{CacheRules, Negative, Positive};
    let policy = CachePolicy::Rules(CacheRules {
        positive: Positive::HonourTtl,
        max_ttl_s: None,
        negative: Negative::None,
        serve_expired: Some(None),
    });
    cache_sim(policy, |r, s| {
        Box::pin(async move {
            let got_at = first_lookup(&r, &s).await;
            // expired, the server out of reach: the old answer at once, its
            // refresh (2 tries of 500 ms) held behind it
            tokio::time::sleep_until(got_at + Duration::from_secs(5)).await;
            turmoil::hold("client", "dns");
            let t0 = Instant::now();
            let (ip, cached, at) = resolve(&r).await;
            assert_eq!((ip.as_str(), cached), ("10.0.0.1", true));
            assert_eq!(at, t0, "served without waiting for the server");
            // the refresh gave up (1 s): the expired answer stays, and the
            // next lookup serves it again and sends one more refresh
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (ip, cached, _) = resolve(&r).await;
            assert_eq!((ip.as_str(), cached), ("10.0.0.1", true));
            assert_eq!(s.seen().len(), 1, "nothing crossed the held link");
            // released within the second refresh's first try: the held
            // questions arrive, the answer lands in the cache
            tokio::time::sleep(Duration::from_millis(200)).await;
            turmoil::release("client", "dns");
            tokio::time::sleep(Duration::from_millis(600)).await;
            let (ip, cached, _) = resolve(&r).await;
            assert_eq!((ip.as_str(), cached), ("10.0.0.2", true));
            // bounded: the first lookup, at most two tries per refresh
            let n = s.seen().len();
            assert!((2..=5).contains(&n), "{n} questions");
        })
    });
}
