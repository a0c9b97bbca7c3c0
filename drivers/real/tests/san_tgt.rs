//! The lab backend's `San` capability against a real tgt target and
//! libiscsi's initiator tools: a SAN container (role `san`, tgtd) and two
//! Linux hosts with sshd, reached over SSH as a drill reaches them. The
//! set-up makes the volume's target with an empty ACL; a login is refused
//! until the host's initiator name is granted, then accepted with data read
//! through iSCSI and compared by the target; another host's initiator name
//! stays refused; a revoke refuses the first again; a snapshot is a copy of
//! the volume's backing file; every call sent exactly what it planned.

// tests report what they measured (timings) on stdout
#![allow(clippy::print_stdout)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use drlab_drivers::{OpError, San};
use drlab_real::inventory::Inventory;
use drlab_real::lab::estate::Volume;
use drlab_real::lab::{Estate, LabBackend};
use support::{Container, Net};

const VOLUME: &str = "Database-1Active";
/// EXCH1's persona initiator name (the AIM paper's form).
const EXCH1_INITIATOR: &str = "Exchange1";

fn refused_naming(r: Result<(), OpError>, initiator: &str) {
    match r {
        Err(OpError::Refused { reason }) => {
            assert!(
                reason.contains(&format!("initiator {initiator} to volume {VOLUME}"))
                    && reason.contains("Failed to log in to target. Status:"),
                "{reason}"
            );
            println!("refused as expected: {reason}");
        }
        other => panic!("expected a refused login of {initiator}, got {other:?}"),
    }
}

