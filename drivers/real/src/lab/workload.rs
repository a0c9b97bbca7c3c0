//! The workload and end-user probes in the lab. A write is an SMTP
//! submission of a sequence-numbered message to `<mailbox>@<domain>`
//! through the service *name*, resolved by the client population's own
//! resolver; it is acknowledged when the server accepts it (250 after
//! DATA). A probe submits a message and logs in over IMAP the same way. The
//! read-back reads what the host's stores hold, whether or not its mail
//! services run (as the simulator's does): on a Linux host the
//! `X-Drlab-Seq` header of every message in the mailboxes' mbox files, over
//! SSH; on a Windows host, which keeps its stores in databases, it logs in
//! to every mailbox over IMAP.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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

    /// The sequence numbers in the mbox files of every mailbox on `host`.
    async fn read_back_mboxes(&self, host: &str) -> OpResult<SeqSet> {
        let names: Vec<&str> = self
            .estate
            .mailboxes
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        let script = seq_scan_script(&self.mail_root(host)?, &names);
        let out = self.sh_ok(host, &script, "read back the mailboxes").await?;
        if out.truncated {
            return Err(OpError::Io {
                detail: format!(
                    "read-back of {host}: the mailbox scan's output exceeds the SSH output limit"
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
            Dialect::Linux => self.read_back_mboxes(host).await,
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

/// The longest the read-back waits for mail Postfix has acknowledged and
/// is still delivering (its `maildrop`, `incoming` and `active` queues),
/// and how often it looks.
const DELIVERY_WAIT_MS_MAX: u64 = 10_000;
const DELIVERY_POLL_MS: u64 = 100;

/// Waits, at most [`DELIVERY_WAIT_MS_MAX`], until Postfix is delivering
/// nothing: an SMTP 250 is the workload's acknowledgement, and local(8)
/// appends the message to the mbox a moment later, so a scan made at once
/// would count a write acknowledged in the last instant as lost. Mail in
/// the `deferred` or `hold` queue is not waited for, and a stopped Postfix
/// (`postqueue` fails) delivers nothing.
fn delivery_wait_script() -> String {
    // a deadline by the clock, not a count of polls: each poll runs
    // postqueue, which takes its own time on a loaded host
    format!(
        "end=$(( $(date +%s) + {} )); while [ \"$(date +%s)\" -lt $end ] && postqueue -j 2>/dev/null | grep -Eq '\"queue_name\": *\"(maildrop|incoming|active)\"'; \
         do sleep {}; done",
        DELIVERY_WAIT_MS_MAX / 1000,
        Duration::from_millis(DELIVERY_POLL_MS).as_secs_f64()
    )
}

/// The shell script that prints the `X-Drlab-Seq` header line of every
/// message in each mailbox's INBOX under `root`, the mbox file
/// `<root>/<mailbox>/mbox`. mbox(5): a message begins at a `From ` line
/// (local(8) quotes a body line that would, as `>From `) and its header
/// ends at the first empty line, so only header lines are read. A mailbox
/// without an mbox holds nothing; a missing mail root or an unreadable
/// mbox is an error (exit 1). The scan begins once Postfix delivers
/// nothing ([`delivery_wait_script`]).
pub(crate) fn seq_scan_script(root: &str, mailboxes: &[&str]) -> String {
    format!(
        "{}; {}",
        delivery_wait_script(),
        mbox_scan_script(root, mailboxes)
    )
}

/// The scan itself, without the wait (which asks this machine's Postfix,
/// so unit tests run this part only).
fn mbox_scan_script(root: &str, mailboxes: &[&str]) -> String {
    let names: Vec<String> = mailboxes.iter().map(|m| sh_quote(m)).collect();
    format!(
        "cd {} || exit 1; for m in {}; do [ -f \"$m/mbox\" ] || continue; \
         awk '/^From /{{h=1; next}} /^$/{{h=0}} h && tolower(substr($0, 1, 12)) == \"x-drlab-seq:\" {{print}}' \"$m/mbox\" || exit 1; done; exit 0",
        sh_quote(root),
        names.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_reads_each_mailboxs_mbox_quoted() {
        let s = seq_scan_script("/srv/mail", &["alice", "o'brien"]);
        assert!(
            s.starts_with(&format!(
                "{}; cd /srv/mail || exit 1;",
                delivery_wait_script()
            )),
            "{s}"
        );
        let w = delivery_wait_script();
        assert!(w.starts_with("end=$(( $(date +%s) + 10 )); while"), "{w}");
        assert!(w.contains("(maildrop|incoming|active)"), "{w}");
        assert!(w.ends_with("do sleep 0.1; done"), "{w}");
        assert!(s.contains(r#"for m in alice 'o'\''brien'; do"#), "{s}");
        assert!(s.contains(r#""$m/mbox" || exit 1; done; exit 0"#), "{s}");
    }

    /// The scan's awk program over an mbox whose body quotes a `From `
    /// line and mentions the header: only header lines are printed.
    #[test]
    fn the_scan_reads_header_lines_only() {
        let dir = crate::scratch::Scratch::new("scan");
        std::fs::create_dir_all(dir.path().join("bob")).unwrap();
        let mbox = "From drlab@x  Fri Dec  4 18:34:40 2026\nSubject: a\nX-Drlab-Seq: 7\n\n\
                    X-Drlab-Seq: 99\n>From the body\nX-Drlab-Seq: 98\n\n\
                    From drlab@x  Fri Dec  4 18:34:41 2026\nx-drlab-seq: 8\nX-UID: 2\n\nbody\n";
        dir.write("alice/mbox", mbox);
        let root = dir.path().to_str().unwrap();
        assert_eq!(
            crate::scratch::sh(&mbox_scan_script(root, &["alice", "bob"])),
            "X-Drlab-Seq: 7\nx-drlab-seq: 8\n"
        );
    }
}
