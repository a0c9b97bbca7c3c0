//! The runbooks of the source documents, written once against the interface.
//!
//! Each runbook module provides three things: `control` (what happens from
//! the start of the drill: monitoring, decision, steps, waiting for users,
//! composed from [`Drill`]'s services), `validate` (checks of its
//! `[runbook]` parameters against the estate) and the steps themselves.
//! Adding a runbook means a module, a `RunbookDef` variant and one arm in
//! each function below.

pub mod lan_failover;

use drlab_drivers::Backend;

use crate::context::StepFailed;
use crate::drill::Drill;
use crate::format::{RunbookDef, Scenario};
use crate::validate::Problems;

/// How a runbook ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// The host that serves users afterwards (read back for RPO).
    pub serving: String,
    /// Steps that failed without stopping the runbook (a batch file goes on).
    pub failed_steps: Vec<StepFailed>,
}

/// The scenario runbook's control loop; returns why the drill ends.
pub async fn control<B: Backend>(d: &Drill<'_, B>) -> &'static str {
    match &d.cx().s.runbook {
        RunbookDef::LanFailover(p) => lan_failover::control(d, p).await,
    }
}

/// The host serving users before any failover.
pub fn primary(def: &RunbookDef) -> &str {
    match def {
        RunbookDef::LanFailover(p) => &p.source,
    }
}

/// Checks the runbook's parameters against the estate.
pub(crate) fn validate(s: &Scenario, problems: &mut Problems) {
    match &s.runbook {
        RunbookDef::LanFailover(p) => lan_failover::validate(s, p, problems),
    }
}
