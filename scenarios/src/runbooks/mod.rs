//! The runbooks of the source documents, written once against the interface.

pub mod lan_failover;

use drlab_drivers::Backend;

use crate::context::{Ctx, StepFailed};
use crate::format::RunbookDef;

/// How a runbook ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// The host that serves users afterwards (read back for RPO).
    pub serving: String,
    /// Steps that failed without stopping the runbook (a batch file goes on).
    pub failed_steps: Vec<StepFailed>,
}

/// Runs the scenario's runbook.
pub async fn run<B: Backend>(cx: &Ctx<'_, B>, def: &RunbookDef) -> Result<Completed, StepFailed> {
    match def {
        RunbookDef::LanFailover(p) => lan_failover::run(cx, p).await,
    }
}

/// Which host monitors which (`(monitor, watched)`).
pub fn watch(def: &RunbookDef) -> (&str, &str) {
    match def {
        RunbookDef::LanFailover(p) => (&p.target, &p.source),
    }
}

/// The host serving users before any failover.
pub fn primary(def: &RunbookDef) -> &str {
    match def {
        RunbookDef::LanFailover(p) => &p.source,
    }
}
