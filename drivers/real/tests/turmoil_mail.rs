//! The real SMTP submission, IMAP read-back and end-user probe under
//! network hardship, in-process: the clients talk to a small SMTP/IMAP
//! server (and, for the probe, a DNS server) on other hosts of a turmoil
//! simulation, through latency, held links, replies cut by a partition and
//! a server crash. Every duration is simulated time.
//!
//! What is asserted: connect and every exchange end within their limits; a
//! message whose final 250 after DATA never reaches the client is a
//! failure, never an acknowledgement (the server may still hold it: the
//! read-back sees it, which is why drlab counts acknowledged writes, not
//! stored ones, for RPO); a crash in the middle of DATA is a failure too,
//! and the client works again once the server is back.

mod turmoil_net;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_drivers::{ErrorKind, OpError, SeqSet};
use drlab_real::dns::message::to_record;
use drlab_real::dns::{CachePolicy, DnsLimits, Resolver};
use drlab_real::imap::{self, ImapError, ImapLimits, ImapSession, MailAccount, ProbeSpec};
use drlab_real::secret::Secret;
use drlab_real::smtp::{self, SmtpError, SmtpLimits, SmtpSession, WorkloadMessage};
use hickory_proto::op::{Message, MessageType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::Instant;
use turmoil_net::{TICK, TurmoilNet, assert_took, sim};

const SMTP_PORT: u16 = 25;
const IMAP_PORT: u16 = 143;
const SERVICE: &str = "exch1.drlab.test";
const HELO: &str = "client.drlab.test";

/// The mail server's state, shared with the test (its "disk" survives a
/// crash).
#[derive(Clone, Default)]
struct Mail {
    /// Workload sequence numbers (`None` for a probe) of the messages the
    /// server took responsibility for, in order.
    accepted: Arc<Mutex<Vec<Option<u64>>>>,
    /// The message whose data has arrived and is being committed (the
    /// server replies 5 ms later).
    committing: Arc<Mutex<Option<u64>>>,
    /// Records whose final 250 the server sends into a partition of the
    /// way back.
    cut_final_reply: Arc<Mutex<BTreeSet<u64>>>,
    /// Hold the link before answering RCPT TO (SMTP) or SELECT (IMAP).
    hold_before_rcpt: Arc<Mutex<bool>>,
    hold_before_select: Arc<Mutex<bool>>,
    /// SMTP connections accepted.
    sessions: Arc<Mutex<usize>>,
}

impl Mail {
    fn accepted_seqs(&self) -> BTreeSet<u64> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .copied()
            .collect()
    }

    /// Registers the server as host `mail` (SMTP and IMAP).
    fn install(&self, sim: &mut turmoil::Sim<'_>) {
        let me = self.clone();
        sim.host("mail", move || {
            let me = me.clone();
            async move {
                let any = |port| SocketAddr::from((IpAddr::from([0, 0, 0, 0]), port));
                let imap = turmoil::net::TcpListener::bind(any(IMAP_PORT)).await?;
                let imap_me = me.clone();
                tokio::spawn(async move {
                    while let Ok((s, _)) = imap.accept().await {
                        tokio::spawn(imap_session(imap_me.clone(), s));
                    }
                });
                let smtp = turmoil::net::TcpListener::bind(any(SMTP_PORT)).await?;
                loop {
                    let (s, _) = smtp.accept().await?;
                    *me.sessions.lock().unwrap() += 1;
                    tokio::spawn(smtp_session(me.clone(), s));
                }
            }
        });
    }
}

