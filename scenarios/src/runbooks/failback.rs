//! Failback: LAN failover, then recovery to the original source, as the HP
//! Storage Mirroring guide's "Recovering after a failure" describes it for a
//! source that was "just offline due to non-disk related issues (such as
//! network problems or power failure)" ("Recovering to the original
//! source", its PreBack.BAT, "Running the Exchange Failover utility" and the
//! sample post-restore batch file):
//!
//! - Step 1: "Verify that the Storage Mirroring connection on the source has
//!   been disconnected."
//! - Step 2: "Stop all of the Exchange services on the source ... in the
//!   order identified in the pre-failback script" (`net stop MSExchangeSA /y`
//!   first: `/y` also stops the services that depend on it).
//! - Step 5: failback on the target: PreBack.BAT stops the target's services
//!   in the same order and runs `exchfailover -failback -nopublicfolders`;
//!   Double-Take gives the source's name and addresses back.
//! - Steps 6-7: "Do not select Continue or Stop at this time. First,
//!   reconnect the source to the network." Then Continue: monitoring restarts.
//! - Steps 8-16: Restoration Manager, target → source. Step 13: "Disable
//!   **only if backup copy is more recent**. This option must be disabled
//!   because if the Exchange services were stopped on the source after the
//!   time they were stopped on the target, the source files will have a more
//!   recent date and time and the target files will not be restored."
//! - Step 17: post_restore.bat: `exchfailover -setup -failback`, the services
//!   in order with `dtcl wait 20000`, `exchfailover -failback
//!   -onlypublicfolders`; then re-establish protection (connect source →
//!   target) and failure monitoring.
//!
//! Appendix B (rebuilding the source under its own name) runs the failback
//! at its step 3 and stops the source's services only at its step 18:
//! `stop_source_services = "after-failback"` reproduces that order, in
//! which the option of step 13 silently skips the target's newer data. The
//! drill compares what the source holds after the restore with what the
//! target held and records an [`EventKind::InvariantBroken`] naming the
//! option, so the pitfall fails the drill instead of passing it.
//!
//! Modelled: the source is cut off by a network fault, so it keeps running
//! (services up, stores mounted) while the target stands in; the source is
//! reconnected by the scenario's `heal` fault, which step 6 waits for. Two
//! simplifications: `post_restore.bat` leaves W3SVC and SMTPSVC out, but
//! step 2 stopped them, so the default start order is postover.bat's; and
//! stores are mounted explicitly after the services start. Figure 2 of the
//! patent is followed for the states: 216 when the recovery starts, 220
//! when the restored data is verified, 224 when users are back on the
//! source, 228 when protection is re-established. The guide quiesces the
//! target before the resync (users wait during the restore), where the
//! patent resyncs first; and a diverged restore stops the console in ReSync
//! Primary (218).

use std::time::Duration;

use drlab_drivers::types::{IdentityItems, RestoreOptions, StoreRef};
use drlab_drivers::{Backend, EventKind, OpError, SeqSet, Transition};

use super::Completed;
use super::refs::{dc_for, resolved, store_service};
use super::steps::{describe_missing, net_stop, start_retried};
use crate::context::{Ctx, StepFailed, fmt_secs};
use crate::drill::Drill;
use crate::exchange::pairing::{self, Pair};
use crate::format::{FailbackParams, LanFailoverParams, Scenario, StopSource};
use crate::path;
use crate::validate::{Problems, known, mirroring_pair, positive};

/// The failover half, as the LAN runbook runs it: postover.bat with the
/// same `dtcl wait` as post_restore.bat.
fn failover_params(p: &FailbackParams) -> LanFailoverParams {
    let mut lp = LanFailoverParams::new(&p.source, &p.target);
    lp.dc = p.dc.clone();
    lp.service_wait_s = p.service_wait_s;
    lp.wait_on_target_idle_s = p.wait_on_target_idle_s;
    lp.wait_on_target_limit_s = p.wait_on_target_limit_s;
    lp
}

