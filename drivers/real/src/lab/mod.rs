//! The lab backend: the one interface implemented against real
//! infrastructure listed in an inventory. Hosts and services over SSH,
//! Active Directory over LDAP, DNS with RFC 2136 and a client resolver with
//! its own cache, replication through lsyncd/rsync, the SAN through tgt
//! (`tgtadm` on the inventory's `san` host) and libiscsi (on the hosts that
//! log in, [`crate::san`]), faults through the container engine, and the
//! workload and probes as SMTP and IMAP through the service name, as users
//! reach it.
//!
//! Only hosts of the inventory are ever contacted; a scenario name missing
//! from it is an error, never a guess. Secrets come from the inventory's
//! credential sources and never appear in commands, errors or output.
//!
//! What the Linux lab cannot do (rename a container, boot a persona on a
//! server pool, a managed switch, a SAN when the inventory lists none)
//! returns [`OpError::Unsupported`] with the reason: nothing is faked.
//!
//! Every state-changing call has a pure half, in [`commands`]: the exact
//! operations ([`LabOp`]) it performs for its arguments, computed from the
//! inventory and the estate alone. The call performs those operations, in
//! order, and nothing else (the dry-run plan and the journal show the same
//! operations); [`LabBackend::issued`] lists what each call sent.

pub mod addresses;
pub mod commands;
mod directory;
mod dns;
pub mod estate;
mod hosts;
mod issue;
mod stores;
mod workload;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{
    ArchiveInfo, DnsRecord, Fault, MirrorMode, QueueStatus, RecordType, ReplicationState,
    RestoreOptions, ServiceState, StartupType,
};

use self::issue::Issued;
use drlab_drivers::{
    Archives, Backend, Clock, Faults, Hosts, OpError, Replication, San, Services, Switches,
    Timestamp,
};

use crate::dialect::linux;
use crate::dns::resolver::Resolver;
use crate::faults::{FaultInjector, FaultLimits};
use crate::inventory::{Dialect, HostEntry, Inventory};
use crate::ldap::AdClient;
use crate::replication::{self, ReplicationLimits, Replicator};
use crate::san;
use crate::secret::Secret;
use crate::ssh::{Output, SshLimits, SshPool, SshTarget};

