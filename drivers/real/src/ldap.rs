//! Active Directory over LDAP (`ldap3`): computer accounts (create, exists,
//! rename, remove), mailbox home attributes (get, set, list the mailboxes
//! homed on a server), mailbox users for test set-up, and the command
//! builders for forced replication (`samba-tool drs replicate`,
//! `repadmin`), which someone else runs on a DC over SSH.
//!
//! Pure parts — DN parsing and escaping (RFC 4514), filter escaping
//! (RFC 4515), the attributes of a new computer account, SPN rewriting on
//! rename, store DNs — are separate from the [`AdClient`] that talks to a
//! DC with a time limit on connect and on every operation.
//!
//! # Mailbox homes without an Exchange schema
//!
//! Exchange records a mailbox's home in `homeMDB`, the DN of its mailbox
//! store under the Exchange configuration container
//! (`CN=<store>,CN=<storage group>,CN=InformationStore,CN=<server>,CN=Servers,
//! CN=<admin group>,CN=Administrative Groups,CN=<org>,CN=Microsoft Exchange,
//! CN=Services,CN=Configuration,<domain>`); the server and storage group are
//! read off that DN. Samba's schema has no Exchange attributes (no
//! `homeMDB`, no `msExchHomeServerName`; checked on Samba 4.17 with
//! `ldbsearch` on the schema partition), so the lab keeps Exchange's model
//! and changes only the attribute:
//! - the store objects exist as entries at Exchange's DNs (plain
//!   `container` objects, created on demand by [`AdClient::ensure_store`]);
//! - the user points at its store with `seeAlso`, a base-schema (X.500,
//!   RFC 4519) DN-valued attribute that every `user` may hold and nothing
//!   in the lab uses. Like `homeMDB` it holds a DN that must name an
//!   existing entry, so a move is one attribute write, exactly what
//!   Exchange failover tools do to `homeMDB`.
//!
//! Against a real Exchange directory use [`MailboxHomeSchema::exchange`]
//! (attribute `homeMDB`); the stores then exist already. Exchange also
//! keeps `msExchHomeServerName` (and `homeMTA`) in step with `homeMDB`;
//! those cannot be written here and are not verified.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::{MailboxInfo, StoreRef};
use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Mod, Scope, SearchEntry};

use crate::dns::samba_tool::{SambaCredentials, ToolCommand, samba_tool, samba_tool_as};
use crate::secret::Secret;

// ------------------------------------------------------------------ DNs

