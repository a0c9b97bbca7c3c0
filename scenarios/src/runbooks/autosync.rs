//! AutoSync, the patent's process 500 (002, "VII. Auto-Synch Operation",
//! Figure 5), run at the agents' cadence:
//!
//! - 504 "determines if a replication session has been established and
//!   connected"; if not, 506 "a replication session is established and
//!   connected ... and a 'full mirror' is performed. That is, for every byte
//!   in the replication set (RS1), a difference check is done" (Double-Take's
//!   difference mirror with block checksums, `mirror = "difference"`);
//! - 508 is AutoSync enabled? If not, 510 "transmissions from the source to
//!   the target are paused";
//! - 512 if it is enabled and the session is paused, 516 "the
//!   synchronization software is un-paused"; 518 did that work? If not,
//!   520 "an alert (e.g., an e-mail) [is] sent ... informing them that
//!   resumption of data synchronization has failed"; else 522 monitor.
//!
//! Step 518's check: the resume call succeeded and the target answers the
//! source (a session that cannot reach its target transmits nothing). The
//! console's setting changes at the times of `schedule`. When monitoring
//! ends (`until_s`), the drill waits for the target to catch up and
//! compares what it holds with what the source holds: a replica that lacks
//! acknowledged writes is a broken invariant.

use std::time::Duration;

use drlab_drivers::types::ReplicationState;
use drlab_drivers::{Backend, EventKind, OpError, SeqSet, Timestamp};

use super::Completed;
use super::steps::describe_missing;
use crate::context::{Ctx, StepFailed};
use crate::drill::Drill;
use crate::format::{AutoSyncParams, Scenario};
use crate::path;
use crate::validate::{Problems, host, positive};

/// The setting at drill time `t`.
fn enabled_at(p: &AutoSyncParams, t: Timestamp) -> bool {
    p.schedule
        .iter()
        .rfind(|c| Timestamp::from_secs_f64(c.at_s) <= t)
        .map_or(p.enabled, |c| c.enabled)
}

/// The drill's control loop: process 500 every `check_interval_s` until
/// `until_s`, then the replica's verification.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &AutoSyncParams) -> &'static str {
    let cx = d.cx();
    let interval = drlab_drivers::time::secs(p.check_interval_s);
    let until = Timestamp::from_secs_f64(p.until_s);
    let rounds_max = (p.until_s / p.check_interval_s) as u64 + 2;
    let mut next = cx.b.now();
    for _ in 0..rounds_max {
        if next > until {
            break;
        }
        if d.sleep_until(next).await {
            return "horizon reached";
        }
        let round = cx.b.now();
        // Runs are due at multiples of the interval, however long one takes.
        next = super::agents::next_tick(round.after(Duration::from_micros(1)), interval);
        process_500(cx, p, enabled_at(p, round)).await;
    }
    if d.sleep_until(until).await {
        return "horizon reached";
    }
    let r = verify(cx, p).await;
    d.runbook_finished(&r);
    "AutoSync monitoring ended"
}

/// One run of process 500.
async fn process_500<B: Backend>(cx: &Ctx<'_, B>, p: &AutoSyncParams, enabled: bool) {
    let b = cx.b;
    let (src, tgt) = (p.source.as_str(), p.target.as_str());
    // 504
    let state = b.queue_status(src, tgt).await.map(|q| q.state);
    let connected = matches!(
        state,
        Ok(ReplicationState::Replicating | ReplicationState::Mirroring | ReplicationState::Paused)
    );
    if !connected {
        // 506
        let mode = format!("{:?}", p.mirror).to_ascii_lowercase();
        let r = cx
            .step(
                format!("506 AutoSync: no session {src} -> {tgt}: establish it ({mode} mirror)"),
                b.connect(src, tgt, p.mirror),
            )
            .await;
        if let Err(e) = r {
            cx.emit(EventKind::Alert {
                message: format!(
                    "AutoSync could not establish replication {src} -> {tgt}: {}",
                    e.error
                )
                .into(),
            });
        }
        return;
    }
    let paused = matches!(state, Ok(ReplicationState::Paused));
    if !enabled {
        // 510
        if !paused {
            let _ = cx
                .step(
                    format!("510 AutoSync disabled: pause {src} -> {tgt}"),
                    b.pause(src, tgt),
                )
                .await;
        }
        return;
    }
    if !paused {
        // 514: nothing to do; 522 monitoring goes on.
        return;
    }
    // 516-520
    let hb = Duration::from_secs(5);
    let r = cx
        .step(
            format!("516 AutoSync enabled: unpause {src} -> {tgt}"),
            async {
                b.resume(src, tgt).await?;
                // 518: a session that cannot reach its target sends nothing.
                b.ping(src, tgt, hb).await.map(|_| ())
            },
        )
        .await;
    if let Err(e) = r {
        cx.emit(EventKind::Alert {
            message: format!(
                "AutoSync: resuming data synchronization {src} -> {tgt} failed ({}); changes \
                 since the pause are not protected on {tgt}",
                e.error
            )
            .into(),
        });
    }
}

