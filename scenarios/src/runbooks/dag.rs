//! What both DAG re-provisioning runbooks share (Dell, "Microsoft Exchange
//! Server 2010 High Availability in Dell Advanced Infrastructure Manager
//! Environment", 2012):
//!
//! - Active Manager ("Failover scenario"): "The Exchange Active Manager
//!   finds that one of the DAG members has failed ... The Active Manager
//!   activates the passive copy of Database-1 hosted on Exchange Server-2
//!   ... The DAG is in a degraded state as Exchange Server-2 is handling
//!   twice its normal workload." Members watch each other with cluster
//!   heartbeats (`[dag]`); the best surviving copy by activation preference
//!   is mounted.
//! - The redistribution script (appendix, `Redistribute.ps1`): "Check the
//!   mailbox database status and take care of 'Failed', 'Failed and
//!   Suspended' and 'Suspended' states", then
//!   `RedistributeActiveDatabases.ps1 -BalanceDbsByActivationPreference`,
//!   then `start-sleep -s 30` and the status again. "The logs are replayed
//!   on Exchange Server-1 to change the state of database copies hosted by
//!   Exchange Server-1 to Healthy."
//!
//! Copy states map onto replication connections between members: a
//! disconnected connection is a Failed copy (resumed by an incremental
//! resync, modelled as a difference mirror), a paused one a Suspended copy,
//! a replicating and drained one a Healthy copy. A database switchover
//! (`Move-ActiveMailboxDatabase`) drains the logs, dismounts and mounts.
//!
//! The DAG runs degraded from Active Manager's detection until the original
//! configuration is back with every copy healthy; the report's `degraded_s`.

use std::pin::Pin;
use std::time::Duration;

use drlab_drivers::event::Decision;
use drlab_drivers::types::{ReplicationState, StoreRef};
use drlab_drivers::{Backend, EventKind, OpError, Transition};
use futures::future::select_all;

use crate::context::{Ctx, StepFailed};
use crate::drill::{Detection, Drill};
use crate::format::{DagDef, Scenario};
use crate::path;
use crate::validate::{Problems, positive};

/// A database of the DAG: its store and its copies by preference.
pub struct Database {
    /// Name.
    pub name: String,
    /// The store holding it on every member.
    pub store: StoreRef,
    /// (member, activation preference), preferred first.
    pub copies: Vec<(String, u32)>,
}

/// The DAG's databases (validated scenarios have a `[dag]`).
pub fn databases(s: &Scenario) -> Vec<Database> {
    let Some(dag) = &s.dag else {
        return Vec::new();
    };
    let groups = s
        .exchange
        .as_ref()
        .map(|x| x.storage_groups.as_slice())
        .unwrap_or(&[]);
    dag.databases
        .iter()
        .filter_map(|db| {
            let g = groups.iter().find(|g| g.name == db.name)?;
            let st = g.stores.first()?;
            let mut copies: Vec<(String, u32)> = db
                .copies
                .iter()
                .map(|c| (c.server.clone(), c.preference))
                .collect();
            copies.sort_by_key(|c| c.1);
            Some(Database {
                name: db.name.clone(),
                store: StoreRef::new(g.name.as_str(), st.name.as_str()),
                copies,
            })
        })
        .collect()
}

/// Checks shared by both runbooks.
pub(crate) fn validate_common(s: &Scenario, p: &mut Problems) {
    if s.dag.is_none() {
        p.push((
            path!("runbook"),
            "DAG re-provisioning needs a [dag] section".into(),
        ));
    }
}

/// Every member reads back at the end: a write any copy holds is held.
pub fn serve_from_members<B: Backend>(d: &Drill<'_, B>, dag: &DagDef) {
    if let Some(first) = dag.members.first() {
        d.set_serving(first);
    }
    for m in &dag.members {
        d.add_serving(m);
    }
}

/// One monitor of a member: its name and what its watch found.
pub type Monitor<'f> = (String, Pin<Box<dyn Future<Output = Detection> + 'f>>);

/// Races the members' monitors; the first failure wins.
pub async fn first_failure(monitors: Vec<Monitor<'_>>) -> Result<String, Detection> {
    if monitors.is_empty() {
        return Err(Detection::Stopped);
    }
    let (names, futs): (Vec<String>, Vec<_>) = monitors.into_iter().unzip();
    let (found, i, _) = select_all(futs).await;
    match found {
        Detection::Failed(_) => Ok(names[i].clone()),
        other => Err(other),
    }
}

