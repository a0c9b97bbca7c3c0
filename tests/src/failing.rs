//! A backend that delegates every capability call to another one and fails
//! the calls a test chooses: `Failing::new(&sim).fail("read_back", "EXCH2",
//! error)` makes the first `read_back("EXCH2")` return `error` and lets
//! every other call through. Tests use it to put an operating error where a
//! runbook once took a default, and check that the drill does not pass.
//!
//! Include it with `#[path = "src/failing.rs"] mod failing;`.

#![allow(dead_code)]

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{
    ArchiveInfo, DnsRecord, Fault, IdentityItems, MailboxInfo, MirrorMode, QueueStatus, RecordType,
    RestoreOptions, ServiceState, StartupType, StoreInfo, StoreRef,
};
use drlab_drivers::{
    Archives, Backend, Clock, Directory, Dns, Faults, Hosts, MailStores, OpError, Replication, San,
    SeqSet, Services, Switches, Timestamp, Workload,
};

/// Which calls fail, and how.
#[derive(Clone, Debug)]
struct Rule {
    /// The capability method, e.g. `read_back`.
    method: &'static str,
    /// Its first name argument (a host, a DC, a server, a client...).
    target: String,
    /// Matching calls let through before the failures start.
    skip: u32,
    /// Matching calls that fail after those.
    times: u32,
    /// Matching calls seen so far.
    seen: u32,
    /// The error they fail with.
    error: OpError,
}

/// `inner`, with chosen calls failing.
pub struct Failing<'a, B> {
    inner: &'a B,
    rules: RefCell<Vec<Rule>>,
    failed: RefCell<Vec<String>>,
}

impl<'a, B: Backend> Failing<'a, B> {
    /// `inner` with no call failing yet.
    pub fn new(inner: &'a B) -> Failing<'a, B> {
        Failing {
            inner,
            rules: RefCell::new(Vec::new()),
            failed: RefCell::new(Vec::new()),
        }
    }

    /// The first call of `method` on `target` fails with `error`.
    pub fn fail(self, method: &'static str, target: &str, error: OpError) -> Self {
        self.fail_calls(method, target, 0, 1, error)
    }

    /// Calls of `method` on `target` fail with `error`: `times` of them,
    /// after `skip` have gone through.
    pub fn fail_calls(
        self,
        method: &'static str,
        target: &str,
        skip: u32,
        times: u32,
        error: OpError,
    ) -> Self {
        self.rules.borrow_mut().push(Rule {
            method,
            target: target.to_string(),
            skip,
            times,
            seen: 0,
            error,
        });
        self
    }

    /// The calls failed so far, as `method(target)`.
    pub fn failed(&self) -> Vec<String> {
        self.failed.borrow().clone()
    }

    /// `Err` when this call is one to fail.
    fn check(&self, method: &'static str, target: &str) -> OpResult<()> {
        let mut rules = self.rules.borrow_mut();
        for r in rules
            .iter_mut()
            .filter(|r| r.method == method && r.target == target)
        {
            r.seen += 1;
            if r.seen > r.skip && r.seen <= r.skip + r.times {
                self.failed.borrow_mut().push(format!("{method}({target})"));
                return Err(r.error.clone());
            }
        }
        Ok(())
    }
}

/// `check`, then the inner backend's call.
macro_rules! through {
    ($self:ident, $method:ident, $target:expr, ($($arg:expr),*)) => {{
        $self.check(stringify!($method), $target)?;
        $self.inner.$method($($arg),*).await
    }};
}

impl<B: Backend> Clock for Failing<'_, B> {
    fn now(&self) -> Timestamp {
        self.inner.now()
    }
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        self.inner.sleep(d)
    }
}

