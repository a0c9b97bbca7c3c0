//! Exchange-specific knowledge the runbooks need: a host's storage layout and
//! the failover utility's store pairing.

pub mod pairing;

use crate::format::{GroupDef, HostDef, Scenario};

/// The storage groups of an Exchange host: its own, else the organisation's.
pub fn groups_of<'a>(s: &'a Scenario, h: &'a HostDef) -> &'a [GroupDef] {
    h.exchange
        .as_ref()
        .and_then(|x| x.storage_groups.as_deref())
        .or_else(|| s.exchange.as_ref().map(|x| x.storage_groups.as_slice()))
        .unwrap_or(&[])
}
