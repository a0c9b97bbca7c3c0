//! Mail stores in the lab. Exchange's stores hold mailboxes; the Linux lab's
//! mail hosts keep each mailbox as a Maildir under the mail root, so a
//! store here is the set of its mailboxes' Maildirs (from the scenario's
//! layout). Mounting and dismounting act where users feel it: a dismounted
//! store's users are listed in Dovecot's `deny` passdb
//! (`/var/lib/drlab/dismounted`, outside the replicated tree), so their
//! logins fail as with a dismounted Exchange store. The overwrite-on-restore
//! flag is a file per store in `/var/lib/drlab/stores/`; a host whose stores
//! arrive by replication refuses to mount one without it, as Exchange does
//! with a database copied from another server.
//!
//! Windows hosts use the Exchange Management Shell (`Mount-Database`).

use std::time::Duration;

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{ArchiveInfo, StoreInfo, StoreRef};
use drlab_drivers::{MailStores, OpError};

use super::LabBackend;
use crate::dialect::windows::{self, ExchangeShell};
use crate::inventory::Dialect;
use crate::ssh::sh_quote;

/// The deny list Dovecot consults before its other passdbs.
pub(super) const DENY_FILE: &str = "/var/lib/drlab/dismounted";
/// Where the overwrite-on-restore flags live.
const FLAG_DIR: &str = "/var/lib/drlab/stores";
/// Where archives are kept on a host.
const ARCHIVE_DIR: &str = "/srv/archive";

/// Adds (`deny = true`) or removes `users` from the deny list; a dismount
/// also ends the users' open sessions.
pub fn deny_script(users: &[&str], deny: bool) -> String {
    let list = users
        .iter()
        .map(|u| sh_quote(u))
        .collect::<Vec<_>>()
        .join(" ");
    if deny {
        format!(
            "mkdir -p /var/lib/drlab && touch {f} && for u in {list}; do grep -qxF \"$u\" {f} || echo \"$u\" >> {f}; done; \
             for u in {list}; do doveadm kick \"$u\" >/dev/null 2>&1; done; true",
            f = DENY_FILE
        )
    } else {
        format!(
            "mkdir -p /var/lib/drlab && touch {f} && for u in {list}; do grep -vxF \"$u\" {f} > {f}.new; cat {f}.new > {f}; done; rm -f {f}.new",
            f = DENY_FILE
        )
    }
}

fn flag_file(store: &StoreRef) -> String {
    let safe = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    format!(
        "{FLAG_DIR}/{}--{}.overwrite",
        safe(&store.group),
        safe(&store.store)
    )
}

/// Sets or clears a store's overwrite-on-restore flag.
pub fn overwrite_script(store: &StoreRef, on: bool) -> String {
    let f = flag_file(store);
    if on {
        format!("mkdir -p {FLAG_DIR} && touch {}", sh_quote(&f))
    } else {
        format!("rm -f {}", sh_quote(&f))
    }
}

/// Exit 0 when the store serves (store service running, no user denied),
/// 3 when the store service is down, 4 when the store is dismounted.
pub(super) fn mounted_script(store_unit: &str, users: &[&str]) -> String {
    let list = users
        .iter()
        .map(|u| sh_quote(u))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "drlab-svc status {} >/dev/null 2>&1 || exit 3; [ -f {f} ] || exit 0; for u in {list}; do grep -qxF \"$u\" {f} && exit 4; done; exit 0",
        sh_quote(store_unit),
        f = DENY_FILE
    )
}

/// Soft recovery: Dovecot rebuilds its view of each user's Maildir from
/// the files (the lab's log replay); hard recovery first drops its indexes.
pub fn recovery_script(users: &[&str], hard: bool) -> String {
    let list = users
        .iter()
        .map(|u| sh_quote(u))
        .collect::<Vec<_>>()
        .join(" ");
    let drop = if hard {
        "find \"$(getent passwd \"$u\" | cut -d: -f6)\" -name 'dovecot.index*' -delete 2>/dev/null; "
    } else {
        ""
    };
    format!("for u in {list}; do {drop}doveadm force-resync -u \"$u\" '*' || exit 1; done")
}

/// Archives the mail root into `ARCHIVE_DIR/<id>.tgz`; prints its size.
pub(super) fn archive_take_script(root: &str, id: &str) -> String {
    let file = format!("{ARCHIVE_DIR}/{id}.tgz");
    format!(
        "mkdir -p {ARCHIVE_DIR} && tar czf {f}.part -C {r} . && mv {f}.part {f} && stat -c %s {f}",
        f = sh_quote(&file),
        r = sh_quote(root)
    )
}