impl<B: Backend> Hosts for Failing<'_, B> {
    async fn ping(&self, from: &str, to: &str, limit: Duration) -> OpResult<Duration> {
        through!(self, ping, from, (from, to, limit))
    }
    async fn reboot(&self, host: &str) -> OpResult<()> {
        through!(self, reboot, host, (host))
    }
    async fn rename(&self, host: &str, new_name: &str) -> OpResult<()> {
        through!(self, rename, host, (host, new_name))
    }
    async fn join_domain(&self, host: &str, domain: &str) -> OpResult<()> {
        through!(self, join_domain, host, (host, domain))
    }
    async fn leave_domain(&self, host: &str) -> OpResult<()> {
        through!(self, leave_domain, host, (host))
    }
    async fn take_over_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        through!(self, take_over_identity, from, (from, to, items))
    }
    async fn release_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        through!(self, release_identity, from, (from, to, items))
    }
    async fn boot_on(&self, host: &str, server: &str) -> OpResult<()> {
        through!(self, boot_on, host, (host, server))
    }
}

impl<B: Backend> Services for Failing<'_, B> {
    async fn start_service(&self, host: &str, service: &str) -> OpResult<()> {
        through!(self, start_service, host, (host, service))
    }
    async fn stop_service(&self, host: &str, service: &str) -> OpResult<()> {
        through!(self, stop_service, host, (host, service))
    }
    async fn service_status(&self, host: &str, service: &str) -> OpResult<ServiceState> {
        through!(self, service_status, host, (host, service))
    }
    async fn set_startup_type(
        &self,
        host: &str,
        service: &str,
        startup: StartupType,
    ) -> OpResult<()> {
        through!(self, set_startup_type, host, (host, service, startup))
    }
}

impl<B: Backend> MailStores for Failing<'_, B> {
    async fn list_stores(&self, host: &str) -> OpResult<Vec<StoreInfo>> {
        through!(self, list_stores, host, (host))
    }
    async fn mount_store(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        through!(self, mount_store, host, (host, store))
    }
    async fn dismount_store(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        through!(self, dismount_store, host, (host, store))
    }
    async fn store_mounted(&self, host: &str, store: &StoreRef) -> OpResult<bool> {
        through!(self, store_mounted, host, (host, store))
    }
    async fn set_overwrite_on_restore(
        &self,
        host: &str,
        store: &StoreRef,
        on: bool,
    ) -> OpResult<()> {
        through!(self, set_overwrite_on_restore, host, (host, store, on))
    }
    async fn soft_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        through!(self, soft_recovery, host, (host, store))
    }
    async fn hard_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        through!(self, hard_recovery, host, (host, store))
    }
}

impl<B: Backend> Directory for Failing<'_, B> {
    async fn computer_exists(&self, dc: &str, name: &str) -> OpResult<bool> {
        through!(self, computer_exists, dc, (dc, name))
    }
    async fn create_computer(&self, dc: &str, name: &str) -> OpResult<()> {
        through!(self, create_computer, dc, (dc, name))
    }
    async fn rename_computer(&self, dc: &str, old: &str, new: &str) -> OpResult<()> {
        through!(self, rename_computer, dc, (dc, old, new))
    }
    async fn remove_computer(&self, dc: &str, name: &str) -> OpResult<()> {
        through!(self, remove_computer, dc, (dc, name))
    }
    async fn list_mailboxes(&self, dc: &str, server: &str) -> OpResult<Vec<MailboxInfo>> {
        through!(self, list_mailboxes, dc, (dc, server))
    }
    async fn set_mailbox_home(
        &self,
        dc: &str,
        mailbox: &str,
        server: &str,
        store: &StoreRef,
    ) -> OpResult<()> {
        through!(self, set_mailbox_home, dc, (dc, mailbox, server, store))
    }
    async fn force_replication(&self, from: &str, to: &str) -> OpResult<()> {
        through!(self, force_replication, from, (from, to))
    }
}

