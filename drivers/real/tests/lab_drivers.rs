//! The SSH client, the Linux service dialect, replication control and fault
//! injection against the real CI lab (started once for this binary by
//! drlab-labkit; skipped with one line per test where Docker is missing,
//! failed instead under DRLAB_REQUIRE_LAB=1).

#![allow(clippy::print_stderr)]

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drlab_drivers::caps::{Faults, Hosts};
use drlab_drivers::error::OpError;
use drlab_drivers::types::{Fault, MirrorMode, ServiceState, StartupType};
use drlab_labkit::{Lab, LabOptions, LabTest, LabTestResult, check, run_lab_tests};
use drlab_real::dialect::{DialectError, linux};
use drlab_real::faults::{FaultError, FaultInjector, FaultLimits};
use drlab_real::replication::{LsyncdState, ReplicationLimits, Replicator};
use drlab_real::ssh::{HostKeyPolicy, SshAuth, SshError, SshLimits, SshPool, SshTarget};

/// Every error text and output these tests saw, checked last for secrets.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn seen(s: impl std::fmt::Display) -> String {
    let s = s.to_string();
    SEEN.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(s.clone());
    s
}

fn main() -> ExitCode {
    let options = || {
        let dir = std::env::temp_dir().join(format!("drlab-real-lab-{}", std::process::id()));
        LabOptions::new(dir).with_progress(|l| eprintln!("[lab] {l}"))
    };
    // order matters: the destructive faults come last
    run_lab_tests(
        options,
        vec![
            LabTest::new("ssh_exec_with_key_and_with_password", ssh_exec),
            LabTest::new("ssh_reuses_one_connection_per_host", ssh_reuse),
            LabTest::new("ssh_command_and_connect_time_limits", ssh_timeouts),
            LabTest::new(
                "ssh_refuses_bad_credentials_and_unknown_host_keys",
                ssh_refusals,
            ),
            LabTest::new(
                "linux_dialect_starts_the_exchange_services_in_order",
                services,
            ),
            LabTest::new(
                "a_dismounted_stores_user_is_refused_and_served_again_at_once",
                dismounted_user,
            ),
            LabTest::new(
                "replication_pause_grows_a_queue_that_drain_empties",
                pause_drain,
            ),
            LabTest::new(
                "a_stalled_receiver_applies_nothing_a_moving_one_keeps_the_wait",
                receivers_still,
            ),
            LabTest::new(
                "replication_reverse_and_restore_only_if_newer",
                reverse_restore,
            ),
            LabTest::new("fault_partition_between_hosts_and_heal", partition),
            LabTest::new("fault_isolate_host_and_reconnect_at_same_address", isolate),
            LabTest::new("fault_link_rate_limit_and_no_netem", link),
            LabTest::new("fault_kill_and_hang_service", kill_hang),
            LabTest::new("fault_only_touches_inventory_containers", foreign),
            LabTest::new("fault_crash_and_power_on", crash_power_on),
            LabTest::new("no_secret_in_any_error_or_output", no_secrets),
        ],
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn target(lab: &Lab, host: &str) -> Result<SshTarget, SshError> {
    SshTarget::from_inventory(lab.inventory(), host)
}

const T: Duration = Duration::from_secs(30);

fn ssh_exec(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let t = target(lab, "EXCH1")?;
        check(
            matches!(t.auth, SshAuth::KeyThenPassword(..)),
            "inventory gives key and password",
        )?;
        check(
            matches!(t.host_keys, HostKeyPolicy::KnownHosts(_)),
            "known_hosts from the inventory",
        )?;
        let out = pool
            .exec(&t, "hostname; echo to-stderr >&2; exit 3", T)
            .await?;
        seen(format!("{out:?}"));
        check(out.exit_status == Some(3), format!("{out:?}"))?;
        check(
            out.stdout == "exch1\n" && out.stderr == "to-stderr\n",
            format!("{out:?}"),
        )?;
        // key only
        let SshAuth::KeyThenPassword(key, password) = t.auth.clone() else {
            return Err("auth".into());
        };
        let key_only = SshTarget {
            auth: SshAuth::KeyFile(key),
            ..t.clone()
        };
        let o = SshPool::new(SshLimits::default())
            .exec(&key_only, "id -un", T)
            .await?;
        check(o.success() && o.stdout == "root\n", format!("key: {o:?}"))?;
        // password only
        let pw_only = SshTarget {
            auth: SshAuth::Password(password),
            ..t.clone()
        };
        let o = SshPool::new(SshLimits::default())
            .exec(&pw_only, "id -un", T)
            .await?;
        check(
            o.success() && o.stdout == "root\n",
            format!("password: {o:?}"),
        )?;
        // stdin reaches the command
        let o = pool.exec_with_stdin(&t, "wc -c", b"12345", T).await?;
        check(o.stdout.trim() == "5", format!("stdin: {o:?}"))?;
        Ok(())
    })
}

