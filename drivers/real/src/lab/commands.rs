//! The pure half of every state-changing call of the lab backend: for a
//! call's arguments, the exact operations the backend performs — shell
//! commands over SSH (in the host's dialect), container engine commands,
//! LDAP changes, DNS updates — as [`LabOp`]s, computed from the inventory,
//! the [`Estate`] and the limits alone (no connection, no credential, no
//! clock). [`LabBackend`](super::LabBackend) performs exactly the operations
//! these builders return, in order, and nothing else for a state-changing
//! call; the dry-run plan and the drill journal show the same operations'
//! lines ([`lines`]).
//!
//! An operation never holds a secret: a password a command needs is named
//! by its inventory credential and written to the command's standard input
//! when it runs ([`SshOp::stdin_credential`]).
//!
//! A call the lab cannot make (or whose names do not resolve) is refused
//! here, with the error the backend returns, before anything is sent.

use std::fmt;
use std::net::SocketAddr;

use drlab_drivers::OpError;
use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{
    DnsRecord, Fault, IdentityItems, MirrorMode, RestoreOptions, StartupType, StoreRef,
};

use super::LabLimits;
use super::addresses::AddressMap;
use super::estate::Estate;
use super::{hosts, stores};
use crate::dialect::windows::{self, ExchangeShell, PsCommand};
use crate::dialect::{DialectError, linux};
use crate::faults::{EngineOp, FaultLimits, FaultPlanner};
use crate::inventory::{Dialect, HostEntry, Inventory, LabRole, LdapDef};
use crate::ldap::{AdChange, AdLayout};
use crate::replication::{self, ReplicationLimits};
use crate::san;
use crate::ssh::{SshError, sh_quote};

/// How long a Windows service command waits for the service to reach its
/// new state.
pub const SERVICE_WAIT_S: u32 = 60;
/// How long the address check before an IP takeover waits for an answer.
pub const ADDRESS_CHECK_MS: u64 = 1500;
/// How long a host that is not a container is given to go down after its
/// reboot command, before the wait for SSH starts.
pub const REBOOT_GRACE_MS: u64 = 5000;
/// The Exchange Management Shell the lab's Windows hosts use.
pub const EXCHANGE_SHELL: ExchangeShell = ExchangeShell::Exchange2010;

/// Which of the backend's time limits a command runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// [`LabLimits::command_timeout_ms`].
    Command,
    /// [`LabLimits::copy_timeout_ms`] (restores, archives, mirrors).
    Copy,
}

/// A command line sent over SSH to an inventory host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshOp {
    /// The scenario's host name.
    pub host: String,
    /// The login user.
    pub user: String,
    /// Address and port.
    pub addr: SocketAddr,
    /// The command line, exactly as sent.
    pub command: String,
    /// For PowerShell: the script the command line carries encoded, shown
    /// instead of its base64.
    pub script: Option<String>,
    /// The inventory credential whose value is written to the command's
    /// standard input (the name, never the value).
    pub stdin_credential: Option<String>,
    /// Its time limit.
    pub limit: Limit,
    /// What it does, for errors (`Start-Service`, `mount`, ...).
    pub what: &'static str,
}

/// A change of DNS data by RFC 2136 update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsChange {
    /// RFC 2136 §2.5.1, without prerequisite.
    Add(DnsRecord),
    /// RFC 2136 §2.5.4, with the prerequisite that the RRset exists.
    Delete(DnsRecord),
}

/// One operation of a state-changing call, as the lab backend performs it.
/// Its `Display` is the line a plan and a journal show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabOp {
    /// A command over SSH.
    Ssh(SshOp),
    /// A TCP connect from the machine running drlab to a host's address,
    /// which must not be answered: nobody may hold the address any more.
    AddressFree {
        /// Whose address.
        host: String,
        /// The address and port (its SSH port).
        addr: SocketAddr,
        /// How long an answer is waited for.
        limit_ms: u64,
    },
    /// The container engine, on the machine running drlab.
    Engine(EngineOp),
    /// An LDAP change on a domain controller.
    Ldap {
        /// The DC.
        dc: String,
        /// Its URL.
        url: String,
        /// The bind name.
        bind: String,
        /// Where its objects are.
        layout: AdLayout,
        /// The change.
        change: AdChange,
    },
    /// An RFC 2136 update to a DNS server, of the zone holding the record
    /// (found by an SOA query first).
    Dns {
        /// The server's host.
        server: String,
        /// Its address and port.
        addr: SocketAddr,
        /// The credential holding the TSIG key, when updates are signed.
        tsig_credential: Option<String>,
        /// The change.
        change: DnsChange,
    },
    /// The answer cache of drlab's own resolver for a client population
    /// (nothing is sent).
    FlushCache {
        /// The client population.
        client: String,
    },
    /// Waits until a host answers on SSH again (`true` succeeds).
    WaitUp {
        /// The host.
        host: String,
        /// Waited first (the host is going down).
        after_ms: u64,
        /// Between tries.
        poll_ms: u64,
        /// The longest wait.
        limit_ms: u64,
    },
}

impl fmt::Display for SshOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ssh ")?;
        if self.addr.port() != 22 {
            write!(f, "-p {} ", self.addr.port())?;
        }
        write!(f, "{}@{} ({})", self.user, self.addr.ip(), self.host)?;
        if let Some(c) = &self.stdin_credential {
            write!(f, " with the password of credential {c:?} on stdin")?;
        }
        f.write_str(": ")?;
        match &self.script {
            None => f.write_str(&self.command),
            Some(script) => {
                let head = self
                    .command
                    .split(" -EncodedCommand ")
                    .next()
                    .unwrap_or(&self.command);
                write!(
                    f,
                    "{head} -EncodedCommand <this script, UTF-16LE in base64>:\n{}",
                    script.trim_end()
                )
            }
        }
    }
}

fn record_text(r: &DnsRecord) -> String {
    format!("{} {} IN {} {}", r.name, r.ttl_s, r.rtype.as_str(), r.data)
}

