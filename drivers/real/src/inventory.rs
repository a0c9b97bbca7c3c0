//! The lab inventory: a TOML file that maps a scenario's names (hosts,
//! clients, services, mailboxes) to real endpoints, and names where the
//! credentials come from (never the credentials themselves). Only hosts
//! listed here are ever contacted.
//!
//! ```toml
//! [lab]
//! name = "ci"
//! domain = "corp.example.com"
//! docker_network = "drlab-ci-1234"      # optional: lets faults use the container engine
//!
//! [credentials]
//! admin = { env = "DRLAB_ADMIN_PASSWORD" }
//! ssh = { file = "/run/drlab/ssh_password" }
//! mail = { env = "DRLAB_MAIL_PASSWORD" }
//!
//! [[hosts]]
//! name = "DC1"                            # the scenario's host name
//! address = "172.28.0.10"
//! roles = ["domain-controller", "dns"]
//! ssh = { user = "root", password = "ssh" }
//! container = "drlab-ci-1234-dc1"         # optional: for crash/pause/partition faults
//! ldap = { url = "ldap://172.28.0.10", bind = "Administrator@CORP.EXAMPLE.COM", password = "admin", base = "DC=corp,DC=example,DC=com" }
//! dns = { port = 53 }
//!
//! [[hosts]]
//! name = "EXCH1"
//! address = "172.28.0.11"
//! roles = ["mail"]
//! dialect = "linux"                       # or "windows" (OpenSSH + PowerShell)
//! ssh = { user = "root", password = "ssh", key_file = "/run/drlab/id_ed25519", known_hosts = "/run/drlab/known_hosts" }
//! container = "drlab-ci-1234-exch1"
//! mail_root = "/srv/mail"
//!
//! [services]                              # scenario service -> lab service unit
//! MSExchangeIS = "dovecot"
//! SMTPSVC = "postfix"
//!
//! [[clients]]
//! name = "hq-users"
//! host = "CLIENT1"                        # optional: where probes run (default: here)
//!
//! [mail]
//! smtp_port = 25
//! imap_port = 143
//! password = "mail"                       # credential used for every mailbox
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::SecretSource;

/// The whole inventory.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Lab identity.
    pub lab: LabDef,
    /// Named credential sources; hosts refer to them by name.
    #[serde(default)]
    pub credentials: BTreeMap<String, SecretSource>,
    /// Hosts, by the scenario's names.
    pub hosts: Vec<HostEntry>,
    /// Scenario service name → the lab's service unit on every mail host.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Client populations.
    #[serde(default)]
    pub clients: Vec<ClientEntry>,
    /// Mail protocol settings.
    #[serde(default)]
    pub mail: MailDef,
}

/// `[lab]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabDef {
    /// Lab name (reports and journals carry it).
    pub name: String,
    /// AD/DNS domain.
    pub domain: String,
    /// Docker network the lab's containers share, when the lab is containers.
    #[serde(default)]
    pub docker_network: Option<String>,
}

/// What a host does in the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabRole {
    /// Active Directory domain controller.
    DomainController,
    /// DNS server.
    Dns,
    /// Mail server (the Exchange stand-in).
    Mail,
    /// iSCSI target.
    San,
    /// A host that runs client probes.
    Client,
}

/// How commands are phrased on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// POSIX shell and the host's service manager.
    #[default]
    Linux,
    /// OpenSSH for Windows with PowerShell (Get-Service, Mount-Database...).
    Windows,
}

/// SSH access to a host.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SshDef {
    /// Port.
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// Login user.
    pub user: String,
    /// Credential name for password authentication.
    #[serde(default)]
    pub password: Option<String>,
    /// Private key file for key authentication.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// known_hosts file holding the host's keys (by address); without it
    /// the first key seen is pinned for the rest of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
}

fn default_ssh_port() -> u16 {
    22
}

/// LDAP access to a domain controller.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LdapDef {
    /// `ldap://host` or `ldaps://host`.
    pub url: String,
    /// Bind name (UPN or DN).
    pub bind: String,
    /// Credential name of the bind password.
    pub password: String,
    /// Base DN of the domain.
    pub base: String,
}

/// DNS service on a host.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsDef {
    /// Port.
    #[serde(default = "default_dns_port")]
    pub port: u16,
    /// Credential name of a TSIG key (`name:algorithm:base64`) for RFC 2136
    /// updates; none means unsigned updates.
    #[serde(default)]
    pub tsig: Option<String>,
}

fn default_dns_port() -> u16 {
    53
}

