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
use crate::format::{ExchangeDef, Scenario};

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
    // Dependents found later mostly depend on earlier ones: reversed, the
    // search is nearly a stop order; the stable sort makes it one (a
    // service found early may require one found later).
    out.reverse();
    stable_order(out, |a, b| requires(x, b, a))
}

/// Whether service `a` requires `b` directly (`[exchange].services`).
pub fn requires(x: &ExchangeDef, a: &str, b: &str) -> bool {
    x.services
        .iter()
        .any(|v| v.name == a && v.requires.iter().any(|r| r == b))
}

/// `items` reordered so that none comes before one it must follow
/// (`must_follow(a, b)`: a must come after b), keeping the given order
/// wherever it already holds: each place takes the first item left that
/// follows nothing left. (Validation refuses cycles; were there one, its
/// items would keep their given order at the end.) Quadratic in the
/// items, which are a scenario's services (a bounded list).
pub fn stable_order(
    mut items: Vec<String>,
    must_follow: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut out = Vec::with_capacity(items.len());
    while !items.is_empty() {
        let free = items
            .iter()
            .position(|a| !items.iter().any(|b| b != a && must_follow(a, b)))
            .unwrap_or(0);
        out.push(items.remove(free));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_stable_order_keeps_what_holds_and_moves_what_does_not() {
        // b must follow a, c must follow b
        let follows = |x: &str, y: &str| matches!((x, y), ("b", "a") | ("c", "b"));
        assert_eq!(
            stable_order(names(&["a", "b", "c"]), follows),
            names(&["a", "b", "c"])
        );
        assert_eq!(
            stable_order(names(&["c", "b", "a"]), follows),
            names(&["a", "b", "c"])
        );
        assert_eq!(
            stable_order(names(&["b", "x", "a"]), follows),
            names(&["x", "a", "b"])
        );
        // a cycle keeps its given order rather than loop or panic
        let cycle = |x: &str, y: &str| matches!((x, y), ("a", "b") | ("b", "a"));
        assert_eq!(stable_order(names(&["a", "b"]), cycle), names(&["a", "b"]));
    }

    #[test]
    fn net_stop_stops_every_dependent_before_what_it_requires() {
        // B requires SA, A requires B, X requires A and SA: the search
        // reversed is A, X, B, which stops A while X still runs
        let mut s = library_lan();
        let x = s.exchange.as_mut().unwrap();
        let svc = |name: &str, requires: &[&str]| {
            let mut v = x.services[0].clone();
            v.name = name.into();
            v.requires = names(requires);
            v
        };
        x.services = vec![
            svc("SA", &[]),
            svc("B", &["SA"]),
            svc("A", &["B"]),
            svc("X", &["A", "SA"]),
        ];
        let order = dependents(&s, "SA");
        assert_eq!(order, names(&["X", "A", "B"]));
    }

    /// The LAN failover scenario of the library.
    fn library_lan() -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/library/lan-failover.toml");
        crate::load::load(std::path::Path::new(path)).unwrap()
    }
}