impl fmt::Display for LabOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabOp::Ssh(s) => s.fmt(f),
            LabOp::AddressFree {
                host,
                addr,
                limit_ms,
            } => write!(
                f,
                "tcp connect {addr} ({host}'s address) from drlab, at most {limit_ms} ms: must not be answered (nobody may hold the address)"
            ),
            LabOp::Engine(e) => e.fmt(f),
            LabOp::Ldap {
                dc,
                url,
                bind,
                layout,
                change,
            } => write!(
                f,
                "ldap {url} ({dc}) bound as {bind}: {}",
                change.describe(layout)
            ),
            LabOp::Dns {
                server,
                addr,
                tsig_credential,
                change,
            } => {
                let (name, what) = match change {
                    DnsChange::Add(r) => (&r.name, format!("add {}", record_text(r))),
                    DnsChange::Delete(r) => (
                        &r.name,
                        format!(
                            "delete {} {} {} (prerequisite: the RRset exists)",
                            r.name,
                            r.rtype.as_str(),
                            r.data
                        ),
                    ),
                };
                let signed = match tsig_credential {
                    Some(c) => format!("signed with the TSIG key of credential {c:?}"),
                    None => "unsigned".into(),
                };
                write!(
                    f,
                    "dns {addr} ({server}): SOA query for {name} to find its zone, then an RFC 2136 UPDATE of that zone, {signed}: {what}"
                )
            }
            LabOp::FlushCache { client } => write!(
                f,
                "drlab's resolver of client {client}: empty its answer cache (nothing is sent)"
            ),
            LabOp::WaitUp {
                host,
                after_ms,
                poll_ms,
                limit_ms,
            } => {
                if *after_ms > 0 {
                    write!(f, "after {after_ms} ms, ")?;
                }
                write!(
                    f,
                    "every {poll_ms} ms, at most {limit_ms} ms: ssh to {host} until `true` succeeds"
                )
            }
        }
    }
}

/// The lines a plan or a journal shows for a call's planned operations:
/// one per operation, or the reason the call is refused before anything
/// is sent.
pub fn lines(planned: &OpResult<Vec<LabOp>>) -> Vec<String> {
    match planned {
        Ok(ops) => ops.iter().map(ToString::to_string).collect(),
        Err(e) => vec![refused_line(e)],
    }
}

/// The line of a call refused before anything is sent.
pub fn refused_line(e: &OpError) -> String {
    format!("(refused before anything is sent: {e})")
}

fn unsupported(what: String) -> OpError {
    OpError::Unsupported { what: what.into() }
}

fn dialect_error(host: &str) -> impl Fn(DialectError) -> OpError + '_ {
    move |e| linux::op_error(host, e)
}

/// The lab backend's command builders for one inventory and estate.
#[derive(Clone, Copy, Debug)]
pub struct Commands<'a> {
    inv: &'a Inventory,
    estate: &'a Estate,
    limits: LabLimits,
}

