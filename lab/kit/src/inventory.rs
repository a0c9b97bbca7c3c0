//! The inventory the harness writes for a started lab (the format of
//! `drlab_real::inventory`): the scenario's hosts DC1, EXCH1, EXCH2 mapped to
//! the containers, a client host, the Exchange service mapping, and
//! credentials by file (mode 0600), never by value.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use drlab_real::inventory::{
    ClientEntry, Dialect, DnsDef, HostEntry, Inventory, LabDef, LabRole, LdapDef, MailDef, SshDef,
};
use drlab_real::secret::SecretSource;

use crate::lab::{LabOptions, Shape};
use crate::secrets::{DNS_ADMIN_CREDENTIAL, DNS_UPDATE_CREDENTIAL, SecretFiles};

/// Where the mail hosts keep their stores (one mbox file per mailbox).
pub const MAIL_ROOT: &str = "/srv/mail";

/// The scenario's Exchange services and the lab services that stand in for
/// them on the mail hosts (`drlab-svc` names).
///
/// | scenario | lab | what runs |
/// |---|---|---|
/// | SMTPSVC | `postfix` | Postfix, SMTP :25 |
/// | MSExchangeIS | `dovecot` | Dovecot's master: access to the mail store |
/// | IMAP4Svc | `imap` | Dovecot's IMAP listener :143 |
/// | POP3Svc | `pop3` | Dovecot's POP3 listener :110 |
/// | MSExchangeSA, MSExchangeMTA, MSExchangeMGMT, RESvc, MSExchangeES, W3SVC | `exchange-sa`, `exchange-mta`, `exchange-mgmt`, `exchange-re`, `exchange-es`, `w3svc` | a marker process `drlab-marker NAME` (no Linux counterpart) |
pub const SERVICE_MAP: [(&str, &str); 10] = [
    ("MSExchangeSA", "exchange-sa"),
    ("MSExchangeIS", "dovecot"),
    ("MSExchangeMTA", "exchange-mta"),
    ("POP3Svc", "pop3"),
    ("IMAP4Svc", "imap"),
    ("MSExchangeMGMT", "exchange-mgmt"),
    ("RESvc", "exchange-re"),
    ("MSExchangeES", "exchange-es"),
    ("W3SVC", "w3svc"),
    ("SMTPSVC", "postfix"),
];

/// One started host.
#[derive(Clone, Debug)]
pub struct HostPlan {
    /// The scenario's name (DC1, EXCH1, ...).
    pub host: String,
    /// Host name inside the lab (dc1, exch1, ...).
    pub short: String,
    /// Image role (dc, mail, client).
    pub role: String,
    /// Address on the lab (service) network.
    pub address: IpAddr,
    /// Address on the management network (drlab's SSH sessions).
    pub management: IpAddr,
    /// Container name.
    pub container: String,
}

