//! The runbooks of the source documents, written once against the interface.
//!
//! Each runbook module provides three things: `control` (what happens from
//! the start of the drill: monitoring, decision, steps, waiting for users,
//! composed from [`Drill`]'s services), `validate` (checks of its
//! `[runbook]` parameters against the estate) and the steps themselves.
//! Adding a runbook means a module, a `RunbookDef` variant and one arm in
//! each function below.

pub mod agents;
pub mod archive;
pub mod autopilot;
pub mod autosync;
pub mod ccr;
pub mod dag;
pub mod dag_aim;
pub mod dag_manual;
pub mod exchange_ops;
pub mod failback;
pub mod lan_failover;
pub mod lockstep;
pub mod refs;
pub mod restore;
pub mod steps;
pub mod two_site;
pub mod wan_failover;

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
        RunbookDef::WanFailover(p) => wan_failover::control(d, p).await,
        RunbookDef::Failback(p) => failback::control(d, p).await,
        RunbookDef::TwoSiteDr(p) => two_site::control(d, p).await,
        RunbookDef::Autosync(p) => autosync::control(d, p).await,
        RunbookDef::Archive(p) => archive::control(d, p).await,
        RunbookDef::RestoreFromArchive(p) => restore::control(d, p).await,
        RunbookDef::DagAim(p) => dag_aim::control(d, p).await,
        RunbookDef::DagManual(p) => dag_manual::control(d, p).await,
        RunbookDef::CcrActivation(p) => ccr::control(d, p).await,
        RunbookDef::EverrunLockstep(p) => lockstep::control(d, p).await,
    }
}

/// The host serving users before any failover.
pub fn primary(def: &RunbookDef) -> &str {
    match def {
        RunbookDef::LanFailover(p) => &p.source,
        RunbookDef::WanFailover(p) => &p.source,
        RunbookDef::Failback(p) => &p.source,
        RunbookDef::TwoSiteDr(p) => &p.primary,
        RunbookDef::Autosync(p) => &p.source,
        RunbookDef::Archive(p) => &p.primary,
        RunbookDef::RestoreFromArchive(p) => &p.primary,
        // A DAG's control loop names its members as the serving site first thing.
        RunbookDef::DagAim(p) => &p.controller,
        RunbookDef::DagManual(p) => &p.monitor,
        RunbookDef::CcrActivation(p) => &p.active,
        RunbookDef::EverrunLockstep(p) => &p.host,
    }
}

/// Checks the runbook's parameters against the estate.
pub(crate) fn validate(s: &Scenario, problems: &mut Problems) {
    match &s.runbook {
        RunbookDef::LanFailover(p) => lan_failover::validate(s, p, problems),
        RunbookDef::WanFailover(p) => wan_failover::validate(s, p, problems),
        RunbookDef::Failback(p) => failback::validate(s, p, problems),
        RunbookDef::TwoSiteDr(p) => two_site::validate(s, p, problems),
        RunbookDef::Autosync(p) => autosync::validate(s, p, problems),
        RunbookDef::Archive(p) => archive::validate(s, p, problems),
        RunbookDef::RestoreFromArchive(p) => restore::validate(s, p, problems),
        RunbookDef::DagAim(p) => dag_aim::validate(s, p, problems),
        RunbookDef::DagManual(p) => dag_manual::validate(s, p, problems),
        RunbookDef::CcrActivation(p) => ccr::validate(s, p, problems),
        RunbookDef::EverrunLockstep(p) => lockstep::validate(s, p, problems),
    }
}
