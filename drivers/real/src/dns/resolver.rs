//! A client resolver with its own TTL cache, so that a drill measures DNS
//! propagation as users experience it: a changed record reaches a client
//! only when its cached answer expires (or is flushed, `ipconfig
//! /flushdns`), not when the server changes.
//!
//! The three cache policies are drlab's (`resolver` in the scenario's
//! clients, docs/scenario-format.md) and behave exactly as the simulator's
//! (`sim/src/world/dns.rs`): an answer is kept for the smallest TTL of its
//! records (`honour-ttl`, RFC 1035 §3.2.1 / RFC 2181 §5.2 treat an RRset's
//! TTLs as one), for at least a floor (`min-ttl`, like resolvers that clamp
//! short TTLs), or until flushed (`never-expire`, a stale client). Empty
//! answers are not cached (the simulator does not model RFC 2308 negative
//! caching either), so a name that appears is seen on the next lookup.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drlab_drivers::types::{DnsRecord, RecordType};

use super::DnsError;
use super::client::{DnsLimits, query_records};
use super::message::normalise;

/// Most answers a cache keeps; the oldest is dropped beyond this (a client
/// in a drill resolves a handful of service names).
pub const CACHE_ENTRIES_MAX: usize = 1024;

/// How long a client keeps an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    /// For the answer's TTL (`honour-ttl`).
    HonourTtl,
    /// For max(TTL, floor) (`min-ttl` with `min_ttl_s`).
    MinTtl {
        /// The floor.
        floor_s: u32,
    },
    /// Until flushed (`never-expire`).
    NeverExpire,
}