/// Builds the inventory of a started lab.
pub fn build(
    name: &str,
    network: &str,
    opts: &LabOptions,
    plans: &[HostPlan],
    files: &SecretFiles,
    known_hosts: &Path,
) -> Inventory {
    let realm = opts.domain.to_uppercase();
    let base = opts
        .domain
        .split('.')
        .map(|p| format!("DC={p}"))
        .collect::<Vec<_>>()
        .join(",");
    let ssh = SshDef {
        port: 22,
        user: "root".into(),
        password_credential: Some("root".into()),
        key_file: Some(files.ssh_key.clone()),
        known_hosts: Some(known_hosts.to_path_buf()),
        address: None,
    };
    let hosts = plans
        .iter()
        .map(|p| {
            let mut h = HostEntry {
                name: p.host.clone(),
                address: p.address,
                roles: Vec::new(),
                dialect: Dialect::Linux,
                ssh: Some(SshDef {
                    address: Some(p.management),
                    ..ssh.clone()
                }),
                container: Some(p.container.clone()),
                ldap: None,
                dns: None,
                mail_root: None,
            };
            match p.role.as_str() {
                "dc" => {
                    h.roles = vec![LabRole::DomainController, LabRole::Dns];
                    h.ldap = Some(LdapDef {
                        url: format!("ldap://{}", p.address),
                        bind: format!("Administrator@{realm}"),
                        password_credential: "admin".into(),
                        base: base.clone(),
                    });
                    h.dns = Some(if opts.runs_bind() {
                        DnsDef {
                            port: crate::lab::BIND_PORT,
                            tsig: Some(DNS_UPDATE_CREDENTIAL.into()),
                            admin_tsig: Some(DNS_ADMIN_CREDENTIAL.into()),
                        }
                    } else {
                        DnsDef {
                            port: 53,
                            tsig: None,
                            admin_tsig: None,
                        }
                    });
                }
                "mail" => {
                    h.roles = vec![LabRole::Mail];
                    h.mail_root = Some(MAIL_ROOT.into());
                }
                _ => h.roles = vec![LabRole::Client],
            }
            h
        })
        .collect();
    let file = |p: &Path| SecretSource::File {
        file: p.to_path_buf(),
    };
    Inventory {
        lab: LabDef {
            name: name.into(),
            domain: opts.domain.clone(),
            docker_network: Some(network.into()),
        },
        credentials: {
            let mut c = BTreeMap::from([
                ("admin".to_string(), file(&files.admin)),
                ("root".to_string(), file(&files.root)),
                ("mail".to_string(), file(&files.mail)),
            ]);
            if opts.runs_bind() {
                c.insert(DNS_UPDATE_CREDENTIAL.into(), file(&files.dns_update));
                c.insert(DNS_ADMIN_CREDENTIAL.into(), file(&files.dns_admin));
            }
            c
        },
        hosts,
        services: SERVICE_MAP
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        clients: clients(opts.shape),
        mail: MailDef {
            smtp_port: 25,
            imap_port: 143,
            password_credential: Some("mail".into()),
        },
    }
}

/// The client populations the lab's scenarios name, each probing from
/// CLIENT1: `hq-users` (lan); wan adds the WAN scenarios' `branch-users`
/// and `kiosk-users` (their resolver policies are drlab's own, from the
/// scenario, on the DNS server it names).
fn clients(shape: Shape) -> Vec<ClientEntry> {
    let names: &[&str] = match shape {
        Shape::Lan => &["hq-users"],
        Shape::Wan => &["hq-users", "branch-users", "kiosk-users"],
    };
    names
        .iter()
        .map(|n| ClientEntry {
            name: (*n).into(),
            host: Some("CLIENT1".into()),
        })
        .collect()
}

/// The inventory's text, with a header saying what it is.
pub fn render(inv: &Inventory, image: &str) -> Result<String, toml::ser::Error> {
    let body = toml::to_string(inv)?;
    Ok(format!(
        "# drlab CI lab {} (image {image}), written by drlab-labkit.\n\
         # Credentials are in the files [credentials] names (mode 0600), never in this file.\n\
         # Remove the lab with: drlab lab down --name {}\n\n{body}",
        inv.lab.name, inv.lab.name
    ))
}

