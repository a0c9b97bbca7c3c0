//! The two-site DR system of the patent "System and method for application
//! monitoring and automatic disaster recovery for high-availability" (002):
//! intelligent agents reporting every 30 s ([`super::agents`]), the finite
//! state machine of Figure 2 (eight states, nine transitions, enforced by
//! [`drlab_drivers::dr`]), the failure switch-over process 300 of Figures
//! 3A-3C, the switch-back ("the identical flow (but from secondary
//! environment 106 to primary environment 102)"), and Auto Pilot
//! ([`super::autopilot`]).
//!
//! Process 300, step by step as the patent numbers it:
//!
//! - 302 a single user action engages it (or Auto Pilot, or the planned
//!   maintenance time); 304 is the primary available (its agent reports)?
//! - 306 "all configured Exchange database stores ... are dismounted";
//!   308 "the following services ... are stopped for Exchange: POP3, IMAP4,
//!   MSMTA, MSIS, MSRESVC, MSSA, WWW and IIS Admin" (a stop also stops the
//!   service's dependents, as Windows does; the services are then set to
//!   manual: "all services within primary environment 102 are placed in a
//!   standby state");
//! - 310 "synchronization ... is paused and all remaining data changes in
//!   the replication queue are sent to secondary environment 106" (the
//!   queue is flushed until the target is idle, then paused); 312 the
//!   source "is disconnected from the application on target server";
//! - 314/316 the user confirms, or "the confirmation interval times out
//!   (e.g., after ten seconds)"; 318 on abort "the services would be
//!   restored/reverted back to primary environment 102, if available,
//!   otherwise an alert ... would be sent"; 320 the determination of 304 is
//!   repeated;
//! - 322 the primary's hostname is removed from Active Directory; 324a-b
//!   both hosts are removed from the domain; 326a-b the primary is renamed
//!   `<primaryName>tmp` and the secondary takes the primary's name; 328a-b
//!   both reboot; 330a-b both rejoin the domain; 332 AD replication is
//!   forced; 334/336 the DNS host records follow the names;
//! - 338 a replication session secondary → primary (RS2) starts and 340 is
//!   paused; 342 "IIS Admin, NNTP, WWW, SMTP, SA, RE, MSIS, MTA, IMAP and POP3
//!   services are started"; 344 is the Information Store running? 346 are the
//!   stores mounted? 348 "at least two attempts are made to mount", 352 soft
//!   recovery, 354 did it work? 356 hard recovery, back to 348;
//! - 358 are DNS servers 136a-b available? If not, "the failure switch-over
//!   process has failed" (360); 362 "the MX record ... and any other records
//!   for Web mail access are changed to reflect the IP address(es) of the
//!   servers within secondary site", TTL zero (the MX record names the
//!   mail host, whose A record moves with the webmail records listed in
//!   `redirect_records`); 364-368 unpause RS2 or not.
//!
//! "In the event primary environment 102 no longer exists (e.g., due to a
//! disaster), ... steps 324a-330a are bypassed", as are 306-312 (304 goes
//! straight to 314) and every other step that needs the primary's site: they
//! are recorded as skipped with the reason.
//!
//! States: an agent finding takes Normal to Degrading Primary (204) or, with
//! the primary healthy and users cut off, to Degraded User Access (230); the
//! single action (or Auto Pilot) engages the secondary (208 or 234);
//! process 300 succeeds (212). The switch-back: 216 into ReSync Primary
//! (RS2 unpaused, or established with a difference mirror when the primary
//! was lost, until the primary has applied the cached changes), 220 into
//! Engaging Primary (process 300 reversed), 224 into ReSync Secondary (the
//! forward session unpaused and drained), 228 back to Normal. A planned
//! switchover has no fault: Figure 2 has no edge from Normal to Engaging
//! Secondary, so the operator's maintenance declaration is 204 and the
//! engagement 208.
//!
//! Modelling choices the patent does not spell out: the switch-back gives
//! the secondary its original name back (so a second failover works the same
//! way); the replicated stores get the "overwrite on restore" flag before
//! they mount (Exchange refuses a database copied from another server
//! otherwise: the patent's system replicates with Double-Take, as the guide
//! does); a failed service start is retried after a wait, since a service
//! cannot start before its dependencies are ready.

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::time::Duration;

use drlab_drivers::event::Decision;
use drlab_drivers::types::{
    DnsRecord, RecordType, ReplicationState, ServiceState, StartupType, StoreRef,
};
use drlab_drivers::{Backend, EventKind, OpError, Timestamp, Transition};
use futures::future::join;

use super::Completed;
use super::agents::{self, Finding, Watch};
use super::refs::{
    dc_for, domain_name, ip_of, resolved, store_service, stores_of, unresolved, zone,
};
use super::steps::{fqdn, net_stop, skip, start_retried};
use crate::context::{Ctx, StepFailed, fmt_secs};
use crate::drill::{Detection, Drill};
use crate::format::{Confirmation, DecisionPolicy, Role, Scenario, TwoSiteParams};
use crate::path;
use crate::validate::{Problems, host, is_role, known, non_negative, positive};

/// Which way process 300 runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// Primary → secondary.
    Failover,
    /// Secondary → primary ("FB" in the patent's figures).
    SwitchBack,
}

/// Who leaves, who takes over, the computer names they have now and the
/// names they end with.
struct Roles {
    from: String,
    to: String,
    from_now: String,
    to_now: String,
    from_name: String,
    to_name: String,
    tag: &'static str,
}

/// `primary_renamed`: whether the failover renamed the primary (it does
/// not when the primary was unavailable).
fn roles(p: &TwoSiteParams, way: Way, primary_renamed: bool) -> Roles {
    let temp = format!("{}{}", p.primary, p.temp_suffix);
    match way {
        Way::Failover => Roles {
            from: p.primary.clone(),
            to: p.secondary.clone(),
            from_now: p.primary.clone(),
            to_now: p.secondary.clone(),
            from_name: temp,
            to_name: p.primary.clone(),
            tag: "",
        },
        Way::SwitchBack => Roles {
            from: p.secondary.clone(),
            to: p.primary.clone(),
            from_now: p.primary.clone(),
            to_now: if primary_renamed {
                temp
            } else {
                p.primary.clone()
            },
            from_name: p.secondary.clone(),
            to_name: p.primary.clone(),
            tag: "FB ",
        },
    }
}