fn ssh_reuse(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let (a, b) = (target(lab, "EXCH1")?, target(lab, "EXCH2")?);
        for _ in 0..5 {
            check(pool.exec(&a, "true", T).await?.success(), "exec")?;
        }
        check(pool.exec(&b, "true", T).await?.success(), "exec")?;
        check(
            pool.open_connections().await == 2,
            "two hosts, two connections",
        )?;
        // sshd on EXCH1 sees one session connection from us (lsyncd's go outwards)
        let o = pool
            .exec(&a, "ss -Htn state established '( sport = :22 )' | wc -l", T)
            .await?;
        check(
            o.stdout.trim() == "1",
            format!("established ssh connections on EXCH1: {}", o.stdout),
        )?;
        Ok(())
    })
}

fn ssh_timeouts(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits {
            connect_timeout_ms: 1500,
            ..SshLimits::default()
        });
        let a = target(lab, "EXCH1")?;
        let t0 = Instant::now();
        let e = pool
            .exec(&a, "sleep 10", Duration::from_millis(500))
            .await
            .unwrap_err();
        let took = t0.elapsed();
        check(
            matches!(e, SshError::CommandTimeout { after_ms: 500, .. }),
            seen(&e),
        )?;
        check(
            took < Duration::from_secs(3),
            format!("timed out after {took:?}"),
        )?;
        check(
            pool.exec(&a, "true", T).await?.success(),
            "connection usable after a timeout",
        )?;
        // a frozen host: TCP gets no answer, the connect limit fires
        let faults = FaultInjector::new(lab.inventory().clone(), FaultLimits::default());
        faults.pause("EXCH2").await?;
        let b = target(lab, "EXCH2")?;
        let t0 = Instant::now();
        let r = pool.exec(&b, "true", T).await;
        let took = t0.elapsed();
        faults.unpause("EXCH2").await?;
        let e = r.err().ok_or("paused host answered")?;
        check(
            matches!(e, SshError::ConnectTimeout { after_ms: 1500, .. }),
            seen(&e),
        )?;
        check(
            took < Duration::from_secs(4),
            format!("connect gave up after {took:?}"),
        )?;
        let op: OpError = e.into();
        check(matches!(op, OpError::Timeout { .. }), seen(op))?;
        check(
            pool.exec(&b, "true", T).await?.success(),
            "EXCH2 back after unpause",
        )?;
        Ok(())
    })
}

fn ssh_refusals(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let t = target(lab, "EXCH1")?;
        let wrong = SshTarget {
            auth: SshAuth::Password(drlab_real::secret::Secret::new("Wrong-Pass-4711")),
            ..t.clone()
        };
        let e = SshPool::new(SshLimits::default()).exec(&wrong, "true", T).await.unwrap_err();
        let text = seen(format!("{e} {e:?}"));
        check(matches!(e, SshError::AuthRejected { .. }), text.clone())?;
        check(!text.contains("Wrong-Pass-4711"), "the password is in the error")?;
        // a known_hosts file without this host's key
        let kh = lab.out_dir().join("known_hosts.other");
        std::fs::write(
            &kh,
            "10.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
        )?;
        let unknown = SshTarget { host_keys: HostKeyPolicy::KnownHosts(kh), ..t.clone() };
        let e = SshPool::new(SshLimits::default()).exec(&unknown, "true", T).await.unwrap_err();
        check(matches!(e, SshError::HostKeyUnknown { .. }), seen(&e))?;
        // a recorded key for this address that is not the server's: changed
        let (_, other_key) = drlab_real::ssh::ed25519_keypair(&[9; 32], "not-the-host")?;
        let kh2 = lab.out_dir().join("known_hosts.changed");
        std::fs::write(&kh2, format!("{} {}\n", t.addr.ip(), other_key))?;
        let changed = SshTarget { host_keys: HostKeyPolicy::KnownHosts(kh2), ..t.clone() };
        let e = SshPool::new(SshLimits::default()).exec(&changed, "true", T).await.unwrap_err();
        check(matches!(e, SshError::HostKeyChanged { .. }), seen(&e))?;
        // pinning on first use accepts the first key
        let pin = SshTarget { host_keys: HostKeyPolicy::PinOnFirstUse, ..t.clone() };
        check(SshPool::new(SshLimits::default()).exec(&pin, "true", T).await?.success(), "pinned")?;
        Ok(())
    })
}

