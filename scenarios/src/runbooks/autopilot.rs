//! Auto Pilot, the patent's process 400 (002, "VI. Auto Pilot Operation",
//! Figure 4): "In step 404, process 400 determines if the Exchange service
//! ... is experiencing degraded performance (or if server 118a is
//! unavailable) ... In step 408, ... attempts to (re)start Exchange
//! application services on server 118a. The success of step 408 is tested in
//! step 410. If successful, process 400 ends ... Otherwise, process 400
//! proceeds to step 414 where the failure switch-over process (i.e., process
//! 300) is initiated." The user can set "a pre-determined wait time for
//! performing failure switch-over after detecting an application is
//! unavailable" (`[policy] autopilot_wait_s`).
//!
//! Figure 2 has no transition from Degrading Primary (206) back to Normal,
//! so the restart is attempted while the console still shows Normal; the
//! two-site runbook fires 204 only when the restart fails, then waits, then
//! engages the secondary with zero user action (208). Auto Pilot engages its
//! recovery (the restart) at once: the report's decision time is zero and
//! the restart, the wait and any failover count as execution.

use drlab_drivers::event::Decision;
use drlab_drivers::types::ServiceState;
use drlab_drivers::{Backend, EventKind};

use super::agents::{self, Watch};
use super::steps::{mount_retried, start_retried};
use crate::drill::Drill;
use crate::format::TwoSiteParams;

/// Steps 408 and 410: restart the stopped services and remount the stores
/// on the primary; true when its agent then reports it healthy.
pub async fn restart<B: Backend>(d: &Drill<'_, B>, p: &TwoSiteParams, w: &Watch<'_>) -> bool {
    let cx = d.cx();
    let b = cx.b;
    let host = p.primary.as_str();
    cx.emit(EventKind::FailoverEngaged {
        by: Decision::Autopilot,
    });
    let timeout = drlab_drivers::time::secs(p.agent_timeout_s);
    let reached = cx
        .step(format!("408 Auto Pilot: reach {host}"), async {
            b.ping(&p.management, host, timeout).await.map(|_| ())
        })
        .await;
    let mut ok = reached.is_ok();
    if ok {
        for svc in p.start_order.iter().filter(|x| w.services.contains(x)) {
            if matches!(b.service_status(host, svc).await, Ok(ServiceState::Running)) {
                continue;
            }
            let r = start_retried(
                cx,
                "408 restart: ",
                host,
                svc,
                p.start_attempts_max,
                p.service_retry_wait_s,
            )
            .await;
            if r.is_err() {
                ok = false;
                break;
            }
        }
    }
    if ok {
        match b.list_stores(host).await {
            Ok(stores) => {
                for st in stores.iter().filter(|x| !x.mounted) {
                    let r = mount_retried(
                        cx,
                        "408 restart: ",
                        host,
                        &st.id,
                        p.mount_attempts,
                        p.service_retry_wait_s,
                    )
                    .await;
                    ok &= r.is_ok();
                }
            }
            Err(_) => ok = false,
        }
    }
    let healthy = ok && agents::report(cx, w, host).await.is_none();
    let _ = cx
        .step(format!("410 did the restart of {host} succeed?"), async {
            if healthy {
                Ok(())
            } else {
                Err(drlab_drivers::OpError::invalid_state(format!(
                    "{host} is still degraded: Auto Pilot initiates failure switch-over (414)"
                )))
            }
        })
        .await;
    healthy
}

/// The wait before failover; false when the drill stopped first.
pub async fn wait_before_failover<B: Backend>(d: &Drill<'_, B>) -> bool {
    let cx = d.cx();
    let wait_s = cx.s.policy.autopilot_wait_s;
    let start = cx.b.now();
    cx.emit(EventKind::StepStarted {
        step: format!(
            "400 Auto Pilot waits {} s before failure switch-over",
            wait_s
        )
        .into(),
    });
    let stopped = d
        .sleep_until(start.after(drlab_drivers::time::secs(wait_s)))
        .await;
    cx.emit(EventKind::StepFinished {
        step: format!(
            "400 Auto Pilot waits {} s before failure switch-over",
            wait_s
        )
        .into(),
        outcome: drlab_drivers::StepOutcome::Ok,
    });
    !stopped
}
