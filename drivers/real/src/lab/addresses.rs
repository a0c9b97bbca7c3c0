//! The scenario's address plan on the lab's addresses.
//!
//! A scenario gives every host an address (`[[hosts]] ip`), and its DNS
//! records and runbooks speak those addresses: the WAN failover deletes
//! `exch1 A 10.0.0.11` and adds `exch1 A 10.1.0.12`, then waits until
//! users resolve the name to `10.1.0.12` (guide appendix A). The lab's
//! containers have the addresses their Docker networks gave them, which a
//! scenario cannot know in advance (the kit picks a free subnet per lab).
//! So, as with names, the scenario's addresses are *names* of inventory
//! hosts: this map turns the address of scenario host H into H's inventory
//! address on the way out (the data of an A record, the owner name of a
//! PTR record, `d.c.b.a.in-addr.arpa`) and back on the way in (what a
//! server or a client's resolver answers), so the drill and its report
//! speak the scenario's plan while every command, plan line and journal
//! entry carries the address that is really sent.
//!
//! An address that belongs to no scenario host passes unchanged both ways;
//! so does every other record type and every name that is not a reverse
//! name (RFC 1035 §3.5: `IN-ADDR.ARPA` names are the four octets in
//! reverse order under `in-addr.arpa`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use drlab_drivers::types::{DnsRecord, RecordType};

use crate::dns::message::reverse_name;

/// The two directions between the scenario's addresses and the lab's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressMap {
    to_lab: BTreeMap<Ipv4Addr, Ipv4Addr>,
    to_scenario: BTreeMap<Ipv4Addr, Ipv4Addr>,
}

impl AddressMap {
    /// The map of `pairs` (scenario address, lab address), one per host.
    /// Both are IPv4: the scenario format's addresses are, and
    /// `LabBackend::with_limits` refuses an inventory that gives a scenario
    /// host an IPv6 address.
    pub fn new(pairs: impl IntoIterator<Item = (Ipv4Addr, Ipv4Addr)>) -> AddressMap {
        let mut m = AddressMap::default();
        for (scenario, lab) in pairs {
            m.to_lab.insert(scenario, lab);
            m.to_scenario.insert(lab, scenario);
        }
        m
    }

    /// `record` as the lab's servers must hold it.
    pub fn record_to_lab(&self, record: &DnsRecord) -> DnsRecord {
        map_record(record, &self.to_lab)
    }

    /// `record` as a lab server or resolver answered it, in the scenario's
    /// addresses.
    pub fn record_to_scenario(&self, record: &DnsRecord) -> DnsRecord {
        map_record(record, &self.to_scenario)
    }

    /// A name to ask the lab's servers about: a reverse name of a scenario
    /// address becomes the reverse name of the lab's.
    pub fn name_to_lab(&self, name: &str) -> String {
        map_name(name, &self.to_lab).unwrap_or_else(|| name.to_string())
    }
}

fn map_record(r: &DnsRecord, m: &BTreeMap<Ipv4Addr, Ipv4Addr>) -> DnsRecord {
    let mut out = r.clone();
    if r.rtype == RecordType::A
        && let Some(a) = r.data.parse::<Ipv4Addr>().ok().and_then(|a| m.get(&a))
    {
        out.data = Arc::from(a.to_string());
    }
    if let Some(n) = map_name(&r.name, m) {
        out.name = Arc::from(n);
    }
    out
}

/// The reverse name of the mapped address, when `name` is the reverse
/// name of an address `m` maps.
fn map_name(name: &str, m: &BTreeMap<Ipv4Addr, Ipv4Addr>) -> Option<String> {
    let a = reverse_address(name)?;
    m.get(&a).map(|b| reverse_name(*b))
}

/// The address whose reverse name `name` is (RFC 1035 §3.5).
fn reverse_address(name: &str) -> Option<Ipv4Addr> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let octets = name.strip_suffix(".in-addr.arpa")?;
    let v: Vec<u8> = octets
        .split('.')
        .map(|o| o.parse::<u8>().ok())
        .collect::<Option<_>>()?;
    let [d, c, b, a] = v[..] else { return None };
    Some(Ipv4Addr::new(a, b, c, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, rtype: RecordType, data: &str) -> DnsRecord {
        DnsRecord {
            name: Arc::from(name),
            rtype,
            data: Arc::from(data),
            ttl_s: 300,
        }
    }

    fn map() -> AddressMap {
        AddressMap::new([
            (Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(10, 212, 17, 3)),
            (Ipv4Addr::new(10, 1, 0, 12), Ipv4Addr::new(10, 212, 24, 4)),
        ])
    }

    #[test]
    fn a_records_and_reverse_names_follow_the_host() {
        let m = map();
        let a = m.record_to_lab(&rec("exch1.corp.example.com", RecordType::A, "10.1.0.12"));
        assert_eq!(&*a.data, "10.212.24.4");
        assert_eq!(&*a.name, "exch1.corp.example.com");
        let ptr = m.record_to_lab(&rec(
            "11.0.0.10.in-addr.arpa",
            RecordType::PTR,
            "exch1.corp.example.com",
        ));
        assert_eq!(&*ptr.name, "3.17.212.10.in-addr.arpa");
        assert_eq!(&*ptr.data, "exch1.corp.example.com");
        assert_eq!(
            m.record_to_scenario(&a),
            rec("exch1.corp.example.com", RecordType::A, "10.1.0.12")
        );
        assert_eq!(
            m.name_to_lab("12.0.1.10.IN-ADDR.ARPA."),
            "4.24.212.10.in-addr.arpa"
        );
    }

    #[test]
    fn what_belongs_to_no_host_passes_unchanged() {
        let m = map();
        for r in [
            rec("www.corp.example.com", RecordType::A, "192.0.2.1"),
            rec(
                "corp.example.com",
                RecordType::MX,
                "10 exch1.corp.example.com",
            ),
            rec("1.2.3.in-addr.arpa", RecordType::PTR, "x.corp.example.com"),
            rec(
                "99.0.0.10.in-addr.arpa",
                RecordType::PTR,
                "x.corp.example.com",
            ),
        ] {
            assert_eq!(m.record_to_lab(&r), r);
            assert_eq!(m.record_to_scenario(&r), r);
        }
        assert_eq!(
            m.name_to_lab("exch1.corp.example.com"),
            "exch1.corp.example.com"
        );
    }
}