/// The scenario's service start order (postover.bat) with lab names.
const START_ORDER: [&str; 10] = [
    "MSExchangeSA",
    "MSExchangeIS",
    "MSExchangeMTA",
    "POP3Svc",
    "IMAP4Svc",
    "MSExchangeMGMT",
    "RESvc",
    "MSExchangeES",
    "W3SVC",
    "SMTPSVC",
];

fn services(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let h = target(lab, "EXCH2")?;
        let map = &lab.inventory().services;
        let run = |cmd: String| {
            let pool = &pool;
            let h = &h;
            async move { pool.exec(h, &cmd, T).await }
        };
        for win in START_ORDER {
            let svc = map.get(win).ok_or(format!("{win} unmapped"))?;
            let o = run(linux::start(svc)?).await?;
            let st = linux::parse_status(svc, o.exit_status, &o.stdout, &o.stderr)?;
            check(
                st.state == ServiceState::Running,
                format!("{win} ({svc}): {o:?}"),
            )?;
        }
        // real processes and listeners
        let o =
            run("pgrep -fc '^drlab-marker ' ; ss -Hltn | awk '{print $4}' | sort".into()).await?;
        check(
            o.stdout.lines().next() == Some("6"),
            format!("six marker processes: {}", o.stdout),
        )?;
        for port in [":25", ":110", ":143"] {
            check(
                o.stdout.lines().any(|l| l.ends_with(port)),
                format!("listening on {port}: {}", o.stdout),
            )?;
        }
        // startup types, and a disabled service refuses to start
        let svc = map.get("W3SVC").ok_or("W3SVC")?;
        let o = run(linux::stop(svc)?).await?;
        check(
            linux::parse_status(svc, o.exit_status, &o.stdout, &o.stderr)?.state
                == ServiceState::Stopped,
            "stopped",
        )?;
        run(linux::set_startup(svc, StartupType::Disabled)?).await?;
        let o = run(linux::start(svc)?).await?;
        check(
            linux::parse_status(svc, o.exit_status, &o.stdout, &o.stderr)
                == Err(DialectError::Disabled {
                    service: svc.clone(),
                }),
            format!("disabled start: {o:?}"),
        )?;
        run(linux::set_startup(svc, StartupType::Manual)?).await?;
        let o = run(linux::status("no-such-service")?).await?;
        check(
            matches!(
                linux::parse_status("no-such-service", o.exit_status, &o.stdout, &o.stderr),
                Err(DialectError::UnknownService { .. })
            ),
            "unknown service",
        )?;
        // pre-failback order: everything stops, the standby is as before
        for win in START_ORDER.iter().rev() {
            let svc = map.get(*win).ok_or("svc")?;
            let o = run(linux::stop(svc)?).await?;
            let st = linux::parse_status(svc, o.exit_status, &o.stdout, &o.stderr)?;
            check(
                st.state == ServiceState::Stopped && st.startup == StartupType::Manual,
                format!("{win}: {o:?}"),
            )?;
        }
        let o = run(linux::list()).await?;
        check(
            linux::parse_list(&o.stdout)
                .iter()
                .all(|(_, s)| s.state == ServiceState::Stopped),
            o.stdout,
        )?;
        Ok(())
    })
}

const DIR: &str = "/srv/mail";

fn limits() -> ReplicationLimits {
    ReplicationLimits::default()
}

