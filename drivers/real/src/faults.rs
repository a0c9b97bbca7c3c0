//! Fault injection into a container lab through the container engine's CLI
//! (`docker`): crash (kill), power on, pause, network partitions and heals,
//! link degradation with `tc`, and a service's death.
//!
//! Only containers of the inventory are touched: a host is resolved through
//! the inventory to its `container`, and that container must carry the label
//! `drlab.lab=<inventory's lab name>` (the lab harness sets it) before
//! anything is done to it.
//!
//! Mapping of the interface's faults:
//! * `crash-host`, `power-off`: `docker kill` (SIGKILL to every process, no
//!   clean shutdown); `power-on`: `docker start`, wait until the entrypoint
//!   says ready, and put the host back on its inventory address.
//! * `partition a b` between two hosts: blackhole routes to each other on
//!   both sides (packets vanish: the peers see timeouts, like a cut cable);
//!   between a host and anything else (a site): the host is disconnected
//!   from the lab network. `heal` undoes either.
//! * `degrade-link` bandwidth: `tc` — between two hosts an `htb` class with a
//!   `u32` filter on the peer's address (one shaped peer per host at a time),
//!   for a host and a site a `tbf` on the host's whole interface. Latency and
//!   loss need `netem`, which this CI machine's kernel lacks
//!   (`CONFIG_NET_SCH_NETEM` unset: `tc` answers "Error: Specified qdisc
//!   kind is unknown."): they are tried, and on that answer reported as
//!   [`OpError::Unsupported`], never faked.
//! * `kill-service`: the lab's `drlab-svc kill` (SIGKILL to the service's
//!   main process); `hang-service`: `drlab-svc hang` (SIGSTOP to its process
//!   group: still "running", serving nobody); `restart-service`, their
//!   repair: `drlab-svc restart` (stop, which wakes and ends a hung
//!   process, then start). `corrupt-store` is unsupported
//!   (the lab's stores are mbox files, from which Dovecot rebuilds any
//!   index: nothing has ESE's page checksums to corrupt), and so
//!   is `fail-server` (no physical server pool).
//!
//! Containers need `--cap-add NET_ADMIN` for routes and `tc` (the harness
//! adds it). What a fault takes is planned by [`FaultPlanner`], a pure
//! function of the inventory, as [`EngineOp`]s (whose `Display` is the line
//! a plan shows); [`FaultInjector::run`] does them, and nothing else.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use drlab_drivers::caps::{Faults, OpResult};
use drlab_drivers::error::OpError;
use drlab_drivers::types::Fault;

use crate::dialect::linux;
use crate::inventory::{HostEntry, Inventory};

/// Label every container of a lab carries: `drlab.lab=<lab name>`.
pub const LAB_LABEL: &str = "drlab.lab";

/// Lines of a container's log quoted when it stopped while booting: the
/// entrypoint's last words (`FATAL: ...`) and what led to them.
const LOG_TAIL_LINES: &str = "6";

/// Limits of fault injection. Units are in the names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultLimits {
    /// Each `docker` command.
    pub docker_timeout_ms: u64,
    /// Power-on: until the host's entrypoint says ready.
    pub power_on_ready_timeout_ms: u64,
    /// Interval between readiness polls.
    pub poll_interval_ms: u64,
}

impl Default for FaultLimits {
    fn default() -> FaultLimits {
        FaultLimits {
            docker_timeout_ms: 30_000,
            power_on_ready_timeout_ms: 180_000,
            poll_interval_ms: 250,
        }
    }
}

/// Why a fault could not be injected.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The host is not in the inventory.
    #[error("{host} is not a host of the inventory")]
    NotInInventory {
        /// The name.
        host: String,
    },
    /// The inventory gives the host no container: faults need one.
    #[error("{host} has no container in the inventory")]
    NoContainer {
        /// The host.
        host: String,
    },
    /// The container does not carry this lab's label: refused.
    #[error("container {container} is not labelled {LAB_LABEL}={lab}: refusing to touch it")]
    NotThisLab {
        /// The container.
        container: String,
        /// The inventory's lab name.
        lab: String,
    },
    /// The inventory names no docker network (needed for partitions).
    #[error("the inventory's [lab] has no docker_network")]
    NoNetwork,
    /// The `docker` CLI could not be run.
    #[error("cannot run {bin}: {detail}")]
    DockerMissing {
        /// The program.
        bin: String,
        /// The error.
        detail: String,
    },
    /// A `docker` command failed.
    #[error("{what} failed: {detail}")]
    Docker {
        /// What was attempted.
        what: String,
        /// The first line of the CLI's stderr.
        detail: String,
    },
    /// A command or a wait exceeded its limit.
    #[error("{what} timed out after {after_ms} ms")]
    Timeout {
        /// What was attempted.
        what: String,
        /// The limit.
        after_ms: u64,
    },
    /// The lab cannot do this (named, with the reason).
    #[error("unsupported: {what}")]
    Unsupported {
        /// What and why.
        what: String,
    },
    /// A bandwidth that is not a positive finite number of at least 8 kbit/s.
    #[error("invalid bandwidth {0} Mbit/s")]
    InvalidRate(f64),
}