/// Escapes an attribute value for use in an RDN (RFC 4514 §2.4): `\` before
/// `"+,;<>\` and `=`, a leading `#` or space, a trailing space; NUL as `\00`.
pub fn escape_rdn_value(v: &str) -> String {
    let n = v.chars().count();
    let mut out = String::with_capacity(v.len() + 4);
    for (i, c) in v.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i + 1 == n => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a value for a search filter (RFC 4515 §3: `*`, `(`, `)`, `\`
/// and NUL as `\XX`).
pub fn escape_filter_value(v: &str) -> String {
    ldap3::ldap_escape(v).into_owned()
}

/// Splits a DN into its RDNs' (attribute, value) pairs, values unescaped
/// (RFC 4514 §3: `\` followed by a special character or two hex digits).
/// Multi-valued RDNs (`a=1+b=2`) keep their first pair.
pub fn parse_dn(dn: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // attribute type
        let eq = dn[i..]
            .find('=')
            .ok_or_else(|| format!("RDN without `=` in {dn:?}"))?
            + i;
        let attr = dn[i..eq].trim().to_string();
        if attr.is_empty() {
            return Err(format!("empty attribute type in {dn:?}"));
        }
        i = eq + 1;
        let mut val: Vec<u8> = Vec::new();
        let mut skip_rest_of_rdn = false;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    let a = *bytes
                        .get(i + 1)
                        .ok_or_else(|| format!("dangling `\\` in {dn:?}"))?;
                    let hex = |c: u8| (c as char).to_digit(16);
                    match (hex(a), bytes.get(i + 2).and_then(|&b| hex(b))) {
                        (Some(h), Some(l)) => {
                            val.push((h * 16 + l) as u8);
                            i += 3;
                        }
                        _ => {
                            val.push(a);
                            i += 2;
                        }
                    }
                }
                b',' => break,
                b'+' => {
                    skip_rest_of_rdn = true;
                    i += 1;
                }
                c => {
                    if !skip_rest_of_rdn {
                        val.push(c);
                    }
                    i += 1;
                }
            }
        }
        out.push((attr, String::from_utf8_lossy(&val).trim().to_string()));
        i += 1; // the comma
    }
    Ok(out)
}

/// Whether two DNs name the same entry (attribute types and values
/// compared case-insensitively, escapes resolved).
pub fn dn_eq(a: &str, b: &str) -> bool {
    match (parse_dn(a), parse_dn(b)) {
        (Ok(x), Ok(y)) => {
            x.len() == y.len()
                && x.iter().zip(&y).all(|((ta, va), (tb, vb))| {
                    ta.eq_ignore_ascii_case(tb) && va.to_lowercase() == vb.to_lowercase()
                })
        }
        _ => false,
    }
}

/// `dn` minus the `suffix` DN, as RDN pairs, if `dn` lies under `suffix`.
fn under<'a>(
    dn: &'a [(String, String)],
    suffix: &[(String, String)],
) -> Option<&'a [(String, String)]> {
    let k = dn.len().checked_sub(suffix.len())?;
    let same = dn[k..].iter().zip(suffix).all(|((ta, va), (tb, vb))| {
        ta.eq_ignore_ascii_case(tb) && va.to_lowercase() == vb.to_lowercase()
    });
    same.then_some(&dn[..k])
}

/// `DC=drlab,DC=test` for `drlab.test`.
pub fn base_dn_of(dns_domain: &str) -> String {
    dns_domain
        .trim_end_matches('.')
        .split('.')
        .map(|l| format!("DC={}", escape_rdn_value(l)))
        .collect::<Vec<_>>()
        .join(",")
}

// ------------------------------------------------------------------ computers

/// `userAccountControl` of a member computer: WORKSTATION_TRUST_ACCOUNT
/// (0x1000) | PASSWD_NOTREQD (0x20), what ADUC's "New Computer" writes
/// ([MS-ADTS] §2.2.16); joining the domain then sets the machine password.
pub const UAC_WORKSTATION: u32 = 0x1000 | 0x20;

/// `userAccountControl` of a mailbox user without a password:
/// NORMAL_ACCOUNT (0x200) | ACCOUNTDISABLE (0x2). Setting a password needs
/// LDAPS (AD refuses `unicodePwd` over plain LDAP), which test mailboxes
/// do not need: mail log-in is the mail host's business.
pub const UAC_DISABLED_USER: u32 = 0x200 | 0x2;

/// Checks a computer (NetBIOS) name: 1–15 characters of letters, digits
/// and `-`, not all digits (Microsoft's computer naming rules).
pub fn check_computer_name(name: &str) -> Result<(), AdError> {
    let ok = (1..=15).contains(&name.len())
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !name.bytes().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(AdError::InvalidName {
            name: name.to_string(),
            detail: "a computer name has 1-15 letters, digits or '-' and is not all digits".into(),
        })
    }
}

/// A computer account as the directory holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputerAccount {
    /// Its DN.
    pub dn: String,
    /// `sAMAccountName`, with the trailing `$`.
    pub sam_account_name: String,
    /// `dNSHostName`, if set.
    pub dns_host_name: Option<String>,
    /// `servicePrincipalName` values.
    pub spns: Vec<String>,
}

impl ComputerAccount {
    /// The computer's name (the `sAMAccountName` without its `$`).
    pub fn name(&self) -> &str {
        self.sam_account_name.trim_end_matches('$')
    }
}

/// The SPNs Windows registers for a joined computer: `HOST` and
/// `RestrictedKrbHost`, each for the short name and the FQDN.
pub fn default_spns(name: &str, dns_domain: &str) -> Vec<String> {
    let fqdn = format!("{name}.{dns_domain}");
    ["HOST", "RestrictedKrbHost"]
        .iter()
        .flat_map(|svc| [format!("{svc}/{name}"), format!("{svc}/{fqdn}")])
        .collect()
}

/// The attributes of a new computer account `name` in `dns_domain`.
pub fn computer_attributes(name: &str, dns_domain: &str) -> Vec<(String, HashSet<String>)> {
    let one = |v: String| HashSet::from([v]);
    vec![
        ("objectClass".into(), one("computer".into())),
        (
            "sAMAccountName".into(),
            one(format!("{}$", name.to_ascii_uppercase())),
        ),
        (
            "userAccountControl".into(),
            one(UAC_WORKSTATION.to_string()),
        ),
        ("dNSHostName".into(), one(format!("{name}.{dns_domain}"))),
        (
            "servicePrincipalName".into(),
            default_spns(name, dns_domain).into_iter().collect(),
        ),
    ]
}

/// Rewrites SPNs (`service/host[:port][/service-name]`, [MS-ADTS] §5.1.1.4)
/// whose host is the old short name or FQDN to the new one, keeping the
/// service, port, service name and the case of the service class. Others
/// are kept unchanged.
pub fn rename_spns(spns: &[String], old: &str, new: &str, dns_domain: &str) -> Vec<String> {
    let old_fqdn = format!("{old}.{dns_domain}");
    let new_fqdn = format!("{new}.{dns_domain}");
    spns.iter()
        .map(|spn| {
            let Some((svc, rest)) = spn.split_once('/') else {
                return spn.clone();
            };
            let host_end = rest.find([':', '/']).unwrap_or(rest.len());
            let (host, tail) = rest.split_at(host_end);
            let host = if host.eq_ignore_ascii_case(old) {
                new.to_string()
            } else if host.eq_ignore_ascii_case(&old_fqdn) {
                new_fqdn.clone()
            } else {
                host.to_string()
            };
            format!("{svc}/{host}{tail}")
        })
        .collect()
}

/// The modifications that rename account `c` to `new` (before its DN
/// changes): `sAMAccountName` to `NEW$`, `dNSHostName` to `new.<domain>`,
/// and the SPNs rewritten by [`rename_spns`].
pub fn rename_mods(c: &ComputerAccount, new: &str, dns_domain: &str) -> Vec<Mod<String>> {
    let mut mods = vec![
        Mod::Replace(
            "sAMAccountName".to_string(),
            HashSet::from([format!("{}$", new.to_ascii_uppercase())]),
        ),
        Mod::Replace(
            "dNSHostName".to_string(),
            HashSet::from([format!("{new}.{dns_domain}")]),
        ),
    ];
    if !c.spns.is_empty() {
        mods.push(Mod::Replace(
            "servicePrincipalName".to_string(),
            rename_spns(&c.spns, c.name(), new, dns_domain)
                .into_iter()
                .collect(),
        ));
    }
    mods
}

// ------------------------------------------------------------------ mailbox homes

/// Where mailbox homes are recorded (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxHomeSchema {
    /// The user attribute holding the store's DN (`homeMDB` in Exchange,
    /// `seeAlso` in the lab).
    pub attribute: String,
    /// The DN under which server objects live (`CN=Servers,CN=<admin
    /// group>,...`); a store's DN is
    /// `CN=<store>,CN=<group>,CN=InformationStore,CN=<server>,<servers_dn>`.
    pub servers_dn: String,
}

impl MailboxHomeSchema {
    /// The lab's stand-in: `seeAlso`, with store entries under an
    /// Exchange-shaped configuration path for organisation `drlab` and the
    /// default administrative group.
    pub fn lab(base_dn: &str) -> MailboxHomeSchema {
        MailboxHomeSchema::at("seeAlso", "drlab", "First Administrative Group", base_dn)
    }

    /// A real Exchange organisation: `homeMDB` under its administrative group.
    pub fn exchange(org: &str, admin_group: &str, base_dn: &str) -> MailboxHomeSchema {
        MailboxHomeSchema::at("homeMDB", org, admin_group, base_dn)
    }

    fn at(attribute: &str, org: &str, admin_group: &str, base_dn: &str) -> MailboxHomeSchema {
        MailboxHomeSchema {
            attribute: attribute.to_string(),
            servers_dn: format!(
                "CN=Servers,CN={},CN=Administrative Groups,CN={},CN=Microsoft Exchange,CN=Services,CN=Configuration,{base_dn}",
                escape_rdn_value(admin_group),
                escape_rdn_value(org)
            ),
        }
    }

    /// The DN of server `server`'s object.
    pub fn server_dn(&self, server: &str) -> String {
        format!("CN={},{}", escape_rdn_value(server), self.servers_dn)
    }

    /// The DN of a store on `server`.
    pub fn store_dn(&self, server: &str, store: &StoreRef) -> String {
        format!(
            "CN={},CN={},CN=InformationStore,{}",
            escape_rdn_value(&store.store),
            escape_rdn_value(&store.group),
            self.server_dn(server)
        )
    }

    /// The server and store a store DN names, if it is one.
    pub fn parse_store_dn(&self, dn: &str) -> Option<(String, StoreRef)> {
        let rdns = parse_dn(dn).ok()?;
        let suffix = parse_dn(&self.servers_dn).ok()?;
        match under(&rdns, &suffix)? {
            [(t1, store), (t2, group), (t3, is), (t4, server)]
                if [t1, t2, t3, t4]
                    .iter()
                    .all(|t| t.eq_ignore_ascii_case("CN"))
                    && is.eq_ignore_ascii_case("InformationStore") =>
            {
                Some((
                    server.clone(),
                    StoreRef::new(group.as_str(), store.as_str()),
                ))
            }
            _ => None,
        }
    }
}

// ------------------------------------------------------------------ changes, as planned

/// The search filter of computer account `name` (by `sAMAccountName`).
pub fn computer_filter(name: &str) -> String {
    format!(
        "(&(objectClass=computer)(sAMAccountName={}$))",
        escape_filter_value(name)
    )
}

/// The search filter of mailbox user `name` (by `sAMAccountName`).
pub fn user_filter(name: &str) -> String {
    format!(
        "(&(objectCategory=person)(objectClass=user)(sAMAccountName={}))",
        escape_filter_value(name)
    )
}

/// Where a domain's objects are: everything about a directory a change
/// depends on but the connection and the password. The plan describes a
/// change with it; the [`AdClient`] makes the change with the same values
/// ([`AdConfig::layout`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdLayout {
    /// The domain's base DN.
    pub base_dn: String,
    /// The domain's DNS name (for `dNSHostName` and SPNs).
    pub dns_domain: String,
    /// Where new computer accounts go.
    pub computers_dn: String,
    /// Where new mailbox users go.
    pub users_dn: String,
    /// Where mailbox homes are recorded.
    pub mailbox_home: MailboxHomeSchema,
}

