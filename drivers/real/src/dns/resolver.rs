//! A client resolver with its own TTL cache, so that a drill measures DNS
//! propagation as users experience it: a changed record reaches a client
//! only when its cached answer expires (or is flushed, `ipconfig
//! /flushdns`), not when the server changes.
//!
//! The cache follows drlab's client cache rules and behaves exactly as the
//! simulator's (`sim/src/world/dns.rs`; the rules and the named client
//! profiles are `drlab_scenarios::dns`, this crate keeps its own copy of
//! the primitives since it depends on the interface only). The three plain
//! policies: an answer is kept for the smallest TTL of its records
//! (`honour-ttl`, RFC 1035 §3.2.1 / RFC 2181 §5.2 treat an RRset's TTLs as
//! one), for at least a floor (`min-ttl`, like resolvers that clamp short
//! TTLs), or until flushed (`never-expire`, a stale client); they cache no
//! empty answer, so a name that appears is seen on the next lookup.
//! [`CacheRules`] add what the profiles need: a fixed lifetime, a ceiling,
//! negative caching (fixed, or the authority SOA's RFC 2308 TTL capped) and
//! serve-expired (RFC 8767 as Unbound's `serve-expired` does it).
//!
//! The resolver reads tokio's clock (`tokio::time::Instant`), which is the
//! system's monotonic clock on the real path; under a runtime with a paused
//! clock (a turmoil simulation) its cache ages in simulated time, as its
//! queries' time limits do. It asks its server over a [`Net`]
//! ([`TokioNet`] unless built with [`Resolver::with_net`]).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use drlab_drivers::cache::{CacheRules, Negative, Positive};
use drlab_drivers::types::{DnsRecord, RecordType};

use super::DnsError;
use super::client::{DnsLimits, query_answer_via};
use super::message::normalise;
use crate::net::{Net, TokioNet};

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
    /// Any combination of the primitives (a client profile).
    Rules(CacheRules),
}

impl CachePolicy {
    /// The policy as primitives.
    pub fn rules(self) -> CacheRules {
        let plain = |positive| CacheRules {
            positive,
            max_ttl_s: None,
            negative: Negative::None,
            serve_expired: None,
        };
        match self {
            CachePolicy::HonourTtl => plain(Positive::HonourTtl),
            CachePolicy::MinTtl { floor_s } => plain(Positive::MinTtl(floor_s)),
            CachePolicy::NeverExpire => plain(Positive::NeverExpire),
            CachePolicy::Rules(r) => r,
        }
    }

    /// How long an answer whose smallest TTL is `ttl_s` stays cached
    /// (`None`: until flushed).
    pub fn lifetime(self, ttl_s: u32) -> Option<Duration> {
        self.rules()
            .positive_s(ttl_s)
            .map(|s| Duration::from_secs(u64::from(s)))
    }

    /// How long an empty answer stays cached, given the authority SOA's
    /// negative TTL (`None`: not cached).
    pub fn negative_lifetime(self, soa_negative_ttl_s: Option<u32>) -> Option<Duration> {
        self.rules()
            .negative_s(soa_negative_ttl_s)
            .map(|s| Duration::from_secs(u64::from(s)))
    }

    /// Whether an answer that expired `since` ago may still be served.
    pub fn serves_expired(self, since: Duration) -> bool {
        self.rules().may_serve_expired(since.as_secs_f64())
    }
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    rtype: RecordType,
    /// Empty: a cached negative answer.
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

    fn entry(&self, name: &str, rtype: RecordType) -> Option<&Entry> {
        let name = normalise(name);
        self.entries
            .iter()
            .find(|e| e.rtype == rtype && e.name == name)
    }

    /// A live cached answer for `name`/`rtype` at `now` (empty: a cached
    /// negative answer).
    pub fn lookup(&self, name: &str, rtype: RecordType, now: Instant) -> Option<&[DnsRecord]> {
        let e = self.entry(name, rtype)?;
        match e.expires_at {
            Some(t) if now >= t => None,
            _ => Some(&e.records),
        }
    }

    /// An expired non-empty answer the policy still serves at `now`
    /// (serve-expired), when there is no live one.
    pub fn lookup_expired(
        &self,
        name: &str,
        rtype: RecordType,
        now: Instant,
    ) -> Option<&[DnsRecord]> {
        let e = self.entry(name, rtype)?;
        match e.expires_at {
            Some(t) if now >= t && !e.records.is_empty() && self.policy.serves_expired(now - t) => {
                Some(&e.records)
            }
            _ => None,
        }
    }

    /// Caches a non-empty answer received at `now` (an empty one is not
    /// cached, and leaves any older entry alone).
    pub fn store(&mut self, name: &str, rtype: RecordType, records: Vec<DnsRecord>, now: Instant) {
        self.store_answer(name, rtype, records, None, now);
    }

