//! The patent's restore operation, process 700 (002, section IX "Restore
//! Operation", Figure 7), with the archive schedule (process 600) running
//! alongside under the same interlocks:
//!
//! - agents report store states (the patent: every 30 s); a dismounted
//!   store is the impairment of transition 204; "a user chooses to initiate
//!   the restore operation" (step 702) after the decision policy;
//! - step 704: "negative if an archive process 600 is in progress, a failure
//!   switch-over/switch-back process 300 is in progress or if the secondary
//!   Exchange Server 118b is currently the active server" → step 706, an
//!   alert "that the restore operation failed" (the operator asks again
//!   after `request_retry_s`, at most `request_attempts_max` times);
//! - step 708: "data synchronization from store 120a to 120b is paused";
//! - step 710: "uncompresses (if and as appropriate) and copies the selected
//!   image from the appropriate disk 124a-n to store 120b";
//! - step 712: "is the restored image now residing on store 120b a good
//!   image" (here: log replay, `eseutil /r`, over the restored database);
//!   if not, step 714 alerts and the process ends;
//! - step 718: "failure switch-over 300 is performed" (dismount and stop on
//!   the primary, disconnect, services and mounts on the secondary, users
//!   and the service name moved; transitions 208, 212);
//! - step 722: "the data from the restored image is replicated from
//!   secondary store 120b to primary store 120a" (a full mirror; 216);
//! - step 724: "a switch-back process 300 is performed" (220, 224), then
//!   replication primary → secondary again (228).
//!
//! The restored image predates the corruption, so the writes acknowledged
//! between the image and the incident are lost: the report's RPO is the
//! image's age at T0 (to within one write interval).

use std::pin::pin;

use drlab_drivers::types::{MirrorMode, StoreRef};
use drlab_drivers::{Backend, EventKind, OpError, Timestamp, Transition};
use futures::future::{Either, select};

use super::Completed;
use super::archive;
use super::exchange_ops::{
    allow_overwrite, dismount_stores, mount_stores, move_mailboxes, point_name, service_order,
    start_services, stop_services,
};
use super::refs::{dc_for, resolved, stores_of, zone};
use crate::context::{Ctx, StepFailed};
use crate::drill::{Detection, Drill};
use crate::format::{RestoreParams, Scenario};
use crate::interlock::{Interlocks, Operation};
use crate::path;
use crate::validate::{Problems, host, positive};

