//! The plan is what runs (issue 12 §1), without Docker: for every journal
//! action and both dialects, the plan's operations ([`Renderer::ops`], from
//! the action) are the operations the lab backend plans and starts sending
//! when the action is performed on it ([`LabBackend::issued`], from the
//! call) — the same builders, the same arguments, compared whole (the
//! PowerShell command lines too, not only their lines). The made-up lab
//! answers nowhere (every address refuses at once), so each call stops at
//! its first operation that needs a peer, after recording what it sent.
//! Also: an action journalled by the wrapper has the commands of the call
//! it came from (nothing is lost between a call and its journal action),
//! a Windows start waits for the service and quotes its name as
//! PowerShell reads it, and no line carries a secret.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use drlab_drill::journal::{Action, LinkChange};
use drlab_drill::recorded::{Known, PlanSink, Recorded, perform};
use drlab_drill::render::Renderer;
use drlab_drivers::Recorder;
use drlab_drivers::types::{MirrorMode, RecordType, StartupType};
use drlab_real::inventory::Inventory;
use drlab_real::lab::commands::lines;
use drlab_real::lab::{LabBackend, LabOp};
use drlab_scenarios::Scenario;

/// What the made-up lab's credentials hold; never in a line.
const SECRET: &str = "s3cret-never-shown";
/// The TSIG key's base64 is the secret's, so it may not show either.
const SECRET_B64: &str = "czNjcmV0LW5ldmVyLXNob3du";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn scenario() -> Scenario {
    drlab_scenarios::load(&root().join("scenarios/library/lan-failover-lab.toml")).unwrap()
}

/// A lab of the scenario's hosts on loopback addresses whose ports refuse
/// connections, with credentials in files holding [`SECRET`]; the Exchange
/// hosts speak `dialect`.
fn inventory(dir: &Path, dialect: &str) -> Inventory {
    let t = inventory_text(dir, dialect);
    Inventory::parse(Path::new("unit.toml"), &t).unwrap_or_else(|e| panic!("{e}\n{t}"))
}

/// The text of [`inventory`].
fn inventory_text(dir: &Path, dialect: &str) -> String {
    let secret = dir.join("secret");
    let tsig = dir.join("tsig");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::write(&tsig, format!("drlab-key:hmac-sha256:{SECRET_B64}")).unwrap();
    let (secret, tsig) = (secret.display(), tsig.display());
    let mut t = format!(
        "[lab]\nname = 'unit'\ndomain = 'corp.example.com'\ndocker_network = 'drlab-unit-net'\n\
         [credentials]\nadmin = {{ file = '{secret}' }}\nroot = {{ file = '{secret}' }}\n\
         tsig = {{ file = '{tsig}' }}\n\
         [[hosts]]\nname = 'DC1'\naddress = '127.0.0.1'\nroles = ['domain-controller', 'dns']\n\
         ssh = {{ user = 'root', port = 1, password_credential = 'root' }}\n\
         ldap = {{ url = 'ldap://127.0.0.1:1', bind = 'Administrator@CORP.EXAMPLE.COM', password_credential = 'admin', base = 'DC=corp,DC=example,DC=com' }}\n\
         dns = {{ port = 1, tsig = 'tsig' }}\ncontainer = 'drlab-unit-dc1'\n"
    );
    for (name, ip) in [("EXCH1", "127.0.0.2"), ("EXCH2", "127.0.0.3")] {
        t += &format!(
            "[[hosts]]\nname = '{name}'\naddress = '{ip}'\nroles = ['mail']\ndialect = '{dialect}'\n\
             ssh = {{ user = 'root', port = 1, password_credential = 'root' }}\n\
             container = 'drlab-unit-{}'\nmail_root = '/srv/mail'\n",
            name.to_ascii_lowercase()
        );
    }
    // the SAN (tgt) of the SAN actions
    t += "[[hosts]]\nname = 'SAN1'\naddress = '127.0.0.4'\nroles = ['san']\n\
          ssh = { user = 'root', port = 1, password_credential = 'root' }\n";
    t += "[services]\n";
    for svc in &scenario().exchange.unwrap().services {
        t += &format!("{} = '{}'\n", svc.name, svc.name.to_ascii_lowercase());
    }
    t
}

