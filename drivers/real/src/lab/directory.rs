//! Active Directory in the lab: computer accounts and mailbox homes over
//! LDAP (one bound session per domain controller, opened on first use, with
//! the layout the changes are planned with), and forced replication with
//! `samba-tool drs replicate` run on the receiving DC over SSH, its password
//! on standard input. What each change sends is planned in
//! [`super::commands`].

use std::collections::BTreeMap;

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{MailboxInfo, StoreRef};
use drlab_drivers::{Directory, OpError};
use tokio::sync::MutexGuard;

use super::LabBackend;
use crate::ldap::{AdClient, AdConfig};
use crate::secret::Secret;

impl LabBackend {
    /// The bind password of `dc`'s LDAP access.
    fn ldap_secret(&self, ldap: &crate::inventory::LdapDef, dc: &str) -> OpResult<Secret> {
        self.credential(
            &ldap.password_credential,
            &format!("the LDAP bind credential of {dc}"),
        )
    }

    /// The sessions, with one bound to `dc` (connecting on first use), with
    /// the layout its changes are planned with.
    pub(super) async fn ad_for(
        &self,
        dc: &str,
    ) -> OpResult<MutexGuard<'_, BTreeMap<String, AdClient>>> {
        let mut guard = self.ad.lock().await;
        if !guard.contains_key(dc) {
            let (ldap, layout) = self.commands().ldap(dc)?;
            let secret = self.ldap_secret(ldap, dc)?;
            let cfg = AdConfig::with_layout(&ldap.url, &ldap.bind, secret, layout);
            let client = AdClient::connect(cfg).await.map_err(OpError::from)?;
            guard.insert(dc.to_string(), client);
        }
        Ok(guard)
    }

    /// Runs `op` on `dc`'s session; a failed session is dropped so the next
    /// call reconnects (a DC that restarted closes its connections).
    pub(super) async fn with_ad<T>(
        &self,
        dc: &str,
        op: impl AsyncFnOnce(&mut AdClient) -> Result<T, crate::ldap::AdError>,
    ) -> OpResult<T> {
        let mut guard = self.ad_for(dc).await?;
        let client = guard.get_mut(dc).expect("ad_for connected it");
        match op(client).await {
            Ok(x) => Ok(x),
            Err(e) => {
                if matches!(
                    e,
                    crate::ldap::AdError::Transport { .. } | crate::ldap::AdError::Timeout { .. }
                ) {
                    guard.remove(dc);
                }
                Err(OpError::from(e))
            }
        }
    }
}

impl Directory for LabBackend {
    async fn computer_exists(&self, dc: &str, name: &str) -> OpResult<bool> {
        self.with_ad(dc, async |c| c.computer_exists(name).await)
            .await
    }

    async fn create_computer(&self, dc: &str, name: &str) -> OpResult<()> {
        self.call("create_computer", self.commands().create_computer(dc, name))?
            .rest()
            .await
    }

    async fn rename_computer(&self, dc: &str, old: &str, new: &str) -> OpResult<()> {
        self.call(
            "rename_computer",
            self.commands().rename_computer(dc, old, new),
        )?
        .rest()
        .await
    }

    async fn remove_computer(&self, dc: &str, name: &str) -> OpResult<()> {
        self.call("remove_computer", self.commands().remove_computer(dc, name))?
            .rest()
            .await
    }

    async fn list_mailboxes(&self, dc: &str, server: &str) -> OpResult<Vec<MailboxInfo>> {
        self.with_ad(dc, async |c| c.list_mailboxes(server).await)
            .await
    }

    async fn set_mailbox_home(
        &self,
        dc: &str,
        mailbox: &str,
        server: &str,
        store: &StoreRef,
    ) -> OpResult<()> {
        self.call(
            "set_mailbox_home",
            self.commands().set_mailbox_home(dc, mailbox, server, store),
        )?
        .rest()
        .await
    }

    async fn force_replication(&self, from: &str, to: &str) -> OpResult<()> {
        let mut call = self.call(
            "force_replication",
            self.commands().force_replication(from, to),
        )?;
        while call.left() > 0 {
            let out = call.ssh().await?;
            if !out.success() {
                return Err(OpError::Io {
                    detail: format!(
                        "forced replication {from} -> {to} failed: {}",
                        out.stderr.trim()
                    )
                    .into(),
                });
            }
        }
        Ok(())
    }
}