impl AdLayout {
    /// The lab's layout of the domain `dns_domain` at `base_dn`: default
    /// containers, `seeAlso` homes (what [`AdConfig::lab`] sets, with the
    /// inventory's base DN).
    pub fn lab(base_dn: &str, dns_domain: &str) -> AdLayout {
        AdLayout {
            base_dn: base_dn.to_string(),
            dns_domain: dns_domain.trim_end_matches('.').to_ascii_lowercase(),
            computers_dn: format!("CN=Computers,{base_dn}"),
            users_dn: format!("CN=Users,{base_dn}"),
            mailbox_home: MailboxHomeSchema::lab(base_dn),
        }
    }
}

/// A directory change as the lab backend makes it: one [`AdClient`]
/// operation with its arguments. [`AdChange::describe`] says which
/// requests it sends, from the same builders the client uses;
/// [`AdClient::apply`] sends them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdChange {
    /// [`AdClient::create_computer`].
    CreateComputer {
        /// Account name.
        name: String,
    },
    /// A computer account that must exist: created unless it does (a lab
    /// host joins the domain through its account).
    EnsureComputer {
        /// Account name.
        name: String,
    },
    /// [`AdClient::rename_computer`].
    RenameComputer {
        /// Old name.
        old: String,
        /// New name.
        new: String,
    },
    /// [`AdClient::remove_computer`].
    RemoveComputer {
        /// Account name.
        name: String,
    },
    /// [`AdClient::set_mailbox_home`].
    SetMailboxHome {
        /// Mailbox (user) name.
        mailbox: String,
        /// Its new server.
        server: String,
        /// Its new store.
        store: StoreRef,
    },
}

fn describe_add(dn: &str, attrs: &[(String, HashSet<String>)]) -> String {
    let attrs: Vec<String> = attrs
        .iter()
        .map(|(k, v)| {
            let mut v: Vec<&str> = v.iter().map(String::as_str).collect();
            v.sort_unstable();
            format!("{k}={}", v.join(" | "))
        })
        .collect();
    format!("add {dn} with {}", attrs.join(", "))
}

impl AdChange {
    /// Checks the names before anything is sent (as the client would).
    pub fn check(&self) -> Result<(), AdError> {
        match self {
            AdChange::CreateComputer { name } | AdChange::EnsureComputer { name } => {
                check_computer_name(name)
            }
            AdChange::RenameComputer { new, .. } => check_computer_name(new),
            AdChange::RemoveComputer { .. } | AdChange::SetMailboxHome { .. } => Ok(()),
        }
    }

    /// The requests, in order, as one line.
    pub fn describe(&self, l: &AdLayout) -> String {
        let find = |filter: &str| format!("search {} (subtree) for {filter}", l.base_dn);
        let add_computer = |name: &str| {
            let dn = format!("CN={},{}", escape_rdn_value(name), l.computers_dn);
            describe_add(&dn, &computer_attributes(name, &l.dns_domain))
        };
        match self {
            AdChange::CreateComputer { name } => format!(
                "{}: none may exist; {}",
                find(&computer_filter(name)),
                add_computer(name)
            ),
            AdChange::EnsureComputer { name } => format!(
                "{}: if none exists, {}",
                find(&computer_filter(name)),
                add_computer(name)
            ),
            AdChange::RenameComputer { old, new } => {
                let other = if old.eq_ignore_ascii_case(new) {
                    String::new()
                } else {
                    format!("{}: none may exist; ", find(&computer_filter(new)))
                };
                format!(
                    "{}: it must exist; {other}modify its DN: replace sAMAccountName={}$, \
                     replace dNSHostName={new}.{}, replace servicePrincipalName with its SPNs \
                     for {old} and {old}.{d} rewritten to {new} and {new}.{d} (when it has SPNs); \
                     modify DN: new RDN CN={}, the old RDN deleted",
                    find(&computer_filter(old)),
                    new.to_ascii_uppercase(),
                    l.dns_domain,
                    escape_rdn_value(new),
                    d = l.dns_domain,
                )
            }
            AdChange::RemoveComputer { name } => format!(
                "{}: it must exist; delete its DN with the Tree Delete control (1.2.840.113556.1.4.805, critical)",
                find(&computer_filter(name))
            ),
            AdChange::SetMailboxHome {
                mailbox,
                server,
                store,
            } => {
                let store_dn = l.mailbox_home.store_dn(server, store);
                format!(
                    "{}: it must exist; make sure {store_dn} exists (read each entry below \
                     CN=Services,CN=Configuration,{} down to it, add the missing ones with \
                     objectClass=container); modify the user: replace {} with that DN",
                    find(&user_filter(mailbox)),
                    l.base_dn,
                    l.mailbox_home.attribute,
                )
            }
        }
    }
}

// ------------------------------------------------------------------ replication commands

/// `samba-tool drs replicate <destination> <source> <nc> --sync-forced`:
/// makes `destination_dc` pull naming context `nc` from `source_dc` now
/// (Samba's `samba-tool drs --help`; SYNC_FORCED replicates even when
/// replication is disabled on the destination). The password goes to
/// stdin (see [`crate::dns::samba_tool`]).
pub fn samba_drs_replicate(
    destination_dc: &str,
    source_dc: &str,
    nc: &str,
    cred: &SambaCredentials,
) -> ToolCommand {
    samba_tool(
        vec![
            "drs".into(),
            "replicate".into(),
            destination_dc.into(),
            source_dc.into(),
            nc.into(),
            "--sync-forced".into(),
        ],
        cred,
    )
}

/// The naming contexts a forced replication must cover for drlab's
/// changes: the domain (computers, users), Configuration (the store
/// entries) and the application partitions of AD-integrated DNS zones.
pub fn replicated_ncs(base_dn: &str) -> Vec<String> {
    vec![
        base_dn.to_string(),
        format!("CN=Configuration,{base_dn}"),
        format!("DC=DomainDnsZones,{base_dn}"),
        format!("DC=ForestDnsZones,{base_dn}"),
    ]
}

