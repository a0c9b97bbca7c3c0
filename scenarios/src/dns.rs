//! Which zone holds a name, and which records a DNS server starts with.

use drlab_drivers::types::{DnsRecord, RecordType};

use crate::format::{RecordDef, Scenario, ZoneDef};

/// The most specific zone containing `name` (case-insensitive).
pub fn zone_of<'a>(s: &'a Scenario, name: &str) -> Option<&'a ZoneDef> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    s.dns
        .zones
        .iter()
        .filter(|z| {
            let z = z.name.trim_end_matches('.').to_ascii_lowercase();
            name == z || name.ends_with(&format!(".{z}"))
        })
        .max_by_key(|z| z.name.len())
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