fn n(x: &str) -> String {
    x.to_string()
}

/// Which variant an action is; the match has no wildcard, so a new
/// variant does not compile until it is listed (and then
/// [`every_action`] must show one).
fn variant(a: &Action) -> usize {
    match a {
        Action::StartService { .. } => 0,
        Action::StopService { .. } => 1,
        Action::MountStore { .. } => 2,
        Action::DismountStore { .. } => 3,
        Action::SetOverwrite { .. } => 4,
        Action::TakeOverIdentity { .. } => 5,
        Action::ReleaseIdentity { .. } => 6,
        Action::Rename { .. } => 7,
        Action::JoinDomain { .. } => 8,
        Action::LeaveDomain { .. } => 9,
        Action::Reboot { .. } => 10,
        Action::CreateComputer { .. } => 11,
        Action::RemoveComputer { .. } => 12,
        Action::RenameComputer { .. } => 13,
        Action::SetMailboxHome { .. } => 14,
        Action::DnsAdd { .. } => 15,
        Action::DnsDelete { .. } => 16,
        Action::PauseReplication { .. } => 17,
        Action::ResumeReplication { .. } => 18,
        Action::ConnectReplication { .. } => 19,
        Action::DisconnectReplication { .. } => 20,
        Action::Restore { .. } => 21,
        Action::Fault { .. } => 22,
        Action::Repair { .. } => 23,
        Action::SetStartup { .. } => 24,
        Action::BootOn { .. } => 25,
        Action::Recovery { .. } => 26,
        Action::ForceReplication { .. } => 27,
        Action::Grant { .. } => 28,
        Action::Revoke { .. } => 29,
        Action::Attach { .. } => 30,
        Action::Detach { .. } => 31,
        Action::Snapshot { .. } => 32,
        Action::SetPortVlans { .. } => 33,
        Action::TakeArchive { .. } => 34,
        Action::RestoreArchive { .. } => 35,
        Action::FlushCache { .. } => 36,
    }
}
const VARIANTS: usize = 37;

