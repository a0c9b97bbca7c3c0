//! The lab backend: the one interface implemented against real
//! infrastructure listed in an inventory. Hosts and services over SSH,
//! Active Directory over LDAP, DNS with RFC 2136 and a client resolver with
//! its own cache, replication through lsyncd/rsync, faults through the
//! container engine, and the workload and probes as SMTP and IMAP through
//! the service name, as users reach it.
//!
//! Only hosts of the inventory are ever contacted; a scenario name missing
//! from it is an error, never a guess. Secrets come from the inventory's
//! credential sources and never appear in commands, errors or output.
//!
//! What the Linux lab cannot do (rename a container, boot a persona on a
//! server pool, a managed switch, a SAN when the inventory lists none)
//! returns [`OpError::Unsupported`] with the reason: nothing is faked.

mod directory;
mod dns;
pub mod estate;
mod hosts;
pub mod scripts;
mod stores;
mod workload;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{
    ArchiveInfo, Fault, MirrorMode, QueueStatus, ReplicationState, RestoreOptions, ServiceState,
    StartupType,
};
use drlab_drivers::{
    Archives, Backend, Clock, Faults, Hosts, MailStores, OpError, Replication, San, Services,
    Switches, Timestamp,
};

use crate::dialect::linux;
use crate::dns::resolver::Resolver;
use crate::faults::{FaultInjector, FaultLimits};
use crate::inventory::{Dialect, HostEntry, Inventory, LabRole};
use crate::ldap::AdClient;
use crate::replication::{ReplicationLimits, Replicator};
use crate::secret::Secret;
use crate::ssh::{Output, SshLimits, SshPool, SshTarget};

pub use estate::Estate;

/// Why a lab backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A scenario name has no inventory entry: drlab touches only inventory hosts.
    #[error(
        "the inventory has no {kind} {name:?}, which the scenario uses; add it to the inventory (drlab touches only inventory hosts)"
    )]
    Missing {
        /// `host`, `client` or `service`.
        kind: &'static str,
        /// The scenario's name.
        name: String,
    },
    /// A credential could not be read.
    #[error("credential {name:?}: {source}")]
    Credential {
        /// The inventory's credential name.
        name: String,
        /// Why (never the secret).
        source: crate::secret::SecretError,
    },
    /// Something else in the inventory does not fit the scenario.
    #[error("inventory: {0}")]
    Inventory(String),
}

/// Limits of lab operations. Units are in the names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabLimits {
    /// A short remote command (service control, flags, status).
    pub command_timeout_ms: u64,
    /// A long remote command (restore, archive).
    pub copy_timeout_ms: u64,
    /// How long a reboot or power-on may take until SSH answers again.
    pub boot_timeout_ms: u64,
    /// Poll interval while waiting for something remote.
    pub poll_interval_ms: u64,
}

impl Default for LabLimits {
    fn default() -> LabLimits {
        LabLimits {
            command_timeout_ms: 20_000,
            copy_timeout_ms: 600_000,
            boot_timeout_ms: 180_000,
            poll_interval_ms: 250,
        }
    }
}

/// The lab as one backend.
pub struct LabBackend {
    inv: Inventory,
    estate: Estate,
    start: Instant,
    limits: LabLimits,
    ssh: SshPool,
    faults: FaultInjector,
    /// One LDAP connection per DC, opened on first use.
    ad: tokio::sync::Mutex<BTreeMap<String, AdClient>>,
    /// Each client population's resolver, with the scenario's cache policy.
    resolvers: BTreeMap<String, Resolver>,
    /// The password of every mailbox.
    mail_password: Option<Secret>,
    /// Probe message numbers (unique per drill).
    probes: Cell<u64>,
    /// Hosts whose addresses another host took over (`from` → `to`): their
    /// address now reaches `to`, so nothing addressed to `from` may use it.
    taken_over: RefCell<BTreeMap<String, String>>,
}

impl std::fmt::Debug for LabBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabBackend")
            .field("lab", &self.inv.lab.name)
            .finish_non_exhaustive()
    }
}

impl LabBackend {
    /// A backend for `estate` on the lab of `inv`. Checks that every host
    /// and client the estate names is in the inventory and that every
    /// Exchange service has a lab mapping; opens no connection yet.
    pub fn connect(inv: Inventory, estate: Estate) -> Result<LabBackend, LabError> {
        LabBackend::with_limits(inv, estate, LabLimits::default())
    }