/// The mailbox the probes use (the drill's choice).
fn probe_mailbox(s: &Scenario) -> Result<&str, OpError> {
    s.workload
        .mailboxes
        .first()
        .or(s.mailboxes.first().map(|m| &m.name))
        .map(String::as_str)
        .ok_or_else(|| unresolved("a mailbox for the user-access probes (no [[mailboxes]])"))
}

/// The services the agents watch on the active server.
fn monitored(s: &Scenario, p: &TwoSiteParams) -> Vec<String> {
    p.monitored_services.clone().unwrap_or_else(|| {
        s.exchange
            .iter()
            .flat_map(|x| x.services.iter().map(|v| v.name.clone()))
            .collect()
    })
}

/// The DNS servers of the Active Directory zone (116a-b): the zone of the
/// primary's host name.
fn ad_dns(s: &Scenario, p: &TwoSiteParams) -> Result<Vec<String>, OpError> {
    super::refs::zone_servers(s, &fqdn(s, &p.primary))
}

/// The drill's control loop (see the module documentation).
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &TwoSiteParams) -> &'static str {
    let cx = d.cx();
    let s = cx.s;
    let user_access = if p.watch_user_access {
        match resolved(cx, "agents watch user access", probe_mailbox(s)).await {
            Ok(mailbox) => Some((
                s.workload.client.as_str(),
                s.workload.service_name.as_str(),
                mailbox,
            )),
            Err(e) => {
                d.runbook_finished(&Err(e));
                return "runbook failed";
            }
        }
    } else {
        None
    };
    let w = Watch {
        management: &p.management,
        active: &p.primary,
        standby: &p.secondary,
        services: monitored(s, p),
        interval: drlab_drivers::time::secs(p.agent_interval_s),
        timeout: drlab_drivers::time::secs(p.agent_timeout_s),
        user_access,
    };
    if let Some(at) = p.planned_at_s {
        if d.sleep_until(Timestamp::from_secs_f64(at)).await {
            return "horizon reached";
        }
        d.begin_planned_outage(&format!("{} (planned maintenance switchover)", p.primary));
        cx.fire(Transition::Degrade);
        cx.emit(EventKind::FailoverEngaged {
            by: Decision::Operator,
        });
        cx.fire(Transition::EngageSecondary);
    } else {
        let found = match d.watch(agents::watch(d, &w)).await {
            Ok(f) => f,
            Err(Detection::NoOutage(why)) => return why,
            Err(_) => return "horizon reached",
        };
        match found {
            Finding::Degraded(_) if s.policy.decision == DecisionPolicy::Autopilot => {
                if super::autopilot::restart(d, p, &w).await {
                    let done = Ok(Completed {
                        serving: p.primary.clone(),
                        failed_steps: Vec::new(),
                    });
                    d.runbook_finished(&done);
                    return d.await_restored().await;
                }
                cx.fire(Transition::Degrade);
                if !super::autopilot::wait_before_failover(d).await {
                    return "horizon reached";
                }
                cx.fire(Transition::EngageSecondary);
            }
            Finding::Degraded(_) => {
                cx.fire(Transition::Degrade);
                if !d.decide().await {
                    return "horizon reached";
                }
                cx.fire(Transition::EngageSecondary);
            }
            Finding::UserAccess(_) => {
                cx.fire(Transition::DegradeUserAccess);
                if !d.decide().await {
                    return "horizon reached";
                }
                cx.fire(Transition::EngageFromDegradedAccess);
            }
        }
    }
    let renamed = Cell::new(false);
    let r = process_300(d, p, Way::Failover, &renamed).await;
    if !d.runbook_finished(&r) {
        return "failover failed";
    }
    cx.fire(Transition::SecondaryEngagedSuccess);
    let why = d.await_restored().await;
    match p.switch_back_after_s {
        Some(after) if why == "restored" => switch_back(d, p, &w, after, &renamed).await,
        _ => why,
    }
}

/// Switch-back: ReSync Primary, Engaging Primary (process 300 reversed),
/// ReSync Secondary, Normal.
async fn switch_back<B: Backend>(
    d: &Drill<'_, B>,
    p: &TwoSiteParams,
    w: &Watch<'_>,
    after_s: f64,
    renamed: &Cell<bool>,
) -> &'static str {
    let cx = d.cx();
    let limit = drlab_drivers::time::secs(p.primary_back_limit_s);
    if !agents::await_reporting(d, w, &p.primary, limit).await {
        return "the primary did not report again before the switch-back";
    }
    let at = cx.b.now().after(drlab_drivers::time::secs(after_s));
    if d.sleep_until(at).await {
        return "horizon reached before the switch-back";
    }
    cx.fire(Transition::StandbySuccess);
    let r = resync(cx, p, &p.secondary, &p.primary, "218").await;
    if let Err(e) = r {
        d.runbook_finished(&Err(e));
        return "resync of the primary failed";
    }
    cx.fire(Transition::ReSyncPrimarySuccess);
    let r = process_300(d, p, Way::SwitchBack, renamed).await;
    if !d.runbook_finished(&r) {
        return "switch-back failed";
    }
    cx.fire(Transition::EngagingPrimarySuccess);
    if resync(cx, p, &p.primary, &p.secondary, "226").await.is_ok() {
        cx.fire(Transition::ToNormal);
    }
    d.await_restored().await
}

/// ReSync: the cached changes `from` → `to` are sent (the session is
/// unpaused, or established with a mirror when there is none) until `to`
/// has applied them.
async fn resync<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &TwoSiteParams,
    from: &str,
    to: &str,
    n: &str,
) -> Result<(), StepFailed> {
    let b = cx.b;
    let state = b.queue_status(from, to).await.map(|q| q.state);
    match state {
        Ok(ReplicationState::Paused) => {
            cx.step(
                format!("{n} unpause replication {from} -> {to} (send the cached changes)"),
                b.resume(from, to),
            )
            .await?;
        }
        Ok(ReplicationState::Replicating | ReplicationState::Mirroring) => {}
        Ok(ReplicationState::Disconnected) | Err(_) => {
            let mode = format!("{:?}", p.resync_mirror).to_ascii_lowercase();
            cx.step(
                format!("{n} establish replication {from} -> {to} ({mode} mirror)"),
                b.connect(from, to, p.resync_mirror),
            )
            .await?;
        }
    }
    // Users keep writing: the target is never idle, so "caught up" is the
    // moment the backlog is applied (no idle time).
    cx.step(
        format!("{n} wait until {to} has caught up with {from}"),
        b.wait_drained(
            from,
            to,
            Duration::ZERO,
            drlab_drivers::time::secs(p.flush_limit_s),
        ),
    )
    .await?;
    Ok(())
}

