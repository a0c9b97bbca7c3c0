//! What the lab backend knows of the estate a drill runs on: the names it
//! must find in the inventory, where mailboxes and stores live, which hosts
//! start in standby, which clients resolve through which DNS server, and
//! the SAN volumes with the initiator names that may log in to them.
//!
//! The backend takes this description, not a scenario: the layer above
//! (`drlab-drill`) builds it from one, so this crate needs nothing but the
//! interface. Every field is plain data in the interface's types.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use drlab_drivers::types::{DnsRecord, StoreInfo, StoreRef};

use crate::dns::resolver::CachePolicy;

/// The estate as the lab backend sees it at the start of a drill.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Estate {
    /// The Active Directory domain (mail addresses, FQDNs, the directory).
    pub domain: String,
    /// Every host a drill may address; each must be in the inventory.
    pub hosts: Vec<String>,
    /// The Exchange services; on a Linux lab each needs an inventory
    /// `[services]` mapping.
    pub exchange_services: Vec<String>,
    /// The service that hosts the stores.
    pub store_service: String,
    /// The client populations, each with its own resolver.
    pub clients: Vec<Client>,
    /// The mailboxes, where they start.
    pub mailboxes: Vec<Mailbox>,
    /// The stores of each Exchange host (every Exchange host has an entry),
    /// as `StoreInfo` without state.
    pub stores: BTreeMap<String, Vec<StoreInfo>>,
    /// Hosts whose stores arrive by replication (mounting needs the
    /// overwrite flag).
    pub replica_targets: BTreeSet<String>,
    /// Hosts whose Exchange starts in standby.
    pub standby: BTreeSet<String>,
    /// Each replication connection `(source, target)` and whether it is
    /// connected and mirrored at the start (`mirrored_at_start`): set-up
    /// starts it with a difference mirror, or stops it.
    pub replication: Vec<(String, String, bool)>,
    /// The iSCSI initiator name of each host that has its own (its
    /// persona's); any other host logs in as
    /// [`crate::san::default_initiator`] (see [`Estate::initiator`]).
    pub initiators: BTreeMap<String, String>,
    /// The SAN volumes, in the scenario's order (which numbers their
    /// targets on the SAN), each with the initiators allowed at the start.
    pub volumes: Vec<Volume>,
    /// Each host's address in the scenario (`[[hosts]] ip`): DNS records
    /// and answers speak these, and the backend maps them to and from the
    /// inventory's addresses ([`crate::lab::addresses`]).
    pub addresses: BTreeMap<String, Ipv4Addr>,
    /// The DNS records each DNS server starts with (`[[dns.records]]` on
    /// the servers of their zone), in the scenario's addresses: set-up
    /// makes each server hold exactly these for their names and types.
    pub dns_records: BTreeMap<String, Vec<DnsRecord>>,
    /// Each DNS server's zones (`[[dns.zones]]`), each with whether it
    /// takes the runbook's dynamic updates: set-up checks that the server
    /// holds each zone with that policy, so that a drill never runs on a
    /// zone that behaves otherwise than the scenario says.
    pub dns_zones: BTreeMap<String, Vec<ZonePolicy>>,
}

/// The zone of `zones` that holds `name`, as a server answers for it
/// ([`drlab_drivers::types::deepest_zone`]).
pub fn deepest_zone<'a>(zones: &'a [ZonePolicy], name: &str) -> Option<&'a ZonePolicy> {
    drlab_drivers::types::deepest_zone(zones, name, |z| &z.name)
}

/// A zone of a DNS server as the scenario declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZonePolicy {
    /// The zone's name.
    pub name: String,
    /// Whether it takes dynamic updates (`dynamic_updates`).
    pub dynamic_updates: bool,
}

/// A SAN volume as the estate starts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// The volume's name.
    pub name: String,
    /// The initiator names allowed to log in at the start (its ACL).
    pub initiators: Vec<String>,
}

/// A client population: users behind one resolver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// Its name (the workload and probes name it).
    pub name: String,
    /// The host whose DNS service it asks; must be in the inventory.
    pub dns_server: String,
    /// How long it keeps answers.
    pub cache: CachePolicy,
}

/// A mailbox as the estate places it at the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    /// The mailbox (and its directory user).
    pub name: String,
    /// The Exchange server holding it.
    pub server: String,
    /// The store holding it.
    pub store: StoreRef,
}

impl Estate {
    /// The mailboxes (users) that live in `store` (by the estate's layout;
    /// a failover pairs stores of the same group and name).
    pub fn users_of(&self, store: &StoreRef) -> Vec<&str> {
        self.mailboxes
            .iter()
            .filter(|m| m.store == *store)
            .map(|m| m.name.as_str())
            .collect()
    }

    /// The initiator name `host` logs in to the SAN with: its own, else
    /// the default (the simulator's rule, [`crate::san::initiator_of`]).
    pub fn initiator(&self, host: &str) -> String {
        crate::san::initiator_of(&self.initiators, host)
    }
}