    /// As [`LabBackend::connect`] with explicit limits.
    pub fn with_limits(
        inv: Inventory,
        estate: Estate,
        limits: LabLimits,
    ) -> Result<LabBackend, LabError> {
        for h in &estate.hosts {
            if inv.host(h).is_none() {
                return Err(LabError::Missing {
                    kind: "host",
                    name: h.clone(),
                });
            }
        }
        for svc in &estate.exchange_services {
            if !inv.services.contains_key(svc)
                && estate
                    .stores
                    .keys()
                    .any(|h| inv.host(h).is_some_and(|e| e.dialect == Dialect::Linux))
            {
                return Err(LabError::Missing {
                    kind: "service",
                    name: svc.clone(),
                });
            }
        }
        let mut resolvers = BTreeMap::new();
        for c in &estate.clients {
            let server = inv.host(&c.dns_server).ok_or_else(|| LabError::Missing {
                kind: "host",
                name: c.dns_server.clone(),
            })?;
            let port = server.dns.as_ref().map_or(53, |d| d.port);
            resolvers.insert(
                c.name.clone(),
                Resolver::new(
                    SocketAddr::new(server.address, port),
                    c.cache,
                    crate::dns::client::DnsLimits::default(),
                ),
            );
        }
        let mail_password = match &inv.mail.password_credential {
            Some(name) => Some(
                inv.credentials
                    .get(name)
                    .ok_or_else(|| {
                        LabError::Inventory(
                            "[mail] password_credential names no entry of [credentials]".into(),
                        )
                    })?
                    .load()
                    .map_err(|source| LabError::Credential {
                        name: name.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        let faults = FaultInjector::new(inv.clone(), FaultLimits::default());
        Ok(LabBackend {
            estate,
            inv,
            start: Instant::now(),
            limits,
            ssh: SshPool::new(SshLimits::default()),
            faults,
            ad: tokio::sync::Mutex::new(BTreeMap::new()),
            resolvers,
            mail_password,
            probes: Cell::new(0),
            taken_over: RefCell::new(BTreeMap::new()),
        })
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inv
    }

    /// Restarts the drill clock (call right before the drill begins).
    pub fn restart_clock(&mut self) {
        self.start = Instant::now();
    }

    fn entry(&self, host: &str) -> OpResult<&HostEntry> {
        self.inv.host(host).ok_or_else(|| {
            OpError::not_found(format!(
                "host {host} in the inventory (drlab touches only inventory hosts)"
            ))
        })
    }

    fn target(&self, host: &str) -> OpResult<SshTarget> {
        self.not_taken_over(host)?;
        SshTarget::from_inventory(&self.inv, host).map_err(OpError::from)
    }

    /// Refuses to address `host` when another host holds its address: a
    /// connection would reach the wrong machine (the SSH host key check
    /// would refuse it too, but the reason is clearer here).
    fn not_taken_over(&self, host: &str) -> OpResult<()> {
        match self.taken_over.borrow().get(host) {
            Some(by) => Err(OpError::Unreachable {
                host: format!("{host} (its address is held by {by} after the identity takeover)")
                    .into(),
            }),
            None => Ok(()),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.limits.command_timeout_ms)
    }

    /// Runs a shell command on `host` and returns its output (any exit status).
    async fn sh(&self, host: &str, command: &str, limit: Duration) -> OpResult<Output> {
        let t = self.target(host)?;
        self.ssh
            .exec(&t, command, limit)
            .await
            .map_err(OpError::from)
    }

    /// Runs a command that must succeed; a failure carries its stderr.
    async fn sh_ok(&self, host: &str, command: &str, what: &str) -> OpResult<Output> {
        let out = self.sh(host, command, self.timeout()).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(OpError::Io {
                detail: format!(
                    "{what} on {host} failed (exit {:?}): {}",
                    out.exit_status,
                    out.stderr.trim()
                )
                .into(),
            })
        }
    }

    fn dialect(&self, host: &str) -> OpResult<Dialect> {
        Ok(self.entry(host)?.dialect)
    }

    /// The lab unit of a scenario service.
    fn lab_service(&self, service: &str) -> OpResult<&str> {
        self.inv
            .services
            .get(service)
            .map(String::as_str)
            .ok_or_else(|| {
                OpError::not_found(format!(
                    "a lab mapping for service {service} (inventory [services])"
                ))
            })
    }

    fn mail_root(&self, host: &str) -> OpResult<String> {
        Ok(self
            .entry(host)?
            .mail_root
            .clone()
            .unwrap_or_else(|| "/srv/mail".to_string()))
    }

    fn address(&self, host: &str) -> OpResult<IpAddr> {
        Ok(self.entry(host)?.address)
    }

    fn replicator(&self) -> Replicator<'_> {
        Replicator::new(&self.ssh, ReplicationLimits::default())
    }

    fn unsupported(what: impl Into<String>) -> OpError {
        OpError::Unsupported {
            what: what.into().into(),
        }
    }

    /// Sets the estate to the scenario's starting state before a drill:
    /// standby hosts have their stores dismounted and overwrite flags
    /// cleared, active hosts have them mounted; mailbox users exist in the
    /// directory with their starting homes. Not journaled: it is set-up,
    /// not part of the drill. Returns what it did, one line per action.
    pub async fn prepare(&self) -> OpResult<Vec<String>> {
        let mut did = Vec::new();
        let hosts: Vec<String> = self.estate.stores.keys().cloned().collect();
        for h in &hosts {
            if self.dialect(h)? != Dialect::Linux {
                continue;
            }
            let standby = self.estate.standby.contains(h);
            for st in self.estate.stores.get(h).into_iter().flatten() {
                let users = self.estate.users_of(&st.id);
                let cmd = if standby {
                    stores::deny_script(&users, true)
                } else {
                    stores::deny_script(&users, false)
                };
                self.sh_ok(h, &cmd, "prepare stores").await?;
                self.sh_ok(h, &stores::overwrite_script(&st.id, false), "prepare flags")
                    .await?;
            }
            did.push(format!(
                "{h}: stores {}",
                if standby { "dismounted" } else { "mounted" }
            ));
        }
        if let Some(dc) = self.first_dc() {
            let dc = dc.to_string();
            let mut ad = self.ad_for(&dc).await?;
            let client = ad.get_mut(&dc).expect("just connected");
            for m in &self.estate.mailboxes {
                client.create_mailbox_user(&m.name).await.ok();
                client
                    .set_mailbox_home(&m.name, &m.server, &m.store)
                    .await
                    .map_err(OpError::from)?;
            }
            did.push(format!(
                "{dc}: {} mailboxes homed as the scenario starts",
                self.estate.mailboxes.len()
            ));
        }
        Ok(did)
    }

    fn first_dc(&self) -> Option<&str> {
        self.inv
            .hosts
            .iter()
            .find(|h| h.roles.contains(&LabRole::DomainController) && h.ldap.is_some())
            .map(|h| h.name.as_str())
    }
}

impl Clock for LabBackend {
    fn now(&self) -> Timestamp {
        Timestamp(self.start.elapsed().as_micros().min(u128::from(u64::MAX)) as u64)
    }

    fn sleep(&self, d: Duration) -> impl std::future::Future<Output = ()> {
        tokio::time::sleep(d)
    }
}

impl Services for LabBackend {
    async fn start_service(&self, host: &str, service: &str) -> OpResult<()> {
        match self.dialect(host)? {
            Dialect::Linux => {
                let unit = self.lab_service(service)?;
                let cmd = linux::start(unit).map_err(|e| linux::op_error(host, e))?;
                let out = self.sh(host, &cmd, self.timeout()).await?;
                match out.exit_status {
                    Some(0) => Ok(()),
                    Some(6) => Err(OpError::refused(format!("{service} on {host} is disabled"))),
                    _ => Err(OpError::ServiceFailed {
                        host: host.into(),
                        service: service.into(),
                        reason: format!("{unit}: {}", out.stderr.trim()).into(),
                    }),
                }
            }
            Dialect::Windows => {
                let c = crate::dialect::windows::start_service(service, 60)
                    .map_err(|e| linux::op_error(host, e))?;
                self.sh_ok(host, &c.command_line(), "Start-Service")
                    .await
                    .map(|_| ())
            }
        }
    }

    async fn stop_service(&self, host: &str, service: &str) -> OpResult<()> {
        match self.dialect(host)? {
            Dialect::Linux => {
                let unit = self.lab_service(service)?;
                let cmd = linux::stop(unit).map_err(|e| linux::op_error(host, e))?;
                self.sh_ok(host, &cmd, "stop").await.map(|_| ())
            }
            Dialect::Windows => {
                let c = crate::dialect::windows::stop_service(service, 60)
                    .map_err(|e| linux::op_error(host, e))?;
                self.sh_ok(host, &c.command_line(), "Stop-Service")
                    .await
                    .map(|_| ())
            }
        }
    }

    async fn service_status(&self, host: &str, service: &str) -> OpResult<ServiceState> {
        match self.dialect(host)? {
            Dialect::Linux => {
                let unit = self.lab_service(service)?;
                let cmd = linux::status(unit).map_err(|e| linux::op_error(host, e))?;
                let out = self.sh(host, &cmd, self.timeout()).await?;
                let st = linux::parse_status(unit, out.exit_status, &out.stdout, &out.stderr)
                    .map_err(|e| linux::op_error(host, e))?;
                Ok(st.state)
            }
            Dialect::Windows => {
                let c = crate::dialect::windows::get_service(service)
                    .map_err(|e| linux::op_error(host, e))?;
                let out = self.sh_ok(host, &c.command_line(), "Get-Service").await?;
                crate::dialect::windows::parse_service_status(service, &out.stdout)
                    .map(|s| s.state)
                    .map_err(|e| linux::op_error(host, e))
            }
        }
    }

    async fn set_startup_type(
        &self,
        host: &str,
        service: &str,
        startup: StartupType,
    ) -> OpResult<()> {
        match self.dialect(host)? {
            Dialect::Linux => {
                let unit = self.lab_service(service)?;
                let cmd =
                    linux::set_startup(unit, startup).map_err(|e| linux::op_error(host, e))?;
                self.sh_ok(host, &cmd, "startup").await.map(|_| ())
            }
            Dialect::Windows => {
                let c = crate::dialect::windows::set_startup_type(service, startup)
                    .map_err(|e| linux::op_error(host, e))?;
                self.sh_ok(host, &c.command_line(), "Set-Service")
                    .await
                    .map(|_| ())
            }
        }
    }
}

impl Replication for LabBackend {
    async fn connect(&self, source: &str, target: &str, mirror: MirrorMode) -> OpResult<()> {
        let (s, t) = (self.target(source)?, self.target(target)?);
        self.replicator()
            .connect(&s, &t, &self.mail_root(source)?, mirror)
            .await
            .map(|_| ())
            .map_err(OpError::from)
    }

    async fn pause(&self, source: &str, _target: &str) -> OpResult<()> {
        let s = self.target(source)?;
        self.replicator().pause(&s).await.map_err(OpError::from)
    }

    async fn resume(&self, source: &str, _target: &str) -> OpResult<()> {
        let s = self.target(source)?;
        self.replicator().resume(&s).await.map_err(OpError::from)
    }

    async fn wait_drained(
        &self,
        source: &str,
        target: &str,
        idle: Duration,
        limit: Duration,
    ) -> OpResult<QueueStatus> {
        // A source that answers tells what it still has to send; a dead one
        // sends nothing more, so only the target's receiving rsync can still
        // be applying data (Double-Take's waitontarget watches the target).
        let connect = Duration::from_millis(1500);
        let reachable =
            self.not_taken_over(source).is_ok() && self.ping(target, source, connect).await.is_ok();

        if reachable {
            let (s, t) = (self.target(source)?, self.target(target)?);
            return self
                .replicator()
                .wait_drained(&s, &t, &self.mail_root(source)?, idle, limit)
                .await
                .map(|st| st.queue_status())
                .map_err(OpError::from);
        }
        let start = Instant::now();
        let mut quiet_since = Instant::now();
        loop {
            let busy = self
                .sh(target, "pgrep -x rsync >/dev/null", self.timeout())
                .await?
                .success();
            if busy {
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= idle {
                return Ok(QueueStatus {
                    state: ReplicationState::Disconnected,
                    source_queued_bytes: 0,
                    source_queued_items: 0,
                    target_queued_bytes: 0,
                });
            }
            if start.elapsed() >= limit {
                return Err(OpError::timeout(format!("waitontarget {target}"), limit));
            }
            tokio::time::sleep(Duration::from_millis(self.limits.poll_interval_ms)).await;
        }
    }

    async fn disconnect(&self, source: &str, _target: &str) -> OpResult<()> {
        let s = self.target(source)?;
        self.replicator()
            .disconnect(&s)
            .await
            .map_err(OpError::from)
    }

    async fn queue_status(&self, source: &str, target: &str) -> OpResult<QueueStatus> {
        let (s, t) = (self.target(source)?, self.target(target)?);
        self.replicator()
            .status(&s, &t, &self.mail_root(source)?)
            .await
            .map(|st| st.queue_status())
            .map_err(OpError::from)
    }

    async fn restore(&self, from: &str, to: &str, options: RestoreOptions) -> OpResult<()> {
        // As on Exchange: files in use cannot be overwritten.
        for st in self.estate.stores.get(to).into_iter().flatten() {
            if self.store_mounted(to, &st.id).await? {
                return Err(OpError::invalid_state(format!(
                    "cannot restore over {} on {to}: the store is mounted; stop the Exchange services first",
                    st.id
                )));
            }
        }
        let (f, t) = (self.target(from)?, self.target(to)?);
        self.replicator()
            .restore(&f, &t, &self.mail_root(to)?, options.only_if_backup_newer)
            .await
            .map(|_| ())
            .map_err(OpError::from)
    }
}

impl San for LabBackend {
    async fn grant(&self, volume: &str, initiator: &str) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "grant {initiator} on volume {volume}: the lab inventory has no SAN host (tgt) for drills"
        )))
    }
    async fn revoke(&self, volume: &str, initiator: &str) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "revoke {initiator} on volume {volume}: the lab inventory has no SAN host for drills"
        )))
    }
    async fn attach(&self, host: &str, volume: &str) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "attach {volume} to {host}: the lab inventory has no SAN host for drills"
        )))
    }
    async fn detach(&self, host: &str, volume: &str) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "detach {volume} from {host}: the lab inventory has no SAN host for drills"
        )))
    }
    async fn snapshot(&self, volume: &str, name: &str) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "snapshot {name} of {volume}: the lab inventory has no SAN host for drills"
        )))
    }
}