/// Whether `host` answers the management server.
async fn answers<B: Backend>(cx: &Ctx<'_, B>, p: &TwoSiteParams, host: &str) -> bool {
    let t = drlab_drivers::time::secs(p.agent_timeout_s);
    cx.b.ping(&p.management, host, t).await.is_ok()
}

/// Steps 324-330 for one host: leave the domain, take the new name,
/// reboot, join again.
#[allow(clippy::too_many_arguments)]
async fn rename_branch<B: Backend>(
    cx: &Ctx<'_, B>,
    tag: &str,
    n: &str,
    host: &str,
    now_name: &str,
    new_name: &str,
    domain: &str,
) -> Result<(), StepFailed> {
    let b = cx.b;
    let known_as = if now_name == host {
        host.to_string()
    } else {
        format!("{host} (now {now_name})")
    };
    cx.step(
        format!("{tag}324{n} remove {known_as} from the domain"),
        b.leave_domain(host),
    )
    .await?;
    if now_name == new_name {
        skip(
            cx,
            format!("{tag}326{n} rename {known_as} to {new_name}"),
            &format!("{host} is already named {new_name}"),
        );
    } else {
        cx.step(
            format!("{tag}326{n} rename {known_as} to {new_name}"),
            b.rename(host, new_name),
        )
        .await?;
    }
    cx.step(format!("{tag}328{n} reboot {host}"), b.reboot(host))
        .await?;
    cx.step(
        format!("{tag}330{n} join {host} to {domain} as {new_name}"),
        b.join_domain(host, domain),
    )
    .await?;
    Ok(())
}

/// Steps 346-356 for one store: two (or more) mount attempts, soft
/// recovery (352), more attempts if it worked, hard recovery (356, at once
/// when the soft recovery failed: 354), more attempts.
async fn mount_with_recovery<B: Backend>(
    cx: &Ctx<'_, B>,
    tag: &str,
    host: &str,
    st: &StoreRef,
    attempts: u32,
    wait_s: f64,
) -> Result<(), StepFailed> {
    let b = cx.b;
    let mut tries = MountTries { n: 0, last: None };
    if tries.round(cx, tag, host, st, attempts, wait_s).await {
        return Ok(());
    }
    let soft = cx
        .step(
            format!("{tag}352 soft recovery of {st} on {host}"),
            b.soft_recovery(host, st),
        )
        .await;
    if soft.is_ok() && tries.round(cx, tag, host, st, attempts, wait_s).await {
        return Ok(());
    }
    cx.step(
        format!("{tag}356 hard recovery of {st} on {host}"),
        b.hard_recovery(host, st),
    )
    .await?;
    if tries.round(cx, tag, host, st, attempts, wait_s).await {
        return Ok(());
    }
    Err(tries.last.unwrap_or_else(|| StepFailed {
        step: format!("{tag}348 mount {st} on {host}").into(),
        error: OpError::invalid_state("no mount attempt was made"),
    }))
}

/// Mount attempts across the rounds of [`mount_with_recovery`]: attempts
/// are numbered through, and the last failure is kept for the report.
struct MountTries {
    n: u32,
    last: Option<StepFailed>,
}

impl MountTries {
    /// One round of step 348: up to `attempts` mounts, waiting between them
    /// (the store service may report running before it can mount). True
    /// when the store mounted.
    async fn round<B: Backend>(
        &mut self,
        cx: &Ctx<'_, B>,
        tag: &str,
        host: &str,
        st: &StoreRef,
        attempts: u32,
        wait_s: f64,
    ) -> bool {
        for i in 0..attempts {
            if i > 0 {
                super::steps::wait_named(
                    cx,
                    format!("{tag}348 wait {}s", fmt_secs(wait_s)),
                    drlab_drivers::time::secs(wait_s),
                )
                .await;
            }
            self.n += 1;
            match cx
                .step(
                    format!("{tag}348 mount {st} on {host} (attempt {})", self.n),
                    cx.b.mount_store(host, st),
                )
                .await
            {
                Ok(()) => return true,
                Err(e) => self.last = Some(e),
            }
        }
        false
    }
}

/// Step 318: puts the leaving server back in service after an abort.
async fn revert<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &TwoSiteParams,
    r: &Roles,
) -> Result<(), StepFailed> {
    let b = cx.b;
    let from = r.from.as_str();
    for svc in &p.start_order {
        start_retried(
            cx,
            "318 revert: ",
            from,
            svc,
            p.start_attempts_max,
            p.service_retry_wait_s,
        )
        .await?;
    }
    set_startup(cx, "318 revert: ", from, StartupType::Automatic, "active").await?;
    let stores = cx
        .step(
            format!("318 revert: list the stores of {from}"),
            b.list_stores(from),
        )
        .await?;
    for st in stores.iter().filter(|x| !x.mounted) {
        cx.step(
            format!("318 revert: mount {} on {from}", st.id),
            b.mount_store(from, &st.id),
        )
        .await?;
    }
    cx.step(
        format!("318 revert: reconnect replication {from} -> {}", r.to),
        b.connect(from, &r.to, drlab_drivers::types::MirrorMode::None),
    )
    .await?;
    Ok(())
}

/// Sets every Exchange service of `host` to `startup`.
async fn set_startup<B: Backend>(
    cx: &Ctx<'_, B>,
    prefix: &str,
    host: &str,
    startup: StartupType,
    role: &str,
) -> Result<(), StepFailed> {
    let services: Vec<String> =
        cx.s.exchange
            .iter()
            .flat_map(|x| x.services.iter().map(|v| v.name.clone()))
            .collect();
    cx.step(
        format!("{prefix}set the Exchange services of {host} to {startup:?} ({role})"),
        async {
            for svc in &services {
                cx.b.set_startup_type(host, svc, startup).await?;
            }
            Ok(())
        },
    )
    .await
}