impl From<FaultError> for OpError {
    fn from(e: FaultError) -> OpError {
        match e {
            FaultError::NotInInventory { .. } | FaultError::NoContainer { .. } => {
                OpError::NotFound {
                    what: e.to_string().into(),
                }
            }
            FaultError::NotThisLab { .. } => OpError::Refused {
                reason: e.to_string().into(),
            },
            FaultError::Unsupported { what } => OpError::Unsupported { what: what.into() },
            // OpError::Timeout says "timed out after" itself.
            FaultError::Timeout { what, after_ms } => OpError::Timeout {
                op: what.into(),
                after: Duration::from_millis(after_ms),
            },

            e => OpError::Io {
                detail: e.to_string().into(),
            },
        }
    }
}

/// Shell snippet setting `$dev` to the interface that holds `addr` (after a
/// reconnect the interface may be renamed, so it is never assumed `eth0`).
fn dev_of(addr: IpAddr) -> String {
    format!(
        "dev=$(ip -o addr show | awk -v a='{addr}/' 'index($4, a) == 1 {{ print $2; exit }}'); [ -n \"$dev\" ] || {{ echo 'no interface holds {addr}' >&2; exit 1; }}"
    )
}

/// `tc` script: a token bucket on the whole interface of the host holding `own`.
pub fn tbf_script(own: IpAddr, rate_kbit: u64) -> String {
    // the bucket must hold at least one full-size packet; 10 ms of traffic otherwise
    let burst_bytes = (rate_kbit * 1000 / 8 / 100).max(3000);
    format!(
        "set -e\n{}\ntc qdisc del dev \"$dev\" root 2>/dev/null || true\ntc qdisc add dev \"$dev\" root tbf rate {rate_kbit}kbit burst {burst_bytes} latency 200ms\n",
        dev_of(own)
    )
}

/// `tc` script: shape only the traffic of the host holding `own` towards `peer`.
pub fn htb_peer_script(own: IpAddr, peer: IpAddr, rate_kbit: u64) -> String {
    format!(
        "set -e\n{}\ntc qdisc del dev \"$dev\" root 2>/dev/null || true\n\
         tc qdisc add dev \"$dev\" root handle 1: htb default 10\n\
         tc class add dev \"$dev\" parent 1: classid 1:10 htb rate 10gbit\n\
         tc class add dev \"$dev\" parent 1: classid 1:20 htb rate {rate_kbit}kbit ceil {rate_kbit}kbit\n\
         tc filter add dev \"$dev\" parent 1: protocol ip prio 1 u32 match ip dst {peer}/32 flowid 1:20\n",
        dev_of(own)
    )
}

/// `tc` script: delay and/or loss with netem (fails on kernels without it).
pub fn netem_script(own: IpAddr, delay_ms: Option<f64>, loss: Option<f64>) -> String {
    let mut args = String::new();
    if let Some(d) = delay_ms {
        args.push_str(&format!(" delay {d:.3}ms"));
    }
    if let Some(l) = loss {
        args.push_str(&format!(" loss {:.4}%", l * 100.0));
    }
    format!(
        "set -e\n{}\ntc qdisc del dev \"$dev\" root 2>/dev/null || true\ntc qdisc add dev \"$dev\" root netem{args}\n",
        dev_of(own)
    )
}

/// `tc` script: remove any shaping from the host holding `own`.
pub fn clear_tc_script(own: IpAddr) -> String {
    format!(
        "set -e\n{}\ntc qdisc del dev \"$dev\" root 2>/dev/null || true\n",
        dev_of(own)
    )
}

