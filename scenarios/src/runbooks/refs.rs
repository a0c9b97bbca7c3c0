//! Scenario references a runbook resolves: the DC a host talks to, a
//! host's address and stores, the servers and name of a DNS zone, the
//! Information Store service, the domain.
//!
//! A scenario that loads is valid, so every reference resolves: validation
//! refuses a scenario in which one of these look-ups would fail, and calls
//! the same functions to find out. Should one fail all the same, it returns
//! an [`OpError::NotFound`] naming the reference (`scenario reference: ...`)
//! and the step that needs it fails with that reason ([`resolved`]), rather
//! than going on with a default (a DC named "", an empty address, no DNS
//! servers, no stores) that would let the step pass having done nothing.

use std::net::Ipv4Addr;
use std::sync::Arc;

use drlab_drivers::types::StoreRef;
use drlab_drivers::{Backend, OpError};

use crate::context::{Ctx, StepFailed};
use crate::format::{HostDef, Role, Scenario, ZoneDef};
use crate::validate::{host, is_role};

/// The error of a reference that does not resolve.
pub fn unresolved(what: impl std::fmt::Display) -> OpError {
    OpError::not_found(format!("scenario reference: {what}"))
}

/// `r`, or a recorded step named `step` that failed with `r`'s error: for a
/// reference a step needs before it can be named (an address, a count).
pub async fn resolved<B: Backend, T>(
    cx: &Ctx<'_, B>,
    step: impl Into<Arc<str>>,
    r: Result<T, OpError>,
) -> Result<T, StepFailed> {
    match r {
        Ok(x) => Ok(x),
        Err(e) => cx.step(step, async { Err(e) }).await,
    }
}

/// The host named `name`.
pub fn host_def<'a>(s: &'a Scenario, name: &str) -> Result<&'a HostDef, OpError> {
    host(s, name).ok_or_else(|| unresolved(format!("host {name}")))
}

/// A host's scenario address.
pub fn ip_of(s: &Scenario, name: &str) -> Result<Ipv4Addr, OpError> {
    host_def(s, name).map(|h| h.ip)
}

/// The DC a runbook writes to for `name`: `over` (the runbook's `dc`), else
/// the host's own setting, else a controller on its site, else the
/// domain's first controller. It must have the domain-controller role.
pub fn dc_for(s: &Scenario, name: &str, over: Option<&str>) -> Result<String, OpError> {
    let chosen = match over {
        Some(dc) => Some(dc.to_string()),
        None => {
            let h = host_def(s, name)?;
            let dcs = s.domain.iter().flat_map(|d| d.controllers.iter());
            h.dc.clone()
                .or_else(|| {
                    dcs.clone()
                        .find(|c| host(s, c).is_some_and(|x| x.site == h.site))
                        .cloned()
                })
                .or_else(|| dcs.clone().next().cloned())
        }
    };
    match chosen {
        Some(dc) if is_role(s, &dc, Role::DomainController) => Ok(dc),
        Some(dc) => Err(unresolved(format!(
            "{dc}, the domain controller for {name}, is not a host with the domain-controller role"
        ))),
        None => Err(unresolved(format!(
            "a domain controller for {name} (the scenario has no [domain] controller)"
        ))),
    }
}

/// The stores of a host as the scenario lays them out; at least one.
pub fn stores_of(s: &Scenario, name: &str) -> Result<Vec<StoreRef>, OpError> {
    let h = host_def(s, name)?;
    let stores: Vec<StoreRef> = crate::exchange::groups_of(s, h)
        .iter()
        .flat_map(|g| {
            g.stores
                .iter()
                .map(move |st| StoreRef::new(g.name.as_str(), st.name.as_str()))
        })
        .collect();
    if stores.is_empty() {
        return Err(unresolved(format!("the stores of {name} (it has none)")));
    }
    Ok(stores)
}

/// The zone holding `name`, with at least one server.
pub fn zone<'a>(s: &'a Scenario, name: &str) -> Result<&'a ZoneDef, OpError> {
    match crate::dns::zone_of(s, name) {
        Some(z) if !z.servers.is_empty() => Ok(z),
        Some(z) => Err(unresolved(format!(
            "the DNS servers of zone {} (it lists none)",
            z.name
        ))),
        None => Err(unresolved(format!("a [[dns.zones]] entry holding {name}"))),
    }
}

/// The DNS servers of the zone holding `name`; at least one.
pub fn zone_servers(s: &Scenario, name: &str) -> Result<Vec<String>, OpError> {
    zone(s, name).map(|z| z.servers.clone())
}

/// The organisation's Information Store service (`[exchange] store_service`).
pub fn store_service(s: &Scenario) -> Result<&str, OpError> {
    s.exchange
        .as_ref()
        .map(|x| x.store_service.as_str())
        .ok_or_else(|| unresolved("the store service (the scenario has no [exchange])"))
}

/// The Active Directory domain's name.
pub fn domain_name(s: &Scenario) -> Result<&str, OpError> {
    s.domain
        .as_ref()
        .map(|d| d.name.as_str())
        .ok_or_else(|| unresolved("the domain (the scenario has no [domain])"))
}
