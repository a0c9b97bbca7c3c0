//! Semantic checks of a parsed scenario: every reference resolves, every
//! number is possible, every runbook parameter fits the estate. Each problem
//! comes with the field path it is about.

use std::collections::{BTreeMap, BTreeSet};

use crate::format::{DecisionPolicy, Dist, HostDef, Role, Scenario};
use crate::load::FieldPath;
use crate::path;

/// Problems found, each with the field it is about.
pub(crate) type Problems = Vec<(FieldPath, String)>;

/// All problems of a scenario, empty when it is valid.
pub fn check(s: &Scenario) -> Problems {
    let mut p = Problems::new();
    meta(s, &mut p);
    estate(s, &mut p);
    timing(s, &mut p);
    crate::validate_workload::workload(s, &mut p);
    crate::validate_workload::faults(s, &mut p);
    crate::validate_fabric::check(s, &mut p);
    runbook(s, &mut p);
    lab(s, &mut p);
    p
}

/// `[lab]`: every host the scenario names must be one of the shape's, and
/// a declared difference says why.
fn lab(s: &Scenario, p: &mut Problems) {
    let Some(l) = &s.lab else { return };
    let offered: BTreeSet<&str> = l.shape.hosts().iter().copied().collect();
    let missing: Vec<&str> = s
        .hosts
        .iter()
        .map(|h| h.name.as_str())
        .filter(|h| !offered.contains(h))
        .collect();
    if !missing.is_empty() {
        p.push((
            path!("lab", "shape"),
            format!(
                "the {} lab has no host {} ({})",
                l.shape.name(),
                missing.join(", "),
                known(&offered)
            ),
        ));
    }
    for (i, z) in s.dns.zones.iter().enumerate() {
        if z.negative_ttl_s != crate::format::ZONE_NEGATIVE_TTL_S_DEFAULT {
            p.push((
                path!("dns", "zones", i, "negative_ttl_s"),
                format!(
                    "the lab's zones (Samba's, and BIND's beside it) answer empty with their SOA's negative TTL, {} s, which drlab does not change: leave the field out in a scenario with [lab]",
                    crate::format::ZONE_NEGATIVE_TTL_S_DEFAULT
                ),
            ));
        }
        if !z.dynamic_updates && drlab_drivers::types::name_in_zone(&z.name, "arpa") {
            p.push((
                path!("dns", "zones", i, "dynamic_updates"),
                "the lab's reverse zones are those of its own subnets, not the scenario's, so on the lab only a forward zone can refuse dynamic updates".into(),
            ));
        }
    }
    if l.differs.as_deref().is_some_and(|d| d.trim().is_empty()) {
        p.push((
            path!("lab", "differs"),
            "say why the lab arm differs, or leave the field out".into(),
        ));
    }
}

pub(crate) fn known(names: &BTreeSet<&str>) -> String {
    let v: Vec<&str> = names.iter().copied().collect();
    if v.is_empty() {
        "none defined".into()
    } else {
        format!("known: {}", v.join(", "))
    }
}

pub(crate) fn positive(p: &mut Problems, at: FieldPath, x: f64, what: &str) {
    if !(x.is_finite() && x > 0.0) {
        p.push((at, format!("{what} must be a number > 0, got {x}")));
    }
}

pub(crate) fn non_negative(p: &mut Problems, at: FieldPath, x: f64, what: &str) {
    if !(x.is_finite() && x >= 0.0) {
        p.push((at, format!("{what} must be a number >= 0, got {x}")));
    }
}

fn unique<'a>(
    p: &mut Problems,
    items: impl Iterator<Item = &'a str>,
    at: impl Fn(usize) -> FieldPath,
    what: &str,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    for (i, n) in items.enumerate() {
        if n.is_empty() {
            p.push((at(i), format!("{what} name must not be empty")));
        } else if !seen.insert(n) {
            p.push((at(i), format!("duplicate {what} name {n:?}")));
        }
    }
    seen
}

