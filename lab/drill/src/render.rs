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
use crate::recorded::{fault_of, host_and, parse_fault, parse_mirror, parse_rtype, parse_startup};

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

/// The operations of `a` by `c`: the builder of the backend method that
/// [`crate::recorded::perform`] calls for `a`, with the same arguments.
pub fn ops_of(c: &Commands<'_>, a: &Action) -> OpResult<Vec<LabOp>> {
    use Action as A;
    let store = |g: &str, s: &str| StoreRef::new(g, s);
    let record = |name: &str, rtype: &str, data: &str, ttl_s: u32| -> OpResult<DnsRecord> {
        Ok(DnsRecord {
            name: name.into(),
            rtype: parse_rtype(rtype)?,
            data: data.into(),
            ttl_s,
        })
    };
    let items = |ip: bool, name: bool| IdentityItems {
        ip_addresses: ip,
        server_name: name,
    };
    match a {
        A::StartService { host, service } => c.start_service(host, service),
        A::StopService { host, service } => c.stop_service(host, service),
        A::MountStore {
            host,
            group,
            store: s,
        } => c.mount_store(host, &store(group, s)),
        A::DismountStore {
            host,
            group,
            store: s,
        } => c.dismount_store(host, &store(group, s)),
        A::SetOverwrite {
            host,
            group,
            store: s,
            on,
        } => c.set_overwrite_on_restore(host, &store(group, s), *on),
        A::TakeOverIdentity { from, to, ip, name } => {
            c.take_over_identity(from, to, items(*ip, *name))
        }
        A::ReleaseIdentity { from, to, ip, name } => {
            c.release_identity(from, to, items(*ip, *name))
        }
        A::Rename { host, name, .. } => c.rename(host, name),
        A::JoinDomain { host, domain } => c.join_domain(host, domain),
        A::LeaveDomain { host, .. } => c.leave_domain(host),
        A::Reboot { host } => c.reboot(host),
        A::CreateComputer { dc, name } => c.create_computer(dc, name),
        A::RemoveComputer { dc, name } => c.remove_computer(dc, name),
        A::RenameComputer { dc, old, new } => c.rename_computer(dc, old, new),
        A::SetMailboxHome {
            dc,
            mailbox,
            server,
            group,
            store: s,
            ..
        } => c.set_mailbox_home(dc, mailbox, server, &store(group, s)),
        A::DnsAdd {
            server,
            name,
            rtype,
            data,
            ttl_s,
        } => c.add_record(server, &record(name, rtype, data, *ttl_s)?),
        A::DnsDelete {
            server,
            name,
            rtype,
            data,
            ttl_s,
        } => c.delete_record(server, &record(name, rtype, data, *ttl_s)?),
        A::PauseReplication { source, target } => c.pause(source, target),
        A::ResumeReplication { source, target } => c.resume(source, target),
        A::ConnectReplication {
            source,
            target,
            mirror,
        } => c.connect(source, target, parse_mirror(mirror)?),
        A::DisconnectReplication { source, target } => c.disconnect(source, target),
        A::Restore {
            from,
            to,
            only_if_newer,
        } => c.restore(
            from,
            to,
            RestoreOptions {
                only_if_backup_newer: *only_if_newer,
            },
        ),
        A::Fault {
            fault,
            target,
            link,
        } => c.inject(&fault_of(fault, target, link.as_ref())?),
        A::Repair { fault, target } => match fault.as_str() {
            // the undo of a killed service (`Action::inverse`)
            "start-service" => {
                let (h, s) = host_and(target)?;
                c.start_service(h, s)
            }
            _ => c.inject(&parse_fault(fault, target)?),
        },
        A::SetStartup {
            host,
            service,
            startup,
            ..
        } => c.set_startup_type(host, service, parse_startup(startup)?),
        A::BootOn { host, server } => c.boot_on(host, server),
        A::Recovery {
            host,
            group,
            store: s,
            hard,
        } => c.recovery(host, &store(group, s), *hard),
        A::ForceReplication { from, to } => c.force_replication(from, to),
        A::Grant { volume, initiator } => c.grant(volume, initiator),
        A::Revoke { volume, initiator } => c.revoke(volume, initiator),
        A::Attach { host, volume } => c.attach(host, volume),
        A::Detach { host, volume } => c.detach(host, volume),
        A::Snapshot { volume, name } => c.snapshot(volume, name),
        A::SetPortVlans { server, vlans, .. } => c.set_port_vlans(server, vlans),
        A::TakeArchive { host, level_h } => c.take_archive(host, *level_h),
        A::RestoreArchive { id, host } => c.restore_archive(id, host),
        A::FlushCache { client } => c.flush_cache(client),
    }
}
