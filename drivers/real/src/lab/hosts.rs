//! Hosts in the lab: heartbeats (a TCP connect to the host's SSH port),
//! reboots and power through the container engine, identity takeover
//! (`ip addr add` of the source's address on the target with a gratuitous
//! ARP so neighbours learn the new owner at once), and domain membership as
//! computer accounts in Active Directory.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{Fault, IdentityItems};
use drlab_drivers::{Faults, Hosts, OpError};

use super::LabBackend;
use crate::ssh::sh_quote;

/// `ip` command to find the prefix length of the interface holding `addr`'s
/// network on the target (the lab's containers have one interface).
fn prefix_script() -> &'static str {
    "ip -o -4 addr show scope global | awk 'NR==1 {print $2, $4}'"
}

/// Brings `addr/prefix` up on `dev` and announces it (gratuitous ARP,
/// RFC 5227 §3): peers' ARP caches still point at the dead source.
pub fn take_ip_script(addr: &str, prefix: &str, dev: &str) -> String {
    format!(
        "ip addr add {a}/{p} dev {d} 2>/dev/null || ip -o addr show dev {d} | grep -q ' {a}/' ; \
         (command -v arping >/dev/null && arping -c 2 -U -I {d} {a} >/dev/null 2>&1; true)",
        a = sh_quote(addr),
        p = sh_quote(prefix),
        d = sh_quote(dev)
    )
}

/// Removes `addr` from `dev`.
pub fn release_ip_script(addr: &str, dev: &str) -> String {
    format!(
        "ip -o addr show dev {d} | awk '{{print $4}}' | grep \"^{a}/\" | while read x; do ip addr del \"$x\" dev {d}; done",
        a = addr.replace('.', "\\."),
        d = sh_quote(dev)
    )
}

/// Adds (or removes) `name` as an alias of `addr` in the target's hosts
/// file: the lab's stand-in for answering to the source's server name.
pub fn alias_script(addr: &str, name: &str, fqdn: &str, on: bool) -> String {
    let line = format!("{addr} {name} {fqdn} # drlab-takeover");
    if on {
        format!(
            "grep -qxF {l} /etc/hosts || echo {l} >> /etc/hosts",
            l = sh_quote(&line)
        )
    } else {
        format!(
            "grep -vxF {l} /etc/hosts > /etc/hosts.drlab && cat /etc/hosts.drlab > /etc/hosts; rm -f /etc/hosts.drlab",
            l = sh_quote(&line)
        )
    }
}

impl LabBackend {
    /// Waits until `host` answers on SSH again, within the boot limit.
    async fn wait_up(&self, host: &str) -> OpResult<()> {
        let limit = Duration::from_millis(self.limits.boot_timeout_ms);
        let start = Instant::now();
        loop {
            if self
                .sh(host, "true", self.timeout())
                .await
                .is_ok_and(|o| o.success())
            {
                return Ok(());
            }
            if start.elapsed() >= limit {
                return Err(OpError::timeout(format!("boot of {host}"), limit));
            }
            tokio::time::sleep(Duration::from_millis(self.limits.poll_interval_ms * 4)).await;
        }
    }

    /// The first global IPv4 interface of a host: `(device, "addr/prefix")`.
    async fn interface(&self, host: &str) -> OpResult<(String, String)> {
        let out = self.sh_ok(host, prefix_script(), "ip addr").await?;
        let mut it = out.stdout.split_whitespace();
        match (it.next(), it.next()) {
            (Some(d), Some(cidr)) => Ok((d.to_string(), cidr.to_string())),
            _ => Err(OpError::Io {
                detail: format!("no IPv4 interface found on {host}").into(),
            }),
        }
    }
}

