//! Mail stores in the lab. Exchange's stores hold mailboxes; the Linux lab's
//! mail hosts keep each mailbox's INBOX as one mbox file under the mail
//! root (`<root>/<user>/mbox`), so a store here is the set of its
//! mailboxes' files (from the scenario's layout): whole files that change
//! in place, as an Exchange store is its database file. Mounting and
//! dismounting act where users feel it: a dismounted
//! store's users are listed in Dovecot's `deny` passdb
//! (`/var/lib/drlab/dismounted`, outside the replicated tree), so their
//! logins fail as with a dismounted Exchange store. The overwrite-on-restore
//! flag is a file per store in `/var/lib/drlab/stores/`; a host whose stores
//! arrive by replication refuses to mount one without it, as Exchange does
//! with a database copied from another server.
//!
//! ESE writes a database's header when it mounts and when it dismounts
//! (the clean-shutdown state), so a store's file is as new as its last
//! mount or dismount even when no mail arrived; Double-Take's "only if
//! backup copy is more recent" then skips a store whose services were
//! stopped last. The lab's mount, dismount and store-service stop write
//! the store's files the same way ([`store_write_script`]: their times,
//! not their content), which the simulator models as the store's
//! modification time.
//!
//! Windows hosts use the Exchange Management Shell (`Mount-Database`).
//!
//! The checks a state-changing call makes before it writes (the store
//! service runs, the overwrite flag is set, no store is mounted under a
//! restore) are inside its one script, answered by exit codes, so a plan's
//! line is all that is sent (see [`super::commands`]).

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{ArchiveInfo, StoreInfo, StoreRef};
use drlab_drivers::{MailStores, OpError};

use super::commands::EXCHANGE_SHELL;
use super::{LabBackend, issue};
use crate::dialect::windows;
use crate::inventory::Dialect;
use crate::ssh::sh_quote;

/// The deny list Dovecot consults before its other passdbs.
pub(super) const DENY_FILE: &str = "/var/lib/drlab/dismounted";
/// Where the overwrite-on-restore flags live.
const FLAG_DIR: &str = "/var/lib/drlab/stores";
/// Where archives are kept on a host.
const ARCHIVE_DIR: &str = "/srv/archive";

