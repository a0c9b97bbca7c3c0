//! What the lab backend would do for each journal action, as concrete
//! commands a person can read and check before a drill (`--dry-run`). Built
//! from the inventory and the scenario only: no connection, no credential.
//! Commands never carry secrets (passwords travel on standard input). The
//! scripts are the lab backend's own ([`drlab_real::lab::scripts`]).

use drlab_drivers::types::StoreRef;
use drlab_real::dialect::linux;
use drlab_real::inventory::{Dialect, Inventory};
use drlab_real::lab::Estate;
use drlab_real::lab::scripts;
use drlab_scenarios::Scenario;

use crate::journal::Action;

/// Renders actions as the lab's commands.
#[derive(Debug, Clone)]
pub struct Renderer {
    inv: Inventory,
    estate: Estate,
}

/// A renderer for `scenario` on the lab of `inv`.
pub fn render(inv: &Inventory, scenario: &Scenario) -> Renderer {
    Renderer {
        inv: inv.clone(),
        estate: crate::estate::of(scenario),
    }
}

impl Renderer {
    fn ssh(&self, host: &str, command: &str) -> String {
        match self.inv.host(host) {
            Some(e) => {
                let user = e.ssh.as_ref().map_or("?", |s| s.user.as_str());
                format!("ssh {user}@{} ({host}): {command}", e.address)
            }
            None => format!("(not in the inventory: {host}) {command}"),
        }
    }

    fn ldap(&self, dc: &str, what: &str) -> String {
        match self.inv.host(dc).and_then(|e| e.ldap.as_ref()) {
            Some(l) => format!("ldap {} ({dc}) as {}: {what}", l.url, l.bind),
            None => format!("ldap ({dc}, no LDAP access in the inventory): {what}"),
        }
    }

    fn unit(&self, service: &str) -> String {
        self.inv
            .services
            .get(service)
            .cloned()
            .unwrap_or_else(|| format!("<unmapped {service}>"))
    }

    fn users(&self, group: &str, store: &str) -> Vec<&str> {
        self.estate.users_of(&StoreRef::new(group, store))
    }

    fn windows(&self, host: &str) -> bool {
        self.inv
            .host(host)
            .is_some_and(|e| e.dialect == Dialect::Windows)
    }