fn meta(s: &Scenario, p: &mut Problems) {
    positive(
        p,
        path!("scenario", "horizon_s"),
        s.scenario.horizon_s,
        "horizon",
    );
    non_negative(
        p,
        path!("scenario", "settle_s"),
        s.scenario.settle_s,
        "settle time",
    );
    non_negative(
        p,
        path!("objectives", "rto_s"),
        s.objectives.rto_s,
        "RTO objective",
    );
    non_negative(
        p,
        path!("objectives", "rpo_s"),
        s.objectives.rpo_s,
        "RPO objective",
    );
    if let Some(f) = s.objectives.failover_s {
        non_negative(
            p,
            path!("objectives", "failover_s"),
            f,
            "failover objective",
        );
    }
    positive(
        p,
        path!("policy", "heartbeat_interval_s"),
        s.policy.heartbeat_interval_s,
        "heartbeat interval",
    );
    if s.policy.missed_heartbeats == 0 || s.policy.missed_heartbeats > 1000 {
        p.push((
            path!("policy", "missed_heartbeats"),
            format!(
                "must be between 1 and 1000, got {}",
                s.policy.missed_heartbeats
            ),
        ));
    }
    match s.policy.decision {
        DecisionPolicy::Manual => non_negative(
            p,
            path!("policy", "operator_response_s"),
            s.policy.operator_response_s,
            "operator response time",
        ),
        DecisionPolicy::Autopilot => non_negative(
            p,
            path!("policy", "autopilot_wait_s"),
            s.policy.autopilot_wait_s,
            "autopilot wait",
        ),
    }
}

fn estate(s: &Scenario, p: &mut Problems) {
    let sites = unique(
        p,
        s.sites.iter().map(|x| x.name.as_str()),
        |i| path!("sites", i, "name"),
        "site",
    );
    for (i, site) in s.sites.iter().enumerate() {
        link_spec(p, path!("sites", i, "lan"), &site.lan);
    }
    let mut pairs = BTreeSet::new();
    for (i, l) in s.links.iter().enumerate() {
        for (j, end) in l.between.iter().enumerate() {
            if !sites.contains(end.as_str()) {
                p.push((
                    path!("links", i, "between", j),
                    format!("unknown site {end:?}; {}", known(&sites)),
                ));
            }
        }
        if l.between[0] == l.between[1] {
            p.push((
                path!("links", i, "between"),
                "a WAN link joins two different sites".into(),
            ));
        }
        let mut key = [l.between[0].as_str(), l.between[1].as_str()];
        key.sort();
        if !pairs.insert(key) {
            p.push((
                path!("links", i, "between"),
                format!(
                    "a link between {} and {} is already defined",
                    key[0], key[1]
                ),
            ));
        }
        link_spec(p, path!("links", i), &l.spec());
    }
    let hosts = unique(
        p,
        s.hosts.iter().map(|x| x.name.as_str()),
        |i| path!("hosts", i, "name"),
        "host",
    );
    let mut ips = BTreeMap::new();
    for (i, h) in s.hosts.iter().enumerate() {
        if !sites.contains(h.site.as_str()) {
            p.push((
                path!("hosts", i, "site"),
                format!("unknown site {:?}; {}", h.site, known(&sites)),
            ));
        }
        if let Some(prev) = ips.insert(h.ip, h.name.as_str()) {
            p.push((
                path!("hosts", i, "ip"),
                format!("address {} is already used by {prev}", h.ip),
            ));
        }
        if let Some(x) = &h.exchange {
            if s.exchange.is_none() && x.storage_groups.is_none() {
                p.push((
                    path!("hosts", i, "exchange"),
                    "an Exchange host needs an [exchange] section".into(),
                ));
            }
            if let Some(groups) = &x.storage_groups {
                groups_ok(p, path!("hosts", i, "exchange", "storage_groups"), groups);
            }
        }
        if let Some(dc) = &h.dc
            && !is_role(s, dc, Role::DomainController)
        {
            p.push((
                path!("hosts", i, "dc"),
                format!("{dc:?} is not a host with the domain-controller role"),
            ));
        }
    }
    if let Some(d) = &s.domain {
        if d.controllers.is_empty() {
            p.push((
                path!("domain", "controllers"),
                "a domain needs at least one controller".into(),
            ));
        }
        for (i, c) in d.controllers.iter().enumerate() {
            if !is_role(s, c, Role::DomainController) {
                p.push((
                    path!("domain", "controllers", i),
                    format!(
                        "{c:?} is not a host with the domain-controller role; {}",
                        known(&hosts)
                    ),
                ));
            }
        }
        non_negative(
            p,
            path!("domain", "replication_delay_s"),
            d.replication_delay_s,
            "replication delay",
        );
    }
    let clients = unique(
        p,
        s.clients.iter().map(|x| x.name.as_str()),
        |i| path!("clients", i, "name"),
        "client",
    );
    for name in clients.intersection(&hosts) {
        p.push((
            path!("clients"),
            format!("{name:?} names both a host and a client"),
        ));
    }
    for (i, c) in s.clients.iter().enumerate() {
        if !sites.contains(c.site.as_str()) {
            p.push((
                path!("clients", i, "site"),
                format!("unknown site {:?}; {}", c.site, known(&sites)),
            ));
        }
        if !is_role(s, &c.dns_server, Role::Dns) {
            p.push((
                path!("clients", i, "dns_server"),
                format!("{:?} is not a host with the dns role", c.dns_server),
            ));
        }
    }
    dns(s, p);
    exchange(s, p, &hosts);
    for (i, r) in s.replication.iter().enumerate() {
        for (field, h) in [("source", &r.source), ("target", &r.target)] {
            if host(s, h).and_then(|h| h.exchange.as_ref()).is_none() {
                p.push((
                    path!("replication", i, field),
                    format!("{h:?} is not an Exchange host"),
                ));
            }
        }
        if r.source == r.target {
            p.push((
                path!("replication", i, "target"),
                "source and target must differ".into(),
            ));
        }
        non_negative(
            p,
            path!("replication", i, "batch_delay_s"),
            r.batch_delay_s,
            "batch delay",
        );
    }
}