/// Route script: drop everything to `peer` (or stop dropping, `on = false`).
pub fn blackhole_script(peer: IpAddr, on: bool) -> String {
    if on {
        format!("ip route replace blackhole {peer}/32")
    } else {
        format!("ip route del blackhole {peer}/32 2>/dev/null || true")
    }
}

/// kbit/s for a bandwidth in Mbit/s.
pub fn rate_kbit(bandwidth_mbps: f64) -> Result<u64, FaultError> {
    if !bandwidth_mbps.is_finite() || bandwidth_mbps * 1000.0 < 8.0 || bandwidth_mbps > 100_000.0 {
        return Err(FaultError::InvalidRate(bandwidth_mbps));
    }
    // the value is finite and within (8, 1e8) kbit/s, so the cast is exact enough
    Ok((bandwidth_mbps * 1000.0).round() as u64)
}

/// One thing fault injection does through the container engine, exactly
/// as [`FaultInjector`] does it; its `Display` is the line a plan shows.
/// Built by [`FaultPlanner`] from the inventory alone (no I/O), so the plan
/// of a fault is what [`FaultInjector::run`] does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineOp {
    /// `docker inspect` of the container's lab label, which must be the
    /// inventory's lab name: otherwise nothing more is done.
    CheckLabel {
        /// The host.
        host: String,
        /// Its container.
        container: String,
        /// The lab name the label must carry.
        lab: String,
    },
    /// A `docker` command that must succeed.
    Docker {
        /// The host it acts on.
        host: String,
        /// What it is for (errors say it).
        what: String,
        /// The arguments, unquoted.
        args: Vec<String>,
    },
    /// Waits until the container's entrypoint wrote its ready marker after
    /// the container's latest start, polling with `docker exec`; a
    /// container that stops meanwhile fails at once.
    WaitReady {
        /// The host.
        host: String,
        /// Its container.
        container: String,
        /// The longest wait.
        limit_ms: u64,
        /// Between polls.
        poll_ms: u64,
    },
    /// After a start: docker may have handed out another address; the
    /// container is put back on its inventory address when it did.
    KeepAddress {
        /// The host.
        host: String,
        /// Its container.
        container: String,
        /// The lab's docker network.
        network: String,
        /// The inventory's address.
        address: IpAddr,
    },
}

/// The ready check of [`EngineOp::WaitReady`]: the marker exists and was
/// written by the start at `started_at` (docker's `.State.StartedAt`).
fn ready_check(started_at: &str) -> String {
    format!(
        "test -e /run/drlab-ready && [ \"$(stat -c %Y /run/drlab-ready)\" -ge \"$(date -d '{}' +%s)\" ]",
        started_at.trim().replace('\'', "")
    )
}

fn quoted(args: &[String]) -> String {
    args.iter()
        .map(|a| crate::ssh::sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

impl std::fmt::Display for EngineOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineOp::CheckLabel {
                host,
                container,
                lab,
            } => write!(
                f,
                "docker inspect -f '{{{{index .Config.Labels \"{LAB_LABEL}\"}}}}' --type container {container} ({host}): must print {lab}, else nothing more is done"
            ),
            EngineOp::Docker { host, args, .. } => write!(f, "docker {} ({host})", quoted(args)),
            EngineOp::WaitReady {
                host,
                container,
                limit_ms,
                poll_ms,
            } => write!(
                f,
                "every {poll_ms} ms, at most {limit_ms} ms: docker exec {container} sh -c {} ({host}), \
                 <started> being docker inspect -f '{{{{.State.StartedAt}}}}' {container}; \
                 fails at once when docker inspect -f '{{{{.State.Status}}}}' {container} says exited or dead",
                crate::ssh::sh_quote(&ready_check("<started>"))
            ),
            EngineOp::KeepAddress {
                host,
                container,
                network,
                address,
            } => write!(
                f,
                "docker inspect -f '{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}' {container} ({host}); \
                 unless it prints {address}: docker network disconnect -f {network} {container}, \
                 docker network connect --ip {address} {network} {container}"
            ),
        }
    }
}

/// The pure half of fault injection: what [`FaultInjector`] does for each
/// fault of the inventory's lab, as [`EngineOp`]s. Errors are the
/// injector's (a host missing from the inventory, without a container, a
/// fault the lab cannot make), found before anything is done.
#[derive(Clone, Copy, Debug)]
pub struct FaultPlanner<'a> {
    inventory: &'a Inventory,
    limits: FaultLimits,
}

