//! LAN failover of an Exchange 2000/2003 member server with Storage
//! Mirroring, as the HP guide's "Configuring failure monitoring" and its
//! sample `postover.bat` lay it out:
//!
//! 1. The target brings up the source's IP addresses and server name
//!    ("Items to Failover" on a LAN).
//! 2. `dtcl waitontarget target 10`: wait until the target queue is idle 10 s.
//! 3. `exchfailover -setup -failover`: set "overwrite on restore" on the paired stores.
//! 4. `net start` the Exchange services in the documented order with
//!    `dtcl wait 20000` after System Attendant, Information Store and MTA;
//!    if the Information Store fails its first start, start it again and go on
//!    with the services after it.
//! 5. Mount the paired stores.
//! 6. `exchfailover -failover`: point the mailboxes in Active Directory at
//!    the target, pairing stores by database file name or `-r` rules.

use std::collections::BTreeSet;

use drlab_drivers::types::{IdentityItems, StoreRef};
use drlab_drivers::{Backend, OpError};

use super::Completed;
use super::refs::{dc_for, resolved, unresolved};
use crate::context::{Ctx, StepFailed, fmt_secs};
use crate::drill::Drill;
use crate::exchange::pairing::{self, Pair, Rule};
use crate::format::{LanFailoverParams, Scenario};
use crate::path;
use crate::validate::{Problems, host, known, mirroring_pair, non_negative, positive};

/// The drill's control loop: the target monitors the source (Time to Fail),
/// the decision policy engages failover (patent 204, 208), the script runs,
/// and the secondary is engaged (212) once it completes.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &LanFailoverParams) -> &'static str {
    if let Err(why) = d.engage_on_failure(&p.target, &p.source).await {
        return why;
    }
    let cx = d.cx();
    let r = run(cx, p).await;
    if !d.secondary_engaged(&r) {
        return "runbook failed";
    }
    d.await_restored().await
}

/// postover.bat's waits: `waitontarget` idle time and bound, `dtcl wait`.
pub(crate) fn validate_waits(r: &LanFailoverParams, p: &mut Problems) {
    non_negative(
        p,
        path!("runbook", "wait_on_target_idle_s"),
        r.wait_on_target_idle_s,
        "idle wait",
    );
    positive(
        p,
        path!("runbook", "wait_on_target_limit_s"),
        r.wait_on_target_limit_s,
        "drain limit",
    );
    non_negative(
        p,
        path!("runbook", "service_wait_s"),
        r.service_wait_s,
        "service wait",
    );
}

/// Checks the parameters against the estate (store pairing included).
pub(crate) fn validate(s: &Scenario, r: &LanFailoverParams, p: &mut Problems) {
    let pair = mirroring_pair(s, "LAN failover", &r.source, &r.target, r.dc.as_deref(), p);
    validate_waits(r, p);
    if !(1..=10).contains(&r.start_attempts_max) {
        p.push((
            path!("runbook", "start_attempts_max"),
            format!("must be between 1 and 10, got {}", r.start_attempts_max),
        ));
    }
    let services: BTreeSet<&str> = s
        .exchange
        .iter()
        .flat_map(|x| x.services.iter().map(|v| v.name.as_str()))
        .collect();
    for (i, svc) in r.start_order.iter().enumerate() {
        if !services.contains(svc.as_str()) {
            p.push((
                path!("runbook", "start_order", i),
                format!("unknown service {svc:?}; {}", known(&services)),
            ));
        }
    }
    for (i, svc) in r.wait_after.iter().enumerate() {
        if !r.start_order.contains(svc) {
            p.push((
                path!("runbook", "wait_after", i),
                format!("{svc:?} is not in start_order"),
            ));
        }
    }
    if !r.start_order.contains(&r.retried_service) {
        p.push((
            path!("runbook", "retried_service"),
            format!("{:?} is not in start_order", r.retried_service),
        ));
    }
    let mut rules = Vec::new();
    for (i, rule) in r.pairing_rules.iter().enumerate() {
        match pairing::Rule::parse(rule) {
            Ok(x) => rules.push(x),
            Err(e) => p.push((path!("runbook", "pairing_rules", i), e)),
        }
    }
    if pair.is_some()
        && rules.len() == r.pairing_rules.len()
        && let Err(e) = store_pairs(s, r)
    {
        p.push((path!("runbook", "pairing_rules"), e));
    }
}