fn pause_drain(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let rep = Replicator::new(&pool, limits());
        let (src, dst) = (target(lab, "EXCH1")?, target(lab, "EXCH2")?);
        let s = rep.wait_drained(&src, &dst, DIR, Duration::from_secs(1), Duration::from_secs(60)).await?;
        check(s.lsyncd == LsyncdState::Running && s.pending.is_empty(), format!("{s:?}"))?;
        rep.pause(&src).await?;
        // writes keep landing in the store while transmission is paused
        let mut seen_files = Vec::new();
        for batch in 0..3 {
            let cmd = format!(
                "for i in $(seq 1 5); do head -c 20000 /dev/urandom > {DIR}/alice/pause-{batch}-$i; done"
            );
            check(pool.exec(&src, &cmd, T).await?.success(), "write")?;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let s = rep.status(&src, &dst, DIR).await?;
            check(s.lsyncd == LsyncdState::Paused, format!("{s:?}"))?;
            eprintln!("paused, batch {batch}: {} files, {} bytes queued", s.pending.files, s.pending.bytes);
            seen_files.push((s.pending.files, s.pending.bytes));
        }
        check(
            seen_files.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1),
            format!("queue did not grow: {seen_files:?}"),
        )?;
        check(seen_files[2].0 >= 15 && seen_files[2].1 >= 300_000, format!("{seen_files:?}"))?;
        // a drain while paused cannot finish
        let e = rep
            .wait_drained(&src, &dst, DIR, Duration::from_secs(1), Duration::from_secs(2))
            .await
            .unwrap_err();
        check(matches!(e, drlab_real::replication::ReplicationError::DrainTimeout { .. }), seen(&e))?;
        rep.resume(&src).await?;
        let t0 = Instant::now();
        let s = rep.wait_drained(&src, &dst, DIR, Duration::from_secs(2), Duration::from_secs(60)).await?;
        eprintln!("drained in {:.1} s after resume", t0.elapsed().as_secs_f64());
        check(s.pending.is_empty() && s.lsyncd == LsyncdState::Running, format!("{s:?}"))?;
        let q = s.queue_status();
        check(q.is_drained(), format!("{q:?}"))?;
        let sum = "cd /srv/mail/alice && cat pause-* | md5sum";
        let (a, b) = (pool.exec(&src, sum, T).await?, pool.exec(&dst, sum, T).await?);
        check(a.stdout == b.stdout, "the target holds the same data")?;
        Ok(())
    })
}

/// The stalled receiver's command line, as a `pgrep -f` pattern.
const STALLED: &str = "^rsync --server -logDtpre.iLsfxC . /tmp/drlab-stall-dir";

/// What a partition in the middle of a transfer leaves on the target: a
/// real rsync receiver waiting for a sender that never speaks again. The
/// wait for the target's receivers (`waitontarget` when the source cannot
/// be asked) ends after its idle time, while a receiver that moves data
/// keeps it waiting.
fn receivers_still(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let rep = Replicator::new(&pool, limits());
        let (src, dst) = (target(lab, "EXCH1")?, target(lab, "EXCH2")?);
        let stall = format!(
            "rm -f /tmp/drlab-stall && mkfifo /tmp/drlab-stall \
             && (sleep 300 >/tmp/drlab-stall 2>/dev/null </dev/null &) \
             && (rsync --server -logDtpre.iLsfxC . /tmp/drlab-stall-dir </tmp/drlab-stall >/dev/null 2>&1 &) \
             && sleep 0.5 && pgrep -f '{STALLED}'"
        );
        check(pool.exec(&dst, &stall, T).await?.success(), "start a stalled receiver")?;
        let t0 = Instant::now();
        rep.wait_receivers_still(&dst, Duration::from_secs(1), Duration::from_secs(10))
            .await?;
        let took = t0.elapsed();
        eprintln!("a stalled receiver: still after {:.2} s", took.as_secs_f64());
        check(took < Duration::from_secs(5), format!("the stalled receiver held the wait {took:?}"))?;
        check(
            pool.exec(&dst, &format!("pgrep -f '{STALLED}'"), T).await?.success(),
            "the stalled receiver is gone: it was not judged",
        )?;
        // a transfer of 3 MB at 200 kB/s moves data for ~15 s
        let send = format!(
            "head -c 3000000 /dev/urandom >/tmp/drlab-big \
             && (rsync --bwlimit=200 -e 'ssh -o BatchMode=yes -o ConnectTimeout=5' /tmp/drlab-big root@{}:/tmp/drlab-big-copy >/dev/null 2>&1 </dev/null &)",
            dst.addr.ip()
        );
        check(pool.exec(&src, &send, T).await?.success(), "start a transfer")?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let busy = rep
            .wait_receivers_still(&dst, Duration::from_secs(2), Duration::from_secs(5))
            .await;
        // (patterns anchored at the start, so they match no shell running them)
        let cleanup = format!(
            "pkill -f '{STALLED}'; pkill -f '^sleep 300$'; pkill -f '^rsync --bwlimit=200 '; \
             rm -rf /tmp/drlab-stall* /tmp/drlab-big*; true"
        );
        for h in [&src, &dst] {
            pool.exec(h, &cleanup, T).await?;
        }
        match busy {
            Err(e @ drlab_real::replication::ReplicationError::ReceiversBusy { .. }) => {
                eprintln!("a moving receiver: {}", seen(&e));
                Ok(())
            }
            other => Err(format!("a moving receiver did not keep the wait: {other:?}").into()),
        }
    })
}