impl<'a> FaultPlanner<'a> {
    /// Plans for the lab of `inventory`.
    pub fn new(inventory: &'a Inventory, limits: FaultLimits) -> FaultPlanner<'a> {
        FaultPlanner { inventory, limits }
    }

    fn entry(&self, host: &str) -> Result<&'a HostEntry, FaultError> {
        self.inventory
            .host(host)
            .ok_or_else(|| FaultError::NotInInventory { host: host.into() })
    }

    /// The host's container and the check of its label.
    fn container(&self, host: &str) -> Result<(String, EngineOp), FaultError> {
        let c = self
            .entry(host)?
            .container
            .clone()
            .ok_or_else(|| FaultError::NoContainer { host: host.into() })?;
        let check = EngineOp::CheckLabel {
            host: host.into(),
            container: c.clone(),
            lab: self.inventory.lab.name.clone(),
        };
        Ok((c, check))
    }

    fn network(&self) -> Result<&'a str, FaultError> {
        self.inventory
            .lab
            .docker_network
            .as_deref()
            .ok_or(FaultError::NoNetwork)
    }

    fn docker(host: &str, what: String, args: &[&str]) -> EngineOp {
        EngineOp::Docker {
            host: host.into(),
            what,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn exec(host: &str, container: &str, what: String, script: &str) -> EngineOp {
        FaultPlanner::docker(host, what, &["exec", container, "sh", "-c", script])
    }

    /// The host crashes: `docker kill --signal KILL`.
    pub fn crash(&self, host: &str) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        Ok(vec![
            check,
            FaultPlanner::docker(
                host,
                format!("crash {host}"),
                &["kill", "--signal", "KILL", &c],
            ),
        ])
    }

    /// The host boots again: `docker start`, the wait until it is ready,
    /// and back on its inventory address (when the lab names its network).
    pub fn power_on(&self, host: &str) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        let mut v = vec![
            check,
            FaultPlanner::docker(host, format!("power on {host}"), &["start", &c]),
            EngineOp::WaitReady {
                host: host.into(),
                container: c.clone(),
                limit_ms: self.limits.power_on_ready_timeout_ms,
                poll_ms: self.limits.poll_interval_ms,
            },
        ];
        if let Ok(net) = self.network() {
            v.push(EngineOp::KeepAddress {
                host: host.into(),
                container: c,
                network: net.into(),
                address: self.entry(host)?.address,
            });
        }
        Ok(v)
    }

    /// `docker pause`.
    pub fn pause(&self, host: &str) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        Ok(vec![
            check,
            FaultPlanner::docker(host, format!("pause {host}"), &["pause", &c]),
        ])
    }

    /// `docker unpause`.
    pub fn unpause(&self, host: &str) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        Ok(vec![
            check,
            FaultPlanner::docker(host, format!("unpause {host}"), &["unpause", &c]),
        ])
    }

    /// Off the lab network.
    pub fn isolate(&self, host: &str) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        let net = self.network()?;
        Ok(vec![
            check,
            FaultPlanner::docker(
                host,
                format!("isolate {host}"),
                &["network", "disconnect", "-f", net, &c],
            ),
        ])
    }

    /// Back on the lab network at the inventory address.
    pub fn reconnect(&self, host: &str) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        let net = self.network()?;
        let ip = self.entry(host)?.address.to_string();
        Ok(vec![
            check,
            FaultPlanner::docker(
                host,
                format!("reconnect {host}"),
                &["network", "connect", "--ip", &ip, net, &c],
            ),
        ])
    }

    /// Blackhole routes to each other on both sides (`on`), or their removal.
    pub fn routes(&self, a: &str, b: &str, on: bool) -> Result<Vec<EngineOp>, FaultError> {
        let ((ca, check_a), (cb, check_b)) = (self.container(a)?, self.container(b)?);
        let (ia, ib) = (self.entry(a)?.address, self.entry(b)?.address);
        let what = format!("{} {a}<->{b}", if on { "partition" } else { "heal" });
        Ok(vec![
            check_a,
            check_b,
            FaultPlanner::exec(a, &ca, what.clone(), &blackhole_script(ib, on)),
            FaultPlanner::exec(b, &cb, what, &blackhole_script(ia, on)),
        ])
    }

    /// Shapes `host`'s traffic towards `peer` (each side what it sends), or
    /// its whole link.
    pub fn limit_bandwidth(
        &self,
        host: &str,
        peer: Option<&str>,
        bandwidth_mbps: f64,
    ) -> Result<Vec<EngineOp>, FaultError> {
        let rate = rate_kbit(bandwidth_mbps)?;
        let (c, check) = self.container(host)?;
        let own = self.entry(host)?.address;
        let what = format!("limit bandwidth of {host}");
        match peer {
            None => Ok(vec![
                check,
                FaultPlanner::exec(host, &c, what, &tbf_script(own, rate)),
            ]),
            Some(p) => {
                let (cp, check_p) = self.container(p)?;
                let other = self.entry(p)?.address;
                Ok(vec![
                    check,
                    check_p,
                    FaultPlanner::exec(host, &c, what.clone(), &htb_peer_script(own, other, rate)),
                    FaultPlanner::exec(p, &cp, what, &htb_peer_script(other, own, rate)),
                ])
            }
        }
    }

    /// Latency and/or loss with netem (unsupported where the kernel has none).
    pub fn degrade(
        &self,
        host: &str,
        latency_ms: Option<f64>,
        loss: Option<f64>,
    ) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        let own = self.entry(host)?.address;
        Ok(vec![
            check,
            FaultPlanner::exec(
                host,
                &c,
                format!("latency/loss on {host}"),
                &netem_script(own, latency_ms, loss),
            ),
        ])
    }

    /// Removes every `tc` shaping.
    pub fn clear_link(&self, host: &str) -> Result<Vec<EngineOp>, FaultError> {
        let (c, check) = self.container(host)?;
        let own = self.entry(host)?.address;
        Ok(vec![
            check,
            FaultPlanner::exec(
                host,
                &c,
                format!("clear link of {host}"),
                &clear_tc_script(own),
            ),
        ])
    }

    fn service_signal(
        &self,
        host: &str,
        lab_service: &str,
        verb: &str,
        cmd: Result<String, crate::dialect::DialectError>,
    ) -> Result<Vec<EngineOp>, FaultError> {
        let what = format!("{verb} {lab_service} on {host}");
        let cmd = cmd.map_err(|e| FaultError::Docker {
            what: what.clone(),
            detail: e.to_string(),
        })?;
        let (c, check) = self.container(host)?;
        Ok(vec![check, FaultPlanner::exec(host, &c, what, &cmd)])
    }

    /// `drlab-svc kill` of a lab service.
    pub fn kill_service(&self, host: &str, lab_service: &str) -> Result<Vec<EngineOp>, FaultError> {
        self.service_signal(host, lab_service, "kill", linux::kill(lab_service))
    }

    /// `drlab-svc hang` of a lab service.
    pub fn hang_service(&self, host: &str, lab_service: &str) -> Result<Vec<EngineOp>, FaultError> {
        self.service_signal(host, lab_service, "hang", linux::hang(lab_service))
    }

    /// `drlab-svc restart` of a lab service: stop (ending a killed or hung
    /// one's processes), then start.
    pub fn restart_service(
        &self,
        host: &str,
        lab_service: &str,
    ) -> Result<Vec<EngineOp>, FaultError> {
        self.service_signal(host, lab_service, "restart", linux::restart(lab_service))
    }

    fn is_host(&self, name: &str) -> bool {
        self.inventory.host(name).is_some()
    }

    fn lab_service(&self, service: &str) -> Result<&'a str, FaultError> {
        self.inventory
            .services
            .get(service)
            .map(String::as_str)
            .ok_or_else(|| FaultError::Unsupported {
                what: format!("service {service}: not mapped in the inventory's [services]"),
            })
    }

    /// Everything `fault` takes, in order.
    pub fn fault(&self, fault: &Fault) -> Result<Vec<EngineOp>, FaultError> {
        match fault {
            Fault::CrashHost { host } | Fault::PowerOff { host } => self.crash(host),
            Fault::PowerOn { host } => self.power_on(host),
            Fault::KillService { host, service } => {
                self.kill_service(host, self.lab_service(service)?)
            }
            Fault::HangService { host, service } => {
                self.hang_service(host, self.lab_service(service)?)
            }
            Fault::RestartService { host, service } => {
                self.restart_service(host, self.lab_service(service)?)
            }
            Fault::FailServer { server } => Err(FaultError::Unsupported {
                what: format!(
                    "fail server {server}: the container lab has no physical server pool (crash a host instead)"
                ),
            }),
            Fault::CorruptStore { host, store } => Err(FaultError::Unsupported {
                what: format!(
                    "corrupt store {store} on {host}: the lab's stores are mbox files, with no database pages and checksums for eseutil to find corrupt"
                ),
            }),
            Fault::Partition { a, b } | Fault::Heal { a, b } => {
                let on = matches!(fault, Fault::Partition { .. });
                match (self.is_host(a), self.is_host(b)) {
                    (true, true) => self.routes(a, b, on),
                    (true, false) | (false, true) => {
                        let h = if self.is_host(a) { a } else { b };
                        if on {
                            self.isolate(h)
                        } else {
                            self.reconnect(h)
                        }
                    }
                    (false, false) => Err(FaultError::Unsupported {
                        what: format!(
                            "partition between {a} and {b}: neither is an inventory host (the lab has no sites)"
                        ),
                    }),
                }
            }
            Fault::DegradeLink {
                a,
                b,
                latency_ms,
                bandwidth_mbps,
                loss,
            } => {
                let (ha, hb) = (self.is_host(a), self.is_host(b));
                let hosts: Vec<&str> = match (ha, hb) {
                    (true, true) => vec![a, b],
                    (true, false) => vec![a],
                    (false, true) => vec![b],
                    (false, false) => {
                        return Err(FaultError::Unsupported {
                            what: format!(
                                "link {a}<->{b}: neither is an inventory host (the lab has no sites)"
                            ),
                        });
                    }
                };
                if latency_ms.is_some() || loss.is_some() {
                    if bandwidth_mbps.is_some() {
                        // refused before anything is changed
                        return Err(FaultError::Unsupported {
                            what: "bandwidth together with latency/loss".into(),
                        });
                    }
                    let mut v = Vec::new();
                    for h in &hosts {
                        v.extend(self.degrade(h, *latency_ms, *loss)?);
                    }
                    return Ok(v);
                }
                match bandwidth_mbps {
                    Some(bw) if ha && hb => self.limit_bandwidth(a, Some(b), *bw),
                    Some(bw) => self.limit_bandwidth(hosts[0], None, *bw),
                    None => {
                        let mut v = Vec::new();
                        for h in &hosts {
                            v.extend(self.clear_link(h)?);
                        }
                        Ok(v)
                    }
                }
            }
        }
    }
}