/// One SMTP session (RFC 5321, the subset the client speaks).
async fn smtp_session(me: Mail, s: turmoil::net::TcpStream) -> std::io::Result<()> {
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 mail.drlab.test ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            b"250-mail.drlab.test\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"
        } else if cmd.starts_with("MAIL FROM:") {
            b"250 2.1.0 Ok\r\n"
        } else if cmd.starts_with("RCPT TO:") {
            if *me.hold_before_rcpt.lock().unwrap() {
                turmoil::hold("mail", "client");
            }
            b"250 2.1.5 Ok\r\n"
        } else if cmd == "DATA" {
            w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.extend_from_slice(line.as_bytes());
            }
            let seq = smtp::parse_seq(&data);
            *me.committing.lock().unwrap() = seq;
            tokio::time::sleep(Duration::from_millis(5)).await;
            me.accepted.lock().unwrap().push(seq);
            if seq.is_some_and(|s| me.cut_final_reply.lock().unwrap().contains(&s)) {
                turmoil::partition_oneway("mail", "client");
            }
            b"250 2.0.0 Ok: queued\r\n"
        } else if cmd == "QUIT" {
            w.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 Error: command not recognized\r\n"
        };
        w.write_all(reply).await?;
    }
}

/// One IMAP session: LOGIN alice/secret, SELECT INBOX, UID FETCH of the
/// sequence header, LOGOUT (RFC 3501, the subset the client speaks).
async fn imap_session(me: Mail, s: turmoil::net::TcpStream) -> std::io::Result<()> {
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"* OK IMAP4rev1 ready\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let (tag, verb) = (words[0], words[1].to_ascii_uppercase());
        // every message; a probe has no sequence header
        let messages = me.accepted.lock().unwrap().clone();
        let reply = match verb.as_str() {
            // atoms or quoted strings (async-imap quotes every argument)
            "LOGIN"
                if words[2..]
                    .iter()
                    .map(|w| w.trim_matches('"'))
                    .eq(["alice", "secret"]) =>
            {
                format!("{tag} OK LOGIN done\r\n")
            }
            "LOGIN" => format!("{tag} NO [AUTHENTICATIONFAILED] bad login\r\n"),
            "SELECT" => {
                if *me.hold_before_select.lock().unwrap() {
                    turmoil::hold("mail", "client");
                }
                format!(
                    "* {} EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n{tag} OK [READ-WRITE] SELECT done\r\n",
                    messages.len()
                )
            }
            "UID" => {
                let mut out = String::new();
                for (i, seq) in messages.iter().enumerate() {
                    let field = match seq {
                        Some(seq) => format!("X-Drlab-Seq: {seq}\r\n\r\n"),
                        None => "\r\n".to_string(),
                    };
                    out += &format!(
                        "* {n} FETCH (UID {n} BODY[HEADER.FIELDS (X-DRLAB-SEQ)] {{{}}}\r\n{field})\r\n",
                        field.len(),
                        n = i + 1
                    );
                }
                out + &format!("{tag} OK FETCH done\r\n")
            }
            "LOGOUT" => format!("* BYE logging out\r\n{tag} OK LOGOUT done\r\n"),
            _ => format!("{tag} BAD unknown command\r\n"),
        };
        w.write_all(reply.as_bytes()).await?;
        if verb == "LOGOUT" {
            return Ok(());
        }
    }
}

/// A DNS server (host `dns`) answering every A query with the mail host's
/// address, TTL 60 s.
fn install_dns(sim: &mut turmoil::Sim<'_>) {
    sim.host("dns", || async {
        let udp = turmoil::net::UdpSocket::bind((IpAddr::from([0, 0, 0, 0]), 53)).await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = udp.recv_from(&mut buf).await?;
            let q = Message::from_vec(&buf[..n])?;
            let mut r = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
            r.add_queries(q.queries.clone());
            let rec = DnsRecord {
                name: SERVICE.into(),
                rtype: RecordType::A,
                data: turmoil::lookup("mail").to_string().into(),
                ttl_s: 60,
            };
            r.add_answer(to_record(&rec)?);
            udp.send_to(&r.to_vec()?, from).await?;
        }
    });
}

fn mail_addr(port: u16) -> SocketAddr {
    SocketAddr::new(turmoil::lookup("mail"), port)
}

const LIMITS: SmtpLimits = SmtpLimits {
    connect_timeout_ms: 400,
    exchange_timeout_ms: 300,
    data_timeout_ms: 1_500,
};