fn link_spec(p: &mut Problems, at: FieldPath, l: &crate::format::LinkSpec) {
    non_negative(p, at.key("latency_ms"), l.latency_ms, "latency");
    positive(p, at.key("bandwidth_mbps"), l.bandwidth_mbps, "bandwidth");
    if !(0.0..=1.0).contains(&l.loss) {
        p.push((
            at.key("loss"),
            format!("loss is a probability in [0, 1], got {}", l.loss),
        ));
    }
}

pub(crate) fn host<'a>(s: &'a Scenario, name: &str) -> Option<&'a HostDef> {
    s.hosts.iter().find(|h| h.name == name)
}

pub(crate) fn is_role(s: &Scenario, name: &str, role: Role) -> bool {
    host(s, name).is_some_and(|h| h.roles.contains(&role))
}

fn dns(s: &Scenario, p: &mut Problems) {
    let zones = unique(
        p,
        s.dns.zones.iter().map(|z| z.name.as_str()),
        |i| path!("dns", "zones", i, "name"),
        "zone",
    );
    for (i, z) in s.dns.zones.iter().enumerate() {
        if z.servers.is_empty() {
            p.push((
                path!("dns", "zones", i, "servers"),
                "a zone needs at least one server".into(),
            ));
        }
        for (j, srv) in z.servers.iter().enumerate() {
            if !is_role(s, srv, Role::Dns) {
                p.push((
                    path!("dns", "zones", i, "servers", j),
                    format!("{srv:?} is not a host with the dns role"),
                ));
            }
        }
    }
    for (i, r) in s.dns.records.iter().enumerate() {
        if crate::dns::zone_of(s, &r.name).is_none() {
            p.push((
                path!("dns", "records", i, "name"),
                format!("{:?} is in no defined zone; {}", r.name, known(&zones)),
            ));
        }
        if crate::dns::parse_type(&r.rtype).is_none() {
            p.push((
                path!("dns", "records", i, "type"),
                format!(
                    "unknown record type {:?}; one of A, PTR, MX, CNAME",
                    r.rtype
                ),
            ));
        }
        if r.rtype.eq_ignore_ascii_case("A") && r.data.parse::<std::net::Ipv4Addr>().is_err() {
            p.push((
                path!("dns", "records", i, "data"),
                format!("an A record needs an IPv4 address, got {:?}", r.data),
            ));
        }
    }
}