/// Writes a file atomically (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretFiles;

    /// The secret files a lab under `d` writes.
    fn secret_files(d: &Path) -> SecretFiles {
        SecretFiles {
            admin: d.join("secrets/admin_password"),
            root: d.join("secrets/root_password"),
            mail: d.join("secrets/mail_password"),
            ssh_key: d.join("secrets/id_ed25519"),
            dns_update: d.join("secrets/dns_update_key"),
            dns_admin: d.join("secrets/dns_admin_key"),
        }
    }

    #[test]
    fn written_inventory_loads_and_names_files_not_values() {
        let plans: Vec<HostPlan> = [
            ("DC1", "dc1", "dc"),
            ("EXCH1", "exch1", "mail"),
            ("EXCH2", "exch2", "mail"),
            ("CLIENT1", "client1", "client"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (h, s, r))| HostPlan {
            host: (*h).into(),
            short: (*s).into(),
            role: (*r).into(),
            address: format!("10.212.9.{}", i + 2).parse().unwrap(),
            management: format!("10.213.9.{}", i + 2).parse().unwrap(),
            container: format!("drlab-t-{s}"),
        })
        .collect();
        let d = Path::new("/run/lab");
        let files = secret_files(d);
        let opts = LabOptions::new(d);
        let inv = build(
            "t",
            "drlab-t-net",
            &opts,
            &plans,
            &files,
            &d.join("known_hosts"),
        );
        let text = render(&inv, "drlab-lab:0123").unwrap();
        let back = Inventory::parse(Path::new("inventory.toml"), &text).unwrap();
        assert_eq!(back.hosts.len(), 4);
        let dc = back.host("DC1").unwrap();
        let ldap = dc.ldap.as_ref().unwrap();
        assert_eq!(ldap.bind, "Administrator@CORP.EXAMPLE.COM");
        assert_eq!(ldap.base, "DC=corp,DC=example,DC=com");
        assert_eq!(back.services.len(), 10);
        assert_eq!(back.services["SMTPSVC"], "postfix");
        assert!(
            text.contains("file = \"/run/lab/secrets/admin_password\""),
            "{text}"
        );
        assert_eq!(back.clients[0].host.as_deref(), Some("CLIENT1"));
        // credential references are spelled for what they hold: names
        assert_eq!(ldap.password_credential, "admin");
        assert_eq!(
            dc.ssh.as_ref().unwrap().password_credential.as_deref(),
            Some("root")
        );
        assert_eq!(back.mail.password_credential.as_deref(), Some("mail"));
        // drlab's SSH goes over the management network, services over the lab's
        let e1 = back.host("EXCH1").unwrap();
        assert_eq!(e1.address.to_string(), "10.212.9.3");
        assert_eq!(e1.ssh_addr().unwrap().to_string(), "10.213.9.3:22");
        assert!(e1.ssh_out_of_band());
        for line in text.lines() {
            assert!(!line.starts_with("password ="), "{line}");
        }
        assert_eq!(
            text.matches("password_credential = ").count(),
            4 + 1 + 1,
            "{text}"
        );
    }

    #[test]
    fn wan_inventory_has_dc2_as_a_second_dc_and_the_wan_clients() {
        let plans: Vec<HostPlan> = [
            ("DC1", "dc1", "dc", "10.212.9.2"),
            ("EXCH1", "exch1", "mail", "10.212.9.3"),
            ("EXCH2", "exch2", "mail", "10.212.16.3"),
            ("CLIENT1", "client1", "client", "10.212.9.4"),
            ("DC2", "dc2", "dc", "10.212.16.2"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (h, s, r, a))| HostPlan {
            host: (*h).into(),
            short: (*s).into(),
            role: (*r).into(),
            address: a.parse().unwrap(),
            management: format!("10.213.9.{}", i + 2).parse().unwrap(),
            container: format!("drlab-t-{s}"),
        })
        .collect();
        let d = Path::new("/run/lab");
        let files = secret_files(d);
        let mut opts = LabOptions::new(d);
        opts.shape = Shape::Wan;
        let inv = build(
            "t",
            "drlab-t-hq",
            &opts,
            &plans,
            &files,
            &d.join("known_hosts"),
        );
        let text = render(&inv, "drlab-lab:0123").unwrap();
        let back = Inventory::parse(Path::new("inventory.toml"), &text).unwrap();
        assert_eq!(back.hosts.len(), 5);
        let dc2 = back.host("DC2").unwrap();
        assert_eq!(dc2.roles, vec![LabRole::DomainController, LabRole::Dns]);
        assert_eq!(
            dc2.ldap.as_ref().map(|l| l.url.as_str()),
            Some("ldap://10.212.16.2")
        );
        assert!(dc2.dns.is_some());
        assert_eq!(back.lab.docker_network.as_deref(), Some("drlab-t-hq"));
        let clients: Vec<_> = back.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(clients, ["hq-users", "branch-users", "kiosk-users"]);
    }
}