fn record(seq: u64) -> WorkloadMessage {
    WorkloadMessage {
        seq,
        bytes: 2048,
        from: "drlab@drlab.test".into(),
        to: "alice@drlab.test".into(),
        date_unix_s: 1_700_000_000,
        id_domain: "client.drlab.test".into(),
    }
}

async fn submit(seq: u64) -> Result<smtp::Reply, SmtpError> {
    smtp::submit_workload_via(
        &TurmoilNet,
        mail_addr(SMTP_PORT),
        "client.drlab.test",
        &record(seq),
        LIMITS,
    )
    .await
}

fn password() -> Secret {
    Secret::new("secret")
}

#[test]
fn a_final_reply_cut_by_a_partition_is_a_failure_not_an_ack() {
    let mut sim = sim(Duration::from_secs(30));
    let mail = Mail::default();
    mail.install(&mut sim);
    mail.cut_final_reply.lock().unwrap().insert(2);
    let state = mail.clone();
    sim.client("client", async move {
        let mut acked = BTreeSet::new();
        for seq in 1..=4 {
            let t0 = Instant::now();
            match submit(seq).await {
                Ok(r) => {
                    assert_eq!(r.code, 250);
                    acked.insert(seq);
                }
                Err(e) => {
                    // the message was written and taken by the server; the
                    // client waited its data limit for the 250, then failed
                    assert!(
                        matches!(
                            e,
                            SmtpError::Timeout {
                                stage: "DATA end",
                                after_ms: 1_500
                            }
                        ),
                        "{e}"
                    );
                    assert_took(t0.elapsed(), 1_500, 30, "the whole submission");
                    assert_eq!(OpError::from(e).kind(), ErrorKind::Timeout);
                    turmoil::repair("mail", "client");
                }
            }
        }
        assert_eq!(acked, BTreeSet::from([1, 3, 4]));
        let stored = state.accepted_seqs();
        assert_eq!(stored, BTreeSet::from([1, 2, 3, 4]));
        assert!(acked.is_subset(&stored), "an ack the server never gave");
        // the read-back sees the unacknowledged message the server kept
        let held = imap::read_back_via(
            &TurmoilNet,
            mail_addr(IMAP_PORT),
            "alice",
            &password(),
            ImapLimits::default(),
        )
        .await
        .unwrap();
        let want: SeqSet = [1, 2, 3, 4].into_iter().collect();
        assert_eq!(held, want);
        Ok(())
    });
    sim.run().unwrap();
}

/// One submission: the record, its result (the error's text) and how long
/// it took.
type Outcome = (u64, Result<(), String>, Duration);

