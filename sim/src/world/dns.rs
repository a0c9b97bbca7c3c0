//! DNS servers with zones (dynamic updates allowed or refused) and client
//! resolvers whose caches follow their policy: honour the TTL, enforce a
//! floor, or never expire until flushed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_scenarios::format::{ResolverPolicy, Scenario};

use super::{End, Micros, World};

/// One zone on one server.
#[derive(Debug, Clone)]
pub struct ZoneData {
    /// Zone name (normalised).
    pub name: String,
    /// Dynamic updates allowed.
    pub dynamic: bool,
    /// Records.
    pub records: Vec<DnsRecord>,
}

impl ZoneData {
    fn contains(&self, name: &str) -> bool {
        name == self.name || name.ends_with(&format!(".{}", self.name))
    }
}

/// A cached answer.
#[derive(Debug, Clone)]
struct Cached {
    name: String,
    rtype: RecordType,
    records: Vec<DnsRecord>,
    /// The first address of an A answer, parsed once.
    addr: Option<Ipv4Addr>,
    expires_at: Option<Micros>,
}

/// A client resolver and its cache (a handful of names: a vector beats a map).
#[derive(Debug, Clone)]
pub struct Resolver {
    policy: ResolverPolicy,
    min_ttl_s: u32,
    cache: Vec<Cached>,
}

impl Resolver {
    /// An empty resolver.
    pub fn new(policy: ResolverPolicy, min_ttl_s: u32) -> Resolver {
        Resolver {
            policy,
            min_ttl_s,
            cache: Vec::new(),
        }
    }

    fn lookup(&self, name: &str, rtype: RecordType, now: Micros) -> Option<&Cached> {
        let c = self
            .cache
            .iter()
            .find(|c| c.rtype == rtype && c.name == name)?;
        match c.expires_at {
            Some(t) if now >= t => None,
            _ => Some(c),
        }
    }

    fn store(
        &mut self,
        name: &str,
        rtype: RecordType,
        records: Vec<DnsRecord>,
        now: Micros,
    ) -> &Cached {
        let ttl = records.iter().map(|r| r.ttl_s).min().unwrap_or(0);
        let expires_at = match self.policy {
            ResolverPolicy::HonourTtl => Some(now + u64::from(ttl) * 1_000_000),
            ResolverPolicy::MinTtl => Some(now + u64::from(ttl.max(self.min_ttl_s)) * 1_000_000),
            ResolverPolicy::NeverExpire => None,
        };
        let addr = if rtype == RecordType::A {
            records.iter().find_map(|r| r.data.parse().ok())
        } else {
            None
        };
        self.cache.retain(|c| !(c.rtype == rtype && c.name == name));
        self.cache.push(Cached {
            name: name.to_string(),
            rtype,
            records,
            addr,
            expires_at,
        });
        self.cache.last().expect("just pushed")
    }

    /// Empties the cache.
    pub fn flush(&mut self) {
        self.cache.clear();
    }
}

/// The zones each DNS server starts with.
pub fn build_zones(
    s: &Scenario,
    host_ix: &dyn Fn(&str) -> Option<usize>,
) -> BTreeMap<usize, Vec<ZoneData>> {
    let mut out: BTreeMap<usize, Vec<ZoneData>> = BTreeMap::new();
    for z in &s.dns.zones {
        for srv in &z.servers {
            let Some(h) = host_ix(srv) else { continue };
            let zname = drlab_scenarios::dns::normalise(&z.name);
            let records = s
                .dns
                .records
                .iter()
                .filter(|r| {
                    drlab_scenarios::dns::zone_of(s, &r.name).is_some_and(|x| x.name == z.name)
                })
                .filter_map(drlab_scenarios::dns::to_record)
                .collect();
            out.entry(h).or_default().push(ZoneData {
                name: zname,
                dynamic: z.dynamic_updates,
                records,
            });
        }
    }
    out
}

fn norm(name: &str) -> String {
    drlab_scenarios::dns::normalise(name)
}

/// `name` normalised, borrowing when it already is.
fn norm_cow(name: &str) -> Cow<'_, str> {
    if name.ends_with('.') || name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(norm(name))
    } else {
        Cow::Borrowed(name)
    }
}

impl World {
    fn zone_for(&mut self, server: usize, name: &str) -> Result<&mut ZoneData, OpError> {
        let sname = self.hosts[server].name.clone();
        let zones = self
            .zones
            .get_mut(&server)
            .ok_or_else(|| OpError::not_found(format!("DNS service on {sname}")))?;
        zones
            .iter_mut()
            .filter(|z| z.contains(name))
            .max_by_key(|z| z.name.len())
            .ok_or_else(|| OpError::not_found(format!("a zone for {name} on {sname}")))
    }