/// One `samba-tool drs replicate` per naming context of
/// [`replicated_ncs`]: everything drlab changes, from `from` to `to`.
pub fn samba_force_replication(
    to: &str,
    from: &str,
    base_dn: &str,
    cred: &SambaCredentials,
) -> Vec<ToolCommand> {
    replicated_ncs(base_dn)
        .iter()
        .map(|nc| samba_drs_replicate(to, from, nc, cred))
        .collect()
}

/// The commands of [`samba_force_replication`] authenticating as `user`,
/// without the password: what the lab backend sends, and the plan shows;
/// the password goes to each command's stdin.
pub fn samba_force_replication_as(
    to: &str,
    from: &str,
    base_dn: &str,
    user: &str,
) -> Vec<ToolCommand> {
    replicated_ncs(base_dn)
        .iter()
        .map(|nc| {
            samba_tool_as(
                vec![
                    "drs".into(),
                    "replicate".into(),
                    to.into(),
                    from.into(),
                    nc.into(),
                    "--sync-forced".into(),
                ],
                user,
            )
        })
        .collect()
}

/// `repadmin /syncall <dc> /AdeP` (Windows Server `repadmin /syncall`):
/// synchronises every partition the DC holds (`/A`) across sites (`/e`),
/// naming servers by DN in its output (`/d`); with `push` (`/P`) the DC
/// pushes its changes to its partners instead of pulling. Runs in the
/// administrator's session (no credential argument).
pub fn repadmin_syncall(dc: &str, push: bool) -> ToolCommand {
    let flags = if push { "/AdeP" } else { "/Ade" };
    ToolCommand::new("repadmin", &["/syncall", dc, flags])
}

/// `repadmin /replicate <destination> <source> <nc>`: one naming context
/// from one DC to another, the pairwise form of a forced replication.
pub fn repadmin_replicate(destination_dc: &str, source_dc: &str, nc: &str) -> ToolCommand {
    ToolCommand::new("repadmin", &["/replicate", destination_dc, source_dc, nc])
}

// ------------------------------------------------------------------ errors

/// Why a directory operation failed. Never contains the bind password.
#[derive(Debug, thiserror::Error)]
pub enum AdError {
    /// The connection to the DC could not be opened.
    #[error("cannot connect to {url}: {detail}")]
    Connect {
        /// The LDAP URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The DC rejected the bind (result code 49 is invalid credentials).
    #[error("LDAP bind as {bind_dn} failed: {detail}")]
    Bind {
        /// Who tried to bind.
        bind_dn: String,
        /// The DC's result (code and diagnostic text).
        detail: String,
    },
    /// Connecting or an operation took longer than its limit.
    #[error("LDAP {op} timed out after {after_ms} ms")]
    Timeout {
        /// The operation.
        op: String,
        /// The limit that elapsed.
        after_ms: u64,
    },
    /// The DC answered an operation with an error result code (RFC 4511
    /// §4.1.9), e.g. 50 insufficientAccessRights, 19 constraintViolation.
    #[error("LDAP {op} failed: result {rc}: {text}")]
    Result {
        /// The operation.
        op: String,
        /// The result code.
        rc: u32,
        /// The DC's diagnostic text.
        text: String,
    },
    /// The object does not exist.
    #[error("{what} not found in the directory")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// An object with that name already exists.
    #[error("{what} already exists in the directory")]
    AlreadyExists {
        /// What was to be created.
        what: String,
    },
    /// A name is not acceptable (computer names, DNs).
    #[error("invalid name {name:?}: {detail}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        detail: String,
    },
    /// A transport or protocol failure below the LDAP result level.
    #[error("LDAP {op}: {detail}")]
    Transport {
        /// The operation.
        op: String,
        /// The client library's error.
        detail: String,
    },
}

impl From<AdError> for OpError {
    fn from(e: AdError) -> OpError {
        match &e {
            AdError::Connect { url, .. } => OpError::unreachable(url.as_str()),
            AdError::Timeout { op, after_ms } => {
                OpError::timeout(format!("LDAP {op}"), Duration::from_millis(*after_ms))
            }
            AdError::NotFound { what } => OpError::not_found(what.as_str()),
            AdError::Bind { .. } => OpError::refused(e.to_string()),
            AdError::Result { rc: 50 | 53, .. } => OpError::refused(e.to_string()),
            AdError::AlreadyExists { .. }
            | AdError::InvalidName { .. }
            | AdError::Result { .. } => OpError::invalid_state(e.to_string()),
            AdError::Transport { .. } => OpError::Io {
                detail: e.to_string().into(),
            },
        }
    }
}

/// LDAP result codes drlab tells apart (RFC 4511 Appendix A.1).
const RC_NO_SUCH_OBJECT: u32 = 32;
const RC_ALREADY_EXISTS: u32 = 68;

// ------------------------------------------------------------------ client

/// Limits of a directory session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapLimits {
    /// Limit on opening the connection (TCP, and TLS for `ldaps://`).
    pub connect_timeout_ms: u64,
    /// Limit on each operation (bind, add, modify...); a search gets it for
    /// starting and for each entry or page that follows.
    pub op_timeout_ms: u64,
    /// Entries per page of a paged search (RFC 2696); AD returns at most
    /// `MaxPageSize` (1000 by default) per request.
    pub page_entries: u32,
    /// Most entries a listing returns.
    pub entries_max: usize,
}

impl Default for LdapLimits {
    fn default() -> LdapLimits {
        LdapLimits {
            connect_timeout_ms: 3_000,
            op_timeout_ms: 10_000,
            page_entries: 500,
            entries_max: 100_000,
        }
    }
}

/// How to reach and bind to a domain controller.
#[derive(Clone)]
pub struct AdConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// Bind name: a UPN (`Administrator@DRLAB.TEST`) or a DN.
    pub bind_dn: String,
    /// Bind password.
    pub password: Secret,
    /// The domain's base DN, e.g. `DC=drlab,DC=test`.
    pub base_dn: String,
    /// The domain's DNS name, e.g. `drlab.test` (for `dNSHostName` and SPNs).
    pub dns_domain: String,
    /// Where new computer accounts go (default `CN=Computers,<base>`).
    pub computers_dn: Option<String>,
    /// Where new mailbox users go (default `CN=Users,<base>`).
    pub users_dn: Option<String>,
    /// Where mailbox homes are recorded.
    pub mailbox_home: MailboxHomeSchema,
    /// Accept any certificate on `ldaps://` (lab DCs use self-signed ones).
    pub tls_no_verify: bool,
    /// Limits.
    pub limits: LdapLimits,
}

impl fmt::Debug for AdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdConfig")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("password", &self.password)
            .field("base_dn", &self.base_dn)
            .field("dns_domain", &self.dns_domain)
            .field("mailbox_home", &self.mailbox_home)
            .finish_non_exhaustive()
    }
}