/// At least one action of every variant, with the scenario's names (and
/// the undo values the wrapper knows from it).
fn every_action() -> Vec<Action> {
    let sg = || n("First Storage Group");
    let mb = || n("Mailbox Store");
    let fault = |f: &str, t: &str| Action::Fault {
        fault: n(f),
        target: n(t),
        link: None,
    };
    vec![
        Action::StartService {
            host: n("EXCH2"),
            service: n("MSExchangeSA"),
        },
        Action::StopService {
            host: n("EXCH1"),
            service: n("POP3Svc"),
        },
        Action::MountStore {
            host: n("EXCH2"),
            group: sg(),
            store: mb(),
        },
        Action::DismountStore {
            host: n("EXCH1"),
            group: sg(),
            store: mb(),
        },
        Action::SetOverwrite {
            host: n("EXCH2"),
            group: sg(),
            store: mb(),
            on: true,
        },
        Action::TakeOverIdentity {
            from: n("EXCH1"),
            to: n("EXCH2"),
            ip: true,
            name: true,
        },
        Action::ReleaseIdentity {
            from: n("EXCH1"),
            to: n("EXCH2"),
            ip: true,
            name: true,
        },
        Action::Rename {
            host: n("EXCH2"),
            name: n("EXCH1"),
            previous: Some(n("EXCH2")),
        },
        Action::JoinDomain {
            host: n("EXCH2"),
            domain: n("corp.example.com"),
        },
        Action::LeaveDomain {
            host: n("EXCH2"),
            domain: n("corp.example.com"),
        },
        Action::Reboot { host: n("EXCH2") },
        Action::CreateComputer {
            dc: n("DC1"),
            name: n("EXCH3"),
        },
        Action::RemoveComputer {
            dc: n("DC1"),
            name: n("EXCH3"),
        },
        Action::RenameComputer {
            dc: n("DC1"),
            old: n("EXCH1"),
            new: n("EXCH1TMP"),
        },
        Action::SetMailboxHome {
            dc: n("DC1"),
            mailbox: n("alice"),
            server: n("EXCH2"),
            group: sg(),
            store: mb(),
            previous: Some([n("EXCH1"), sg(), mb()]),
        },
        Action::DnsAdd {
            server: n("DC1"),
            name: n("exch1.corp.example.com"),
            rtype: RecordType::A,
            data: n("10.0.0.12"),
            ttl_s: 300,
        },
        Action::DnsDelete {
            server: n("DC1"),
            name: n("exch1.corp.example.com"),
            rtype: RecordType::A,
            data: n("10.0.0.11"),
            ttl_s: 1200,
        },
        Action::PauseReplication {
            source: n("EXCH1"),
            target: n("EXCH2"),
        },
        Action::ResumeReplication {
            source: n("EXCH1"),
            target: n("EXCH2"),
        },
        Action::ConnectReplication {
            source: n("EXCH2"),
            target: n("EXCH1"),
            mirror: MirrorMode::Difference,
        },
        Action::DisconnectReplication {
            source: n("EXCH1"),
            target: n("EXCH2"),
        },
        Action::Restore {
            from: n("EXCH2"),
            to: n("EXCH1"),
            only_if_newer: true,
        },
        fault("crash-host", "EXCH1"),
        fault("kill-service", "EXCH1:MSExchangeIS"),
        fault("partition", "EXCH1<->EXCH2"),
        fault("corrupt-store", "EXCH1:First Storage Group/Mailbox Store"),
        Action::Fault {
            fault: n("degrade-link"),
            target: n("EXCH1<->EXCH2"),
            link: Some(LinkChange {
                bandwidth_mbps: Some(2.0),
                ..LinkChange::default()
            }),
        },
        Action::Repair {
            fault: n("power-on"),
            target: n("EXCH1"),
        },
        Action::Repair {
            fault: n("heal"),
            target: n("EXCH1<->EXCH2"),
        },
        Action::Repair {
            fault: n("start-service"),
            target: n("EXCH1:MSExchangeIS"),
        },
        Action::SetStartup {
            host: n("EXCH2"),
            service: n("MSExchangeIS"),
            startup: StartupType::Automatic,
            previous: Some(StartupType::Manual),
        },
        Action::BootOn {
            host: n("EXCH1"),
            server: n("R1"),
        },
        Action::Recovery {
            host: n("EXCH2"),
            group: sg(),
            store: mb(),
            hard: false,
        },
        Action::ForceReplication {
            from: n("DC2"),
            to: n("DC1"),
        },
        Action::Grant {
            volume: n("V1"),
            initiator: n("iqn.x"),
        },
        Action::Revoke {
            volume: n("V1"),
            initiator: n("iqn.x"),
        },
        Action::Attach {
            host: n("EXCH1"),
            volume: n("V1"),
        },
        Action::Detach {
            host: n("EXCH1"),
            volume: n("V1"),
        },
        Action::Snapshot {
            volume: n("V1"),
            name: n("snap"),
        },
        Action::SetPortVlans {
            server: n("R1"),
            vlans: vec![10, 20],
            previous: None,
        },
        Action::TakeArchive {
            host: n("EXCH2"),
            level_h: 24,
        },
        Action::RestoreArchive {
            id: n("EXCH2-24h-1700000000000000"),
            host: n("EXCH2"),
        },
        Action::FlushCache {
            client: n("hq-users"),
        },
    ]
}