pub use commands::{Commands, LabOp};
pub use estate::Estate;
pub use issue::{ISSUED_CALLS_MAX, IssuedCall};

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
    /// The wall-clock time of `start`, in Unix microseconds (archive ids
    /// carry the host's clock).
    start_unix_us: Cell<u64>,
    /// What each state-changing call sent.
    issued: Issued,
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
        // The scenario's addresses are IPv4 and map host by host onto the
        // lab's (lab::addresses): a host the lab gave an IPv6 address could
        // not carry its records, so say so here instead of leaving its
        // records unmapped.
        for h in estate.addresses.keys() {
            if let Some(e) = inv.host(h)
                && e.address.is_ipv6()
            {
                return Err(LabError::Inventory(format!(
                    "host {h} has the IPv6 address {}, but the scenario gives it an IPv4 address \
                     and its DNS records follow it to the lab's; give {h} an IPv4 address",
                    e.address
                )));
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
            start_unix_us: Cell::new(unix_now_us()),
            issued: Issued::default(),
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
        self.start_unix_us.set(unix_now_us());
    }

    /// The command builders of this backend: what each state-changing call
    /// performs, for given arguments (see [`commands`]).
    pub fn commands(&self) -> Commands<'_> {
        Commands::new(&self.inv, &self.estate, self.limits)
    }

    /// What each state-changing call made so far planned and sent, in the
    /// order the calls were made (at most [`ISSUED_CALLS_MAX`] calls).
    pub fn issued(&self) -> Vec<IssuedCall> {
        self.issued.calls()
    }

    fn entry(&self, host: &str) -> OpResult<&HostEntry> {
        self.commands().entry(host)
    }

    fn target(&self, host: &str) -> OpResult<SshTarget> {
        self.ssh_reaches(host)?;
        SshTarget::from_inventory(&self.inv, host).map_err(OpError::from)
    }

    /// Whether an SSH session to `host` would reach it: always over its
    /// management address; over its service address only while no other
    /// host holds it.
    fn ssh_reaches(&self, host: &str) -> OpResult<()> {
        if self.entry(host)?.ssh_out_of_band() {
            return Ok(());
        }
        self.not_taken_over(host)
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
        issue::succeeded(host, what, out)
    }

    fn dialect(&self, host: &str) -> OpResult<Dialect> {
        Ok(self.entry(host)?.dialect)
    }

    /// The lab unit of a scenario service.
    fn lab_service(&self, service: &str) -> OpResult<&str> {
        self.commands().lab_service(service)
    }

    fn mail_root(&self, host: &str) -> OpResult<String> {
        self.commands().mail_root(host)
    }

    fn address(&self, host: &str) -> OpResult<IpAddr> {
        Ok(self.entry(host)?.address)
    }

    fn replicator(&self) -> Replicator<'_> {
        Replicator::new(&self.ssh, ReplicationLimits::default())
    }

    /// Sets the estate to the scenario's starting state before a drill:
    /// every store is emptied (the simulator's stores begin with no
    /// records, and an earlier drill's messages carry the same sequence
    /// numbers), standby hosts have their stores dismounted and overwrite
    /// flags cleared, active hosts have them mounted; mailbox users exist
    /// in the directory with their starting homes. Not journaled: it is
    /// set-up, not part of the drill. Returns what it did, one line per
    /// action.
    pub async fn prepare(&self) -> OpResult<Vec<String>> {
        let mut did = Vec::new();
        let hosts: Vec<String> = self.estate.stores.keys().cloned().collect();
        for h in &hosts {
            if self.dialect(h)? != Dialect::Linux {
                continue;
            }
            let standby = self.estate.standby.contains(h);
            let host_stores = self.estate.stores.get(h).into_iter().flatten();
            // one emptying per host: it also deletes the host's mail queue
            let every_user: Vec<&str> = host_stores
                .clone()
                .flat_map(|st| self.estate.users_of(&st.id))
                .collect();
            let empty = stores::empty_store_script(&self.mail_root(h)?, &every_user);
            self.sh_ok(h, &empty, "empty stores").await?;
            for st in host_stores {
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
                "{h}: stores emptied and {}",
                if standby { "dismounted" } else { "mounted" }
            ));
        }
        // Replication as the scenario starts it, whatever an earlier drill
        // and its rollback left: connected pairs restart with a difference
        // mirror, the others are stopped.
        for (source, target, connected) in &self.estate.replication {
            if self.dialect(source)? != Dialect::Linux {
                continue;
            }
            let cmds = self.commands();
            let ops = if *connected {
                cmds.connect(source, target, MirrorMode::Difference)?
            } else {
                cmds.disconnect(source, target)?
            };
            for op in &ops {
                let LabOp::Ssh(ssh) = op else {
                    panic!("bug: replication builders return SSH commands only, got {op}")
                };
                let limit = Duration::from_millis(self.limits.copy_timeout_ms);
                let out = self.sh(source, &ssh.command, limit).await?;
                issue::succeeded(source, &format!("preparing replication to {target}"), out)?;
            }
            did.push(format!(
                "{source} -> {target}: replication {}",
                if *connected {
                    "connected (difference mirror)"
                } else {
                    "disconnected"
                }
            ));
        }
        if let Some(dc) = self.first_dc() {
            let dc = dc.to_string();
            let mut ad = self.ad_for(&dc).await?;
            let client = ad.get_mut(&dc).expect("just connected");
            for m in &self.estate.mailboxes {
                // a user an earlier drill or the lab's set-up made is the
                // one wanted; any other failure stops the set-up
                match client.create_mailbox_user(&m.name).await {
                    Ok(_) | Err(crate::ldap::AdError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(OpError::from(e)),
                }
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
        did.extend(self.converge_directory().await?);
        did.extend(self.prepare_dns().await?);
        // The SAN's volumes with their starting ACLs: a scenario with
        // volumes needs a SAN host (prepare_san says so when there is none).
        let cmds = self.commands();
        if !self.estate.volumes.is_empty() {
            let ops = cmds.prepare_san()?;
            let san_host = cmds.san_host("SAN set-up")?;
            assert_eq!(
                ops.len(),
                self.estate.volumes.len(),
                "one set-up per volume"
            );
            for (op, v) in ops.iter().zip(&self.estate.volumes) {
                let LabOp::Ssh(s) = op else {
                    panic!("bug: the SAN set-up is SSH commands only, got {op}")
                };
                let out = self.sh(&s.host, &s.command, self.timeout()).await?;
                san::outcome(san_host, "set-up", &v.name, None, &out)?;
            }
            did.push(format!(
                "{san_host}: {} SAN volumes with their starting initiators",
                self.estate.volumes.len()
            ));
        }
        Ok(did)
    }

    fn first_dc(&self) -> Option<&str> {
        self.commands().first_dc()
    }

    /// Several domain controllers replicate the directory and its DNS
    /// zones between them: what an earlier drill or its rollback wrote on
    /// one still travels to the others, and could undo this set-up in the
    /// middle of the drill. So before the scenario's records are written,
    /// every DC of the scenario pulls from every other (`samba-tool drs
    /// replicate`, as `Directory::force_replication`).
    async fn converge_directory(&self) -> OpResult<Vec<String>> {
        let cmds = self.commands();
        let dcs: Vec<&str> = cmds
            .dcs()
            .filter(|d| self.estate.hosts.iter().any(|h| h == d))
            .collect();
        if dcs.len() < 2 {
            return Ok(Vec::new());
        }
        for to in &dcs {
            for from in dcs.iter().filter(|f| *f != to) {
                for op in cmds.force_replication(from, to)? {
                    let LabOp::Ssh(ssh) = op else {
                        panic!("bug: forced replication is SSH commands only, got {op}")
                    };
                    let out = self.perform_ssh(&ssh).await?;
                    issue::succeeded(
                        to,
                        &format!("replicating from {from} before the drill"),
                        out,
                    )?;
                }
            }
        }
        Ok(vec![format!(
            "{}: directory replicated between them before the drill",
            dcs.join(", ")
        )])
    }

    /// The scenario's DNS records on each of its servers, whatever an
    /// earlier drill left: per name and type, one RFC 2136 update that
    /// deletes the RRset and adds the scenario's records (with their
    /// TTLs, which the clients' caches then follow), in the lab's
    /// addresses, signed with the set-up's key (a zone that refuses the
    /// runbook's updates takes it).
    async fn prepare_dns(&self) -> OpResult<Vec<String>> {
        let mut did = self.check_zone_policies().await?;
        let map = self.commands().addresses();
        for (server, records) in &self.estate.dns_records {
            let mut sets: BTreeMap<(String, RecordType), Vec<DnsRecord>> = BTreeMap::new();
            for r in records.iter().map(|r| map.record_to_lab(r)) {
                sets.entry((r.name.to_string(), r.rtype))
                    .or_default()
                    .push(r);
            }
            for ((name, _), set) in &sets {
                self.updater(server, name, dns::Signer::SetUp)
                    .await
                    .map_err(|e| no_zone_hint(e, server, name))?
                    .replace(set)
                    .await
                    .map_err(OpError::from)?;
            }
            did.push(format!(
                "{server}: {} DNS records as the scenario starts",
                records.len()
            ));
        }
        Ok(did)
    }

    /// Each scenario zone, on each of its servers, takes the runbook's
    /// updates or refuses them as the scenario says (`dynamic_updates`):
    /// asked, before set-up writes anything, with an update that changes
    /// nothing, signed with the runbook's key. A zone that behaves
    /// otherwise would make the drill test another estate than the
    /// scenario's, so set-up stops there. The lab's zone is found from a
    /// starting record of the zone (in the lab's addresses) or, for a
    /// forward zone, from its name; a reverse zone without a record has
    /// no lab name to ask about and is said to be unchecked.
    async fn check_zone_policies(&self) -> OpResult<Vec<String>> {
        let map = self.commands().addresses();
        let mut did = Vec::new();
        for (server, zones) in &self.estate.dns_zones {
            let records = self.estate.dns_records.get(server);
            let mut checked = Vec::new();
            for z in zones {
                // a record of this zone and of no deeper zone of the server
                let record = records.into_iter().flatten().find(|r| {
                    estate::deepest_zone(zones, &r.name).is_some_and(|o| o.name == z.name)
                });
                let name = match record {
                    Some(r) => map.record_to_lab(r).name.to_string(),
                    None if !drlab_drivers::types::name_in_zone(&z.name, "arpa") => z.name.clone(),
                    None => {
                        checked.push(format!("{} unchecked (no record to find it by)", z.name));
                        continue;
                    }
                };
                let u = self
                    .updater(server, &name, dns::Signer::Runbook)
                    .await
                    .map_err(|e| no_zone_hint(e, server, &name))?;
                let takes = u.takes_updates().await.map_err(OpError::from)?;
                if takes != z.dynamic_updates {
                    return Err(OpError::invalid_state(zone_policy_mismatch(
                        server,
                        &z.name,
                        &u.zone,
                        z.dynamic_updates,
                    )));
                }
                checked.push(format!(
                    "{} {}",
                    z.name,
                    if takes { "takes" } else { "refuses" }
                ));
            }
            if !checked.is_empty() {
                did.push(format!(
                    "{server}: zone policies as the scenario says ({})",
                    checked.join(", ")
                ));
            }
        }
        Ok(did)
    }
}

/// Why set-up stops on a zone whose policy is not the scenario's.
fn zone_policy_mismatch(server: &str, zone: &str, lab_zone: &str, dynamic: bool) -> String {
    let (scenario, lab) = if dynamic {
        ("takes dynamic updates", "refuses them")
    } else {
        ("refuses dynamic updates", "takes them")
    };
    format!(
        "the scenario's zone {zone} {scenario} on {server}, but the lab's zone {lab_zone} there {lab} (an update that changes nothing, signed with the runbook's key): the drill would not test the scenario's estate; run it on a lab whose DNS has the scenario's policy (`drlab lab up --for SCENARIO` starts one)"
    )
}

/// The system clock in Unix microseconds.
fn unix_now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
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
        let mut call = self.call(
            "start_service",
            self.commands().start_service(host, service),
        )?;
        let out = call.ssh().await?;
        match self.dialect(host)? {
            Dialect::Linux => match out.exit_status {
                Some(0) => Ok(()),
                Some(6) => Err(OpError::refused(format!("{service} on {host} is disabled"))),
                _ => Err(OpError::ServiceFailed {
                    host: host.into(),
                    service: service.into(),
                    reason: format!("{}: {}", self.lab_service(service)?, out.stderr.trim()).into(),
                }),
            },
            Dialect::Windows => issue::succeeded(host, "Start-Service", out).map(|_| ()),
        }
    }

    async fn stop_service(&self, host: &str, service: &str) -> OpResult<()> {
        self.call("stop_service", self.commands().stop_service(host, service))?
            .rest()
            .await
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
        self.call(
            "set_startup_type",
            self.commands().set_startup_type(host, service, startup),
        )?
        .rest()
        .await
    }
}

