//! Automatic re-provisioning of a failed Exchange 2010 DAG member with Dell
//! AIM (Dell AIM paper, "Improved Exchange availability with AIM" and
//! "Failover scenario"), alongside Active Manager ([`super::dag`]):
//!
//! 1. "The AIM controller also detects that Exchange Server-1 is no longer
//!    functional with the help of a heart beat mechanism assisted by the AIM
//!    agent running on the Exchange Server-1 persona."
//! 2. "AIM boots up the persona image for Exchange Server-1 on the Stand-by
//!    server in the pool": the persona keeps its iSCSI initiator name
//!    (Table 3: `Exchange1`), so its image and database volumes follow it.
//!    "The AIM controller, by default, waits for 15 minutes for the persona
//!    services to respond, after which the controller upon no response
//!    retargets the persona ... The persona boot timer for this study is set
//!    to twenty minutes." A boot that does not answer within the timer is
//!    abandoned and the next standby server tried.
//! 3. AIM "reconfigures corresponding switchports with VLANs required by
//!    MAPI and the replication networks, thereby recreating the network
//!    identity of Exchange Server-1".
//! 4. "Upon persona boot, the Microsoft software iSCSI initiator is used to
//!    establish connection to the Exchange database volumes."
//! 5. The redistribution batch file runs as a startup item after a delay
//!    ("for the AIM persona agent services and Exchange services to start"),
//!    then `Redistribute.ps1` ([`super::dag::redistribute`]).
//!
//! "The same task can be accomplished in less than an hour in an-AIM managed
//! environment": the report's `degraded_s`.

use std::pin::Pin;

use drlab_drivers::{Backend, EventKind, OpError, timeout};
use futures::future::join;

use super::Completed;
use super::dag::{self, first_failure};
use crate::context::{Ctx, StepFailed};
use crate::drill::{Detection, Drill};
use crate::format::{DagAimParams, DagDef, Scenario};
use crate::path;
use crate::validate::{Problems, host, positive};

/// The drill's control loop: Active Manager and AIM side by side, then the
/// redistribution script on the re-provisioned member.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &DagAimParams) -> &'static str {
    let cx = d.cx();
    let Some(dag) = &cx.s.dag else {
        return "no DAG";
    };
    dag::serve_from_members(d, dag);
    let (am, aim) = join(dag::active_manager(d, dag), reprovision(d, p, dag)).await;
    match (am, aim) {
        (Err(Detection::NoOutage(why)), _) => return why,
        (Err(_), _) => return "horizon reached",
        (Ok(_), Err(Some(e))) => {
            d.runbook_finished(&Err(e));
            // Nothing else will heal the DAG: it stays degraded to the end.
            d.sleep_until(drlab_drivers::Timestamp(u64::MAX)).await;
            return "horizon reached: AIM could not re-provision the failed member";
        }
        (Ok(_), Err(None)) => return "horizon reached",
        (Ok(_), Ok(recovered)) => {
            let r = dag::redistribute(cx, dag, &recovered, p.healthy_limit_s, p.script_sleep_s)
                .await
                .map(|()| Completed {
                    serving: recovered.clone(),
                    failed_steps: Vec::new(),
                });
            if !d.runbook_finished(&r) {
                return "redistribution failed";
            }
        }
    }
    dag::serve_from_members(d, dag);
    d.await_restored().await
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &DagAimParams, p: &mut Problems) {
    dag::validate_common(s, p);
    if host(s, &r.controller).is_none() {
        p.push((
            path!("runbook", "controller"),
            format!("unknown host {:?}", r.controller),
        ));
    }
    positive(
        p,
        path!("runbook", "heartbeat_interval_s"),
        r.heartbeat_interval_s,
        "heartbeat interval",
    );
    if !(1..=1000).contains(&r.missed_heartbeats) {
        p.push((
            path!("runbook", "missed_heartbeats"),
            format!("must be between 1 and 1000, got {}", r.missed_heartbeats),
        ));
    }
    positive(
        p,
        path!("runbook", "persona_boot_timer_s"),
        r.persona_boot_timer_s,
        "persona boot timer",
    );
    crate::validate::non_negative(
        p,
        path!("runbook", "script_delay_s"),
        r.script_delay_s,
        "script delay",
    );
    dag::validate_script(p, r.healthy_limit_s, r.script_sleep_s);
    for (i, name) in r.standby.iter().enumerate() {
        match s.servers.iter().find(|x| &x.name == name) {
            None => p.push((
                path!("runbook", "standby", i),
                format!("unknown server {name:?}"),
            )),
            Some(x) if x.runs.is_some() => p.push((
                path!("runbook", "standby", i),
                format!(
                    "{name} runs {} and is no standby",
                    x.runs.as_deref().unwrap_or("")
                ),
            )),
            Some(_) => {}
        }
    }
    if standby(s, r).is_empty() {
        p.push((
            path!("runbook", "standby"),
            "the pool has no standby server (a [[servers]] entry that runs nothing)".into(),
        ));
    }
    if let Some(dag) = &s.dag {
        for (i, m) in dag.members.iter().enumerate() {
            if !s.personas.iter().any(|x| &x.host == m) {
                p.push((
                    path!("dag", "members", i),
                    format!("AIM re-provisions personas: add a [[personas]] entry for {m}"),
                ));
            }
        }
    }
}