impl<'a> Commands<'a> {
    /// The builders for `estate` on the lab of `inv`, under `limits` (the
    /// backend's; [`LabLimits::default`] unless it was made with others).
    pub fn new(inv: &'a Inventory, estate: &'a Estate, limits: LabLimits) -> Commands<'a> {
        Commands {
            inv,
            estate,
            limits,
        }
    }

    /// The inventory entry of `host` (the backend's error when missing).
    pub fn entry(&self, host: &str) -> OpResult<&'a HostEntry> {
        self.inv.host(host).ok_or_else(|| {
            OpError::not_found(format!(
                "host {host} in the inventory (drlab touches only inventory hosts)"
            ))
        })
    }

    /// The scenario's addresses on the inventory's, for every estate host
    /// the inventory has (with an IPv4 address: the backend refuses an
    /// inventory whose scenario hosts have others, see `with_limits`).
    pub fn addresses(&self) -> AddressMap {
        AddressMap::new(self.estate.addresses.iter().filter_map(|(h, a)| {
            match self.inv.host(h)?.address {
                std::net::IpAddr::V4(lab) => Some((*a, lab)),
                std::net::IpAddr::V6(_) => None,
            }
        }))
    }

    fn ssh_op(
        &self,
        host: &str,
        command: String,
        limit: Limit,
        what: &'static str,
    ) -> OpResult<SshOp> {
        let e = self.entry(host)?;
        let (Some(ssh), Some(addr)) = (e.ssh.as_ref(), e.ssh_addr()) else {
            return Err(OpError::from(SshError::NotInInventory {
                host: host.to_string(),
            }));
        };
        Ok(SshOp {
            host: host.to_string(),
            user: ssh.user.clone(),
            addr,
            command,
            script: None,
            stdin_credential: None,
            limit,
            what,
        })
    }

    fn ssh(
        &self,
        host: &str,
        command: String,
        limit: Limit,
        what: &'static str,
    ) -> OpResult<LabOp> {
        self.ssh_op(host, command, limit, what).map(LabOp::Ssh)
    }

    fn ps(&self, host: &str, c: &PsCommand, what: &'static str) -> OpResult<LabOp> {
        let mut op = self.ssh_op(host, c.command_line(), Limit::Command, what)?;
        op.script = Some(c.script.clone());
        Ok(LabOp::Ssh(op))
    }

    /// The lab unit of a scenario service (inventory `[services]`).
    pub fn lab_service(&self, service: &str) -> OpResult<&'a str> {
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

    /// The mail root of a host (default `/srv/mail`).
    pub fn mail_root(&self, host: &str) -> OpResult<String> {
        Ok(self
            .entry(host)?
            .mail_root
            .clone()
            .unwrap_or_else(|| "/srv/mail".to_string()))
    }

    /// The users of `store` on `host`, which must be one of its stores.
    pub fn check_store(&self, host: &str, store: &StoreRef) -> OpResult<Vec<&'a str>> {
        let known = self
            .estate
            .stores
            .get(host)
            .is_some_and(|v| v.iter().any(|s| s.id == *store));
        if !known {
            return Err(OpError::not_found(format!("store {store} on {host}")));
        }
        Ok(self.estate.users_of(store))
    }

    /// The lab unit that hosts the stores (the scenario's store service).
    pub fn store_unit(&self) -> OpResult<&'a str> {
        self.lab_service(&self.estate.store_service)
    }

    /// The first domain controller with LDAP access in the inventory.
    pub fn first_dc(&self) -> Option<&'a str> {
        self.dcs().next()
    }

    /// The inventory's domain controllers with LDAP access, in its order.
    pub fn dcs(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.inv
            .hosts
            .iter()
            .filter(|h| h.roles.contains(&LabRole::DomainController) && h.ldap.is_some())
            .map(|h| h.name.as_str())
    }

    /// The LDAP access of `dc` and where its objects are.
    pub fn ldap(&self, dc: &str) -> OpResult<(&'a LdapDef, AdLayout)> {
        let ldap =
            self.entry(dc)?.ldap.as_ref().ok_or_else(|| {
                OpError::not_found(format!("LDAP access to {dc} in the inventory"))
            })?;
        Ok((ldap, AdLayout::lab(&ldap.base, &self.estate.domain)))
    }

    fn ad(&self, dc: &str, change: AdChange) -> OpResult<Vec<LabOp>> {
        let (ldap, layout) = self.ldap(dc)?;
        change.check().map_err(OpError::from)?;
        Ok(vec![LabOp::Ldap {
            dc: dc.to_string(),
            url: ldap.url.clone(),
            bind: ldap.bind.clone(),
            layout,
            change,
        }])
    }

    fn faults(&self) -> FaultPlanner<'a> {
        FaultPlanner::new(self.inv, FaultLimits::default())
    }

    fn engine(ops: Result<Vec<EngineOp>, crate::faults::FaultError>) -> OpResult<Vec<LabOp>> {
        ops.map(|v| v.into_iter().map(LabOp::Engine).collect())
            .map_err(OpError::from)
    }

    // ------------------------------------------------------------ services

    /// `Services::start_service`.
    pub fn start_service(&self, host: &str, service: &str) -> OpResult<Vec<LabOp>> {
        match self.entry(host)?.dialect {
            Dialect::Linux => {
                let unit = self.lab_service(service)?;
                let cmd = linux::start(unit).map_err(dialect_error(host))?;
                Ok(vec![self.ssh(host, cmd, Limit::Command, "start")?])
            }
            Dialect::Windows => {
                let c =
                    windows::start_service(service, SERVICE_WAIT_S).map_err(dialect_error(host))?;
                Ok(vec![self.ps(host, &c, "Start-Service")?])
            }
        }
    }

    /// `Services::stop_service`. Stopping the store service dismounts the
    /// stores it has mounted, which writes their files
    /// ([`stores::stop_store_service_script`]).
    pub fn stop_service(&self, host: &str, service: &str) -> OpResult<Vec<LabOp>> {
        match self.entry(host)?.dialect {
            Dialect::Linux => {
                let unit = self.lab_service(service)?;
                let mut cmd = linux::stop(unit).map_err(dialect_error(host))?;
                if service == self.estate.store_service {
                    let stores: Vec<Vec<&str>> =
                        self.stores_of(host)?.into_iter().map(|(_, u)| u).collect();
                    if !stores.is_empty() {
                        cmd = stores::stop_store_service_script(
                            unit,
                            &self.mail_root(host)?,
                            &stores,
                            &cmd,
                        );
                    }
                }
                Ok(vec![self.ssh(host, cmd, Limit::Command, "stop")?])
            }
            Dialect::Windows => {
                let c =
                    windows::stop_service(service, SERVICE_WAIT_S).map_err(dialect_error(host))?;
                Ok(vec![self.ps(host, &c, "Stop-Service")?])
            }
        }
    }

    /// `Services::set_startup_type`.
    pub fn set_startup_type(
        &self,
        host: &str,
        service: &str,
        startup: StartupType,
    ) -> OpResult<Vec<LabOp>> {
        match self.entry(host)?.dialect {
            Dialect::Linux => {
                let unit = self.lab_service(service)?;
                let cmd = linux::set_startup(unit, startup).map_err(dialect_error(host))?;
                Ok(vec![self.ssh(host, cmd, Limit::Command, "startup")?])
            }
            Dialect::Windows => {
                let c = windows::set_startup_type(service, startup).map_err(dialect_error(host))?;
                Ok(vec![self.ps(host, &c, "Set-Service")?])
            }
        }
    }

    // ------------------------------------------------------------ stores

    /// `MailStores::mount_store`: on Linux one script that checks the store
    /// service, leaves a mounted store alone, checks the overwrite flag on a
    /// host whose stores arrive by replication, and mounts.
    pub fn mount_store(&self, host: &str, store: &StoreRef) -> OpResult<Vec<LabOp>> {
        let users = self.check_store(host, store)?;
        match self.entry(host)?.dialect {
            Dialect::Windows => {
                let id = EXCHANGE_SHELL.database_identity(host, &store.group, &store.store);
                Ok(vec![self.ps(
                    host,
                    &windows::mount_database(EXCHANGE_SHELL, &id),
                    "Mount-Database",
                )?])
            }
            Dialect::Linux => {
                let unit = self.store_unit()?;
                let flag = self.estate.replica_targets.contains(host).then_some(store);
                Ok(vec![self.ssh(
                    host,
                    stores::mount_script(unit, &self.mail_root(host)?, &users, flag),
                    Limit::Command,
                    "mount",
                )?])
            }
        }
    }

    /// `MailStores::dismount_store`.
    pub fn dismount_store(&self, host: &str, store: &StoreRef) -> OpResult<Vec<LabOp>> {
        let users = self.check_store(host, store)?;
        match self.entry(host)?.dialect {
            Dialect::Windows => {
                let id = EXCHANGE_SHELL.database_identity(host, &store.group, &store.store);
                Ok(vec![self.ps(
                    host,
                    &windows::dismount_database(EXCHANGE_SHELL, &id),
                    "Dismount-Database",
                )?])
            }
            Dialect::Linux => Ok(vec![self.ssh(
                host,
                stores::dismount_script(self.store_unit()?, &self.mail_root(host)?, &users),
                Limit::Command,
                "dismount",
            )?]),
        }
    }

    /// `MailStores::set_overwrite_on_restore`.
    pub fn set_overwrite_on_restore(
        &self,
        host: &str,
        store: &StoreRef,
        on: bool,
    ) -> OpResult<Vec<LabOp>> {
        self.check_store(host, store)?;
        match self.entry(host)?.dialect {
            Dialect::Windows => Err(unsupported(format!(
                "the overwrite-on-restore flag of {store} on {host}: set it with the Exchange Failover utility (exchfailover -setup), which drlab does not ship"
            ))),
            Dialect::Linux => Ok(vec![self.ssh(
                host,
                stores::overwrite_script(store, on),
                Limit::Command,
                "overwrite flag",
            )?]),
        }
    }

    /// `MailStores::soft_recovery` (`hard = false`) and `hard_recovery`:
    /// refused by the script (exit 7) while the store is mounted.
    pub fn recovery(&self, host: &str, store: &StoreRef, hard: bool) -> OpResult<Vec<LabOp>> {
        let users = self.check_store(host, store)?;
        match self.entry(host)?.dialect {
            Dialect::Windows => Err(unsupported(format!(
                "eseutil recovery of {store} on {host}: not wired for Windows hosts"
            ))),
            Dialect::Linux => {
                let unit = self.store_unit()?;
                let script = stores::unless_mounted(
                    &[(unit, users.clone())],
                    7,
                    &stores::recovery_script(&users, hard),
                );
                Ok(vec![self.ssh(host, script, Limit::Copy, "recovery")?])
            }
        }
    }

    /// The stores of `host` as `(store unit, users)`, for mount checks.
    fn stores_of(&self, host: &str) -> OpResult<Vec<(&'a str, Vec<&'a str>)>> {
        let list = self.estate.stores.get(host);
        if list.is_none_or(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let unit = self.store_unit()?;
        Ok(list
            .into_iter()
            .flatten()
            .map(|st| (unit, self.estate.users_of(&st.id)))
            .collect())
    }

    /// Checks, run on `host`, that none of its stores is mounted (exit
    /// `code` otherwise), before data is written over them.
    fn none_mounted(&self, host: &str, code: u8) -> OpResult<Vec<LabOp>> {
        match self.entry(host)?.dialect {
            Dialect::Linux => {
                let stores = self.stores_of(host)?;
                if stores.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![self.ssh(
                    host,
                    stores::unless_mounted(&stores, code, "true"),
                    Limit::Command,
                    "mount check",
                )?])
            }
            Dialect::Windows => self
                .estate
                .stores
                .get(host)
                .into_iter()
                .flatten()
                .map(|st| {
                    let id = EXCHANGE_SHELL.database_identity(host, &st.id.group, &st.id.store);
                    self.ps(
                        host,
                        &windows::database_mounted(EXCHANGE_SHELL, &id),
                        "Get-MailboxDatabase",
                    )
                })
                .collect(),
        }
    }

    // ------------------------------------------------------------ hosts

    /// `Hosts::reboot`: a container is killed and started by its engine; a
    /// host restarts itself. Then the wait until it answers on SSH.
    pub fn reboot(&self, host: &str) -> OpResult<Vec<LabOp>> {
        let e = self.entry(host)?;
        let wait = |after_ms| LabOp::WaitUp {
            host: host.to_string(),
            after_ms,
            poll_ms: self.limits.poll_interval_ms * 4,
            limit_ms: self.limits.boot_timeout_ms,
        };
        if e.container.is_some() {
            // A container cannot reboot itself: its engine stops and starts it.
            let mut v = Commands::engine(self.faults().crash(host))?;
            v.extend(Commands::engine(self.faults().power_on(host))?);
            v.push(wait(0));
            return Ok(v);
        }
        // The restart drops the SSH session, so its command's end is not waited for.
        let restart = match e.dialect {
            Dialect::Linux => self.ssh(
                host,
                "(sleep 1; reboot) >/dev/null 2>&1 &".into(),
                Limit::Command,
                "reboot",
            )?,
            Dialect::Windows => self.ps(host, &windows::restart_computer(), "Restart-Computer")?,
        };
        Ok(vec![restart, wait(REBOOT_GRACE_MS)])
    }

    /// `Hosts::rename`.
    pub fn rename(&self, host: &str, new_name: &str) -> OpResult<Vec<LabOp>> {
        let e = self.entry(host)?;
        if e.container.is_some() {
            return Err(unsupported(format!(
                "rename {host} to {new_name}: a container's host name is fixed when it is created"
            )));
        }
        match e.dialect {
            Dialect::Linux => Ok(vec![self.ssh(
                host,
                format!("hostnamectl set-hostname {}", sh_quote(new_name)),
                Limit::Command,
                "hostnamectl",
            )?]),
            Dialect::Windows => Err(unsupported(format!(
                "rename {host}: Rename-Computer needs a domain credential the inventory does not name"
            ))),
        }
    }

    /// `Hosts::join_domain`: the lab's hosts are members through their
    /// computer accounts, made on the first DC unless they exist.
    pub fn join_domain(&self, host: &str, domain: &str) -> OpResult<Vec<LabOp>> {
        if !domain.eq_ignore_ascii_case(&self.estate.domain) {
            return Err(OpError::refused(format!(
                "{host} can only join the lab's domain {}, not {domain}",
                self.estate.domain
            )));
        }
        let dc = self.first_dc().ok_or_else(|| {
            OpError::not_found("a domain controller with LDAP access in the inventory")
        })?;
        self.ad(
            dc,
            AdChange::EnsureComputer {
                name: host.to_string(),
            },
        )
    }

    /// `Hosts::leave_domain`: unsupported.
    pub fn leave_domain(&self, host: &str) -> OpResult<Vec<LabOp>> {
        Err(unsupported(format!(
            "{host} leaving the domain: the lab's mail hosts are members only through their computer accounts; remove the account instead"
        )))
    }

    fn fqdn(&self, host: &str) -> String {
        format!("{}.{}", host.to_ascii_lowercase(), self.estate.domain)
    }

    /// `Hosts::take_over_identity`: for the addresses, the check that
    /// nobody answers at `from`'s address, then the address on `to`; for
    /// the name, `to`'s hosts-file alias.
    pub fn take_over_identity(
        &self,
        from: &str,
        to: &str,
        items: IdentityItems,
    ) -> OpResult<Vec<LabOp>> {
        let e = self.entry(from)?;
        let addr = e.address.to_string();
        let mut v = Vec::new();
        if items.ip_addresses {
            let port = e.ssh.as_ref().map_or(22, |s| s.port);
            v.push(LabOp::AddressFree {
                host: from.to_string(),
                addr: SocketAddr::new(e.address, port),
                limit_ms: ADDRESS_CHECK_MS,
            });
            v.push(self.ssh(
                to,
                hosts::take_ip_script(&addr),
                Limit::Command,
                "ip addr add",
            )?);
        }
        if items.server_name {
            v.push(self.ssh(
                to,
                hosts::alias_script(&addr, from, &self.fqdn(from), true),
                Limit::Command,
                "name alias",
            )?);
        }
        Ok(v)
    }

    /// `Hosts::release_identity`.
    pub fn release_identity(
        &self,
        from: &str,
        to: &str,
        items: IdentityItems,
    ) -> OpResult<Vec<LabOp>> {
        let addr = self.entry(from)?.address.to_string();
        let mut v = Vec::new();
        if items.ip_addresses {
            v.push(self.ssh(
                to,
                hosts::release_ip_script(&addr),
                Limit::Command,
                "ip addr del",
            )?);
        }
        if items.server_name {
            v.push(self.ssh(
                to,
                hosts::alias_script(&addr, from, &self.fqdn(from), false),
                Limit::Command,
                "name alias",
            )?);
        }
        Ok(v)
    }

    /// `Hosts::boot_on`: unsupported.
    pub fn boot_on(&self, host: &str, server: &str) -> OpResult<Vec<LabOp>> {
        Err(unsupported(format!(
            "boot {host} on server {server}: the container lab has no physical server pool or persona images"
        )))
    }

    // ------------------------------------------------------------ directory

    /// `Directory::create_computer`.
    pub fn create_computer(&self, dc: &str, name: &str) -> OpResult<Vec<LabOp>> {
        self.ad(
            dc,
            AdChange::CreateComputer {
                name: name.to_string(),
            },
        )
    }

    /// `Directory::rename_computer`.
    pub fn rename_computer(&self, dc: &str, old: &str, new: &str) -> OpResult<Vec<LabOp>> {
        self.ad(
            dc,
            AdChange::RenameComputer {
                old: old.to_string(),
                new: new.to_string(),
            },
        )
    }

    /// `Directory::remove_computer`.
    pub fn remove_computer(&self, dc: &str, name: &str) -> OpResult<Vec<LabOp>> {
        self.ad(
            dc,
            AdChange::RemoveComputer {
                name: name.to_string(),
            },
        )
    }

    /// `Directory::set_mailbox_home`.
    pub fn set_mailbox_home(
        &self,
        dc: &str,
        mailbox: &str,
        server: &str,
        store: &StoreRef,
    ) -> OpResult<Vec<LabOp>> {
        self.ad(
            dc,
            AdChange::SetMailboxHome {
                mailbox: mailbox.to_string(),
                server: server.to_string(),
                store: store.clone(),
            },
        )
    }

    /// `Directory::force_replication`: `samba-tool drs replicate` of every
    /// naming context drlab changes, run on the receiving DC, the bind
    /// password on stdin. Nothing when `from` is `to`.
    pub fn force_replication(&self, from: &str, to: &str) -> OpResult<Vec<LabOp>> {
        if from == to {
            return Ok(Vec::new());
        }
        let (ldap, _) = self.ldap(to)?;
        let user = ldap.bind.split('@').next().unwrap_or(&ldap.bind);
        crate::ldap::samba_force_replication_as(to, from, &ldap.base, user)
            .iter()
            .map(|cmd| {
                let mut op =
                    self.ssh_op(to, cmd.posix_line(), Limit::Command, "forced replication")?;
                op.stdin_credential = Some(ldap.password_credential.clone());
                Ok(LabOp::Ssh(op))
            })
            .collect()
    }

    // ------------------------------------------------------------ DNS

    fn dns(&self, server: &str, change: DnsChange) -> OpResult<Vec<LabOp>> {
        let e = self.entry(server)?;
        let def = e.dns.as_ref().ok_or_else(|| {
            OpError::not_found(format!("DNS service on {server} in the inventory"))
        })?;
        let change = match change {
            DnsChange::Add(r) => DnsChange::Add(self.addresses().record_to_lab(&r)),
            DnsChange::Delete(r) => DnsChange::Delete(self.addresses().record_to_lab(&r)),
        };
        let (DnsChange::Add(r) | DnsChange::Delete(r)) = &change;
        crate::dns::message::to_record(r).map_err(OpError::from)?;
        Ok(vec![LabOp::Dns {
            server: server.to_string(),
            addr: SocketAddr::new(e.address, def.port),
            tsig_credential: def.tsig.clone(),
            change,
        }])
    }

    /// `Dns::add_record`.
    pub fn add_record(&self, server: &str, record: &DnsRecord) -> OpResult<Vec<LabOp>> {
        self.dns(server, DnsChange::Add(record.clone()))
    }

    /// `Dns::delete_record`.
    pub fn delete_record(&self, server: &str, record: &DnsRecord) -> OpResult<Vec<LabOp>> {
        self.dns(server, DnsChange::Delete(record.clone()))
    }

    /// `Dns::flush_cache`.
    pub fn flush_cache(&self, client: &str) -> OpResult<Vec<LabOp>> {
        if !self.estate.clients.iter().any(|c| c.name == client) {
            return Err(OpError::not_found(format!(
                "client {client} in the scenario"
            )));
        }
        Ok(vec![LabOp::FlushCache {
            client: client.to_string(),
        }])
    }

    // ------------------------------------------------------------ replication

    /// `Replication::connect`: on the source, stop lsyncd, mirror as asked,
    /// write lsyncd's configuration for the target and start it.
    pub fn connect(&self, source: &str, target: &str, mirror: MirrorMode) -> OpResult<Vec<LabOp>> {
        let dir = self.mail_root(source)?;
        replication::check_dir(&dir).map_err(OpError::from)?;
        let peer = self.entry(target)?.address;
        let script = replication::connect_script(
            &dir,
            peer,
            mirror,
            ReplicationLimits::default().lsyncd_delay_s,
        );
        Ok(vec![self.ssh(source, script, Limit::Copy, "connect")?])
    }

    /// `Replication::pause`.
    pub fn pause(&self, source: &str, _target: &str) -> OpResult<Vec<LabOp>> {
        Ok(vec![self.ssh(
            source,
            replication::pause_script(),
            Limit::Command,
            "pause",
        )?])
    }

    /// `Replication::resume`.
    pub fn resume(&self, source: &str, _target: &str) -> OpResult<Vec<LabOp>> {
        Ok(vec![self.ssh(
            source,
            replication::resume_script(),
            Limit::Command,
            "resume",
        )?])
    }

    /// `Replication::disconnect`.
    pub fn disconnect(&self, source: &str, _target: &str) -> OpResult<Vec<LabOp>> {
        Ok(vec![self.ssh(
            source,
            replication::disconnect_script(),
            Limit::Command,
            "disconnect",
        )?])
    }

    /// `Replication::restore`: the check on `to` that none of its stores is
    /// mounted (files in use cannot be overwritten, as on Exchange), then
    /// rsync from `from` over `to` ([`replication::restore_script`]).
    pub fn restore(&self, from: &str, to: &str, options: RestoreOptions) -> OpResult<Vec<LabOp>> {
        let mut v = self.none_mounted(to, 6)?;
        let dir = self.mail_root(to)?;
        replication::check_dir(&dir).map_err(OpError::from)?;
        let origin = self.entry(to)?.address;
        v.push(self.ssh(
            from,
            replication::restore_script(&dir, origin, options.only_if_backup_newer),
            Limit::Copy,
            "restore",
        )?);
        Ok(v)
    }

    // ------------------------------------------------------------ SAN, switches

    /// The SAN host: the first inventory host with role `san` (tgt,
    /// reached over SSH, Linux). Unsupported when there is none; `what`
    /// says which call needed it.
    pub fn san_host(&self, what: &str) -> OpResult<&'a str> {
        let h = self
            .inv
            .hosts
            .iter()
            .find(|h| h.roles.contains(&LabRole::San))
            .ok_or_else(|| {
                unsupported(format!(
                    "{what}: the lab inventory has no SAN host (a host with role `san` running tgt)"
                ))
            })?;
        if h.dialect != Dialect::Linux {
            return Err(unsupported(format!(
                "{what}: the SAN host {} is not a Linux host with tgt",
                h.name
            )));
        }
        Ok(h.name.as_str())
    }

    /// The SAN host and `volume`'s target on it (its number comes from the
    /// estate's volume list).
    pub fn san_target(&self, what: &str, volume: &str) -> OpResult<(&'a str, san::Target)> {
        let host = self.san_host(what)?;
        let t = san::Target::of(self.estate.volumes.iter().map(|v| v.name.as_str()), volume)?;
        Ok((host, t))
    }

    fn san_ssh(
        &self,
        host: &str,
        script: Result<String, san::SanError>,
        limit: Limit,
        what: &'static str,
    ) -> OpResult<LabOp> {
        self.ssh(host, script.map_err(OpError::from)?, limit, what)
    }

    /// `San::grant`: on the SAN host, the volume's target and LUN created
    /// where missing, then the initiator bound ([`san::grant_script`]).
    pub fn grant(&self, volume: &str, initiator: &str) -> OpResult<Vec<LabOp>> {
        let what = format!("grant {initiator} on volume {volume}");
        let (s, t) = self.san_target(&what, volume)?;
        Ok(vec![self.san_ssh(
            s,
            san::grant_script(&t, initiator),
            Limit::Command,
            "grant",
        )?])
    }

    /// `San::revoke`: on the SAN host, the initiator unbound
    /// ([`san::revoke_script`]).
    pub fn revoke(&self, volume: &str, initiator: &str) -> OpResult<Vec<LabOp>> {
        let what = format!("revoke {initiator} on volume {volume}");
        let (s, t) = self.san_target(&what, volume)?;
        Ok(vec![self.san_ssh(
            s,
            san::revoke_script(&t, initiator),
            Limit::Command,
            "revoke",
        )?])
    }

    /// `San::attach`: on the SAN host, the check that the volume's target
    /// exists; then on `host` (Linux), a login with the host's initiator
    /// name and a read-only data check through iSCSI
    /// ([`san::login_script`]). Nothing stays logged in: libiscsi's tools
    /// log out when they exit.
    pub fn attach(&self, host: &str, volume: &str) -> OpResult<Vec<LabOp>> {
        let what = format!("attach {volume} to {host}");
        let (s, t) = self.san_target(&what, volume)?;
        if self.entry(host)?.dialect != Dialect::Linux {
            return Err(unsupported(format!(
                "{what}: the lab's initiator is libiscsi on Linux hosts"
            )));
        }
        let initiator = self.estate.initiator(host);
        let login = san::login_script(&t, self.entry(s)?.address, &initiator);
        Ok(vec![
            self.ssh(s, san::target_check_script(&t), Limit::Command, "SAN check")?,
            self.san_ssh(host, login, Limit::Command, "iSCSI login")?,
        ])
    }

    /// `San::detach`: libiscsi keeps no session, so there is nothing to
    /// log out; on the SAN host, the check that the host's initiator has no
    /// session left on the volume ([`san::detach_script`]).
    pub fn detach(&self, host: &str, volume: &str) -> OpResult<Vec<LabOp>> {
        let what = format!("detach {volume} from {host}");
        let (s, t) = self.san_target(&what, volume)?;
        self.entry(host)?;
        let initiator = self.estate.initiator(host);
        Ok(vec![self.san_ssh(
            s,
            san::detach_script(&t, &initiator),
            Limit::Command,
            "detach",
        )?])
    }

    /// `San::snapshot`: on the SAN host, a copy of the volume's backing
    /// file named by the snapshot ([`san::snapshot_script`]).
    pub fn snapshot(&self, volume: &str, name: &str) -> OpResult<Vec<LabOp>> {
        let what = format!("snapshot {name} of {volume}");
        let (s, t) = self.san_target(&what, volume)?;
        Ok(vec![self.san_ssh(
            s,
            san::snapshot_script(&t, name),
            Limit::Copy,
            "snapshot",
        )?])
    }

    /// The set-up of the SAN before a drill (not a trait method, not
    /// journalled): each estate volume's target made, with exactly its
    /// starting initiators allowed ([`san::prepare_script`]). Nothing when
    /// the estate has no volume; unsupported when it has some and the
    /// inventory no SAN host.
    pub fn prepare_san(&self) -> OpResult<Vec<LabOp>> {
        if self.estate.volumes.is_empty() {
            return Ok(Vec::new());
        }
        self.estate
            .volumes
            .iter()
            .map(|v| {
                let (s, t) = self.san_target(&format!("set-up of volume {}", v.name), &v.name)?;
                self.san_ssh(
                    s,
                    san::prepare_script(&t, &v.initiators),
                    Limit::Command,
                    "SAN set-up",
                )
            })
            .collect()
    }

    /// `Switches::set_port_vlans`: unsupported.
    pub fn set_port_vlans(&self, server: &str, _vlans: &[u16]) -> OpResult<Vec<LabOp>> {
        Err(unsupported(format!(
            "VLANs of {server}'s switch port: the container lab has no managed switch"
        )))
    }

    // ------------------------------------------------------------ archives

    fn linux_archives(&self, host: &str) -> OpResult<()> {
        match self.entry(host)?.dialect {
            Dialect::Linux => Ok(()),
            Dialect::Windows => Err(unsupported(format!(
                "archives of {host}: tar archives of the mail root are wired for Linux hosts only"
            ))),
        }
    }

    /// `Archives::take_archive`: a tar of the mail root, named by the
    /// host's clock.
    pub fn take_archive(&self, host: &str, level_h: u32) -> OpResult<Vec<LabOp>> {
        self.linux_archives(host)?;
        let root = self.mail_root(host)?;
        Ok(vec![self.ssh(
            host,
            stores::archive_take_script(&root, host, level_h),
            Limit::Copy,
            "archive",
        )?])
    }

    /// `Archives::restore_archive`: refused by the script while a store of
    /// the host is mounted (exit 6) or when the archive is missing (exit 4).
    pub fn restore_archive(&self, id: &str, host: &str) -> OpResult<Vec<LabOp>> {
        self.linux_archives(host)?;
        let root = self.mail_root(host)?;
        let restore = stores::archive_restore_script(&root, id).map_err(OpError::invalid_state)?;
        let script = stores::unless_mounted(&self.stores_of(host)?, 6, &restore);
        Ok(vec![self.ssh(
            host,
            script,
            Limit::Copy,
            "archive restore",
        )?])
    }

    // ------------------------------------------------------------ faults

    /// `Faults::inject`, through the container engine.
    pub fn inject(&self, fault: &Fault) -> OpResult<Vec<LabOp>> {
        Commands::engine(self.faults().fault(fault))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::estate::Mailbox;
    use drlab_drivers::types::StoreInfo;

    fn inventory(dialect: &str) -> Inventory {
        Inventory::parse(
            std::path::Path::new("i.toml"),
            &format!(
                "[lab]\nname='x'\ndomain='corp.example.com'\n[credentials]\nadmin={{env='X'}}\n\
                 [[hosts]]\nname='DC1'\naddress='10.0.0.10'\nroles=['domain-controller']\n\
                 ssh={{user='root',key_file='/k'}}\n\
                 ldap={{url='ldap://10.0.0.10',bind='Administrator@CORP.EXAMPLE.COM',password_credential='admin',base='DC=corp,DC=example,DC=com'}}\n\
                 dns={{port=53,tsig='admin'}}\n\
                 [[hosts]]\nname='EXCH2'\naddress='10.0.0.12'\ndialect='{dialect}'\nssh={{user='admin',port=2222,key_file='/k'}}\n\
                 [services]\nMSExchangeSA='exchange-sa'\nMSExchangeIS='dovecot'\n"
            ),
        )
        .unwrap()
    }

    fn estate() -> Estate {
        let store = StoreRef::new("SG", "Mailbox Store");
        let mut e = Estate {
            domain: "corp.example.com".into(),
            store_service: "MSExchangeIS".into(),
            mailboxes: vec![Mailbox {
                name: "o'brien".into(),
                server: "EXCH2".into(),
                store: store.clone(),
            }],
            ..Estate::default()
        };
        e.stores.insert(
            "EXCH2".into(),
            vec![StoreInfo {
                id: store,
                file: "priv1.edb".into(),
                log_prefix: "E00".into(),
                public: false,
                mounted: false,
                overwrite_on_restore: false,
            }],
        );
        e.replica_targets.insert("EXCH2".into());
        e
    }

    #[test]
    fn a_linux_command_is_shown_as_sent() {
        let (inv, est) = (inventory("linux"), estate());
        let c = Commands::new(&inv, &est, LabLimits::default());
        let ops = c.start_service("EXCH2", "MSExchangeSA").unwrap();
        assert_eq!(
            lines(&Ok(ops.clone())),
            ["ssh -p 2222 admin@10.0.0.12 (EXCH2): /usr/local/sbin/drlab-svc start exchange-sa"]
        );
        let LabOp::Ssh(op) = &ops[0] else { panic!() };
        assert_eq!(op.command, linux::start("exchange-sa").unwrap());
        // the store of a replica host is mounted only with its flag; names are quoted
        let m = lines(&c.mount_store("EXCH2", &StoreRef::new("SG", "Mailbox Store")));
        assert!(m[0].contains("drlab-svc status dovecot"), "{m:?}");
        assert!(m[0].contains("for u in 'o'\\''brien'"), "{m:?}");
        assert!(
            m[0].contains("[ -f /var/lib/drlab/stores/SG--Mailbox_Store.overwrite ] || exit 5"),
            "{m:?}"
        );
    }

    #[test]
    fn a_powershell_command_shows_its_script_and_sends_it_encoded() {
        let (inv, est) = (inventory("windows"), estate());
        let c = Commands::new(&inv, &est, LabLimits::default());
        let ops = c.start_service("EXCH2", "O'Brien Svc").unwrap();
        let LabOp::Ssh(op) = &ops[0] else { panic!() };
        let ps = windows::start_service("O'Brien Svc", SERVICE_WAIT_S).unwrap();
        assert_eq!(op.command, ps.command_line());
        let line = ops[0].to_string();
        assert!(
            line.starts_with("ssh -p 2222 admin@10.0.0.12 (EXCH2): powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <this script, UTF-16LE in base64>:\n"),
            "{line}"
        );
        assert!(
            line.contains("Start-Service -Name 'O''Brien Svc'\n"),
            "{line}"
        );
        assert!(
            line.contains("WaitForStatus('Running', [TimeSpan]::FromSeconds(60))"),
            "{line}"
        );
        // Windows has no drlab-svc and no overwrite flag file
        let s = lines(&c.set_startup_type("EXCH2", "MSExchangeIS", StartupType::Manual));
        assert!(
            s[0].contains("Set-Service -Name 'MSExchangeIS' -StartupType Manual"),
            "{s:?}"
        );
        let o = lines(&c.set_overwrite_on_restore(
            "EXCH2",
            &StoreRef::new("SG", "Mailbox Store"),
            true,
        ));
        assert!(
            o[0].starts_with("(refused before anything is sent: unsupported"),
            "{o:?}"
        );
    }

    #[test]
    fn passwords_are_named_never_carried() {
        let (inv, est) = (inventory("linux"), estate());
        let c = Commands::new(&inv, &est, LabLimits::default());
        let ops = c.force_replication("DC2", "DC1").unwrap();
        assert_eq!(ops.len(), 4, "one per naming context");
        let line = ops[0].to_string();
        assert_eq!(
            line,
            "ssh root@10.0.0.10 (DC1) with the password of credential \"admin\" on stdin: \
             PASSWD_FD=0 samba-tool drs replicate DC1 DC2 DC=corp,DC=example,DC=com --sync-forced -U Administrator"
        );
        let d = lines(&c.add_record(
            "DC1",
            &DnsRecord {
                name: "exch1.corp.example.com".into(),
                rtype: drlab_drivers::types::RecordType::A,
                data: "10.0.0.12".into(),
                ttl_s: 300,
            },
        ));
        assert_eq!(
            d,
            [
                "dns 10.0.0.10:53 (DC1): SOA query for exch1.corp.example.com to find its zone, then an RFC 2136 UPDATE of that zone, \
              signed with the TSIG key of credential \"admin\": add exch1.corp.example.com 300 IN A 10.0.0.12"
            ]
        );
        assert!(c.force_replication("DC1", "DC1").unwrap().is_empty());
    }

    #[test]
    fn san_calls_run_on_the_san_host_and_the_attaching_host() {
        let (inv, mut est) = (inventory("linux"), estate());
        let c = Commands::new(&inv, &est, LabLimits::default());
        // no SAN host in the inventory: unsupported, nothing sent
        let e = c.grant("V1", "iqn.x").unwrap_err();
        assert!(matches!(e, OpError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("no SAN host"), "{e}");
        let mut inv = inv;
        inv.hosts.push(
            Inventory::parse(
                std::path::Path::new("s.toml"),
                "[lab]\nname='x'\ndomain='d'\n[[hosts]]\nname='SAN1'\naddress='10.0.0.20'\n\
                 roles=['san']\nssh={user='root',key_file='/k'}\n",
            )
            .unwrap()
            .hosts
            .remove(0),
        );
        est.volumes.push(crate::lab::estate::Volume {
            name: "V0".into(),
            initiators: Vec::new(),
        });
        est.volumes.push(crate::lab::estate::Volume {
            name: "Database 1".into(),
            initiators: Vec::new(),
        });
        est.initiators.insert("EXCH2".into(), "Exchange2".into());
        let c = Commands::new(&inv, &est, LabLimits::default());
        let t = san::Target::of(["V0", "Database 1"], "Database 1").unwrap();
        assert_eq!(t.tid, 2);
        let g = c.grant("Database 1", "Exchange2").unwrap();
        assert_eq!(
            lines(&Ok(g)),
            [format!(
                "ssh root@10.0.0.20 (SAN1): {}",
                san::grant_script(&t, "Exchange2").unwrap()
            )]
        );
        let a = c.attach("EXCH2", "Database 1").unwrap();
        let LabOp::Ssh(check) = &a[0] else { panic!() };
        let LabOp::Ssh(login) = &a[1] else { panic!() };
        assert_eq!(
            (check.host.as_str(), check.command.clone()),
            ("SAN1", san::target_check_script(&t))
        );
        // the host's own initiator name, to the SAN's address
        assert_eq!(login.host, "EXCH2");
        assert_eq!(
            login.command,
            san::login_script(&t, "10.0.0.20".parse().unwrap(), "Exchange2").unwrap()
        );
        let LabOp::Ssh(d) = &c.detach("EXCH2", "Database 1").unwrap()[0] else {
            panic!()
        };
        assert_eq!(d.command, san::detach_script(&t, "Exchange2").unwrap());
        let LabOp::Ssh(s) = &c.snapshot("Database 1", "s1").unwrap()[0] else {
            panic!()
        };
        assert_eq!((s.host.as_str(), s.limit), ("SAN1", Limit::Copy));
        // names a shell could read are refused before anything is built
        for e in [
            c.grant("Database 1", "x'; reboot").unwrap_err(),
            c.snapshot("Database 1", "$(id)").unwrap_err(),
            c.revoke("V0;x", "iqn.x").unwrap_err(),
        ] {
            assert!(matches!(e, OpError::Refused { .. }), "{e}");
        }
        let e = c.attach("EXCH2", "V9").unwrap_err();
        assert!(matches!(e, OpError::NotFound { .. }), "{e}");
        assert_eq!(c.prepare_san().unwrap().len(), 2);
        // a Windows host has no libiscsi
        let win = inventory("windows");
        let mut win_inv = win.clone();
        win_inv.hosts.push(inv.hosts.last().unwrap().clone());
        let c = Commands::new(&win_inv, &est, LabLimits::default());
        let e = c.attach("EXCH2", "V0").unwrap_err();
        assert!(matches!(e, OpError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn names_that_do_not_resolve_are_refused_as_the_backend_refuses_them() {
        let (inv, est) = (inventory("linux"), estate());
        let c = Commands::new(&inv, &est, LabLimits::default());
        let e = c.start_service("EXCH9", "MSExchangeSA").unwrap_err();
        assert!(e.to_string().contains("EXCH9 in the inventory"), "{e}");
        let e = c.start_service("EXCH2", "W3SVC").unwrap_err();
        assert!(
            e.to_string().contains("a lab mapping for service W3SVC"),
            "{e}"
        );
        assert_eq!(
            lines(&Err(e.clone())),
            [format!("(refused before anything is sent: {e})")]
        );
        let e = c
            .mount_store("EXCH2", &StoreRef::new("SG", "Nope"))
            .unwrap_err();
        assert!(matches!(e, OpError::NotFound { .. }), "{e}");
    }
}