/// `[[hosts]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// The scenario's host name.
    pub name: String,
    /// Address drlab connects to.
    pub address: IpAddr,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<LabRole>,
    /// Command dialect.
    #[serde(default)]
    pub dialect: Dialect,
    /// SSH access.
    #[serde(default)]
    pub ssh: Option<SshDef>,
    /// Container name, when the host is a container of this lab.
    #[serde(default)]
    pub container: Option<String>,
    /// LDAP access (domain controllers).
    #[serde(default)]
    pub ldap: Option<LdapDef>,
    /// DNS service.
    #[serde(default)]
    pub dns: Option<DnsDef>,
    /// Root of the mail stores on a mail host.
    #[serde(default)]
    pub mail_root: Option<String>,
}

/// `[[clients]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// The scenario's client name.
    pub name: String,
    /// Host the probes run from (default: the machine running drlab).
    #[serde(default)]
    pub host: Option<String>,
}

/// `[mail]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailDef {
    /// SMTP port.
    #[serde(default = "default_smtp")]
    pub smtp_port: u16,
    /// IMAP port.
    #[serde(default = "default_imap")]
    pub imap_port: u16,
    /// Credential name of the mailbox password.
    #[serde(default)]
    pub password: Option<String>,
}

impl Default for MailDef {
    fn default() -> MailDef {
        MailDef {
            smtp_port: default_smtp(),
            imap_port: default_imap(),
            password: None,
        }
    }
}

fn default_smtp() -> u16 {
    25
}
fn default_imap() -> u16 {
    143
}

/// Why an inventory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid inventory.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl Inventory {
    /// Reads and checks an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Inventory::parse(path, &text)
    }

    /// Parses and checks inventory text (`path` only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let at = |offset: usize, message: String| {
            let before = &text[..offset.min(text.len())];
            InventoryError::Invalid {
                path: path.to_path_buf(),
                line: before.matches('\n').count() + 1,
                column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                message,
            }
        };
        let inv: Inventory = toml::from_str(text)
            .map_err(|e| at(e.span().map_or(0, |s| s.start), e.message().to_string()))?;
        let find = |needle: &str| text.find(needle).unwrap_or(0);
        let mut seen = std::collections::BTreeSet::new();
        for h in &inv.hosts {
            if !seen.insert(h.name.as_str()) {
                return Err(at(
                    find(&h.name),
                    format!("host {:?} is listed twice", h.name),
                ));
            }
            let creds = h
                .ssh
                .iter()
                .filter_map(|s| s.password.as_deref())
                .chain(h.ldap.iter().map(|l| l.password.as_str()))
                .chain(h.dns.iter().filter_map(|d| d.tsig.as_deref()));
            for c in creds {
                if !inv.credentials.contains_key(c) {
                    return Err(at(
                        find(c),
                        format!(
                            "host {} refers to credential {c:?}, which [credentials] does not define",
                            h.name
                        ),
                    ));
                }
            }
        }
        if let Some(c) = inv.mail.password.as_deref()
            && !inv.credentials.contains_key(c)
        {
            return Err(at(
                find(c),
                format!("[mail] refers to undefined credential {c:?}"),
            ));
        }
        for c in &inv.clients {
            if let Some(h) = &c.host
                && !seen.contains(h.as_str())
            {
                return Err(at(
                    find(h),
                    format!("client {} runs on unknown host {h:?}", c.name),
                ));
            }
        }
        Ok(inv)
    }

    /// The entry of a scenario host; only these hosts are ever touched.
    pub fn host(&self, name: &str) -> Option<&HostEntry> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[lab]
name = "ci"
domain = "corp.example.com"

[credentials]
admin = { env = "DRLAB_ADMIN_PASSWORD" }

[[hosts]]
name = "DC1"
address = "172.28.0.10"
roles = ["domain-controller", "dns"]
ldap = { url = "ldap://172.28.0.10", bind = "Administrator@CORP.EXAMPLE.COM", password = "admin", base = "DC=corp,DC=example,DC=com" }
"#;

    #[test]
    fn parses_and_resolves_hosts() {
        let inv = Inventory::parse(Path::new("inv.toml"), GOOD).unwrap();
        assert_eq!(inv.host("DC1").unwrap().address.to_string(), "172.28.0.10");
        assert!(inv.host("EXCH9").is_none());
    }

    #[test]
    fn undefined_credential_is_located() {
        let bad = GOOD.replace("password = \"admin\"", "password = \"root\"");
        let e = Inventory::parse(Path::new("inv.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("inv.toml:13:"), "{e}");
        assert!(e.contains("credential \"root\""), "{e}");
    }

    #[test]
    fn unknown_field_is_located() {
        let bad = GOOD.replace("roles =", "rolez =");
        let e = Inventory::parse(Path::new("inv.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("inv.toml:12:1:"), "{e}");
    }
}
