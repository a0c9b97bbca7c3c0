//! Semantic checks of the estate elements below and beside the hosts:
//! servers, networks, volumes, personas, the DAG, lockstep pairs, archive
//! disks, log shipping and the degraded-time objective. Each problem comes
//! with the field path it is about.

use std::collections::BTreeSet;

use crate::format::{ExchangeRole, Scenario};
use crate::path;
use crate::validate::{Problems, host, known, non_negative, positive};

/// Adds the problems of the fabric sections to `p`.
pub(crate) fn check(s: &Scenario, p: &mut Problems) {
    servers(s, p);
    networks(s, p);
    volumes(s, p);
    personas(s, p);
    dag(s, p);
    lockstep(s, p);
    archive_disks(s, p);
    for (i, r) in s.replication.iter().enumerate() {
        if let Some(mb) = r.log_file_mb {
            positive(
                p,
                path!("replication", i, "log_file_mb"),
                mb,
                "log file size",
            );
        }
    }
    if let Some(x) = s.objectives.degraded_s {
        non_negative(
            p,
            path!("objectives", "degraded_s"),
            x,
            "degraded-time objective",
        );
    }
}

fn names<'a>(items: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    items.collect()
}

fn server_names(s: &Scenario) -> BTreeSet<&str> {
    names(s.servers.iter().map(|x| x.name.as_str()))
}

/// Whether `h` runs on some `[[servers]]` entry (alone or in lockstep).
fn runs_on_server(s: &Scenario, h: &str) -> bool {
    s.servers.iter().any(|x| x.runs.as_deref() == Some(h)) || s.lockstep.iter().any(|l| l.host == h)
}

fn vlan_ok(p: &mut Problems, at: crate::load::FieldPath, v: u16) {
    if !(1..=4094).contains(&v) {
        p.push((at, format!("a VLAN id is between 1 and 4094, got {v}")));
    }
}

fn servers(s: &Scenario, p: &mut Problems) {
    let sites = names(s.sites.iter().map(|x| x.name.as_str()));
    let hosts = names(s.hosts.iter().map(|x| x.name.as_str()));
    let mut seen = BTreeSet::new();
    let mut running = BTreeSet::new();
    for (i, x) in s.servers.iter().enumerate() {
        if x.name.is_empty() {
            p.push((
                path!("servers", i, "name"),
                "server name must not be empty".into(),
            ));
        } else if !seen.insert(x.name.as_str()) {
            p.push((
                path!("servers", i, "name"),
                format!("duplicate server name {:?}", x.name),
            ));
        } else if hosts.contains(x.name.as_str()) {
            p.push((
                path!("servers", i, "name"),
                format!("{:?} names both a host and a server", x.name),
            ));
        }
        if !sites.contains(x.site.as_str()) {
            p.push((
                path!("servers", i, "site"),
                format!("unknown site {:?}; {}", x.site, known(&sites)),
            ));
        }
        if let Some(h) = &x.runs {
            let lockstep = s.lockstep.iter().any(|l| &l.host == h);
            if !hosts.contains(h.as_str()) {
                p.push((
                    path!("servers", i, "runs"),
                    format!("unknown host {h:?}; {}", known(&hosts)),
                ));
            } else if !lockstep && !running.insert(h.as_str()) {
                p.push((
                    path!("servers", i, "runs"),
                    format!(
                        "{h} already runs on another server (only a [[lockstep]] host runs on two)"
                    ),
                ));
            }
        }
        for (j, v) in x.vlans.iter().enumerate() {
            vlan_ok(p, path!("servers", i, "vlans", j), *v);
        }
        if let Some(d) = &x.boot_s
            && let Some(why) = d.problem()
        {
            p.push((path!("servers", i, "boot_s"), why));
        }
    }
}

fn networks(s: &Scenario, p: &mut Problems) {
    let hosts = names(s.hosts.iter().map(|x| x.name.as_str()));
    let mut seen = BTreeSet::new();
    let mut vlans = BTreeSet::new();
    for (i, n) in s.networks.iter().enumerate() {
        if !seen.insert(n.name.as_str()) {
            p.push((
                path!("networks", i, "name"),
                format!("duplicate network name {:?}", n.name),
            ));
        }
        vlan_ok(p, path!("networks", i, "vlan"), n.vlan);
        if !vlans.insert(n.vlan) {
            p.push((
                path!("networks", i, "vlan"),
                format!("VLAN {} is already used by another network", n.vlan),
            ));
        }
        for (j, h) in n.hosts.iter().enumerate() {
            if !hosts.contains(h.as_str()) {
                p.push((
                    path!("networks", i, "hosts", j),
                    format!("unknown host {h:?}; {}", known(&hosts)),
                ));
            } else if !runs_on_server(s, h) {
                p.push((
                    path!("networks", i, "hosts", j),
                    format!(
                        "{h} runs on no [[servers]] entry, so no switch port carries its VLANs"
                    ),
                ));
            }
        }
    }
}

