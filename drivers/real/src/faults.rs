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
//!   group: still "running", serving nobody). `corrupt-store` is unsupported
//!   (the lab's stores are Maildirs; there is no database to corrupt), and so
//!   is `fail-server` (no physical server pool).
//!
//! Containers need `--cap-add NET_ADMIN` for routes and `tc` (the harness
//! adds it). Command arguments come from pure builders; only
//! [`FaultInjector`] runs them.

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

/// Injects faults into the containers of one inventory.
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

    fn entry(&self, host: &str) -> Result<&HostEntry, FaultError> {
        self.inventory
            .host(host)
            .ok_or_else(|| FaultError::NotInInventory { host: host.into() })
    }

    /// The host's container, after checking that it belongs to this lab.
    async fn container(&self, host: &str) -> Result<String, FaultError> {
        let entry = self.entry(host)?;
        let c = entry
            .container
            .clone()
            .ok_or_else(|| FaultError::NoContainer { host: host.into() })?;
        let fmt = format!("{{{{index .Config.Labels \"{LAB_LABEL}\"}}}}");
        let out = self
            .docker(
                "inspect container",
                &["inspect", "-f", &fmt, "--type", "container", &c],
            )
            .await?;
        if out.trim() != self.inventory.lab.name {
            return Err(FaultError::NotThisLab {
                container: c,
                lab: self.inventory.lab.name.clone(),
            });
        }
        Ok(c)
    }

    async fn docker(&self, what: &str, args: &[&str]) -> Result<String, FaultError> {
        let mut cmd = tokio::process::Command::new(&self.docker);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let limit = Duration::from_millis(self.limits.docker_timeout_ms);
        let out = match tokio::time::timeout(limit, cmd.output()).await {
            Err(_) => {
                return Err(FaultError::Timeout {
                    what: what.into(),
                    after_ms: self.limits.docker_timeout_ms,
                });
            }
            Ok(Err(e)) => {
                return Err(FaultError::DockerMissing {
                    bin: self.docker.display().to_string(),
                    detail: e.to_string(),
                });
            }
            Ok(Ok(o)) => o,
        };
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

    async fn exec_sh(
        &self,
        container: &str,
        what: &str,
        script: &str,
    ) -> Result<String, FaultError> {
        self.docker(what, &["exec", container, "sh", "-c", script])
            .await
    }

    fn network(&self) -> Result<&str, FaultError> {
        self.inventory
            .lab
            .docker_network
            .as_deref()
            .ok_or(FaultError::NoNetwork)
    }

    /// The host crashes: SIGKILL to everything, no clean shutdown.
    pub async fn crash(&self, host: &str) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        self.docker(&format!("crash {host}"), &["kill", "--signal", "KILL", &c])
            .await
            .map(|_| ())
    }

    /// The host boots again: `docker start`, wait until ready (bounded), and
    /// back on its inventory address.
    pub async fn power_on(&self, host: &str) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        let what = format!("power on {host}");
        self.docker(&what, &["start", &c]).await?;
        let started = self
            .docker(&what, &["inspect", "-f", "{{.State.StartedAt}}", &c])
            .await?;
        // ready = the marker exists and was written by this start, not left by the last one
        let check = format!(
            "test -e /run/drlab-ready && [ \"$(stat -c %Y /run/drlab-ready)\" -ge \"$(date -d '{}' +%s)\" ]",
            started.trim().replace('\'', "")
        );
        let t0 = Instant::now();
        loop {
            if self.exec_sh(&c, &what, &check).await.is_ok() {
                break;
            }
            // A host whose boot failed is not coming up: say why at once
            // instead of waiting out the limit.
            let state = self
                .docker(&what, &["inspect", "-f", "{{.State.Status}}", &c])
                .await
                .unwrap_or_default();
            if state.trim() == "exited" || state.trim() == "dead" {
                let tail = self
                    .docker(&what, &["logs", "--tail", "3", &c])
                    .await
                    .unwrap_or_default();
                return Err(FaultError::Docker {
                    what,
                    detail: format!("the host stopped while booting: {}", tail.trim()),
                });
            }
            if t0.elapsed() >= Duration::from_millis(self.limits.power_on_ready_timeout_ms) {
                return Err(FaultError::Timeout {
                    what,
                    after_ms: self.limits.power_on_ready_timeout_ms,
                });
            }
            tokio::time::sleep(Duration::from_millis(self.limits.poll_interval_ms)).await;
        }
        // docker may hand out another address at start; the inventory's must hold
        let want = self.entry(host)?.address;
        if let Ok(net) = self.network() {
            let fmt = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
            let have = self.docker(&what, &["inspect", "-f", &fmt, &c]).await?;
            if have.trim() != want.to_string() {
                let _ = self
                    .docker(&what, &["network", "disconnect", "-f", net, &c])
                    .await;
                self.docker(
                    &what,
                    &["network", "connect", "--ip", &want.to_string(), net, &c],
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Freezes every process of the host (`docker pause`): it neither
    /// answers nor closes connections.
    pub async fn pause(&self, host: &str) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        self.docker(&format!("pause {host}"), &["pause", &c])
            .await
            .map(|_| ())
    }

    /// Undoes [`FaultInjector::pause`].
    pub async fn unpause(&self, host: &str) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        self.docker(&format!("unpause {host}"), &["unpause", &c])
            .await
            .map(|_| ())
    }

    /// Cuts the host off the lab network.
    pub async fn isolate(&self, host: &str) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        let net = self.network()?;
        self.docker(
            &format!("isolate {host}"),
            &["network", "disconnect", "-f", net, &c],
        )
        .await
        .map(|_| ())
    }

    /// Puts an isolated host back on the lab network at its inventory address.
    pub async fn reconnect(&self, host: &str) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        let net = self.network()?;
        let ip = self.entry(host)?.address.to_string();
        self.docker(
            &format!("reconnect {host}"),
            &["network", "connect", "--ip", &ip, net, &c],
        )
        .await
        .map(|_| ())
    }

    /// Cuts traffic between two hosts (both directions), leaving the rest.
    pub async fn partition(&self, a: &str, b: &str) -> Result<(), FaultError> {
        self.routes(a, b, true).await
    }

    /// Undoes [`FaultInjector::partition`].
    pub async fn heal(&self, a: &str, b: &str) -> Result<(), FaultError> {
        self.routes(a, b, false).await
    }

    async fn routes(&self, a: &str, b: &str, on: bool) -> Result<(), FaultError> {
        let (ca, cb) = (self.container(a).await?, self.container(b).await?);
        let (ia, ib) = (self.entry(a)?.address, self.entry(b)?.address);
        let what = format!("{} {a}<->{b}", if on { "partition" } else { "heal" });
        self.exec_sh(&ca, &what, &blackhole_script(ib, on)).await?;
        self.exec_sh(&cb, &what, &blackhole_script(ia, on)).await?;
        Ok(())
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
        let rate = rate_kbit(bandwidth_mbps)?;
        let c = self.container(host).await?;
        let own = self.entry(host)?.address;
        let what = format!("limit bandwidth of {host}");
        match peer {
            None => self
                .exec_sh(&c, &what, &tbf_script(own, rate))
                .await
                .map(|_| ()),
            Some(p) => {
                let cp = self.container(p).await?;
                let other = self.entry(p)?.address;
                self.exec_sh(&c, &what, &htb_peer_script(own, other, rate))
                    .await?;
                self.exec_sh(&cp, &what, &htb_peer_script(other, own, rate))
                    .await?;
                Ok(())
            }
        }
    }

    /// Adds latency and/or loss on the host's interface with netem;
    /// [`FaultError::Unsupported`] when the kernel has no netem.
    pub async fn degrade(
        &self,
        host: &str,
        latency_ms: Option<f64>,
        loss: Option<f64>,
    ) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        let own = self.entry(host)?.address;
        match self
            .exec_sh(&c, "netem", &netem_script(own, latency_ms, loss))
            .await
        {
            Err(FaultError::Docker { detail, .. }) if detail.contains("qdisc kind is unknown") => {
                Err(FaultError::Unsupported {
                    what: format!(
                        "latency/loss on {host}: the kernel has no netem qdisc (tc: {detail})"
                    ),
                })
            }
            r => r.map(|_| ()),
        }
    }

    /// Removes every `tc` shaping from the host.
    pub async fn clear_link(&self, host: &str) -> Result<(), FaultError> {
        let c = self.container(host).await?;
        let own = self.entry(host)?.address;
        self.exec_sh(&c, &format!("clear link of {host}"), &clear_tc_script(own))
            .await
            .map(|_| ())
    }

    /// SIGKILLs the main process of a lab service (`drlab-svc kill`).
    pub async fn kill_service(&self, host: &str, lab_service: &str) -> Result<(), FaultError> {
        let cmd = linux::kill(lab_service).map_err(|e| FaultError::Docker {
            what: format!("kill {lab_service} on {host}"),
            detail: e.to_string(),
        })?;
        let c = self.container(host).await?;
        self.exec_sh(&c, &format!("kill {lab_service} on {host}"), &cmd)
            .await
            .map(|_| ())
    }

    /// Freezes a lab service's processes (SIGSTOP to its process group,
    /// `drlab-svc hang`): its service manager still says running, but it
    /// serves nobody until it is restarted.
    pub async fn hang_service(&self, host: &str, lab_service: &str) -> Result<(), FaultError> {
        let cmd = linux::hang(lab_service).map_err(|e| FaultError::Docker {
            what: format!("hang {lab_service} on {host}"),
            detail: e.to_string(),
        })?;
        let c = self.container(host).await?;
        self.exec_sh(&c, &format!("hang {lab_service} on {host}"), &cmd)
            .await
            .map(|_| ())
    }

    fn is_host(&self, name: &str) -> bool {
        self.inventory.host(name).is_some()
    }

    async fn dispatch(&self, fault: &Fault) -> Result<(), FaultError> {
        match fault {
            Fault::CrashHost { host } | Fault::PowerOff { host } => self.crash(host).await,
            Fault::PowerOn { host } => self.power_on(host).await,
            Fault::KillService { host, service } => {
                let lab = self
                    .inventory
                    .services
                    .get(service.as_ref())
                    .ok_or_else(|| FaultError::Unsupported {
                        what: format!(
                            "service {service}: not mapped in the inventory's [services]"
                        ),
                    })?;
                self.kill_service(host, lab).await
            }
            Fault::HangService { host, service } => {
                let lab = self
                    .inventory
                    .services
                    .get(service.as_ref())
                    .ok_or_else(|| FaultError::Unsupported {
                        what: format!(
                            "service {service}: not mapped in the inventory's [services]"
                        ),
                    })?;
                self.hang_service(host, lab).await
            }
            Fault::FailServer { server } => Err(FaultError::Unsupported {
                what: format!(
                    "fail server {server}: the container lab has no physical server pool (crash a host instead)"
                ),
            }),
            Fault::CorruptStore { host, store } => Err(FaultError::Unsupported {
                what: format!(
                    "corrupt store {store} on {host}: the lab's stores are Maildirs, there is no database to corrupt"
                ),
            }),
            Fault::Partition { a, b } | Fault::Heal { a, b } => {
                let on = matches!(fault, Fault::Partition { .. });
                match (self.is_host(a), self.is_host(b)) {
                    (true, true) => self.routes(a, b, on).await,
                    (true, false) | (false, true) => {
                        let h = if self.is_host(a) { a } else { b };
                        if on {
                            self.isolate(h).await
                        } else {
                            self.reconnect(h).await
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
                    for h in &hosts {
                        self.degrade(h, *latency_ms, *loss).await?;
                    }
                    if bandwidth_mbps.is_some() {
                        return Err(FaultError::Unsupported {
                            what: "bandwidth together with latency/loss".into(),
                        });
                    }
                    return Ok(());
                }
                match bandwidth_mbps {
                    Some(bw) if ha && hb => self.limit_bandwidth(a, Some(b), *bw).await,
                    Some(bw) => self.limit_bandwidth(hosts[0], None, *bw).await,
                    None => {
                        for h in &hosts {
                            self.clear_link(h).await?;
                        }
                        Ok(())
                    }
                }
            }
        }
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
