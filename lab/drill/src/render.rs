//! Journal actions as the lab operations they stand for: for each action,
//! the lab backend's own pure builders ([`drlab_real::lab::Commands`])
//! called with the action's arguments — the very functions the backend's
//! state-changing methods call before sending exactly what they return.
//! So the dry-run plan and the journal show what the backend sends, line
//! for line ([`drlab_real::lab::commands::lines`]). Built from the
//! inventory and the scenario's estate only: no connection, no credential,
//! and no secret in any line (passwords travel on standard input).

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{DnsRecord, IdentityItems, RestoreOptions, StoreRef};
use drlab_real::inventory::Inventory;
use drlab_real::lab::commands::lines;
use drlab_real::lab::{Commands, Estate, LabLimits, LabOp};
use drlab_scenarios::Scenario;

use crate::journal::Action;
use crate::recorded::{fault_of, host_and, parse_fault};

/// Renders actions as the lab's operations.
#[derive(Debug, Clone)]
pub struct Renderer {
    inv: Inventory,
    estate: Estate,
}

/// A renderer for `scenario` on the lab of `inv`.
pub fn render(inv: &Inventory, scenario: &Scenario) -> Renderer {
    Renderer::new(inv.clone(), crate::estate::of(scenario))
}

impl Renderer {
    /// A renderer for `estate` on the lab of `inv` (what
    /// [`drlab_real::lab::LabBackend::connect`] takes).
    pub fn new(inv: Inventory, estate: Estate) -> Renderer {
        Renderer { inv, estate }
    }

    /// The lab backend's builders for this lab and estate, with the
    /// backend's default limits.
    pub fn commands(&self) -> Commands<'_> {
        Commands::new(&self.inv, &self.estate, LabLimits::default())
    }

    /// The operations the lab backend performs for `a`, or why it refuses
    /// the call before sending anything.
    pub fn ops(&self, a: &Action) -> OpResult<Vec<LabOp>> {
        ops_of(&self.commands(), a)
    }

    /// The lines of [`Renderer::ops`], as a plan and a journal show them.
    pub fn render(&self, a: &Action) -> Vec<String> {
        lines(&self.ops(a))
    }
}

// `ops_of`: the simple actions call the builder of their row; these are the others.
crate::capabilities::capabilities! { @ops c, a;
    Action::Rename { host, name, .. } => c.rename(host, name),
    Action::LeaveDomain { host, .. } => c.leave_domain(host),
    Action::SetMailboxHome {
        dc,
        mailbox,
        server,
        group,
        store,
        ..
    } => c.set_mailbox_home(dc, mailbox, server, &StoreRef::new(group.as_str(), store.as_str())),
    Action::Fault {
        fault,
        target,
        link,
    } => c.inject(&fault_of(fault, target, link.as_ref())?),
    Action::Repair { fault, target } => match fault.as_str() {
        // the undo of a killed service in journals written before
        // `restart-service` (now `Action::inverse`'s undo of a kill)
        "start-service" => {
            let (h, s) = host_and(target)?;
            c.start_service(h, s)
        }
        _ => c.inject(&parse_fault(fault, target)?),
    },
    Action::SetStartup {
        host,
        service,
        startup,
        ..
    } => c.set_startup_type(host, service, *startup),
    Action::Recovery {
        host,
        group,
        store,
        hard,
    } => c.recovery(host, &StoreRef::new(group.as_str(), store.as_str()), *hard),
    Action::SetPortVlans { server, vlans, .. } => c.set_port_vlans(server, vlans),
}