/// Injects faults into the containers of one inventory: does the
/// [`EngineOp`]s its [`FaultPlanner`] plans, and nothing else.
#[derive(Debug)]
pub struct FaultInjector {
    inventory: Inventory,
    limits: FaultLimits,
    docker: PathBuf,
}

impl FaultInjector {
    /// Faults for the lab of `inventory`, through the `docker` CLI on PATH.
    pub fn new(inventory: Inventory, limits: FaultLimits) -> FaultInjector {
        FaultInjector {
            inventory,
            limits,
            docker: PathBuf::from("docker"),
        }
    }

    /// The plans of this injector's faults.
    pub fn planner(&self) -> FaultPlanner<'_> {
        FaultPlanner::new(&self.inventory, self.limits)
    }

    /// Runs `docker ARGS` (bounded by `docker_timeout_ms`) and returns its
    /// whole output, whatever the exit status.
    async fn docker_output(
        &self,
        what: &str,
        args: &[&str],
    ) -> Result<std::process::Output, FaultError> {
        let mut cmd = tokio::process::Command::new(&self.docker);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let limit = Duration::from_millis(self.limits.docker_timeout_ms);
        match tokio::time::timeout(limit, cmd.output()).await {
            Err(_) => Err(FaultError::Timeout {
                what: what.into(),
                after_ms: self.limits.docker_timeout_ms,
            }),
            Ok(Err(e)) => Err(FaultError::DockerMissing {
                bin: self.docker.display().to_string(),
                detail: e.to_string(),
            }),
            Ok(Ok(o)) => Ok(o),
        }
    }

    /// Runs `docker ARGS`: its stdout, or the first line of its stderr as
    /// the error.
    async fn docker(&self, what: &str, args: &[&str]) -> Result<String, FaultError> {
        let out = self.docker_output(what, args).await?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(FaultError::Docker {
                what: what.into(),
                detail: String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            })
        }
    }

    /// The last lines a container wrote. The image's entrypoint logs to
    /// stderr, which `docker logs` replays on its own stderr: both streams
    /// are kept. A tail that cannot be read says so instead of being empty.
    async fn log_tail(&self, what: &str, container: &str) -> String {
        match self
            .docker_output(what, &["logs", "--tail", LOG_TAIL_LINES, container])
            .await
        {
            Ok(o) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                if lines.is_empty() {
                    "(the container wrote no log)".into()
                } else {
                    lines.join(" | ")
                }
            }
            Err(e) => format!("(its log could not be read: {e})"),
        }
    }

    /// Does one planned operation.
    pub async fn run(&self, op: &EngineOp) -> Result<(), FaultError> {
        match op {
            EngineOp::CheckLabel {
                host,
                container,
                lab,
            } => {
                let fmt = format!("{{{{index .Config.Labels \"{LAB_LABEL}\"}}}}");
                let out = self
                    .docker(
                        &format!("inspect container of {host}"),
                        &["inspect", "-f", &fmt, "--type", "container", container],
                    )
                    .await?;
                if out.trim() != lab {
                    return Err(FaultError::NotThisLab {
                        container: container.clone(),
                        lab: lab.clone(),
                    });
                }
                Ok(())
            }
            EngineOp::Docker { what, args, .. } => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                match self.docker(what, &args).await {
                    Err(FaultError::Docker { detail, .. })
                        if detail.contains("qdisc kind is unknown") =>
                    {
                        Err(FaultError::Unsupported {
                            what: format!("{what}: the kernel has no netem qdisc (tc: {detail})"),
                        })
                    }
                    r => r.map(|_| ()),
                }
            }
            EngineOp::WaitReady {
                host,
                container,
                limit_ms,
                poll_ms,
            } => self.wait_ready(host, container, *limit_ms, *poll_ms).await,
            EngineOp::KeepAddress {
                host,
                container,
                network,
                address,
            } => {
                let what = format!("power on {host}");
                let fmt =
                    format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
                let have = self
                    .docker(&what, &["inspect", "-f", &fmt, container])
                    .await?;
                if have.trim() != address.to_string() {
                    let _ = self
                        .docker(&what, &["network", "disconnect", "-f", network, container])
                        .await;
                    self.docker(
                        &what,
                        &[
                            "network",
                            "connect",
                            "--ip",
                            &address.to_string(),
                            network,
                            container,
                        ],
                    )
                    .await?;
                }
                Ok(())
            }
        }
    }

    async fn wait_ready(
        &self,
        host: &str,
        c: &str,
        limit_ms: u64,
        poll_ms: u64,
    ) -> Result<(), FaultError> {
        let what = format!("power on {host}");
        let started = self
            .docker(&what, &["inspect", "-f", "{{.State.StartedAt}}", c])
            .await?;
        let check = ready_check(&started);
        let t0 = Instant::now();
        loop {
            if self
                .docker(&what, &["exec", c, "sh", "-c", &check])
                .await
                .is_ok()
            {
                return Ok(());
            }
            // A host whose boot failed is not coming up: say why at once
            // instead of waiting out the limit.
            let state = self
                .docker(&what, &["inspect", "-f", "{{.State.Status}}", c])
                .await
                .unwrap_or_default();
            if state.trim() == "exited" || state.trim() == "dead" {
                let tail = self.log_tail(&what, c).await;
                return Err(FaultError::Docker {
                    what,
                    detail: format!("the host stopped while booting: {tail}"),
                });
            }
            if t0.elapsed() >= Duration::from_millis(limit_ms) {
                return Err(FaultError::Timeout {
                    what,
                    after_ms: limit_ms,
                });
            }
            tokio::time::sleep(Duration::from_millis(poll_ms)).await;
        }
    }

    async fn run_all(&self, ops: Result<Vec<EngineOp>, FaultError>) -> Result<(), FaultError> {
        for op in ops? {
            self.run(&op).await?;
        }
        Ok(())
    }

    /// The host crashes: SIGKILL to everything, no clean shutdown.
    pub async fn crash(&self, host: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().crash(host)).await
    }

    /// The host boots again: `docker start`, wait until ready (bounded), and
    /// back on its inventory address.
    pub async fn power_on(&self, host: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().power_on(host)).await
    }

    /// Freezes every process of the host (`docker pause`): it neither
    /// answers nor closes connections.
    pub async fn pause(&self, host: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().pause(host)).await
    }

    /// Undoes [`FaultInjector::pause`].
    pub async fn unpause(&self, host: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().unpause(host)).await
    }

    /// Cuts the host off the lab network.
    pub async fn isolate(&self, host: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().isolate(host)).await
    }

    /// Puts an isolated host back on the lab network at its inventory address.
    pub async fn reconnect(&self, host: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().reconnect(host)).await
    }

    /// Cuts traffic between two hosts (both directions), leaving the rest.
    pub async fn partition(&self, a: &str, b: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().routes(a, b, true)).await
    }

    /// Undoes [`FaultInjector::partition`].
    pub async fn heal(&self, a: &str, b: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().routes(a, b, false)).await
    }

    /// Limits the bandwidth of `host` towards `peer` (both directions when
    /// `peer` is given: each side shapes what it sends), or of its whole
    /// link when `peer` is `None`.
    pub async fn limit_bandwidth(
        &self,
        host: &str,
        peer: Option<&str>,
        bandwidth_mbps: f64,
    ) -> Result<(), FaultError> {
        self.run_all(self.planner().limit_bandwidth(host, peer, bandwidth_mbps))
            .await
    }

    /// Adds latency and/or loss on the host's interface with netem;
    /// [`FaultError::Unsupported`] when the kernel has no netem.
    pub async fn degrade(
        &self,
        host: &str,
        latency_ms: Option<f64>,
        loss: Option<f64>,
    ) -> Result<(), FaultError> {
        self.run_all(self.planner().degrade(host, latency_ms, loss))
            .await
    }

    /// Removes every `tc` shaping from the host.
    pub async fn clear_link(&self, host: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().clear_link(host)).await
    }

    /// SIGKILLs the main process of a lab service (`drlab-svc kill`).
    pub async fn kill_service(&self, host: &str, lab_service: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().kill_service(host, lab_service))
            .await
    }

    /// Freezes a lab service's processes (SIGSTOP to its process group,
    /// `drlab-svc hang`): its service manager still says running, but it
    /// serves nobody until it is restarted.
    pub async fn hang_service(&self, host: &str, lab_service: &str) -> Result<(), FaultError> {
        self.run_all(self.planner().hang_service(host, lab_service))
            .await
    }

    async fn dispatch(&self, fault: &Fault) -> Result<(), FaultError> {
        self.run_all(self.planner().fault(fault)).await
    }
}