#[tokio::test]
async fn san_grant_attach_revoke_snapshot_on_tgt() {
    let test = "san_grant_attach_revoke_snapshot_on_tgt";
    let Some(()) = support::lab_or_skip(test) else {
        return;
    };
    let t0 = Instant::now();
    let net = Net::new();
    let pw = support::password();
    let secrets = [("ROOT_PASSWORD", pw.as_str())];
    let san = Container::start_with_secrets(&net, "san", "san1", &[], &secrets);
    let h1 = Container::start_with_secrets(&net, "client", "exch1", &["-e", "SSHD=1"], &secrets);
    let h2 = Container::start_with_secrets(&net, "client", "exch2", &["-e", "SSHD=1"], &secrets);
    for c in [&san, &h1, &h2] {
        c.wait_ready(60);
    }
    let started = t0.elapsed();

    // the root password in a 0600 file the inventory names (never inline)
    let dir = std::env::temp_dir().join(format!("drlab-san-tgt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let secret = dir.join("root");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&secret)
            .expect("secret file");
        f.write_all(pw.as_bytes()).expect("write secret");
    }
    let ssh = "ssh = { user = 'root', password_credential = 'root' }";
    let text = format!(
        "[lab]\nname = 'san-test'\ndomain = 'drlab.test'\n\
         [credentials]\nroot = {{ file = '{}' }}\n\
         [[hosts]]\nname = 'SAN1'\naddress = '{}'\nroles = ['san']\n{ssh}\ncontainer = '{}'\n\
         [[hosts]]\nname = 'EXCH1'\naddress = '{}'\nroles = ['client']\n{ssh}\ncontainer = '{}'\n\
         [[hosts]]\nname = 'EXCH2'\naddress = '{}'\nroles = ['client']\n{ssh}\ncontainer = '{}'\n",
        secret.display(),
        san.ip,
        san.name,
        h1.ip,
        h1.name,
        h2.ip,
        h2.name,
    );
    let inv = Inventory::parse(Path::new("san-test.toml"), &text).expect("inventory");
    let estate = Estate {
        hosts: vec!["SAN1".into(), "EXCH1".into(), "EXCH2".into()],
        initiators: BTreeMap::from([("EXCH1".to_string(), EXCH1_INITIATOR.to_string())]),
        volumes: vec![Volume {
            name: VOLUME.into(),
            initiators: Vec::new(),
        }],
        ..Estate::default()
    };
    let exch2 = estate.initiator("EXCH2");
    assert_eq!(exch2, "iqn.1991-05.com.microsoft:exch2");
    let b = LabBackend::connect(inv, estate).expect("backend");
    let iqn = "iqn.2026-12.com.example.corp:database-1active";
    let acl = || {
        let show = san
            .exec(
                &[
                    "tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target",
                ],
                None,
            )
            .expect("tgtadm show");
        let after = show
            .split("ACL information:")
            .nth(1)
            .unwrap_or("")
            .to_string();
        after
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };

    // set-up: the target exists, nobody may log in
    let did = b.prepare().await.expect("prepare");
    assert!(
        did.iter().any(|l| l.contains("SAN1: 1 SAN volumes")),
        "{did:?}"
    );
    let show = san
        .exec(
            &[
                "tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target",
            ],
            None,
        )
        .expect("tgtadm show");
    assert!(show.contains(&format!("Target 1: {iqn}")), "{show}");
    assert!(
        show.contains("Backing store path: /srv/san/drlab/volumes/database-1active.img"),
        "{show}"
    );
    assert!(acl().is_empty(), "{show}");
    refused_naming(b.attach("EXCH1", VOLUME).await, EXCH1_INITIATOR);

    // grant (twice: idempotent), then EXCH1 logs in and reads through iSCSI
    b.grant(VOLUME, EXCH1_INITIATOR).await.expect("grant");
    b.grant(VOLUME, EXCH1_INITIATOR).await.expect("grant again");
    assert_eq!(acl(), [EXCH1_INITIATOR]);
    let t = Instant::now();
    b.attach("EXCH1", VOLUME)
        .await
        .expect("attach of a granted initiator");
    let attach_ms = t.elapsed().as_millis();
    // EXCH2's initiator is not on the ACL
    refused_naming(b.attach("EXCH2", VOLUME).await, &exch2);
    // nothing stays logged in: detach checks that on the SAN
    b.detach("EXCH1", VOLUME).await.expect("detach");

    // snapshot: a copy of the backing file, with what was on the volume
    san.exec(
        &[
            "sh",
            "-c",
            "printf drlab-marker | dd of=/srv/san/drlab/volumes/database-1active.img bs=512 seek=7 conv=notrunc status=none",
        ],
        None,
    )
    .expect("marker on the SAN");
    b.snapshot(VOLUME, "before-revoke").await.expect("snapshot");
    let snap = "/srv/san/drlab/snapshots/database-1active/before-revoke.img";
    let ls = san
        .exec(&["ls", "/srv/san/drlab/snapshots/database-1active"], None)
        .expect("ls");
    assert_eq!(ls.trim(), "before-revoke.img");
    san.exec(
        &["cmp", "/srv/san/drlab/volumes/database-1active.img", snap],
        None,
    )
    .expect("the snapshot is a copy of the volume");
    let marker = san
        .exec(
            &[
                "dd",
                &format!("if={snap}"),
                "bs=512",
                "skip=7",
                "count=1",
                "status=none",
            ],
            None,
        )
        .expect("read the snapshot");
    assert!(marker.starts_with("drlab-marker"), "{marker:?}");
    let again = b.snapshot(VOLUME, "before-revoke").await;
    assert!(matches!(again, Err(OpError::Refused { .. })), "{again:?}");
    let bad = b.snapshot(VOLUME, "x;touch /tmp/pwned").await;
    assert!(matches!(bad, Err(OpError::Refused { .. })), "{bad:?}");
    assert!(
        san.exec(&["test", "-e", "/tmp/pwned"], None).is_err(),
        "a refused name reached a shell"
    );

    // revoke: refused again
    b.revoke(VOLUME, EXCH1_INITIATOR).await.expect("revoke");
    assert!(acl().is_empty());
    refused_naming(b.attach("EXCH1", VOLUME).await, EXCH1_INITIATOR);
    let gone = b.attach("EXCH1", "Nope").await;
    assert!(matches!(gone, Err(OpError::NotFound { .. })), "{gone:?}");

    // every call sent its plan, in order (a refused name sends nothing)
    let calls = b.issued();
    assert_eq!(
        calls.len(),
        12,
        "{:#?}",
        calls.iter().map(|c| c.method).collect::<Vec<_>>()
    );
    for c in &calls {
        match &c.planned {
            Ok(ops) => assert_eq!(&c.sent, ops, "{}", c.method),
            Err(_) => assert!(c.sent.is_empty(), "{}", c.method),
        }
    }
    let lines: Vec<String> = calls.iter().flat_map(|c| c.lines()).collect();
    assert!(
        lines.iter().all(|l| !l.contains(&pw)),
        "a secret in a plan line"
    );
    assert_eq!(calls[3].method, "attach");
    println!(
        "the plan of the accepted attach:\n{}",
        calls[3].lines().join("\n")
    );
    println!(
        "san_tgt: containers ready in {} ms, attach (login + data check) {attach_ms} ms, total {} ms",
        started.as_millis(),
        t0.elapsed().as_millis()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
