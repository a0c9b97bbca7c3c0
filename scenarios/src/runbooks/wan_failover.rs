//! WAN failover of an Exchange 2000/2003 member server with Storage
//! Mirroring, as the HP guide's "Appendix A: WAN configuration" lays it out:
//!
//! - "On the Monitor Settings window, only select **Server Name** under
//!   Items to Failover. Do not select IP Address(es) to fail over."
//! - The post-failover script is the LAN one (`postover.bat`: waitontarget,
//!   the overwrite flag, the services in order with `dtcl wait 20000`, the
//!   user move; see [`super::lan_failover`]) followed by the DNSCMD updates
//!   "added to the end of the failover script", on every DNS server the
//!   clients use ("any required changes must be made on all DNS servers used
//!   by relevant clients"):
//!
//!   ```text
//!   dnscmd dns_server_name /RecordDelete domain_name source_name A source_IP_address /f
//!   dnscmd dns_server_name /RecordDelete reverse_subnet_IP.in-addr.arpa reverse_lookup_IP PTR source_server_name /f
//!   dnscmd dns_server_name /RecordAdd domain_name source_server_name A target_IP_address
//!   dnscmd dns_server_name /RecordAdd reverse_subnet_IP.in-addr.arpa reverse_lookup_IP PTR source_server_name
//!   ```
//!
//! - "DNSCMD commands will only work if dynamic updates are enabled on the
//!   DNS zone": a refused update is a failed step (the batch goes on) and
//!   the report names the zone.
//! - "Clients who were already accessing Exchange on the source at the time
//!   of the failure may have to wait until their DNS cache is flushed ... or
//!   they can force the flush by using the `ipconfig /flushdns` command."
//!   After the DNS change the drill watches every client population's
//!   resolver until it answers the target's address, and the populations
//!   the scenario names flush their cache a set time after the change.

use std::cell::Cell;
use std::net::Ipv4Addr;
use std::time::Duration;

use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_drivers::{Backend, EventKind, OpError, Timestamp};

use super::Completed;
use super::refs::{ip_of, resolved, unresolved, zone, zone_servers};
use super::steps::reverse_name;
use crate::context::{Ctx, StepFailed};
use crate::drill::Drill;
use crate::format::{LanFailoverParams, ResolverPolicy, Role, Scenario, WanFailoverParams};
use crate::path;
use crate::validate::{Problems, is_role, mirroring_pair, non_negative, positive};

/// The drill's control loop: the target monitors the source over the WAN,
/// the decision policy engages failover (204, 208), the script runs with
/// its DNS updates (212), then the drill waits for the users and watches
/// every client population's resolver follow the name.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &WanFailoverParams) -> &'static str {
    let changed: Cell<Option<Timestamp>> = Cell::new(None);
    let over = Cell::new(false);
    let main = async {
        let why = failover(d, p, &changed).await;
        over.set(true);
        why
    };
    let (why, ()) = futures::future::join(main, users(d, p, &changed, &over)).await;
    why
}

async fn failover<B: Backend>(
    d: &Drill<'_, B>,
    p: &WanFailoverParams,
    changed: &Cell<Option<Timestamp>>,
) -> &'static str {
    if let Err(why) = d.engage_on_failure(&p.target, &p.source).await {
        return why;
    }
    let cx = d.cx();
    let r = run(cx, p).await;
    if r.is_ok() {
        // The script's DNS step is over (done or refused): from now on every
        // population is watched for the target's address.
        changed.set(Some(cx.b.now()));
        let name = source_name(cx.s, p);
        for c in watched(cx.s, p) {
            cx.emit(EventKind::ClientWatched {
                client: c.as_str().into(),
                name: name.as_str().into(),
                resolver: resolver_label(cx.s, p, &c).into(),
            });
        }
    }
    if !d.secondary_engaged(&r) {
        return "runbook failed";
    }
    d.await_restored().await
}

/// The name that fails over.
pub fn source_name(s: &Scenario, p: &WanFailoverParams) -> String {
    p.source_name
        .clone()
        .map(|n| crate::dns::normalise(&n))
        .unwrap_or_else(|| super::steps::fqdn(s, &p.source))
}