impl Replication for LabBackend {
    async fn connect(&self, source: &str, target: &str, mirror: MirrorMode) -> OpResult<()> {
        let mut call = self.call("connect", self.commands().connect(source, target, mirror))?;
        let out = call.ssh().await?;
        let out = replication::command_result(source, "connect", out)?;
        replication::state_result(source, "connect", &out)?;
        Ok(())
    }

    async fn pause(&self, source: &str, target: &str) -> OpResult<()> {
        let mut call = self.call("pause", self.commands().pause(source, target))?;
        let out = call.ssh().await?;
        replication::signal_result(source, "pause", &out).map_err(OpError::from)
    }

    async fn resume(&self, source: &str, target: &str) -> OpResult<()> {
        let mut call = self.call("resume", self.commands().resume(source, target))?;
        let out = call.ssh().await?;
        replication::signal_result(source, "resume", &out).map_err(OpError::from)
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
        let t = self.target(target)?;
        self.replicator()
            .wait_receivers_still(&t, idle, limit)
            .await
            .map_err(OpError::from)?;
        Ok(QueueStatus {
            state: ReplicationState::Disconnected,
            source_queued_bytes: 0,
            source_queued_items: 0,
            target_queued_bytes: 0,
        })
    }

    async fn disconnect(&self, source: &str, target: &str) -> OpResult<()> {
        let mut call = self.call("disconnect", self.commands().disconnect(source, target))?;
        let out = call.ssh().await?;
        replication::command_result(source, "disconnect", out)?;
        Ok(())
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
        let mut call = self.call("restore", self.commands().restore(from, to, options))?;
        let mounted = || {
            OpError::invalid_state(format!(
                "cannot restore over the stores of {to}: a store is mounted; stop the Exchange services first"
            ))
        };
        let windows = self.dialect(to)? == Dialect::Windows;
        while call.left() > 1 {
            let out = call.ssh().await?;
            if windows {
                if issue::succeeded(to, "Get-MailboxDatabase", out)?
                    .stdout
                    .trim()
                    .eq_ignore_ascii_case("true")
                {
                    return Err(mounted());
                }
            } else if out.exit_status == Some(6) {
                return Err(mounted());
            } else {
                issue::succeeded(to, "mount check", out)?;
            }
        }
        let out = call.ssh().await?;
        let out = replication::command_result(from, "restore", out)?;
        replication::parse_restore(&out.stdout).ok_or_else(|| {
            OpError::from(replication::ReplicationError::Unparseable {
                host: from.to_string(),
                what: "restore",
            })
        })?;
        Ok(())
    }
}