fn groups_ok(p: &mut Problems, at: FieldPath, groups: &[crate::format::GroupDef]) {
    let names = unique(
        p,
        groups.iter().map(|g| g.name.as_str()),
        |i| at.index(i).key("name"),
        "storage group",
    );
    let _ = names;
    unique(
        p,
        groups.iter().map(|g| g.prefix.as_str()),
        |i| at.index(i).key("prefix"),
        "log prefix",
    );
    for (i, g) in groups.iter().enumerate() {
        let ok = g.prefix.len() == 3
            && g.prefix.starts_with('E')
            && g.prefix[1..].chars().all(|c| c.is_ascii_digit());
        if !ok {
            p.push((
                at.index(i).key("prefix"),
                format!(
                    "log prefix is E followed by two digits (E00, E01...), got {:?}",
                    g.prefix
                ),
            ));
        }
        unique(
            p,
            g.stores.iter().map(|x| x.name.as_str()),
            |j| at.index(i).key("stores").index(j).key("name"),
            "store",
        );
        for (j, st) in g.stores.iter().enumerate() {
            positive(
                p,
                at.index(i).key("stores").index(j).key("size_mb"),
                st.size_mb,
                "store size",
            );
            if st.file.contains(['/', '\\']) {
                p.push((
                    at.index(i).key("stores").index(j).key("file"),
                    "the database file name has no path".into(),
                ));
            }
        }
    }
}

fn exchange(s: &Scenario, p: &mut Problems, hosts: &BTreeSet<&str>) {
    let Some(x) = &s.exchange else {
        if !s.mailboxes.is_empty() {
            p.push((
                path!("mailboxes"),
                "mailboxes need an [exchange] section".into(),
            ));
        }
        return;
    };
    let services = unique(
        p,
        x.services.iter().map(|v| v.name.as_str()),
        |i| path!("exchange", "services", i, "name"),
        "service",
    );
    for (i, svc) in x.services.iter().enumerate() {
        for (j, r) in svc.requires.iter().enumerate() {
            if !services.contains(r.as_str()) {
                p.push((
                    path!("exchange", "services", i, "requires", j),
                    format!("unknown service {r:?}; {}", known(&services)),
                ));
            }
            if r == &svc.name {
                p.push((
                    path!("exchange", "services", i, "requires", j),
                    "a service cannot require itself".into(),
                ));
            }
        }
    }
    if let Some(cycle) = dependency_cycle(x) {
        p.push((
            path!("exchange", "services"),
            format!("service dependencies form a cycle: {cycle}"),
        ));
    }
    for (i, svc) in x.user_path_services.iter().enumerate() {
        if !services.contains(svc.as_str()) {
            p.push((
                path!("exchange", "user_path_services", i),
                format!("unknown service {svc:?}; {}", known(&services)),
            ));
        }
    }
    if !services.contains(x.store_service.as_str()) {
        p.push((
            path!("exchange", "store_service"),
            format!(
                "unknown service {:?}; {}",
                x.store_service,
                known(&services)
            ),
        ));
    }
    groups_ok(p, path!("exchange", "storage_groups"), &x.storage_groups);
    let names = unique(
        p,
        s.mailboxes.iter().map(|m| m.name.as_str()),
        |i| path!("mailboxes", i, "name"),
        "mailbox",
    );
    let _ = names;
    for (i, m) in s.mailboxes.iter().enumerate() {
        let Some(h) = host(s, &m.server).filter(|h| h.exchange.is_some()) else {
            p.push((
                path!("mailboxes", i, "server"),
                format!("{:?} is not an Exchange host; {}", m.server, known(hosts)),
            ));
            continue;
        };
        let groups = crate::exchange::groups_of(s, h);
        match groups.iter().find(|g| g.name == m.group) {
            None => p.push((
                path!("mailboxes", i, "group"),
                format!("{} has no storage group {:?}", m.server, m.group),
            )),
            Some(g) => match g.stores.iter().find(|st| st.name == m.store) {
                None => p.push((
                    path!("mailboxes", i, "store"),
                    format!("storage group {:?} has no store {:?}", m.group, m.store),
                )),
                Some(st) if st.public => p.push((
                    path!("mailboxes", i, "store"),
                    format!("{:?} is a public folder store", m.store),
                )),
                Some(_) => {}
            },
        }
    }
}

