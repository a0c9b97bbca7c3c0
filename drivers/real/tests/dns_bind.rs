//! RFC 2136 dynamic updates signed with TSIG (RFC 8945) against a real
//! BIND 9 server, and client resolvers whose caches delay a change by its
//! TTL, as users see it. BIND runs in a container of the lab image with a
//! key generated for the test.

// tests report what they measured (timings) on stdout
#![allow(clippy::print_stdout)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_real::dns::{
    AddPrereq, CachePolicy, DnsError, DnsLimits, Resolver, Rfc2136Client, TsigAlgorithm, TsigKey,
    find_zone, query_records,
};
use drlab_real::secret::Secret;
use support::start_bind;

const ZONE: &str = support::BIND_ZONE;
const REVERSE_ZONE: &str = support::BIND_REVERSE_ZONE;
const KEY_NAME: &str = support::BIND_KEY_NAME;

fn rec(name: &str, rtype: RecordType, data: &str, ttl_s: u32) -> DnsRecord {
    DnsRecord {
        name: name.into(),
        rtype,
        data: data.into(),
        ttl_s,
    }
}

fn datas(v: &[DnsRecord]) -> Vec<String> {
    let mut d: Vec<String> = v.iter().map(|r| r.data.to_string()).collect();
    d.sort();
    d
}

