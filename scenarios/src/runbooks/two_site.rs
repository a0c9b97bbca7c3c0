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

use std::cell::Cell;
use std::time::Duration;

use drlab_drivers::event::Decision;
use drlab_drivers::types::{DnsRecord, RecordType, ReplicationState, StartupType, StoreRef};
use drlab_drivers::{Backend, EventKind, OpError, Timestamp, Transition};
use futures::future::join;

use super::Completed;
use super::agents::{self, Finding, Watch};
use super::steps::{dc_of, fqdn, ip_of, net_stop, skip, start_retried};
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
fn probe_mailbox(s: &Scenario) -> String {
    s.workload
        .mailboxes
        .first()
        .or(s.mailboxes.first().map(|m| &m.name))
        .cloned()
        .unwrap_or_default()
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

/// The DNS servers of the Active Directory zone (116a-b).
fn ad_dns(s: &Scenario, p: &TwoSiteParams) -> Vec<String> {
    crate::dns::zone_of(s, &fqdn(s, &p.primary))
        .map(|z| z.servers.clone())
        .unwrap_or_default()
}

/// The drill's control loop (see the module documentation).
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &TwoSiteParams) -> &'static str {
    let cx = d.cx();
    let s = cx.s;
    let mailbox = probe_mailbox(s);
    let w = Watch {
        management: &p.management,
        active: &p.primary,
        standby: &p.secondary,
        services: monitored(s, p),
        interval: drlab_drivers::time::secs(p.agent_interval_s),
        timeout: drlab_drivers::time::secs(p.agent_timeout_s),
        user_access: p.watch_user_access.then_some((
            s.workload.client.as_str(),
            s.workload.service_name.as_str(),
            mailbox.as_str(),
        )),
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
    let stores = b.list_stores(from).await.unwrap_or_default();
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

/// Process 300 (or its reverse); returns with the incoming server serving.
async fn process_300<B: Backend>(
    d: &Drill<'_, B>,
    p: &TwoSiteParams,
    way: Way,
    primary_renamed: &Cell<bool>,
) -> Result<Completed, StepFailed> {
    let cx = d.cx();
    let (b, s) = (cx.b, cx.s);
    let r = roles(p, way, primary_renamed.get());
    let (from, to, tag) = (r.from.as_str(), r.to.as_str(), r.tag);
    let mut failed: Vec<StepFailed> = Vec::new();
    let gone = format!("{from} is unavailable (step 304): its environment's steps are bypassed");

    // 304
    let mut available = cx
        .step(format!("{tag}304 is {from} available?"), async {
            if answers(cx, p, from).await {
                Ok(())
            } else {
                Err(OpError::unreachable(from))
            }
        })
        .await
        .is_ok();
    if available {
        // 306
        match b.list_stores(from).await {
            Ok(stores) => {
                for st in stores.iter().filter(|x| x.mounted) {
                    if let Err(e) = cx
                        .step(
                            format!("{tag}306 dismount {} on {from}", st.id),
                            b.dismount_store(from, &st.id),
                        )
                        .await
                    {
                        failed.push(e);
                    }
                }
            }
            Err(error) => failed.push(StepFailed {
                step: format!("{tag}306 list the stores of {from}").into(),
                error,
            }),
        }
        // 308
        for svc in &p.stop_order {
            if let Err(e) = net_stop(cx, &format!("{tag}308 "), from, svc).await {
                failed.push(e);
            }
        }
        if let Err(e) = set_startup(
            cx,
            &format!("{tag}308 "),
            from,
            StartupType::Manual,
            "standby",
        )
        .await
        {
            failed.push(e);
        }
        // 310
        let flushed = cx
            .step(
                format!(
                    "{tag}310 send the replication queue {from} -> {to} (target idle {} s)",
                    fmt_secs(p.flush_idle_s)
                ),
                b.wait_drained(
                    from,
                    to,
                    drlab_drivers::time::secs(p.flush_idle_s),
                    drlab_drivers::time::secs(p.flush_limit_s),
                ),
            )
            .await;
        if let Err(e) = flushed {
            failed.push(e);
        }
        if let Err(e) = cx
            .step(
                format!("{tag}310 pause replication {from} -> {to}"),
                b.pause(from, to),
            )
            .await
        {
            failed.push(e);
        }
        // 312
        if let Err(e) = cx
            .step(
                format!("{tag}312 disconnect replication {from} -> {to} (RS complete)"),
                b.disconnect(from, to),
            )
            .await
        {
            failed.push(e);
        }
    } else {
        for st in [
            "306 dismount the stores",
            "308 stop the Exchange services",
            "310 send the replication queue and pause",
            "312 disconnect replication",
        ] {
            skip(cx, format!("{tag}{st} on {from}"), &gone);
        }
    }

    // 314-318
    let answer = if s.policy.decision == DecisionPolicy::Autopilot && way == Way::Failover {
        // Zero-action failover: nobody is at the console to answer.
        Confirmation::Timeout
    } else {
        p.confirmation
    };
    let timeout = drlab_drivers::time::secs(p.confirmation_timeout_s);
    match answer {
        Confirmation::Confirm => {
            let after = drlab_drivers::time::secs(p.confirm_after_s).min(timeout);
            cx.step(
                format!("{tag}314 wait for the operator's confirmation"),
                async {
                    b.sleep(after).await;
                    Ok(())
                },
            )
            .await?;
        }
        Confirmation::Timeout => {
            cx.step(
                format!(
                    "{tag}314 wait for confirmation: none within {} s, continuing (316)",
                    fmt_secs(p.confirmation_timeout_s)
                ),
                async {
                    b.sleep(timeout).await;
                    Ok(())
                },
            )
            .await?;
        }
        Confirmation::Abort => {
            let _ = cx
                .step(format!("{tag}316 the operator aborts"), async { Ok(()) })
                .await;
            let outcome = if available {
                match revert(cx, p, &r).await {
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
            return Err(StepFailed {
                step: format!("{tag}318 abort").into(),
                error: OpError::invalid_state(format!(
                    "the operator aborted the switch-over at the confirmation prompt (316); {outcome}"
                )),
            });
        }
    }

    // 320
    available = cx
        .step(format!("{tag}320 is {from} still available?"), async {
            if answers(cx, p, from).await {
                Ok(())
            } else {
                Err(OpError::unreachable(from))
            }
        })
        .await
        .is_ok();

    // 322
    let domain = s.domain.as_ref().map_or("", |x| x.name.as_str());
    let to_dc = dc_of(s, to).unwrap_or_default();
    let from_dc = dc_of(s, from).unwrap_or_default();
    if let Err(e) = cx
        .step(
            format!(
                "{tag}322 remove computer {} from Active Directory on {to_dc}",
                p.primary
            ),
            b.remove_computer(&to_dc, &p.primary),
        )
        .await
    {
        failed.push(e);
    }

    // 324-330, a and b side by side.
    let branch_a = async {
        if available {
            let done = rename_branch(cx, tag, "a", from, &r.from_now, &r.from_name, domain).await;
            if way == Way::Failover {
                primary_renamed.set(done.is_ok());
            }
            done
        } else {
            for st in [
                "324a leave the domain",
                "326a rename",
                "328a reboot",
                "330a join the domain",
            ] {
                skip(cx, format!("{tag}{st}: {from}"), &gone);
            }
            Ok(())
        }
    };
    let branch_b = rename_branch(cx, tag, "b", to, &r.to_now, &r.to_name, domain);
    let (ra, rb) = join(branch_a, branch_b).await;
    if let Err(e) = ra {
        failed.push(e);
    }
    rb?;

    // 332
    if from_dc != to_dc {
        if answers(cx, p, &from_dc).await {
            let forced = cx
                .step(
                    format!("{tag}332 force Active Directory replication {to_dc} <-> {from_dc}"),
                    async {
                        b.force_replication(&to_dc, &from_dc).await?;
                        b.force_replication(&from_dc, &to_dc).await
                    },
                )
                .await;
            if let Err(e) = forced {
                failed.push(e);
            }
        } else {
            skip(
                cx,
                format!("{tag}332 force Active Directory replication {to_dc} <-> {from_dc}"),
                &format!("{from_dc} is unavailable"),
            );
        }
    }

    // 334/336: host records follow the names.
    let mut renamed: Vec<(String, String, String)> = Vec::new();
    if available {
        renamed.push((from.to_string(), r.from_now.clone(), r.from_name.clone()));
    }
    renamed.push((to.to_string(), r.to_now.clone(), r.to_name.clone()));
    for server in ad_dns(s, p) {
        if !answers(cx, p, &server).await {
            skip(
                cx,
                format!("{tag}334/336 host records on {server}"),
                &format!("{server} is unavailable"),
            );
            continue;
        }
        let records = |new: bool| {
            renamed
                .iter()
                .filter_map(|(h, old, fresh)| {
                    let n = if new { fresh } else { old };
                    ip_of(s, h).map(|ip| format!("{} -> {ip}", fqdn(s, n)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let deleted = cx
            .step(
                format!("{tag}334 on {server} delete {}", records(false)),
                async {
                    for (h, old, _) in &renamed {
                        let Some(ip) = ip_of(s, h) else { continue };
                        let name = fqdn(s, old);
                        for rec in b.query_server(&server, &name, RecordType::A).await? {
                            if *rec.data == *ip.to_string() {
                                b.delete_record(&server, &rec).await?;
                            }
                        }
                    }
                    Ok(())
                },
            )
            .await;
        if let Err(e) = deleted {
            failed.push(e);
        }
        let added = cx
            .step(
                format!("{tag}336 on {server} add {}", records(true)),
                async {
                    for (h, _, new) in &renamed {
                        let Some(ip) = ip_of(s, h) else { continue };
                        let rec = DnsRecord {
                            name: fqdn(s, new).into(),
                            rtype: RecordType::A,
                            data: ip.to_string().into(),
                            ttl_s: 1200,
                        };
                        b.add_record(&server, &rec).await?;
                    }
                    Ok(())
                },
            )
            .await;
        if let Err(e) = added {
            failed.push(e);
        }
    }

    // 338/340
    if available {
        let started = cx
            .step(
                format!("{tag}338 start replication {to} -> {from}"),
                b.connect(to, from, drlab_drivers::types::MirrorMode::None),
            )
            .await;
        match started {
            Ok(()) => {
                if let Err(e) = cx
                    .step(
                        format!("{tag}340 pause replication {to} -> {from}"),
                        b.pause(to, from),
                    )
                    .await
                {
                    failed.push(e);
                }
            }
            Err(e) => failed.push(e),
        }
    } else {
        skip(
            cx,
            format!("{tag}338 start replication {to} -> {from}"),
            &gone,
        );
        skip(
            cx,
            format!("{tag}340 pause replication {to} -> {from}"),
            &gone,
        );
    }

    // 342
    let is = s
        .exchange
        .as_ref()
        .map_or("MSExchangeIS", |x| x.store_service.as_str());
    for svc in &p.start_order {
        let started = start_retried(
            cx,
            &format!("{tag}342 "),
            to,
            svc,
            p.start_attempts_max,
            p.service_retry_wait_s,
        )
        .await;
        // The Information Store is checked by 344.
        if let Err(e) = started
            && svc != is
        {
            failed.push(e);
        }
    }
    if let Err(e) = set_startup(
        cx,
        &format!("{tag}342 "),
        to,
        StartupType::Automatic,
        "active",
    )
    .await
    {
        failed.push(e);
    }
    // 344
    let running = matches!(
        b.service_status(to, is).await,
        Ok(drlab_drivers::types::ServiceState::Running)
    );
    let checked = cx
        .step(format!("{tag}344 is {is} running on {to}?"), async {
            if running {
                Ok(())
            } else {
                Err(OpError::invalid_state(format!(
                    "{is} is not running on {to}"
                )))
            }
        })
        .await;
    if checked.is_err() {
        start_retried(
            cx,
            &format!("{tag}344 "),
            to,
            is,
            p.start_attempts_max,
            p.service_retry_wait_s,
        )
        .await?;
    }
    // 346-356
    let stores = b.list_stores(to).await.unwrap_or_default();
    cx.step(
        format!(
            "{tag}346 set 'overwrite on restore' on the {} replicated stores of {to}",
            stores.len()
        ),
        async {
            for st in &stores {
                b.set_overwrite_on_restore(to, &st.id, true).await?;
            }
            Ok(())
        },
    )
    .await?;
    for st in stores.iter().filter(|x| !x.mounted) {
        if let Err(e) = mount_with_recovery(
            cx,
            tag,
            to,
            &st.id,
            p.mount_attempts,
            p.service_retry_wait_s,
        )
        .await
        {
            failed.push(e);
        }
    }

    // 358
    let mut reachable: Vec<&str> = Vec::new();
    let probe = p.redirect_records.first().map_or("", String::as_str);
    for ns in &p.public_dns {
        if b.query_server(ns, probe, RecordType::A).await.is_ok() {
            reachable.push(ns);
        }
    }
    cx.step(
        format!(
            "{tag}358 are the DNS servers {} available?",
            p.public_dns.join(", ")
        ),
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
            "no DNS server for the mail records answers ({}): {}",
            p.public_dns.join(", "),
            e.error
        )),
    })?;
    // 362
    let Some(to_ip) = ip_of(s, to) else {
        return Err(StepFailed {
            step: format!("{tag}362").into(),
            error: OpError::not_found(format!("address of {to}")),
        });
    };
    for ns in reachable {
        let moved = cx
            .step(
                format!(
                    "{tag}362 {ns}: {} -> {to_ip} (TTL {} s)",
                    p.redirect_records.join(", "),
                    p.redirect_ttl_s
                ),
                async {
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
                },
            )
            .await;
        if let Err(e) = moved {
            failed.push(e);
        }
    }
    // 364-368
    if way == Way::SwitchBack {
        skip(
            cx,
            format!("{tag}364 unpause replication {to} -> {from}?"),
            "ReSync Secondary (226) unpauses it once users are back",
        );
    } else if !available {
        skip(
            cx,
            format!("{tag}364 unpause replication {to} -> {from}?"),
            &format!("no replication session: {from} is unavailable"),
        );
    } else if p.unpause_reverse {
        if let Err(e) = cx
            .step(
                format!("{tag}366 unpause replication {to} -> {from}"),
                b.resume(to, from),
            )
            .await
        {
            failed.push(e);
        }
    } else {
        skip(
            cx,
            format!("{tag}366 unpause replication {to} -> {from}"),
            &format!("368: kept paused, changes are cached on {to} (maintenance on {from} first)"),
        );
    }
    Ok(Completed {
        serving: to.to_string(),
        failed_steps: failed,
    })
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
        if s.domain.is_some()
            && !dc_of(s, h).is_some_and(|dc| is_role(s, &dc, Role::DomainController))
        {
            p.push((
                path!("runbook", field),
                format!("{h} has no domain controller to talk to"),
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