/// The drill's control loop: the archive schedule and the restore side by side.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &RestoreParams) -> &'static str {
    let locks = Interlocks::new();
    let archiver = pin!(archive::schedule(d, &p.archive, &locks));
    let main = pin!(restore_flow(d, p, &locks));
    match select(main, archiver).await {
        Either::Left((why, _)) => why,
        // The schedule ends only when the drill stops.
        Either::Right(((), main)) => main.await,
    }
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &RestoreParams, p: &mut Problems) {
    for (field, h) in [("primary", &r.primary), ("secondary", &r.secondary)] {
        if host(s, h).and_then(|x| x.exchange.as_ref()).is_none() {
            p.push((
                path!("runbook", field),
                format!("{h:?} is not an Exchange host"),
            ));
        }
    }
    if r.primary == r.secondary {
        p.push((
            path!("runbook", "secondary"),
            "primary and secondary must differ".into(),
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
    archive::validate_schedule(s, &r.archive, path!("runbook", "archive"), p);
    if r.archive.host != r.secondary {
        p.push((
            path!("runbook", "archive", "host"),
            format!(
                "images are restored to the secondary, so the schedule archives {}",
                r.secondary
            ),
        ));
    }
    if !r.archive.levels_h.contains(&r.image_level_h) {
        p.push((
            path!("runbook", "image_level_h"),
            format!("level {} h is not archived", r.image_level_h),
        ));
    }
    positive(
        p,
        path!("runbook", "agent_interval_s"),
        r.agent_interval_s,
        "agent interval",
    );
    positive(
        p,
        path!("runbook", "request_retry_s"),
        r.request_retry_s,
        "retry wait",
    );
    positive(
        p,
        path!("runbook", "drain_limit_s"),
        r.drain_limit_s,
        "drain limit",
    );
    for (field, n) in [
        ("request_attempts_max", r.request_attempts_max),
        ("start_attempts_max", r.start_attempts_max),
    ] {
        if !(1..=10).contains(&n) {
            p.push((
                path!("runbook", field),
                format!("must be between 1 and 10, got {n}"),
            ));
        }
    }
    if [&r.primary, &r.secondary]
        .into_iter()
        .any(|h| dc_for(s, h, r.dc.as_deref()).is_err())
    {
        p.push((
            path!("runbook", "dc"),
            "mailbox moves need a domain controller".into(),
        ));
    }
    if zone(s, &s.workload.service_name).is_err() {
        p.push((
            path!("workload", "service_name"),
            "the failover moves the service name in DNS: it needs a zone".into(),
        ));
    }
    for (field, h) in [("primary", &r.primary), ("secondary", &r.secondary)] {
        if host(s, h).is_some_and(|x| x.exchange.is_some()) && stores_of(s, h).is_err() {
            p.push((
                path!("runbook", field),
                format!("{h} has no stores: there is nothing to watch, restore or switch over"),
            ));
        }
    }
}

/// Agents watch the primary's stores (`watched`); the first one found
/// dismounted (or the agent unreachable) is the failure.
async fn watch_stores<B: Backend>(
    d: &Drill<'_, B>,
    h: &str,
    watched: &[StoreRef],
    interval_s: f64,
) -> Option<Timestamp> {
    let cx = d.cx();
    let interval = drlab_drivers::time::secs(interval_s);
    // The agent's first report is the baseline: a store mounted then and
    // dismounted later is the failure. An agent that does not answer the
    // first time is the failure at once, as it is on any later round: its
    // stores' state is unknown, not "dismounted at the start" (which would
    // keep the watch quiet about them for the whole drill).
    let mut mounted_at_start = Vec::new();
    for st in watched {
        match cx.b.store_mounted(h, st).await {
            Ok(mounted) => mounted_at_start.push(mounted),
            Err(e) => {
                return Some(agent_report(
                    d,
                    h,
                    &format!("the agent on {h} does not answer: {e}"),
                ));
            }
        }
    }
    // Bounded by the drill: each turn waits one interval.
    loop {
        if d.sleep_until(cx.b.now().after(interval)).await {
            return None;
        }
        for (st, was) in watched.iter().zip(&mounted_at_start) {
            let found = match cx.b.store_mounted(h, st).await {
                Ok(false) if *was => format!("store {st} on {h} is dismounted"),
                Err(e) => format!("the agent on {h} does not answer: {e}"),
                _ => continue,
            };
            return Some(agent_report(d, h, &found));
        }
    }
}

/// Records what an agent of `h` found as the failure; returns when.
fn agent_report<B: Backend>(d: &Drill<'_, B>, h: &str, found: &str) -> Timestamp {
    let cx = d.cx();
    cx.emit(EventKind::Alert {
        message: format!("agent report: {found}").into(),
    });
    cx.emit(EventKind::FailureDetected {
        host: h.into(),
        missed: 0,
    });
    cx.b.now()
}

async fn restore_flow<B: Backend>(
    d: &Drill<'_, B>,
    p: &RestoreParams,
    locks: &Interlocks,
) -> &'static str {
    let cx = d.cx();
    let watched = match resolved(
        cx,
        format!("agents watch the stores of {}", p.primary),
        stores_of(cx.s, &p.primary),
    )
    .await
    {
        Ok(stores) => stores,
        Err(e) => {
            d.runbook_finished(&Err(e));
            return "runbook failed";
        }
    };
    match d
        .watch(watch_stores(d, &p.primary, &watched, p.agent_interval_s))
        .await
    {
        Ok(_) => {}
        Err(Detection::NoOutage(why)) => return why,
        Err(_) => return "horizon reached",
    }
    cx.fire(Transition::Degrade);
    if !d.decide().await {
        return "horizon reached";
    }
    // Steps 702-706, the operator asking again after a refusal.
    let what = format!(
        "restore of {} from a {} h image",
        p.secondary, p.image_level_h
    );
    let mut attempt = 0;
    let held = loop {
        attempt += 1;
        // A secondary that cannot be asked may be the active server: the
        // check fails rather than assuming it is not.
        let r = match cx.b.list_stores(&p.secondary).await {
            Ok(stores) if stores.iter().any(|s| s.mounted) => Err(format!(
                "the secondary {} is currently the active server",
                p.secondary
            )),
            Ok(_) => locks.begin(Operation::Restore, &what),
            Err(e) => Err(format!(
                "cannot tell whether the secondary {} is the active server: {e}",
                p.secondary
            )),
        };
        match r {
            Ok(held) => break held,
            Err(reason) => {
                cx.emit(EventKind::OperationRefused {
                    operation: what.as_str().into(),
                    reason: reason.as_str().into(),
                });
                cx.emit(EventKind::Alert {
                    message: format!("the restore operation failed: {reason}").into(),
                });
                if attempt >= p.request_attempts_max {
                    let e = StepFailed {
                        step: "restore safety check (step 704)".into(),
                        error: OpError::refused(reason),
                    };
                    d.runbook_finished(&Err(e));
                    return "restore refused";
                }
                if d.sleep_until(
                    cx.b.now()
                        .after(drlab_drivers::time::secs(p.request_retry_s)),
                )
                .await
                {
                    return "horizon reached";
                }
            }
        }
    };
    let r = process_700(cx, p, locks).await;
    drop(held);
    if let Err(e) = &r {
        cx.emit(EventKind::Alert {
            message: format!("the restore operation failed (step 714): {e}").into(),
        });
    }
    if !d.runbook_finished(&r) {
        return "restore failed";
    }
    d.await_restored().await
}

/// Steps 708-724.
async fn process_700<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &RestoreParams,
    locks: &Interlocks,
) -> Result<Completed, StepFailed> {
    let b = cx.b;
    let (pri, sec) = (p.primary.as_str(), p.secondary.as_str());
    let stores = resolved(
        cx,
        format!("the stores of {sec} to restore"),
        stores_of(cx.s, sec),
    )
    .await?;
    let drain = drlab_drivers::time::secs(p.drain_limit_s);

    cx.step(
        format!("pause synchronization {pri} -> {sec} (step 708)"),
        b.pause(pri, sec),
    )
    .await?;
    let image = cx
        .step(
            format!("select the newest {} h image of {sec}", p.image_level_h),
            async {
                b.list_archives(sec)
                    .await?
                    .into_iter()
                    .filter(|a| a.level_h == p.image_level_h)
                    .max_by_key(|a| a.taken_at_us)
                    .ok_or_else(|| {
                        OpError::not_found(format!("a {} h image of {sec}", p.image_level_h))
                    })
            },
        )
        .await?;
    cx.step(
        format!(
            "uncompress and copy image {} to {sec}'s store (step 710)",
            image.id
        ),
        b.restore_archive(&image.id, sec),
    )
    .await?;
    cx.emit(EventKind::ImageRestored {
        host: sec.into(),
        image: image.id.clone(),
        taken_at: Timestamp(image.taken_at_us),
    });
    for st in &stores {
        cx.step(
            format!("verify the restored image: replay its logs into {st} on {sec} (step 712)"),
            b.soft_recovery(sec, st),
        )
        .await?;
    }

    // Step 718: failure switch-over, process 300.
    {
        let _f = locks
            .begin(
                Operation::Failover,
                &format!("switch-over to {sec} for the restore"),
            )
            .map_err(|e| StepFailed {
                step: "switch-over (step 718)".into(),
                error: OpError::refused(e),
            })?;
        cx.fire(Transition::EngageSecondary);
        switch(cx, p, pri, sec, &stores).await?;
        cx.fire(Transition::SecondaryEngagedSuccess);
    }

    // Step 722: the restored data flows back to the primary.
    cx.step(
        format!("replicate {sec} -> {pri}: full mirror of the restored data (step 722)"),
        b.connect(sec, pri, MirrorMode::Full),
    )
    .await?;
    cx.step(
        format!("waitontarget {pri}"),
        b.wait_drained(sec, pri, std::time::Duration::ZERO, drain),
    )
    .await?;
    cx.fire(Transition::StandbySuccess);

    // Step 724: switch-back, process 300 reversed.
    {
        let _f = locks
            .begin(Operation::Failover, &format!("switch-back to {pri}"))
            .map_err(|e| StepFailed {
                step: "switch-back (step 724)".into(),
                error: OpError::refused(e),
            })?;
        cx.fire(Transition::ReSyncPrimarySuccess);
        switch(cx, p, sec, pri, &stores).await?;
        cx.fire(Transition::EngagingPrimarySuccess);
        cx.step(
            format!("replicate {pri} -> {sec} again: difference mirror"),
            b.connect(pri, sec, MirrorMode::Difference),
        )
        .await?;
        cx.fire(Transition::ToNormal);
    }
    Ok(Completed {
        serving: pri.to_string(),
        failed_steps: Vec::new(),
    })
}

/// Process 300 from `from` to `to`: quiesce `from` (its queued changes
/// drained to `to` first when a connection `from` → `to` replicates),
/// disconnect, bring `to` up, move users and the service name.
async fn switch<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &RestoreParams,
    from: &str,
    to: &str,
    stores: &[StoreRef],
) -> Result<(), StepFailed> {
    let b = cx.b;
    let order = service_order(cx.s);
    dismount_stores(cx, from, stores).await?;
    if matches!(
        b.queue_status(from, to).await.map(|q| q.state),
        Ok(drlab_drivers::types::ReplicationState::Replicating)
    ) {
        cx.step(
            format!("flush the queue {from} -> {to}"),
            b.wait_drained(
                from,
                to,
                std::time::Duration::ZERO,
                drlab_drivers::time::secs(p.drain_limit_s),
            ),
        )
        .await?;
    }
    stop_services(cx, from, &order).await?;
    cx.step(format!("disconnect {from} -> {to}"), b.disconnect(from, to))
        .await?;
    allow_overwrite(cx, to, stores, "exchfailover -setup").await?;
    start_services(cx, to, &order, p.service_wait_s, p.start_attempts_max).await?;
    mount_stores(cx, to, stores, p.service_wait_s).await?;
    move_mailboxes(cx, from, to, p.dc.as_deref()).await?;
    // The patent sets the moved records' TTL to 0.
    point_name(cx, &cx.s.workload.service_name, to, 0).await
}
