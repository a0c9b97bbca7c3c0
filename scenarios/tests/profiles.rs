//! `[[clients]] profile`: a named resolver replaces the cache fields, an
//! explicit `resolver` or `min_ttl_s` beside it is refused at the client,
//! and an unknown name lists the known ones.

use std::path::Path;

use drlab_scenarios::dns::{CacheRules, Negative, Positive, rules_of};
use drlab_scenarios::format::{ClientProfile, ResolverPolicy};

const LAN: &str = include_str!("../library/lan-failover.toml");

/// The LAN failover with its users' `resolver = "honour-ttl"` line replaced.
fn with_client(lines: &str) -> Result<drlab_scenarios::Scenario, String> {
    let text = LAN.replacen("resolver = \"honour-ttl\"", lines, 1);
    drlab_scenarios::parse(Path::new("s.toml"), &text).map_err(|e| e.to_string())
}

#[test]
fn a_profile_sets_the_cache_rules() {
    let s = with_client("profile = \"windows\"").unwrap();
    let c = &s.clients[0];
    assert_eq!(c.profile, Some(ClientProfile::Windows));
    assert_eq!(
        rules_of(c),
        CacheRules {
            positive: Positive::HonourTtl,
            max_ttl_s: Some(86_400),
            negative: Negative::ZoneTtlCapped(900),
            serve_expired: None,
        }
    );
    // Without a profile, the policy's rules, as before profiles.
    let s = with_client("resolver = \"min-ttl\"\nmin_ttl_s = 900").unwrap();
    assert_eq!(s.clients[0].resolver, ResolverPolicy::MinTtl);
    assert_eq!(rules_of(&s.clients[0]).positive, Positive::MinTtl(900));
    assert_eq!(rules_of(&s.clients[0]).negative, Negative::None);
}

#[test]
fn a_profile_beside_explicit_cache_fields_is_refused_at_the_client() {
    for (lines, named) in [
        (
            "profile = \"java\"\nresolver = \"honour-ttl\"",
            "`resolver`",
        ),
        ("profile = \"java\"\nmin_ttl_s = 60", "`min_ttl_s`"),
        (
            "profile = \"bind\"\nresolver = \"min-ttl\"\nmin_ttl_s = 60",
            "`resolver` and `min_ttl_s`",
        ),
    ] {
        let e = with_client(lines).unwrap_err();
        assert!(e.contains("clients[0]"), "{e}");
        assert!(
            e.contains(&format!(
                "sets the whole cache policy; remove {named} or the profile"
            )),
            "{e}"
        );
    }
}

#[test]
fn an_unknown_profile_lists_the_known_ones() {
    let e = with_client("profile = \"netscape\"").unwrap_err();
    for p in ClientProfile::ALL {
        assert!(e.contains(&format!("`{}`", p.name())), "{e}");
    }
}

#[test]
fn an_unknown_client_field_is_still_refused() {
    let e = with_client("resolvr = \"honour-ttl\"").unwrap_err();
    assert!(e.contains("unknown field `resolvr`"), "{e}");
}

#[test]
fn a_profile_in_a_scenario_with_a_lab_arm_loads() {
    let lab = include_str!("../library/lan-failover-lab.toml");
    assert!(lab.contains("resolver = \"honour-ttl\""));
    let text = lab.replacen("resolver = \"honour-ttl\"", "profile = \"windows\"", 1);
    let s = drlab_scenarios::parse(Path::new("s.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rules_of(&s.clients[0]),
        drlab_scenarios::dns::profile(ClientProfile::Windows).rules
    );
}

#[test]
fn a_lab_scenario_keeps_the_negative_ttl_the_labs_zones_answer_with() {
    let lab = include_str!("../library/wan-failover-lab.toml");
    let text = lab.replacen(
        "name = \"corp.example.com\"\nservers = [\"DC1\", \"DC2\"]",
        "name = \"corp.example.com\"\nservers = [\"DC1\", \"DC2\"]\nnegative_ttl_s = 60",
        1,
    );
    assert_ne!(text, lab);
    let e = drlab_scenarios::parse(Path::new("s.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dns.zones[0].negative_ttl_s"), "{e}");
    assert!(e.contains("3600 s"), "{e}");
    let sim_only = text.replace("[lab]\nshape = \"wan\"\n", "");
    drlab_scenarios::parse(Path::new("s.toml"), &sim_only).unwrap_or_else(|e| panic!("{e}"));
}