    /// Adds a record (dynamic update). Refused when the zone refuses updates.
    pub fn dns_add(&mut self, server: usize, r: &DnsRecord) -> Result<(), OpError> {
        let name = norm(&r.name);
        let zone = self.zone_for(server, &name)?;
        if !zone.dynamic {
            return Err(OpError::refused(format!(
                "zone {} does not allow dynamic updates (enable them, or edit the zone by other means)",
                zone.name
            )));
        }
        let rec = DnsRecord {
            name: name.into(),
            data: norm(&r.data).into(),
            ..r.clone()
        };
        if !zone
            .records
            .iter()
            .any(|x| x.name == rec.name && x.rtype == rec.rtype && x.data == rec.data)
        {
            zone.records.push(rec);
        }
        Ok(())
    }

    /// Deletes the record matching name, type and data.
    pub fn dns_delete(&mut self, server: usize, r: &DnsRecord) -> Result<(), OpError> {
        let name = norm(&r.name);
        let data = norm(&r.data);
        let zone = self.zone_for(server, &name)?;
        if !zone.dynamic {
            return Err(OpError::refused(format!(
                "zone {} does not allow dynamic updates (enable them, or edit the zone by other means)",
                zone.name
            )));
        }
        let before = zone.records.len();
        zone.records
            .retain(|x| !(*x.name == *name && x.rtype == r.rtype && *x.data == *data));
        if zone.records.len() == before {
            return Err(OpError::not_found(format!(
                "{} record {name} -> {data}",
                r.rtype.as_str()
            )));
        }
        Ok(())
    }

    /// The server's answer (empty when the name has no such record).
    pub fn dns_answer(&self, server: usize, name: &str, rtype: RecordType) -> Vec<DnsRecord> {
        let name = norm(name);
        self.zones
            .get(&server)
            .into_iter()
            .flatten()
            .filter(|z| z.contains(&name))
            .max_by_key(|z| z.name.len())
            .map(|z| {
                z.records
                    .iter()
                    .filter(|r| *r.name == *name && r.rtype == rtype)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resolves through a client's resolver: from cache, or by asking its
    /// server. Returns the answer and the time the lookup took.
    pub fn resolve(
        &mut self,
        c: usize,
        name: &str,
        rtype: RecordType,
        now: Micros,
    ) -> Result<(Vec<DnsRecord>, Duration), OpError> {
        let key = norm_cow(name);
        if let Some(hit) = self.clients[c].resolver.lookup(&key, rtype, now) {
            return Ok((hit.records.clone(), Duration::ZERO));
        }
        let (hit, rtt) = self.ask_server(c, &key, rtype, now)?;
        Ok((hit.map(|h| h.records.clone()).unwrap_or_default(), rtt))
    }

    /// Resolves an address the way a user's client does, without copying
    /// the answer: the hot path of every write and probe.
    pub fn resolve_addr(
        &mut self,
        c: usize,
        name: &str,
        now: Micros,
    ) -> Result<(Option<Ipv4Addr>, Duration), OpError> {
        // Cache keys are normalised; names as users type them usually are
        // already, so try the name as given before normalising it.
        if let Some(hit) = self.clients[c].resolver.lookup(name, RecordType::A, now) {
            return Ok((hit.addr, Duration::ZERO));
        }
        let key = norm_cow(name);
        if let Some(hit) = self.clients[c].resolver.lookup(&key, RecordType::A, now) {
            return Ok((hit.addr, Duration::ZERO));
        }
        let (hit, rtt) = self.ask_server(c, &key, RecordType::A, now)?;
        Ok((hit.and_then(|h| h.addr), rtt))
    }

    /// Asks the client's server and caches a non-empty answer.
    fn ask_server(
        &mut self,
        c: usize,
        key: &str,
        rtype: RecordType,
        now: Micros,
    ) -> Result<(Option<&Cached>, Duration), OpError> {
        let server = self.clients[c].dns_server;
        let rtt = self.round_trip(End::Client(c), server)?;
        let answer = self.dns_answer(server, key, rtype);
        if answer.is_empty() {
            return Ok((None, rtt));
        }
        Ok((
            Some(self.clients[c].resolver.store(key, rtype, answer, now)),
            rtt,
        ))
    }
}
