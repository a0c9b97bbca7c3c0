//! The workload and the end-user probe against real Postfix and Dovecot:
//! sequence-numbered messages submitted over SMTP come back from IMAP as
//! exactly those sequence numbers (also at a scale of thousands), SMTP
//! dot-stuffing survives delivery, and the probe follows the service name
//! as the client's resolver caches it.

// tests report what they measured (timings) on stdout
#![allow(clippy::print_stdout)]

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_real::dns::{CachePolicy, DnsLimits, Resolver, Rfc2136Client};
use drlab_real::imap::{
    ImapError, ImapLimits, MailAccount, ProbeError, ProbeSpec, probe, read_back, write_through_name,
};
use drlab_real::secret::Secret;
use drlab_real::smtp::{self, SmtpError, SmtpLimits, WorkloadMessage, submit_workload};
use support::{Container, Net};

const DOMAIN: &str = "drlab.test";
const USER: &str = "alice";

struct Mail {
    c: Container,
    _net: Net,
    password: Secret,
}

fn start_mail_on(net: Net) -> Mail {
    let password = support::password();
    let c = Container::start_with_secrets(
        &net,
        "mail",
        "mail1",
        &[
            "-e",
            "MAIL_DOMAIN=drlab.test",
            "-e",
            "MAIL_USER=alice",
            "-e",
            "SSHD=0",
        ],
        &[("MAIL_PASSWORD", &password)],
    );
    c.wait_ready(60);
    Mail {
        c,
        _net: net,
        password: Secret::new(password),
    }
}

fn message(seq: u64, bytes: u32) -> WorkloadMessage {
    WorkloadMessage {
        seq,
        bytes,
        from: format!("drlab@{DOMAIN}"),
        to: format!("{USER}@{DOMAIN}"),
        date_unix_s: smtp::unix_now_s(),
        id_domain: "client.drlab.test".into(),
    }
}