#[tokio::test]
async fn rfc2136_updates_with_tsig_against_bind() {
    let test = "rfc2136_updates_with_tsig_against_bind";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let t0 = Instant::now();
    let b = start_bind();
    let started = t0.elapsed();
    let limits = DnsLimits::default();
    let signed = Rfc2136Client {
        server: b.addr,
        zone: ZONE.into(),
        key: Some(b.key.clone()),
        limits,
    };
    let q = |name: &'static str, t: RecordType| query_records(b.addr, name, t, limits);

    // add (signed): the server answers the new data at once
    signed
        .add(&rec("web1.lab.test", RecordType::A, "10.77.0.10", 60))
        .await
        .unwrap();
    signed
        .add(&rec("web1.lab.test", RecordType::A, "10.77.0.11", 60))
        .await
        .unwrap();
    assert_eq!(
        datas(&q("web1.lab.test", RecordType::A).await.unwrap()),
        ["10.77.0.10", "10.77.0.11"]
    );
    // adding a duplicate is silently ignored (RFC 2136 §2.5.1)
    signed
        .add(&rec("web1.lab.test", RecordType::A, "10.77.0.11", 60))
        .await
        .unwrap();
    assert_eq!(q("web1.lab.test", RecordType::A).await.unwrap().len(), 2);

    // delete one RR of the set
    signed
        .delete(&rec("web1.lab.test", RecordType::A, "10.77.0.10", 0))
        .await
        .unwrap();
    assert_eq!(
        datas(&q("web1.lab.test", RecordType::A).await.unwrap()),
        ["10.77.0.11"]
    );

    // replace the RRset atomically, with its TTL
    signed
        .replace(&[rec("web1.lab.test", RecordType::A, "10.77.0.20", 3)])
        .await
        .unwrap();
    let now = q("web1.lab.test", RecordType::A).await.unwrap();
    assert_eq!(
        (datas(&now), now[0].ttl_s),
        (vec!["10.77.0.20".to_string()], 3)
    );

    // MX (BIND's check-integrity refuses an MX whose in-zone target has no
    // address, so the target comes first), CNAME, and PTR in the reverse zone
    signed
        .add(&rec("mail1.lab.test", RecordType::A, "10.77.0.25", 60))
        .await
        .unwrap();
    signed
        .add(&rec(ZONE, RecordType::MX, "10 mail1.lab.test", 60))
        .await
        .unwrap();
    assert_eq!(
        datas(&q(ZONE, RecordType::MX).await.unwrap()),
        ["10 mail1.lab.test"]
    );
    let cname = rec("webmail.lab.test", RecordType::CNAME, "web1.lab.test", 60);
    signed
        .add_with(&cname, AddPrereq::NameUnused)
        .await
        .unwrap();
    assert_eq!(
        datas(&q("webmail.lab.test", RecordType::CNAME).await.unwrap()),
        ["web1.lab.test"]
    );
    let rev = Rfc2136Client {
        zone: REVERSE_ZONE.into(),
        ..signed.clone()
    };
    rev.add(&rec(
        "20.0.77.10.in-addr.arpa",
        RecordType::PTR,
        "web1.lab.test",
        60,
    ))
    .await
    .unwrap();
    assert_eq!(
        datas(&q("20.0.77.10.in-addr.arpa", RecordType::PTR).await.unwrap()),
        ["web1.lab.test"]
    );

    // prerequisites: create-only on an existing RRset fails with YXRRSET,
    // deleting from a missing RRset with NXRRSET
    let e = signed
        .add_with(
            &rec("web1.lab.test", RecordType::A, "10.77.0.99", 60),
            AddPrereq::RrsetAbsent,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DnsError::Prerequisite { rcode, .. } if rcode == "YXRRSET"),
        "{e}"
    );
    let e = signed
        .delete(&rec("nothing.lab.test", RecordType::A, "10.77.0.1", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DnsError::Prerequisite { rcode, .. } if rcode == "NXRRSET"),
        "{e}"
    );

    // refusals: unsigned, wrong secret (BADSIG), unknown key (BADKEY)
    let unsigned = Rfc2136Client {
        key: None,
        ..signed.clone()
    };
    let e = unsigned
        .add(&rec("evil.lab.test", RecordType::A, "10.66.0.1", 60))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DnsError::Refused { rcode, .. } if rcode == "REFUSED"),
        "{e}"
    );
    let wrong_secret = TsigKey::new(
        KEY_NAME,
        TsigAlgorithm::HmacSha256,
        Secret::new(support::base64(&[7u8; 32])),
    )
    .unwrap();
    let forged = Rfc2136Client {
        key: Some(wrong_secret),
        ..signed.clone()
    };
    let e = forged
        .add(&rec("evil.lab.test", RecordType::A, "10.66.0.1", 60))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DnsError::Refused { rcode, tsig_error: Some(t), .. } if rcode == "NOTAUTH" && t == "BADSIG"),
        "{e}"
    );
    println!("wrong key refused: {e}");
    let unknown = TsigKey::new(
        "other-key",
        TsigAlgorithm::HmacSha256,
        Secret::new(support::base64(&[7u8; 32])),
    )
    .unwrap();
    let e = Rfc2136Client {
        key: Some(unknown),
        ..signed.clone()
    }
    .add(&rec("evil.lab.test", RecordType::A, "10.66.0.1", 60))
    .await
    .unwrap_err();
    assert!(
        matches!(&e, DnsError::Refused { rcode, tsig_error: Some(t), .. } if rcode == "NOTAUTH" && t == "BADKEY"),
        "{e}"
    );
    // errors never show the key
    assert!(!format!("{e} {e:?} {:?} {signed:?}", b.key).contains(&b.secret_b64));
    assert!(
        q("evil.lab.test", RecordType::A).await.unwrap().is_empty(),
        "refused updates changed nothing"
    );

    // the zone of a name, found by an SOA query (RFC 2136 §4)
    assert_eq!(
        find_zone(b.addr, "web1.lab.test", limits).await.unwrap(),
        ZONE
    );
    assert_eq!(
        find_zone(b.addr, "20.0.77.10.in-addr.arpa", limits)
            .await
            .unwrap(),
        REVERSE_ZONE
    );

    // delete the whole RRset
    signed
        .delete_rrset("web1.lab.test", RecordType::A)
        .await
        .unwrap();
    assert!(q("web1.lab.test", RecordType::A).await.unwrap().is_empty());
    let log =
        b.c.exec(&["grep", "-c", "update", "/var/cache/bind/named.log"], None)
            .unwrap_or_default();
    println!(
        "{test}: BIND up in {:.1}s, updates checked in {:.1}s ({} update log lines)",
        started.as_secs_f64(),
        (t0.elapsed() - started).as_secs_f64(),
        log.trim()
    );
}

