//! How a client population's resolver caches answers: the primitives
//! every client profile and resolver policy of a scenario is made of
//! (`drlab_scenarios::dns` names them and holds the profiles' table), the
//! same rules in both backends — the simulator's resolver caches and the
//! lab's client resolver (`drlab_real::dns::resolver`) apply these.

/// How long a client population's resolver keeps a non-empty answer whose
/// smallest TTL is the record's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Positive {
    /// For the TTL.
    HonourTtl,
    /// For max(TTL, this floor).
    MinTtl(u32),
    /// For this long, whatever the TTL (Java's `InetAddress` cache).
    Fixed(u32),
    /// Until flushed.
    NeverExpire,
}

/// How long it keeps an empty answer (NXDOMAIN or no data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Negative {
    /// Not at all: the next lookup asks again.
    None,
    /// For this long, whatever the zone says (Java).
    Fixed(u32),
    /// For the zone's negative TTL (RFC 2308 §5: the zone SOA's), at most this long (Windows `MaxNegativeCacheTtl`,
    /// BIND `max-ncache-ttl`, Unbound `cache-max-negative-ttl`).
    ZoneTtlCapped(u32),
}

/// A client resolver's cache rules: the primitives every profile and the
/// plain `resolver` policies are made of, the same in both backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheRules {
    /// Non-empty answers.
    pub positive: Positive,
    /// A ceiling on a non-empty answer's lifetime (Windows `MaxCacheTtl`,
    /// BIND `max-cache-ttl`, Unbound `cache-max-ttl`); none for `never-expire`.
    pub max_ttl_s: Option<u32>,
    /// Empty answers.
    pub negative: Negative,
    /// RFC 8767 serve-stale as Unbound's `serve-expired: yes` with
    /// `serve-expired-client-timeout: 0` does it: an expired answer is
    /// answered at once while the cache refreshes it from the server, and
    /// is kept while the server cannot be reached. `Some(limit)`: how long
    /// after expiry (`serve-expired-ttl`; `None` inside: no limit, its
    /// default 0).
    pub serve_expired: Option<Option<u32>>,
}

impl CacheRules {
    /// Seconds a non-empty answer whose smallest TTL is `ttl_s` lives
    /// (`None`: until flushed).
    pub fn positive_s(&self, ttl_s: u32) -> Option<u32> {
        let base = match self.positive {
            Positive::HonourTtl => ttl_s,
            Positive::MinTtl(floor) => ttl_s.max(floor),
            Positive::Fixed(s) => s,
            Positive::NeverExpire => return None,
        };
        Some(self.max_ttl_s.map_or(base, |cap| base.min(cap)))
    }

    /// Seconds an empty answer lives, given the zone's negative TTL (`None`
    /// when the server is not authoritative for the name and gave none).
    pub fn negative_s(&self, zone_negative_ttl_s: Option<u32>) -> Option<u32> {
        match self.negative {
            Negative::None => None,
            Negative::Fixed(s) => Some(s),
            Negative::ZoneTtlCapped(cap) => zone_negative_ttl_s.map(|t| t.min(cap)),
        }
        .filter(|s| *s > 0)
    }

    /// Whether an answer that expired `since_expiry_s` ago may still be served.
    pub fn may_serve_expired(&self, since_expiry_s: f64) -> bool {
        match self.serve_expired {
            None => false,
            Some(None) => true,
            Some(Some(limit)) => since_expiry_s <= f64::from(limit),
        }
    }
}