fn volumes(s: &Scenario, p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, v) in s.volumes.iter().enumerate() {
        if v.name.is_empty() || !seen.insert(v.name.as_str()) {
            p.push((
                path!("volumes", i, "name"),
                format!("volume names are unique and not empty, got {:?}", v.name),
            ));
        }
        if v.initiators.is_empty() || v.initiators.iter().any(String::is_empty) {
            p.push((
                path!("volumes", i, "initiators"),
                "a volume needs at least one (non-empty) initiator name".into(),
            ));
        }
        match (&v.host, &v.group, &v.store) {
            (None, None, None) => {}
            (Some(h), Some(g), Some(st)) => {
                let found = host(s, h).is_some_and(|hd| {
                    crate::exchange::groups_of(s, hd)
                        .iter()
                        .any(|x| &x.name == g && x.stores.iter().any(|y| &y.name == st))
                });
                if !found {
                    p.push((
                        path!("volumes", i, "store"),
                        format!("{h} has no store {g}/{st}"),
                    ));
                }
            }
            _ => p.push((
                path!("volumes", i),
                "host, group and store go together (the store living on the volume)".into(),
            )),
        }
    }
}

fn personas(s: &Scenario, p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, x) in s.personas.iter().enumerate() {
        if host(s, &x.host).is_none() {
            p.push((
                path!("personas", i, "host"),
                format!("unknown host {:?}", x.host),
            ));
        } else if !seen.insert(x.host.as_str()) {
            p.push((
                path!("personas", i, "host"),
                format!("{} has two personas", x.host),
            ));
        } else if !runs_on_server(s, &x.host) {
            p.push((
                path!("personas", i, "host"),
                format!("{} runs on no [[servers]] entry", x.host),
            ));
        }
        if x.initiator.is_empty() {
            p.push((
                path!("personas", i, "initiator"),
                "must not be empty".into(),
            ));
        }
        match s.volumes.iter().find(|v| v.name == x.image_volume) {
            None => p.push((
                path!("personas", i, "image_volume"),
                format!("unknown volume {:?}", x.image_volume),
            )),
            Some(v) if !v.initiators.contains(&x.initiator) => p.push((
                path!("personas", i, "image_volume"),
                format!(
                    "volume {} does not allow initiator {:?}: the persona could not boot",
                    v.name, x.initiator
                ),
            )),
            Some(_) => {}
        }
    }
}