/// The DNS servers the script updates: the runbook's list, else every
/// server of the name's zone (at least one).
pub fn dns_servers(s: &Scenario, p: &WanFailoverParams) -> Result<Vec<String>, OpError> {
    if !p.dns_servers.is_empty() {
        return Ok(p.dns_servers.clone());
    }
    zone_servers(s, &source_name(s, p))
}

/// The TTL of the source's A record as the scenario defines it.
fn old_ttl_s(s: &Scenario, p: &WanFailoverParams) -> Result<u32, OpError> {
    let name = source_name(s, p);
    let ip = ip_of(s, &p.source)?.to_string();
    s.dns
        .records
        .iter()
        .find(|r| {
            crate::dns::normalise(&r.name) == name
                && r.rtype.eq_ignore_ascii_case("A")
                && r.data == ip
        })
        .map(|r| r.ttl_s)
        .ok_or_else(|| unresolved(format!("the A record {name} -> {ip} in [[dns.records]]")))
}

/// What the script's DNSCMD lines change, resolved from the scenario.
struct DnsChange {
    /// The name that fails over, and its first label.
    name: String,
    short: String,
    src_ip: Ipv4Addr,
    tgt_ip: Ipv4Addr,
    /// The TTL of the records deleted, and of those added.
    old_ttl: u32,
    new_ttl: u32,
    /// The zones of the name and of the two reverse names.
    forward_zone: String,
    source_reverse_zone: String,
    target_reverse_zone: String,
    servers: Vec<String>,
}

fn dns_change(s: &Scenario, p: &WanFailoverParams) -> Result<DnsChange, OpError> {
    let name = source_name(s, p);
    let (src_ip, tgt_ip) = (ip_of(s, &p.source)?, ip_of(s, &p.target)?);
    let old_ttl = old_ttl_s(s, p)?;
    let zone_name = |n: &str| zone(s, n).map(|z| z.name.clone());
    Ok(DnsChange {
        short: name.split('.').next().unwrap_or(&name).to_string(),
        src_ip,
        tgt_ip,
        old_ttl,
        new_ttl: p.record_ttl_s.unwrap_or(old_ttl),
        forward_zone: zone_name(&name)?,
        source_reverse_zone: zone_name(&reverse_name(src_ip))?,
        target_reverse_zone: zone_name(&reverse_name(tgt_ip))?,
        servers: dns_servers(s, p)?,
        name,
    })
}

/// Runs the failover script: postover.bat (server name only), then DNSCMD.
/// The DNS lines are resolved first: a script that cannot name its
/// records is not started.
pub async fn run<B: Backend>(
    cx: &Ctx<'_, B>,
    p: &WanFailoverParams,
) -> Result<Completed, StepFailed> {
    let s = cx.s;
    let c = resolved(
        cx,
        format!("dnscmd: the records of {}", source_name(s, p)),
        dns_change(s, p),
    )
    .await?;
    let mut lp = LanFailoverParams::new(&p.source, &p.target);
    lp.fail_over_ip_addresses = false;
    lp.dc = p.dc.clone();
    lp.service_wait_s = p.service_wait_s;
    lp.wait_on_target_idle_s = p.wait_on_target_idle_s;
    lp.wait_on_target_limit_s = p.wait_on_target_limit_s;
    let mut done = super::lan_failover::run(cx, &lp).await?;

    let record = |n: String, rtype: RecordType, data: String, ttl_s: u32| DnsRecord {
        name: n.into(),
        rtype,
        data: data.into(),
        ttl_s,
    };
    let (name, short, src_ip, tgt_ip) = (&c.name, &c.short, c.src_ip, c.tgt_ip);
    for server in &c.servers {
        let updates = [
            (
                false,
                format!(
                    "dnscmd {server} /RecordDelete {} {short} A {src_ip} /f",
                    c.forward_zone
                ),
                record(name.clone(), RecordType::A, src_ip.to_string(), c.old_ttl),
            ),
            (
                false,
                format!(
                    "dnscmd {server} /RecordDelete {} {} PTR {name} /f",
                    c.source_reverse_zone,
                    reverse_name(src_ip)
                ),
                record(
                    reverse_name(src_ip),
                    RecordType::PTR,
                    name.clone(),
                    c.old_ttl,
                ),
            ),
            (
                true,
                format!(
                    "dnscmd {server} /RecordAdd {} {short} A {tgt_ip}",
                    c.forward_zone
                ),
                record(name.clone(), RecordType::A, tgt_ip.to_string(), c.new_ttl),
            ),
            (
                true,
                format!(
                    "dnscmd {server} /RecordAdd {} {} PTR {name}",
                    c.target_reverse_zone,
                    reverse_name(tgt_ip)
                ),
                record(
                    reverse_name(tgt_ip),
                    RecordType::PTR,
                    name.clone(),
                    c.new_ttl,
                ),
            ),
        ];
        for (add, step, rec) in updates {
            let r = if add {
                cx.step(step, cx.b.add_record(server, &rec)).await
            } else {
                cx.step(step, cx.b.delete_record(server, &rec)).await
            };
            // A batch file goes on after a failed dnscmd; the report names it.
            if let Err(e) = r {
                done.failed_steps.push(e);
            }
        }
    }
    Ok(done)
}

