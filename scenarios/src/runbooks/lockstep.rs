//! Lockstep fault tolerance with Marathon everRun (004, the blog's Q&A):
//!
//! - "we are doing operations on two servers simultaneously. The
//!   application is actually running in tandem on both of these servers ...
//!   there is no downtime and no data loss, because there is no 'recovery'
//!   – even when there is a failure." A hardware fault of one server
//!   (`fail-server`) is absorbed by the world: nothing for this runbook to do.
//! - "How does everRun handle Software or OS hangs? A: everRun does not
//!   monitor applications." Both servers run the same instruction stream, so
//!   a hung service hangs on both; the availability monitor sees healthy
//!   hardware and answered heartbeats, and nobody acts: the outage lasts
//!   until the drill's horizon and the end reason says why.
//! - "they can be up to 100 miles apart" (SplitSite), "depending on the
//!   bandwidth and latency of your connection": `[[lockstep]]
//!   max_link_latency_ms`, checked when the scenario is validated.
//!
//! The monitor only declares a failure when the protected host stops
//! answering altogether (both servers gone, or the OS down on both): there
//! is no second system to fail over to, so that, too, is not recovered.

use drlab_drivers::Backend;

use crate::drill::{Detection, Drill};
use crate::format::{LockstepParams, Scenario};
use crate::path;
use crate::validate::{Problems, host};

/// The drill's control loop: watch the pair's heartbeat; there is nothing
/// to run, whatever happens.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &LockstepParams) -> &'static str {
    match d.detect(&p.monitor, &p.host).await {
        Detection::NoOutage(why) => why,
        Detection::Stopped => {
            "horizon reached: users lost service while the lockstep pair's hardware stayed \
             healthy and answered every heartbeat; everRun does not monitor applications, so \
             the application hang was not covered"
        }
        Detection::Failed(_) => {
            "the protected server stopped on both lockstep servers: there is no other \
             system to fail over to"
        }
    }
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &LockstepParams, p: &mut Problems) {
    if !s.lockstep.iter().any(|l| l.host == r.host) {
        p.push((
            path!("runbook", "host"),
            format!("{:?} has no [[lockstep]] entry", r.host),
        ));
    }
    if host(s, &r.monitor).is_none() {
        p.push((
            path!("runbook", "monitor"),
            format!("unknown host {:?}", r.monitor),
        ));
    }
    if r.monitor == r.host {
        p.push((
            path!("runbook", "monitor"),
            "a host cannot monitor itself".into(),
        ));
    }
}
