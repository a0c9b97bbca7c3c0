//! Hosts in the lab: heartbeats (a TCP connect to the host's SSH port,
//! sent by the monitoring host itself), reboots and power through the
//! container engine, identity takeover
//! (`ip addr add` of the source's address on the target with a gratuitous
//! ARP so neighbours learn the new owner at once), and domain membership as
//! computer accounts in Active Directory. The scripts are pure builders
//! ([`super::commands`] plans each call with them); the interface and its
//! prefix length are found by the scripts themselves on the host, so a
//! command is the same whenever it is sent.

use std::net::IpAddr;
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

/// How much longer than a heartbeat's limit the SSH session that carries
/// it to the monitor may take: the monitor's own answer decides, the
/// session is only the drill's window onto it.
const HEARTBEAT_SSH_MARGIN_MS: u64 = 2_000;

/// The shortest heartbeat limit sent to a monitor: `heartbeat_script`
/// gives it to coreutils' `timeout` in milliseconds, where 0 would mean
/// no limit; a shorter one is a miss at once.
const HEARTBEAT_LIMIT_MIN: Duration = Duration::from_millis(1);

/// What a monitor runs to send one heartbeat: a TCP connect to
/// `addr:port` bounded by `limit` and timed on the monitor itself, around
/// the connect only (bash's `$EPOCHREALTIME`, so neither the SSH session
/// carrying the command nor starting a shell counts). bash's `/dev/tcp`
/// opens the connection; coreutils' `timeout` bounds it (exit status 124
/// when it fired). Prints `ok MICROSECONDS`, `timeout`, or `refused`
/// (refused or unreachable at once).
pub fn heartbeat_script(addr: IpAddr, port: u16, limit: Duration) -> String {
    format!(
        "us=$(timeout {limit:.3} bash -c 's=${{EPOCHREALTIME/./}}; exec 3<>/dev/tcp/{addr}/{port} && echo $((${{EPOCHREALTIME/./}} - s))' 2>/dev/null); \
         case $? in 0) echo \"ok $us\" ;; 124) echo timeout ;; *) echo refused ;; esac",
        limit = limit.as_secs_f64()
    )
}

/// A heartbeat's answer, as [`heartbeat_script`] prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    /// Answered after this long.
    Ok(Duration),
    /// No answer within the limit.
    Timeout,
    /// Refused or unreachable at once.
    Refused,
}

/// Parses [`heartbeat_script`]'s line; `None` when it is not one.
pub fn parse_heartbeat(stdout: &str) -> Option<Heartbeat> {
    let mut words = stdout.split_whitespace();
    let answer = match (words.next()?, words.next()) {
        ("ok", Some(us)) => Heartbeat::Ok(Duration::from_micros(us.parse().ok()?)),
        ("timeout", None) => Heartbeat::Timeout,
        ("refused", None) => Heartbeat::Refused,
        _ => return None,
    };
    words.next().is_none().then_some(answer)
}

impl Hosts for LabBackend {
    async fn ping(&self, from: &str, to: &str, limit: Duration) -> OpResult<Duration> {
        // The monitor sends the heartbeat (a TCP connect to the host's SSH
        // port), as Double-Take's target monitors its source: a cut between
        // the two is seen even where the machine running drlab still
        // reaches both. A host whose address another host took over does
        // not answer as itself.
        let t = Instant::now();
        let miss = |e: OpError| async move {
            // every miss lasts the heartbeat's limit, as an unanswered one does
            tokio::time::sleep(limit.saturating_sub(t.elapsed())).await;
            Err(e)
        };
        if let Err(e) = self.not_taken_over(to) {
            return miss(e).await;
        }
        if limit < HEARTBEAT_LIMIT_MIN {
            // (coreutils' `timeout 0` would mean no limit at all)
            return Err(OpError::timeout(format!("heartbeat {from} -> {to}"), limit));
        }
        let e = self.entry(to)?;
        let port = e.ssh.as_ref().map_or(22, |s| s.port);
        let script = heartbeat_script(e.address, port, limit);
        let carry = limit + Duration::from_millis(HEARTBEAT_SSH_MARGIN_MS);
        let sent = tokio::time::timeout(carry, self.sh(from, &script, carry)).await;
        let answer = match sent {
            Ok(Ok(out)) => parse_heartbeat(&out.stdout).ok_or_else(|| OpError::Io {
                detail: format!(
                    "heartbeat {from} -> {to}: unexpected answer {:?}",
                    out.stdout
                )
                .into(),
            })?,
            // A monitor the drill cannot reach (down, cut off its
            // management network, hung) sends nothing: it is down with its
            // host for the drill, which then declares nothing, as the
            // simulator's down monitor.
            Ok(Err(_)) | Err(_) => {
                return miss(OpError::unreachable(from)).await;
            }
        };
        match answer {
            Heartbeat::Ok(rtt) => Ok(rtt),
            Heartbeat::Timeout => Err(OpError::timeout(format!("heartbeat {from} -> {to}"), limit)),
            Heartbeat::Refused => {
                miss(OpError::Unreachable {
                    host: format!("{to} (from {from})").into(),
                })
                .await
            }
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

    /// Runs [`heartbeat_script`] here, as a monitor would.
    fn beat(port: u16) -> Option<Heartbeat> {
        let script = heartbeat_script(IpAddr::from([127, 0, 0, 1]), port, Duration::from_secs(2));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        parse_heartbeat(&String::from_utf8_lossy(&out.stdout))
    }

    #[test]
    fn a_heartbeat_is_answered_by_a_listener_and_refused_by_a_closed_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().port();
        assert!(matches!(beat(open), Some(Heartbeat::Ok(rtt)) if rtt < Duration::from_secs(2)));
        drop(listener);
        assert_eq!(beat(open), Some(Heartbeat::Refused));
        assert_eq!(parse_heartbeat("timeout\n"), Some(Heartbeat::Timeout));
        assert_eq!(
            parse_heartbeat("ok 1500"),
            Some(Heartbeat::Ok(Duration::from_micros(1500)))
        );
        assert_eq!(parse_heartbeat("ok"), None);
        assert_eq!(parse_heartbeat("ok 12 13"), None);
        assert_eq!(parse_heartbeat("sh: bash: not found"), None);
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