/// The client populations watched after the DNS change.
fn watched(s: &Scenario, p: &WanFailoverParams) -> Vec<String> {
    p.watch_clients
        .clone()
        .unwrap_or_else(|| s.clients.iter().map(|c| c.name.clone()).collect())
}

/// A client population's resolver, as the report names it.
fn resolver_label(s: &Scenario, p: &WanFailoverParams, client: &str) -> String {
    let Some(c) = s.clients.iter().find(|c| c.name == client) else {
        return "unknown".into();
    };
    let ttl = match old_ttl_s(s, p) {
        Ok(t) => format!("{t} s"),
        Err(e) => format!("unknown ({e})"),
    };
    let base = match (c.profile, c.resolver) {
        (Some(profile), _) => format!("profile {}, record TTL {ttl}", profile.name()),
        (None, ResolverPolicy::HonourTtl) => format!("honour-ttl, record TTL {ttl}"),
        (None, ResolverPolicy::MinTtl) => {
            format!("min-ttl, floor {} s over record TTL {ttl}", c.min_ttl_s)
        }
        (None, ResolverPolicy::NeverExpire) => "never-expire".to_string(),
    };
    if p.flush_clients.iter().any(|f| f == client) {
        format!("{base}; flushed {} s after the change", p.flush_after_s)
    } else {
        base
    }
}