/// A host record that follows a rename (334/336): the host's address, its
/// name before and after.
struct Renamed {
    ip: Ipv4Addr,
    old: String,
    new: String,
}

/// The DNS servers of the Active Directory zone and the host records of
/// `hosts` (host, name now, name after) that steps 334/336 change.
fn host_records(
    s: &Scenario,
    p: &TwoSiteParams,
    hosts: &[(&str, &str, &str)],
) -> Result<(Vec<String>, Vec<Renamed>), OpError> {
    let servers = ad_dns(s, p)?;
    let renamed = hosts
        .iter()
        .map(|(h, old, new)| {
            Ok(Renamed {
                ip: ip_of(s, h)?,
                old: fqdn(s, old),
                new: fqdn(s, new),
            })
        })
        .collect::<Result<Vec<Renamed>, OpError>>()?;
    Ok((servers, renamed))
}

/// Steps 334/336 on every DNS server of the Active Directory zone: the old
/// host records deleted, the new ones added. An unavailable server is
/// skipped; when none is available the records did not move, a failure.
/// Failures are kept in `run` (the process goes on).
async fn move_host_records<B: Backend>(run: &Run<'_, B>, servers: &[String], renamed: &[Renamed]) {
    let (cx, b, tag) = (run.cx, run.cx.b, run.r.tag);
    let list = |new: bool| {
        renamed
            .iter()
            .map(|x| format!("{} -> {}", if new { &x.new } else { &x.old }, x.ip))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut reached = 0;
    for server in servers {
        if !answers(cx, run.p, server).await {
            skip(
                cx,
                format!("{tag}334/336 host records on {server}"),
                &format!("{server} is unavailable"),
            );
            continue;
        }
        reached += 1;
        let deleted = cx
            .step(
                format!("{tag}334 on {server} delete {}", list(false)),
                async {
                    for x in renamed {
                        for rec in b.query_server(server, &x.old, RecordType::A).await? {
                            if *rec.data == *x.ip.to_string() {
                                b.delete_record(server, &rec).await?;
                            }
                        }
                    }
                    Ok(())
                },
            )
            .await;
        run.note(deleted);
        let added = cx
            .step(format!("{tag}336 on {server} add {}", list(true)), async {
                for x in renamed {
                    let rec = DnsRecord {
                        name: x.new.as_str().into(),
                        rtype: RecordType::A,
                        data: x.ip.to_string().into(),
                        ttl_s: 1200,
                    };
                    b.add_record(server, &rec).await?;
                }
                Ok(())
            })
            .await;
        run.note(added);
    }
    if reached == 0 {
        let none = cx
            .step(format!("{tag}334/336 host records"), async {
                Err::<(), _>(OpError::unreachable(servers.join(", ")))
            })
            .await;
        run.note(none);
    }
}

/// What the stages of process 300 share: the drill's context and
/// parameters, the way the process runs and who leaves and who takes over,
/// whether the leaving server is available (304, again at 320), and the
/// failed steps the process went on after.
struct Run<'r, B> {
    /// The drill's context.
    cx: &'r Ctx<'r, B>,
    /// The scenario's parameters.
    p: &'r TwoSiteParams,
    /// Which way the process runs.
    way: Way,
    /// Who leaves, who takes over, and their names.
    r: Roles,
    /// Whether the leaving server is available (304, repeated at 320).
    available: bool,
    /// Why the leaving server's steps are bypassed when it is unavailable.
    gone: String,
    /// Whether the failover renamed the primary (set by 324a-330a).
    renamed: &'r Cell<bool>,
    /// The failed steps the process went on after.
    failed: RefCell<Vec<StepFailed>>,
}

impl<'r, B: Backend> Run<'r, B> {
    /// The process as step 302 engages it.
    fn new(cx: &'r Ctx<'r, B>, p: &'r TwoSiteParams, way: Way, renamed: &'r Cell<bool>) -> Self {
        let r = roles(p, way, renamed.get());
        let gone = format!(
            "{} is unavailable (step 304): its environment's steps are bypassed",
            r.from
        );
        Run {
            cx,
            p,
            way,
            r,
            available: false,
            gone,
            renamed,
            failed: RefCell::new(Vec::new()),
        }
    }

    /// The step names' tag, the leaving server and the incoming one.
    fn who(&self) -> (&'static str, &str, &str) {
        (self.r.tag, &self.r.from, &self.r.to)
    }

    /// Keeps a failure for the report (the process goes on); the step's
    /// value when it succeeded.
    fn note<T>(&self, r: Result<T, StepFailed>) -> Option<T> {
        r.map_err(|e| self.failed.borrow_mut().push(e)).ok()
    }

    /// Records a step of the leaving server's environment as bypassed (it
    /// is unavailable).
    fn bypass(&self, name: String) {
        skip(self.cx, name, &self.gone);
    }

    /// The outcome: the incoming server serves.
    fn completed(self) -> Completed {
        Completed {
            serving: self.r.to,
            failed_steps: self.failed.into_inner(),
        }
    }
}

/// Process 300 (or its reverse, the switch-back) as Figures 3A-3C draw it;
/// returns with the incoming server serving. Step 302, the single action
/// (or Auto Pilot, or the planned time), is the caller's.
async fn process_300<B: Backend>(
    d: &Drill<'_, B>,
    p: &TwoSiteParams,
    way: Way,
    primary_renamed: &Cell<bool>,
) -> Result<Completed, StepFailed> {
    let mut run = Run::new(d.cx(), p, way, primary_renamed);
    run.available = is_available(&run, "304", "available").await;
    quiesce_primary(&run).await; // 306-310
    disconnect_and_confirm(&run).await?; // 312-318
    run.available = is_available(&run, "320", "still available").await;
    let ad = remove_primary_from_ad(&run).await?; // 322
    swap_names_and_reboot(&run, &ad).await?; // 324-330
    force_ad_replication(&run, &ad).await; // 332
    dns_host_records(&run).await; // 334/336
    reverse_replication(&run).await; // 338/340
    start_the_secondary(&run).await?; // 342-356
    redirect_users(&run).await?; // 358-362
    unpause_reverse_replication(&run).await; // 364-368
    Ok(run.completed())
}

