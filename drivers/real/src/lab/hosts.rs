//! Hosts in the lab: heartbeats (a TCP connect to the host's SSH port),
//! reboots and power through the container engine, identity takeover
//! (`ip addr add` of the source's address on the target with a gratuitous
//! ARP so neighbours learn the new owner at once), and domain membership as
//! computer accounts in Active Directory. The scripts are pure builders
//! ([`super::commands`] plans each call with them); the interface and its
//! prefix length are found by the scripts themselves on the host, so a
//! command is the same whenever it is sent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::IdentityItems;
use drlab_drivers::{Hosts, OpError};

use super::LabBackend;
use crate::ssh::sh_quote;

/// Shell snippet setting `$dev` and `$prefix` to the host's global IPv4
/// interface on the network that holds `addr`, and that interface's prefix
/// length. A lab host has a service and a management interface, in an
/// order that changes when the container is restarted or reconnected, so
/// "the first interface" may be the wrong one: an address taken over there
/// is announced on the wrong network and peers keep their stale ARP entry
/// for tens of seconds. The name is never assumed.
fn interface_of(addr: &str) -> String {
    format!(
        "set -- $(ip -o -4 addr show scope global | awk -v a={a} \
         'function n(ip) {{ split(ip, o, \".\"); return ((o[1] * 256 + o[2]) * 256 + o[3]) * 256 + o[4] }} \
         {{ split($4, x, \"/\"); m = 2 ^ (32 - x[2]); if (int(n(x[1]) / m) == int(n(a) / m)) {{ print $2, x[2]; exit }} }}'); \
         dev=$1; prefix=${{2:-24}}; [ -n \"$dev\" ] || {{ echo 'no IPv4 interface on the network of {a}' >&2; exit 1; }}",
        a = sh_quote(addr),
    )
}

/// Brings `addr` up on the host's interface on `addr`'s network with that
/// interface's prefix length (found by the script itself, so the command
/// is the same whenever it is sent) and announces it there (gratuitous
/// ARP, RFC 5227 §3): peers' ARP caches still point at the dead source.
/// Fails when the address is neither added nor already there.
pub fn take_ip_script(addr: &str) -> String {
    format!(
        "{}; \
         ip addr add {a}/\"$prefix\" dev \"$dev\" 2>/dev/null || ip -o addr show dev \"$dev\" | grep -q ' {a}/' || exit 1; \
         (command -v arping >/dev/null && arping -c 2 -U -I \"$dev\" {a} >/dev/null 2>&1; true)",
        interface_of(addr),
        a = sh_quote(addr),
    )
}

/// Removes `addr` from the host's interface on `addr`'s network.
pub fn release_ip_script(addr: &str) -> String {
    format!(
        "{}; \
         ip -o addr show dev \"$dev\" | awk '{{print $4}}' | grep \"^{a}/\" | while read x; do ip addr del \"$x\" dev \"$dev\"; done",
        interface_of(addr),
        a = addr.replace('.', "\\."),
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
        let mut call = self.call("reboot", self.commands().reboot(host))?;
        if self.entry(host)?.container.is_none() {
            // The reboot drops the SSH session: its error is expected.
            let _ = call.next().await;
        }
        call.rest().await
    }

    async fn rename(&self, host: &str, new_name: &str) -> OpResult<()> {
        self.call("rename", self.commands().rename(host, new_name))?
            .rest()
            .await
    }

    async fn join_domain(&self, host: &str, domain: &str) -> OpResult<()> {
        self.call("join_domain", self.commands().join_domain(host, domain))?
            .rest()
            .await
    }

    async fn leave_domain(&self, host: &str) -> OpResult<()> {
        self.call("leave_domain", self.commands().leave_domain(host))?
            .rest()
            .await
    }

    async fn take_over_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        let mut call = self.call(
            "take_over_identity",
            self.commands().take_over_identity(from, to, items),
        )?;
        if items.ip_addresses {
            // Two holders of one address is a conflict, as on a real LAN.
            call.next_ok().await?;
            call.next_ok().await?;
            self.taken_over
                .borrow_mut()
                .insert(from.to_string(), to.to_string());
        }
        call.rest().await
    }

    async fn release_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        let mut call = self.call(
            "release_identity",
            self.commands().release_identity(from, to, items),
        )?;
        if items.ip_addresses {
            call.next_ok().await?;
            self.taken_over.borrow_mut().remove(from);
        }
        call.rest().await
    }

    async fn boot_on(&self, host: &str, server: &str) -> OpResult<()> {
        self.call("boot_on", self.commands().boot_on(host, server))?
            .rest()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the interface choice for `addr` with an `ip` that lists the
    /// interfaces of a lab host whose management interface comes first (as
    /// after a reconnect), and returns `$dev $prefix`.
    fn chosen(addr: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let ip = dir.path().join("ip");
        std::fs::write(
            &ip,
            "#!/bin/sh\necho '2: eth0    inet 10.213.5.3/24 brd 10.213.5.255 scope global eth0\\       valid_lft forever'\n\
             echo '9: eth2    inet 10.212.5.4/24 brd 10.212.5.255 scope global eth2\\       valid_lft forever'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ip, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{}; echo \"$dev $prefix\"", interface_of(addr)))
            .env("PATH", path)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }

    #[test]
    fn an_address_goes_to_the_interface_on_its_network_not_the_first() {
        assert_eq!(chosen("10.212.5.5"), "eth2 24");
        assert_eq!(chosen("10.213.5.9"), "eth0 24");
        assert!(chosen("192.0.2.1").contains("no IPv4 interface on the network of 192.0.2.1"));
    }

    #[test]
    fn scripts_quote_their_arguments() {
        let s = take_ip_script("10.1.2.3");
        assert!(
            s.contains("ip addr add 10.1.2.3/\"$prefix\" dev \"$dev\""),
            "{s}"
        );
        assert!(s.contains("arping -c 2 -U -I \"$dev\" 10.1.2.3"), "{s}");
        assert!(s.contains("|| exit 1"), "a failed takeover fails: {s}");
        // Anything a shell would interpret is quoted.
        let odd = take_ip_script("10.1.2.3; reboot");
        assert!(odd.contains("ip addr add '10.1.2.3; reboot'/"), "{odd}");
        let r = release_ip_script("10.1.2.3");
        assert!(r.contains("grep \"^10\\.1\\.2\\.3/\""), "{r}");
        let a = alias_script("10.1.2.3", "EXCH1", "exch1.corp.example.com", true);
        assert!(
            a.contains("'10.1.2.3 EXCH1 exch1.corp.example.com # drlab-takeover'"),
            "{a}"
        );
    }
}