fn reverse_restore(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let rep = Replicator::new(&pool, limits());
        let (e1, e2) = (target(lab, "EXCH1")?, target(lab, "EXCH2")?);
        // reverse: EXCH2 -> EXCH1
        let st = rep.reverse(&e1, &e2, DIR, MirrorMode::Difference).await?;
        check(st == LsyncdState::Running, format!("{st:?}"))?;
        let s1 = rep.status(&e1, &e2, DIR).await?;
        check(
            s1.lsyncd == LsyncdState::Stopped,
            format!("EXCH1 still replicating: {s1:?}"),
        )?;
        let f = format!("{DIR}/bob/reverse-{}", std::process::id());
        check(
            pool.exec(&e2, &format!("echo from-exch2 > {f}"), T)
                .await?
                .success(),
            "write",
        )?;
        rep.wait_drained(
            &e2,
            &e1,
            DIR,
            Duration::from_secs(1),
            Duration::from_secs(30),
        )
        .await?;
        let o = pool.exec(&e1, &format!("cat {f}"), T).await?;
        check(
            o.stdout == "from-exch2\n",
            format!("reverse replication: {o:?}"),
        )?;
        // the restore pitfall: the origin has a newer copy of a file, newer
        // by half a second inside one second (which rsync --update, whole
        // seconds, would copy)
        rep.disconnect(&e2).await?;
        let g = format!("{DIR}/carol/restore-{}", std::process::id());
        pool.exec(
            &e2,
            &format!("echo replica-copy > {g}; touch -d @1700000000.1 {g}"),
            T,
        )
        .await?;
        pool.exec(
            &e1,
            &format!("echo origin-newer > {g}; touch -d @1700000000.6 {g}"),
            T,
        )
        .await?;
        let r = rep.restore(&e2, &e1, DIR, true).await?;
        let o = pool.exec(&e1, &format!("cat {g}"), T).await?;
        check(
            o.stdout == "origin-newer\n",
            format!("'only if newer' kept the newer file: {o:?}"),
        )?;
        check(
            r.skipped_newer_on_destination >= 1,
            format!("skips are counted: {r:?}"),
        )?;
        eprintln!("restore only-if-newer: {r:?}");
        // a plain restore copies it, although both copies have one size
        // and one second (rsync's quick check, in whole seconds, would not)
        let r = rep.restore(&e2, &e1, DIR, false).await?;
        let o = pool.exec(&e1, &format!("cat {g}"), T).await?;
        check(
            o.stdout == "replica-copy\n",
            format!("plain restore overwrites: {o:?}"),
        )?;
        check(
            r.files_transferred >= 1 && r.skipped_newer_on_destination == 0,
            format!("{r:?}"),
        )?;
        // and the other way inside one second: the replica's copy is newer
        pool.exec(
            &e1,
            &format!("echo origin-older > {g}; touch -d @1700000000.05 {g}"),
            T,
        )
        .await?;
        let r = rep.restore(&e2, &e1, DIR, true).await?;
        let o = pool.exec(&e1, &format!("cat {g}"), T).await?;
        check(
            o.stdout == "replica-copy\n" && r.skipped_newer_on_destination == 0,
            format!("'only if newer' copies the newer replica: {o:?} {r:?}"),
        )?;
        // back to the lab's normal direction
        let st = rep.connect(&e1, &e2, DIR, MirrorMode::Difference).await?;
        check(st == LsyncdState::Running, "EXCH1 -> EXCH2 again")?;
        let s = rep
            .wait_drained(
                &e1,
                &e2,
                DIR,
                Duration::from_secs(1),
                Duration::from_secs(30),
            )
            .await?;
        check(s.pending.is_empty(), format!("{s:?}"))?;
        Ok(())
    })
}

/// The host's address on the service network (drlab's SSH goes over the
/// management network, which faults leave alone).
/// A user of a dismounted store (listed in `/var/lib/drlab/dismounted`)
/// is refused at once, twice, and served at once when the store is
/// mounted again, as Exchange refuses and then serves a logon: Dovecot's
/// failure delay (up to 2 s) and its per-address penalty after a failure
/// (4 s, then 8 s) are off for these refusals (`nodelay`,
/// conf.d/01-drlab-dismounted.conf). With them, the three logins take at
/// least 4.5 s (measured 5.2 s); without, about 0.2 s.
fn dismounted_user(lab: &Lab) -> LabTestResult {
    use drlab_real::imap::{ImapError, ImapLimits, ImapSession};
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let h = target(lab, "EXCH1")?;
        let addr = std::net::SocketAddr::new(service(lab, "EXCH1"), lab.inventory().mail.imap_port);
        let password = &lab.secrets().mail;
        let login = || async {
            let mut s = ImapSession::connect(addr, ImapLimits::default()).await?;
            let r = s.login("bob", password).await;
            let _ = s.logout().await;
            Ok::<_, ImapError>(r.is_ok())
        };
        // Dovecot re-reads the list when its modification time changes, in
        // whole seconds: each change waits one out
        let edit = |script: &'static str| {
            let pool = &pool;
            let h = &h;
            async move { pool.exec(h, &format!("{script}; sleep 1.1"), T).await }
        };
        edit("echo bob >> /var/lib/drlab/dismounted").await?;
        let t = Instant::now();
        for attempt in 1..=2 {
            check(!login().await?, format!("refusal {attempt}: bob logged in while dismounted"))?;
        }
        let refusals = t.elapsed();
        edit("grep -vxF bob /var/lib/drlab/dismounted > /tmp/d; cat /tmp/d > /var/lib/drlab/dismounted")
            .await?;
        let t = Instant::now();
        check(login().await?, "bob is served once his store is mounted")?;
        let took = refusals + t.elapsed();
        check(
            took < Duration::from_secs(3),
            format!("two refusals and a login took {took:?}: Dovecot's delay and penalty are on"),
        )
    })
}

