//! Active Directory and DNS drivers against a real Samba 4.17 AD DC: a
//! computer rename is visible in a fresh LDAP search, mailbox homes move
//! between servers, and a DNS change made with RFC 2136 (the lab DC allows
//! nonsecure updates) is answered by the DC at once but reaches a client
//! only after its cache TTL; the `samba-tool dns` fallback works with the
//! password on stdin. One DC serves the tests of this file.

// tests report what they measured (timings) on stdout
#![allow(clippy::print_stdout)]

mod support;

use std::time::{Duration, Instant};

use drlab_drivers::types::{DnsRecord, RecordType, StoreRef};
use drlab_real::dns::samba_tool::{self, SambaCredentials};
use drlab_real::dns::{CachePolicy, DnsError, DnsLimits, Resolver, Rfc2136Client, query_records};
use drlab_real::ldap::{AdClient, AdConfig, AdError, dn_eq};
use drlab_real::secret::Secret;
use support::Dc;

const REALM: &str = "DRLAB.TEST";
const DOMAIN: &str = "drlab.test";

fn config(dc: &Dc) -> AdConfig {
    AdConfig::lab(
        &format!("ldap://{}", dc.c.ip),
        &format!("Administrator@{REALM}"),
        dc.admin_password.clone(),
        DOMAIN,
    )
}

async fn fresh(dc: &Dc) -> AdClient {
    AdClient::connect(config(dc)).await.expect("bind")
}

/// `ldbsearch` on the DC's own database (a check independent of drlab's
/// client), with folded lines joined.
fn ldbsearch(dc: &Dc, filter: &str, attrs: &[&str]) -> String {
    let mut argv = vec!["ldbsearch", "-H", "/var/lib/samba/private/sam.ldb", filter];
    argv.extend_from_slice(attrs);
    // LDIF folds long lines (RFC 2849): a line starting with a space continues the previous one
    dc.c.exec(&argv, None)
        .expect("ldbsearch")
        .replace("\n ", "")
}