/// The SAN (tgt on the inventory's `san` host, libiscsi on the hosts):
/// each call sends its planned commands ([`Commands::grant`], ...) and
/// reads their exit status with [`san::outcome`].
impl San for LabBackend {
    async fn grant(&self, volume: &str, initiator: &str) -> OpResult<()> {
        let mut call = self.call("grant", self.commands().grant(volume, initiator))?;
        let out = call.ssh().await?;
        let s = self.commands().san_host("grant")?;
        san::outcome(s, "grant", volume, Some(initiator), &out)
    }
    async fn revoke(&self, volume: &str, initiator: &str) -> OpResult<()> {
        let mut call = self.call("revoke", self.commands().revoke(volume, initiator))?;
        let out = call.ssh().await?;
        let s = self.commands().san_host("revoke")?;
        san::outcome(s, "revoke", volume, Some(initiator), &out)
    }
    async fn attach(&self, host: &str, volume: &str) -> OpResult<()> {
        let mut call = self.call("attach", self.commands().attach(host, volume))?;
        let initiator = self.estate.initiator(host);
        let out = call.ssh().await?;
        let s = self.commands().san_host("attach")?;
        san::outcome(s, "attach", volume, Some(&initiator), &out)?;
        let out = call.ssh().await?;
        san::outcome(host, "attach", volume, Some(&initiator), &out)
    }
    async fn detach(&self, host: &str, volume: &str) -> OpResult<()> {
        let mut call = self.call("detach", self.commands().detach(host, volume))?;
        let initiator = self.estate.initiator(host);
        let out = call.ssh().await?;
        let s = self.commands().san_host("detach")?;
        san::outcome(s, "detach", volume, Some(&initiator), &out)
    }
    async fn snapshot(&self, volume: &str, name: &str) -> OpResult<()> {
        let mut call = self.call("snapshot", self.commands().snapshot(volume, name))?;
        let out = call.ssh().await?;
        let s = self.commands().san_host("snapshot")?;
        san::outcome(s, "snapshot", volume, None, &out)
    }
}

