//! The capability traits: everything the runbooks of the source documents
//! need from an estate. Names are the scenario's names; each backend maps
//! them to its world (simulated hosts, or inventory endpoints).
//!
//! Every method is `async` and returns an [`OpError`] for operating failures.
//! No method may panic on a legal input, and no backend leaves one out: a
//! backend that cannot do something returns [`OpError::Unsupported`].

use std::future::Future;
use std::time::Duration;

use crate::error::OpError;
use crate::seqset::SeqSet;
use crate::time::Timestamp;
use crate::types::{
    ArchiveInfo, DnsRecord, Fault, IdentityItems, MailboxInfo, MirrorMode, QueueStatus, RecordType,
    ReplicaHeld, RestoreOptions, ServiceState, StartupType, StoreInfo, StoreRef,
};

/// Result of a capability call.
pub type OpResult<T> = Result<T, OpError>;

/// The drill clock. Simulated backends jump to the next event; real ones wait.
pub trait Clock {
    /// Time since the drill started.
    fn now(&self) -> Timestamp;
    /// Completes after `d` of drill time.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

/// Hosts: reachability, power, identity and domain membership.
pub trait Hosts {
    /// One heartbeat from `from` to `to`; returns the round-trip time.
    /// Fails with [`OpError::Unreachable`] or [`OpError::Timeout`] (after
    /// `limit`); `Unreachable` naming `from` itself means the monitoring
    /// host is down, so no heartbeat was sent at all.
    async fn ping(&self, from: &str, to: &str, limit: Duration) -> OpResult<Duration>;
    /// Restarts the host and waits until it is back (pending renames apply).
    async fn reboot(&self, host: &str) -> OpResult<()>;
    /// Sets the computer name; it takes effect at the next reboot.
    async fn rename(&self, host: &str, new_name: &str) -> OpResult<()>;
    /// Joins the host (under its current name) to `domain`.
    async fn join_domain(&self, host: &str, domain: &str) -> OpResult<()>;
    /// Removes the host from its domain.
    async fn leave_domain(&self, host: &str) -> OpResult<()>;
    /// Brings `from`'s identity items up on `to` (Double-Take failover items).
    async fn take_over_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()>;
    /// Gives identity items taken over from `from` back (failback).
    async fn release_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()>;
    /// Boots `host` on the physical server `server` and waits until it
    /// answers: an AIM persona (its OS image on a SAN volume, booted with the
    /// persona's iSCSI initiator name) retargeted to a standby server of its
    /// pool, or a host rebuilt there by hand. Booting `host` on another
    /// server while a boot is pending abandons the pending one (a retarget).
    /// Fails when the server has failed or runs another host.
    async fn boot_on(&self, host: &str, server: &str) -> OpResult<()>;
}

/// Service control (Windows SCM or a Linux service manager).
pub trait Services {
    /// Starts a service and waits until the service manager says running.
    async fn start_service(&self, host: &str, service: &str) -> OpResult<()>;
    /// Stops a service and waits until stopped.
    async fn stop_service(&self, host: &str, service: &str) -> OpResult<()>;
    /// The service's state.
    async fn service_status(&self, host: &str, service: &str) -> OpResult<ServiceState>;
    /// Sets the startup type.
    async fn set_startup_type(
        &self,
        host: &str,
        service: &str,
        startup: StartupType,
    ) -> OpResult<()>;
}

/// Mail stores (Exchange databases, or the lab's mail spool).
pub trait MailStores {
    /// The stores configured on a host.
    async fn list_stores(&self, host: &str) -> OpResult<Vec<StoreInfo>>;
    /// Mounts a store.
    async fn mount_store(&self, host: &str, store: &StoreRef) -> OpResult<()>;
    /// Dismounts a store.
    async fn dismount_store(&self, host: &str, store: &StoreRef) -> OpResult<()>;
    /// Whether a store is mounted.
    async fn store_mounted(&self, host: &str, store: &StoreRef) -> OpResult<bool>;
    /// Sets the "database can be overwritten by a restore" flag.
    async fn set_overwrite_on_restore(
        &self,
        host: &str,
        store: &StoreRef,
        on: bool,
    ) -> OpResult<()>;
    /// Soft recovery: replay logs into the database (eseutil /r).
    async fn soft_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()>;
    /// Hard recovery: repair the database, discarding what cannot be replayed (eseutil /p).
    async fn hard_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()>;
}

/// The directory (Active Directory on a domain controller `dc`).
pub trait Directory {
    /// Whether a computer account exists.
    async fn computer_exists(&self, dc: &str, name: &str) -> OpResult<bool>;
    /// Creates a computer account.
    async fn create_computer(&self, dc: &str, name: &str) -> OpResult<()>;
    /// Renames a computer account (DN, sAMAccountName, dNSHostName, SPNs).
    async fn rename_computer(&self, dc: &str, old: &str, new: &str) -> OpResult<()>;
    /// Removes a computer account.
    async fn remove_computer(&self, dc: &str, name: &str) -> OpResult<()>;
    /// Mailboxes homed on `server` as `dc` sees them.
    async fn list_mailboxes(&self, dc: &str, server: &str) -> OpResult<Vec<MailboxInfo>>;
    /// Moves a mailbox's home server and store attributes.
    async fn set_mailbox_home(
        &self,
        dc: &str,
        mailbox: &str,
        server: &str,
        store: &StoreRef,
    ) -> OpResult<()>;
    /// Forces replication of all changes from `from` to `to` now.
    async fn force_replication(&self, from: &str, to: &str) -> OpResult<()>;
}

/// DNS: server-side records and client-side resolution.
pub trait Dns {
    /// Adds a record on a server (dynamic update, or the server's own tool).
    /// Fails with [`OpError::Refused`] when the zone refuses updates.
    async fn add_record(&self, server: &str, record: &DnsRecord) -> OpResult<()>;
    /// Deletes the record matching name, type and data.
    async fn delete_record(&self, server: &str, record: &DnsRecord) -> OpResult<()>;
    /// Asks a server directly (no cache).
    async fn query_server(
        &self,
        server: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>>;
    /// Resolves through a client's resolver and its cache, as users do.
    async fn resolve(
        &self,
        client: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>>;
    /// Flushes a client's resolver cache (`ipconfig /flushdns`).
    async fn flush_cache(&self, client: &str) -> OpResult<()>;
}

/// Replication of a host's stores to a partner (Double-Take connection).
pub trait Replication {
    /// Connects `source` → `target` and mirrors as asked; returns when the mirror is done.
    async fn connect(&self, source: &str, target: &str, mirror: MirrorMode) -> OpResult<()>;
    /// Pauses transmission; changes queue on the source.
    async fn pause(&self, source: &str, target: &str) -> OpResult<()>;
    /// Resumes transmission.
    async fn resume(&self, source: &str, target: &str) -> OpResult<()>;
    /// Waits until the target has applied everything and then stayed idle for
    /// `idle` (`dtcl waitontarget`), or fails after `limit`.
    async fn wait_drained(
        &self,
        source: &str,
        target: &str,
        idle: Duration,
        limit: Duration,
    ) -> OpResult<QueueStatus>;
    /// Ends the connection; queued changes are discarded.
    async fn disconnect(&self, source: &str, target: &str) -> OpResult<()>;
    /// Queue status of the connection.
    async fn queue_status(&self, source: &str, target: &str) -> OpResult<QueueStatus>;
    /// Copies the replica on `from` back over `to` (Restoration Manager).
    async fn restore(&self, from: &str, to: &str, options: RestoreOptions) -> OpResult<()>;
}

/// iSCSI SAN volumes with initiator-name access control.
pub trait San {
    /// Allows `initiator` to log in to `volume`.
    async fn grant(&self, volume: &str, initiator: &str) -> OpResult<()>;
    /// Revokes `initiator`'s access to `volume`.
    async fn revoke(&self, volume: &str, initiator: &str) -> OpResult<()>;
    /// Logs `host` (with its initiator name) in to `volume`.
    async fn attach(&self, host: &str, volume: &str) -> OpResult<()>;
    /// Logs `host` out of `volume`.
    async fn detach(&self, host: &str, volume: &str) -> OpResult<()>;
    /// Takes a snapshot of `volume` named `name`.
    async fn snapshot(&self, volume: &str, name: &str) -> OpResult<()>;
}

/// Managed LAN switches: which VLANs a physical server's switch port
/// carries (AIM networks over trunk-mode ports: "cable once and reconfigure
/// repeatedly").
pub trait Switches {
    /// Sets the VLANs tagged on `server`'s switch port, replacing the old set.
    async fn set_port_vlans(&self, server: &str, vlans: &[u16]) -> OpResult<()>;
}

/// Point-in-time archives of a host's stores.
pub trait Archives {
    /// Takes an archive of `host`'s stores at `level_h` hours.
    async fn take_archive(&self, host: &str, level_h: u32) -> OpResult<ArchiveInfo>;
    /// Archives kept for `host`, oldest first.
    async fn list_archives(&self, host: &str) -> OpResult<Vec<ArchiveInfo>>;
    /// Copies (and uncompresses) archive `id` over `host`'s stores.
    async fn restore_archive(&self, id: &str, host: &str) -> OpResult<()>;
}

/// Fault injection.
pub trait Faults {
    /// Makes the fault take effect now.
    async fn inject(&self, fault: &Fault) -> OpResult<()>;
}

/// The user workload and end-user probes, always through a service *name*
/// resolved by a client's resolver.
pub trait Workload {
    /// Submits record `seq` (`bytes` long) for `mailbox` through `service_name`
    /// as seen from `client`. `Ok` means acknowledged by the serving store,
    /// with the host whose store acknowledged it when the backend can tell
    /// (the simulator and the lab can); the drill records it
    /// (`write-served`) for the split-brain invariant. Required of every
    /// backend and wrapper, so none can drop the host by omission.
    async fn write_served(
        &self,
        client: &str,
        service_name: &str,
        mailbox: &str,
        seq: u64,
        bytes: u32,
    ) -> OpResult<Option<std::sync::Arc<str>>>;
    /// [`Workload::write_served`] without the host.
    async fn write(
        &self,
        client: &str,
        service_name: &str,
        mailbox: &str,
        seq: u64,
        bytes: u32,
    ) -> OpResult<()> {
        self.write_served(client, service_name, mailbox, seq, bytes)
            .await
            .map(|_| ())
    }
    /// The workload records a host's stores hold now.
    async fn read_back(&self, host: &str) -> OpResult<SeqSet>;
    /// What each replication target's store held at each takeover so far
    /// (the moment it was mounted while a replication target), in the
    /// order of those moments; the drill records them (`replica-held`)
    /// when its workload has stopped. A backend that cannot tell
    /// truthfully returns [`OpError::Unsupported`] (the default), and the
    /// drill records none; wrappers forward it.
    async fn replicas_held(&self) -> OpResult<Vec<ReplicaHeld>> {
        Err(OpError::Unsupported {
            what: "what a replica held when it took over".into(),
        })
    }
    /// One end-user operation (submit and log in) for `mailbox` through
    /// `service_name` as seen from `client`.
    async fn probe(&self, client: &str, service_name: &str, mailbox: &str) -> OpResult<()>;
}

/// Everything a runbook may use. Implemented by the simulator and the lab.
pub trait Backend:
    Clock
    + Hosts
    + Services
    + MailStores
    + Directory
    + Dns
    + Replication
    + San
    + Switches
    + Archives
    + Faults
    + Workload
{
    /// `sim` or `lab`, as reports name the backend.
    fn backend_name(&self) -> &'static str;
}