#[tokio::test]
async fn ldap_computer_rename_is_visible_in_a_fresh_search() {
    let test = "ldap_computer_rename_is_visible_in_a_fresh_search";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let dc = support::shared_dc();
    let t0 = Instant::now();

    let mut ad = fresh(&dc).await;
    let dn = ad.create_computer("EXCH1").await.unwrap();
    assert!(dn_eq(&dn, "CN=EXCH1,CN=Computers,DC=drlab,DC=test"), "{dn}");
    ad.create_computer("EXCH2").await.unwrap();
    assert!(ad.computer_exists("EXCH1").await.unwrap());
    assert!(matches!(
        ad.create_computer("EXCH1").await,
        Err(AdError::AlreadyExists { .. })
    ));
    let before = ad.computer("EXCH1").await.unwrap().unwrap();
    assert_eq!(before.sam_account_name, "EXCH1$");
    assert_eq!(before.dns_host_name.as_deref(), Some("EXCH1.drlab.test"));

    // the patent's rename: primary to <name>tmp ...
    let new_dn = ad.rename_computer("EXCH1", "EXCH1tmp").await.unwrap();
    assert!(
        dn_eq(&new_dn, "CN=EXCH1tmp,CN=Computers,DC=drlab,DC=test"),
        "{new_dn}"
    );
    ad.close().await.unwrap();

    // ... visible in a fresh search on a new connection
    let mut ad = fresh(&dc).await;
    let c = ad
        .computer("EXCH1tmp")
        .await
        .unwrap()
        .expect("renamed account");
    assert!(
        dn_eq(&c.dn, "CN=EXCH1tmp,CN=Computers,DC=drlab,DC=test"),
        "{}",
        c.dn
    );
    assert_eq!(c.sam_account_name, "EXCH1TMP$");
    assert_eq!(c.dns_host_name.as_deref(), Some("EXCH1tmp.drlab.test"));
    let mut spns = c.spns.clone();
    spns.sort();
    assert_eq!(
        spns,
        [
            "HOST/EXCH1tmp",
            "HOST/EXCH1tmp.drlab.test",
            "RestrictedKrbHost/EXCH1tmp",
            "RestrictedKrbHost/EXCH1tmp.drlab.test"
        ]
    );
    assert!(ad.computer("EXCH1").await.unwrap().is_none());
    // and in the DC's own database
    let own = ldbsearch(
        &dc,
        "(sAMAccountName=EXCH1TMP$)",
        &["dNSHostName", "servicePrincipalName"],
    );
    assert!(
        own.contains("dn: CN=EXCH1tmp,CN=Computers,DC=drlab,DC=test"),
        "{own}"
    );
    assert!(
        own.contains("servicePrincipalName: HOST/EXCH1tmp.drlab.test"),
        "{own}"
    );
    assert!(!own.contains("HOST/EXCH1.drlab.test"), "{own}");

    // ... then the secondary takes the primary's name
    ad.rename_computer("EXCH2", "EXCH1").await.unwrap();
    let mut ad2 = fresh(&dc).await;
    let c = ad2
        .computer("EXCH1")
        .await
        .unwrap()
        .expect("EXCH2 renamed to EXCH1");
    assert!(
        dn_eq(&c.dn, "CN=EXCH1,CN=Computers,DC=drlab,DC=test"),
        "{}",
        c.dn
    );
    assert!(c.spns.iter().any(|s| s == "HOST/EXCH1.drlab.test"));
    assert!(!ad2.computer_exists("EXCH2").await.unwrap());
    // renaming onto an existing name is refused
    assert!(matches!(
        ad2.rename_computer("EXCH1tmp", "EXCH1").await,
        Err(AdError::AlreadyExists { .. })
    ));

    // remove, and re-join (create) under the same name
    ad2.remove_computer("EXCH1tmp").await.unwrap();
    assert!(!fresh(&dc).await.computer_exists("EXCH1tmp").await.unwrap());
    assert!(matches!(
        ad2.remove_computer("EXCH1tmp").await,
        Err(AdError::NotFound { .. })
    ));
    ad2.create_computer("EXCH1tmp").await.unwrap();
    assert!(fresh(&dc).await.computer_exists("EXCH1tmp").await.unwrap());

    // a wrong password fails the bind and is never shown
    let mut bad = config(&dc);
    bad.password = Secret::new("Wrong-Passw0rd");
    let e = AdClient::connect(bad).await.err().expect("bind must fail");
    assert!(matches!(e, AdError::Bind { .. }), "{e}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("Wrong-Passw0rd") && !shown.contains(dc.admin_password.expose()));
    println!(
        "{test}: DC ready in {:.1}s (shared); LDAP checks {:.1}s; bind refusal: {e}",
        dc.startup.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn ldap_mailbox_homes_move_between_servers() {
    let test = "ldap_mailbox_homes_move_between_servers";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let dc = support::shared_dc();
    let t0 = Instant::now();
    let store =
        |server: &str| StoreRef::new("First Storage Group", format!("Mailbox Store ({server})"));

    let mut ad = fresh(&dc).await;
    for u in ["alice", "bob", "carol"] {
        ad.create_mailbox_user(u).await.unwrap();
    }
    ad.set_mailbox_home("alice", "MAILA", &store("MAILA"))
        .await
        .unwrap();
    ad.set_mailbox_home("bob", "MAILA", &store("MAILA"))
        .await
        .unwrap();
    ad.set_mailbox_home("carol", "MAILB", &store("MAILB"))
        .await
        .unwrap();
    let names = |v: Vec<drlab_drivers::types::MailboxInfo>| {
        v.iter().map(|m| m.name.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(
        names(ad.list_mailboxes("MAILA").await.unwrap()),
        ["alice", "bob"]
    );
    assert_eq!(
        names(ad.list_mailboxes("maila").await.unwrap()),
        ["alice", "bob"]
    );
    assert_eq!(names(ad.list_mailboxes("MAILB").await.unwrap()), ["carol"]);
    ad.close().await.unwrap();

    // failover moves every mailbox of MAILA to its paired store on MAILB
    let mut ad = fresh(&dc).await;
    for m in ad.list_mailboxes("MAILA").await.unwrap() {
        assert_eq!(m.store, store("MAILA"));
        ad.set_mailbox_home(&m.name, "MAILB", &store("MAILB"))
            .await
            .unwrap();
    }
    let mut ad = fresh(&dc).await;
    assert!(ad.list_mailboxes("MAILA").await.unwrap().is_empty());
    assert_eq!(
        names(ad.list_mailboxes("MAILB").await.unwrap()),
        ["alice", "bob", "carol"]
    );
    let home = ad.mailbox_home("alice").await.unwrap().unwrap();
    assert_eq!(
        (&*home.server, home.store.clone()),
        ("MAILB", store("MAILB"))
    );
    // the store entries exist where Exchange keeps them
    let own = ldbsearch(&dc, "(sAMAccountName=alice)", &["seeAlso"]);
    assert!(
        own.contains("seeAlso: CN=Mailbox Store (MAILB),CN=First Storage Group,CN=InformationStore,CN=MAILB,CN=Servers,"),
        "{own}"
    );
    assert!(matches!(
        ad.mailbox_home("nobody").await,
        Err(AdError::NotFound { .. })
    ));

    // listing pages through more entries than one page holds (page size 500)
    let t = Instant::now();
    let many = 520;
    for i in 0..many {
        let u = format!("user{i:04}");
        ad.create_mailbox_user(&u).await.unwrap();
        ad.set_mailbox_home(&u, "MAILC", &store("MAILC"))
            .await
            .unwrap();
    }
    let created_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let listed = fresh(&dc).await.list_mailboxes("MAILC").await.unwrap();
    assert_eq!(listed.len(), many);
    println!(
        "{test}: homes moved and listed; {many} users created and homed in {created_s:.1}s, \
listed in {} ms (paged); {:.1}s in all",
        t.elapsed().as_millis(),
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn samba_dns_change_reaches_client_after_its_ttl() {
    let test = "samba_dns_change_reaches_client_after_its_ttl";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let dc = support::shared_dc();
    let t0 = Instant::now();
    let server = std::net::SocketAddr::new(dc.c.ip.into(), 53);
    let limits = DnsLimits::default();
    let dns = Rfc2136Client {
        server,
        zone: DOMAIN.into(),
        key: None,
        limits,
    };
    const TTL_S: u32 = 2;
    let a = |name: &str, ip: &str, ttl_s| DnsRecord {
        name: name.into(),
        rtype: RecordType::A,
        data: ip.into(),
        ttl_s,
    };

    // RFC 2136 (unsigned; the lab DC has `allow dns updates = nonsecure`)
    dns.add(&a("exch1.drlab.test", "10.77.0.10", TTL_S))
        .await
        .unwrap();
    let now = query_records(server, "exch1.drlab.test", RecordType::A, limits)
        .await
        .unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!((&*now[0].data, now[0].ttl_s), ("10.77.0.10", TTL_S));

    // the name moves: the DC answers at once, the client after its TTL
    let resolver = Resolver::new(server, CachePolicy::HonourTtl, limits);
    let moved = async {
        dns.replace(&[a("exch1.drlab.test", "10.77.0.11", TTL_S)])
            .await
            .unwrap();
        let now = query_records(server, "exch1.drlab.test", RecordType::A, limits)
            .await
            .unwrap();
        assert_eq!(
            now.iter().map(|r| &*r.data).collect::<Vec<_>>(),
            ["10.77.0.11"]
        );
    };
    let p = support::watch_change(
        &resolver,
        "exch1.drlab.test",
        "10.77.0.10",
        "10.77.0.11",
        6_000,
        moved,
    )
    .await
    .expect("the client never saw the change");
    assert!(
        p.seen_after + Duration::from_millis(10) >= Duration::from_secs(TTL_S.into()),
        "{p:?}"
    );
    assert!(
        p.seen_after < Duration::from_millis(u64::from(TTL_S) * 1000 + 600),
        "{p:?}"
    );
    assert!(p.stale_lookups > 0);

    // delete one record
    dns.delete(&a("exch1.drlab.test", "10.77.0.11", 0))
        .await
        .unwrap();
    assert!(
        query_records(server, "exch1.drlab.test", RecordType::A, limits)
            .await
            .unwrap()
            .is_empty()
    );
    let e = dns
        .delete(&a("exch1.drlab.test", "10.77.0.11", 0))
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Prerequisite { .. }), "{e}");

    // the fallback: samba-tool on the DC, password on stdin
    let cred = SambaCredentials {
        user: "Administrator".into(),
        password: dc.admin_password.clone(),
    };
    let web2 = a("web2.drlab.test", "10.77.0.20", 0);
    let add = samba_tool::dns_add("127.0.0.1", DOMAIN, &web2, &cred).unwrap();
    assert!(!add.posix_line().contains(dc.admin_password.expose()));
    let out =
        support::exec_tool(&dc.c, &add).unwrap_or_else(|e| panic!("{}: {e}", add.posix_line()));
    assert!(out.contains("Record added successfully"), "{out}");
    let now = query_records(server, "web2.drlab.test", RecordType::A, limits)
        .await
        .unwrap();
    assert_eq!(
        now.iter().map(|r| &*r.data).collect::<Vec<_>>(),
        ["10.77.0.20"]
    );
    let samba_tool_ttl = now[0].ttl_s;
    let del = samba_tool::dns_delete("127.0.0.1", DOMAIN, &web2, &cred).unwrap();
    support::exec_tool(&dc.c, &del).unwrap_or_else(|e| panic!("{}: {e}", del.posix_line()));
    assert!(
        query_records(server, "web2.drlab.test", RecordType::A, limits)
            .await
            .unwrap()
            .is_empty()
    );
    println!(
        "{test}: DC answered the move at once; the client saw it after {:.2}s (TTL {TTL_S}s, {} cached answers before); \
samba-tool add/delete ok (TTL {samba_tool_ttl}s, the server default); `{}`; {:.1}s in all",
        p.seen_after.as_secs_f64(),
        p.stale_lookups,
        add.posix_line(),
        t0.elapsed().as_secs_f64()
    );
}
