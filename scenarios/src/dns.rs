//! Which zone holds a name, which records a DNS server starts with, and
//! how client resolvers cache: the cache rules both backends apply
//! ([`CacheRules`]) and the named client profiles ([`PROFILES`]), one table.

pub use drlab_drivers::cache::{CacheRules, Negative, Positive};
use drlab_drivers::types::{DnsRecord, RecordType};

use crate::format::{ClientDef, ClientProfile, RecordDef, ResolverPolicy, Scenario, ZoneDef};

/// The most specific zone containing `name` (case-insensitive).
pub fn zone_of<'a>(s: &'a Scenario, name: &str) -> Option<&'a ZoneDef> {
    drlab_drivers::types::deepest_zone(&s.dns.zones, name, |z| &z.name)
}

/// The record type named `t` (case-insensitive).
pub fn parse_type(t: &str) -> Option<RecordType> {
    match t.to_ascii_uppercase().as_str() {
        "A" => Some(RecordType::A),
        "PTR" => Some(RecordType::PTR),
        "MX" => Some(RecordType::MX),
        "CNAME" => Some(RecordType::CNAME),
        _ => None,
    }
}

/// The records served by `server` at the start.
pub fn records_on<'a>(
    s: &'a Scenario,
    server: &'a str,
) -> impl Iterator<Item = &'a RecordDef> + 'a {
    s.dns
        .records
        .iter()
        .filter(move |r| zone_of(s, &r.name).is_some_and(|z| z.servers.iter().any(|x| x == server)))
}

/// A record definition as an interface record (names normalised).
pub fn to_record(r: &RecordDef) -> Option<DnsRecord> {
    Some(DnsRecord {
        name: normalise(&r.name).into(),
        rtype: parse_type(&r.rtype)?,
        data: normalise(&r.data).into(),
        ttl_s: r.ttl_s,
    })
}

/// Lower case, no trailing dot.
pub fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The rules of a plain `resolver` policy (no profile): nothing negative
/// is cached and nothing stale is served.
pub fn rules_of_policy(policy: ResolverPolicy, min_ttl_s: u32) -> CacheRules {
    CacheRules {
        positive: match policy {
            ResolverPolicy::HonourTtl => Positive::HonourTtl,
            ResolverPolicy::MinTtl => Positive::MinTtl(min_ttl_s),
            ResolverPolicy::NeverExpire => Positive::NeverExpire,
        },
        max_ttl_s: None,
        negative: Negative::None,
        serve_expired: None,
    }
}

/// One named client profile: a product's resolver at its documented defaults.
#[derive(Clone, Copy, Debug)]
pub struct ProfileDef {
    /// The profile.
    pub profile: ClientProfile,
    /// Its cache rules.
    pub rules: CacheRules,
    /// Where the numbers come from (the product's setting names).
    pub source: &'static str,
}

