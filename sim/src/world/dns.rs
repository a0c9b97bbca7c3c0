//! DNS servers with zones (dynamic updates allowed or refused) and client
//! resolvers whose caches follow their rules (`drlab_scenarios::dns::
//! CacheRules`, from a `resolver` policy or a named profile): honour the
//! TTL, enforce a floor, a fixed time or a ceiling, never expire until
//! flushed; cache negative answers for the zone's negative TTL (capped) or a
//! fixed time; serve an expired answer while refreshing it (serve-expired).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_scenarios::dns::CacheRules;
use drlab_scenarios::format::Scenario;

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
    /// The zone's negative-caching TTL (RFC 2308 §5).
    pub negative_ttl_s: u32,
}

/// A cached answer (`records` empty: a cached negative answer).
#[derive(Debug, Clone)]
struct Cached {
    name: String,
    rtype: RecordType,
    records: Vec<DnsRecord>,
    /// The first address of an A answer, parsed once.
    addr: Option<Ipv4Addr>,
    expires_at: Option<Micros>,
}

/// What a client's cache holds for a name at a given time.
enum Lookup<'a> {
    /// A live answer (possibly a negative one).
    Fresh(&'a Cached),
    /// An expired answer the rules still serve (serve-expired).
    Stale(&'a Cached),
    /// Nothing usable: ask the server.
    Miss,
}

/// A client resolver and its cache (a handful of names: a vector beats a
/// map), following the population's [`CacheRules`]: its profile's or its
/// `resolver` policy's.
#[derive(Debug, Clone)]
pub struct Resolver {
    rules: CacheRules,
    cache: Vec<Cached>,
}

impl Resolver {
    /// An empty resolver.
    pub fn new(rules: CacheRules) -> Resolver {
        Resolver {
            rules,
            cache: Vec::new(),
        }
    }

    fn lookup(&self, name: &str, rtype: RecordType, now: Micros) -> Lookup<'_> {
        let Some(c) = self
            .cache
            .iter()
            .find(|c| c.rtype == rtype && c.name == name)
        else {
            return Lookup::Miss;
        };
        match c.expires_at {
            Some(t) if now >= t => {
                let since_s = (now - t) as f64 / 1e6;
                if !c.records.is_empty() && self.rules.may_serve_expired(since_s) {
                    Lookup::Stale(c)
                } else {
                    Lookup::Miss
                }
            }
            _ => Lookup::Fresh(c),
        }
    }

    /// Caches the server's answer at `now` and returns the entry: a
    /// non-empty answer always (a lifetime of 0 is never served), an empty
    /// one only when the rules cache negative answers (`zone_negative_ttl_s`:
    /// the zone's RFC 2308 TTL, if the server is authoritative for the name).
    fn store(
        &mut self,
        name: &str,
        rtype: RecordType,
        records: Vec<DnsRecord>,
        now: Micros,
        zone_negative_ttl_s: Option<u32>,
    ) -> Option<&Cached> {
        let lifetime_s = if records.is_empty() {
            Some(self.rules.negative_s(zone_negative_ttl_s)?)
        } else {
            let ttl = records.iter().map(|r| r.ttl_s).min().unwrap_or(0);
            self.rules.positive_s(ttl)
        };
        let expires_at = lifetime_s.map(|s| now + u64::from(s) * 1_000_000);
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
        self.cache.last()
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
                negative_ttl_s: z.negative_ttl_s,
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
        drlab_drivers::types::deepest_zone(zones.iter_mut(), name, |z| &z.name)
            .ok_or_else(|| OpError::not_found(format!("a zone for {name} on {sname}")))
    }

    /// Adds a record (dynamic update). Refused when the zone refuses updates.
    pub fn dns_add(&mut self, server: usize, r: &DnsRecord) -> Result<(), OpError> {
        let name = norm(&r.name);
        let zone = self.zone_for(server, &name)?;
        if !zone.dynamic {
            return Err(OpError::dynamic_updates_refused(&zone.name, None));
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
            return Err(OpError::dynamic_updates_refused(&zone.name, None));
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

    /// The zone `server` answers `name` from, if it is authoritative for it.
    fn zone_on(&self, server: usize, name: &str) -> Option<&ZoneData> {
        let zones = self.zones.get(&server).into_iter().flatten();
        drlab_drivers::types::deepest_zone(zones, name, |z| &z.name)
    }

    /// The server's answer (empty when the name has no such record).
    pub fn dns_answer(&self, server: usize, name: &str, rtype: RecordType) -> Vec<DnsRecord> {
        let name = norm(name);
        self.zone_on(server, &name)
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
        let stale = match self.clients[c].resolver.lookup(&key, rtype, now) {
            Lookup::Fresh(hit) => return Ok((hit.records.clone(), Duration::ZERO)),
            Lookup::Stale(hit) => hit.records.clone(),
            Lookup::Miss => {
                let (hit, rtt) = self.ask_server(c, &key, rtype, now)?;
                return Ok((hit.map(|h| h.records.clone()).unwrap_or_default(), rtt));
            }
        };
        self.refresh_behind(c, &key, rtype, now);
        Ok((stale, Duration::ZERO))
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
        let mut found = self.clients[c].resolver.lookup(name, RecordType::A, now);
        let key = norm_cow(name);
        if matches!(found, Lookup::Miss) && *key != *name {
            found = self.clients[c].resolver.lookup(&key, RecordType::A, now);
        }
        let stale = match found {
            Lookup::Fresh(hit) => return Ok((hit.addr, Duration::ZERO)),
            Lookup::Stale(hit) => hit.addr,
            Lookup::Miss => {
                let (hit, rtt) = self.ask_server(c, &key, RecordType::A, now)?;
                return Ok((hit.and_then(|h| h.addr), rtt));
            }
        };
        self.refresh_behind(c, &key, RecordType::A, now);
        Ok((stale, Duration::ZERO))
    }

    /// Serve-expired's refresh of an answer just served stale: the server's
    /// answer replaces it when it arrives (modelled as at once). When the
    /// server cannot be reached the stale answer stays, which is the point
    /// of serve-expired, so that failure is the expected outcome and not an
    /// error of the lookup.
    fn refresh_behind(&mut self, c: usize, key: &str, rtype: RecordType, now: Micros) {
        // An unreachable server leaves the stale entry answering until it
        // is back: the outcome serve-expired exists for.
        let _unreachable_keeps_stale = self.ask_server(c, key, rtype, now).is_err();
    }

    /// Asks the client's server and caches its answer by the client's
    /// rules (an empty one only when they cache negative answers).
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
        let negative_ttl = self.zone_on(server, key).map(|z| z.negative_ttl_s);
        let empty = answer.is_empty();
        let hit = self.clients[c]
            .resolver
            .store(key, rtype, answer, now, negative_ttl);
        Ok((if empty { None } else { hit }, rtt))
    }
}

#[cfg(test)]
mod tests {
    //! Each client profile's cache in the simulator: the LAN failover's
    //! users behind the profile, the service record's TTL set to 300 s,
    //! the record moved at time 0 and read back over time.

    use std::path::Path;

    use super::*;

    const LAN: &str = include_str!("../../../scenarios/library/lan-failover.toml");
    const NAME: &str = "exch1.corp.example.com";
    const NEW_NAME: &str = "exch9.corp.example.com";
    const S: Micros = 1_000_000;

    /// The LAN failover with its users' `resolver = "honour-ttl"` line
    /// replaced by `client` and the service record's TTL 300 s.
    fn world(client: &str) -> World {
        let text = LAN
            .replacen("resolver = \"honour-ttl\"", client, 1)
            .replacen("ttl_s = 1200", "ttl_s = 300", 1);
        let s = drlab_scenarios::parse(Path::new("profile.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}"));
        World::build(&s, 1)
    }

    fn record(name: &str, ip: &str) -> DnsRecord {
        DnsRecord {
            name: name.into(),
            rtype: RecordType::A,
            data: ip.into(),
            ttl_s: 300,
        }
    }

    /// What the users' resolver answers for `name` at `at_s`.
    fn seen(w: &mut World, name: &str, at_s: f64) -> Option<String> {
        let c = w.client_ix("hq-users").unwrap();
        let (records, _) = w
            .resolve(c, name, RecordType::A, (at_s * S as f64) as Micros)
            .unwrap();
        records.first().map(|r| r.data.to_string())
    }

    /// Caches the old address at 0, then moves the record to 10.0.0.12 on
    /// the server (as a WAN failover's DNS update does).
    fn move_record(w: &mut World) {
        assert_eq!(seen(w, NAME, 0.0).as_deref(), Some("10.0.0.11"));
        let dc = w.host_ix("DC1").unwrap();
        w.dns_delete(dc, &record(NAME, "10.0.0.11")).unwrap();
        w.dns_add(dc, &record(NAME, "10.0.0.12")).unwrap();
    }

    /// Asks for a name that does not exist yet at 0, then adds it.
    fn add_later(w: &mut World) {
        assert_eq!(seen(w, NEW_NAME, 0.0), None);
        let dc = w.host_ix("DC1").unwrap();
        w.dns_add(dc, &record(NEW_NAME, "10.0.0.99")).unwrap();
    }

    const OLD: Option<&str> = Some("10.0.0.11");
    const NEW: Option<&str> = Some("10.0.0.12");
    const ADDED: Option<&str> = Some("10.0.0.99");

    #[test]
    fn windows_keeps_a_300_s_record_300_s_and_a_negative_answer_900_s() {
        let mut w = world("profile = \"windows\"");
        move_record(&mut w);
        assert_eq!(seen(&mut w, NAME, 299.9).as_deref(), OLD);
        assert_eq!(seen(&mut w, NAME, 300.0).as_deref(), NEW);
        // The zone's negative TTL (default 3600 s) capped at MaxNegativeCacheTtl.
        add_later(&mut w);
        assert_eq!(seen(&mut w, NEW_NAME, 899.9), None);
        assert_eq!(seen(&mut w, NEW_NAME, 900.0).as_deref(), ADDED);
    }

    #[test]
    fn java_re_resolves_after_30_s_whatever_the_ttl_and_forgets_failures_after_10_s() {
        let mut w = world("profile = \"java\"");
        move_record(&mut w);
        assert_eq!(seen(&mut w, NAME, 29.9).as_deref(), OLD);
        assert_eq!(seen(&mut w, NAME, 30.0).as_deref(), NEW);
        add_later(&mut w);
        assert_eq!(seen(&mut w, NEW_NAME, 9.9), None);
        assert_eq!(seen(&mut w, NEW_NAME, 10.0).as_deref(), ADDED);
    }

    #[test]
    fn chrome_keeps_answers_at_least_60_s_and_no_failures() {
        let mut w = world("profile = \"chrome\"");
        move_record(&mut w);
        assert_eq!(seen(&mut w, NAME, 299.9).as_deref(), OLD);
        assert_eq!(seen(&mut w, NAME, 300.0).as_deref(), NEW);
        add_later(&mut w);
        assert_eq!(seen(&mut w, NEW_NAME, 0.001).as_deref(), ADDED);
        // A 5 s TTL is held for the 60 s minimum.
        let dc = w.host_ix("DC1").unwrap();
        let short = DnsRecord {
            ttl_s: 5,
            ..record("short.corp.example.com", "10.0.0.50")
        };
        w.dns_add(dc, &short).unwrap();
        assert_eq!(
            seen(&mut w, "short.corp.example.com", 1000.0).as_deref(),
            Some("10.0.0.50")
        );
        w.dns_delete(dc, &short).unwrap();
        assert_eq!(
            seen(&mut w, "short.corp.example.com", 1059.9).as_deref(),
            Some("10.0.0.50")
        );
        assert_eq!(seen(&mut w, "short.corp.example.com", 1060.0), None);
    }

    #[test]
    fn bind_caps_at_a_week_and_negative_answers_at_the_zones_ttl() {
        let mut w = world("profile = \"bind\"");
        move_record(&mut w);
        assert_eq!(seen(&mut w, NAME, 299.9).as_deref(), OLD);
        assert_eq!(seen(&mut w, NAME, 300.0).as_deref(), NEW);
        // min(zone 3600 s, max-ncache-ttl 10800 s).
        add_later(&mut w);
        assert_eq!(seen(&mut w, NEW_NAME, 3599.9), None);
        assert_eq!(seen(&mut w, NEW_NAME, 3600.0).as_deref(), ADDED);
    }

    #[test]
    fn unbound_serves_expired_once_while_refreshing_and_while_the_server_is_down() {
        let mut w = world("profile = \"unbound-serve-expired\"");
        move_record(&mut w);
        assert_eq!(seen(&mut w, NAME, 299.9).as_deref(), OLD);
        // Expired: answered stale at once, refreshed behind it.
        assert_eq!(seen(&mut w, NAME, 300.0).as_deref(), OLD);
        assert_eq!(seen(&mut w, NAME, 300.1).as_deref(), NEW);
        // With the server down, the expired answer keeps being served.
        let dc = w.host_ix("DC1").unwrap();
        w.crash(dc, 400 * S);
        assert_eq!(seen(&mut w, NAME, 10_000.0).as_deref(), NEW);
        assert_eq!(seen(&mut w, NAME, 1e6).as_deref(), NEW);
    }

    #[test]
    fn without_serve_expired_a_down_server_is_an_error_after_expiry() {
        let mut w = world("profile = \"windows\"");
        assert_eq!(seen(&mut w, NAME, 0.0).as_deref(), OLD);
        let dc = w.host_ix("DC1").unwrap();
        w.crash(dc, S);
        assert_eq!(seen(&mut w, NAME, 299.0).as_deref(), OLD);
        let c = w.client_ix("hq-users").unwrap();
        assert!(w.resolve(c, NAME, RecordType::A, 300 * S).is_err());
    }

    #[test]
    fn plain_policies_cache_no_negative_answers() {
        for client in ["resolver = \"honour-ttl\"", "resolver = \"never-expire\""] {
            let mut w = world(client);
            add_later(&mut w);
            assert_eq!(seen(&mut w, NEW_NAME, 0.001).as_deref(), ADDED, "{client}");
        }
    }
}