#[test]
fn every_variant_has_an_action_to_check() {
    let seen: BTreeSet<usize> = every_action().iter().map(variant).collect();
    assert_eq!(seen, (0..VARIANTS).collect::<BTreeSet<_>>());
}

#[test]
fn a_scenario_host_on_an_ipv6_lab_address_is_refused_before_anything_runs() {
    // The scenario's addresses are IPv4 and its DNS records follow each
    // host to its lab address; an IPv6 one would leave them unmapped.
    let dir = tempfile::tempdir().unwrap();
    let t = inventory_text(dir.path(), "linux").replace("address = '127.0.0.2'", "address = '::1'");
    let inv = Inventory::parse(Path::new("unit.toml"), &t).unwrap_or_else(|e| panic!("{e}\n{t}"));
    let e = LabBackend::connect(inv, drlab_drill::estate::of(&scenario())).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("host EXCH1 has the IPv6 address ::1") && msg.contains("IPv4"),
        "{msg}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The operations of `v`'s lines, checked for secrets.
fn no_secret(what: &str, v: &[String]) {
    for l in v {
        assert!(
            !l.contains(SECRET) && !l.contains(SECRET_B64),
            "{what}: a secret in {l}"
        );
    }
}

#[test]
fn the_plan_of_every_action_is_what_the_backend_plans_and_sends() {
    let s = scenario();
    let rt = runtime();
    for dialect in ["linux", "windows"] {
        let dir = tempfile::tempdir().unwrap();
        let inv = inventory(dir.path(), dialect);
        let mut estate = drlab_drill::estate::of(&s);
        // the volume of the SAN actions
        estate.volumes.push(drlab_real::lab::estate::Volume {
            name: n("V1"),
            initiators: vec![n("iqn.x")],
        });
        let renderer = Renderer::new(inv.clone(), estate.clone());
        let backend = LabBackend::connect(inv, estate).unwrap();
        let mut refused = 0;
        for (i, a) in every_action().iter().enumerate() {
            let planned = renderer.ops(a);
            // the SAN actions run on the lab's SAN host (and Linux hosts)
            if dialect == "linux" && (28..=32).contains(&variant(a)) {
                assert!(planned.is_ok(), "{a}: {planned:?}");
            }
            let result = rt.block_on(perform(&backend, a));
            let issued = backend.issued();
            assert_eq!(issued.len(), i + 1, "{dialect}: {a}: one call per action");
            let call = issued.last().unwrap();
            // The same builder with the same arguments: the whole
            // operations, PowerShell's encoded command lines included.
            assert_eq!(call.planned, planned, "{dialect}: {a} ({})", call.method);
            match &planned {
                Ok(ops) => {
                    // What was sent is the plan's start: the first operation
                    // always, the rest until one found no peer.
                    assert!(!call.sent.is_empty() || ops.is_empty(), "{dialect}: {a}");
                    assert_eq!(call.sent[..], ops[..call.sent.len()], "{dialect}: {a}");
                    assert_eq!(
                        call.lines(),
                        renderer.render(a)[..call.sent.len()],
                        "{dialect}: {a}"
                    );
                }
                Err(e) => {
                    refused += 1;
                    assert!(call.sent.is_empty(), "{dialect}: {a}");
                    assert_eq!(result.as_ref().unwrap_err(), e, "{dialect}: {a}");
                    assert_eq!(call.lines(), renderer.render(a), "{dialect}: {a}");
                }
            }
            no_secret(&format!("{dialect}: {a}"), &renderer.render(a));
            if let Err(e) = &result {
                no_secret(&format!("{dialect}: {a} (error)"), &[e.to_string()]);
            }
        }
        // the switch, boot-on, leaving the domain, corrupting a store (and
        // on Windows the SAN login: libiscsi is the Linux hosts')
        assert!(refused >= 4, "{dialect}: {refused} refused");
    }
}

#[test]
fn a_windows_start_is_planned_with_its_wait_and_a_powershell_quoted_name() {
    let s = scenario();
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "windows");
    let renderer = Renderer::new(inv.clone(), drlab_drill::estate::of(&s));
    let a = Action::StartService {
        host: n("EXCH2"),
        service: n("it's $(evil)"),
    };
    let plan = renderer.render(&a);
    assert_eq!(plan.len(), 1, "{plan:?}");
    let line = &plan[0];
    assert!(
        line.starts_with("ssh -p 1 root@127.0.0.3 (EXCH2): powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "),
        "{line}"
    );
    assert!(
        line.contains("Start-Service -Name 'it''s $(evil)'"),
        "{line}"
    );
    assert!(
        line.contains("$drlabService.WaitForStatus('Running', [TimeSpan]::FromSeconds(60))"),
        "{line}"
    );
    // the old renderer's line, which the backend never sent
    assert!(!line.contains("powershell Start-Service -Name"), "{line}");
    // and it is the backend's own: the builder it calls, the line of what it sends
    let backend = LabBackend::connect(inv, drlab_drill::estate::of(&s)).unwrap();
    let _ = runtime().block_on(perform(&backend, &a));
    let call = &backend.issued()[0];
    assert_eq!(call.lines(), plan);
    let Ok(ops) = &call.planned else {
        panic!("{call:?}")
    };
    let LabOp::Ssh(op) = &ops[0] else {
        panic!("{ops:?}")
    };
    let c = drlab_real::dialect::windows::start_service("it's $(evil)", 60).unwrap();
    assert_eq!(op.command, c.command_line());
    assert_eq!(op.script.as_deref(), Some(c.script.as_str()));
    // a Windows host's startup type is Set-Service, not drlab-svc
    let a = Action::SetStartup {
        host: n("EXCH2"),
        service: n("MSExchangeIS"),
        startup: StartupType::Manual,
        previous: None,
    };
    let plan = renderer.render(&a);
    assert!(
        plan[0].contains("Set-Service -Name 'MSExchangeIS' -StartupType Manual"),
        "{plan:?}"
    );
    assert!(!plan[0].contains("drlab-svc"), "{plan:?}");
}