fn service(lab: &Lab, host: &str) -> std::net::IpAddr {
    lab.inventory()
        .host(host)
        .map(|h| h.address)
        .unwrap_or_else(|| panic!("{host} in the lab's inventory"))
}

/// Whether `from` reaches `to` over the service network.
fn ping(
    pool: &SshPool,
    from: &SshTarget,
    to: std::net::IpAddr,
) -> impl std::future::Future<Output = Result<bool, SshError>> {
    let cmd = format!("ping -c 1 -W 1 {to} >/dev/null 2>&1");
    async move { pool.exec(from, &cmd, T).await.map(|o| o.success()) }
}

fn partition(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let faults = FaultInjector::new(lab.inventory().clone(), FaultLimits::default());
        let (e1, e2, c) = (
            target(lab, "EXCH1")?,
            target(lab, "EXCH2")?,
            target(lab, "CLIENT1")?,
        );
        check(
            ping(&pool, &e1, service(lab, "EXCH2")).await?,
            "EXCH1 reaches EXCH2 before",
        )?;
        faults
            .inject(&Fault::Partition {
                a: "EXCH1".into(),
                b: "EXCH2".into(),
            })
            .await?;
        check(
            !ping(&pool, &e1, service(lab, "EXCH2")).await?,
            "EXCH1 -> EXCH2 cut",
        )?;
        check(
            !ping(&pool, &e2, service(lab, "EXCH1")).await?,
            "EXCH2 -> EXCH1 cut",
        )?;
        check(
            ping(&pool, &c, service(lab, "EXCH2")).await?,
            "the client still reaches EXCH2",
        )?;
        // A heartbeat is sent by its monitor: EXCH2's to EXCH1 is lost in
        // the cut, CLIENT1's is answered, whatever this machine reaches.
        let estate = drlab_real::lab::Estate {
            hosts: vec!["EXCH1".into(), "EXCH2".into(), "CLIENT1".into()],
            ..Default::default()
        };
        let backend = drlab_real::lab::LabBackend::connect(lab.inventory().clone(), estate)?;
        let beat = Duration::from_millis(1500);
        let t0 = Instant::now();
        let lost = backend.ping("EXCH2", "EXCH1", beat).await;
        check(
            lost.is_err(),
            format!("EXCH2's heartbeat crossed the cut: {lost:?}"),
        )?;
        check(t0.elapsed() >= beat, "a lost heartbeat lasts its limit")?;
        let answered = backend.ping("CLIENT1", "EXCH1", beat).await;
        check(
            answered.as_ref().is_ok_and(|rtt| *rtt < beat),
            format!("CLIENT1's heartbeat to EXCH1: {answered:?}"),
        )?;
        eprintln!(
            "heartbeats: EXCH2 -> EXCH1 {}; CLIENT1 -> EXCH1 {answered:?}",
            seen(format!("{lost:?}"))
        );
        faults
            .inject(&Fault::Heal {
                a: "EXCH1".into(),
                b: "EXCH2".into(),
            })
            .await?;
        check(ping(&pool, &e1, service(lab, "EXCH2")).await?, "healed")?;
        Ok(())
    })
}

