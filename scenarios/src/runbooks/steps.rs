//! Step helpers shared by the catalogue's runbooks: steps that are skipped
//! with a reason, `net stop X /y` (a stop that takes X's running dependents
//! down first, as Windows does), service starts and mounts retried after a
//! wait, and the names of hosts (FQDN, reverse lookup). Scenario references
//! (the DC a host talks to, addresses, stores, zones) are in [`super::refs`].

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use drlab_drivers::event::StepOutcome;
use drlab_drivers::types::StoreRef;
use drlab_drivers::{Backend, EventKind};

use crate::context::{Ctx, StepFailed, fmt_secs};
use crate::format::Scenario;

/// Records a step that was not run, with the reason (e.g. the primary site
/// is gone).
pub fn skip<B: Backend>(cx: &Ctx<'_, B>, name: impl Into<Arc<str>>, reason: &str) {
    let step: Arc<str> = name.into();
    cx.emit(EventKind::StepStarted { step: step.clone() });
    cx.emit(EventKind::StepFinished {
        step,
        outcome: StepOutcome::Skipped {
            reason: reason.into(),
        },
    });
}

/// The services that require `svc`, directly or through others, in an
/// order they can stop in (each before what it requires).
pub fn dependents(s: &Scenario, svc: &str) -> Vec<String> {
    let Some(x) = &s.exchange else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut frontier = vec![svc.to_string()];
    // Each pass adds at least one service or stops: bounded by the set's size.
    for _ in 0..=x.services.len() {
        let Some(cur) = frontier.pop() else { break };
        for d in x.services.iter().filter(|d| d.requires.contains(&cur)) {
            if !out.contains(&d.name) {
                out.push(d.name.clone());
                frontier.push(d.name.clone());
            }
        }
    }
    // Dependents found later depend on earlier ones: stop them first.
    out.reverse();
    out
}

/// `net stop SVC /y` on `host`: the running dependents first, then SVC, as
/// one step named `{prefix}net stop SVC /y on HOST`.
pub async fn net_stop<B: Backend>(
    cx: &Ctx<'_, B>,
    prefix: &str,
    host: &str,
    svc: &str,
) -> Result<(), StepFailed> {
    let deps = dependents(cx.s, svc);
    let flag = if deps.is_empty() { "" } else { " /y" };
    cx.step(format!("{prefix}net stop {svc}{flag} on {host}"), async {
        for d in &deps {
            cx.stop_service(host, d).await?;
        }
        cx.stop_service(host, svc).await
    })
    .await
}

/// Starts `svc` on `host`; a failed start is retried after `wait` (a
/// dependency may not be ready yet), at most `attempts` starts in all.
pub async fn start_retried<B: Backend>(
    cx: &Ctx<'_, B>,
    prefix: &str,
    host: &str,
    svc: &str,
    attempts: u32,
    wait: f64,
) -> Result<(), StepFailed> {
    let mut attempt = 1;
    loop {
        let name = if attempt == 1 {
            format!("{prefix}net start {svc} on {host}")
        } else {
            format!("{prefix}net start {svc} on {host} (attempt {attempt})")
        };
        match cx.step(name, cx.start_service(host, svc)).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= attempts => return Err(e),
            Err(_) => {
                attempt += 1;
                cx.step(format!("{prefix}wait {}s", fmt_secs(wait)), async {
                    cx.b.sleep(drlab_drivers::time::secs(wait)).await;
                    Ok(())
                })
                .await?;
            }
        }
    }
}

/// Mounts `store` on `host`; a failed mount is retried after `wait` (the
/// store service may report running before it can mount), at most
/// `attempts` mounts in all.
pub async fn mount_retried<B: Backend>(
    cx: &Ctx<'_, B>,
    prefix: &str,
    host: &str,
    store: &StoreRef,
    attempts: u32,
    wait: f64,
) -> Result<(), StepFailed> {
    let mut attempt = 1;
    loop {
        let name = format!("{prefix}mount {store} on {host} (attempt {attempt})");
        match cx.step(name, cx.b.mount_store(host, store)).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= attempts => return Err(e),
            Err(_) => {
                attempt += 1;
                cx.step(format!("{prefix}wait {}s", fmt_secs(wait)), async {
                    cx.b.sleep(drlab_drivers::time::secs(wait)).await;
                    Ok(())
                })
                .await?;
            }
        }
    }
}

/// `host.domain`, lower case.
pub fn fqdn(s: &Scenario, name: &str) -> String {
    let domain = s.domain.as_ref().map_or("", |d| d.name.as_str());
    format!("{}.{}", name, domain).to_ascii_lowercase()
}

/// The reverse-lookup name of an address (`11.0.0.10.in-addr.arpa`).
pub fn reverse_name(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
}

/// A fixed wait recorded as a step with a name of its own.
pub async fn wait_named<B: Backend>(cx: &Ctx<'_, B>, name: String, d: Duration) {
    let _ = cx
        .step(name, async {
            cx.b.sleep(d).await;
            Ok(())
        })
        .await;
}

/// A short description of a sequence-number set difference for messages:
/// how many, and the first and last.
pub fn describe_missing(missing: &drlab_drivers::SeqSet) -> String {
    match (missing.iter().next(), missing.iter().last()) {
        (Some(a), Some(b)) => format!("{} records (seq {a}..{b})", missing.len()),
        _ => "no records".to_string(),
    }
}