impl Faults for FaultInjector {
    async fn inject(&self, fault: &Fault) -> OpResult<()> {
        self.dispatch(fault).await.map_err(OpError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 212, 5, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 212, 5, 3));

    #[test]
    fn scripts() {
        let t = tbf_script(A, 1000);
        assert!(t.contains("index($4, a) == 1"), "{t}");
        assert!(
            t.contains("tbf rate 1000kbit burst 3000 latency 200ms"),
            "{t}"
        );
        let h = htb_peer_script(A, B, 2000);
        assert!(
            h.contains("u32 match ip dst 10.212.5.3/32 flowid 1:20"),
            "{h}"
        );
        assert!(
            h.contains("classid 1:20 htb rate 2000kbit ceil 2000kbit"),
            "{h}"
        );
        assert_eq!(
            blackhole_script(B, true),
            "ip route replace blackhole 10.212.5.3/32"
        );
        assert!(
            netem_script(A, Some(50.0), Some(0.01)).contains("netem delay 50.000ms loss 1.0000%")
        );
    }

    #[test]
    fn rates() {
        assert_eq!(rate_kbit(1.0).unwrap(), 1000);
        assert_eq!(rate_kbit(0.5).unwrap(), 500);
        assert!(rate_kbit(0.0).is_err());
        assert!(rate_kbit(f64::NAN).is_err());
        assert!(rate_kbit(-3.0).is_err());
    }

    #[test]
    fn only_inventory_hosts() {
        let inv = Inventory::parse(
            std::path::Path::new("i.toml"),
            "[lab]\nname = \"x\"\ndomain = \"d\"\n[[hosts]]\nname = \"EXCH1\"\naddress = \"10.0.0.1\"\n",
        )
        .unwrap();
        let f = FaultInjector::new(inv, FaultLimits::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt.block_on(f.crash("EXCH9")).unwrap_err();
        assert!(matches!(e, FaultError::NotInInventory { .. }), "{e}");
        let e = rt.block_on(f.crash("EXCH1")).unwrap_err();
        assert!(matches!(e, FaultError::NoContainer { .. }), "{e}");
        let e = rt
            .block_on(f.inject(&Fault::Partition {
                a: "hq".into(),
                b: "dr".into(),
            }))
            .unwrap_err();
        assert!(matches!(e, OpError::Unsupported { .. }), "{e}");
    }
}