#[test]
fn a_journalled_action_has_the_commands_of_the_call_it_came_from() {
    // The wrapper turns each call into an action before the call is made;
    // rendered again, that action gives the call's own operations (so the
    // plan, made from actions, is the plan of the calls).
    let s = scenario();
    let dir = tempfile::tempdir().unwrap();
    for dialect in ["linux", "windows"] {
        let renderer = Renderer::new(inventory(dir.path(), dialect), drlab_drill::estate::of(&s));
        let sim = drlab_sim::SimBackend::new(drlab_sim::world::World::build(&s, 1));
        let sink = PlanSink::new(|a| renderer.render(a));
        let rec = Recorder::new();
        let recorded = Recorded::new(&sim, &sink, &rec, Known::from_scenario(&s));
        for a in every_action() {
            let _ = drlab_sim::block_on(sim.clock(), perform(&recorded, &a), drlab_sim::POLLS_MAX);
        }
        let lines = sink.into_lines();
        assert_eq!(lines.len(), every_action().len());
        for (l, a) in lines.iter().zip(every_action()) {
            match &a {
                // the undo of a killed service is a start of it
                Action::Repair { fault, target } if fault == "start-service" => {
                    let (host, service) = target.split_once(':').unwrap();
                    assert_eq!(
                        l.action,
                        Action::StartService {
                            host: n(host),
                            service: n(service)
                        }
                    );
                }
                _ => assert_eq!(l.action.to_string(), a.to_string(), "{dialect}"),
            }
            assert_eq!(l.commands, renderer.render(&a), "{dialect}: {a}");
            assert_eq!(l.commands, lines_of(&renderer, &l.action), "{dialect}: {a}");
        }
    }
}

fn lines_of(r: &Renderer, a: &Action) -> Vec<String> {
    lines(&r.ops(a))
}
