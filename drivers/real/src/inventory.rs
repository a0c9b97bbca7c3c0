//! The lab inventory: a TOML file that maps a scenario's names (hosts,
//! clients, services, mailboxes) to real endpoints, and names where the
//! credentials come from (never the credentials themselves). Only hosts
//! listed here are ever contacted.
//!
//! A field that refers to a credential is called `*_credential` and holds
//! the *name* of a `[credentials]` entry, never the secret. The old spelling
//! `password` is refused with a located error that does not repeat its value,
//! and an unresolved reference is reported without its value either (it may
//! be a password typed in the wrong place), listing the names that are
//! defined.
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
//! ssh = { user = "root", password_credential = "ssh" }
//! container = "drlab-ci-1234-dc1"         # optional: for crash/pause/partition faults
//! ldap = { url = "ldap://172.28.0.10", bind = "Administrator@CORP.EXAMPLE.COM", password_credential = "admin", base = "DC=corp,DC=example,DC=com" }
//! dns = { port = 53 }
//!
//! [[hosts]]
//! name = "EXCH1"
//! address = "172.28.0.11"
//! roles = ["mail"]
//! dialect = "linux"                       # or "windows" (OpenSSH + PowerShell)
//! ssh = { user = "root", password_credential = "ssh", key_file = "/run/drlab/id_ed25519", known_hosts = "/run/drlab/known_hosts" }
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
//! password_credential = "mail"            # credential used for every mailbox
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
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
#[serde(from = "SshToml")]
pub struct SshDef {
    /// Port.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// For password authentication: the name of the `[credentials]` entry
    /// holding the password, never the password (TOML
    /// `password_credential`).
    pub password_credential: Option<String>,
    /// Private key file for key authentication.
    pub key_file: Option<PathBuf>,
    /// known_hosts file holding the host's keys (by address); without it
    /// the first key seen is pinned for the rest of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// The host's management address, when drlab's SSH sessions go over an
    /// out-of-band network (an iLO-style console LAN) rather than the
    /// service network: the host stays reachable while a fault cuts it off
    /// the service network or another host holds its service address.
    /// Without it SSH goes to the host's `address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
}

/// [`SshDef`] as written, with the old spelling refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "SshDef")]
struct SshToml {
    #[serde(default = "default_ssh_port")]
    port: u16,
    user: String,
    #[serde(default)]
    password_credential: Option<String>,
    #[serde(default)]
    #[expect(dead_code, reason = "deserializing it is an error")]
    password: Option<RenamedPassword>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    known_hosts: Option<PathBuf>,
    #[serde(default)]
    address: Option<IpAddr>,
}

impl From<SshToml> for SshDef {
    fn from(t: SshToml) -> SshDef {
        SshDef {
            port: t.port,
            user: t.user,
            password_credential: t.password_credential,
            key_file: t.key_file,
            known_hosts: t.known_hosts,
            address: t.address,
        }
    }
}

/// What the old key `password` says: it was renamed for what it holds.
const RENAMED_PASSWORD: &str = "`password` was renamed `password_credential`: \
     it names an entry of [credentials], not the password itself";

/// The old key `password`: present at all, it is an error that names the
/// key and never its value (which may be the password itself), so it has
/// no value.
enum RenamedPassword {}

impl<'de> Deserialize<'de> for RenamedPassword {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<RenamedPassword, D::Error> {
        Err(serde::de::Error::custom(RENAMED_PASSWORD))
    }
}

fn default_ssh_port() -> u16 {
    22
}

/// LDAP access to a domain controller.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(from = "LdapToml")]
pub struct LdapDef {
    /// `ldap://host` or `ldaps://host`.
    pub url: String,
    /// Bind name (UPN or DN).
    pub bind: String,
    /// The name of the `[credentials]` entry holding the bind password,
    /// never the password.
    pub password_credential: String,
    /// Base DN of the domain.
    pub base: String,
}

/// [`LdapDef`] as written, with the old spelling refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "LdapDef")]
struct LdapToml {
    url: String,
    bind: String,
    password_credential: String,
    #[serde(default)]
    #[expect(dead_code, reason = "deserializing it is an error")]
    password: Option<RenamedPassword>,
    base: String,
}