/// The users of every watched client population: from the start of the
/// drill they look the name up once per probe interval (so their caches
/// hold what users' caches hold). Once the script has changed DNS
/// (`changed`), each population is watched until its resolver answers the
/// target's address; populations named in `flush_clients` flush at their
/// time. Ends when all are redirected, `watch_limit_s` after the change, when
/// the failover ended without a change (`over`), or when the drill stops.
pub async fn users<B: Backend>(
    d: &Drill<'_, B>,
    p: &WanFailoverParams,
    changed: &Cell<Option<Timestamp>>,
    over: &Cell<bool>,
) {
    let cx = d.cx();
    let s = cx.s;
    let name = source_name(s, p);
    // Without the target's address nobody can be seen redirected: the
    // watched populations stay waiting and the report fails them (the
    // script's own first step fails on the same reference).
    let Ok(new_addr) = ip_of(s, &p.target).map(|x| x.to_string()) else {
        return;
    };
    let clients = watched(s, p);
    let interval = Duration::from_millis(s.workload.probe_interval_ms);
    // Every round until the horizon at most.
    let rounds_max = s.scenario.horizon_s * 1000.0 / s.workload.probe_interval_ms as f64 + 2.0;
    let mut flushed: Vec<&str> = Vec::new();
    let mut waiting: Vec<&str> = clients.iter().map(String::as_str).collect();
    let mut next = cx.b.now();
    for _ in 0..rounds_max as u64 {
        if waiting.is_empty() || d.sleep_until(next).await {
            return;
        }
        next = cx.b.now().after(interval);
        let Some(start) = changed.get() else {
            if over.get() {
                return;
            }
            for c in &clients {
                let _ = cx.b.resolve(c, &name, RecordType::A).await;
            }
            continue;
        };
        if cx.b.now() > start.after(drlab_drivers::time::secs(p.watch_limit_s)) {
            return;
        }
        let flush_at = start.after(drlab_drivers::time::secs(p.flush_after_s));
        if cx.b.now() >= flush_at {
            for c in p
                .flush_clients
                .iter()
                .filter(|c| waiting.contains(&c.as_str()))
            {
                if !flushed.contains(&c.as_str()) {
                    flushed.push(c);
                    let _ = cx
                        .step(
                            format!("users of {c} run ipconfig /flushdns"),
                            cx.b.flush_cache(c),
                        )
                        .await;
                }
            }
        }
        let mut still = Vec::new();
        for c in waiting {
            let answer = cx.b.resolve(c, &name, RecordType::A).await;
            let moved = answer.is_ok_and(|rs| rs.iter().any(|r| *r.data == *new_addr));
            if moved {
                cx.emit(EventKind::ClientRedirected {
                    client: c.into(),
                    address: new_addr.as_str().into(),
                });
            } else {
                still.push(c);
            }
        }
        waiting = still;
    }
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &WanFailoverParams, p: &mut Problems) {
    let pair = mirroring_pair(s, "WAN failover", &r.source, &r.target, r.dc.as_deref(), p);
    if let Some((a, b)) = pair {
        if a.site == b.site {
            p.push((
                path!("runbook", "target"),
                format!(
                    "{} and {} are on the same site ({}): the WAN runbook fails over across \
                     subnets; use lan-failover",
                    a.name, b.name, a.site
                ),
            ));
        } else if !s
            .links
            .iter()
            .any(|l| l.between.contains(&a.site) && l.between.contains(&b.site))
        {
            p.push((
                path!("runbook"),
                format!("no [[links]] entry joins sites {} and {}", a.site, b.site),
            ));
        }
    }
    let name = source_name(s, r);
    if let Some((a, b)) = pair {
        let has_a = s.dns.records.iter().any(|x| {
            crate::dns::normalise(&x.name) == name
                && x.rtype.eq_ignore_ascii_case("A")
                && x.data == a.ip.to_string()
        });
        if !has_a {
            p.push((
                path!("runbook", "source_name"),
                format!(
                    "no A record {name} -> {} in [[dns.records]]: the failover script deletes it",
                    a.ip
                ),
            ));
        }
        let servers = match dns_servers(s, r) {
            Ok(servers) => servers,
            Err(_) => {
                p.push((
                    path!("runbook", "dns_servers"),
                    format!("no DNS server holds a zone for {name}"),
                ));
                Vec::new()
            }
        };
        // The guide: "DNS Forward and Reverse lookup zones must be properly configured".
        let needed = [name.clone(), reverse_name(a.ip), reverse_name(b.ip)];
        for (i, srv) in servers.iter().enumerate() {
            let at = if r.dns_servers.is_empty() {
                path!("runbook", "dns_servers")
            } else {
                path!("runbook", "dns_servers", i)
            };
            if !is_role(s, srv, Role::Dns) {
                p.push((
                    at.clone(),
                    format!("{srv:?} is not a host with the dns role"),
                ));
                continue;
            }
            for n in &needed {
                let served = crate::dns::zone_of(s, n).is_some_and(|z| z.servers.contains(srv));
                if !served {
                    p.push((
                        at.clone(),
                        format!(
                            "{srv} holds no zone for {n} (forward and reverse zones are needed)"
                        ),
                    ));
                }
            }
        }
    }
    let clients: Vec<&str> = s.clients.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in r.watch_clients.iter().flatten().enumerate() {
        if !clients.contains(&c.as_str()) {
            p.push((
                path!("runbook", "watch_clients", i),
                format!("unknown client {c:?}"),
            ));
        }
    }
    for (i, c) in r.flush_clients.iter().enumerate() {
        if !clients.contains(&c.as_str()) {
            p.push((
                path!("runbook", "flush_clients", i),
                format!("unknown client {c:?}"),
            ));
        }
    }
    positive(
        p,
        path!("runbook", "watch_limit_s"),
        r.watch_limit_s,
        "watch limit",
    );
    non_negative(
        p,
        path!("runbook", "flush_after_s"),
        r.flush_after_s,
        "flush time",
    );
}