impl Switches for LabBackend {
    async fn set_port_vlans(&self, server: &str, _vlans: &[u16]) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "VLANs of {server}'s switch port: the container lab has no managed switch"
        )))
    }
}

impl Archives for LabBackend {
    async fn take_archive(&self, host: &str, level_h: u32) -> OpResult<ArchiveInfo> {
        let root = self.mail_root(host)?;
        let taken_at_us = self.now().as_micros();
        let id = format!("{host}-{level_h}h-{taken_at_us}");
        let out = self
            .sh(
                host,
                &stores::archive_take_script(&root, &id),
                Duration::from_millis(self.limits.copy_timeout_ms),
            )
            .await?;
        if !out.success() {
            return Err(OpError::Io {
                detail: format!("archive on {host} failed: {}", out.stderr.trim()).into(),
            });
        }
        let bytes = out.stdout.trim().parse().unwrap_or(0);
        Ok(ArchiveInfo {
            id: id.into(),
            level_h,
            taken_at_us,
            bytes,
        })
    }

    async fn list_archives(&self, host: &str) -> OpResult<Vec<ArchiveInfo>> {
        let out = self
            .sh_ok(host, stores::ARCHIVE_LIST_SCRIPT, "list archives")
            .await?;
        Ok(stores::parse_archive_list(&out.stdout))
    }

    async fn restore_archive(&self, id: &str, host: &str) -> OpResult<()> {
        for st in self.estate.stores.get(host).into_iter().flatten() {
            if self.store_mounted(host, &st.id).await? {
                return Err(OpError::invalid_state(format!(
                    "cannot restore over {} on {host}: dismount it first",
                    st.id
                )));
            }
        }
        let root = self.mail_root(host)?;
        let script = stores::archive_restore_script(&root, id).map_err(OpError::invalid_state)?;
        let out = self
            .sh(
                host,
                &script,
                Duration::from_millis(self.limits.copy_timeout_ms),
            )
            .await?;
        if out.success() {
            Ok(())
        } else if out.exit_status == Some(4) {
            Err(OpError::not_found(format!("archive {id} on {host}")))
        } else {
            Err(OpError::Io {
                detail: format!("restore of {id} on {host} failed: {}", out.stderr.trim()).into(),
            })
        }
    }
}

impl Faults for LabBackend {
    async fn inject(&self, fault: &Fault) -> OpResult<()> {
        self.faults.inject(fault).await
    }
}

impl Backend for LabBackend {
    fn backend_name(&self) -> &'static str {
        "lab"
    }
}