impl AdConfig {
    /// A configuration for the directory of `layout`: plain `ldap://`
    /// unless `url` says `ldaps://`, default limits.
    pub fn with_layout(url: &str, bind_dn: &str, password: Secret, layout: AdLayout) -> AdConfig {
        AdConfig {
            url: url.to_string(),
            bind_dn: bind_dn.to_string(),
            password,
            base_dn: layout.base_dn,
            dns_domain: layout.dns_domain,
            computers_dn: Some(layout.computers_dn),
            users_dn: Some(layout.users_dn),
            mailbox_home: layout.mailbox_home,
            tls_no_verify: false,
            limits: LdapLimits::default(),
        }
    }

    /// Where the directory's objects are, as a change is described.
    pub fn layout(&self) -> AdLayout {
        AdLayout {
            base_dn: self.base_dn.clone(),
            dns_domain: self.dns_domain.clone(),
            computers_dn: self
                .computers_dn
                .clone()
                .unwrap_or_else(|| format!("CN=Computers,{}", self.base_dn)),
            users_dn: self
                .users_dn
                .clone()
                .unwrap_or_else(|| format!("CN=Users,{}", self.base_dn)),
            mailbox_home: self.mailbox_home.clone(),
        }
    }

    /// A lab configuration: plain `ldap://`, `seeAlso` homes, default limits.
    pub fn lab(url: &str, bind_dn: &str, password: Secret, dns_domain: &str) -> AdConfig {
        let base_dn = base_dn_of(dns_domain);
        AdConfig {
            url: url.to_string(),
            bind_dn: bind_dn.to_string(),
            password,
            mailbox_home: MailboxHomeSchema::lab(&base_dn),
            base_dn,
            dns_domain: dns_domain.trim_end_matches('.').to_ascii_lowercase(),
            computers_dn: None,
            users_dn: None,
            tls_no_verify: false,
            limits: LdapLimits::default(),
        }
    }
}

/// A bound LDAP session with one domain controller.
pub struct AdClient {
    ldap: Ldap,
    cfg: AdConfig,
}

/// Runs an LDAP operation with the session's time limit and maps its errors.
macro_rules! op {
    ($self:expr, $name:expr, $call:expr) => {{
        let limit = $self.cfg.limits.op_timeout_ms;
        match tokio::time::timeout(Duration::from_millis(limit), $call).await {
            Err(_) => Err(AdError::Timeout {
                op: $name.to_string(),
                after_ms: limit,
            }),
            Ok(r) => r.map_err(|e| transport($name, e, limit)),
        }
    }};
}

/// An `ldap3` error as drlab's (`limit_ms`: the limit the operation ran under).
fn transport(op: &str, e: LdapError, limit_ms: u64) -> AdError {
    match e {
        LdapError::LdapResult { result } => AdError::Result {
            op: op.to_string(),
            rc: result.rc,
            text: result.text,
        },
        LdapError::Timeout { .. } => AdError::Timeout {
            op: op.to_string(),
            after_ms: limit_ms,
        },
        other => AdError::Transport {
            op: op.to_string(),
            detail: other.to_string(),
        },
    }
}

fn result_ok(op: &str, r: ldap3::LdapResult) -> Result<(), AdError> {
    if r.rc == 0 {
        Ok(())
    } else {
        Err(AdError::Result {
            op: op.to_string(),
            rc: r.rc,
            text: r.text,
        })
    }
}

fn first(e: &SearchEntry, attr: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first().cloned())
}

fn all(e: &SearchEntry, attr: &str) -> Vec<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

