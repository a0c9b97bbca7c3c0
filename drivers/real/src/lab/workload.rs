//! The workload and end-user probes in the lab. A write is an SMTP
//! submission of a sequence-numbered message to `<mailbox>@<domain>`
//! through the service *name*, resolved by the client population's own
//! resolver; it is acknowledged when the server accepts it (250 after
//! DATA). A probe submits a message and logs in over IMAP the same way. The
//! read-back reads what the host's stores hold, whether or not its mail
//! services run (as the simulator's does): on a Linux host the
//! `X-Drlab-Seq` header of every message in the mailboxes' Maildirs, over
//! SSH; on a Windows host, which keeps its stores in databases, it logs in
//! to every mailbox over IMAP.

use std::net::{IpAddr, SocketAddr};

use drlab_drivers::caps::OpResult;
use drlab_drivers::{OpError, SeqSet, Workload};

use super::LabBackend;
use crate::imap::{self, ImapLimits, MailAccount, ProbeSpec};
use crate::inventory::Dialect;
use crate::secret::Secret;
use crate::smtp::{self, SmtpLimits, WorkloadMessage};
use crate::ssh::sh_quote;

impl LabBackend {
    fn mail_secret(&self) -> OpResult<&Secret> {
        self.mail_password.as_ref().ok_or_else(|| {
            OpError::not_found("the mailbox password ([mail] password_credential) in the inventory")
        })
    }

    fn address_of_mailbox(&self, mailbox: &str) -> String {
        format!("{mailbox}@{}", self.estate.domain)
    }

    /// The inventory host that holds service address `ip` now.
    fn holder_of(&self, ip: IpAddr) -> Option<std::sync::Arc<str>> {
        let owner = self.inv.hosts.iter().find(|h| h.address == ip)?;
        let by = self.taken_over.borrow().get(&owner.name).cloned();
        Some(by.unwrap_or_else(|| owner.name.clone()).into())
    }

    fn sender(&self) -> String {
        format!("drlab@{}", self.estate.domain)
    }

    /// The sequence numbers in the Maildirs of every mailbox on `host`.
    async fn read_back_maildirs(&self, host: &str) -> OpResult<SeqSet> {
        let names: Vec<&str> = self
            .estate
            .mailboxes
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        let script = seq_scan_script(&self.mail_root(host)?, &names);
        let out = self.sh_ok(host, &script, "read back the Maildirs").await?;
        if out.truncated {
            return Err(OpError::Io {
                detail: format!(
                    "read-back of {host}: the Maildir scan's output exceeds the SSH output limit"
                )
                .into(),
            });
        }
        let mut all = SeqSet::new();
        for line in out.stdout.lines() {
            if let Some(seq) = smtp::parse_seq(line.as_bytes()) {
                all.insert(seq);
            }
        }
        Ok(all)
    }

    /// The sequence numbers every mailbox on `host` shows over IMAP.
    async fn read_back_imap(&self, host: &str) -> OpResult<SeqSet> {
        let addr = SocketAddr::new(self.address(host)?, self.inv.mail.imap_port);
        let password = self.mail_secret()?;
        let mut all = SeqSet::new();
        for m in &self.estate.mailboxes {
            let held = imap::read_back(addr, &m.name, password, ImapLimits::default())
                .await
                .map_err(OpError::from)?;
            all.union_with(&held);
        }
        Ok(all)
    }
}

impl Workload for LabBackend {
    /// The acknowledging host is the inventory host that holds the address
    /// the message was delivered to (its owner, or the host that took the
    /// address over in an identity takeover); `None` for an address no
    /// inventory host has.
    async fn write_served(
        &self,
        client: &str,
        service_name: &str,
        mailbox: &str,
        seq: u64,
        bytes: u32,
    ) -> OpResult<Option<std::sync::Arc<str>>> {
        let m = WorkloadMessage {
            seq,
            bytes,
            from: self.sender(),
            to: self.address_of_mailbox(mailbox),
            date_unix_s: smtp::unix_now_s(),
            id_domain: self.estate.domain.clone(),
        };
        imap::write_through_name(
            self.resolver(client)?,
            service_name,
            self.inv.mail.smtp_port,
            &format!("drlab-{client}"),
            &m,
            SmtpLimits::default(),
        )
        .await
        .map(|(ip, _)| self.holder_of(ip))
        .map_err(OpError::from)
    }

    async fn read_back(&self, host: &str) -> OpResult<SeqSet> {
        match self.entry(host)?.dialect {
            Dialect::Linux => self.read_back_maildirs(host).await,
            Dialect::Windows => self.read_back_imap(host).await,
        }
    }

    async fn probe(&self, client: &str, service_name: &str, mailbox: &str) -> OpResult<()> {
        let n = self.probes.get() + 1;
        self.probes.set(n);
        let spec = ProbeSpec {
            service_name: service_name.to_string(),
            smtp_port: self.inv.mail.smtp_port,
            imap_port: self.inv.mail.imap_port,
            from: self.sender(),
            helo_name: format!("drlab-{client}"),
            account: MailAccount {
                address: self.address_of_mailbox(mailbox),
                login: mailbox.to_string(),
                password: self.mail_secret()?.clone(),
            },
            smtp_limits: SmtpLimits::default(),
            imap_limits: ImapLimits::default(),
        };
        imap::probe(self.resolver(client)?, &spec, n)
            .await
            .map(|_| ())
            .map_err(OpError::from)
    }
}

/// The shell script that prints the `X-Drlab-Seq` header line of every
/// message (`cur/` and `new/`, as Maildir(5) keeps delivered mail) of each
/// mailbox under `root`. A mailbox without a Maildir holds nothing; a
/// missing mail root is an error (exit 1).
pub(crate) fn seq_scan_script(root: &str, mailboxes: &[&str]) -> String {
    let names: Vec<String> = mailboxes.iter().map(|m| sh_quote(m)).collect();
    format!(
        "cd {} || exit 1; for m in {}; do [ -d \"$m/Maildir\" ] || continue; \
         find \"$m/Maildir/cur\" \"$m/Maildir/new\" -type f -exec grep -h -m1 -i '^X-Drlab-Seq:' {{}} + ; done; exit 0",
        sh_quote(root),
        names.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_reads_each_mailboxs_maildir_quoted() {
        let s = seq_scan_script("/srv/mail", &["alice", "o'brien"]);
        assert!(s.starts_with("cd /srv/mail || exit 1;"), "{s}");
        assert!(s.contains(r#"for m in alice 'o'\''brien'; do"#), "{s}");
        assert!(
            s.contains("-exec grep -h -m1 -i '^X-Drlab-Seq:' {} +"),
            "{s}"
        );
    }
}