#[test]
fn a_crash_during_data_is_a_failure_and_the_client_recovers_after_the_restart() {
    let mut sim = sim(Duration::from_secs(30));
    let mail = Mail::default();
    mail.install(&mut sim);
    let state = mail.clone();
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let out = outcomes.clone();
    sim.client("client", async move {
        for seq in 1..=3 {
            // after a failure, give the server time to come back
            let mut tries = 0;
            loop {
                let t0 = Instant::now();
                let r = submit(seq).await;
                let failed = r.is_err();
                out.lock().unwrap().push((
                    seq,
                    r.map(|_| ()).map_err(|e| e.to_string()),
                    t0.elapsed(),
                ));
                tries += 1;
                if !failed || tries == 20 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    });
    // step the simulation; crash the server while record 2 is being
    // committed (its data in, the 250 not yet sent), restart it 1 s later
    let mut crashed_at = None;
    let mut bounced = false;
    while !sim.step().unwrap() {
        if crashed_at.is_none() && *state.committing.lock().unwrap() == Some(2) {
            sim.crash("mail");
            crashed_at = Some(sim.elapsed());
        }
        if let Some(t) = crashed_at
            && !bounced
            && sim.elapsed() >= t + Duration::from_secs(1)
        {
            sim.bounce("mail");
            bounced = true;
        }
    }
    assert!(bounced, "the crash happened");
    let outcomes = outcomes.lock().unwrap().clone();
    let acked: BTreeSet<u64> = outcomes
        .iter()
        .filter(|o| o.1.is_ok())
        .map(|o| o.0)
        .collect();
    assert_eq!(acked, BTreeSet::from([1, 2, 3]), "{outcomes:#?}");
    // the first try of record 2 failed, within the data limit
    let first_2 = outcomes.iter().find(|o| o.0 == 2).unwrap();
    assert!(first_2.1.is_err(), "{outcomes:#?}");
    assert!(
        first_2.2 <= Duration::from_millis(1_500) + TICK * 30,
        "{first_2:?}"
    );
    // every failure in the restart window ended within the connect or
    // data limit
    for o in outcomes.iter().filter(|o| o.1.is_err()) {
        assert!(o.2 <= Duration::from_millis(1_500) + TICK * 30, "{o:?}");
    }
    // the crash lost the first copy of 2 before it was taken: every
    // acknowledged record is stored, each exactly once
    let stored = state.accepted.lock().unwrap().clone();
    assert_eq!(stored, [Some(1), Some(2), Some(3)], "{stored:?}");
}

#[test]
fn a_held_link_ends_connect_and_each_exchange_at_its_limit() {
    let mut sim = sim(Duration::from_secs(30));
    let mail = Mail::default();
    mail.install(&mut sim);
    let state = mail.clone();
    sim.client("client", async move {
        // connect: the SYN is held
        turmoil::hold("client", "mail");
        let t0 = Instant::now();
        let e = SmtpSession::connect_via(&TurmoilNet, mail_addr(SMTP_PORT), HELO, LIMITS)
            .await
            .expect_err("no connection through a held link");
        assert!(
            matches!(
                e,
                SmtpError::Timeout {
                    stage: "connect",
                    after_ms: 400
                }
            ),
            "{e}"
        );
        assert_took(t0.elapsed(), 400, 1, "connect");
        turmoil::release("client", "mail");
        tokio::time::sleep(Duration::from_millis(100)).await;

        // RCPT TO: the server holds the link before replying
        *state.hold_before_rcpt.lock().unwrap() = true;
        let mut s = SmtpSession::connect_via(&TurmoilNet, mail_addr(SMTP_PORT), HELO, LIMITS)
            .await
            .unwrap();
        let t0 = Instant::now();
        let e = s
            .send("drlab@drlab.test", "alice@drlab.test", b"x\r\n")
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                SmtpError::Timeout {
                    stage: "RCPT TO",
                    after_ms: 300
                }
            ),
            "{e}"
        );
        // MAIL FROM's round trip, then the RCPT limit
        assert_took(t0.elapsed(), 300, 6, "RCPT TO");
        assert!(state.accepted_seqs().is_empty());
        *state.hold_before_rcpt.lock().unwrap() = false;
        turmoil::release("mail", "client");
        drop(s);

        // IMAP SELECT: held likewise
        *state.hold_before_select.lock().unwrap() = true;
        let limits = ImapLimits {
            exchange_timeout_ms: 700,
            ..ImapLimits::default()
        };
        let mut s = ImapSession::connect_via(&TurmoilNet, mail_addr(IMAP_PORT), limits)
            .await
            .unwrap();
        s.login("alice", &password()).await.unwrap();
        let t0 = Instant::now();
        let e = s.select("INBOX").await.unwrap_err();
        assert!(
            matches!(
                e,
                ImapError::Timeout {
                    stage: "SELECT",
                    after_ms: 700
                }
            ),
            "{e}"
        );
        assert_took(t0.elapsed(), 700, 1, "SELECT");
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn latency_is_paid_per_round_trip_and_a_slow_exchange_times_out() {
    let mut sim = sim(Duration::from_secs(30));
    let mail = Mail::default();
    mail.install(&mut sim);
    let state = mail.clone();
    sim.client("client", async move {
        // 100 ms each way: every exchange (200 ms) is within its 300 ms
        let t0 = Instant::now();
        let r = submit(1).await.unwrap();
        assert_eq!(r.code, 250);
        // connect (the SYN one way; turmoil acknowledges it at once), the
        // greeting one way, then six round trips (EHLO, MAIL, RCPT, DATA,
        // data + 250, QUIT) and the server's 5 ms commit
        assert_took(t0.elapsed(), 1_405, 20, "the whole submission");
        Ok(())
    });
    sim.set_link_latency("client", "mail", Duration::from_millis(100));
    sim.run().unwrap();
    assert_eq!(mail.accepted_seqs(), BTreeSet::from([1]));

    // 200 ms each way: the greeting's half trip passes, EHLO's 400 ms
    // round trip does not
    let mut sim = turmoil_net::sim(Duration::from_secs(30));
    let mail = Mail::default();
    mail.install(&mut sim);
    sim.client("client", async move {
        let t0 = Instant::now();
        let e = submit(1).await.unwrap_err();
        assert!(
            matches!(
                e,
                SmtpError::Timeout {
                    stage: "EHLO",
                    after_ms: 300
                }
            ),
            "{e}"
        );
        // connect 200 + greeting 200 + the EHLO limit
        assert_took(t0.elapsed(), 700, 4, "to the EHLO timeout");
        Ok(())
    });
    sim.set_link_latency("client", "mail", Duration::from_millis(200));
    sim.run().unwrap();
    assert_eq!(*state.sessions.lock().unwrap(), 1);
    assert_eq!(*mail.sessions.lock().unwrap(), 1);
    assert!(mail.accepted_seqs().is_empty());
}

#[test]
fn the_probe_fails_while_the_server_is_down_and_passes_once_it_is_back() {
    let mut sim = sim(Duration::from_secs(60));
    let mail = Mail::default();
    mail.install(&mut sim);
    install_dns(&mut sim);
    let phase: Arc<Mutex<u8>> = Arc::default();
    let client_phase = phase.clone();
    sim.client("client", async move {
        let resolver = Resolver::with_net(
            TurmoilNet,
            SocketAddr::new(turmoil::lookup("dns"), 53),
            CachePolicy::HonourTtl,
            DnsLimits::default(),
        );
        let spec = ProbeSpec {
            service_name: SERVICE.into(),
            smtp_port: SMTP_PORT,
            imap_port: IMAP_PORT,
            from: "probe@drlab.test".into(),
            helo_name: "client.drlab.test".into(),
            account: MailAccount {
                address: "alice@drlab.test".into(),
                login: "alice".into(),
                password: password(),
            },
            smtp_limits: LIMITS,
            imap_limits: ImapLimits {
                exchange_timeout_ms: 300,
                ..ImapLimits::default()
            },
        };
        let ok = imap::probe(&resolver, &spec, 1).await.unwrap();
        assert_eq!(ok.addr, turmoil::lookup("mail"));
        assert!(!ok.from_cache);
        assert_eq!(ok.exists, 1, "the probe's own message");
        // the driver crashes the mail host now
        *client_phase.lock().unwrap() = 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t0 = Instant::now();
        let e = imap::probe(&resolver, &spec, 2).await.unwrap_err();
        assert!(t0.elapsed() <= Duration::from_millis(400) + TICK * 4, "{e}");
        assert!(
            matches!(
                OpError::from(e).kind(),
                ErrorKind::Refused | ErrorKind::Timeout | ErrorKind::Unreachable | ErrorKind::Io
            ),
            "a down server: refused, unreachable, cut or silent"
        );
        // the driver restarts it
        *client_phase.lock().unwrap() = 2;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ok = imap::probe(&resolver, &spec, 3).await.unwrap();
        assert!(ok.from_cache, "the name is still cached (TTL 60 s)");
        assert_eq!(ok.exists, 2);
        Ok(())
    });
    let mut done_phase = 0;
    while !sim.step().unwrap() {
        let p = *phase.lock().unwrap();
        if p == 1 && done_phase == 0 {
            sim.crash("mail");
            done_phase = 1;
        }
        if p == 2 && done_phase == 1 {
            sim.bounce("mail");
            done_phase = 2;
        }
    }
    assert_eq!(done_phase, 2);
}