impl<B: Backend> Dns for Failing<'_, B> {
    async fn add_record(&self, server: &str, record: &DnsRecord) -> OpResult<()> {
        through!(self, add_record, server, (server, record))
    }
    async fn delete_record(&self, server: &str, record: &DnsRecord) -> OpResult<()> {
        through!(self, delete_record, server, (server, record))
    }
    async fn query_server(
        &self,
        server: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>> {
        through!(self, query_server, server, (server, name, rtype))
    }
    async fn resolve(
        &self,
        client: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>> {
        through!(self, resolve, client, (client, name, rtype))
    }
    async fn flush_cache(&self, client: &str) -> OpResult<()> {
        through!(self, flush_cache, client, (client))
    }
}

impl<B: Backend> Replication for Failing<'_, B> {
    async fn connect(&self, source: &str, target: &str, mirror: MirrorMode) -> OpResult<()> {
        through!(self, connect, source, (source, target, mirror))
    }
    async fn pause(&self, source: &str, target: &str) -> OpResult<()> {
        through!(self, pause, source, (source, target))
    }
    async fn resume(&self, source: &str, target: &str) -> OpResult<()> {
        through!(self, resume, source, (source, target))
    }
    async fn wait_drained(
        &self,
        source: &str,
        target: &str,
        idle: Duration,
        limit: Duration,
    ) -> OpResult<QueueStatus> {
        through!(self, wait_drained, source, (source, target, idle, limit))
    }
    async fn disconnect(&self, source: &str, target: &str) -> OpResult<()> {
        through!(self, disconnect, source, (source, target))
    }
    async fn queue_status(&self, source: &str, target: &str) -> OpResult<QueueStatus> {
        through!(self, queue_status, source, (source, target))
    }
    async fn restore(&self, from: &str, to: &str, options: RestoreOptions) -> OpResult<()> {
        through!(self, restore, from, (from, to, options))
    }
}

impl<B: Backend> San for Failing<'_, B> {
    async fn grant(&self, volume: &str, initiator: &str) -> OpResult<()> {
        through!(self, grant, volume, (volume, initiator))
    }
    async fn revoke(&self, volume: &str, initiator: &str) -> OpResult<()> {
        through!(self, revoke, volume, (volume, initiator))
    }
    async fn attach(&self, host: &str, volume: &str) -> OpResult<()> {
        through!(self, attach, host, (host, volume))
    }
    async fn detach(&self, host: &str, volume: &str) -> OpResult<()> {
        through!(self, detach, host, (host, volume))
    }
    async fn snapshot(&self, volume: &str, name: &str) -> OpResult<()> {
        through!(self, snapshot, volume, (volume, name))
    }
}

impl<B: Backend> Switches for Failing<'_, B> {
    async fn set_port_vlans(&self, server: &str, vlans: &[u16]) -> OpResult<()> {
        through!(self, set_port_vlans, server, (server, vlans))
    }
}

impl<B: Backend> Archives for Failing<'_, B> {
    async fn take_archive(&self, host: &str, level_h: u32) -> OpResult<ArchiveInfo> {
        through!(self, take_archive, host, (host, level_h))
    }
    async fn list_archives(&self, host: &str) -> OpResult<Vec<ArchiveInfo>> {
        through!(self, list_archives, host, (host))
    }
    async fn restore_archive(&self, id: &str, host: &str) -> OpResult<()> {
        through!(self, restore_archive, host, (id, host))
    }
}

impl<B: Backend> Faults for Failing<'_, B> {
    /// Faults are the scenario's own: never failed (target "").
    async fn inject(&self, fault: &Fault) -> OpResult<()> {
        through!(self, inject, "", (fault))
    }
}

impl<B: Backend> Workload for Failing<'_, B> {
    async fn write_served(
        &self,
        client: &str,
        service_name: &str,
        mailbox: &str,
        seq: u64,
        bytes: u32,
    ) -> OpResult<Option<std::sync::Arc<str>>> {
        // failing "write" fails this, the one method a write goes through
        self.check("write", client)?;
        self.inner
            .write_served(client, service_name, mailbox, seq, bytes)
            .await
    }
    async fn read_back(&self, host: &str) -> OpResult<SeqSet> {
        through!(self, read_back, host, (host))
    }
    async fn replicas_held(&self) -> OpResult<Vec<drlab_drivers::types::ReplicaHeld>> {
        through!(self, replicas_held, "", ())
    }
    async fn probe(&self, client: &str, service_name: &str, mailbox: &str) -> OpResult<()> {
        through!(self, probe, client, (client, service_name, mailbox))
    }
}

impl<B: Backend> Backend for Failing<'_, B> {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}