/// Lists archives: `id size mtime` per line.
pub(super) const ARCHIVE_LIST_SCRIPT: &str = "mkdir -p /srv/archive && cd /srv/archive && for f in *.tgz; do [ -e \"$f\" ] && echo \"${f%.tgz} $(stat -c '%s %Y' \"$f\")\"; done; true";

/// Restores archive `id` over the mail root (exit 4 when it does not exist).
pub(super) fn archive_restore_script(root: &str, id: &str) -> Result<String, String> {
    if id.is_empty() || id.contains(['/', '\0']) || id.starts_with('.') {
        return Err(format!("archive id {id:?} is not a file name"));
    }
    let file = format!("{ARCHIVE_DIR}/{id}.tgz");
    Ok(format!(
        "[ -f {f} ] || exit 4; tar xzf {f} -C {r}",
        f = sh_quote(&file),
        r = sh_quote(root)
    ))
}

/// Parses [`ARCHIVE_LIST_SCRIPT`]'s output. The level is read from the id
/// (`host-<level>h-<micros>`).
pub(super) fn parse_archive_list(stdout: &str) -> Vec<ArchiveInfo> {
    let mut v: Vec<ArchiveInfo> = stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let id = it.next()?;
            let bytes = it.next()?.parse().ok()?;
            let parts: Vec<&str> = id.rsplitn(3, '-').collect();
            let taken_at_us = parts.first()?.parse().ok()?;
            let level_h = parts.get(1)?.strip_suffix('h')?.parse().ok()?;
            Some(ArchiveInfo {
                id: id.into(),
                level_h,
                taken_at_us,
                bytes,
            })
        })
        .collect();
    v.sort_by_key(|a| a.taken_at_us);
    v
}

impl LabBackend {
    /// The lab unit that hosts the stores (the scenario's store service).
    fn store_unit(&self) -> OpResult<&str> {
        self.lab_service(&self.estate.store_service)
    }

    fn check_store(&self, host: &str, store: &StoreRef) -> OpResult<Vec<&str>> {
        let known = self
            .estate
            .stores
            .get(host)
            .is_some_and(|v| v.iter().any(|s| s.id == *store));
        if !known {
            return Err(OpError::not_found(format!("store {store} on {host}")));
        }
        Ok(self.estate.users_of(store))
    }

    fn shell() -> ExchangeShell {
        ExchangeShell::Exchange2010
    }
}

impl MailStores for LabBackend {
    async fn list_stores(&self, host: &str) -> OpResult<Vec<StoreInfo>> {
        let mut out = Vec::new();
        for st in self.estate.stores.get(host).into_iter().flatten() {
            let mounted = self.store_mounted(host, &st.id).await?;
            let overwrite = match self.dialect(host)? {
                Dialect::Linux => self
                    .sh(
                        host,
                        &format!("[ -f {} ]", sh_quote(&flag_file(&st.id))),
                        self.timeout(),
                    )
                    .await?
                    .success(),
                Dialect::Windows => false,
            };
            out.push(StoreInfo {
                mounted,
                overwrite_on_restore: overwrite,
                ..st.clone()
            });
        }
        Ok(out)
    }

    async fn mount_store(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        let users = self.check_store(host, store)?;
        if self.dialect(host)? == Dialect::Windows {
            let id = Self::shell().database_identity(host, &store.group, &store.store);
            return self
                .sh_ok(
                    host,
                    &windows::mount_database(Self::shell(), &id).command_line(),
                    "Mount-Database",
                )
                .await
                .map(|_| ());
        }
        let unit = self.store_unit()?.to_string();
        let state = self
            .sh(host, &mounted_script(&unit, &users), self.timeout())
            .await?;
        match state.exit_status {
            Some(0) => return Ok(()),
            Some(3) => {
                return Err(OpError::invalid_state(format!(
                    "cannot mount {store} on {host}: the store service ({unit}) is not running"
                )));
            }
            _ => {}
        }
        if self.estate.replica_targets.contains(host) {
            let flagged = self
                .sh(
                    host,
                    &format!("[ -f {} ]", sh_quote(&flag_file(store))),
                    self.timeout(),
                )
                .await?
                .success();
            if !flagged {
                return Err(OpError::refused(format!(
                    "cannot mount {store} on {host}: its data was copied from another server; set \
                     'This database can be overwritten by a restore' first"
                )));
            }
        }
        self.sh_ok(host, &deny_script(&users, false), "mount")
            .await
            .map(|_| ())
    }

