//! Manual re-provisioning of a failed Exchange 2010 DAG member, the
//! contrast of the Dell AIM paper ("Measured improvements in Exchange
//! availability with AIM"): "a list of activities and associated timeline
//! for manually deploying a multi-role Exchange Server ... Major steps
//! considered in that order":
//!
//! 1. Deploy/prepare server for OS installation.
//! 2. Install OS with required patches.
//! 3. Activate the OS with appropriate licenses.
//! 4. Preparation for Exchange.
//! 5. Configure MAPI and Replication host networks (the switch port's VLANs).
//! 6. Join the domain and reboot.
//! 7. Install Exchange prerequisites.
//! 8. Install Exchange Server 2010 SP2 (the rebuilt server comes up under
//!    the failed member's name: the first moment it exists for the estate).
//! 9. Connect to the Databases (log in to the database volumes).
//! 10. Resume Exchange database copies and redistribute active databases
//!     ([`super::dag::redistribute`]).
//!
//! "Based on the administrator's expertise, the time it may take to
//! accomplish this task can range from few hours to a day. It would take
//! longer if the server failure occurs during non-working hours": monitoring
//! alerts a person, who responds after `[policy] operator_response_s`; the
//! steps take the administrator's working times of the parameters. Active
//! Manager still activates the passive copies at once, so users barely
//! notice; the DAG runs degraded for hours.

use std::pin::Pin;

use drlab_drivers::Backend;
use futures::future::join;

use super::Completed;
use super::dag::{self, first_failure};
use super::dag_aim::{attach_volumes, vlans_for};
use super::exchange_ops::human;
use crate::context::StepFailed;
use crate::drill::{Detection, Drill};
use crate::format::{DagDef, DagManualParams, Scenario};
use crate::path;
use crate::validate::{Problems, host, non_negative};

/// The drill's control loop: Active Manager and the administrator side by
/// side, then the redistribution script.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &DagManualParams) -> &'static str {
    let cx = d.cx();
    let Some(dag) = &cx.s.dag else {
        return "no DAG";
    };
    dag::serve_from_members(d, dag);
    let (am, admin) = join(dag::active_manager(d, dag), rebuild(d, p, dag)).await;
    match (am, admin) {
        (Err(Detection::NoOutage(why)), _) => return why,
        (Err(_), _) | (Ok(_), Err(None)) => return "horizon reached",
        (Ok(_), Err(Some(e))) => {
            d.runbook_finished(&Err(e));
            d.sleep_until(drlab_drivers::Timestamp(u64::MAX)).await;
            return "horizon reached: the failed member was not rebuilt";
        }
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
pub(crate) fn validate(s: &Scenario, r: &DagManualParams, p: &mut Problems) {
    dag::validate_common(s, p);
    if host(s, &r.monitor).is_none() {
        p.push((
            path!("runbook", "monitor"),
            format!("unknown host {:?}", r.monitor),
        ));
    }
    match s.servers.iter().find(|x| x.name == r.replacement) {
        None => p.push((
            path!("runbook", "replacement"),
            format!("unknown server {:?}", r.replacement),
        )),
        Some(x) if x.runs.is_some() => p.push((
            path!("runbook", "replacement"),
            format!(
                "{} runs {} already",
                x.name,
                x.runs.as_deref().unwrap_or("")
            ),
        )),
        Some(_) => {}
    }
    for (field, v) in [
        ("deploy_server_s", r.deploy_server_s),
        ("install_os_s", r.install_os_s),
        ("activate_os_s", r.activate_os_s),
        ("prepare_exchange_s", r.prepare_exchange_s),
        ("configure_networks_s", r.configure_networks_s),
        ("join_domain_s", r.join_domain_s),
        ("install_prerequisites_s", r.install_prerequisites_s),
        ("install_exchange_s", r.install_exchange_s),
        ("connect_databases_s", r.connect_databases_s),
    ] {
        non_negative(p, path!("runbook", field), v, "step duration");
    }
    dag::validate_script(p, r.healthy_limit_s, r.script_sleep_s);
}

/// Monitoring alerts the administrator, who rebuilds the failed member on
/// the replacement server step by step.
async fn rebuild<B: Backend>(
    d: &Drill<'_, B>,
    p: &DagManualParams,
    dag: &DagDef,
) -> Result<String, Option<StepFailed>> {
    let cx = d.cx();
    let monitors = dag
        .members
        .iter()
        .map(|m| {
            let m2 = m.clone();
            let fut: Pin<Box<dyn Future<Output = Detection> + '_>> =
                Box::pin(async move { d.detect(&p.monitor, &m2).await });
            (m.clone(), fut)
        })
        .collect();
    let h = first_failure(monitors).await.map_err(|_| None)?;
    if !d.decide().await {
        return Err(None);
    }
    let srv = p.replacement.as_str();
    human(
        cx,
        &format!("deploy/prepare {srv} for OS installation"),
        p.deploy_server_s,
    )
    .await;
    human(cx, "install the OS with required patches", p.install_os_s).await;
    human(
        cx,
        "activate the OS with appropriate licenses",
        p.activate_os_s,
    )
    .await;
    human(cx, "preparation for Exchange", p.prepare_exchange_s).await;
    human(
        cx,
        "configure MAPI and Replication host networks",
        p.configure_networks_s,
    )
    .await;
    let vlans = vlans_for(cx.s, srv, &h);
    cx.step(
        format!("configure the switch port of {srv}: VLANs {vlans:?}"),
        cx.b.set_port_vlans(srv, &vlans),
    )
    .await
    .map_err(Some)?;
    human(cx, "join the domain and reboot", p.join_domain_s).await;
    human(
        cx,
        "install Exchange prerequisites",
        p.install_prerequisites_s,
    )
    .await;
    human(
        cx,
        &format!("install Exchange Server 2010 SP2 as {h} (setup /m:RecoverServer)"),
        p.install_exchange_s,
    )
    .await;
    cx.step(format!("{h} starts on {srv}"), cx.b.boot_on(&h, srv))
        .await
        .map_err(Some)?;
    human(cx, "connect to the databases", p.connect_databases_s).await;
    attach_volumes(cx, &h).await.map_err(Some)?;
    Ok(h)
}