fn isolate(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits {
            connect_timeout_ms: 1500,
            ..SshLimits::default()
        });
        let faults = FaultInjector::new(lab.inventory().clone(), FaultLimits::default());
        let (e2, c) = (target(lab, "EXCH2")?, target(lab, "CLIENT1")?);
        faults
            .inject(&Fault::Partition {
                a: "EXCH2".into(),
                b: "hq".into(),
            })
            .await?;
        pool.disconnect(&e2).await;
        // cut off the service network, EXCH2 is still reached as itself
        // over the management network, as an operator's console would
        let r = pool.exec(&e2, "true", T).await;
        check(
            r.is_ok_and(|o| o.success()),
            "EXCH2 reached over the management network while isolated",
        )?;
        check(
            !ping(&pool, &c, service(lab, "EXCH2")).await?,
            "the client cannot reach EXCH2",
        )?;
        faults
            .inject(&Fault::Heal {
                a: "hq".into(),
                b: "EXCH2".into(),
            })
            .await?;
        let o = pool
            .exec(&e2, "hostname -i; ip -o -4 addr show | awk '{print $4}'", T)
            .await?;
        check(
            o.stdout.contains(&format!("{}/", service(lab, "EXCH2"))),
            format!("same address after reconnect: {}", o.stdout),
        )?;
        check(
            ping(&pool, &c, service(lab, "EXCH2")).await?,
            "reachable again",
        )?;
        Ok(())
    })
}

fn link(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let faults = FaultInjector::new(lab.inventory().clone(), FaultLimits::default());
        let (e1, e2) = (target(lab, "EXCH1")?, target(lab, "EXCH2")?);
        let copy = format!(
            "head -c 262144 /dev/urandom > /tmp/blob && s=$(date +%s%N) && rsync -W -e 'ssh -o BatchMode=yes' /tmp/blob root@{}:/tmp/blob-$RANDOM && echo $(( ($(date +%s%N) - s) / 1000000 ))",
            service(lab, "EXCH2")
        );
        let ms = |o: drlab_real::ssh::Output| o.stdout.trim().parse::<u64>().unwrap_or(0);
        let fast = ms(pool.exec(&e1, &copy, T).await?);
        faults
            .inject(&Fault::DegradeLink {
                a: "EXCH1".into(),
                b: "EXCH2".into(),
                latency_ms: None,
                bandwidth_mbps: Some(1.0),
                loss: None,
            })
            .await?;
        let slow = ms(pool.exec(&e1, &copy, T).await?);
        // the other direction is shaped too
        let o = pool.exec(&e2, "tc qdisc show | grep -c htb", T).await?;
        faults.inject(&Fault::DegradeLink { a: "EXCH1".into(), b: "EXCH2".into(), latency_ms: None, bandwidth_mbps: None, loss: None }).await?;
        let after = ms(pool.exec(&e1, &copy, T).await?);
        eprintln!("256 KiB EXCH1 -> EXCH2: {fast} ms unshaped, {slow} ms at 1 Mbit/s, {after} ms after clearing");
        check(o.stdout.trim() != "0", "EXCH2 shapes towards EXCH1")?;
        // 2 Mbit take >= 2 s at 1 Mbit/s
        check(slow >= 1800 && slow > 4 * fast.max(1), format!("{fast} ms vs {slow} ms"))?;
        check(after < slow / 2, format!("cleared: {after} ms"))?;
        // latency and loss need netem: reported, never faked
        let r = faults
            .inject(&Fault::DegradeLink { a: "EXCH1".into(), b: "EXCH2".into(), latency_ms: Some(50.0), bandwidth_mbps: None, loss: None })
            .await;
        match r {
            Err(OpError::Unsupported { what }) => {
                eprintln!("{}", seen(&what));
                check(what.contains("netem"), what.to_string())?;
            }
            Ok(()) => {
                eprintln!("this kernel has netem: latency applied");
                faults.clear_link("EXCH1").await?;
                faults.clear_link("EXCH2").await?;
            }
            Err(e) => return Err(seen(e).into()),
        }
        Ok(())
    })
}

