//! The workload and end-user probes in the lab. A write is an SMTP
//! submission of a sequence-numbered message to `<mailbox>@<domain>`
//! through the service *name*, resolved by the client population's own
//! resolver; it is acknowledged when the server accepts it (250 after
//! DATA). A probe submits a message and logs in over IMAP the same way. The
//! read-back logs in to every mailbox on the host and collects the sequence
//! numbers it holds.

use std::net::SocketAddr;

use drlab_drivers::caps::OpResult;
use drlab_drivers::{OpError, SeqSet, Workload};

use super::LabBackend;
use crate::imap::{self, ImapLimits, MailAccount, ProbeSpec};
use crate::secret::Secret;
use crate::smtp::{self, SmtpLimits, WorkloadMessage};

impl LabBackend {
    fn mail_secret(&self) -> OpResult<&Secret> {
        self.mail_password.as_ref().ok_or_else(|| {
            OpError::not_found("the mailbox password ([mail] password_credential) in the inventory")
        })
    }

    fn address_of_mailbox(&self, mailbox: &str) -> String {
        format!("{mailbox}@{}", self.estate.domain)
    }

    fn sender(&self) -> String {
        format!("drlab@{}", self.estate.domain)
    }
}

impl Workload for LabBackend {
    async fn write(
        &self,
        client: &str,
        service_name: &str,
        mailbox: &str,
        seq: u64,
        bytes: u32,
    ) -> OpResult<()> {
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
        .map(|_| ())
        .map_err(OpError::from)
    }

    async fn read_back(&self, host: &str) -> OpResult<SeqSet> {
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