impl Switches for LabBackend {
    async fn set_port_vlans(&self, server: &str, vlans: &[u16]) -> OpResult<()> {
        self.call(
            "set_port_vlans",
            self.commands().set_port_vlans(server, vlans),
        )?
        .rest()
        .await
    }
}

impl Archives for LabBackend {
    async fn take_archive(&self, host: &str, level_h: u32) -> OpResult<ArchiveInfo> {
        let mut call = self.call("take_archive", self.commands().take_archive(host, level_h))?;
        let out = call.ssh().await?;
        if !out.success() {
            return Err(OpError::Io {
                detail: format!("archive on {host} failed: {}", out.stderr.trim()).into(),
            });
        }
        let (id, bytes) = stores::parse_archive_taken(&out.stdout).ok_or_else(|| OpError::Io {
            detail: format!(
                "archive on {host}: cannot parse the answer {:?}",
                out.stdout.trim()
            )
            .into(),
        })?;
        let info = stores::parse_archive_list(&format!("{id} {bytes} 0"), self.start_unix_us.get());
        info.into_iter().next().ok_or_else(|| OpError::Io {
            detail: format!("archive on {host}: {id:?} is not an archive id").into(),
        })
    }

    async fn list_archives(&self, host: &str) -> OpResult<Vec<ArchiveInfo>> {
        let out = self
            .sh_ok(host, stores::ARCHIVE_LIST_SCRIPT, "list archives")
            .await?;
        Ok(stores::parse_archive_list(
            &out.stdout,
            self.start_unix_us.get(),
        ))
    }

