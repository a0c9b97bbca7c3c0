//! DNS in the lab: record changes as RFC 2136 dynamic updates to the named
//! server (signed with TSIG when the inventory names a key), direct queries
//! to a server, and resolution through each client population's own
//! resolver, whose cache follows the scenario's policy: propagation is
//! measured as users see it, not as the server answers.

use std::net::SocketAddr;

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{DnsRecord, RecordType};
use drlab_drivers::{Dns, OpError};

use super::LabBackend;
use crate::dns::client::{self, DnsLimits, Rfc2136Client};
use crate::dns::update::TsigKey;

/// Whose key signs an update: the runbook's (`tsig`), or the set-up's
/// (`admin_tsig`, falling back to `tsig`), which writes the scenario's
/// starting records even on a zone that refuses the runbook's updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Signer {
    Runbook,
    SetUp,
}

impl LabBackend {
    fn dns_server(&self, server: &str, signer: Signer) -> OpResult<(SocketAddr, Option<TsigKey>)> {
        let e = self.entry(server)?;
        let def = e.dns.as_ref().ok_or_else(|| {
            OpError::not_found(format!("DNS service on {server} in the inventory"))
        })?;
        let credential = match signer {
            Signer::SetUp => def.admin_tsig.as_ref().or(def.tsig.as_ref()),
            Signer::Runbook => def.tsig.as_ref(),
        };
        let key = match credential {
            None => None,
            Some(name) => {
                let secret = self.credential(name, &format!("the TSIG credential of {server}"))?;
                Some(TsigKey::parse_spec(&secret).map_err(OpError::from)?)
            }
        };
        Ok((SocketAddr::new(e.address, def.port), key))
    }

    pub(super) async fn updater(
        &self,
        server: &str,
        name: &str,
        signer: Signer,
    ) -> OpResult<Rfc2136Client> {
        let (addr, key) = self.dns_server(server, signer)?;
        let limits = DnsLimits::default();
        let zone = client::find_zone(addr, name, limits)
            .await
            .map_err(OpError::from)?;
        Ok(Rfc2136Client {
            server: addr,
            zone,
            key,
            limits,
        })
    }

    pub(super) fn resolver(&self, client: &str) -> OpResult<&crate::dns::resolver::Resolver> {
        self.resolvers
            .get(client)
            .ok_or_else(|| OpError::not_found(format!("client {client} in the scenario")))
    }
}

impl Dns for LabBackend {
    async fn add_record(&self, server: &str, record: &DnsRecord) -> OpResult<()> {
        self.call("add_record", self.commands().add_record(server, record))?
            .rest()
            .await
    }

    async fn delete_record(&self, server: &str, record: &DnsRecord) -> OpResult<()> {
        self.call(
            "delete_record",
            self.commands().delete_record(server, record),
        )?
        .rest()
        .await
    }

    async fn query_server(
        &self,
        server: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>> {
        let (addr, _) = self.dns_server(server, Signer::Runbook)?;
        let map = self.commands().addresses();
        client::query_records(addr, &map.name_to_lab(name), rtype, DnsLimits::default())
            .await
            .map(|rs| rs.iter().map(|r| map.record_to_scenario(r)).collect())
            .map_err(OpError::from)
    }

    async fn resolve(
        &self,
        client: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>> {
        let map = self.commands().addresses();
        self.resolver(client)?
            .resolve(&map.name_to_lab(name), rtype)
            .await
            .map(|r| {
                r.records
                    .iter()
                    .map(|r| map.record_to_scenario(r))
                    .collect()
            })
            .map_err(OpError::from)
    }

    async fn flush_cache(&self, client: &str) -> OpResult<()> {
        self.call("flush_cache", self.commands().flush_cache(client))?
            .rest()
            .await
    }
}