fn kill_hang(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits::default());
        let faults = FaultInjector::new(lab.inventory().clone(), FaultLimits::default());
        let e1 = target(lab, "EXCH1")?;
        faults
            .inject(&Fault::KillService {
                host: "EXCH1".into(),
                service: "SMTPSVC".into(),
            })
            .await?;
        let o = pool.exec(&e1, &linux::status("postfix")?, T).await?;
        let st = linux::parse_status("postfix", o.exit_status, &o.stdout, &o.stderr)?;
        check(
            st.state == ServiceState::Stopped,
            format!("postfix after kill: {o:?}"),
        )?;
        // the repair: the service manager restarts it (`restart-service`)
        faults
            .inject(&Fault::RestartService {
                host: "EXCH1".into(),
                service: "SMTPSVC".into(),
            })
            .await?;
        let o = pool.exec(&e1, &linux::status("postfix")?, T).await?;
        check(
            linux::parse_status("postfix", o.exit_status, &o.stdout, &o.stderr)?.state
                == ServiceState::Running,
            "restarted",
        )?;
        // a hung store: "running" for the service manager, no IMAP greeting
        let greet = "timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/143; head -c 4 <&3'";
        check(
            pool.exec(&e1, greet, T).await?.stdout == "* OK",
            "IMAP greets before",
        )?;
        faults
            .inject(&Fault::HangService {
                host: "EXCH1".into(),
                service: "MSExchangeIS".into(),
            })
            .await?;
        let o = pool.exec(&e1, &linux::status("dovecot")?, T).await?;
        check(
            linux::parse_status("dovecot", o.exit_status, &o.stdout, &o.stderr)?.state
                == ServiceState::Running,
            "hung but running",
        )?;
        check(
            pool.exec(&e1, greet, T).await?.stdout != "* OK",
            "no greeting while hung",
        )?;
        faults
            .inject(&Fault::RestartService {
                host: "EXCH1".into(),
                service: "MSExchangeIS".into(),
            })
            .await?;
        let mut ok = false;
        for _ in 0..20 {
            if pool.exec(&e1, greet, T).await?.stdout == "* OK" {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        check(ok, "IMAP greets after the restart")?;
        Ok(())
    })
}

fn foreign(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        // a container that is not this lab's, put into a copy of the inventory
        let name = format!("drlab-foreign-{}", std::process::id());
        let out = std::process::Command::new("docker")
            .args([
                "create",
                "--name",
                &name,
                "--label",
                "drlab.lab=someone-else",
                lab.image(),
                "true",
            ])
            .output()?;
        check(out.status.success(), "docker create")?;
        let mut inv = lab.inventory().clone();
        for h in &mut inv.hosts {
            if h.name == "EXCH1" {
                h.container = Some(name.clone());
            }
        }
        let faults = FaultInjector::new(inv, FaultLimits::default());
        let r = faults.crash("EXCH1").await;
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &name])
            .output();
        let e = r.err().ok_or("a foreign container was touched")?;
        check(matches!(e, FaultError::NotThisLab { .. }), seen(&e))?;
        let e = faults.crash("NOT-A-HOST").await.unwrap_err();
        check(matches!(e, FaultError::NotInInventory { .. }), seen(&e))?;
        Ok(())
    })
}

fn crash_power_on(lab: &Lab) -> LabTestResult {
    rt().block_on(async {
        let pool = SshPool::new(SshLimits { connect_timeout_ms: 2000, ..SshLimits::default() });
        let faults = FaultInjector::new(lab.inventory().clone(), FaultLimits::default());
        let e1 = target(lab, "EXCH1")?;
        check(pool.exec(&e1, "true", T).await?.success(), "up")?;
        faults.inject(&Fault::CrashHost { host: "EXCH1".into() }).await?;
        let e = pool.exec(&e1, "true", T).await.unwrap_err();
        let op: OpError = e.into();
        check(matches!(op, OpError::Unreachable { .. } | OpError::Timeout { .. } | OpError::Io { .. }), seen(&op))?;
        let t0 = Instant::now();
        faults.inject(&Fault::PowerOn { host: "EXCH1".into() }).await?;
        eprintln!("EXCH1 ready {:.1} s after power-on", t0.elapsed().as_secs_f64());
        // same address and host key (the known_hosts file still holds)
        let o = pool.exec(&e1, "/usr/local/sbin/drlab-svc status postfix; cat /run/lsyncd.pid 2>/dev/null || echo no-lsyncd", T).await?;
        check(o.stdout.contains("postfix running"), format!("{o:?}"))?;
        // replication does not restart by itself after a crash
        check(o.stdout.contains("no-lsyncd"), format!("lsyncd restarted after a crash: {o:?}"))?;
        Ok(())
    })
}

fn no_secrets(lab: &Lab) -> LabTestResult {
    let texts = SEEN.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
    check(!texts.is_empty(), "errors were collected")?;
    let mut needles: Vec<String> = Vec::new();
    for s in lab.secrets().values() {
        needles.extend(
            s.lines()
                .filter(|l| l.len() >= 12 && !l.starts_with("-----"))
                .map(str::to_string),
        );
    }
    for n in &needles {
        check(
            !texts.contains(n.as_str()),
            "a secret appears in an error or output",
        )?;
    }
    // Debug of the SSH targets shows no secret either
    for h in ["DC1", "EXCH1", "EXCH2", "CLIENT1"] {
        let d = format!("{:?}", target(lab, h)?);
        for n in &needles {
            check(
                !d.contains(n.as_str()),
                format!("secret in Debug of {h}'s SSH target"),
            )?;
        }
    }
    Ok(())
}