fn dag(s: &Scenario, p: &mut Problems) {
    let Some(d) = &s.dag else { return };
    if !(2..=16).contains(&d.members.len()) {
        p.push((
            path!("dag", "members"),
            format!("a DAG has 2 to 16 members, got {}", d.members.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, m) in d.members.iter().enumerate() {
        let at = path!("dag", "members", i);
        if !seen.insert(m.as_str()) {
            p.push((at, format!("{m} is listed twice")));
            continue;
        }
        match host(s, m).and_then(|h| h.exchange.as_ref()) {
            None => p.push((at, format!("{m:?} is not an Exchange host"))),
            Some(x) if x.state != ExchangeRole::Active => {
                p.push((at, format!("{m} must be active: every DAG member serves")));
            }
            Some(x) if x.storage_groups.is_some() => p.push((
                at,
                format!("{m} overrides the storage layout; DAG members share [exchange]'s"),
            )),
            Some(_) => {}
        }
    }
    for (i, r) in s.replication.iter().enumerate() {
        if d.members.contains(&r.source) && d.members.contains(&r.target) {
            p.push((
                path!("replication", i),
                "DAG members replicate to each other by themselves; remove this connection".into(),
            ));
        }
    }
    positive(
        p,
        path!("dag", "heartbeat_interval_s"),
        d.heartbeat_interval_s,
        "heartbeat interval",
    );
    if !(1..=1000).contains(&d.missed_heartbeats) {
        p.push((
            path!("dag", "missed_heartbeats"),
            format!("must be between 1 and 1000, got {}", d.missed_heartbeats),
        ));
    }
    let groups = s
        .exchange
        .as_ref()
        .map(|x| x.storage_groups.as_slice())
        .unwrap_or(&[]);
    let mut dbs = BTreeSet::new();
    for (i, db) in d.databases.iter().enumerate() {
        match groups.iter().find(|g| g.name == db.name) {
            None => p.push((
                path!("dag", "databases", i, "name"),
                format!("[exchange] has no storage group {:?}", db.name),
            )),
            Some(g) if g.stores.len() != 1 => p.push((
                path!("dag", "databases", i, "name"),
                format!(
                    "storage group {:?} holds {} stores; a DAG database is one store",
                    g.name,
                    g.stores.len()
                ),
            )),
            Some(_) => {}
        }
        if !dbs.insert(db.name.as_str()) {
            p.push((
                path!("dag", "databases", i, "name"),
                format!("database {} is listed twice", db.name),
            ));
        }
        let mut servers = BTreeSet::new();
        let mut prefs: Vec<u32> = Vec::new();
        for (j, c) in db.copies.iter().enumerate() {
            if !d.members.contains(&c.server) {
                p.push((
                    path!("dag", "databases", i, "copies", j, "server"),
                    format!("{:?} is not a DAG member", c.server),
                ));
            }
            if !servers.insert(c.server.as_str()) {
                p.push((
                    path!("dag", "databases", i, "copies", j, "server"),
                    format!("{} holds two copies", c.server),
                ));
            }
            prefs.push(c.preference);
        }
        prefs.sort_unstable();
        let expected: Vec<u32> = (1..=db.copies.len() as u32).collect();
        if db.copies.len() < 2 || prefs != expected {
            p.push((
                path!("dag", "databases", i, "copies"),
                format!(
                    "at least two copies with activation preferences 1..{} each once, got {prefs:?}",
                    db.copies.len().max(2)
                ),
            ));
        }
    }
    for g in groups {
        if !dbs.contains(g.name.as_str()) {
            p.push((
                path!("dag", "databases"),
                format!("storage group {:?} is no DAG database", g.name),
            ));
        }
    }
}

fn lockstep(s: &Scenario, p: &mut Problems) {
    let servers = server_names(s);
    let mut seen = BTreeSet::new();
    for (i, l) in s.lockstep.iter().enumerate() {
        if host(s, &l.host).is_none() {
            p.push((
                path!("lockstep", i, "host"),
                format!("unknown host {:?}", l.host),
            ));
        } else if !seen.insert(l.host.as_str()) {
            p.push((
                path!("lockstep", i, "host"),
                format!("{} is listed twice", l.host),
            ));
        }
        positive(
            p,
            path!("lockstep", i, "max_link_latency_ms"),
            l.max_link_latency_ms,
            "latency limit",
        );
        if l.servers[0] == l.servers[1] {
            p.push((
                path!("lockstep", i, "servers"),
                "lockstep needs two different servers".into(),
            ));
        }
        let mut defs = Vec::new();
        for (j, name) in l.servers.iter().enumerate() {
            match s.servers.iter().find(|x| &x.name == name) {
                None => p.push((
                    path!("lockstep", i, "servers", j),
                    format!("unknown server {name:?}; {}", known(&servers)),
                )),
                Some(x) => {
                    if x.runs.as_ref().is_some_and(|r| *r != l.host) {
                        p.push((
                            path!("lockstep", i, "servers", j),
                            format!("{name} already runs {}", x.runs.as_deref().unwrap_or("")),
                        ));
                    }
                    defs.push(x);
                }
            }
        }
        if let [a, b] = defs.as_slice() {
            let latency = if a.site == b.site {
                s.sites
                    .iter()
                    .find(|x| x.name == a.site)
                    .map(|x| x.lan.latency_ms)
            } else {
                s.links
                    .iter()
                    .find(|k| {
                        (k.between[0] == a.site && k.between[1] == b.site)
                            || (k.between[0] == b.site && k.between[1] == a.site)
                    })
                    .map(|k| k.latency_ms)
            };
            match latency {
                None => p.push((
                    path!("lockstep", i, "servers"),
                    format!(
                        "no link joins {} ({}) and {} ({})",
                        a.name, a.site, b.name, b.site
                    ),
                )),
                Some(ms) if ms > l.max_link_latency_ms => p.push((
                    path!("lockstep", i, "servers"),
                    format!(
                        "{} ({}) and {} ({}) are {ms} ms apart one way; lockstep tolerates at most \
                         {} ms (about 100 miles of fibre, everRun SplitSite)",
                        a.name, a.site, b.name, b.site, l.max_link_latency_ms
                    ),
                )),
                Some(_) => {}
            }
        }
    }
}

fn archive_disks(s: &Scenario, p: &mut Problems) {
    let mut seen = BTreeSet::new();
    let mut levels = BTreeSet::new();
    for (i, d) in s.archive_disks.iter().enumerate() {
        if !seen.insert(d.name.as_str()) {
            p.push((
                path!("archive_disks", i, "name"),
                format!("duplicate archive disk name {:?}", d.name),
            ));
        }
        positive(
            p,
            path!("archive_disks", i, "capacity_mb"),
            d.capacity_mb,
            "capacity",
        );
        if d.levels_h.is_empty() {
            p.push((
                path!("archive_disks", i, "levels_h"),
                "list at least one level".into(),
            ));
        }
        for (j, l) in d.levels_h.iter().enumerate() {
            if *l == 0 {
                p.push((
                    path!("archive_disks", i, "levels_h", j),
                    "a level is > 0 hours".into(),
                ));
            } else if !levels.insert(*l) {
                p.push((
                    path!("archive_disks", i, "levels_h", j),
                    format!("level {l} h is already on another disk"),
                ));
            }
        }
    }
}