/// The store pairs of a scenario's LAN failover, as the failover utility
/// pairs them (by database file name, or by `pairing_rules`); at least one.
/// Validation refuses a scenario where this fails.
pub fn store_pairs(s: &Scenario, p: &LanFailoverParams) -> Result<Vec<Pair>, String> {
    let stores = |n: &str| {
        host(s, n)
            .map(|h| pairing::stores_of(crate::exchange::groups_of(s, h)))
            .ok_or_else(|| format!("unknown host {n:?}"))
    };
    let rules = p
        .pairing_rules
        .iter()
        .map(|r| Rule::parse(r))
        .collect::<Result<Vec<Rule>, String>>()?;
    let pairs = pairing::pair(
        &stores(&p.source)?,
        &stores(&p.target)?,
        &rules,
        p.public_folders,
    )
    .map_err(|e| e.to_string())?;
    if pairs.is_empty() {
        return Err(format!(
            "no store of {} pairs with a store of {}: the failover would move nothing",
            p.source, p.target
        ));
    }
    Ok(pairs)
}

/// [`store_pairs`] as a scenario reference a step resolves.
pub fn pairs(s: &Scenario, p: &LanFailoverParams) -> Result<Vec<Pair>, OpError> {
    store_pairs(s, p)
        .map_err(|why| unresolved(format!("store pairs {} -> {} ({why})", p.source, p.target)))
}

/// Runs the failover; returns the serving host.
pub async fn run<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &LanFailoverParams,
) -> Result<Completed, StepFailed> {
    let b = cx.b;
    let (src, tgt) = (p.source.as_str(), p.target.as_str());
    let mut failed = Vec::new();

    let items = IdentityItems {
        ip_addresses: p.fail_over_ip_addresses,
        server_name: p.fail_over_server_name,
    };
    let what = match (items.ip_addresses, items.server_name) {
        (true, true) => "IP addresses and server name",
        (true, false) => "IP addresses",
        (false, true) => "server name",
        (false, false) => "nothing",
    };
    cx.step(
        format!("fail over {what} of {src} to {tgt}"),
        b.take_over_identity(src, tgt, items),
    )
    .await?;

    cx.step(
        format!("waitontarget {tgt} {}", fmt_secs(p.wait_on_target_idle_s)),
        b.wait_drained(
            src,
            tgt,
            drlab_drivers::time::secs(p.wait_on_target_idle_s),
            drlab_drivers::time::secs(p.wait_on_target_limit_s),
        ),
    )
    .await?;

    let pairs = resolved(
        cx,
        "exchfailover -setup: overwrite flag on the paired stores",
        pairs(cx.s, p),
    )
    .await?;
    cx.step(
        format!(
            "exchfailover -setup: overwrite flag on {} stores",
            pairs.len()
        ),
        async {
            for pair in &pairs {
                let to = StoreRef::new(pair.to.group.as_str(), pair.to.store.as_str());
                b.set_overwrite_on_restore(tgt, &to, true).await?;
            }
            Ok(())
        },
    )
    .await?;

    for svc in &p.start_order {
        let mut attempt = 1;
        loop {
            let name = if attempt == 1 {
                format!("net start {svc}")
            } else {
                format!("net start {svc} (attempt {attempt})")
            };
            match cx.step(name, cx.start_service(tgt, svc)).await {
                Ok(()) => break,
                Err(e) if *svc == p.retried_service && attempt < p.start_attempts_max => {
                    // The guide: "restart the service and it should start properly".
                    attempt += 1;
                    let _ = e;
                }
                // Everything after the retried service depends on it.
                Err(e) if *svc == p.retried_service => return Err(e),
                Err(e) => {
                    failed.push(e);
                    break;
                }
            }
        }
        if p.wait_after.contains(svc) {
            cx.wait_step(p.service_wait_s).await;
        }
    }

    for pair in &pairs {
        let to = StoreRef::new(pair.to.group.as_str(), pair.to.store.as_str());
        if let Err(e) = cx
            .step(format!("mount {to} on {tgt}"), b.mount_store(tgt, &to))
            .await
        {
            failed.push(e);
        }
    }

    cx.step(
        format!("exchfailover -failover: move mailboxes {src} -> {tgt}"),
        async {
            let dc = dc_for(cx.s, tgt, p.dc.as_deref())?;
            let boxes = b.list_mailboxes(&dc, src).await?;
            for m in boxes {
                let Some(pair) = pairs
                    .iter()
                    .find(|x| *x.from.group == *m.store.group && *x.from.store == *m.store.store)
                else {
                    continue;
                };
                let to = StoreRef::new(pair.to.group.as_str(), pair.to.store.as_str());
                b.set_mailbox_home(&dc, &m.name, tgt, &to).await?;
            }
            Ok(())
        },
    )
    .await?;

    Ok(Completed {
        serving: tgt.to_string(),
        failed_steps: failed,
    })
}