/// The end of the drill: the target catches up, then holds everything the
/// source held when the wait began. The workload goes on writing meanwhile,
/// so what the source holds is read before the wait: a write that lands
/// on the source after the queue was found empty is not yet the replica's
/// to hold (on the lab it arrives within lsyncd's batching delay).
async fn verify<B: Backend>(cx: &Ctx<'_, B>, p: &AutoSyncParams) -> Result<Completed, StepFailed> {
    let b = cx.b;
    let (src, tgt) = (p.source.as_str(), p.target.as_str());
    let mut held_src: Result<SeqSet, OpError> = Ok(SeqSet::new());
    let caught_up = cx
        .step(
            format!("verify: wait until {tgt} has caught up with {src}"),
            async {
                held_src = b.read_back(src).await;
                b.wait_drained(
                    src,
                    tgt,
                    Duration::ZERO,
                    drlab_drivers::time::secs(p.verify_limit_s),
                )
                .await
            },
        )
        .await;
    let mut missing = SeqSet::new();
    let compared = cx
        .step(
            format!("verify: {tgt} holds everything {src} holds"),
            async {
                let held_src = std::mem::replace(&mut held_src, Ok(SeqSet::new()))?;
                let held_tgt = b.read_back(tgt).await?;
                missing = held_src.iter().filter(|q| !held_tgt.contains(*q)).collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(OpError::invalid_state(format!(
                        "{tgt} lacks {}",
                        describe_missing(&missing)
                    )))
                }
            },
        )
        .await;
    match compared {
        Ok(()) => {}
        // A replica that could not be compared is not verified.
        Err(e) if missing.is_empty() => return Err(e),
        Err(_) => {
            let why = match &caught_up {
                Err(e) => format!("({})", e.error),
                Ok(_) => "although the queue is empty".to_string(),
            };
            cx.emit(EventKind::InvariantBroken {
                what: format!(
                    "the replica {tgt} lacks {} that {src} holds {why}: a failover now would \
                     lose them; check that AutoSync is enabled and that replication resumed",
                    describe_missing(&missing)
                )
                .into(),
            });
        }
    }
    Ok(Completed {
        serving: src.to_string(),
        failed_steps: Vec::new(),
    })
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &AutoSyncParams, p: &mut Problems) {
    for (field, h) in [("source", &r.source), ("target", &r.target)] {
        if host(s, h).and_then(|x| x.exchange.as_ref()).is_none() {
            p.push((
                path!("runbook", field),
                format!("{h:?} is not an Exchange host"),
            ));
        }
    }
    if r.source == r.target {
        p.push((
            path!("runbook", "target"),
            "source and target must differ".into(),
        ));
    }
    positive(
        p,
        path!("runbook", "check_interval_s"),
        r.check_interval_s,
        "check interval",
    );
    positive(
        p,
        path!("runbook", "until_s"),
        r.until_s,
        "end of monitoring",
    );
    positive(
        p,
        path!("runbook", "verify_limit_s"),
        r.verify_limit_s,
        "verification limit",
    );
    if r.until_s > s.scenario.horizon_s {
        p.push((
            path!("runbook", "until_s"),
            format!(
                "monitoring must end before the horizon ({} s), got {} s",
                s.scenario.horizon_s, r.until_s
            ),
        ));
    }
    let mut last = 0.0;
    for (i, c) in r.schedule.iter().enumerate() {
        if !(c.at_s.is_finite() && c.at_s >= last) {
            p.push((
                path!("runbook", "schedule", i, "at_s"),
                "changes are listed in time order, at times >= 0".into(),
            ));
        }
        last = c.at_s;
    }
}