/// Active Manager: detects a failed member and activates the best
/// surviving copy of every database left without a mounted copy. Returns
/// the failed member.
pub async fn active_manager<B: Backend>(
    d: &Drill<'_, B>,
    dag: &DagDef,
) -> Result<String, Detection> {
    let cx = d.cx();
    let interval = drlab_drivers::time::secs(dag.heartbeat_interval_s);
    let n = dag.members.len();
    let monitors = dag
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let from = dag.members[(i + 1) % n].clone();
            let to = m.clone();
            let fut: Pin<Box<dyn Future<Output = Detection> + '_>> = Box::pin(async move {
                d.detect_with(&from, &to, interval, dag.missed_heartbeats)
                    .await
            });
            (m.clone(), fut)
        })
        .collect();
    let failed = first_failure(monitors).await?;
    cx.emit(EventKind::DegradedStarted {
        what: dag.name.as_str().into(),
        why: format!("member {failed} failed; the other members carry its databases").into(),
    });
    cx.fire(Transition::Degrade);
    cx.emit(EventKind::FailoverEngaged {
        by: Decision::Autopilot,
    });
    cx.fire(Transition::EngageSecondary);
    for db in databases(cx.s) {
        if active_server(cx, &db).await.is_some() {
            continue;
        }
        for (m, pref) in db.copies.iter().filter(|c| c.0 != failed) {
            let r = cx
                .step(
                    format!(
                        "Active Manager: activate the copy of {} on {m} (activation preference {pref})",
                        db.name
                    ),
                    cx.b.mount_store(m, &db.store),
                )
                .await;
            if r.is_ok() {
                break;
            }
        }
    }
    cx.fire(Transition::SecondaryEngagedSuccess);
    Ok(failed)
}

/// Where a database is mounted now, asking each member.
pub async fn active_server<B: Backend>(cx: &Ctx<'_, B>, db: &Database) -> Option<String> {
    for (m, _) in &db.copies {
        if cx.b.store_mounted(m, &db.store).await == Ok(true) {
            return Some(m.clone());
        }
    }
    None
}

/// The redistribution script run for the re-provisioned member
/// `recovered`: resume its failed copies, wait until they are Healthy,
/// move every database back to its preferred copy, sleep, check every copy.
/// Fires transitions 216 to 228 and ends the degraded period.
pub async fn redistribute<B: Backend>(
    cx: &Ctx<'_, B>,
    dag: &DagDef,
    recovered: &str,
    healthy_limit_s: f64,
    sleep_s: f64,
) -> Result<(), StepFailed> {
    let b = cx.b;
    let limit = drlab_drivers::time::secs(healthy_limit_s);
    let others: Vec<&String> = dag.members.iter().filter(|m| *m != recovered).collect();
    cx.step(
        format!("Get-MailboxDatabaseCopyStatus -server {recovered}"),
        async {
            for m in &others {
                b.queue_status(m, recovered).await?;
            }
            Ok(())
        },
    )
    .await?;
    cx.fire(Transition::StandbySuccess);
    for m in &others {
        match b.queue_status(m, recovered).await.map(|q| q.state) {
            Ok(ReplicationState::Disconnected) => {
                cx.step(
                    format!(
                        "Resume-MailboxDatabaseCopy (Failed and Suspended) on {recovered}: \
                         incremental resync from {m}"
                    ),
                    b.connect(m, recovered, drlab_drivers::types::MirrorMode::Difference),
                )
                .await?;
            }
            Ok(ReplicationState::Paused) => {
                cx.step(
                    format!("Resume-MailboxDatabaseCopy (Suspended) on {recovered} from {m}"),
                    b.resume(m, recovered),
                )
                .await?;
            }
            _ => {}
        }
    }
    cx.step(
        format!("logs replay until the copies on {recovered} are Healthy"),
        async {
            for m in &others {
                b.wait_drained(m, recovered, Duration::ZERO, limit).await?;
            }
            Ok(())
        },
    )
    .await?;
    cx.fire(Transition::ReSyncPrimarySuccess);
    for db in databases(cx.s) {
        let Some((preferred, _)) = db.copies.first() else {
            continue;
        };
        let current = active_server(cx, &db).await;
        if current.as_deref() == Some(preferred.as_str()) {
            continue;
        }
        cx.step(
            format!(
                "RedistributeActiveDatabases.ps1 -BalanceDbsByActivationPreference: move {} to {preferred}",
                db.name
            ),
            async {
                if let Some(c) = &current {
                    b.wait_drained(c, preferred, Duration::ZERO, limit).await?;
                    b.dismount_store(c, &db.store).await?;
                }
                b.mount_store(preferred, &db.store).await
            },
        )
        .await?;
    }
    cx.fire(Transition::EngagingPrimarySuccess);
    cx.wait_step(sleep_s).await;
    cx.step(
        "Get-MailboxDatabaseCopyStatus: every copy Healthy".to_string(),
        async {
            for a in &dag.members {
                for z in dag.members.iter().filter(|z| *z != a) {
                    let q = b.queue_status(a, z).await?;
                    if q.state != ReplicationState::Replicating {
                        return Err(OpError::invalid_state(format!(
                            "the copies {a} -> {z} are not Healthy ({:?})",
                            q.state
                        )));
                    }
                }
            }
            Ok(())
        },
    )
    .await?;
    cx.fire(Transition::ToNormal);
    cx.emit(EventKind::DegradedEnded {
        what: dag.name.as_str().into(),
    });
    Ok(())
}

/// Checks a runbook's redistribution parameters.
pub(crate) fn validate_script(p: &mut Problems, healthy_limit_s: f64, sleep_s: f64) {
    positive(
        p,
        path!("runbook", "healthy_limit_s"),
        healthy_limit_s,
        "healthy limit",
    );
    crate::validate::non_negative(
        p,
        path!("runbook", "script_sleep_s"),
        sleep_s,
        "script sleep",
    );
}
