//! The patent's intelligent agents and management server (002, "Operational
//! Overview" and state 202): agents on each server report the state of the
//! Exchange services ("started, stopped") and of the information stores
//! ("mounted, dismounted"); user-access agents check that end users reach
//! the service. "Data is collected from each metric ... once every
//! predetermined time period (e.g., every thirty seconds)"; the management
//! server renders one health state from the latest reports.
//!
//! Modelled here: every `interval` from the start of the drill, the
//! management server asks each agent for its report (a report that does not
//! arrive within `timeout` is a missing report), and a user-access agent
//! performs one end-user operation through the users' resolver. Every report
//! is recorded as an [`EventKind::AgentReport`]. The first report that
//! leaves "Normal parameters" ends the watch: the active server degraded
//! (transition 204) or, with the server healthy, user access degraded (230).

use std::time::Duration;

use drlab_drivers::types::ServiceState;
use drlab_drivers::{Backend, EventKind, OpError, Timestamp};
use futures::future::join;

use crate::context::Ctx;
use crate::drill::Drill;

/// What the management server watches.
pub struct Watch<'a> {
    /// The management server (128) the agents report to.
    pub management: &'a str,
    /// The server that should be serving (its services running, stores mounted).
    pub active: &'a str,
    /// The standby server (only its reachability is reported).
    pub standby: &'a str,
    /// Services that must be running on the active server.
    pub services: Vec<String>,
    /// Report interval.
    pub interval: Duration,
    /// How long a report may take before it counts as missing.
    pub timeout: Duration,
    /// The user-access agent: client population, service name, mailbox.
    pub user_access: Option<(&'a str, &'a str, &'a str)>,
}

/// What left normal parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The active server's report is missing or shows a stopped service or
    /// a dismounted store.
    Degraded(String),
    /// The active server is healthy but users cannot reach it.
    UserAccess(String),
}

/// One report of `host`'s agent: `None` when every metric is normal,
/// otherwise what is wrong.
pub async fn report<B: Backend>(cx: &Ctx<'_, B>, w: &Watch<'_>, host: &str) -> Option<String> {
    let b = cx.b;
    let mut wrong: Vec<String> = Vec::new();
    // The agent's snapshot at the tick, then its report's way to the
    // management server. A dead agent sends nothing: the server knows only
    // when the report is overdue.
    let mut missing: Option<OpError> = None;
    for svc in &w.services {
        match b.service_status(host, svc).await {
            Ok(ServiceState::Running) => {}
            Ok(state) => wrong.push(format!("{svc} {state:?}")),
            Err(e @ OpError::Unreachable { .. }) => {
                missing = Some(e);
                break;
            }
            Err(e) => wrong.push(format!("{svc}: {e}")),
        }
    }
    if missing.is_none() {
        match b.list_stores(host).await {
            Ok(stores) => {
                for st in stores.iter().filter(|x| !x.mounted) {
                    wrong.push(format!("store {} dismounted", st.id));
                }
            }
            Err(e @ OpError::Unreachable { .. }) => missing = Some(e),
            Err(e) => wrong.push(format!("stores: {e}")),
        }
    }
    match missing {
        Some(e) => {
            b.sleep(w.timeout).await;
            wrong = vec![format!(
                "no report from {host} within {} s ({e})",
                w.timeout.as_secs_f64()
            )];
        }
        None => {
            if let Err(e) = b.ping(host, w.management, w.timeout).await {
                wrong = vec![format!("no report from {host} ({e})")];
            }
        }
    }
    let detail = if wrong.is_empty() {
        "services running, stores mounted".to_string()
    } else {
        wrong.join(", ")
    };
    cx.emit(EventKind::AgentReport {
        host: host.into(),
        healthy: wrong.is_empty(),
        detail: detail.as_str().into(),
    });
    (!wrong.is_empty()).then_some(detail)
}

/// Whether `host`'s agent reports at all (a standby, or a repaired server).
pub async fn reachable<B: Backend>(cx: &Ctx<'_, B>, w: &Watch<'_>, host: &str) -> bool {
    let ok = cx.b.ping(w.management, host, w.timeout).await;
    cx.emit(EventKind::AgentReport {
        host: host.into(),
        healthy: ok.is_ok(),
        detail: match &ok {
            Ok(_) => "standby: reporting".into(),
            Err(e) => format!("no report ({e})").into(),
        },
    });
    ok.is_ok()
}

/// The user-access agent's check: `None` when users are served.
async fn user_access<B: Backend>(cx: &Ctx<'_, B>, w: &Watch<'_>) -> Option<String> {
    let (client, name, mailbox) = w.user_access?;
    let r = cx.b.probe(client, name, mailbox).await;
    let detail = match &r {
        Ok(()) => format!("users reach {name}"),
        Err(e) => format!("users of {client} cannot reach {name} ({e})"),
    };
    cx.emit(EventKind::AgentReport {
        host: client.into(),
        healthy: r.is_ok(),
        detail: detail.as_str().into(),
    });
    r.is_err().then_some(detail)
}

/// The next report time at or after `now`: multiples of the interval from
/// the start of the drill.
pub(crate) fn next_tick(now: Timestamp, interval: Duration) -> Timestamp {
    let i = interval.as_micros().max(1) as u64;
    Timestamp(now.as_micros().div_ceil(i) * i)
}

/// Collects reports every interval until one leaves normal parameters;
/// records the detection. `None` when the drill stopped first.
pub async fn watch<B: Backend>(d: &Drill<'_, B>, w: &Watch<'_>) -> Option<Finding> {
    let cx = d.cx();
    let horizon_us = (cx.s.scenario.horizon_s * 1e6) as u64;
    // One round per interval until the horizon, plus the one at zero.
    let rounds_max = horizon_us / (w.interval.as_micros().max(1) as u64) + 2;
    let mut next = next_tick(cx.b.now(), w.interval);
    for _ in 0..rounds_max {
        if d.sleep_until(next).await {
            return None;
        }
        let round = cx.b.now();
        next = next_tick(round.after(Duration::from_micros(1)), w.interval);
        // The agents report side by side.
        let ((server, users), _) = join(
            join(report(cx, w, w.active), user_access(cx, w)),
            reachable(cx, w, w.standby),
        )
        .await;
        let found = match (server, users) {
            (Some(why), _) => Some(Finding::Degraded(why)),
            (None, users) => users.map(Finding::UserAccess),
        };
        if let Some(f) = found {
            let host = match &f {
                Finding::Degraded(_) => w.active,
                Finding::UserAccess(_) => w.user_access.map_or(w.active, |u| u.0),
            };
            cx.emit(EventKind::FailureDetected {
                host: host.into(),
                missed: 1,
            });
            return Some(f);
        }
    }
    None
}

/// Waits (bounded by `limit`) until `host`'s agent reports again, e.g.
/// after a repair. True when it does.
pub async fn await_reporting<B: Backend>(
    d: &Drill<'_, B>,
    w: &Watch<'_>,
    host: &str,
    limit: Duration,
) -> bool {
    let cx = d.cx();
    let deadline = cx.b.now().after(limit);
    let rounds_max = limit.as_micros() as u64 / (w.interval.as_micros().max(1) as u64) + 2;
    for _ in 0..rounds_max {
        if reachable(cx, w, host).await {
            return true;
        }
        let next = next_tick(cx.b.now().after(Duration::from_micros(1)), w.interval);
        if next > deadline || d.sleep_until(next).await {
            return false;
        }
    }
    false
}