    /// Caches the server's answer received at `now`: a non-empty one by the
    /// positive rules, an empty one by the negative rules and the authority
    /// SOA's negative TTL (when they cache none, any older entry is left alone).
    pub fn store_answer(
        &mut self,
        name: &str,
        rtype: RecordType,
        records: Vec<DnsRecord>,
        soa_negative_ttl_s: Option<u32>,
        now: Instant,
    ) {
        let lifetime = if records.is_empty() {
            match self.policy.negative_lifetime(soa_negative_ttl_s) {
                Some(d) => Some(d),
                None => return,
            }
        } else {
            let ttl = records.iter().map(|r| r.ttl_s).min().unwrap_or(0);
            self.policy.lifetime(ttl)
        };
        let name = normalise(name);
        let expires_at = lifetime.map(|d| now + d);
        self.entries
            .retain(|e| !(e.rtype == rtype && e.name == name));
        // drop what can no longer be served, then the oldest, to stay
        // within the bound
        let policy = self.policy;
        self.entries.retain(|e| match e.expires_at {
            None => true,
            Some(t) if t > now => true,
            Some(t) => !e.records.is_empty() && policy.serves_expired(now - t),
        });
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
        self.entry(name, rtype).and_then(|e| e.expires_at)
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

/// Now on tokio's clock, as the standard library's `Instant` the cache
/// keeps (the same instant on the real path; simulated time when the
/// runtime's clock is paused).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A client's resolver: its DNS server, its cache policy and its cache.
///
/// The cache sits behind a mutex that is never held across an `.await`,
/// so one resolver may be shared by concurrent probes and writes.
#[derive(Debug)]
pub struct Resolver<N: Net = TokioNet> {
    net: N,
    server: SocketAddr,
    limits: DnsLimits,
    cache: Arc<Mutex<TtlCache>>,
    /// Names whose expired answer is being refreshed behind the reply
    /// (serve-expired): one refresh each at a time, at most
    /// [`CACHE_ENTRIES_MAX`] as the cache itself.
    refreshing: Arc<Mutex<BTreeSet<(String, RecordType)>>>,
}

impl Resolver {
    /// A resolver asking `server`, caching by `policy`.
    pub fn new(server: SocketAddr, policy: CachePolicy, limits: DnsLimits) -> Resolver {
        Resolver::with_net(TokioNet, server, policy, limits)
    }
}

impl<N: Net> Resolver<N> {
    /// A resolver asking `server` over the transport `net`.
    pub fn with_net(
        net: N,
        server: SocketAddr,
        policy: CachePolicy,
        limits: DnsLimits,
    ) -> Resolver<N> {
        Resolver {
            net,
            server,
            limits,
            cache: Arc::new(Mutex::new(TtlCache::new(policy))),
            refreshing: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// The transport this resolver's queries use (the probes through it
    /// use it too).
    pub fn net(&self) -> &N {
        &self.net
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
    /// lives, else from the server (and caches its answer by the policy).
    /// With serve-expired, an expired answer is the answer at once, as
    /// Unbound's `serve-expired-client-timeout: 0` gives it, and the server
    /// is asked behind the reply (a task on the runtime); when the server
    /// cannot answer, the expired answer stays and is served again, as
    /// RFC 8767 intends.
    pub async fn resolve(&self, name: &str, rtype: RecordType) -> Result<Resolution, DnsError> {
        let stale = {
            let cache = self.cache();
            let now = now();
            if let Some(hit) = cache.lookup(name, rtype, now) {
                return Ok(Resolution {
                    records: hit.to_vec(),
                    from_cache: true,
                });
            }
            cache.lookup_expired(name, rtype, now).map(<[_]>::to_vec)
        };
        if let Some(records) = stale {
            if tokio::runtime::Handle::try_current().is_ok() {
                self.refresh_behind(name, rtype);
            } else if let Ok((fresh, soa)) =
                query_answer_via(&self.net, self.server, name, rtype, self.limits).await
            {
                // no runtime to refresh behind the reply: refresh first
                self.cache().store_answer(name, rtype, fresh, soa, now());
            }
            return Ok(Resolution {
                records,
                from_cache: true,
            });
        }
        let (records, soa_negative_ttl_s) =
            query_answer_via(&self.net, self.server, name, rtype, self.limits).await?;
        self.cache()
            .store_answer(name, rtype, records.clone(), soa_negative_ttl_s, now());
        Ok(Resolution {
            records,
            from_cache: false,
        })
    }

    /// Asks the server for `name`/`rtype` in a task of its own and caches
    /// the answer; an unanswered refresh leaves the expired answer. At most
    /// one refresh per name runs at a time.
    fn refresh_behind(&self, name: &str, rtype: RecordType) {
        let key = (normalise(name), rtype);
        {
            let mut busy = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
            if busy.len() >= CACHE_ENTRIES_MAX || !busy.insert(key.clone()) {
                return;
            }
        }
        let (net, server, limits) = (self.net.clone(), self.server, self.limits);
        let (cache, refreshing) = (self.cache.clone(), self.refreshing.clone());
        tokio::spawn(async move {
            if let Ok((records, soa_negative_ttl_s)) =
                query_answer_via(&net, server, &key.0, key.1, limits).await
            {
                cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .store_answer(&key.0, key.1, records, soa_negative_ttl_s, now());
            }
            refreshing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        });
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

    /// The profiles' rules as `drlab_scenarios::dns::PROFILES` has them
    /// (this crate cannot depend on that table; the lab drill maps it).
    fn rules(
        positive: Positive,
        max_ttl_s: Option<u32>,
        negative: Negative,
        serve_expired: Option<Option<u32>>,
    ) -> CachePolicy {
        CachePolicy::Rules(CacheRules {
            positive,
            max_ttl_s,
            negative,
            serve_expired,
        })
    }

    fn windows() -> CachePolicy {
        rules(
            Positive::HonourTtl,
            Some(86_400),
            Negative::ZoneTtlCapped(900),
            None,
        )
    }

    fn secs(t0: Instant, s: f64) -> Instant {
        t0 + Duration::from_secs_f64(s)
    }

    #[test]
    fn windows_keeps_a_300_s_answer_300_s_and_a_negative_one_900_s() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(windows());
        c.store_answer(N, RecordType::A, vec![a("10.0.0.1", 300)], Some(3600), t0);
        assert!(c.lookup(N, RecordType::A, secs(t0, 299.9)).is_some());
        assert!(c.lookup(N, RecordType::A, secs(t0, 300.0)).is_none());
        // A week's TTL is held a day (MaxCacheTtl).
        c.store_answer(N, RecordType::A, vec![a("10.0.0.1", 604_800)], None, t0);
        assert_eq!(
            c.expires_at(N, RecordType::A),
            Some(t0 + Duration::from_secs(86_400))
        );
        // NXDOMAIN with an SOA of negative TTL 3600: cached 900 s, empty.
        let gone = "gone.drlab.test";
        c.store_answer(gone, RecordType::A, vec![], Some(3600), t0);
        assert_eq!(
            c.lookup(gone, RecordType::A, secs(t0, 899.9)),
            Some(&[][..])
        );
        assert!(c.lookup(gone, RecordType::A, secs(t0, 900.0)).is_none());
        // A short SOA negative TTL is honoured; no SOA, nothing cached.
        c.store_answer(gone, RecordType::A, vec![], Some(60), t0);
        assert!(c.lookup(gone, RecordType::A, secs(t0, 60.0)).is_none());
        c.flush();
        c.store_answer(gone, RecordType::A, vec![], None, t0);
        assert!(c.is_empty());
    }

    #[test]
    fn java_keeps_answers_30_s_whatever_the_ttl_and_failures_10_s() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(rules(Positive::Fixed(30), None, Negative::Fixed(10), None));
        c.store_answer(N, RecordType::A, vec![a("10.0.0.1", 300)], None, t0);
        assert!(c.lookup(N, RecordType::A, secs(t0, 29.9)).is_some());
        assert!(c.lookup(N, RecordType::A, secs(t0, 30.0)).is_none());
        let gone = "gone.drlab.test";
        c.store_answer(gone, RecordType::A, vec![], None, t0);
        assert!(c.lookup(gone, RecordType::A, secs(t0, 9.9)).is_some());
        assert!(c.lookup(gone, RecordType::A, secs(t0, 10.0)).is_none());
    }

    #[test]
    fn chrome_holds_answers_60_s_at_least_and_no_failures() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(rules(Positive::MinTtl(60), None, Negative::None, None));
        c.store_answer(N, RecordType::A, vec![a("10.0.0.1", 5)], None, t0);
        assert!(c.lookup(N, RecordType::A, secs(t0, 59.9)).is_some());
        assert!(c.lookup(N, RecordType::A, secs(t0, 60.0)).is_none());
        c.store_answer("gone.drlab.test", RecordType::A, vec![], Some(3600), t0);
        assert!(c.lookup("gone.drlab.test", RecordType::A, t0).is_none());
    }

    #[test]
    fn bind_caps_at_a_week_and_negative_answers_at_3_h() {
        let t0 = Instant::now();
        let p = rules(
            Positive::HonourTtl,
            Some(604_800),
            Negative::ZoneTtlCapped(10_800),
            None,
        );
        assert_eq!(p.lifetime(2_000_000), Some(Duration::from_secs(604_800)));
        assert_eq!(
            p.negative_lifetime(Some(86_400)),
            Some(Duration::from_secs(10_800))
        );
        assert_eq!(
            p.negative_lifetime(Some(3600)),
            Some(Duration::from_secs(3600))
        );
        let mut c = TtlCache::new(p);
        c.store_answer(N, RecordType::A, vec![a("10.0.0.1", 300)], None, t0);
        assert!(c.lookup(N, RecordType::A, secs(t0, 300.0)).is_none());
        assert!(
            c.lookup_expired(N, RecordType::A, secs(t0, 300.0))
                .is_none()
        );
    }

    #[test]
    fn serve_expired_keeps_an_expired_answer_servable_within_its_limit() {
        let t0 = Instant::now();
        let unlimited = rules(
            Positive::HonourTtl,
            Some(86_400),
            Negative::None,
            Some(None),
        );
        let mut c = TtlCache::new(unlimited);
        c.store_answer(N, RecordType::A, vec![a("10.0.0.1", 300)], None, t0);
        let later = secs(t0, 1e6);
        assert!(c.lookup(N, RecordType::A, later).is_none());
        assert!(c.lookup_expired(N, RecordType::A, later).is_some());
        // Storing another name later does not evict it.
        c.store_answer(
            "other.drlab.test",
            RecordType::A,
            vec![a("10.0.0.2", 1)],
            None,
            later,
        );
        assert!(c.lookup_expired(N, RecordType::A, later).is_some());
        // With serve-expired-ttl 3600, an hour after expiry it is gone.
        let limited = rules(Positive::HonourTtl, None, Negative::None, Some(Some(3600)));
        let mut c = TtlCache::new(limited);
        c.store_answer(N, RecordType::A, vec![a("10.0.0.1", 300)], None, t0);
        assert!(
            c.lookup_expired(N, RecordType::A, secs(t0, 3900.0))
                .is_some()
        );
        assert!(
            c.lookup_expired(N, RecordType::A, secs(t0, 3900.5))
                .is_none()
        );
    }

    /// The resolver's fallback: a server that does not answer leaves the
    /// expired answer served (serve-expired) and is an error otherwise.
    /// The "server" is a bound UDP socket on loopback that never replies.
    #[tokio::test(flavor = "current_thread")]
    async fn an_unanswered_refresh_serves_the_expired_answer() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let limits = DnsLimits {
            udp_timeout_ms: 50,
            udp_attempts: 1,
            ..DnsLimits::default()
        };
        let stale = Resolver::new(
            addr,
            rules(Positive::HonourTtl, None, Negative::None, Some(None)),
            limits,
        );
        stale
            .cache()
            .store(N, RecordType::A, vec![a("10.0.0.1", 0)], Instant::now());
        let r = stale.resolve(N, RecordType::A).await.unwrap();
        assert!(r.from_cache);
        assert_eq!(r.first_addr(), Some(std::net::Ipv4Addr::new(10, 0, 0, 1)));
        let strict = Resolver::new(addr, windows(), limits);
        strict
            .cache()
            .store(N, RecordType::A, vec![a("10.0.0.1", 0)], Instant::now());
        assert!(strict.resolve(N, RecordType::A).await.is_err());
        drop(silent);
    }

    /// Serve-expired answers at once and refreshes behind the reply, as the
    /// simulator does: with a server that would keep the client waiting a
    /// minute, the expired answer still comes back (the bound of 10 s is
    /// liveness, not a timing), and again on the next lookup while the
    /// refresh is still out.
    #[tokio::test(flavor = "current_thread")]
    async fn an_expired_answer_does_not_wait_for_its_refresh() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let limits = DnsLimits {
            udp_timeout_ms: 60_000,
            udp_attempts: 1,
            ..DnsLimits::default()
        };
        let r = Resolver::new(
            silent.local_addr().unwrap(),
            rules(Positive::HonourTtl, None, Negative::None, Some(None)),
            limits,
        );
        r.cache()
            .store(N, RecordType::A, vec![a("10.0.0.1", 0)], Instant::now());
        for _ in 0..2 {
            let got = tokio::time::timeout(Duration::from_secs(10), r.resolve(N, RecordType::A))
                .await
                .expect("the expired answer without waiting for the server")
                .unwrap();
            assert!(got.from_cache);
            assert_eq!(got.first_addr(), Some(std::net::Ipv4Addr::new(10, 0, 0, 1)));
        }
        assert_eq!(
            r.refreshing.lock().unwrap().len(),
            1,
            "one refresh per name"
        );
        drop(silent);
    }
}