/// Steps 304 and 320 (`n`): is the leaving server available (does it answer
/// the management server)?
async fn is_available<B: Backend>(run: &Run<'_, B>, n: &str, what: &str) -> bool {
    let (tag, from, _) = run.who();
    run.cx
        .step(format!("{tag}{n} is {from} {what}?"), async {
            if answers(run.cx, run.p, from).await {
                Ok(())
            } else {
                Err(OpError::unreachable(from))
            }
        })
        .await
        .is_ok()
}

/// Steps 306-310 on the leaving server when it is available (304): its
/// stores dismounted (306), its services stopped and placed in standby
/// (308), the replication queue sent and the session paused (310). All
/// bypassed when it is unavailable.
async fn quiesce_primary<B: Backend>(run: &Run<'_, B>) {
    let (tag, from, _) = run.who();
    if run.available {
        dismount_stores(run).await;
        stop_services(run).await;
        send_the_queue_and_pause(run).await;
    } else {
        for st in [
            "306 dismount the stores",
            "308 stop the Exchange services",
            "310 send the replication queue and pause",
        ] {
            run.bypass(format!("{tag}{st} on {from}"));
        }
    }
}

/// Step 306: "all configured Exchange database stores ... are dismounted".
async fn dismount_stores<B: Backend>(run: &Run<'_, B>) {
    let (tag, from, _) = run.who();
    let (cx, b) = (run.cx, run.cx.b);
    let listed = b.list_stores(from).await.map_err(|error| StepFailed {
        step: format!("{tag}306 list the stores of {from}").into(),
        error,
    });
    let Some(stores) = run.note(listed) else {
        return;
    };
    for st in stores.iter().filter(|x| x.mounted) {
        let name = format!("{tag}306 dismount {} on {from}", st.id);
        run.note(cx.step(name, b.dismount_store(from, &st.id)).await);
    }
}

/// Step 308: the services stopped in order (each with its dependents), then
/// set to manual ("placed in a standby state").
async fn stop_services<B: Backend>(run: &Run<'_, B>) {
    let (tag, from, _) = run.who();
    let prefix = format!("{tag}308 ");
    for svc in &run.p.stop_order {
        run.note(net_stop(run.cx, &prefix, from, svc).await);
    }
    let standby = set_startup(run.cx, &prefix, from, StartupType::Manual, "standby");
    run.note(standby.await);
}

/// Step 310: the replication queue sent until the target is idle, then the
/// session paused.
async fn send_the_queue_and_pause<B: Backend>(run: &Run<'_, B>) {
    let (tag, from, to) = run.who();
    let (cx, b, p) = (run.cx, run.cx.b, run.p);
    let name = format!(
        "{tag}310 send the replication queue {from} -> {to} (target idle {} s)",
        fmt_secs(p.flush_idle_s)
    );
    let flushed = b.wait_drained(
        from,
        to,
        drlab_drivers::time::secs(p.flush_idle_s),
        drlab_drivers::time::secs(p.flush_limit_s),
    );
    run.note(cx.step(name, flushed).await);
    let name = format!("{tag}310 pause replication {from} -> {to}");
    run.note(cx.step(name, b.pause(from, to)).await);
}

/// Steps 312-318: the replication session disconnected (312, "RS
/// complete"; bypassed when the leaving server is unavailable), then the
/// operator's confirmation (314-318).
async fn disconnect_and_confirm<B: Backend>(run: &Run<'_, B>) -> Result<(), StepFailed> {
    let (tag, from, to) = run.who();
    if run.available {
        let name = format!("{tag}312 disconnect replication {from} -> {to} (RS complete)");
        run.note(run.cx.step(name, run.cx.b.disconnect(from, to)).await);
    } else {
        run.bypass(format!("{tag}312 disconnect replication on {from}"));
    }
    await_confirmation(run).await
}

/// Steps 314/316: the operator confirms, or the confirmation interval times
/// out (always, for Auto Pilot's zero-action failover: nobody is at the
/// console to answer); an abort is 318.
async fn await_confirmation<B: Backend>(run: &Run<'_, B>) -> Result<(), StepFailed> {
    let (cx, p, tag) = (run.cx, run.p, run.r.tag);
    let answer = if cx.s.policy.decision == DecisionPolicy::Autopilot && run.way == Way::Failover {
        Confirmation::Timeout
    } else {
        p.confirmation
    };
    let timeout = drlab_drivers::time::secs(p.confirmation_timeout_s);
    let (name, wait) = match answer {
        Confirmation::Confirm => (
            format!("{tag}314 wait for the operator's confirmation"),
            drlab_drivers::time::secs(p.confirm_after_s).min(timeout),
        ),
        Confirmation::Timeout => (
            format!(
                "{tag}314 wait for confirmation: none within {} s, continuing (316)",
                fmt_secs(p.confirmation_timeout_s)
            ),
            timeout,
        ),
        Confirmation::Abort => return Err(abort(run).await),
    };
    cx.step(name, async {
        cx.b.sleep(wait).await;
        Ok(())
    })
    .await
}

/// Step 318: the operator aborted (316); the services are reverted to the
/// leaving server if it is available, otherwise an alert is sent. Returns
/// the failure that ends the process.
async fn abort<B: Backend>(run: &Run<'_, B>) -> StepFailed {
    let (tag, from, _) = run.who();
    let cx = run.cx;
    let _ = cx
        .step(format!("{tag}316 the operator aborts"), async { Ok(()) })
        .await;
    let outcome = if run.available {
        match revert(cx, run.p, &run.r).await {
            Ok(()) => format!("services reverted to {from}"),
            Err(e) => format!("reverting to {from} failed ({e})"),
        }
    } else {
        let msg = format!(
            "failover aborted at the confirmation prompt while {from} is unavailable: \
             nobody serves users; contact the site and the service provider"
        );
        cx.emit(EventKind::Alert {
            message: msg.as_str().into(),
        });
        format!("{from} is unavailable: alert sent")
    };
    StepFailed {
        step: format!("{tag}318 abort").into(),
        error: OpError::invalid_state(format!(
            "the operator aborted the switch-over at the confirmation prompt (316); {outcome}"
        )),
    }
}