fn dependency_cycle(x: &crate::format::ExchangeDef) -> Option<String> {
    // Depth-first search with colours; services are few.
    fn visit<'a>(
        x: &'a crate::format::ExchangeDef,
        n: &'a str,
        colour: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<String> {
        match colour.get(n) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|s| *s == n).unwrap_or(0);
                let mut c: Vec<&str> = stack[from..].to_vec();
                c.push(n);
                return Some(c.join(" -> "));
            }
            _ => {}
        }
        colour.insert(n, 1);
        stack.push(n);
        if let Some(svc) = x.services.iter().find(|s| s.name == n) {
            for r in &svc.requires {
                if let Some(c) = visit(x, r, colour, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        colour.insert(n, 2);
        None
    }
    let mut colour = BTreeMap::new();
    for s in &x.services {
        if let Some(c) = visit(x, &s.name, &mut colour, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn dist(p: &mut Problems, at: FieldPath, d: &Dist) {
    if let Some(why) = d.problem() {
        p.push((at, why));
    }
}

fn timing(s: &Scenario, p: &mut Problems) {
    let t = &s.timing;
    for (k, d) in t.durations() {
        dist(p, path!("timing", k), &d);
    }
    positive(
        p,
        path!("timing", "client_timeout_s"),
        t.client_timeout_s,
        "client timeout",
    );
    positive(
        p,
        path!("timing", "target_apply_mbps"),
        t.target_apply_mbps,
        "target apply rate",
    );
    let services: BTreeSet<&str> = s
        .exchange
        .iter()
        .flat_map(|x| x.services.iter().map(|v| v.name.as_str()))
        .collect();
    for (name, st) in &t.services {
        let at = path!("timing", "services", name.as_str());
        if !services.contains(name.as_str()) {
            p.push((
                at.clone(),
                format!("timing for unknown service {name:?}; {}", known(&services)),
            ));
        }
        for (k, d) in st.durations() {
            dist(p, at.key(k), &d);
        }
        if !(0.0..=1.0).contains(&st.first_start_failure_probability) {
            p.push((
                at.key("first_start_failure_probability"),
                format!(
                    "a probability is in [0, 1], got {}",
                    st.first_start_failure_probability
                ),
            ));
        }
    }
}

fn runbook(s: &Scenario, p: &mut Problems) {
    crate::runbooks::validate(s, p);
}

/// The checks every Storage Mirroring runbook makes of its pair: source and
/// target are distinct Exchange hosts joined by a replication connection, a
/// domain exists for the user moves, and `dc` (if given) is a controller.
/// Returns the two hosts when both are Exchange hosts.
pub(crate) fn mirroring_pair<'a>(
    s: &'a Scenario,
    runbook: &str,
    source: &str,
    target: &str,
    dc: Option<&str>,
    p: &mut Problems,
) -> Option<(&'a HostDef, &'a HostDef)> {
    let exch = |n: &str| host(s, n).filter(|h| h.exchange.is_some());
    let (src, tgt) = (exch(source), exch(target));
    if src.is_none() {
        p.push((
            path!("runbook", "source"),
            format!("{source:?} is not an Exchange host"),
        ));
    }
    if tgt.is_none() {
        p.push((
            path!("runbook", "target"),
            format!("{target:?} is not an Exchange host"),
        ));
    }
    if source == target {
        p.push((
            path!("runbook", "target"),
            "source and target must differ".into(),
        ));
    }
    if !s
        .replication
        .iter()
        .any(|x| x.source == source && x.target == target)
    {
        p.push((
            path!("runbook"),
            format!("no [[replication]] connection from {source} to {target}"),
        ));
    }
    if s.domain.is_none() {
        p.push((
            path!("runbook"),
            format!("the {runbook} runbook moves users in Active Directory: add a [domain]"),
        ));
    }
    if let Some(dc) = dc
        && !is_role(s, dc, Role::DomainController)
    {
        p.push((
            path!("runbook", "dc"),
            format!("{dc:?} is not a domain controller"),
        ));
    }
    src.zip(tgt)
}

#[cfg(test)]
mod tests {
    //! Scenarios in which a runbook's scenario reference would not resolve
    //! (see `runbooks::refs`) are refused when they load.

    use std::path::Path;

    use crate::load::ScenarioError;

    /// Library scenario `stem`, which loads, edited as a TOML table: the
    /// problems loading it now reports, as `field: message`.
    fn problems(stem: &str, edit: impl FnOnce(&mut toml::Table)) -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("library")
            .join(format!("{stem}.toml"));
        let text = std::fs::read_to_string(&path).expect("library file");
        if let Err(e) = crate::load::parse(&path, &text) {
            panic!("{stem} does not load as it is: {e}");
        }
        let mut t: toml::Table = toml::from_str(&text).expect("library file parses");
        edit(&mut t);
        let edited = toml::to_string(&t).expect("serialises");
        match crate::load::parse(Path::new("variant.toml"), &edited) {
            Ok(_) => panic!("{stem}: the edited scenario loads"),
            Err(ScenarioError::Invalid { problems, .. }) => problems
                .into_iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Asserts one of `problems` starts with `field: ` and contains `text`.
    fn refused(problems: &[String], field: &str, text: &str) {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("{field}: ")) && p.contains(text)),
            "no problem at {field} saying {text:?} in {problems:#?}"
        );
    }

    /// The table of host `name` in `[[hosts]]`.
    fn host<'a>(t: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
        t["hosts"]
            .as_array_mut()
            .expect("hosts")
            .iter_mut()
            .filter_map(toml::Value::as_table_mut)
            .find(|h| h["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    /// Gives host `name` storage groups of its own: none.
    fn without_stores(t: &mut toml::Table, name: &str) {
        let x = host(t, name)["exchange"]
            .as_table_mut()
            .expect("an Exchange host");
        x.insert("storage_groups".into(), toml::Value::Array(Vec::new()));
    }

    fn table<'a>(t: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
        t[key].as_table_mut().expect("a table")
    }

    #[test]
    fn two_site_needs_a_zone_for_the_host_records_it_moves() {
        let p = problems("two-site-dr", |t| {
            table(t, "domain").insert("name".into(), "elsewhere.example".into());
        });
        refused(
            &p,
            "runbook.primary",
            "steps 334/336 move the host records of exch1.elsewhere.example",
        );
    }

    #[test]
    fn two_site_needs_stores_to_mount_on_the_secondary() {
        let p = problems("two-site-dr", |t| without_stores(t, "EXCH2"));
        refused(&p, "runbook.secondary", "EXCH2 has no stores");
    }

    #[test]
    fn a_lan_failover_whose_source_has_no_store_to_pair_is_refused() {
        let p = problems("lan-failover", |t| without_stores(t, "EXCH1"));
        refused(
            &p,
            "runbook.pairing_rules",
            "no store of EXCH1 pairs with a store of EXCH2: the failover would move nothing",
        );
    }

    #[test]
    fn a_lan_failover_of_only_public_folders_needs_a_public_folder_store() {
        // Every store is a mailbox store: `-onlypublicfolders` pairs none.
        let p = problems("lan-failover", |t| {
            for g in t["exchange"]["storage_groups"]
                .as_array_mut()
                .expect("groups")
            {
                for st in g["stores"].as_array_mut().expect("stores") {
                    st.as_table_mut().expect("store").remove("public");
                }
            }
            table(t, "runbook").insert("public_folders".into(), "only".into());
        });
        refused(
            &p,
            "runbook.pairing_rules",
            "no store of EXCH1 pairs with a store of EXCH2: the failover would move nothing",
        );
    }

    #[test]
    fn a_failback_whose_source_has_no_store_to_pair_is_refused() {
        let p = problems("failback-original-source", |t| without_stores(t, "EXCH1"));
        refused(
            &p,
            "runbook",
            "no store of EXCH1 pairs with a store of EXCH2",
        );
    }

    #[test]
    fn a_ccr_activation_needs_a_passive_copy() {
        let p = problems("ccr-geo-cluster", |t| without_stores(t, "NODEB"));
        refused(&p, "runbook.passive", "NODEB has no stores");
    }

    #[test]
    fn a_ccr_activation_needs_a_domain_controller_for_the_mailbox_moves() {
        let p = problems("ccr-geo-cluster", |t| {
            t.remove("domain");
        });
        refused(&p, "runbook.dc", "mailbox moves need a domain controller");
    }

    #[test]
    fn a_restore_needs_stores_on_the_secondary() {
        let p = problems("restore-from-archive", |t| without_stores(t, "EXCH2"));
        refused(&p, "runbook.secondary", "EXCH2 has no stores");
    }

    #[test]
    fn a_restore_needs_a_zone_for_the_service_name_it_moves() {
        let p = problems("restore-from-archive", |t| {
            let w = table(t, "workload");
            w.insert("service_name".into(), "mail.nowhere.example".into());
        });
        refused(&p, "workload.service_name", "it needs a zone");
    }

    #[test]
    fn without_an_exchange_section_there_is_no_store_service_to_start() {
        // The Information Store (`runbooks::refs::store_service`) comes from
        // [exchange]; the mailboxes every workload needs require it too.
        let p = problems("two-site-dr", |t| {
            t.remove("exchange");
        });
        refused(&p, "mailboxes", "mailboxes need an [exchange] section");
    }
}