    async fn restore_archive(&self, id: &str, host: &str) -> OpResult<()> {
        let mut call = self.call("restore_archive", self.commands().restore_archive(id, host))?;
        let out = call.ssh().await?;
        match out.exit_status {
            Some(0) => Ok(()),
            Some(4) => Err(OpError::not_found(format!("archive {id} on {host}"))),
            Some(6) => Err(OpError::invalid_state(format!(
                "cannot restore over the stores of {host}: dismount them first"
            ))),
            _ => Err(OpError::Io {
                detail: format!("restore of {id} on {host} failed: {}", out.stderr.trim()).into(),
            }),
        }
    }
}

impl Faults for LabBackend {
    async fn inject(&self, fault: &Fault) -> OpResult<()> {
        self.call("inject", self.commands().inject(fault))?
            .rest()
            .await
    }
}

impl Backend for LabBackend {
    fn backend_name(&self) -> &'static str {
        "lab"
    }
}

/// `e`, the failure to find the zone of `name` on `server`, with what to do
/// when `name` is a reverse name: labs made before drlab served reverse
/// zones (`lab up` creates one per site subnet) have none, and their DNS
/// then answers without the SOA drlab looks for.
fn no_zone_hint(e: OpError, server: &str, name: &str) -> OpError {
    if !name.to_ascii_lowercase().ends_with(".in-addr.arpa") {
        return e;
    }
    OpError::invalid_state(format!(
        "{server} serves no reverse zone for {name} ({e}); a lab made by an older drlab has none: \
         run `drlab lab down` and `drlab lab up` again"
    ))
}
