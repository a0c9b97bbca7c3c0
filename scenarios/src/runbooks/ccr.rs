//! Exchange 2007 Cluster Continuous Replication across two sites, activated
//! by hand at the DR site (003, "Exchange 2007 Cluster Continuous
//! Replication"): "the mailbox server can be configured to replicate mailbox
//! databases to a 'passive' node. In the event of a DR invocation, you can
//! failover and use the formerly 'passive' node as your 'active' node ...
//! You don't need a shared SAN. The two nodes can use their own locally
//! attached disk."
//!
//! Replication is log shipping (`[[replication]] log_file_mb`): a write
//! lands in the active node's open transaction log, which is copied to the
//! passive node only once closed. When the primary site is lost, the open
//! log and any closed logs still queued on the WAN are lost: the RPO is
//! bounded by the log-shipping lag.
//!
//! The DR invocation ("you may only have X hours to invoke"): the passive
//! node's cluster heartbeats go unanswered, a person decides, then
//! 1. forces quorum on the surviving node (`net start clussvc /forcequorum`:
//!    the file share witness was at the lost site);
//! 2. accepts the passive copies as the production databases (a lossy
//!    activation: the overwrite flag lets the replicas mount);
//! 3. starts the Exchange services and mounts the stores on the passive node;
//! 4. moves the clustered mailbox server's name to the DR site's address in
//!    DNS (clients follow after the TTL) and the mailboxes with it.

use drlab_drivers::Backend;

use super::Completed;
use super::exchange_ops::{
    allow_overwrite, mount_stores, move_mailboxes, point_name, service_order, start_services,
};
use super::refs::{dc_for, resolved, stores_of, zone};
use crate::context::{Ctx, StepFailed, fmt_secs};
use crate::drill::Drill;
use crate::format::{CcrParams, Scenario};
use crate::path;
use crate::validate::{Problems, host, non_negative};

/// The drill's control loop: the passive node monitors the active one, a
/// person invokes DR, the passive node is activated.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &CcrParams) -> &'static str {
    if let Err(why) = d.engage_on_failure(&p.passive, &p.active).await {
        return why;
    }
    let cx = d.cx();
    let r = activate(cx, p).await;
    if !d.secondary_engaged(&r) {
        return "activation failed";
    }
    d.await_restored().await
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &CcrParams, p: &mut Problems) {
    for (field, h) in [("active", &r.active), ("passive", &r.passive)] {
        if host(s, h).and_then(|x| x.exchange.as_ref()).is_none() {
            p.push((
                path!("runbook", field),
                format!("{h:?} is not an Exchange host"),
            ));
        }
    }
    if r.active == r.passive {
        p.push((
            path!("runbook", "passive"),
            "active and passive nodes must differ".into(),
        ));
    }
    match s
        .replication
        .iter()
        .position(|x| x.source == r.active && x.target == r.passive)
    {
        None => p.push((
            path!("runbook"),
            format!(
                "no [[replication]] connection from {} to {} (CCR log shipping)",
                r.active, r.passive
            ),
        )),
        Some(i) if s.replication[i].log_file_mb.is_none() => p.push((
            path!("replication", i, "log_file_mb"),
            "CCR ships closed transaction logs: set the log file size (1 MB in Exchange 2007)"
                .into(),
        )),
        Some(_) => {}
    }
    non_negative(
        p,
        path!("runbook", "force_quorum_s"),
        r.force_quorum_s,
        "quorum time",
    );
    non_negative(
        p,
        path!("runbook", "service_wait_s"),
        r.service_wait_s,
        "service wait",
    );
    if !(1..=10).contains(&r.start_attempts_max) {
        p.push((
            path!("runbook", "start_attempts_max"),
            format!("must be between 1 and 10, got {}", r.start_attempts_max),
        ));
    }
    if dc_for(s, &r.passive, r.dc.as_deref()).is_err() {
        p.push((
            path!("runbook", "dc"),
            "mailbox moves need a domain controller".into(),
        ));
    }
    if zone(s, &s.workload.service_name).is_err() {
        p.push((
            path!("workload", "service_name"),
            "the activation moves the service name in DNS: it needs a zone".into(),
        ));
    }
    if host(s, &r.passive).is_some_and(|h| h.exchange.is_some())
        && stores_of(s, &r.passive).is_err()
    {
        p.push((
            path!("runbook", "passive"),
            format!(
                "{} has no stores: there is no passive copy to activate",
                r.passive
            ),
        ));
    }
}

/// Steps 1-4 on the passive node.
async fn activate<B: Backend>(cx: &Ctx<'_, B>, p: &CcrParams) -> Result<Completed, StepFailed> {
    let (act, pas) = (p.active.as_str(), p.passive.as_str());
    let quorum = drlab_drivers::time::secs(p.force_quorum_s);
    cx.step(
        format!(
            "net start clussvc /forcequorum on {pas} ({} s)",
            fmt_secs(p.force_quorum_s)
        ),
        async {
            cx.b.sleep(quorum).await;
            Ok(())
        },
    )
    .await?;
    let stores = resolved(
        cx,
        format!("lossy activation of the passive copies: the stores of {pas}"),
        stores_of(cx.s, pas),
    )
    .await?;
    allow_overwrite(cx, pas, &stores, "lossy activation of the passive copies").await?;
    start_services(
        cx,
        pas,
        &service_order(cx.s),
        p.service_wait_s,
        p.start_attempts_max,
    )
    .await?;
    mount_stores(cx, pas, &stores, p.service_wait_s).await?;
    point_name(cx, &cx.s.workload.service_name, pas, p.dns_ttl_s).await?;
    move_mailboxes(cx, act, pas, p.dc.as_deref()).await?;
    Ok(Completed {
        serving: pas.to_string(),
        failed_steps: Vec::new(),
    })
}