impl From<LdapToml> for LdapDef {
    fn from(t: LdapToml) -> LdapDef {
        LdapDef {
            url: t.url,
            bind: t.bind,
            password_credential: t.password_credential,
            base: t.base,
        }
    }
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
    /// Credential name of a second TSIG key, the one the drill's set-up
    /// writes the scenario's starting records with: a zone that refuses
    /// the runbook's updates (`tsig`) still takes this key's, as an
    /// administrator edits a static zone "by other means". None: the
    /// set-up uses `tsig` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_tsig: Option<String>,
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

impl HostEntry {
    /// Where drlab's SSH sessions to this host connect: the management
    /// address when the inventory gives one, else the host's address.
    pub fn ssh_addr(&self) -> Option<SocketAddr> {
        let ssh = self.ssh.as_ref()?;
        Some(SocketAddr::new(
            ssh.address.unwrap_or(self.address),
            ssh.port,
        ))
    }

    /// Whether SSH reaches the host out of band, so neither a cut of its
    /// service network nor an identity takeover of its address stops it.
    pub fn ssh_out_of_band(&self) -> bool {
        self.ssh.as_ref().is_some_and(|s| s.address.is_some())
    }
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
#[serde(from = "MailToml")]
pub struct MailDef {
    /// SMTP port.
    pub smtp_port: u16,
    /// IMAP port.
    pub imap_port: u16,
    /// The name of the `[credentials]` entry holding the mailbox password,
    /// never the password.
    pub password_credential: Option<String>,
}

/// [`MailDef`] as written, with the old spelling refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "MailDef")]
struct MailToml {
    #[serde(default = "default_smtp")]
    smtp_port: u16,
    #[serde(default = "default_imap")]
    imap_port: u16,
    #[serde(default)]
    password_credential: Option<String>,
    #[serde(default)]
    #[expect(dead_code, reason = "deserializing it is an error")]
    password: Option<RenamedPassword>,
}

impl From<MailToml> for MailDef {
    fn from(t: MailToml) -> MailDef {
        MailDef {
            smtp_port: t.smtp_port,
            imap_port: t.imap_port,
            password_credential: t.password_credential,
        }
    }
}

impl Default for MailDef {
    fn default() -> MailDef {
        MailDef {
            smtp_port: default_smtp(),
            imap_port: default_imap(),
            password_credential: None,
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
        // where a reference is written: its first quoted occurrence
        let find_quoted = |value: &str| {
            [format!("\"{value}\""), format!("'{value}'")]
                .iter()
                .filter_map(|q| text.find(q.as_str()))
                .min()
                .map_or_else(|| find(value), |o| o + 1)
        };
        // an unresolved reference may be a secret typed where its name
        // belongs: say where it is and what is defined, never what it says
        let undefined = |offset: usize, who: String| {
            let defined = if inv.credentials.is_empty() {
                "none".to_string()
            } else {
                inv.credentials
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            at(
                offset,
                format!(
                    "{who} refers to a credential that [credentials] does not define; \
                     defined: {defined}"
                ),
            )
        };
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
                .filter_map(|s| {
                    Some(("ssh.password_credential", s.password_credential.as_deref()?))
                })
                .chain(
                    h.ldap
                        .iter()
                        .map(|l| ("ldap.password_credential", l.password_credential.as_str())),
                )
                .chain(
                    h.dns
                        .iter()
                        .filter_map(|d| Some(("dns.tsig", d.tsig.as_deref()?))),
                )
                .chain(
                    h.dns
                        .iter()
                        .filter_map(|d| Some(("dns.admin_tsig", d.admin_tsig.as_deref()?))),
                );
            for (field, c) in creds {
                if !inv.credentials.contains_key(c) {
                    return Err(undefined(
                        find_quoted(c),
                        format!("host {} ({field})", h.name),
                    ));
                }
            }
        }
        if let Some(c) = inv.mail.password_credential.as_deref()
            && !inv.credentials.contains_key(c)
        {
            return Err(undefined(
                find_quoted(c),
                "[mail] password_credential".to_string(),
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

/// One fuzz input (`cargo fuzz run inventory`, and the corpus replay in the
/// tests): any text parses to an inventory or a located error, never a
/// panic.
pub fn fuzz_inventory(text: &str) {
    let _ = Inventory::parse(Path::new("fuzz.toml"), text);
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
ldap = { url = "ldap://172.28.0.10", bind = "Administrator@CORP.EXAMPLE.COM", password_credential = "admin", base = "DC=corp,DC=example,DC=com" }
"#;

    #[test]
    fn parses_and_resolves_hosts() {
        let inv = Inventory::parse(Path::new("inv.toml"), GOOD).unwrap();
        assert_eq!(inv.host("DC1").unwrap().address.to_string(), "172.28.0.10");
        assert!(inv.host("EXCH9").is_none());
    }

    #[test]
    fn undefined_credential_is_located_and_never_echoed() {
        // a password typed where the credential's name belongs
        let bad = GOOD
            .replace(
                "[credentials]\n",
                "[credentials]\nmail = { env = \"DRLAB_MAIL_PASSWORD\" }\n",
            )
            .replace(
                "password_credential = \"admin\"",
                "password_credential = \"Hunter2-MySecret\"",
            );
        let e = Inventory::parse(Path::new("inv.toml"), &bad).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("Hunter2"), "the value is echoed: {shown}");
        let e = e.to_string();
        let column = bad.lines().nth(13).unwrap().find("\"Hunter2").unwrap() + 2;
        assert_eq!(
            e,
            format!(
                "inv.toml:14:{column}: host DC1 (ldap.password_credential) refers to a \
                 credential that [credentials] does not define; defined: admin, mail"
            )
        );

        for (what, edit) in [
            (
                "host DC1 (ssh.password_credential)",
                "roles = [\"dns\"]\nssh = { user = \"root\", password_credential = \"Hunter2-MySecret\" }",
            ),
            (
                "host DC1 (dns.tsig)",
                "roles = [\"dns\"]\ndns = { tsig = \"Hunter2-MySecret\" }",
            ),
        ] {
            let bad = GOOD.replace("roles = [\"domain-controller\", \"dns\"]", edit);
            let e = Inventory::parse(Path::new("inv.toml"), &bad)
                .unwrap_err()
                .to_string();
            assert!(!e.contains("Hunter2"), "{e}");
            assert!(
                e.starts_with("inv.toml:13:")
                    && e.ends_with(&format!(
                        "{what} refers to a credential that [credentials] does not define; \
                         defined: admin"
                    )),
                "{e}"
            );
        }

        let bad = format!("{GOOD}\n[mail]\npassword_credential = \"Hunter2-MySecret\"\n");
        let e = Inventory::parse(Path::new("inv.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "inv.toml:16:24: [mail] password_credential refers to a credential that \
             [credentials] does not define; defined: admin"
        );

        let bad = GOOD.replace("admin = { env = \"DRLAB_ADMIN_PASSWORD\" }\n", "");
        let e = Inventory::parse(Path::new("inv.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("defined: none"), "{e}");
    }

    #[test]
    fn the_old_spelling_is_a_located_error_without_its_value() {
        let renamed = "`password` was renamed `password_credential`: it names an entry of \
                       [credentials], not the password itself";
        let ldap = GOOD.replace(
            "password_credential = \"admin\"",
            "password = \"Hunter2-MySecret\"",
        );
        let ssh = GOOD.replace(
            "roles = [\"domain-controller\", \"dns\"]",
            "ssh = { user = \"root\", password = \"Hunter2-MySecret\" }",
        );
        let mail = format!("{GOOD}\n[mail]\npassword = \"Hunter2-MySecret\"\n");
        for (bad, line) in [(ldap, 13), (ssh, 12), (mail, 16)] {
            let e = Inventory::parse(Path::new("inv.toml"), &bad).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("Hunter2"), "the value is echoed: {shown}");
            let e = e.to_string();
            let column = bad
                .lines()
                .nth(line - 1)
                .unwrap()
                .find("\"Hunter2")
                .unwrap()
                + 1;
            assert_eq!(e, format!("inv.toml:{line}:{column}: {renamed}"), "{bad}");
        }
        // a value of another type is refused the same way, unseen
        let odd = GOOD.replace("password_credential = \"admin\"", "password = 4711");
        let e = Inventory::parse(Path::new("inv.toml"), &odd)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(renamed) && !e.contains("4711"), "{e}");
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