#[tokio::test]
async fn smtp_workload_reads_back_exactly_over_imap() {
    let test = "smtp_workload_reads_back_exactly_over_imap";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let t0 = Instant::now();
    let m = start_mail_on(Net::new());
    let started = t0.elapsed();
    let smtp_at = SocketAddr::new(m.c.ip.into(), 25);
    let imap_at = SocketAddr::new(m.c.ip.into(), 143);

    // an empty mailbox reads back as the empty set
    let empty = read_back(imap_at, USER, &m.password, ImapLimits::default())
        .await
        .unwrap();
    assert!(empty.is_empty());

    // 200 acknowledged writes of 100 B, 4 KiB and 32 KiB, and a gap (seq 150 never written)
    let t = Instant::now();
    let mut acked = BTreeSet::new();
    for seq in (0..201u64).filter(|&s| s != 150) {
        let bytes = [100, 4096, 32 * 1024][(seq % 3) as usize];
        let ack = submit_workload(
            smtp_at,
            "client.drlab.test",
            &message(seq, bytes),
            SmtpLimits::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        assert_eq!(ack.code, 250);
        acked.insert(seq);
    }
    let submit_s = t.elapsed().as_secs_f64();

    // dot-stuffing: lines starting with '.' arrive unchanged
    let raw = b"From: <drlab@drlab.test>\r\nTo: <alice@drlab.test>\r\nSubject: dot test\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n";
    smtp::submit(
        smtp_at,
        "client.drlab.test",
        "drlab@drlab.test",
        "alice@drlab.test",
        raw,
        SmtpLimits::default(),
    )
    .await
    .unwrap();

    // a refused recipient (relaying to another domain is denied): the
    // server says no and nothing is acknowledged
    let e = submit_workload(
        smtp_at,
        "client.drlab.test",
        &WorkloadMessage {
            to: "someone@example.org".into(),
            ..message(9999, 100)
        },
        SmtpLimits::default(),
    )
    .await
    .unwrap_err();
    // (Debian's Postfix defers unauthorised relaying with 454; others say 554)
    assert!(
        matches!(e, SmtpError::Rejected { stage: "RCPT TO", code, .. } if code >= 400),
        "{e}"
    );
    println!("refused: {e}");

    // scale: 3000 more messages imported into the INBOX in one go, by
    // Dovecot, which locks the mbox against local(8)'s deliveries still
    // under way (mbox(5): each message opens with a From_ line)
    let t = Instant::now();
    let script = format!(
        "set -e; d=$(mktemp -d); for i in $(seq 10000 12999); do \
         printf 'From x@drlab.test  Thu Jan  1 00:00:00 2026\\nFrom: <x@drlab.test>\\nSubject: drlab %s\\nX-Drlab-Seq: %s\\n\\nbody %s\\n\\n' $i $i $i; \
         done > $d/inbox; chmod -R a+rX $d; \
         doveadm import -u {USER} mbox:$d:INBOX=$d/inbox:INDEX=MEMORY '' all; rm -rf $d"
    );
    m.c.exec(&["sh", "-c", &script], None).unwrap();
    let inject_s = t.elapsed().as_secs_f64();
    let mut expected = acked.clone();
    expected.extend(10_000..13_000u64);

    // local delivery is asynchronous: poll until everything acknowledged arrived
    let t = Instant::now();
    let got = support::eventually(30_000, 250, || async {
        let s = read_back(imap_at, USER, &m.password, ImapLimits::default())
            .await
            .ok()?;
        (s.len() >= expected.len() as u64).then_some(s)
    })
    .await
    .expect("not every acknowledged message arrived within 30 s");
    let got: BTreeSet<u64> = got.iter().collect();
    assert_eq!(
        got, expected,
        "read-back must be exactly the acknowledged sequence numbers"
    );
    assert!(!got.contains(&150) && !got.contains(&9999));
    let wait_s = t.elapsed().as_secs_f64();
    // one more read of the full mailbox, timed
    let t = Instant::now();
    let again = read_back(imap_at, USER, &m.password, ImapLimits::default())
        .await
        .unwrap();
    let fetch_ms = t.elapsed().as_millis();
    assert_eq!(again.len(), 3200);

    let stored =
        m.c.exec(
            &[
                "sh",
                "-c",
                // the body of the message whose header has the subject
                &format!(
                    "awk '/^From /{{h=1; w=0; next}} h && /^Subject: dot test/{{w=1}} \
                     h && /^$/{{h=0; next}} !h && w {{print}}' /srv/mail/{USER}/mbox"
                ),
            ],
            None,
        )
        .unwrap();
    // (mbox(5) ends each message with an empty line)
    let body = stored.trim_end_matches('\n');
    assert_eq!(
        body, ".hidden\n..two\n.\nend",
        "dot-stuffing must be undone by the server"
    );

    // a wrong password is refused without showing the password
    let wrong = Secret::new("not-the-password");
    let e = read_back(imap_at, USER, &wrong, ImapLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ImapError::No { stage: "LOGIN", .. }), "{e}");
    assert!(!format!("{e} {e:?}").contains("not-the-password"));
    println!(
        "{test}: mail host up in {:.1}s; 200 SMTP submissions in {submit_s:.1}s; 3000 messages imported in {inject_s:.1}s; \
delivery complete after {wait_s:.1}s; read-back of 3200 sequence numbers in {fetch_ms} ms; {:.1}s in all",
        started.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn probe_follows_the_service_name_through_the_client_cache() {
    let test = "probe_follows_the_service_name_through_the_client_cache";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let t0 = Instant::now();
    // BIND answers for lab.test; the service name exch1.lab.test points at the mail host
    let bind = support::start_bind();
    let m = start_mail_on(Net::new());
    // the mail host's network is not BIND's, so reach it from the test by address only
    let dns = Rfc2136Client {
        server: bind.addr,
        zone: support::BIND_ZONE.into(),
        key: Some(bind.key.clone()),
        limits: DnsLimits::default(),
    };
    const TTL_S: u32 = 2;
    let name = "exch1.lab.test";
    let a = |ip: String| DnsRecord {
        name: name.into(),
        rtype: RecordType::A,
        data: ip.into(),
        ttl_s: TTL_S,
    };
    dns.replace(&[a(m.c.ip.to_string())]).await.unwrap();
    let resolver = Resolver::new(bind.addr, CachePolicy::HonourTtl, DnsLimits::default());
    let spec = ProbeSpec {
        service_name: name.into(),
        smtp_port: 25,
        imap_port: 143,
        from: "probe@drlab.test".into(),
        helo_name: "client.drlab.test".into(),
        account: MailAccount {
            address: format!("{USER}@{DOMAIN}"),
            login: USER.into(),
            password: m.password.clone(),
        },
        smtp_limits: SmtpLimits {
            connect_timeout_ms: 1_000,
            ..SmtpLimits::default()
        },
        imap_limits: ImapLimits::default(),
    };
    let first = probe(&resolver, &spec, 1).await.unwrap();
    assert_eq!(first.addr, std::net::IpAddr::V4(m.c.ip));
    assert!(!first.from_cache);
    let expires_at = resolver
        .expires_at(name, RecordType::A)
        .expect("cached with a TTL");
    // the workload writes through the same name
    let (to, ack) = write_through_name(
        &resolver,
        name,
        25,
        "client.drlab.test",
        &message(7, 2048),
        SmtpLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!((to, ack.code), (std::net::IpAddr::V4(m.c.ip), 250));

    // the name moves to a host without mail service (BIND's own address)
    dns.replace(&[a(bind.c.ip.to_string())]).await.unwrap();
    // users keep reaching the old address while their cache holds it ...
    let second = probe(&resolver, &spec, 2).await.unwrap();
    assert!(second.from_cache);
    // ... and fail once it expires and they follow the name to the dead host
    let failed = support::eventually(5_000, 100, || async {
        probe(&resolver, &spec, 3).await.err()
    })
    .await
    .expect("the probe never followed the name");
    let failed_at = Instant::now();
    assert!(
        failed_at >= expires_at,
        "users must not see the move before their cache expires"
    );
    assert!(
        failed_at - expires_at < Duration::from_millis(1_500),
        "nor long after it"
    );
    let failed_after = Duration::from_secs(TTL_S.into()) + (failed_at - expires_at);
    // a write through the name now fails too: not acknowledged
    let lost = write_through_name(
        &resolver,
        name,
        25,
        "client.drlab.test",
        &message(8, 2048),
        SmtpLimits::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(lost, ProbeError::Smtp(SmtpError::Connect { .. })),
        "{lost}"
    );
    assert!(
        matches!(failed, ProbeError::Smtp(SmtpError::Connect { .. })),
        "{failed}"
    );

    // a wrong password fails at IMAP LOGIN without showing it
    dns.replace(&[a(m.c.ip.to_string())]).await.unwrap();
    resolver.flush();
    let bad = ProbeSpec {
        account: MailAccount {
            password: Secret::new("wrong-password-123"),
            ..spec.account.clone()
        },
        ..spec.clone()
    };
    let e = probe(&resolver, &bad, 4).await.unwrap_err();
    assert!(matches!(e, ProbeError::Imap(ImapError::No { .. })), "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-password-123"));
    // the read-back holds the acknowledged write only (probe messages are
    // not workload records, and write 8 was never acknowledged)
    let imap_at = SocketAddr::new(m.c.ip.into(), 143);
    let seqs = support::eventually(10_000, 200, || async {
        let s = read_back(imap_at, USER, &m.password, ImapLimits::default())
            .await
            .ok()?;
        (!s.is_empty()).then_some(s)
    })
    .await
    .expect("the acknowledged write never arrived");
    assert_eq!(seqs.iter().collect::<Vec<_>>(), [7]);
    println!(
        "{test}: probes ok through {name}; after the name moved, users failed {:.2}s after their lookup (TTL {TTL_S}s): {failed}; {:.1}s in all",
        failed_after.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}