impl Hosts for LabBackend {
    async fn ping(&self, _from: &str, to: &str, limit: Duration) -> OpResult<Duration> {
        // The heartbeat is a TCP connect to the host's SSH port from the
        // machine running drlab (in the lab it shares the network with the
        // monitor host); the round trip is the connect time. A host whose
        // address another host took over does not answer as itself.
        if let Err(e) = self.not_taken_over(to) {
            tokio::time::sleep(limit).await;
            return Err(e);
        }
        let e = self.entry(to)?;

        let port = e.ssh.as_ref().map_or(22, |s| s.port);
        let addr = SocketAddr::new(e.address, port);
        let t = Instant::now();
        match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => Ok(t.elapsed()),
            Ok(Err(err)) => {
                // Refused or unreachable at once: the miss still lasts the
                // heartbeat's limit, as an unanswered heartbeat does.
                let left = limit.saturating_sub(t.elapsed());
                tokio::time::sleep(left).await;
                Err(OpError::Unreachable {
                    host: format!("{to} ({err})").into(),
                })
            }
            Err(_) => Err(OpError::timeout(format!("heartbeat to {to}"), limit)),
        }
    }

    async fn reboot(&self, host: &str) -> OpResult<()> {
        let e = self.entry(host)?;
        if e.container.is_some() {
            // A container cannot reboot itself: its engine stops and starts it.
            self.faults
                .inject(&Fault::CrashHost { host: host.into() })
                .await?;
            self.faults
                .inject(&Fault::PowerOn { host: host.into() })
                .await?;
        } else {
            // The reboot drops the SSH session: its error is expected.
            let _ = self
                .sh(host, "(sleep 1; reboot) >/dev/null 2>&1 &", self.timeout())
                .await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        self.wait_up(host).await
    }

    async fn rename(&self, host: &str, new_name: &str) -> OpResult<()> {
        let e = self.entry(host)?;
        if e.container.is_some() {
            return Err(Self::unsupported(format!(
                "rename {host} to {new_name}: a container's host name is fixed when it is created"
            )));
        }
        match e.dialect {
            crate::inventory::Dialect::Linux => self
                .sh_ok(
                    host,
                    &format!("hostnamectl set-hostname {}", sh_quote(new_name)),
                    "hostnamectl",
                )
                .await
                .map(|_| ()),
            crate::inventory::Dialect::Windows => Err(Self::unsupported(format!(
                "rename {host}: Rename-Computer needs a domain credential the inventory does not name"
            ))),
        }
    }

    async fn join_domain(&self, host: &str, domain: &str) -> OpResult<()> {
        if !domain.eq_ignore_ascii_case(&self.estate.domain) {
            return Err(OpError::refused(format!(
                "{host} can only join the lab's domain {}, not {domain}",
                self.estate.domain
            )));
        }
        let dc = self
            .first_dc()
            .ok_or_else(|| {
                OpError::not_found("a domain controller with LDAP access in the inventory")
            })?
            .to_string();
        // The lab's mail hosts are members through their computer accounts.
        let mut ad = self.ad_for(&dc).await?;
        let c = ad.get_mut(&dc).expect("connected");
        if !c.computer_exists(host).await.map_err(OpError::from)? {
            c.create_computer(host).await.map_err(OpError::from)?;
        }
        Ok(())
    }

    async fn leave_domain(&self, host: &str) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "{host} leaving the domain: the lab's mail hosts are members only through their computer accounts; remove the account instead"
        )))
    }

    async fn take_over_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        let addr = self.address(from)?.to_string();
        if items.ip_addresses {
            // Two holders of one address is a conflict, as on a real LAN.
            if self
                .ping(to, from, Duration::from_millis(1500))
                .await
                .is_ok()
            {
                return Err(OpError::refused(format!(
                    "address conflict: {from} still answers at {addr}"
                )));
            }
            let (dev, cidr) = self.interface(to).await?;
            let prefix = cidr.split('/').nth(1).unwrap_or("24").to_string();
            self.sh_ok(to, &take_ip_script(&addr, &prefix, &dev), "ip addr add")
                .await?;
            self.taken_over
                .borrow_mut()
                .insert(from.to_string(), to.to_string());
        }
        if items.server_name {
            let fqdn = format!("{}.{}", from.to_ascii_lowercase(), self.estate.domain);
            self.sh_ok(to, &alias_script(&addr, from, &fqdn, true), "name alias")
                .await?;
        }
        Ok(())
    }

    async fn release_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        let addr = self.address(from)?.to_string();
        if items.ip_addresses {
            let (dev, _) = self.interface(to).await?;
            self.sh_ok(to, &release_ip_script(&addr, &dev), "ip addr del")
                .await?;
            self.taken_over.borrow_mut().remove(from);
        }
        if items.server_name {
            let fqdn = format!("{}.{}", from.to_ascii_lowercase(), self.estate.domain);
            self.sh_ok(to, &alias_script(&addr, from, &fqdn, false), "name alias")
                .await?;
        }
        Ok(())
    }

    async fn boot_on(&self, host: &str, server: &str) -> OpResult<()> {
        Err(Self::unsupported(format!(
            "boot {host} on server {server}: the container lab has no physical server pool or persona images"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_quote_their_arguments() {
        let s = take_ip_script("10.1.2.3", "24", "eth0");
        assert!(s.starts_with("ip addr add 10.1.2.3/24 dev eth0"), "{s}");
        assert!(s.contains("arping -c 2 -U -I eth0 10.1.2.3"), "{s}");
        // Anything a shell would interpret is quoted.
        let odd = take_ip_script("10.1.2.3", "24", "eth0; reboot");
        assert!(odd.contains("dev 'eth0; reboot'"), "{odd}");
        let r = release_ip_script("10.1.2.3", "eth0");
        assert!(r.contains("grep \"^10\\.1\\.2\\.3/\""), "{r}");
        let a = alias_script("10.1.2.3", "EXCH1", "exch1.corp.example.com", true);
        assert!(
            a.contains("'10.1.2.3 EXCH1 exch1.corp.example.com # drlab-takeover'"),
            "{a}"
        );
    }
}