    /// The commands behind `a`.
    pub fn render(&self, a: &Action) -> Vec<String> {
        let or = |r: Result<String, drlab_real::dialect::DialectError>| {
            r.unwrap_or_else(|e| format!("<{e}>"))
        };
        match a {
            Action::StartService { host, service } if !self.windows(host) => {
                vec![self.ssh(host, &or(linux::start(&self.unit(service))))]
            }
            Action::StopService { host, service } if !self.windows(host) => {
                vec![self.ssh(host, &or(linux::stop(&self.unit(service))))]
            }
            Action::StartService { host, service } => {
                vec![self.ssh(host, &format!("powershell Start-Service -Name '{service}'"))]
            }
            Action::StopService { host, service } => {
                vec![self.ssh(host, &format!("powershell Stop-Service -Name '{service}'"))]
            }
            Action::SetStartup { host, service, startup, .. } => {
                vec![self.ssh(host, &format!("drlab-svc startup {} {startup}", self.unit(service)))]
            }
            Action::MountStore { host, group, store } => vec![self.ssh(
                host,
                &scripts::deny_script(&self.users(group, store), false),
            )],
            Action::DismountStore { host, group, store } => vec![self.ssh(
                host,
                &scripts::deny_script(&self.users(group, store), true),
            )],
            Action::SetOverwrite { host, group, store, on } => vec![self.ssh(
                host,
                &scripts::overwrite_script(&StoreRef::new(group.as_str(), store.as_str()), *on),
            )],
            Action::Recovery { host, group, store, hard } => vec![self.ssh(
                host,
                &scripts::recovery_script(&self.users(group, store), *hard),
            )],
            Action::TakeOverIdentity { from, to, ip, name } => {
                let addr = self.inv.host(from).map_or("?".into(), |e| e.address.to_string());
                let mut v = Vec::new();
                if *ip {
                    v.push(format!("tcp connect {addr}:22 (must fail: no address conflict)"));
                    v.push(self.ssh(to, &scripts::take_ip_script(&addr, "<prefix>", "<dev>")));
                }
                if *name {
                    let fqdn = format!("{}.{}", from.to_ascii_lowercase(), self.estate.domain);
                    v.push(self.ssh(to, &scripts::alias_script(&addr, from, &fqdn, true)));
                }
                v
            }
            Action::ReleaseIdentity { from, to, ip, name } => {
                let addr = self.inv.host(from).map_or("?".into(), |e| e.address.to_string());
                let mut v = Vec::new();
                if *ip {
                    v.push(self.ssh(to, &scripts::release_ip_script(&addr, "<dev>")));
                }
                if *name {
                    let fqdn = format!("{}.{}", from.to_ascii_lowercase(), self.estate.domain);
                    v.push(self.ssh(to, &scripts::alias_script(&addr, from, &fqdn, false)));
                }
                v
            }
            Action::SetMailboxHome { dc, mailbox, server, group, store, .. } => vec![self.ldap(
                dc,
                &format!("modify user {mailbox}: home := CN={store},CN={group},CN=InformationStore,CN={server},..."),
            )],
            Action::CreateComputer { dc, name } => vec![self.ldap(dc, &format!("add CN={name},CN=Computers"))],
            Action::RemoveComputer { dc, name } => vec![self.ldap(dc, &format!("delete CN={name} (tree)"))],
            Action::RenameComputer { dc, old, new } => vec![self.ldap(
                dc,
                &format!("modify CN={old}: sAMAccountName, dNSHostName, servicePrincipalName; modrdn to CN={new}"),
            )],
            Action::JoinDomain { host, domain } => vec![format!("ensure computer account {host} in {domain} (LDAP)")],
            Action::LeaveDomain { host, .. } => vec![format!("{host}: leave the domain (unsupported in the Linux lab)")],
            Action::ForceReplication { from, to } => vec![self.ssh(
                to,
                &format!("PASSWD_FD=0 samba-tool drs replicate {to} {from} <each naming context> --sync-forced -U <user> (password on stdin)"),
            )],
            Action::DnsAdd { server, name, rtype, data, ttl_s } => {
                vec![self.dns(server, &format!("RFC 2136 UPDATE add {name} {ttl_s} {rtype} {data}"))]
            }
            Action::DnsDelete { server, name, rtype, data, .. } => {
                vec![self.dns(server, &format!("RFC 2136 UPDATE delete {name} {rtype} {data}"))]
            }
            Action::PauseReplication { source, .. } => {
                vec![self.ssh(source, &drlab_real::replication::pause_script())]
            }
            Action::ResumeReplication { source, .. } => {
                vec![self.ssh(source, &drlab_real::replication::resume_script())]
            }
            Action::DisconnectReplication { source, .. } => {
                vec![self.ssh(source, &drlab_real::replication::disconnect_script())]
            }
            Action::ConnectReplication { source, target, mirror } => vec![self.ssh(
                source,
                &format!("write lsyncd config for {target}, mirror {mirror}, start lsyncd"),
            )],
            Action::Restore { from, to, only_if_newer } => vec![self.ssh(
                from,
                &format!(
                    "rsync -a{} <mail root>/ root@{to}:<mail root>/",
                    if *only_if_newer { " --update" } else { "" }
                ),
            )],
            Action::Fault { fault, target } => vec![self.fault(fault, target)],
            Action::Repair { fault, target } => vec![self.fault(fault, target)],
            Action::Reboot { host } => vec![format!("{host}: stop and start (container) or reboot, then wait for SSH")],
            Action::Rename { host, name, .. } => vec![format!("{host}: rename to {name} (hostnamectl; unsupported for containers)")],
            Action::TakeArchive { host, level_h } => {
                vec![self.ssh(host, &format!("tar czf /srv/archive/{host}-{level_h}h-<time>.tgz -C <mail root> ."))]
            }
            Action::RestoreArchive { id, host } => {
                vec![self.ssh(host, &format!("tar xzf /srv/archive/{id}.tgz -C <mail root>"))]
            }
            Action::FlushCache { client } => {
                vec![format!("flush the resolver cache of client {client} (drlab's own resolver)")]
            }
            Action::BootOn { .. }
            | Action::Grant { .. }
            | Action::Revoke { .. }
            | Action::Attach { .. }
            | Action::Detach { .. }
            | Action::Snapshot { .. }
            | Action::SetPortVlans { .. } => vec!["(unsupported in the container lab: the drill step will fail)".into()],
        }
    }

    fn dns(&self, server: &str, what: &str) -> String {
        match self
            .inv
            .host(server)
            .and_then(|e| e.dns.as_ref().map(|d| (e.address, d)))
        {
            Some((addr, d)) => format!(
                "dns {addr}:{} ({server}){}: {what}",
                d.port,
                if d.tsig.is_some() {
                    " signed with TSIG"
                } else {
                    ""
                }
            ),
            None => format!("dns ({server}, no DNS service in the inventory): {what}"),
        }
    }

    fn fault(&self, fault: &str, target: &str) -> String {
        let host = target.split([':', '<']).next().unwrap_or(target);
        let container = self
            .inv
            .host(host)
            .and_then(|e| e.container.clone())
            .unwrap_or_else(|| "<no container>".into());
        match fault {
            "crash-host" | "power-off" => format!("docker kill {container} ({host})"),
            "power-on" => format!("docker start {container} ({host})"),
            "partition" | "heal" => format!("{fault} {target}: blackhole routes on both sides"),
            _ => format!("{fault} {target}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renderer() -> Renderer {
        let inv = Inventory::parse(
            std::path::Path::new("i.toml"),
            "[lab]\nname='x'\ndomain='corp.example.com'\n[credentials]\nroot={env='X'}\n\
             [[hosts]]\nname='EXCH2'\naddress='10.0.0.12'\nssh={user='root',password_credential='root'}\n\
             [services]\nMSExchangeSA='exchange-sa'\n",
        )
        .unwrap();
        Renderer {
            inv,
            estate: Estate::default(),
        }
    }

    #[test]
    fn commands_name_the_host_and_carry_no_secret() {
        let r = renderer();
        let v = r.render(&Action::StartService {
            host: "EXCH2".into(),
            service: "MSExchangeSA".into(),
        });
        assert_eq!(
            v,
            ["ssh root@10.0.0.12 (EXCH2): /usr/local/sbin/drlab-svc start exchange-sa"]
        );
        let v = r.render(&Action::StartService {
            host: "EXCH9".into(),
            service: "MSExchangeSA".into(),
        });
        assert!(v[0].starts_with("(not in the inventory: EXCH9)"), "{v:?}");
    }
}
