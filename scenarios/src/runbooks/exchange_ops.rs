//! Exchange operations composed by the restore runbook (the failover and
//! switch-back of the patent's process 300 inside process 700) and the CCR
//! activation: services started in order with waits and retries, store
//! mounts with the patent's recovery ladder, mailbox re-homing, and moving
//! a service name in DNS. Each operation is one or more recorded steps.

use std::time::Duration;

use drlab_drivers::types::{DnsRecord, RecordType, StoreRef};
use drlab_drivers::{Backend, OpError};

use super::refs::{dc_for, ip_of, resolved, zone_servers};
use crate::context::{Ctx, StepFailed, fmt_secs};
use crate::format::Scenario;

/// The organisation's services in `[exchange]` order, each moved after
/// what it requires where the list declares it earlier.
pub fn service_order(s: &Scenario) -> Vec<String> {
    let Some(x) = &s.exchange else {
        return Vec::new();
    };
    let declared = x.services.iter().map(|v| v.name.clone()).collect();
    // declared order, each service after what it requires
    super::steps::stable_order(declared, |a, b| super::steps::requires(x, a, b))
}

/// `net start` every service of `order` on `h`. A start that fails (a
/// dependency not ready yet: services report running before they serve)
/// is tried again after `wait_s`, at most `attempts` times in all.
pub async fn start_services<B: Backend>(
    cx: &Ctx<'_, B>,
    h: &str,
    order: &[String],
    wait_s: f64,
    attempts: u32,
) -> Result<(), StepFailed> {
    for svc in order {
        for attempt in 1..=attempts.max(1) {
            let name = if attempt == 1 {
                format!("net start {svc} on {h}")
            } else {
                format!("net start {svc} on {h} (attempt {attempt})")
            };
            match cx.step(name, cx.start_service(h, svc)).await {
                Ok(()) => break,
                Err(e)
                    if attempt < attempts && matches!(e.error, OpError::ServiceFailed { .. }) =>
                {
                    cx.wait_step(wait_s).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// `net stop` the services of `order` on `h`, last first.
pub async fn stop_services<B: Backend>(
    cx: &Ctx<'_, B>,
    h: &str,
    order: &[String],
) -> Result<(), StepFailed> {
    for svc in order.iter().rev() {
        cx.step(format!("net stop {svc} on {h}"), cx.stop_service(h, svc))
            .await?;
    }
    Ok(())
}

/// Mounts each store; the patent's ladder when a mount fails: a second
/// attempt after `retry_wait_s` (the store service may report running
/// before it serves), then soft recovery, then hard recovery, each followed
/// by a mount.
pub async fn mount_stores<B: Backend>(
    cx: &Ctx<'_, B>,
    h: &str,
    stores: &[StoreRef],
    retry_wait_s: f64,
) -> Result<(), StepFailed> {
    for st in stores {
        let mount = |n: &str| cx.step(format!("mount {st} on {h}{n}"), cx.b.mount_store(h, st));
        if mount("").await.is_ok() {
            continue;
        }
        cx.wait_step(retry_wait_s).await;
        if mount(" (attempt 2)").await.is_ok() {
            continue;
        }
        let soft = cx.step(
            format!("soft recovery of {st} on {h}"),
            cx.b.soft_recovery(h, st),
        );
        if soft.await.is_ok() && mount(" after soft recovery").await.is_ok() {
            continue;
        }
        cx.step(
            format!("hard recovery of {st} on {h}"),
            cx.b.hard_recovery(h, st),
        )
        .await?;
        mount(" after hard recovery").await?;
    }
    Ok(())
}

/// Dismounts each store.
pub async fn dismount_stores<B: Backend>(
    cx: &Ctx<'_, B>,
    h: &str,
    stores: &[StoreRef],
) -> Result<(), StepFailed> {
    for st in stores {
        cx.step(format!("dismount {st} on {h}"), cx.b.dismount_store(h, st))
            .await?;
    }
    Ok(())
}

/// Sets "this database can be overwritten by a restore" on each store: a
/// copy from another server mounts only with it.
pub async fn allow_overwrite<B: Backend>(
    cx: &Ctx<'_, B>,
    h: &str,
    stores: &[StoreRef],
    why: &str,
) -> Result<(), StepFailed> {
    cx.step(
        format!("{why}: overwrite flag on {} stores of {h}", stores.len()),
        async {
            for st in stores {
                cx.b.set_overwrite_on_restore(h, st, true).await?;
            }
            Ok(())
        },
    )
    .await
}

/// Re-homes every mailbox of `from` on `to` (same store names), written to
/// the DC `to` talks to (`over`, the runbook's `dc`, first).
pub async fn move_mailboxes<B: Backend>(
    cx: &Ctx<'_, B>,
    from: &str,
    to: &str,
    over: Option<&str>,
) -> Result<(), StepFailed> {
    let dc = resolved(
        cx,
        format!("move mailboxes {from} -> {to}"),
        dc_for(cx.s, to, over),
    )
    .await?;
    cx.step(format!("move mailboxes {from} -> {to} on {dc}"), async {
        for m in cx.b.list_mailboxes(&dc, from).await? {
            cx.b.set_mailbox_home(&dc, &m.name, to, &m.store).await?;
        }
        Ok(())
    })
    .await
}

/// Points `name`'s A record at `to`'s address with `ttl_s` on every server
/// of its zone: other addresses are deleted, the new one added. A server
/// that cannot be reached (a lost site) is skipped; at least one must take it.
pub async fn point_name<B: Backend>(
    cx: &Ctx<'_, B>,
    name: &str,
    to: &str,
    ttl_s: u32,
) -> Result<(), StepFailed> {
    let fqdn = crate::dns::normalise(name);
    let what = format!("DNS: {fqdn} A -> the address of {to}");
    let ip = resolved(cx, what.as_str(), ip_of(cx.s, to))
        .await?
        .to_string();
    let servers = resolved(cx, what, zone_servers(cx.s, name)).await?;
    let ip = ip.as_str();
    let mut last = None;
    let mut done = 0;
    for server in servers {
        let r = cx
            .step(
                format!("DNS on {server}: {fqdn} A -> {ip} (TTL {ttl_s} s)"),
                async {
                    for r in cx.b.query_server(&server, &fqdn, RecordType::A).await? {
                        if *r.data != *ip {
                            cx.b.delete_record(&server, &r).await?;
                        }
                    }
                    let rec = DnsRecord {
                        name: fqdn.as_str().into(),
                        rtype: RecordType::A,
                        data: ip.into(),
                        ttl_s,
                    };
                    cx.b.add_record(&server, &rec).await
                },
            )
            .await;
        match r {
            Ok(()) => done += 1,
            Err(e) => last = Some(e),
        }
    }
    // The zone has servers, so when none took the change one failed.
    match last {
        Some(e) if done == 0 => Err(e),
        _ => Ok(()),
    }
}

/// A person's work as a step of its own: nothing changes in the estate
/// until it is done.
pub async fn human<B: Backend>(cx: &Ctx<'_, B>, what: &str, secs: f64) {
    let d = drlab_drivers::time::secs(secs);
    let _ = cx
        .step(format!("{what} ({})", duration_words(d)), async {
            cx.b.sleep(d).await;
            Ok(())
        })
        .await;
}

/// `1 h 30 min`, `20 min`, `45 s`.
pub fn duration_words(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 {
        let h = (s / 3600.0).floor();
        let m = ((s - h * 3600.0) / 60.0).round();
        if m == 0.0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    } else if s >= 60.0 && (s / 60.0).fract() == 0.0 {
        format!("{} min", s / 60.0)
    } else {
        format!("{} s", fmt_secs(s))
    }
}