impl CachePolicy {
    /// How long an answer whose smallest TTL is `ttl_s` stays cached
    /// (`None`: until flushed).
    pub fn lifetime(self, ttl_s: u32) -> Option<Duration> {
        match self {
            CachePolicy::HonourTtl => Some(Duration::from_secs(u64::from(ttl_s))),
            CachePolicy::MinTtl { floor_s } => {
                Some(Duration::from_secs(u64::from(ttl_s.max(floor_s))))
            }
            CachePolicy::NeverExpire => None,
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    rtype: RecordType,
    records: Vec<DnsRecord>,
    expires_at: Option<Instant>,
}

/// The cache alone, with time passed in: pure and testable.
#[derive(Clone, Debug)]
pub struct TtlCache {
    policy: CachePolicy,
    entries: Vec<Entry>,
}

impl TtlCache {
    /// An empty cache.
    pub fn new(policy: CachePolicy) -> TtlCache {
        TtlCache {
            policy,
            entries: Vec::new(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> CachePolicy {
        self.policy
    }

    /// A live cached answer for `name`/`rtype` at `now`.
    pub fn lookup(&self, name: &str, rtype: RecordType, now: Instant) -> Option<&[DnsRecord]> {
        let name = normalise(name);
        let e = self
            .entries
            .iter()
            .find(|e| e.rtype == rtype && e.name == name)?;
        match e.expires_at {
            Some(t) if now >= t => None,
            _ => Some(&e.records),
        }
    }

    /// Caches a non-empty answer received at `now` (an empty one is not
    /// cached, and leaves any older entry alone).
    pub fn store(&mut self, name: &str, rtype: RecordType, records: Vec<DnsRecord>, now: Instant) {
        if records.is_empty() {
            return;
        }
        let name = normalise(name);
        let ttl = records.iter().map(|r| r.ttl_s).min().unwrap_or(0);
        let expires_at = self.policy.lifetime(ttl).map(|d| now + d);
        self.entries
            .retain(|e| !(e.rtype == rtype && e.name == name));
        // drop what has expired, then the oldest, to stay within the bound
        self.entries
            .retain(|e| e.expires_at.is_none_or(|t| t > now));
        if self.entries.len() >= CACHE_ENTRIES_MAX {
            self.entries.remove(0);
        }
        self.entries.push(Entry {
            name,
            rtype,
            records,
            expires_at,
        });
    }

    /// When the entry for `name`/`rtype` expires (`None` if absent or never).
    pub fn expires_at(&self, name: &str, rtype: RecordType) -> Option<Instant> {
        let name = normalise(name);
        self.entries
            .iter()
            .find(|e| e.rtype == rtype && e.name == name)
            .and_then(|e| e.expires_at)
    }

    /// Empties the cache.
    pub fn flush(&mut self) {
        self.entries.clear();
    }

    /// Number of entries (live or expired).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The records (of the asked type; empty when the name has none).
    pub records: Vec<DnsRecord>,
    /// Whether the answer came from the cache rather than the server.
    pub from_cache: bool,
}

impl Resolution {
    /// The first IPv4 address of an A answer.
    pub fn first_addr(&self) -> Option<std::net::Ipv4Addr> {
        self.records
            .iter()
            .filter(|r| r.rtype == RecordType::A)
            .find_map(|r| r.data.parse().ok())
    }
}

/// A client's resolver: its DNS server, its cache policy and its cache.
///
/// The cache sits behind a mutex that is never held across an `.await`,
/// so one resolver may be shared by concurrent probes and writes.
#[derive(Debug)]
pub struct Resolver {
    server: SocketAddr,
    limits: DnsLimits,
    cache: Mutex<TtlCache>,
}

impl Resolver {
    /// A resolver asking `server`, caching by `policy`.
    pub fn new(server: SocketAddr, policy: CachePolicy, limits: DnsLimits) -> Resolver {
        Resolver {
            server,
            limits,
            cache: Mutex::new(TtlCache::new(policy)),
        }
    }

    /// The server this resolver asks.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, TtlCache> {
        // a panic elsewhere cannot leave the cache inconsistent (every
        // method leaves it valid), so a poisoned lock is still usable
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves `name`/`rtype`: from the cache while the cached answer
    /// lives, else from the server (and caches a non-empty answer).
    pub async fn resolve(&self, name: &str, rtype: RecordType) -> Result<Resolution, DnsError> {
        if let Some(hit) = self.cache().lookup(name, rtype, Instant::now()) {
            return Ok(Resolution {
                records: hit.to_vec(),
                from_cache: true,
            });
        }
        let records = query_records(self.server, name, rtype, self.limits).await?;
        self.cache()
            .store(name, rtype, records.clone(), Instant::now());
        Ok(Resolution {
            records,
            from_cache: false,
        })
    }

    /// Resolves the IPv4 address users reach `name` at.
    pub async fn resolve_addr(&self, name: &str) -> Result<Option<std::net::Ipv4Addr>, DnsError> {
        Ok(self.resolve(name, RecordType::A).await?.first_addr())
    }

    /// Empties the cache (`ipconfig /flushdns`).
    pub fn flush(&self) {
        self.cache().flush();
    }

    /// When the cached answer for `name`/`rtype` expires, if cached with a limit.
    pub fn expires_at(&self, name: &str, rtype: RecordType) -> Option<Instant> {
        self.cache().expires_at(name, rtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(ip: &str, ttl_s: u32) -> DnsRecord {
        DnsRecord {
            name: "exch1.drlab.test".into(),
            rtype: RecordType::A,
            data: ip.into(),
            ttl_s,
        }
    }

    const N: &str = "exch1.drlab.test";

    #[test]
    fn honour_ttl_expires_at_the_smallest_ttl() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(CachePolicy::HonourTtl);
        c.store(
            N,
            RecordType::A,
            vec![a("10.0.0.1", 5), a("10.0.0.2", 3)],
            t0,
        );
        assert!(
            c.lookup(N, RecordType::A, t0 + Duration::from_millis(2999))
                .is_some()
        );
        assert!(
            c.lookup(N, RecordType::A, t0 + Duration::from_secs(3))
                .is_none()
        );
        // names are case-insensitive, types are not mixed
        assert!(c.lookup("EXCH1.drlab.test.", RecordType::A, t0).is_some());
        assert!(c.lookup(N, RecordType::MX, t0).is_none());
    }

    #[test]
    fn ttl_zero_is_never_served_from_cache() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(CachePolicy::HonourTtl);
        c.store(N, RecordType::A, vec![a("10.0.0.1", 0)], t0);
        assert!(c.lookup(N, RecordType::A, t0).is_none());
    }

    #[test]
    fn min_ttl_applies_the_floor_only_upwards() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(CachePolicy::MinTtl { floor_s: 30 });
        c.store(N, RecordType::A, vec![a("10.0.0.1", 2)], t0);
        assert!(
            c.lookup(N, RecordType::A, t0 + Duration::from_secs(29))
                .is_some()
        );
        assert!(
            c.lookup(N, RecordType::A, t0 + Duration::from_secs(30))
                .is_none()
        );
        c.store(N, RecordType::A, vec![a("10.0.0.1", 60)], t0);
        assert!(
            c.lookup(N, RecordType::A, t0 + Duration::from_secs(59))
                .is_some()
        );
    }

    #[test]
    fn never_expire_until_flushed() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(CachePolicy::NeverExpire);
        c.store(N, RecordType::A, vec![a("10.0.0.1", 1)], t0);
        assert!(
            c.lookup(N, RecordType::A, t0 + Duration::from_secs(86_400))
                .is_some()
        );
        assert_eq!(c.expires_at(N, RecordType::A), None);
        c.flush();
        assert!(c.is_empty());
        assert!(c.lookup(N, RecordType::A, t0).is_none());
    }

    #[test]
    fn empty_answers_are_not_cached_and_replace_nothing() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(CachePolicy::HonourTtl);
        c.store(N, RecordType::A, vec![], t0);
        assert!(c.is_empty());
        c.store(N, RecordType::A, vec![a("10.0.0.1", 10)], t0);
        c.store(N, RecordType::A, vec![], t0);
        assert_eq!(
            c.lookup(N, RecordType::A, t0).unwrap()[0].data.as_ref(),
            "10.0.0.1"
        );
    }

    #[test]
    fn a_new_answer_replaces_the_old_one() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(CachePolicy::HonourTtl);
        c.store(N, RecordType::A, vec![a("10.0.0.1", 10)], t0);
        c.store(
            N,
            RecordType::A,
            vec![a("10.0.0.2", 10)],
            t0 + Duration::from_secs(11),
        );
        assert_eq!(c.len(), 1);
        let hit = c
            .lookup(N, RecordType::A, t0 + Duration::from_secs(12))
            .unwrap();
        assert_eq!(hit[0].data.as_ref(), "10.0.0.2");
    }

    #[test]
    fn the_cache_is_bounded() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(CachePolicy::NeverExpire);
        for i in 0..CACHE_ENTRIES_MAX + 10 {
            c.store(
                &format!("h{i}.drlab.test"),
                RecordType::A,
                vec![a("10.0.0.1", 1)],
                t0,
            );
        }
        assert_eq!(c.len(), CACHE_ENTRIES_MAX);
        assert!(c.lookup("h0.drlab.test", RecordType::A, t0).is_none());
        assert!(
            c.lookup(
                &format!("h{}.drlab.test", CACHE_ENTRIES_MAX + 9),
                RecordType::A,
                t0
            )
            .is_some()
        );
    }

    #[test]
    fn first_address() {
        let r = Resolution {
            records: vec![
                DnsRecord {
                    rtype: RecordType::CNAME,
                    data: "x.drlab.test".into(),
                    ..a("", 1)
                },
                a("10.0.0.7", 1),
            ],
            from_cache: false,
        };
        assert_eq!(r.first_addr(), Some(std::net::Ipv4Addr::new(10, 0, 0, 7)));
    }
}