#[tokio::test]
async fn bind_change_reaches_clients_only_after_their_cache_ttl() {
    let test = "bind_change_reaches_clients_only_after_their_cache_ttl";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let b = start_bind();
    let limits = DnsLimits::default();
    let signed = Arc::new(Rfc2136Client {
        server: b.addr,
        zone: ZONE.into(),
        key: Some(b.key.clone()),
        limits,
    });
    const TTL_S: u32 = 2;
    const FLOOR_S: u32 = 4;
    // one name per policy, so that each change is seen by one resolver only
    for n in ["honour", "floor", "stale"] {
        signed
            .add(&rec(
                &format!("{n}.lab.test"),
                RecordType::A,
                "10.0.0.1",
                TTL_S,
            ))
            .await
            .unwrap();
    }
    let honour = Resolver::new(b.addr, CachePolicy::HonourTtl, limits);
    let floor = Resolver::new(b.addr, CachePolicy::MinTtl { floor_s: FLOOR_S }, limits);
    let stale = Resolver::new(b.addr, CachePolicy::NeverExpire, limits);
    let change = |n: &'static str| {
        let c = signed.clone();
        async move {
            let name = format!("{n}.lab.test");
            c.replace(&[rec(&name, RecordType::A, "10.0.0.2", TTL_S)])
                .await
                .unwrap();
            // the server answers the new data at once
            let now = query_records(c.server, &name, RecordType::A, c.limits)
                .await
                .unwrap();
            assert_eq!(datas(&now), ["10.0.0.2"]);
        }
    };
    let t0 = Instant::now();
    let (h, f, s) = tokio::join!(
        support::watch_change(
            &honour,
            "honour.lab.test",
            "10.0.0.1",
            "10.0.0.2",
            8_000,
            change("honour")
        ),
        support::watch_change(
            &floor,
            "floor.lab.test",
            "10.0.0.1",
            "10.0.0.2",
            8_000,
            change("floor")
        ),
        support::watch_change(
            &stale,
            "stale.lab.test",
            "10.0.0.1",
            "10.0.0.2",
            5_000,
            change("stale")
        ),
    );
    let h = h.expect("honour-ttl client never saw the change");
    let f = f.expect("min-ttl client never saw the change");
    let margin = Duration::from_millis(10);
    assert!(
        h.seen_after + margin >= Duration::from_secs(TTL_S.into()),
        "{h:?}"
    );
    assert!(
        h.seen_after < Duration::from_millis(u64::from(TTL_S) * 1000 + 600),
        "{h:?}"
    );
    assert!(
        f.seen_after + margin >= Duration::from_secs(FLOOR_S.into()),
        "{f:?}"
    );
    assert!(
        f.seen_after < Duration::from_millis(u64::from(FLOOR_S) * 1000 + 600),
        "{f:?}"
    );
    assert!(h.stale_lookups > 0 && f.stale_lookups > h.stale_lookups);
    assert!(
        s.is_none(),
        "a never-expire client must keep the old answer"
    );
    stale.flush();
    let after_flush = stale
        .resolve("stale.lab.test", RecordType::A)
        .await
        .unwrap();
    assert_eq!(
        after_flush.first_addr().map(|a| a.to_string()).as_deref(),
        Some("10.0.0.2")
    );
    println!(
        "{test}: honour-ttl saw the change after {:.2}s (TTL {TTL_S}s), min-ttl after {:.2}s (floor {FLOOR_S}s), \
never-expire kept the old answer for 5s until flushed; {:.1}s in all",
        h.seen_after.as_secs_f64(),
        f.seen_after.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}