/// `users` as shell words, quoted, separated by spaces.
fn quoted_words(users: &[&str]) -> String {
    users
        .iter()
        .map(|u| sh_quote(u))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Adds (`deny = true`) or removes `users` from the deny list; a dismount
/// also ends the users' open sessions (a user with none is no failure).
/// A list that cannot be written fails the script (exit 1): a dismount
/// or mount that did not happen must not report success.
pub fn deny_script(users: &[&str], deny: bool) -> String {
    let list = quoted_words(users);
    if deny {
        format!(
            "mkdir -p /var/lib/drlab && touch {f} || exit 1; \
             for u in {list}; do grep -qxF \"$u\" {f} || echo \"$u\" >> {f} || exit 1; done; \
             for u in {list}; do doveadm kick \"$u\" >/dev/null 2>&1; done; true",
            f = DENY_FILE
        )
    } else {
        // grep -v exits 1 when it keeps no line, 2 on an error
        format!(
            "mkdir -p /var/lib/drlab && touch {f} || exit 1; \
             for u in {list}; do grep -vxF \"$u\" {f} > {f}.new; [ $? -le 1 ] || exit 1; cat {f}.new > {f} || exit 1; done; rm -f {f}.new",
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

/// Runs `action` on `$f`, each existing mailbox file of `users` under
/// `root` (a mailbox with no file yet is skipped); exit 1 when one fails.
fn each_mbox_script(root: &str, users: &[&str], action: &str) -> String {
    let list = quoted_words(users);
    format!(
        "for u in {list}; do f={}/\"$u\"/mbox; if [ -f \"$f\" ]; then {action} || exit 1; fi; done",
        sh_quote(root)
    )
}

/// Writes the time of each mailbox file of a store's `users` under `root`
/// (ESE's header write at a mount or a dismount).
pub(super) fn store_write_script(root: &str, users: &[&str]) -> String {
    each_mbox_script(root, users, "touch \"$f\"")
}

/// Empties each mailbox file of a store's `users` under `root`, as the
/// simulator's stores begin, after deleting the mail still in Postfix's
/// queues (`postsuper -d ALL`, where Postfix is installed): a drill's
/// read-back finds the sequence numbers of *its* writes, never an earlier
/// drill's messages with the same numbers, delivered or still queued on a
/// host that crashed (which would count a lost write as held).
pub(super) fn empty_store_script(root: &str, users: &[&str]) -> String {
    format!(
        "if command -v postsuper >/dev/null; then postsuper -d ALL >/dev/null 2>&1 || exit 1; fi; {}",
        empty_mboxes_script(root, users)
    )
}

/// Empties each mailbox file of `users` under `root` (the part of
/// [`empty_store_script`] a unit test may run: it deletes no mail queue).
fn empty_mboxes_script(root: &str, users: &[&str]) -> String {
    each_mbox_script(root, users, ": > \"$f\"")
}

/// Dismounts a store: writes its files if it is mounted (ESE's
/// clean-shutdown header), then denies its users.
pub fn dismount_script(store_unit: &str, root: &str, users: &[&str]) -> String {
    format!(
        "if ( {} ); then {}; fi; {}",
        mounted_script(store_unit, users),
        store_write_script(root, users),
        deny_script(users, true)
    )
}

/// Stops the store service: first writes the files of every store it has
/// mounted (each a `(users)` of [`mounted_script`]), as ESE dismounts
/// them, then runs `stop`.
pub(super) fn stop_store_service_script(
    store_unit: &str,
    root: &str,
    stores: &[Vec<&str>],
    stop: &str,
) -> String {
    let mut s = String::new();
    for users in stores {
        s.push_str(&format!(
            "if ( {} ); then {} || exit 1; fi; ",
            mounted_script(store_unit, users),
            store_write_script(root, users)
        ));
    }
    s.push_str(stop);
    s
}

/// Exit 0 when the store serves (store service running, no user denied),
/// 3 when the store service is down, 4 when the store is dismounted.
pub(super) fn mounted_script(store_unit: &str, users: &[&str]) -> String {
    let list = quoted_words(users);
    format!(
        "drlab-svc status {} >/dev/null 2>&1 || exit 3; [ -f {f} ] || exit 0; for u in {list}; do grep -qxF \"$u\" {f} && exit 4; done; exit 0",
        sh_quote(store_unit),
        f = DENY_FILE
    )
}

/// Mounts a store (exit 0), or says why not: 3 when the store service is
/// down, 5 when a replica host's store lacks the overwrite-on-restore flag
/// (`flag`: the flag file, for hosts whose stores arrive by replication).
/// An already mounted store (no user denied) stays mounted; either way the
/// store's files under `root` are written, as ESE writes the header.
pub fn mount_script(
    store_unit: &str,
    root: &str,
    users: &[&str],
    flag: Option<&StoreRef>,
) -> String {
    let list = quoted_words(users);
    let flag = flag.map_or(String::new(), |st| {
        format!("[ -f {} ] || exit 5; ", sh_quote(&flag_file(st)))
    });
    format!(
        "drlab-svc status {} >/dev/null 2>&1 || exit 3; denied=no; [ -f {f} ] && for u in {list}; do grep -qxF \"$u\" {f} && denied=yes; done; \
         if [ $denied = yes ]; then {flag}{}; fi; {}",
        sh_quote(store_unit),
        deny_script(users, false),
        store_write_script(root, users),
        f = DENY_FILE
    )
}

/// Runs `then` unless one of `stores` (each a `(store unit, users)` of
/// [`mounted_script`]) is mounted, which exits `code`.
pub(super) fn unless_mounted(stores: &[(&str, Vec<&str>)], code: u8, then: &str) -> String {
    let mut s = String::new();
    for (unit, users) in stores {
        s.push_str(&format!(
            "if ( {} ); then echo 'a store is mounted: dismount it first' >&2; exit {code}; fi; ",
            mounted_script(unit, users)
        ));
    }
    s.push_str(then);
    s
}

/// Soft recovery: Dovecot rebuilds its view of each user's mailbox from
/// the mbox file (the lab's log replay); hard recovery first drops its
/// indexes.
pub fn recovery_script(users: &[&str], hard: bool) -> String {
    let list = quoted_words(users);
    let drop = if hard {
        "find \"$(getent passwd \"$u\" | cut -d: -f6)\" -name 'dovecot.index*' -delete 2>/dev/null; "
    } else {
        ""
    };
    format!("for u in {list}; do {drop}doveadm force-resync -u \"$u\" '*' || exit 1; done")
}

/// Archives the mail root into `ARCHIVE_DIR/<id>.tgz`, the id being
/// `<host>-<level>h-<the host's clock in Unix microseconds>` (so the
/// command does not depend on when it is sent); prints `id size`.
pub(super) fn archive_take_script(root: &str, host: &str, level_h: u32) -> String {
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "mkdir -p {ARCHIVE_DIR} && id={safe}-{level_h}h-$(date +%s%6N) && f={ARCHIVE_DIR}/$id.tgz && \
         tar czf \"$f.part\" -C {r} . && mv \"$f.part\" \"$f\" && echo \"$id $(stat -c %s \"$f\")\"",
        r = sh_quote(root)
    )
}

/// Parses [`archive_take_script`]'s `id size`.
pub(super) fn parse_archive_taken(stdout: &str) -> Option<(String, u64)> {
    let mut it = stdout.split_whitespace();
    let id = it.next()?.to_string();
    let bytes = it.next()?.parse().ok()?;
    Some((id, bytes))
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

/// Parses [`ARCHIVE_LIST_SCRIPT`]'s output. The level and the time are
/// read from the id (`host-<level>h-<Unix micros>`), the time as drill time
/// (micros since `drill_start_unix_us`, 0 for an archive older than the drill).
pub(super) fn parse_archive_list(stdout: &str, drill_start_unix_us: u64) -> Vec<ArchiveInfo> {
    let mut v: Vec<ArchiveInfo> = stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let id = it.next()?;
            let bytes = it.next()?.parse().ok()?;
            let parts: Vec<&str> = id.rsplitn(3, '-').collect();
            let taken_at_us = parts
                .first()?
                .parse::<u64>()
                .ok()?
                .saturating_sub(drill_start_unix_us);
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
        let mut call = self.call("mount_store", self.commands().mount_store(host, store))?;
        let out = call.ssh().await?;
        if self.dialect(host)? == Dialect::Windows {
            return issue::succeeded(host, "Mount-Database", out).map(|_| ());
        }
        match out.exit_status {
            Some(0) => Ok(()),
            Some(3) => Err(OpError::invalid_state(format!(
                "cannot mount {store} on {host}: the store service ({}) is not running",
                self.commands().store_unit()?
            ))),
            Some(5) => Err(OpError::refused(format!(
                "cannot mount {store} on {host}: its data was copied from another server; set \
                 'This database can be overwritten by a restore' first"
            ))),
            _ => issue::succeeded(host, "mount", out).map(|_| ()),
        }
    }

    async fn dismount_store(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        self.call(
            "dismount_store",
            self.commands().dismount_store(host, store),
        )?
        .rest()
        .await
    }

    async fn store_mounted(&self, host: &str, store: &StoreRef) -> OpResult<bool> {
        let c = self.commands();
        let users = c.check_store(host, store)?;
        if self.dialect(host)? == Dialect::Windows {
            let id = EXCHANGE_SHELL.database_identity(host, &store.group, &store.store);
            let out = self
                .sh_ok(
                    host,
                    &windows::database_mounted(EXCHANGE_SHELL, &id).command_line(),
                    "Get-MailboxDatabase",
                )
                .await?;
            return Ok(out.stdout.trim().eq_ignore_ascii_case("true"));
        }
        let unit = c.store_unit()?;
        let out = self
            .sh(host, &mounted_script(unit, &users), self.timeout())
            .await?;
        Ok(out.exit_status == Some(0))
    }

    async fn set_overwrite_on_restore(
        &self,
        host: &str,
        store: &StoreRef,
        on: bool,
    ) -> OpResult<()> {
        self.call(
            "set_overwrite_on_restore",
            self.commands().set_overwrite_on_restore(host, store, on),
        )?
        .rest()
        .await
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
        let method = if hard {
            "hard_recovery"
        } else {
            "soft_recovery"
        };
        let mut call = self.call(method, self.commands().recovery(host, store, hard))?;
        let out = call.ssh().await?;
        match out.exit_status {
            Some(0) => Ok(()),
            Some(7) => Err(OpError::invalid_state(format!(
                "{} recovery needs {store} on {host} dismounted",
                if hard { "hard" } else { "soft" }
            ))),
            _ => Err(OpError::Io {
                detail: format!(
                    "recovery of {store} on {host} failed: {}",
                    out.stderr.trim()
                )
                .into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header write and the emptying on real files: a store's mbox
    /// gets a new time, then no content; a mailbox with no file yet is
    /// skipped, a name is quoted.
    #[test]
    fn the_store_write_gives_each_mbox_a_new_time() {
        let dir = crate::scratch::Scratch::new("store-write");
        let then = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        for u in ["alice", "o'brien"] {
            let f = dir.write(&format!("{u}/mbox"), "From x\n\n");
            let old = std::fs::File::options().write(true).open(&f).unwrap();
            old.set_modified(then).unwrap();
        }
        let root = dir.path().to_str().unwrap();
        let users = ["alice", "o'brien", "bob"];
        let meta = |u: &str| std::fs::metadata(dir.path().join(u).join("mbox")).unwrap();
        crate::scratch::sh(&store_write_script(root, &users));
        for u in ["alice", "o'brien"] {
            assert!(meta(u).modified().unwrap() > then, "{u}");
        }
        // (not empty_store_script: it would delete this machine's Postfix queue)
        crate::scratch::sh(&empty_mboxes_script(root, &users));
        assert!(
            empty_store_script(root, &users)
                .starts_with("if command -v postsuper >/dev/null; then postsuper -d ALL")
        );
        for u in ["alice", "o'brien"] {
            assert_eq!(meta(u).len(), 0, "{u}: emptied, still there");
        }
        assert!(!dir.path().join("bob").exists(), "no mailbox is made");
    }

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
    fn guards_are_inside_the_scripts() {
        let st = StoreRef::new("SG", "MB");
        let m = mount_script("dovecot", "/srv/mail", &["alice"], Some(&st));
        assert!(
            m.starts_with("drlab-svc status dovecot >/dev/null 2>&1 || exit 3; "),
            "{m}"
        );
        assert!(m.contains("if [ $denied = yes ]; then [ -f /var/lib/drlab/stores/SG--MB.overwrite ] || exit 5; "), "{m}");
        assert!(
            m.contains(&format!("{}; fi; ", deny_script(&["alice"], false))),
            "{m}"
        );
        assert!(
            m.ends_with(&store_write_script("/srv/mail", &["alice"])),
            "{m}"
        );
        assert!(!mount_script("dovecot", "/srv/mail", &["alice"], None).contains("exit 5"));
        let d = dismount_script("dovecot", "/srv/mail", &["alice"]);
        assert_eq!(
            d,
            format!(
                "if ( {} ); then {}; fi; {}",
                mounted_script("dovecot", &["alice"]),
                store_write_script("/srv/mail", &["alice"]),
                deny_script(&["alice"], true)
            )
        );
        let stop = stop_store_service_script(
            "dovecot",
            "/srv/mail",
            &[vec!["alice"]],
            "drlab-svc stop dovecot",
        );
        assert!(stop.ends_with("fi; drlab-svc stop dovecot"), "{stop}");
        let r = unless_mounted(&[("dovecot", vec!["alice"])], 7, "echo go");
        assert_eq!(
            r,
            format!(
                "if ( {} ); then echo 'a store is mounted: dismount it first' >&2; exit 7; fi; echo go",
                mounted_script("dovecot", &["alice"])
            )
        );
        let t = archive_take_script("/srv/mail", "EX CH2", 24);
        assert!(t.contains("id=EX_CH2-24h-$(date +%s%6N)"), "{t}");
        assert_eq!(
            parse_archive_taken("EXCH2-24h-1700000000000000 163\n"),
            Some(("EXCH2-24h-1700000000000000".to_string(), 163))
        );
        let l = parse_archive_list("EXCH2-24h-1700000000000000 163 1\n", 1_699_999_999_000_000);
        assert_eq!(
            l[0].taken_at_us, 1_000_000,
            "drill time from the host's clock"
        );
    }

    #[test]
    fn archives_are_listed_oldest_first_and_ids_are_checked() {
        let l = parse_archive_list("EXCH2-48h-900 2048 1\nEXCH2-24h-100 1024 1\nnoise\n", 0);
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