    async fn dismount_store(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        let users = self.check_store(host, store)?;
        if self.dialect(host)? == Dialect::Windows {
            let id = Self::shell().database_identity(host, &store.group, &store.store);
            return self
                .sh_ok(
                    host,
                    &windows::dismount_database(Self::shell(), &id).command_line(),
                    "Dismount-Database",
                )
                .await
                .map(|_| ());
        }
        self.sh_ok(host, &deny_script(&users, true), "dismount")
            .await
            .map(|_| ())
    }

    async fn store_mounted(&self, host: &str, store: &StoreRef) -> OpResult<bool> {
        let users = self.check_store(host, store)?;
        if self.dialect(host)? == Dialect::Windows {
            let id = Self::shell().database_identity(host, &store.group, &store.store);
            let out = self
                .sh_ok(
                    host,
                    &windows::database_mounted(Self::shell(), &id).command_line(),
                    "Get-MailboxDatabase",
                )
                .await?;
            return Ok(out.stdout.trim().eq_ignore_ascii_case("true"));
        }
        let unit = self.store_unit()?.to_string();
        let out = self
            .sh(host, &mounted_script(&unit, &users), self.timeout())
            .await?;
        Ok(out.exit_status == Some(0))
    }

    async fn set_overwrite_on_restore(
        &self,
        host: &str,
        store: &StoreRef,
        on: bool,
    ) -> OpResult<()> {
        self.check_store(host, store)?;
        if self.dialect(host)? == Dialect::Windows {
            return Err(Self::unsupported(format!(
                "the overwrite-on-restore flag of {store} on {host}: set it with the Exchange Failover utility (exchfailover -setup), which drlab does not ship"
            )));
        }
        self.sh_ok(host, &overwrite_script(store, on), "overwrite flag")
            .await
            .map(|_| ())
    }

    async fn soft_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        self.recover(host, store, false).await
    }

    async fn hard_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        self.recover(host, store, true).await
    }
}

impl LabBackend {
    async fn recover(&self, host: &str, store: &StoreRef, hard: bool) -> OpResult<()> {
        let users = self.check_store(host, store)?;
        if self.dialect(host)? == Dialect::Windows {
            return Err(Self::unsupported(format!(
                "eseutil recovery of {store} on {host}: not wired for Windows hosts"
            )));
        }
        if self.store_mounted(host, store).await? {
            let what = if hard { "hard" } else { "soft" };
            return Err(OpError::invalid_state(format!(
                "{what} recovery needs {store} on {host} dismounted"
            )));
        }
        let out = self
            .sh(
                host,
                &recovery_script(&users, hard),
                Duration::from_millis(self.limits.copy_timeout_ms),
            )
            .await?;
        if out.success() {
            Ok(())
        } else {
            Err(OpError::Io {
                detail: format!(
                    "recovery of {store} on {host} failed: {}",
                    out.stderr.trim()
                )
                .into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_and_flag_scripts() {
        let d = deny_script(&["alice", "bob"], true);
        assert!(
            d.contains("for u in alice bob; do grep -qxF \"$u\" /var/lib/drlab/dismounted"),
            "{d}"
        );
        assert!(d.contains("doveadm kick"), "{d}");
        let odd = deny_script(&["o'brien"], true);
        assert!(odd.contains("for u in 'o'\\''brien'"), "{odd}");
        let m = deny_script(&["alice"], false);
        assert!(m.contains("grep -vxF"), "{m}");
        let f = overwrite_script(&StoreRef::new("First Storage Group", "Mailbox Store"), true);
        assert_eq!(
            f,
            "mkdir -p /var/lib/drlab/stores && touch /var/lib/drlab/stores/First_Storage_Group--Mailbox_Store.overwrite"
        );
        assert!(mounted_script("dovecot", &["alice"]).starts_with("drlab-svc status dovecot"));
    }

    #[test]
    fn archives_are_listed_oldest_first_and_ids_are_checked() {
        let l = parse_archive_list("EXCH2-48h-900 2048 1\nEXCH2-24h-100 1024 1\nnoise\n");
        assert_eq!(l.len(), 2);
        assert_eq!(
            (&*l[0].id, l[0].level_h, l[0].taken_at_us, l[0].bytes),
            ("EXCH2-24h-100", 24, 100, 1024)
        );
        assert!(archive_restore_script("/srv/mail", "../etc").is_err());
        assert!(
            archive_restore_script("/srv/mail", "x")
                .unwrap()
                .contains("exit 4")
        );
    }
}