/// The Active Directory of the switch-over, resolved at step 322: the DCs
/// of the incoming and of the leaving server, and the domain.
struct Directory<'s> {
    /// The incoming server's DC.
    to_dc: String,
    /// The leaving server's DC.
    from_dc: String,
    /// The domain both hosts leave and join again.
    domain: &'s str,
}

/// Step 322: the primary's hostname removed from Active Directory (on the
/// incoming server's DC).
async fn remove_primary_from_ad<'r, B: Backend>(
    run: &Run<'r, B>,
) -> Result<Directory<'r>, StepFailed> {
    let (tag, from, to) = run.who();
    let (cx, s, p) = (run.cx, run.cx.s, run.p);
    let step_322 = format!(
        "{tag}322 remove computer {} from Active Directory",
        p.primary
    );
    let to_dc = resolved(cx, step_322.as_str(), dc_for(s, to, None)).await?;
    let from_dc = resolved(cx, step_322.as_str(), dc_for(s, from, None)).await?;
    let domain = resolved(cx, step_322, domain_name(s)).await?;
    let name = format!(
        "{tag}322 remove computer {} from Active Directory on {to_dc}",
        p.primary
    );
    run.note(
        cx.step(name, cx.b.remove_computer(&to_dc, &p.primary))
            .await,
    );
    Ok(Directory {
        to_dc,
        from_dc,
        domain,
    })
}

/// Steps 324-330, a (the leaving server) and b (the incoming one) side by
/// side: leave the domain, take the new name, reboot, join again. Branch a
/// is bypassed when the leaving server is unavailable; the failover records
/// whether it renamed the primary.
async fn swap_names_and_reboot<B: Backend>(
    run: &Run<'_, B>,
    ad: &Directory<'_>,
) -> Result<(), StepFailed> {
    let (tag, from, to) = run.who();
    let (cx, r) = (run.cx, &run.r);
    let branch_a = async {
        if run.available {
            let done =
                rename_branch(cx, tag, "a", from, &r.from_now, &r.from_name, ad.domain).await;
            if run.way == Way::Failover {
                run.renamed.set(done.is_ok());
            }
            done
        } else {
            for st in [
                "324a leave the domain",
                "326a rename",
                "328a reboot",
                "330a join the domain",
            ] {
                run.bypass(format!("{tag}{st}: {from}"));
            }
            Ok(())
        }
    };
    let branch_b = rename_branch(cx, tag, "b", to, &r.to_now, &r.to_name, ad.domain);
    let (ra, rb) = join(branch_a, branch_b).await;
    run.note(ra);
    rb
}

/// Step 332: Active Directory replication forced both ways between the two
/// DCs (when they differ; skipped when the leaving one does not answer).
async fn force_ad_replication<B: Backend>(run: &Run<'_, B>, ad: &Directory<'_>) {
    let (cx, b, tag) = (run.cx, run.cx.b, run.r.tag);
    let (to_dc, from_dc) = (ad.to_dc.as_str(), ad.from_dc.as_str());
    if from_dc == to_dc {
        return;
    }
    let name = format!("{tag}332 force Active Directory replication {to_dc} <-> {from_dc}");
    if !answers(cx, run.p, from_dc).await {
        skip(cx, name, &format!("{from_dc} is unavailable"));
        return;
    }
    let forced = async {
        b.force_replication(to_dc, from_dc).await?;
        b.force_replication(from_dc, to_dc).await
    };
    run.note(cx.step(name, forced).await);
}

/// Steps 334/336: the DNS host records follow the names (the leaving
/// server's only when it is available).
async fn dns_host_records<B: Backend>(run: &Run<'_, B>) {
    let (tag, from, to) = run.who();
    let r = &run.r;
    let mut moving = Vec::new();
    if run.available {
        moving.push((from, r.from_now.as_str(), r.from_name.as_str()));
    }
    moving.push((to, r.to_now.as_str(), r.to_name.as_str()));
    let records = host_records(run.cx.s, run.p, &moving);
    let records = resolved(run.cx, format!("{tag}334/336 host records"), records).await;
    if let Some((servers, renamed)) = run.note(records) {
        move_host_records(run, &servers, &renamed).await;
    }
}

/// Steps 338/340: a replication session from the incoming server back to
/// the leaving one (RS2) started (338) and paused (340); bypassed when the
/// leaving server is unavailable.
async fn reverse_replication<B: Backend>(run: &Run<'_, B>) {
    let (tag, from, to) = run.who();
    let (cx, b) = (run.cx, run.cx.b);
    let start = format!("{tag}338 start replication {to} -> {from}");
    let pause = format!("{tag}340 pause replication {to} -> {from}");
    if !run.available {
        run.bypass(start);
        run.bypass(pause);
        return;
    }
    let started = cx
        .step(
            start,
            b.connect(to, from, drlab_drivers::types::MirrorMode::None),
        )
        .await;
    if run.note(started).is_some() {
        run.note(cx.step(pause, b.pause(to, from)).await);
    }
}

/// Steps 342-356 on the incoming server: its services started (342), the
/// Information Store running (344), its stores mounted (346-356).
async fn start_the_secondary<B: Backend>(run: &Run<'_, B>) -> Result<(), StepFailed> {
    let is = start_services(run).await?;
    ensure_store_service(run, is).await?;
    mount_the_stores(run).await
}

/// Step 342: the services started in order (a failed start retried), then
/// set to automatic. Returns the Information Store's service, whose start
/// 344 checks.
async fn start_services<'r, B: Backend>(run: &Run<'r, B>) -> Result<&'r str, StepFailed> {
    let (tag, _, to) = run.who();
    let (cx, p) = (run.cx, run.p);
    let prefix = format!("{tag}342 ");
    let is = resolved(
        cx,
        format!("{tag}342 start the Exchange services on {to}"),
        store_service(cx.s),
    )
    .await?;
    for svc in &p.start_order {
        let started = start_retried(
            cx,
            &prefix,
            to,
            svc,
            p.start_attempts_max,
            p.service_retry_wait_s,
        )
        .await;
        // The Information Store is checked by 344.
        if svc != is {
            run.note(started);
        }
    }
    run.note(set_startup(cx, &prefix, to, StartupType::Automatic, "active").await);
    Ok(is)
}