impl AdClient {
    /// Connects and binds (simple bind; over plain `ldap://` the DC must
    /// allow it — the lab's Samba has `ldap server require strong auth = no`).
    pub async fn connect(cfg: AdConfig) -> Result<AdClient, AdError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_millis(cfg.limits.connect_timeout_ms))
            .set_no_tls_verify(cfg.tls_no_verify);
        let limit = cfg.limits.connect_timeout_ms;
        let (conn, ldap) = match tokio::time::timeout(
            Duration::from_millis(limit),
            LdapConnAsync::with_settings(settings, &cfg.url),
        )
        .await
        {
            Err(_) => {
                return Err(AdError::Timeout {
                    op: "connect".into(),
                    after_ms: limit,
                });
            }
            Ok(Err(e)) => {
                return Err(AdError::Connect {
                    url: cfg.url.clone(),
                    detail: e.to_string(),
                });
            }
            Ok(Ok(x)) => x,
        };
        // the connection's driver: ends when the connection closes
        tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        let mut c = AdClient { ldap, cfg };
        let bind_dn = c.cfg.bind_dn.clone();
        let password = c.cfg.password.clone();
        let r = op!(c, "bind", c.ldap.simple_bind(&bind_dn, password.expose()))?;
        if r.rc != 0 {
            return Err(AdError::Bind {
                bind_dn,
                detail: format!("result {}: {}", r.rc, r.text),
            });
        }
        Ok(c)
    }

    /// The configuration (password redacted in `Debug`).
    pub fn config(&self) -> &AdConfig {
        &self.cfg
    }

    async fn search(
        &mut self,
        op: &str,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, AdError> {
        let limit_ms = self.cfg.limits.op_timeout_ms;
        let entries_max = self.cfg.limits.entries_max;
        let page_size = i32::try_from(self.cfg.limits.page_entries).unwrap_or(500);
        let attrs: Vec<String> = attrs.iter().map(|s| s.to_string()).collect();
        let limit = Duration::from_millis(limit_ms);
        let to = |_| AdError::Timeout {
            op: op.to_string(),
            after_ms: limit_ms,
        };
        let adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(page_size)),
        ];
        let mut stream = tokio::time::timeout(
            limit,
            self.ldap
                .streaming_search_with(adapters, base, scope, filter, attrs),
        )
        .await
        .map_err(to)?
        .map_err(|e| transport(op, e, limit_ms))?;
        let mut out = Vec::new();
        loop {
            let next = tokio::time::timeout(limit, stream.next())
                .await
                .map_err(to)?;
            match next.map_err(|e| transport(op, e, limit_ms))? {
                Some(e) => {
                    if out.len() >= entries_max {
                        let _ = stream.finish().await;
                        return Err(AdError::Result {
                            op: op.to_string(),
                            rc: 4,
                            text: format!("more than {entries_max} entries"),
                        });
                    }
                    out.push(SearchEntry::construct(e));
                }
                None => break,
            }
        }
        let res = tokio::time::timeout(limit, stream.finish())
            .await
            .map_err(to)?;
        if res.rc == RC_NO_SUCH_OBJECT {
            return Ok(Vec::new());
        }
        result_ok(op, res)?;
        Ok(out)
    }

    /// The computer account named `name` (by `sAMAccountName`), anywhere in
    /// the domain.
    pub async fn computer(&mut self, name: &str) -> Result<Option<ComputerAccount>, AdError> {
        check_computer_name(name)?;
        let filter = computer_filter(name);
        let base = self.cfg.base_dn.clone();
        let found = self
            .search(
                "search computer",
                &base,
                Scope::Subtree,
                &filter,
                &["sAMAccountName", "dNSHostName", "servicePrincipalName"],
            )
            .await?;
        Ok(found.into_iter().next().map(|e| ComputerAccount {
            sam_account_name: first(&e, "sAMAccountName").unwrap_or_default(),
            dns_host_name: first(&e, "dNSHostName"),
            spns: all(&e, "servicePrincipalName"),
            dn: e.dn,
        }))
    }

    /// Whether a computer account `name` exists.
    pub async fn computer_exists(&mut self, name: &str) -> Result<bool, AdError> {
        Ok(self.computer(name).await?.is_some())
    }

    fn computers_dn(&self) -> String {
        self.cfg.layout().computers_dn
    }

    fn users_dn(&self) -> String {
        self.cfg.layout().users_dn
    }

    /// Makes `change` (see [`AdChange::describe`] for what it sends).
    pub async fn apply(&mut self, change: &AdChange) -> Result<(), AdError> {
        match change {
            AdChange::CreateComputer { name } => self.create_computer(name).await.map(|_| ()),
            AdChange::EnsureComputer { name } => {
                if !self.computer_exists(name).await? {
                    self.create_computer(name).await?;
                }
                Ok(())
            }
            AdChange::RenameComputer { old, new } => {
                self.rename_computer(old, new).await.map(|_| ())
            }
            AdChange::RemoveComputer { name } => self.remove_computer(name).await,
            AdChange::SetMailboxHome {
                mailbox,
                server,
                store,
            } => self.set_mailbox_home(mailbox, server, store).await,
        }
    }

    /// Creates computer account `name` with the attributes of
    /// [`computer_attributes`]; returns its DN.
    pub async fn create_computer(&mut self, name: &str) -> Result<String, AdError> {
        check_computer_name(name)?;
        if self.computer_exists(name).await? {
            return Err(AdError::AlreadyExists {
                what: format!("computer account {name}"),
            });
        }
        let dn = format!("CN={},{}", escape_rdn_value(name), self.computers_dn());
        let attrs = computer_attributes(name, &self.cfg.dns_domain);
        let r = op!(self, "add computer", self.ldap.add(&dn, attrs))?;
        if r.rc == RC_ALREADY_EXISTS {
            return Err(AdError::AlreadyExists {
                what: format!("computer account {name}"),
            });
        }
        result_ok("add computer", r)?;
        Ok(dn)
    }

    /// Renames computer account `old` to `new` the way `Rename-Computer`
    /// does: `sAMAccountName`, `dNSHostName` and the SPNs first, then the
    /// object's RDN (modify DN, RFC 4511 §4.9) to `CN=<new>` in the same
    /// container. Returns the new DN.
    pub async fn rename_computer(&mut self, old: &str, new: &str) -> Result<String, AdError> {
        check_computer_name(new)?;
        let c = self.computer(old).await?.ok_or_else(|| AdError::NotFound {
            what: format!("computer account {old}"),
        })?;
        if !old.eq_ignore_ascii_case(new) && self.computer_exists(new).await? {
            return Err(AdError::AlreadyExists {
                what: format!("computer account {new}"),
            });
        }
        let mods = rename_mods(&c, new, &self.cfg.dns_domain);
        let r = op!(self, "modify computer", self.ldap.modify(&c.dn, mods))?;
        result_ok("modify computer", r)?;
        let new_rdn = format!("CN={}", escape_rdn_value(new));
        let r = op!(
            self,
            "modify DN",
            self.ldap.modifydn(&c.dn, &new_rdn, true, None)
        )?;
        result_ok("modify DN", r)?;
        let parent = parse_dn(&c.dn)
            .ok()
            .map(|rdns| {
                rdns[1..]
                    .iter()
                    .map(|(t, v)| format!("{t}={}", escape_rdn_value(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        Ok(format!("{new_rdn},{parent}"))
    }

    /// Removes computer account `name` with its child objects (the Tree
    /// Delete control, 1.2.840.113556.1.4.805, as ADUC does: a joined
    /// computer may own children such as service connection points).
    pub async fn remove_computer(&mut self, name: &str) -> Result<(), AdError> {
        let c = self
            .computer(name)
            .await?
            .ok_or_else(|| AdError::NotFound {
                what: format!("computer account {name}"),
            })?;
        let tree_delete = RawControl {
            ctype: "1.2.840.113556.1.4.805".into(),
            crit: true,
            val: None,
        };
        let r = op!(
            self,
            "delete computer",
            self.ldap.with_controls(tree_delete).delete(&c.dn)
        )?;
        result_ok("delete computer", r)
    }

    async fn exists(&mut self, dn: &str) -> Result<bool, AdError> {
        let found = self
            .search(
                "read entry",
                dn,
                Scope::Base,
                "(objectClass=*)",
                &["objectClass"],
            )
            .await?;
        Ok(!found.is_empty())
    }

    /// Makes sure the entry of `store` on `server` exists, creating the
    /// missing `container` objects of its path from the `CN=Services`
    /// container down (see the module documentation); returns the store DN.
    pub async fn ensure_store(
        &mut self,
        server: &str,
        store: &StoreRef,
    ) -> Result<String, AdError> {
        let home = self.cfg.mailbox_home.clone();
        let store_dn = home.store_dn(server, store);
        if self.exists(&store_dn).await? {
            return Ok(store_dn);
        }
        let services = format!("CN=Services,CN=Configuration,{}", self.cfg.base_dn);
        let rdns = parse_dn(&store_dn).map_err(|detail| AdError::InvalidName {
            name: store_dn.clone(),
            detail,
        })?;
        let suffix = parse_dn(&services).map_err(|detail| AdError::InvalidName {
            name: services.clone(),
            detail,
        })?;
        let path = under(&rdns, &suffix).ok_or_else(|| AdError::InvalidName {
            name: store_dn.clone(),
            detail: format!("not under {services}"),
        })?;
        // create from the top (nearest CN=Services) down to the store
        for depth in (0..path.len()).rev() {
            let dn = rdns[depth..]
                .iter()
                .map(|(t, v)| format!("{t}={}", escape_rdn_value(v)))
                .collect::<Vec<_>>()
                .join(",");
            if self.exists(&dn).await? {
                continue;
            }
            let attrs = vec![(
                "objectClass".to_string(),
                HashSet::from(["container".to_string()]),
            )];
            let r = op!(self, "add store container", self.ldap.add(&dn, attrs))?;
            if r.rc != RC_ALREADY_EXISTS {
                result_ok("add store container", r)?;
            }
        }
        Ok(store_dn)
    }

    /// The user entry of mailbox `name` (by `sAMAccountName`).
    async fn user(&mut self, name: &str) -> Result<Option<SearchEntry>, AdError> {
        let filter = user_filter(name);
        let base = self.cfg.base_dn.clone();
        let attr = self.cfg.mailbox_home.attribute.clone();
        let found = self
            .search(
                "search user",
                &base,
                Scope::Subtree,
                &filter,
                &["sAMAccountName", &attr],
            )
            .await?;
        Ok(found.into_iter().next())
    }

    /// Creates a mailbox user `name` (disabled, no password: see
    /// [`UAC_DISABLED_USER`]) with `mail` and `userPrincipalName` set to
    /// `name@<domain>`; returns its DN.
    pub async fn create_mailbox_user(&mut self, name: &str) -> Result<String, AdError> {
        if name.is_empty()
            || name.len() > 20
            || name.contains([
                '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@',
                ' ',
            ])
        {
            return Err(AdError::InvalidName {
                name: name.to_string(),
                detail: "a sAMAccountName has at most 20 characters and none of \"/\\[]:;|=,+*?<>@ or space".into(),
            });
        }
        if self.user(name).await?.is_some() {
            return Err(AdError::AlreadyExists {
                what: format!("user {name}"),
            });
        }
        let dn = format!("CN={},{}", escape_rdn_value(name), self.users_dn());
        let addr = format!("{name}@{}", self.cfg.dns_domain);
        let one = |v: String| HashSet::from([v]);
        let attrs = vec![
            ("objectClass".to_string(), one("user".into())),
            ("sAMAccountName".to_string(), one(name.to_string())),
            ("userPrincipalName".to_string(), one(addr.clone())),
            ("mail".to_string(), one(addr)),
            (
                "userAccountControl".to_string(),
                one(UAC_DISABLED_USER.to_string()),
            ),
        ];
        let r = op!(self, "add user", self.ldap.add(&dn, attrs))?;
        result_ok("add user", r)?;
        Ok(dn)
    }

    /// Removes mailbox user `name`.
    pub async fn remove_mailbox_user(&mut self, name: &str) -> Result<(), AdError> {
        let u = self.user(name).await?.ok_or_else(|| AdError::NotFound {
            what: format!("user {name}"),
        })?;
        let r = op!(self, "delete user", self.ldap.delete(&u.dn))?;
        result_ok("delete user", r)
    }

    /// Moves mailbox `mailbox` to `store` on `server`: ensures the store
    /// entry exists, then replaces the home attribute with its DN.
    pub async fn set_mailbox_home(
        &mut self,
        mailbox: &str,
        server: &str,
        store: &StoreRef,
    ) -> Result<(), AdError> {
        let u = self.user(mailbox).await?.ok_or_else(|| AdError::NotFound {
            what: format!("mailbox user {mailbox}"),
        })?;
        let store_dn = self.ensure_store(server, store).await?;
        let attr = self.cfg.mailbox_home.attribute.clone();
        let r = op!(
            self,
            "set mailbox home",
            self.ldap
                .modify(&u.dn, vec![Mod::Replace(attr, HashSet::from([store_dn]))])
        )?;
        result_ok("set mailbox home", r)
    }

    /// Where mailbox `mailbox` is homed (`None` if it has no home).
    pub async fn mailbox_home(&mut self, mailbox: &str) -> Result<Option<MailboxInfo>, AdError> {
        let u = self.user(mailbox).await?.ok_or_else(|| AdError::NotFound {
            what: format!("mailbox user {mailbox}"),
        })?;
        Ok(self.home_of(&u))
    }

    fn home_of(&self, u: &SearchEntry) -> Option<MailboxInfo> {
        let name = first(u, "sAMAccountName")?;
        all(u, &self.cfg.mailbox_home.attribute)
            .iter()
            .find_map(|dn| self.cfg.mailbox_home.parse_store_dn(dn))
            .map(|(server, store)| MailboxInfo {
                name: name.into(),
                server: server.into(),
                store,
            })
    }

    /// The mailboxes homed on `server` (case-insensitive), in name order:
    /// a paged search of every user with a home, filtered by the server
    /// named in the home's DN.
    pub async fn list_mailboxes(&mut self, server: &str) -> Result<Vec<MailboxInfo>, AdError> {
        let attr = self.cfg.mailbox_home.attribute.clone();
        let filter = format!("(&(objectCategory=person)(objectClass=user)({attr}=*))");
        let base = self.cfg.base_dn.clone();
        let users = self
            .search(
                "list mailboxes",
                &base,
                Scope::Subtree,
                &filter,
                &["sAMAccountName", &attr],
            )
            .await?;
        let mut out: Vec<MailboxInfo> = users
            .iter()
            .filter_map(|u| self.home_of(u))
            .filter(|m| m.server.eq_ignore_ascii_case(server))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Ends the session (unbind, RFC 4511 §4.3).
    pub async fn close(mut self) -> Result<(), AdError> {
        op!(self, "unbind", self.ldap.unbind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdn_escaping() {
        assert_eq!(escape_rdn_value("EXCH1"), "EXCH1");
        assert_eq!(
            escape_rdn_value("Mailbox Store (EXCH1)"),
            "Mailbox Store (EXCH1)"
        );
        assert_eq!(escape_rdn_value("a,b+c=d"), r"a\,b\+c\=d");
        assert_eq!(escape_rdn_value("#x "), r"\#x\ ");
        assert_eq!(escape_rdn_value(r#"q"\"#), r#"q\"\\"#);
        assert_eq!(escape_filter_value("a*(b)"), r"a\2a\28b\29");
    }

    #[test]
    fn dn_parsing() {
        let rdns = parse_dn(r"CN=Smith\, John,OU=Sales\2C EU,DC=drlab,DC=test").unwrap();
        assert_eq!(rdns[0], ("CN".into(), "Smith, John".into()));
        assert_eq!(rdns[1], ("OU".into(), "Sales, EU".into()));
        assert_eq!(rdns.len(), 4);
        assert_eq!(
            parse_dn("cn=a+sn=b,dc=x").unwrap()[0],
            ("cn".into(), "a".into())
        );
        assert!(parse_dn("novalue").is_err());
        assert!(parse_dn(r"CN=a\").is_err());
        assert!(parse_dn("").unwrap().is_empty());
        let v = "Mailbox Store, #1 ";
        let dn = format!("CN={},DC=x", escape_rdn_value(v));
        assert_eq!(parse_dn(&dn).unwrap()[0].1, v.trim());
        assert!(dn_eq(
            "cn=EXCH1,cn=Computers,DC=Drlab,DC=test",
            "CN=exch1, CN=computers, dc=drlab, dc=test"
        ));
        assert!(!dn_eq("CN=a,DC=x", "CN=b,DC=x"));
        assert_eq!(base_dn_of("Corp.Example.com."), "DC=Corp,DC=Example,DC=com");
    }

    #[test]
    fn computer_names() {
        assert!(check_computer_name("EXCH1").is_ok());
        assert!(check_computer_name("EXCH1tmp").is_ok());
        assert!(check_computer_name("A-very-long-name").is_err());
        assert!(check_computer_name("").is_err());
        assert!(check_computer_name("12345").is_err());
        assert!(check_computer_name("bad name").is_err());
        assert!(check_computer_name("x)(cn=*").is_err());
    }

    #[test]
    fn new_computer_attributes() {
        let a = computer_attributes("exch1", "drlab.test");
        let get = |k: &str| a.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("sAMAccountName"), HashSet::from(["EXCH1$".to_string()]));
        assert_eq!(
            get("dNSHostName"),
            HashSet::from(["exch1.drlab.test".to_string()])
        );
        assert_eq!(
            get("userAccountControl"),
            HashSet::from(["4128".to_string()])
        );
        let spns = get("servicePrincipalName");
        for s in [
            "HOST/exch1",
            "HOST/exch1.drlab.test",
            "RestrictedKrbHost/exch1",
            "RestrictedKrbHost/exch1.drlab.test",
        ] {
            assert!(spns.contains(s), "{s}");
        }
    }

    #[test]
    fn spn_rewriting() {
        let spns: Vec<String> = [
            "HOST/EXCH1",
            "HOST/exch1.drlab.test",
            "exchangeMDB/EXCH1.drlab.test:6001",
            "SMTP/exch1/drlab.test",
            "HOST/EXCH10",
            "HOST/other.drlab.test",
            "weird-spn-without-slash",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            rename_spns(&spns, "EXCH1", "EXCH1tmp", "drlab.test"),
            vec![
                "HOST/EXCH1tmp",
                "HOST/EXCH1tmp.drlab.test",
                "exchangeMDB/EXCH1tmp.drlab.test:6001",
                "SMTP/EXCH1tmp/drlab.test",
                "HOST/EXCH10",
                "HOST/other.drlab.test",
                "weird-spn-without-slash",
            ]
        );
    }

    #[test]
    fn rename_modifications() {
        let c = ComputerAccount {
            dn: "CN=EXCH2,CN=Computers,DC=drlab,DC=test".into(),
            sam_account_name: "EXCH2$".into(),
            dns_host_name: Some("exch2.drlab.test".into()),
            spns: vec!["HOST/EXCH2".into()],
        };
        let mods = rename_mods(&c, "EXCH1", "drlab.test");
        assert_eq!(mods.len(), 3);
        assert!(
            matches!(&mods[0], Mod::Replace(a, v) if a == "sAMAccountName" && v.contains("EXCH1$"))
        );
        assert!(
            matches!(&mods[1], Mod::Replace(a, v) if a == "dNSHostName" && v.contains("EXCH1.drlab.test"))
        );
        assert!(
            matches!(&mods[2], Mod::Replace(a, v) if a == "servicePrincipalName" && v.contains("HOST/EXCH1"))
        );
        let bare = ComputerAccount { spns: vec![], ..c };
        assert_eq!(rename_mods(&bare, "X", "d").len(), 2);
    }

    #[test]
    fn store_dns_round_trip() {
        let h = MailboxHomeSchema::lab("DC=drlab,DC=test");
        assert_eq!(h.attribute, "seeAlso");
        let s = StoreRef::new("First Storage Group", "Mailbox Store (EXCH1)");
        let dn = h.store_dn("EXCH1", &s);
        assert_eq!(
            dn,
            "CN=Mailbox Store (EXCH1),CN=First Storage Group,CN=InformationStore,CN=EXCH1,CN=Servers,\
CN=First Administrative Group,CN=Administrative Groups,CN=drlab,CN=Microsoft Exchange,CN=Services,\
CN=Configuration,DC=drlab,DC=test"
        );
        assert_eq!(
            h.parse_store_dn(&dn),
            Some(("EXCH1".to_string(), s.clone()))
        );
        // as the DC may return it: different case, hex escapes
        let odd = dn
            .replace("CN=Servers", "cn=servers")
            .replace("DC=drlab", "dc=DRLAB");
        assert_eq!(h.parse_store_dn(&odd), Some(("EXCH1".to_string(), s)));
        let tricky = StoreRef::new("SG, 2", "Sales+Marketing");
        assert_eq!(
            h.parse_store_dn(&h.store_dn("EXCH2", &tricky)).unwrap().1,
            tricky
        );
        // not a store
        assert_eq!(h.parse_store_dn(&h.server_dn("EXCH1")), None);
        assert_eq!(h.parse_store_dn("CN=alice,CN=Users,DC=drlab,DC=test"), None);
        let x = MailboxHomeSchema::exchange(
            "Contoso",
            "Exchange Administrative Group (FYDIBOHF23SPDLT)",
            "DC=c,DC=com",
        );
        assert_eq!(x.attribute, "homeMDB");
        assert!(
            x.servers_dn
                .starts_with("CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),")
        );
    }

    #[test]
    fn replication_commands() {
        let cred = SambaCredentials {
            user: "Administrator".into(),
            password: Secret::new("Adm1n-Pass"),
        };
        let c = samba_drs_replicate("dc2", "dc1", "DC=drlab,DC=test", &cred);
        assert_eq!(
            c.posix_line(),
            "PASSWD_FD=0 samba-tool drs replicate dc2 dc1 DC=drlab,DC=test --sync-forced -U Administrator"
        );
        assert!(!format!("{c:?}").contains("Adm1n-Pass"));
        let all = samba_force_replication("dc2", "dc1", "DC=drlab,DC=test", &cred);
        assert_eq!(all.len(), 4);
        assert_eq!(all[1].args[4], "CN=Configuration,DC=drlab,DC=test");
        assert_eq!(
            repadmin_syncall("DC01", true).posix_line(),
            "repadmin /syncall DC01 /AdeP"
        );
        assert_eq!(
            repadmin_syncall("DC01", false).posix_line(),
            "repadmin /syncall DC01 /Ade"
        );
        assert_eq!(
            repadmin_replicate("DC02", "DC01", "DC=corp,DC=example,DC=com").posix_line(),
            "repadmin /replicate DC02 DC01 DC=corp,DC=example,DC=com"
        );
    }

    #[test]
    fn config_debug_hides_the_password() {
        let c = AdConfig::lab(
            "ldap://10.0.0.1",
            "Administrator@DRLAB.TEST",
            Secret::new("Adm1n-Pass"),
            "drlab.test",
        );
        assert_eq!(c.base_dn, "DC=drlab,DC=test");
        assert!(!format!("{c:?}").contains("Adm1n-Pass"));
    }

    #[test]
    fn errors_map_to_op_errors() {
        use drlab_drivers::ErrorKind;
        let k = |e: AdError| OpError::from(e).kind();
        assert_eq!(
            k(AdError::NotFound { what: "x".into() }),
            ErrorKind::NotFound
        );
        assert_eq!(
            k(AdError::Result {
                op: "x".into(),
                rc: 50,
                text: String::new()
            }),
            ErrorKind::Refused
        );
        assert_eq!(
            k(AdError::Timeout {
                op: "x".into(),
                after_ms: 1
            }),
            ErrorKind::Timeout
        );
        assert_eq!(
            k(AdError::Connect {
                url: "u".into(),
                detail: String::new()
            }),
            ErrorKind::Unreachable
        );
    }
}