/// The profiles, one row each (docs/scenario-format.md shows them with
/// their sources; a test keeps every `ClientProfile` in it).
pub const PROFILES: &[ProfileDef] = &[
    ProfileDef {
        profile: ClientProfile::Java,
        rules: CacheRules {
            positive: Positive::Fixed(30),
            max_ttl_s: None,
            negative: Negative::Fixed(10),
            serve_expired: None,
        },
        source: "JDK `java.security`: `networkaddress.cache.ttl` 30 s when no security \
                 manager is set, whatever the record's TTL; `networkaddress.cache.negative.ttl` 10 s",
    },
    ProfileDef {
        profile: ClientProfile::Chrome,
        rules: CacheRules {
            positive: Positive::MinTtl(60),
            max_ttl_s: None,
            negative: Negative::None,
            serve_expired: None,
        },
        source: "Chromium `net/dns` host resolver: `kMinimumTTLSeconds` 60 for its built-in \
                 (DnsTask) resolver; negative answers not cached (`kNegativeCacheEntryTTLSeconds` 0, \
                 its system-resolver path)",
    },
    ProfileDef {
        profile: ClientProfile::Windows,
        rules: CacheRules {
            positive: Positive::HonourTtl,
            max_ttl_s: Some(86_400),
            negative: Negative::ZoneTtlCapped(900),
            serve_expired: None,
        },
        source: "Windows DNS Client service (`Dnscache\\Parameters`): `MaxCacheTtl` 86,400 s, \
                 `MaxNegativeCacheTtl` 900 s",
    },
    ProfileDef {
        profile: ClientProfile::Bind,
        rules: CacheRules {
            positive: Positive::HonourTtl,
            max_ttl_s: Some(604_800),
            negative: Negative::ZoneTtlCapped(10_800),
            serve_expired: None,
        },
        source: "BIND 9 `named.conf` options: `max-cache-ttl` 604,800 s (1 week), \
                 `max-ncache-ttl` 10,800 s (3 h)",
    },
    ProfileDef {
        profile: ClientProfile::UnboundServeExpired,
        rules: CacheRules {
            positive: Positive::HonourTtl,
            max_ttl_s: Some(86_400),
            negative: Negative::ZoneTtlCapped(3_600),
            serve_expired: Some(None),
        },
        source: "unbound.conf(5): `serve-expired: yes` with its defaults \
                 `serve-expired-ttl: 0` (no limit) and `serve-expired-client-timeout: 0` \
                 (answer stale at once, refresh behind); `cache-max-ttl` 86,400 s, \
                 `cache-min-ttl` 0, `cache-max-negative-ttl` 3,600 s",
    },
];

/// A profile's row.
pub fn profile(p: ClientProfile) -> &'static ProfileDef {
    PROFILES
        .iter()
        .find(|d| d.profile == p)
        .expect("every profile has a row (tested)")
}

/// The cache rules of a `[[clients]]` entry: its profile's, or its
/// `resolver` policy's (load refuses a profile beside `resolver` or
/// `min_ttl_s`).
pub fn rules_of(c: &ClientDef) -> CacheRules {
    match c.profile {
        Some(p) => profile(p).rules,
        None => rules_of_policy(c.resolver, c.min_ttl_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_has_one_row() {
        for p in ClientProfile::ALL {
            assert_eq!(
                PROFILES.iter().filter(|d| d.profile == p).count(),
                1,
                "{p:?}"
            );
        }
        assert_eq!(PROFILES.len(), ClientProfile::ALL.len());
    }

    #[test]
    fn lifetimes_follow_the_profiles() {
        let w = profile(ClientProfile::Windows).rules;
        assert_eq!(w.positive_s(300), Some(300));
        assert_eq!(w.positive_s(604_800), Some(86_400));
        assert_eq!(w.negative_s(Some(3600)), Some(900));
        assert_eq!(w.negative_s(Some(60)), Some(60));
        assert_eq!(w.negative_s(None), None);
        let j = profile(ClientProfile::Java).rules;
        assert_eq!(j.positive_s(300), Some(30));
        assert_eq!(j.positive_s(5), Some(30));
        assert_eq!(j.negative_s(None), Some(10));
        let c = profile(ClientProfile::Chrome).rules;
        assert_eq!(c.positive_s(5), Some(60));
        assert_eq!(c.positive_s(300), Some(300));
        assert_eq!(c.negative_s(Some(3600)), None);
        let b = profile(ClientProfile::Bind).rules;
        assert_eq!(b.positive_s(2_000_000), Some(604_800));
        assert_eq!(b.negative_s(Some(86_400)), Some(10_800));
        let u = profile(ClientProfile::UnboundServeExpired).rules;
        assert!(u.may_serve_expired(1e7));
        assert!(!w.may_serve_expired(0.0));
        // The plain policies: what the backends did before profiles.
        let n = rules_of_policy(ResolverPolicy::NeverExpire, 0);
        assert_eq!(n.positive_s(1), None);
        assert_eq!(n.negative_s(Some(3600)), None);
        let m = rules_of_policy(ResolverPolicy::MinTtl, 120);
        assert_eq!(m.positive_s(30), Some(120));
    }
}