/// The drill's control loop: LAN failover (204, 208, 212), users served by
/// the target, then at `failback_at_s` the recovery to the original source
/// (216 → 218 → 220 → 222 → 224 → 226 → 228) and users served by the
/// source again.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &FailbackParams) -> &'static str {
    if let Err(why) = d.engage_on_failure(&p.target, &p.source).await {
        return why;
    }
    let cx = d.cx();
    let r = super::lan_failover::run(cx, &failover_params(p)).await;
    if !d.secondary_engaged(&r) {
        return "runbook failed";
    }
    let why = d.await_restored().await;
    if why != "restored" {
        return why;
    }
    let at = drlab_drivers::Timestamp::from_secs_f64(p.failback_at_s);
    if d.sleep_until(at).await {
        return "horizon reached before the failback";
    }
    cx.fire(Transition::StandbySuccess);
    let r = recover(cx, p).await;
    if !d.runbook_finished(&r) {
        return "failback failed";
    }
    d.await_restored().await
}

/// The failover's store pairs, public folder stores included (the
/// failback moves them separately: `-nopublicfolders`, `-onlypublicfolders`).
fn pairs(s: &Scenario, p: &FailbackParams) -> Result<Vec<Pair>, OpError> {
    super::lan_failover::pairs(s, &failover_params(p))
}

/// The pairs of mailbox stores (`public` false) or of public folder stores.
fn only_public(pairs: &[Pair], public: bool) -> Vec<Pair> {
    pairs
        .iter()
        .filter(|x| x.from.public == public)
        .cloned()
        .collect()
}

fn store(k: &pairing::StoreKey) -> StoreRef {
    StoreRef::new(k.group.as_str(), k.store.as_str())
}

/// `exchfailover -failback`: mailboxes homed on the target's paired stores
/// go back to the source's, written to the DC the failover used.
async fn move_back<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &FailbackParams,
    pairs: &[Pair],
) -> Result<usize, OpError> {
    let dc = dc_for(cx.s, &p.target, p.dc.as_deref())?;
    let dc = dc.as_str();
    let boxes = cx.b.list_mailboxes(dc, &p.target).await?;
    let mut moved = 0;
    for m in boxes {
        let Some(pair) = pairs
            .iter()
            .find(|x| *x.to.group == *m.store.group && *x.to.store == *m.store.store)
        else {
            continue;
        };
        cx.b.set_mailbox_home(dc, &m.name, &p.source, &store(&pair.from))
            .await?;
        moved += 1;
    }
    Ok(moved)
}

/// Step 2 (or Appendix B step 18): the source's services in PreBack.BAT order.
async fn stop_source<B: Backend>(cx: &Ctx<'_, B>, p: &FailbackParams) -> Result<(), StepFailed> {
    let n = if p.stop_source_services == StopSource::BeforeFailback {
        "[2]"
    } else {
        "[B18]"
    };
    for svc in &p.stop_order {
        net_stop(cx, &format!("{n} "), &p.source, svc).await?;
    }
    Ok(())
}

/// Step 5: failback on the target (PreBack.BAT, identity back, users back
/// without their public folders).
async fn failback_on_target<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &FailbackParams,
) -> Result<(), StepFailed> {
    for svc in &p.stop_order {
        net_stop(cx, "[5] preback.bat: ", &p.target, svc).await?;
    }
    let items = IdentityItems {
        ip_addresses: true,
        server_name: true,
    };
    cx.step(
        format!(
            "[5] failback: {} gives the IP addresses and server name of {} back",
            p.target, p.source
        ),
        cx.b.release_identity(&p.source, &p.target, items),
    )
    .await?;
    cx.step(
        format!(
            "[5] preback.bat: exchfailover -failback -nopublicfolders: move mailboxes {} -> {}",
            p.target, p.source
        ),
        async { move_back(cx, p, &only_public(&pairs(cx.s, p)?, false)).await },
    )
    .await?;
    Ok(())
}

