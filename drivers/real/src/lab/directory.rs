//! Active Directory in the lab: computer accounts and mailbox homes over
//! LDAP (one bound session per domain controller, opened on first use), and
//! forced replication with `samba-tool drs replicate` run on the receiving
//! DC over SSH, its password on standard input.

use std::collections::BTreeMap;

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{MailboxInfo, StoreRef};
use drlab_drivers::{Directory, OpError};
use tokio::sync::MutexGuard;

use super::LabBackend;
use crate::dns::samba_tool::SambaCredentials;
use crate::ldap::{AdClient, AdConfig, samba_force_replication};
use crate::secret::Secret;

impl LabBackend {
    /// The bind password of `dc`'s LDAP access.
    fn ldap_secret(&self, dc: &str) -> OpResult<(crate::inventory::LdapDef, Secret)> {
        let e = self.entry(dc)?;
        let ldap = e
            .ldap
            .clone()
            .ok_or_else(|| OpError::not_found(format!("LDAP access to {dc} in the inventory")))?;
        let secret = self
            .inv
            .credentials
            .get(&ldap.password_credential)
            .ok_or_else(|| {
                OpError::not_found(format!(
                    "the LDAP bind credential of {dc} in the inventory's [credentials]"
                ))
            })?
            .load()
            .map_err(|e| OpError::Io {
                detail: format!("credential of {dc}: {e}").into(),
            })?;
        Ok((ldap, secret))
    }

    /// The sessions, with one bound to `dc` (connecting on first use).
    pub(super) async fn ad_for(
        &self,
        dc: &str,
    ) -> OpResult<MutexGuard<'_, BTreeMap<String, AdClient>>> {
        let mut guard = self.ad.lock().await;
        if !guard.contains_key(dc) {
            let (ldap, secret) = self.ldap_secret(dc)?;
            let mut cfg = AdConfig::lab(&ldap.url, &ldap.bind, secret, &self.estate.domain);
            cfg.base_dn = ldap.base.clone();
            cfg.mailbox_home = crate::ldap::MailboxHomeSchema::lab(&ldap.base);
            let client = AdClient::connect(cfg).await.map_err(OpError::from)?;
            guard.insert(dc.to_string(), client);
        }
        Ok(guard)
    }

    /// Runs `op` on `dc`'s session; a failed session is dropped so the next
    /// call reconnects (a DC that restarted closes its connections).
    async fn with_ad<T>(
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
        self.with_ad(dc, async |c| c.create_computer(name).await.map(|_| ()))
            .await
    }

    async fn rename_computer(&self, dc: &str, old: &str, new: &str) -> OpResult<()> {
        self.with_ad(dc, async |c| c.rename_computer(old, new).await.map(|_| ()))
            .await
    }

    async fn remove_computer(&self, dc: &str, name: &str) -> OpResult<()> {
        self.with_ad(dc, async |c| c.remove_computer(name).await)
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
        self.with_ad(dc, async |c| {
            c.set_mailbox_home(mailbox, server, store).await
        })
        .await
    }

    async fn force_replication(&self, from: &str, to: &str) -> OpResult<()> {
        if from == to {
            return Ok(());
        }
        let (ldap, password) = self.ldap_secret(to)?;
        let user = ldap
            .bind
            .split('@')
            .next()
            .unwrap_or(&ldap.bind)
            .to_string();
        let cred = SambaCredentials { user, password };
        for cmd in samba_force_replication(to, from, &ldap.base, &cred) {
            let t = self.target(to)?;
            let stdin = cmd.stdin_bytes().unwrap_or_default();
            let out = self
                .ssh
                .exec_with_stdin(&t, &cmd.posix_line(), &stdin, self.timeout())
                .await
                .map_err(OpError::from)?;
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