/// The standby servers in the order AIM tries them.
fn standby<'a>(s: &'a Scenario, p: &'a DagAimParams) -> Vec<&'a str> {
    if p.standby.is_empty() {
        s.servers
            .iter()
            .filter(|x| x.runs.is_none() && !s.lockstep.iter().any(|l| l.servers.contains(&x.name)))
            .map(|x| x.name.as_str())
            .collect()
    } else {
        p.standby.iter().map(String::as_str).collect()
    }
}

/// The VLANs a server's port needs to carry `h`: its own (the SCN) and
/// those of `h`'s networks.
pub fn vlans_for(s: &Scenario, server: &str, h: &str) -> Vec<u16> {
    let mut v: Vec<u16> = s
        .servers
        .iter()
        .filter(|x| x.name == server)
        .flat_map(|x| x.vlans.iter().copied())
        .chain(
            s.networks
                .iter()
                .filter(|n| n.hosts.iter().any(|x| x == h))
                .map(|n| n.vlan),
        )
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Logs `h` in to every volume holding one of its stores.
pub async fn attach_volumes<B: Backend>(cx: &Ctx<'_, B>, h: &str) -> Result<(), StepFailed> {
    for v in cx.s.volumes.iter().filter(|v| v.host.as_deref() == Some(h)) {
        cx.step(
            format!("{h} logs in to SAN volume {}", v.name),
            cx.b.attach(h, &v.name),
        )
        .await?;
    }
    Ok(())
}

/// AIM: detect the dead persona, boot it on a standby server within the
/// persona boot timer (retargeting), set the port's VLANs, log in to the
/// database volumes, wait for the startup item. Returns the member, or the
/// step that failed (`None`: the drill stopped first).
async fn reprovision<B: Backend>(
    d: &Drill<'_, B>,
    p: &DagAimParams,
    dag: &DagDef,
) -> Result<String, Option<StepFailed>> {
    let cx = d.cx();
    let interval = drlab_drivers::time::secs(p.heartbeat_interval_s);
    let monitors = dag
        .members
        .iter()
        .map(|m| {
            let m2 = m.clone();
            let fut: Pin<Box<dyn Future<Output = Detection> + '_>> = Box::pin(async move {
                d.detect_with(&p.controller, &m2, interval, p.missed_heartbeats)
                    .await
            });
            (m.clone(), fut)
        })
        .collect();
    let h = first_failure(monitors).await.map_err(|_| None)?;
    let timer = drlab_drivers::time::secs(p.persona_boot_timer_s);
    let mut on = None;
    let mut last = None;
    for srv in standby(cx.s, p) {
        let r = cx
            .step(
                format!(
                    "AIM boots persona {h} on {srv} (persona boot timer {})",
                    super::exchange_ops::duration_words(timer)
                ),
                async {
                    match timeout(cx.b, timer, cx.b.boot_on(&h, srv)).await {
                        Ok(r) => r,
                        Err(()) => Err(OpError::timeout(
                            format!("the persona services of {h} on {srv} to respond"),
                            timer,
                        )),
                    }
                },
            )
            .await;
        match r {
            Ok(()) => {
                on = Some(srv);
                break;
            }
            Err(e) => {
                cx.emit(EventKind::Alert {
                    message: format!("AIM: {e}; retargeting persona {h}").into(),
                });
                last = Some(e);
            }
        }
    }
    let Some(srv) = on else {
        cx.emit(EventKind::Alert {
            message: format!("AIM could not re-provision {h}: no standby server left").into(),
        });
        return Err(last);
    };
    let vlans = vlans_for(cx.s, srv, &h);
    cx.step(
        format!("AIM configures the switch port of {srv}: VLANs {vlans:?}"),
        cx.b.set_port_vlans(srv, &vlans),
    )
    .await
    .map_err(Some)?;
    attach_volumes(cx, &h).await.map_err(Some)?;
    cx.wait_step(p.script_delay_s).await;
    Ok(h)
}