/// Step 344: is the Information Store (`is`) running on the incoming
/// server? If not, it is started (retried).
async fn ensure_store_service<B: Backend>(run: &Run<'_, B>, is: &str) -> Result<(), StepFailed> {
    let (tag, _, to) = run.who();
    let (cx, p) = (run.cx, run.p);
    let checked = cx
        .step(format!("{tag}344 is {is} running on {to}?"), async {
            match cx.b.service_status(to, is).await? {
                ServiceState::Running => Ok(()),
                _ => Err(OpError::invalid_state(format!(
                    "{is} is not running on {to}"
                ))),
            }
        })
        .await;
    if checked.is_ok() {
        return Ok(());
    }
    let prefix = format!("{tag}344 ");
    start_retried(
        cx,
        &prefix,
        to,
        is,
        p.start_attempts_max,
        p.service_retry_wait_s,
    )
    .await
}

/// Steps 346-356: the stores the incoming server reports (which include
/// those the scenario lays out: the step's name counts these) get
/// "overwrite on restore"; each one not mounted goes through
/// [`mount_with_recovery`].
async fn mount_the_stores<B: Backend>(run: &Run<'_, B>) -> Result<(), StepFailed> {
    let (tag, _, to) = run.who();
    let (cx, b, p) = (run.cx, run.cx.b, run.p);
    let laid_out = resolved(
        cx,
        format!("{tag}346 set 'overwrite on restore' on the replicated stores of {to}"),
        stores_of(cx.s, to),
    )
    .await?;
    let name = format!(
        "{tag}346 set 'overwrite on restore' on the {} replicated stores of {to}",
        laid_out.len()
    );
    let stores = cx
        .step(name, async {
            let stores = b.list_stores(to).await?;
            if let Some(st) = laid_out
                .iter()
                .find(|st| !stores.iter().any(|x| x.id == **st))
            {
                return Err(OpError::not_found(format!("store {st} on {to}")));
            }
            for st in &stores {
                b.set_overwrite_on_restore(to, &st.id, true).await?;
            }
            Ok(stores)
        })
        .await?;
    for st in stores.iter().filter(|x| !x.mounted) {
        let (attempts, wait_s) = (p.mount_attempts, p.service_retry_wait_s);
        run.note(mount_with_recovery(cx, tag, to, &st.id, attempts, wait_s).await);
    }
    Ok(())
}

/// Steps 358-362: users are sent to the incoming server, through the DNS
/// servers for the mail records that answer.
async fn redirect_users<B: Backend>(run: &Run<'_, B>) -> Result<(), StepFailed> {
    let reachable = dns_servers_available(run).await?;
    move_mail_records(run, reachable).await
}

/// Step 358: are the DNS servers for the mail records (136a-b) available?
/// Those that answer; when none does, 360: "the failure switch-over process
/// has failed".
async fn dns_servers_available<'r, B: Backend>(
    run: &Run<'r, B>,
) -> Result<Vec<&'r str>, StepFailed> {
    let (cx, p, tag) = (run.cx, run.p, run.r.tag);
    let mut reachable: Vec<&str> = Vec::new();
    let probe = p.redirect_records.first().map_or("", String::as_str);
    for ns in &p.public_dns {
        if cx.b.query_server(ns, probe, RecordType::A).await.is_ok() {
            reachable.push(ns);
        }
    }
    let servers = p.public_dns.join(", ");
    cx.step(
        format!("{tag}358 are the DNS servers {servers} available?"),
        async {
            if reachable.is_empty() {
                Err(OpError::unreachable(p.public_dns.join(", ")))
            } else {
                Ok(())
            }
        },
    )
    .await
    .map_err(|e| StepFailed {
        step: format!("{tag}360 failure switch-over failed").into(),
        error: OpError::invalid_state(format!(
            "no DNS server for the mail records answers ({servers}): {}",
            e.error
        )),
    })?;
    Ok(reachable)
}

/// Step 362: on each DNS server that answered (358), the MX host's and the
/// webmail records (`redirect_records`) point at the incoming server, with
/// the configured TTL (zero).
async fn move_mail_records<B: Backend>(
    run: &Run<'_, B>,
    reachable: Vec<&str>,
) -> Result<(), StepFailed> {
    let (tag, _, to) = run.who();
    let (cx, b, p) = (run.cx, run.cx.b, run.p);
    let records = p.redirect_records.join(", ");
    let to_ip = resolved(
        cx,
        format!("{tag}362 move {records} to {to}"),
        ip_of(cx.s, to),
    )
    .await?;
    for ns in reachable {
        let name = format!(
            "{tag}362 {ns}: {records} -> {to_ip} (TTL {} s)",
            p.redirect_ttl_s
        );
        let moved = cx
            .step(name, async {
                for name in &p.redirect_records {
                    for rec in b.query_server(ns, name, RecordType::A).await? {
                        b.delete_record(ns, &rec).await?;
                    }
                    let rec = DnsRecord {
                        name: name.as_str().into(),
                        rtype: RecordType::A,
                        data: to_ip.to_string().into(),
                        ttl_s: p.redirect_ttl_s,
                    };
                    b.add_record(ns, &rec).await?;
                }
                Ok(())
            })
            .await;
        run.note(moved);
    }
    Ok(())
}