/// Step 6: waits until the source answers on the network again.
async fn reconnected<B: Backend>(cx: &Ctx<'_, B>, p: &FailbackParams) -> Result<(), OpError> {
    let interval = drlab_drivers::time::secs(cx.s.policy.heartbeat_interval_s);
    let limit = drlab_drivers::time::secs(p.reconnect_limit_s);
    let deadline = cx.b.now().after(limit);
    let rounds_max = p.reconnect_limit_s / cx.s.policy.heartbeat_interval_s + 2.0;
    for _ in 0..rounds_max as u64 {
        let sent = cx.b.now();
        if cx.b.ping(&p.target, &p.source, interval).await.is_ok() {
            return Ok(());
        }
        if cx.b.now() >= deadline {
            break;
        }
        let next = sent.after(interval);
        if next > cx.b.now() {
            cx.b.sleep(next.since(cx.b.now())).await;
        }
    }
    Err(OpError::timeout(
        format!("waiting for {} to be back on the network", p.source),
        limit,
    ))
}

/// Recovery to the original source; returns with the source serving.
pub async fn recover<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &FailbackParams,
) -> Result<Completed, StepFailed> {
    let b = cx.b;
    let (src, tgt) = (p.source.as_str(), p.target.as_str());
    let mut failed = Vec::new();

    cx.step(
        format!("[1] verify the connection {src} -> {tgt} is disconnected"),
        b.disconnect(src, tgt),
    )
    .await?;
    match p.stop_source_services {
        StopSource::BeforeFailback => {
            stop_source(cx, p).await?;
            failback_on_target(cx, p).await?;
        }
        StopSource::AfterFailback => {
            failback_on_target(cx, p).await?;
            stop_source(cx, p).await?;
        }
    }
    cx.step(
        format!("[6] reconnect {src} to the network"),
        reconnected(cx, p),
    )
    .await?;
    let hb = drlab_drivers::time::secs(cx.s.policy.heartbeat_interval_s);
    cx.step(format!("[7] Continue: {tgt} monitors {src} again"), async {
        b.ping(tgt, src, hb).await.map(|_| ())
    })
    .await?;

    // Steps 8-16: Restoration Manager, target -> source. What the target
    // holds is read first: the restore must bring all of it back.
    let option = if p.only_if_backup_newer {
        "enabled"
    } else {
        "disabled"
    };
    let held_target = cx
        .step(
            format!(
                "[8-16] Restoration Manager: restore {tgt} -> {src} (only if backup copy is more recent: {option})"
            ),
            async {
                let held = b.read_back(tgt).await?;
                let options = RestoreOptions {
                    only_if_backup_newer: p.only_if_backup_newer,
                };
                b.restore(tgt, src, options).await?;
                Ok(held)
            },
        )
        .await?;
    let mut missing = SeqSet::new();
    let verify = cx
        .step(
            format!("verify the restore: {src} holds everything {tgt} held"),
            async {
                let held_source = b.read_back(src).await?;
                missing = held_target
                    .iter()
                    .filter(|q| !held_source.contains(*q))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(OpError::invalid_state(format!(
                        "{src} lacks {} that {tgt} held",
                        describe_missing(&missing)
                    )))
                }
            },
        )
        .await;
    // A source that could not be read back fails the recovery: what it
    // holds is unknown, which is not "everything".
    if let Err(e) = &verify
        && missing.is_empty()
    {
        return Err(e.clone());
    }
    let diverged = verify.is_err();
    if diverged {
        let why = if p.only_if_backup_newer {
            format!(
                "after the restore {tgt} -> {src}, {src} lacks {} that {tgt} held: \
                 'only if backup copy is more recent' skipped files because {src}'s \
                 Exchange services were stopped after {tgt}'s, so its files were newer; \
                 disable the option (guide, Recovering to the original source, step 13) \
                 and restore again before starting Exchange on {src}",
                describe_missing(&missing)
            )
        } else {
            format!(
                "after the restore {tgt} -> {src}, {src} lacks {} that {tgt} held; \
                 restore again before starting Exchange on {src}",
                describe_missing(&missing)
            )
        };
        cx.emit(EventKind::InvariantBroken { what: why.into() });
    } else {
        cx.fire(Transition::ReSyncPrimarySuccess);
    }

    // Running the Exchange Failover utility (post_restore.bat).
    let all = resolved(
        cx,
        format!("exchfailover -setup -failback: overwrite flag on the stores of {src}"),
        pairs(cx.s, p),
    )
    .await?;
    let is = resolved(
        cx,
        format!("start the Exchange services on {src}"),
        store_service(cx.s),
    )
    .await?;
    cx.step(
        format!(
            "exchfailover -setup -failback: overwrite flag on {} stores of {src}",
            all.len()
        ),
        async {
            for pair in &all {
                b.set_overwrite_on_restore(src, &store(&pair.from), true)
                    .await?;
            }
            Ok(())
        },
    )
    .await?;
    for svc in &p.start_order {
        let r = start_retried(cx, "", src, svc, p.start_attempts_max, p.service_wait_s).await;
        match r {
            Ok(()) => {}
            // Everything after the store service depends on it.
            Err(e) if svc == is => {
                return Err(e);
            }
            Err(e) => failed.push(e),
        }
        if p.wait_after.contains(svc) {
            cx.wait_step(p.service_wait_s).await;
        }
    }
    for pair in &all {
        let st = store(&pair.from);
        if let Err(e) = cx
            .step(format!("mount {st} on {src}"), b.mount_store(src, &st))
            .await
        {
            failed.push(e);
        }
    }
    let public = only_public(&all, true);
    cx.step(
        format!(
            "exchfailover -failback -onlypublicfolders: {} public folder stores {tgt} -> {src}",
            public.len()
        ),
        async { move_back(cx, p, &public).await.map(|_| ()) },
    )
    .await?;
    if !diverged {
        cx.fire(Transition::EngagingPrimarySuccess);
    }

    if p.reprotect {
        let r = cx
            .step(
                format!("re-establish protection: connect {src} -> {tgt} (difference mirror)"),
                b.connect(src, tgt, drlab_drivers::types::MirrorMode::Difference),
            )
            .await;
        match r {
            Ok(()) => {
                let hb = cx.s.policy.heartbeat_interval_s;
                let ok = cx
                    .step(
                        format!(
                            "begin failure monitoring of {src} from {tgt} (heartbeat every {} s)",
                            fmt_secs(hb)
                        ),
                        async {
                            b.ping(tgt, src, Duration::from_secs_f64(hb))
                                .await
                                .map(|_| ())
                        },
                    )
                    .await;
                if ok.is_ok() && !diverged {
                    cx.fire(Transition::ToNormal);
                }
            }
            Err(e) => failed.push(e),
        }
    }
    Ok(Completed {
        serving: src.to_string(),
        failed_steps: failed,
    })
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &FailbackParams, p: &mut Problems) {
    let pair = mirroring_pair(s, "failback", &r.source, &r.target, r.dc.as_deref(), p);
    positive(
        p,
        path!("runbook", "failback_at_s"),
        r.failback_at_s,
        "failback time",
    );
    if r.failback_at_s > s.scenario.horizon_s {
        p.push((
            path!("runbook", "failback_at_s"),
            format!(
                "the failback at {} s is after the horizon ({} s)",
                r.failback_at_s, s.scenario.horizon_s
            ),
        ));
    }
    super::lan_failover::validate_waits(&failover_params(r), p);
    positive(
        p,
        path!("runbook", "reconnect_limit_s"),
        r.reconnect_limit_s,
        "reconnect limit",
    );
    if !(1..=10).contains(&r.start_attempts_max) {
        p.push((
            path!("runbook", "start_attempts_max"),
            format!("must be between 1 and 10, got {}", r.start_attempts_max),
        ));
    }
    let services: std::collections::BTreeSet<&str> = s
        .exchange
        .iter()
        .flat_map(|x| x.services.iter().map(|v| v.name.as_str()))
        .collect();
    for (field, list) in [
        ("stop_order", &r.stop_order),
        ("start_order", &r.start_order),
    ] {
        for (i, svc) in list.iter().enumerate() {
            if !services.contains(svc.as_str()) {
                p.push((
                    path!("runbook", field, i),
                    format!("unknown service {svc:?}; {}", known(&services)),
                ));
            }
        }
    }
    for (i, svc) in r.wait_after.iter().enumerate() {
        if !r.start_order.contains(svc) {
            p.push((
                path!("runbook", "wait_after", i),
                format!("{svc:?} is not in start_order"),
            ));
        }
    }
    if pair.is_some()
        && let Err(e) = super::lan_failover::store_pairs(s, &failover_params(r))
    {
        p.push((path!("runbook"), e));
    }
}