/// Steps 364-368: is RS2 unpaused? The switch-back leaves that to ReSync
/// Secondary (226); there is no session when the leaving server was
/// unavailable; otherwise `unpause_reverse` decides (366 unpause, 368 keep
/// it paused).
async fn unpause_reverse_replication<B: Backend>(run: &Run<'_, B>) {
    let (tag, from, to) = run.who();
    let cx = run.cx;
    let ask = format!("{tag}364 unpause replication {to} -> {from}?");
    let unpause = format!("{tag}366 unpause replication {to} -> {from}");
    if run.way == Way::SwitchBack {
        skip(
            cx,
            ask,
            "ReSync Secondary (226) unpauses it once users are back",
        );
    } else if !run.available {
        skip(
            cx,
            ask,
            &format!("no replication session: {from} is unavailable"),
        );
    } else if run.p.unpause_reverse {
        run.note(cx.step(unpause, cx.b.resume(to, from)).await);
    } else {
        skip(
            cx,
            unpause,
            &format!("368: kept paused, changes are cached on {to} (maintenance on {from} first)"),
        );
    }
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &TwoSiteParams, p: &mut Problems) {
    let exch = |n: &str| host(s, n).filter(|h| h.exchange.is_some());
    let (pri, sec) = (exch(&r.primary), exch(&r.secondary));
    if pri.is_none() {
        p.push((
            path!("runbook", "primary"),
            format!("{:?} is not an Exchange host", r.primary),
        ));
    }
    if sec.is_none() {
        p.push((
            path!("runbook", "secondary"),
            format!("{:?} is not an Exchange host", r.secondary),
        ));
    }
    if let (Some(a), Some(b)) = (pri, sec)
        && a.site == b.site
    {
        p.push((
            path!("runbook", "secondary"),
            format!(
                "{} and {} are on the same site: the secondary environment is geographically \
                 dispersed from the primary",
                a.name, b.name
            ),
        ));
    }
    if host(s, &r.management).is_none() {
        p.push((
            path!("runbook", "management"),
            format!("unknown host {:?} for the management server", r.management),
        ));
    }
    if !s
        .replication
        .iter()
        .any(|x| x.source == r.primary && x.target == r.secondary)
    {
        p.push((
            path!("runbook"),
            format!(
                "no [[replication]] connection from {} to {}",
                r.primary, r.secondary
            ),
        ));
    }
    if s.domain.is_none() {
        p.push((
            path!("runbook"),
            "process 300 renames and rejoins hosts in Active Directory: add a [domain]".into(),
        ));
    }
    for (field, h) in [("primary", &r.primary), ("secondary", &r.secondary)] {
        if s.domain.is_some() && dc_for(s, h, None).is_err() {
            p.push((
                path!("runbook", field),
                format!("{h} has no domain controller to talk to"),
            ));
        }
    }
    if s.domain.is_some() && zone(s, &fqdn(s, &r.primary)).is_err() {
        p.push((
            path!("runbook", "primary"),
            format!(
                "steps 334/336 move the host records of {} on the DNS servers of its zone: \
                 no [[dns.zones]] entry with servers holds it",
                fqdn(s, &r.primary)
            ),
        ));
    }
    let exchange_hosts = pri.is_some() && sec.is_some();
    for (field, h) in [("primary", &r.primary), ("secondary", &r.secondary)] {
        if exchange_hosts && stores_of(s, h).is_err() {
            p.push((
                path!("runbook", field),
                format!("{h} has no stores: step 346 prepares the replicated stores to mount"),
            ));
        }
    }
    if r.public_dns.is_empty() {
        p.push((
            path!("runbook", "public_dns"),
            "name the DNS servers (136a-b) that hold the MX and webmail records".into(),
        ));
    }
    for (i, ns) in r.public_dns.iter().enumerate() {
        if !is_role(s, ns, Role::Dns) {
            p.push((
                path!("runbook", "public_dns", i),
                format!("{ns:?} is not a host with the dns role"),
            ));
            continue;
        }
        for name in &r.redirect_records {
            let has = crate::dns::records_on(s, ns)
                .any(|x| x.name.eq_ignore_ascii_case(name) && x.rtype.eq_ignore_ascii_case("A"));
            if !has {
                p.push((
                    path!("runbook", "public_dns", i),
                    format!("{ns} has no A record for {name}"),
                ));
            }
        }
    }
    if r.redirect_records.is_empty() {
        p.push((
            path!("runbook", "redirect_records"),
            "name the MX target and webmail A records that step 362 moves".into(),
        ));
    }
    if !r
        .redirect_records
        .iter()
        .any(|x| x.eq_ignore_ascii_case(&s.workload.service_name))
    {
        p.push((
            path!("runbook", "redirect_records"),
            format!(
                "the users' name {} (workload.service_name) is not among the records step 362 \
                 moves: users would never reach the secondary",
                s.workload.service_name
            ),
        ));
    }
    let services: std::collections::BTreeSet<&str> = s
        .exchange
        .iter()
        .flat_map(|x| x.services.iter().map(|v| v.name.as_str()))
        .collect();
    let lists = [
        ("stop_order", Some(&r.stop_order)),
        ("start_order", Some(&r.start_order)),
        ("monitored_services", r.monitored_services.as_ref()),
    ];
    for (field, list) in lists {
        for (i, svc) in list.into_iter().flatten().enumerate() {
            if !services.contains(svc.as_str()) {
                p.push((
                    path!("runbook", field, i),
                    format!("unknown service {svc:?}; {}", known(&services)),
                ));
            }
        }
    }
    if !(1..=10).contains(&r.start_attempts_max) {
        p.push((
            path!("runbook", "start_attempts_max"),
            format!("must be between 1 and 10, got {}", r.start_attempts_max),
        ));
    }
    if !(2..=10).contains(&r.mount_attempts) {
        p.push((
            path!("runbook", "mount_attempts"),
            format!(
                "step 348 makes at least two mount attempts: between 2 and 10, got {}",
                r.mount_attempts
            ),
        ));
    }
    for (field, x) in [
        ("agent_interval_s", r.agent_interval_s),
        ("agent_timeout_s", r.agent_timeout_s),
        ("flush_limit_s", r.flush_limit_s),
        ("primary_back_limit_s", r.primary_back_limit_s),
    ] {
        positive(p, path!("runbook", field), x, field);
    }
    for (field, x) in [
        ("service_retry_wait_s", r.service_retry_wait_s),
        ("flush_idle_s", r.flush_idle_s),
        ("confirm_after_s", r.confirm_after_s),
        ("confirmation_timeout_s", r.confirmation_timeout_s),
    ] {
        non_negative(p, path!("runbook", field), x, field);
    }
    if let Some(x) = r.switch_back_after_s {
        non_negative(
            p,
            path!("runbook", "switch_back_after_s"),
            x,
            "switch-back delay",
        );
    }
    if let Some(x) = r.planned_at_s {
        non_negative(
            p,
            path!("runbook", "planned_at_s"),
            x,
            "planned switchover time",
        );
        if x > s.scenario.horizon_s {
            p.push((
                path!("runbook", "planned_at_s"),
                format!("{x} s is after the horizon ({} s)", s.scenario.horizon_s),
            ));
        }
    }
    if r.temp_suffix.is_empty() {
        p.push((
            path!("runbook", "temp_suffix"),
            "the outgoing server needs a new name: the suffix must not be empty".into(),
        ));
    }
}
