//! The lab's iSCSI SAN: a tgt target daemon (`tgtd`, driven with
//! `tgtadm(8)`) on the inventory host with role `san`, and libiscsi's
//! userspace initiator tools (`iscsi-inq(1)`, `iscsi-test-cu(1)`) on the
//! hosts that log in. Pure command builders and the reading of their exit
//! statuses; the lab backend sends them over SSH
//! ([`crate::lab::commands`]).
//!
//! A scenario volume is one iSCSI target, named [`target_iqn`] of the
//! volume, numbered (tgt's `tid`) by the volume's position in the estate's
//! volume list ([`Target`]), with one disk LUN ([`LUN`]) whose backing file
//! is a sparse file of [`VOLUME_MB_MAX`] MB under [`SAN_DIR`]. Access is by
//! initiator name only, as on the SANs of the Dell AIM paper ("access
//! controlled by initiator name"): a grant binds an initiator name to the
//! target, a revoke unbinds it, and a host logs in with its own initiator
//! name ([`initiator_of`]) — tgt refuses a login from a name its ACL does
//! not list.
//!
//! Every name that reaches a command is checked against a strict
//! character set first (volumes, snapshots, initiators), so nothing a
//! scenario says can reach a shell as syntax.
//!
//! Commands follow the usage of the tools as installed in the lab image:
//!
//! - `tgtadm(8)` (tgt 1.0.85, `tgtadm --help`):
//!   `--lld <driver> --mode target --op new --tid <id> --targetname <name>`,
//!   `--lld <driver> --mode logicalunit --op new --tid <id> --lun <lun> --backing-store <path>`,
//!   `--lld <driver> --mode target --op bind --tid <id> --initiator-name <name>`,
//!   `--lld <driver> --mode target --op unbind --tid <id> --initiator-name <name>`,
//!   `--lld <driver> --mode target --op show` ("show all the targets": per
//!   target `Target <tid>: <name>`, then its `I_T nexus information:` (one
//!   `Initiator: <name> alias: ...` per logged-in session), `LUN
//!   information:` (`Backing store path: <path>` per LUN) and `ACL
//!   information:` (one bound initiator name per line) sections).
//! - libiscsi 1.19's tools take the LUN as a URL, `iscsi-inq(1)`:
//!   `iscsi://[<username>[%<password>]@]<host>[:<port>]/<target-iqn>/<lun>`,
//!   with `-i, --initiator-name=iqn-name  Initiatorname to use`.
//!   `iscsi-inq` logs in, sends SCSI INQUIRY and logs out; a refused login
//!   prints `Login Failed. Failed to log in to target. Status: <status>`
//!   (tgt answers an initiator its ACL does not list with the login status
//!   0x0203 "Not found", RFC 7143 §11.13.5, exactly as for a target that
//!   does not exist — hence the SAN-side existence check before a login).
//! - `iscsi-test-cu(1)`: `-i <initiator>`, `-t <test>[,<test>]`, `-s`
//!   (silent: only CUnit's run summary, `tests <total> <ran> <passed>
//!   <failed> <inactive>`). See [`DATA_CHECK_TESTS`].
//!
//! The image has no libiscsi tool that writes chosen data and reads it
//! back (no `iscsi-dd`, no `ld_iscsi.so` preload library), and
//! `iscsi-test-cu`'s write tests (`--dataloss`) overwrite the first and
//! last 256 blocks of the LUN, which would destroy a volume's content; so
//! the data check of an attach is non-destructive: it reads blocks through
//! iSCSI and sends them back for the target to compare ([`DATA_CHECK_TESTS`]).
//! No marker is written.

use std::collections::BTreeMap;
use std::net::IpAddr;

use drlab_drivers::OpError;
use drlab_drivers::caps::OpResult;

use crate::ssh::{Output, sh_quote};

/// The naming authority of the lab's targets (RFC 3720 §3.2.6.3.1 `iqn.`
/// format: `iqn.<yyyy-mm>.<reversed domain>:<unique name>`); a volume's
/// target is this followed by the volume's name ([`target_iqn`]).
pub const TARGET_IQN_PREFIX: &str = "iqn.2026-12.com.example.corp:";

/// A host's default initiator name (the rule both backends share).
pub use drlab_drivers::types::default_initiator;

/// The iSCSI target's TCP port: the IANA-registered `iscsi-target` port,
/// which RFC 7143 names as the well-known port (3260).
pub const ISCSI_PORT: u16 = 3260;

/// The LUN of a volume's disk (LUN 0 of a tgt target is its controller).
pub const LUN: u32 = 1;

/// Where the SAN host keeps drlab's volumes: `volumes/<volume>.img` (the
/// LUNs' backing files) and `snapshots/<volume>/<snapshot>.img` (copies of
/// them). Under the lab image's `SAN_DATA` (`/srv/san`).
pub const SAN_DIR: &str = "/srv/san/drlab";

/// The size of a volume's backing file, created sparse (`truncate -s`)
/// when its LUN is first made: the most a volume holds and the most disk it
/// takes on the SAN host. A snapshot is a sparse copy, so a volume and its
/// snapshots take at most `(1 + SNAPSHOTS_PER_VOLUME_MAX) × VOLUME_MB_MAX`
/// MB. An existing backing file is kept as it is (the SAN keeps its data).
pub const VOLUME_MB_MAX: u32 = 64;

/// The most snapshots kept of one volume; a snapshot beyond is refused.
pub const SNAPSHOTS_PER_VOLUME_MAX: u32 = 16;

/// The longest volume or snapshot name.
pub const NAME_LEN_MAX: usize = 64;

/// The longest initiator name (RFC 3720 §3.2.6.1: iSCSI names are at most
/// 223 bytes).
pub const INITIATOR_LEN_MAX: usize = 223;

/// The `iscsi-test-cu` tests an attach runs once logged in, so that data
/// travels through iSCSI without changing the volume: `Verify16.Simple`
/// READs 1 to 256 blocks at each end of the LUN and sends them back with
/// VERIFY(16) BYTCHK=1, which the target compares byte for byte (GOOD);
/// `Verify16.Mismatch` sends them back with one byte flipped, which the
/// target must answer MISCOMPARE (so the comparison is real). Both read
/// only (libiscsi `test-tool/test_verify16_simple.c`,
/// `test_verify16_mismatch.c`); the LUN needs at least 256 blocks.
pub const DATA_CHECK_TESTS: &str = "SCSI.Verify16.Simple,SCSI.Verify16.Mismatch";

/// Exit status of a SAN command: the volume's target (or its LUN) does not
/// exist on the SAN.
pub const EXIT_NO_TARGET: u32 = 4;
/// Exit status: the volume's `tid` holds another target.
pub const EXIT_TID_TAKEN: u32 = 5;
/// Exit status: a snapshot of that name exists.
pub const EXIT_SNAPSHOT_EXISTS: u32 = 3;
/// Exit status: the volume has [`SNAPSHOTS_PER_VOLUME_MAX`] snapshots.
pub const EXIT_SNAPSHOTS_FULL: u32 = 6;
/// Exit status of a login: the target answered the login with an error
/// status (the initiator name is not allowed).
pub const EXIT_LOGIN_REFUSED: u32 = 7;
/// Exit status of a login: logged in, but the data check failed.
pub const EXIT_DATA_CHECK: u32 = 8;
/// Exit status of a detach: the initiator still has a session on the target.
pub const EXIT_STILL_LOGGED_IN: u32 = 9;

/// A name refused before any command is built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SanError {
    /// A volume name outside the charset.
    #[error(
        "volume name {0:?}: use 1 to {NAME_LEN_MAX} letters, digits, '.', '-', '_' or spaces, starting with a letter or digit"
    )]
    VolumeName(String),
    /// A snapshot name outside the charset.
    #[error(
        "snapshot name {0:?}: use 1 to {NAME_LEN_MAX} letters, digits, '.', '-' or '_', starting with a letter or digit"
    )]
    SnapshotName(String),
    /// An initiator name outside the charset.
    #[error(
        "initiator name {0:?}: use 1 to {INITIATOR_LEN_MAX} letters, digits, '.', ':' or '-', starting with a letter or digit"
    )]
    Initiator(String),
    /// The volume is not one of the estate's.
    #[error("volume {0} in the scenario's [[volumes]]")]
    UnknownVolume(String),
    /// Two volumes of the estate would have the same target name.
    #[error("volumes {0:?} and {1:?} would have the same iSCSI target name {2}")]
    SameTarget(String, String, String),
}

impl From<SanError> for OpError {
    fn from(e: SanError) -> OpError {
        match e {
            SanError::UnknownVolume(_) => OpError::not_found(e.to_string()),
            _ => OpError::refused(e.to_string()),
        }
    }
}

fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// The volume's name as it appears in its target name and its files:
/// lower case, spaces and `_` as `-` (`Exchange Server-1` →
/// `exchange-server-1`); only letters, digits, `.`, `-`, `_` and spaces.
pub fn volume_slug(volume: &str) -> Result<String, SanError> {
    let ok = volume.len() <= NAME_LEN_MAX
        && volume.chars().next().is_some_and(plain)
        && volume.chars().all(|c| plain(c) || ".-_ ".contains(c));
    if !ok {
        return Err(SanError::VolumeName(volume.to_string()));
    }
    Ok(volume
        .chars()
        .map(|c| match c {
            ' ' | '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect())
}

/// The iSCSI target name of a volume: [`TARGET_IQN_PREFIX`] and its
/// [`volume_slug`] (RFC 3720 §3.2.6.2: lower case, digits, `.`, `-`).
pub fn target_iqn(volume: &str) -> Result<String, SanError> {
    Ok(format!("{TARGET_IQN_PREFIX}{}", volume_slug(volume)?))
}

/// Checks an initiator name: letters, digits, `.`, `:`, `-`. Upper case is
/// accepted (the scenarios' persona names, such as the paper's `Exchange1`,
/// use it; tgt compares names exactly, as the simulator does).
pub fn check_initiator(initiator: &str) -> Result<(), SanError> {
    let ok = initiator.len() <= INITIATOR_LEN_MAX
        && initiator.chars().next().is_some_and(plain)
        && initiator.chars().all(|c| plain(c) || ".:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SanError::Initiator(initiator.to_string()))
    }
}

/// Checks a snapshot name: letters, digits, `.`, `-`, `_` (it names a
/// file, case kept).
pub fn check_snapshot_name(name: &str) -> Result<(), SanError> {
    let ok = name.len() <= NAME_LEN_MAX
        && name.chars().next().is_some_and(plain)
        && name.chars().all(|c| plain(c) || ".-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SanError::SnapshotName(name.to_string()))
    }
}

/// The initiator name `host` logs in with: its persona's (`initiators`, by
/// host), else [`default_initiator`] — the rule the simulator applies.
pub fn initiator_of(initiators: &BTreeMap<String, String>, host: &str) -> String {
    initiators
        .get(host)
        .cloned()
        .unwrap_or_else(|| default_initiator(host))
}

/// A volume's target on the SAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The scenario's volume name.
    pub volume: String,
    /// tgt's target id: the volume's position in the estate's list, from 1.
    pub tid: u32,
    /// Its name ([`target_iqn`]).
    pub iqn: String,
    /// Its LUN's backing file on the SAN host.
    pub backing: String,
    /// Where its snapshots go on the SAN host.
    pub snapshots: String,
}

impl Target {
    /// The target of `volume`, numbered by its position in `volumes` (the
    /// estate's, in the scenario's order); refused when the volume is not
    /// listed, when a name is outside the charset, or when another volume
    /// has the same target name.
    pub fn of<'v>(
        volumes: impl IntoIterator<Item = &'v str>,
        volume: &str,
    ) -> Result<Target, SanError> {
        let slug = volume_slug(volume)?;
        let mut found = None;
        for (i, v) in volumes.into_iter().enumerate() {
            if v == volume {
                found.get_or_insert(i);
            } else if volume_slug(v).is_ok_and(|s| s == slug) {
                return Err(SanError::SameTarget(
                    v.to_string(),
                    volume.to_string(),
                    target_iqn(volume)?,
                ));
            }
        }
        let i = found.ok_or_else(|| SanError::UnknownVolume(volume.to_string()))?;
        let tid = u32::try_from(i + 1).map_err(|_| SanError::UnknownVolume(volume.to_string()))?;
        Ok(Target {
            volume: volume.to_string(),
            tid,
            iqn: format!("{TARGET_IQN_PREFIX}{slug}"),
            backing: format!("{SAN_DIR}/volumes/{slug}.img"),
            snapshots: format!("{SAN_DIR}/snapshots/{slug}"),
        })
    }

    /// The URL of its disk LUN on the SAN at `san` (libiscsi's form).
    pub fn url(&self, san: IpAddr) -> String {
        let host = match san {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        format!("iscsi://{host}:{ISCSI_PORT}/{}/{LUN}", self.iqn)
    }

    /// `tgtadm --lld iscsi` with `args`.
    fn tgtadm(&self, args: &str) -> String {
        format!("tgtadm --lld iscsi {args}")
    }

    /// Reads the SAN's targets into `$t` and defines `tgt`, which prints
    /// this target's section of them.
    fn read(&self) -> String {
        format!(
            "T='Target {tid}: '; t=$({show}) || exit 1; \
             tgt() {{ printf '%s\\n' \"$t\" | awk -v h=\"$T\" 'index($0, \"Target \") == 1 {{ on = (index($0, h) == 1) }} on'; }}",
            tid = self.tid,
            show = self.tgtadm("--op show --mode target"),
        )
    }

    /// Exits [`EXIT_NO_TARGET`] unless the target and its LUN exist,
    /// [`EXIT_TID_TAKEN`] when its tid holds another target.
    fn exists(&self) -> String {
        format!(
            "{read}; cur=$(printf '%s\\n' \"$t\" | sed -n \"s/^$T//p\"); \
             [ -n \"$cur\" ] || {{ echo \"no target {tid} ({iqn}) on the SAN\" >&2; exit {EXIT_NO_TARGET}; }}; \
             [ \"$cur\" = {iqn} ] || {{ echo \"target {tid} is $cur, not {iqn}\" >&2; exit {EXIT_TID_TAKEN}; }}; \
             {lun} || {{ echo \"target {iqn} has no LUN on {img}\" >&2; exit {EXIT_NO_TARGET}; }}",
            read = self.read(),
            tid = self.tid,
            iqn = self.iqn,
            img = self.backing,
            lun = self.has_lun(),
        )
    }

    fn has_lun(&self) -> String {
        format!(
            "tgt | awk -v p={img} '$1 == \"Backing\" && $2 == \"store\" && $4 == p {{ f = 1 }} END {{ exit !f }}'",
            img = self.backing
        )
    }

    /// Succeeds when `initiator` (a name, or `"$w"`) is on the target's ACL.
    fn acl_has(initiator: &str) -> String {
        format!(
            "tgt | awk -v i={initiator} '/^    [^ ]/ {{ a = ($1 == \"ACL\") }} a && NF == 1 && $1 == i {{ f = 1 }} END {{ exit !f }}'"
        )
    }

    /// Creates the target and its LUN where missing (the command decides,
    /// on the SAN): the target `--op new --mode target`, the backing file
    /// by `truncate -s <VOLUME_MB_MAX>M` unless it exists, the LUN `--op new
    /// --mode logicalunit`. Exits [`EXIT_TID_TAKEN`] when the tid holds
    /// another target.
    fn ensure(&self) -> String {
        format!(
            "{read}; cur=$(printf '%s\\n' \"$t\" | sed -n \"s/^$T//p\"); \
             if [ -z \"$cur\" ]; then {new} || exit 1; t=$({show}) || exit 1; \
             elif [ \"$cur\" != {iqn} ]; then echo \"target {tid} is $cur, not {iqn}\" >&2; exit {EXIT_TID_TAKEN}; fi; \
             {lun} || {{ install -d -m 700 {SAN_DIR}/volumes && {{ [ -e {img} ] || truncate -s {VOLUME_MB_MAX}M {img}; }} && {newlun}; }} || exit 1",
            read = self.read(),
            new = self.tgtadm(&format!(
                "--op new --mode target --tid {} --targetname {}",
                self.tid, self.iqn
            )),
            show = self.tgtadm("--op show --mode target"),
            tid = self.tid,
            iqn = self.iqn,
            img = self.backing,
            lun = self.has_lun(),
            newlun = self.tgtadm(&format!(
                "--op new --mode logicalunit --tid {} --lun {LUN} --backing-store {}",
                self.tid, self.backing
            )),
        )
    }

    fn bind(&self, initiator: &str) -> String {
        self.tgtadm(&format!(
            "--op bind --mode target --tid {} --initiator-name {initiator}",
            self.tid
        ))
    }

    fn unbind(&self, initiator: &str) -> String {
        self.tgtadm(&format!(
            "--op unbind --mode target --tid {} --initiator-name {initiator}",
            self.tid
        ))
    }
}

/// `San::grant`, run on the SAN host: the target and its LUN are created
/// first when missing, then `initiator` is bound unless it already is
/// (`--op bind --mode target --initiator-name`).
pub fn grant_script(t: &Target, initiator: &str) -> Result<String, SanError> {
    check_initiator(initiator)?;
    let i = sh_quote(initiator);
    Ok(format!(
        "{ensure}; {has} || {bind}",
        ensure = t.ensure(),
        has = Target::acl_has(&i),
        bind = t.bind(&i),
    ))
}

/// `San::revoke`, run on the SAN host: `--op unbind --mode target
/// --initiator-name` when `initiator` is bound; exits [`EXIT_NO_TARGET`]
/// when the volume's target does not exist.
pub fn revoke_script(t: &Target, initiator: &str) -> Result<String, SanError> {
    check_initiator(initiator)?;
    let i = sh_quote(initiator);
    Ok(format!(
        "{exists}; if {has}; then {unbind}; fi",
        exists = t.exists(),
        has = Target::acl_has(&i),
        unbind = t.unbind(&i),
    ))
}

/// The set-up of a volume before a drill (not journalled), run on the SAN
/// host: the target and its LUN created when missing, and its ACL made
/// exactly `initiators` (others unbound, missing ones bound).
pub fn prepare_script(t: &Target, initiators: &[String]) -> Result<String, SanError> {
    for i in initiators {
        check_initiator(i)?;
    }
    let wanted: Vec<String> = initiators.iter().map(|i| sh_quote(i)).collect();
    let wanted = wanted.join(" ");
    Ok(format!(
        "{ensure}; set -f; \
         for a in $(tgt | awk '/^    [^ ]/ {{ a = ($1 == \"ACL\"); next }} a && NF == 1 {{ print $1 }}'); do \
         case \" {wanted} \" in *\" $a \"*) ;; *) {unbind} || exit 1 ;; esac; done; \
         for w in {wanted}; do {has} || {bind} || exit 1; done",
        ensure = t.ensure(),
        unbind = t.unbind("\"$a\""),
        has = Target::acl_has("\"$w\""),
        bind = t.bind("\"$w\""),
    ))
}

/// The SAN-side half of `San::attach`: exits [`EXIT_NO_TARGET`] unless the
/// volume's target and LUN exist (so that a refused login can only mean
/// the ACL: tgt answers both with "Not found").
pub fn target_check_script(t: &Target) -> String {
    t.exists()
}

/// The host-side half of `San::attach`, run on the host: a login with the
/// host's initiator name by `iscsi-inq -i <initiator> <url>` (which logs
/// in, sends INQUIRY and logs out), then the non-destructive data check
/// [`DATA_CHECK_TESTS`] through `iscsi-test-cu`, whose summary must show
/// both tests run and passed and its assertions run. Exits
/// [`EXIT_LOGIN_REFUSED`] when the target answers the login with an error
/// status, [`EXIT_DATA_CHECK`] when the data check fails, 1 on any other
/// failure (stderr says which).
pub fn login_script(t: &Target, san: IpAddr, initiator: &str) -> Result<String, SanError> {
    check_initiator(initiator)?;
    let i = sh_quote(initiator);
    Ok(format!(
        "u={url}; e=$(iscsi-inq -i {i} \"$u\" 2>&1 >/dev/null) || {{ printf '%s\\n' \"$e\" >&2; \
         case $e in *'Failed to log in to target. Status:'*) exit {EXIT_LOGIN_REFUSED} ;; *) exit 1 ;; esac; }}; \
         v=$(iscsi-test-cu -i {i} -s -t {DATA_CHECK_TESTS} \"$u\" 2>&1) && \
         printf '%s\\n' \"$v\" | awk '$1 == \"tests\" {{ t = ($2 == 2 && $3 == 2 && $4 == 2 && $5 == 0) }} \
         $1 == \"asserts\" {{ a = ($3 > 2 && $3 == $4 && $5 == 0) }} END {{ exit !(t && a) }}' || \
         {{ printf '%s\\n' \"$v\" | tail -n 20 >&2; exit {EXIT_DATA_CHECK}; }}",
        url = t.url(san),
    ))
}

/// `San::detach`, run on the SAN host. libiscsi's tools keep no session:
/// every attach logged out when its tools exited, so there is nothing to
/// log out. The command checks that on the SAN: it exits
/// [`EXIT_STILL_LOGGED_IN`] when `initiator` still has a session (an I_T
/// nexus) on the target (someone else's: drlab does not close it), and
/// [`EXIT_NO_TARGET`] when the target does not exist.
pub fn detach_script(t: &Target, initiator: &str) -> Result<String, SanError> {
    check_initiator(initiator)?;
    let i = sh_quote(initiator);
    Ok(format!(
        "{exists}; if tgt | awk -v i={i} '$1 == \"Initiator:\" && $2 == i {{ f = 1 }} END {{ exit !f }}'; then \
         echo \"initiator {i} still has a session on {iqn}\" >&2; exit {EXIT_STILL_LOGGED_IN}; fi",
        exists = t.exists(),
        iqn = t.iqn,
    ))
}

/// `San::snapshot`, run on the SAN host: a sparse copy of the LUN's
/// backing file to `snapshots/<volume>/<name>.img` (written aside, then
/// renamed). The LUN stays online, so the copy is as consistent as the
/// volume's writers make it (no freeze). Exits [`EXIT_NO_TARGET`] when the
/// volume's target does not exist, [`EXIT_SNAPSHOT_EXISTS`] when the name
/// is taken, [`EXIT_SNAPSHOTS_FULL`] at [`SNAPSHOTS_PER_VOLUME_MAX`].
pub fn snapshot_script(t: &Target, name: &str) -> Result<String, SanError> {
    check_snapshot_name(name)?;
    Ok(format!(
        "{exists}; f={dir}/{name}.img; \
         [ ! -e \"$f\" ] || {{ echo \"snapshot {name} of {vol} exists\" >&2; exit {EXIT_SNAPSHOT_EXISTS}; }}; \
         n=$(find {dir} -maxdepth 1 -name '*.img' 2>/dev/null | wc -l); \
         [ \"$n\" -lt {SNAPSHOTS_PER_VOLUME_MAX} ] || {{ echo \"{vol} has $n snapshots, the most kept\" >&2; exit {EXIT_SNAPSHOTS_FULL}; }}; \
         {{ install -d -m 700 {dir} && cp --sparse=always {img} \"$f.part\" && mv \"$f.part\" \"$f\"; }} || {{ rm -f \"$f.part\"; exit 1; }}",
        exists = t.exists(),
        dir = t.snapshots,
        img = t.backing,
        vol = sh_quote(&t.volume),
    ))
}

/// What one of these commands' exit status means, on `host` for `what`
/// (`grant`, `attach`...) of `volume`, by `initiator` where one logs in.
pub fn outcome(
    host: &str,
    what: &str,
    volume: &str,
    initiator: Option<&str>,
    out: &Output,
) -> OpResult<()> {
    let err = out.stderr.trim();
    match out.exit_status {
        Some(0) => Ok(()),
        Some(EXIT_NO_TARGET) => Err(OpError::not_found(format!(
            "volume {volume} on SAN host {host} ({err})"
        ))),
        Some(EXIT_TID_TAKEN) => Err(OpError::invalid_state(format!(
            "{what} of volume {volume}: the SAN {host} numbers its targets otherwise ({err})"
        ))),
        Some(EXIT_SNAPSHOT_EXISTS | EXIT_SNAPSHOTS_FULL) => {
            Err(OpError::refused(format!("{what} of volume {volume}: {err}")))
        }
        Some(EXIT_LOGIN_REFUSED) => Err(OpError::refused(format!(
            "the SAN refused the iSCSI login of initiator {} to volume {volume} from {host} ({err})",
            initiator.unwrap_or("?")
        ))),
        Some(EXIT_DATA_CHECK) => Err(OpError::Io {
            detail: format!(
                "{what} of volume {volume} on {host}: logged in, but the data check through iSCSI failed: {err}"
            )
            .into(),
        }),
        Some(EXIT_STILL_LOGGED_IN) => Err(OpError::invalid_state(format!(
            "{what} of volume {volume}: {err} (drlab keeps no session and closes none)"
        ))),
        status => Err(OpError::Io {
            detail: format!("{what} of volume {volume} on {host} failed (exit {status:?}): {err}")
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(volume: &str) -> Target {
        Target::of(["Exchange Server-1", "Database-1Active", "x"], volume).unwrap()
    }

    #[test]
    fn names_map_to_targets_numbered_by_the_estate() {
        let a = t("Database-1Active");
        assert_eq!(a.tid, 2);
        assert_eq!(a.iqn, "iqn.2026-12.com.example.corp:database-1active");
        assert_eq!(a.backing, "/srv/san/drlab/volumes/database-1active.img");
        assert_eq!(a.snapshots, "/srv/san/drlab/snapshots/database-1active");
        let b = t("Exchange Server-1");
        assert_eq!(
            (b.tid, b.iqn.as_str()),
            (1, "iqn.2026-12.com.example.corp:exchange-server-1")
        );
        assert_eq!(
            a.url("10.0.0.20".parse().unwrap()),
            "iscsi://10.0.0.20:3260/iqn.2026-12.com.example.corp:database-1active/1"
        );
        assert_eq!(
            a.url("fd00::20".parse().unwrap()),
            "iscsi://[fd00::20]:3260/iqn.2026-12.com.example.corp:database-1active/1"
        );
        assert_eq!(
            default_initiator("EXCH1"),
            "iqn.1991-05.com.microsoft:exch1"
        );
        let mut m = BTreeMap::new();
        m.insert("EXCH1".to_string(), "Exchange1".to_string());
        assert_eq!(initiator_of(&m, "EXCH1"), "Exchange1");
        assert_eq!(initiator_of(&m, "EXCH2"), "iqn.1991-05.com.microsoft:exch2");
    }

    #[test]
    fn bad_names_are_refused() {
        for v in [
            "",
            "-x",
            "a;b",
            "a'b",
            "a$(id)",
            "a/b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(
                matches!(volume_slug(v), Err(SanError::VolumeName(_))),
                "{v:?}"
            );
        }
        for i in [
            "",
            ":x",
            "a b",
            "a;b",
            "a'b",
            "a_b",
            "$(id)",
            &"i".repeat(224),
        ] {
            assert!(check_initiator(i).is_err(), "{i:?}");
            assert!(grant_script(&t("x"), i).is_err(), "{i:?}");
            assert!(login_script(&t("x"), "10.0.0.1".parse().unwrap(), i).is_err());
        }
        for n in ["", ".hidden", "a b", "../x", "a/b", "x;rm", "$(id)", "a*"] {
            assert!(snapshot_script(&t("x"), n).is_err(), "{n:?}");
        }
        assert_eq!(
            Target::of(["a"], "b"),
            Err(SanError::UnknownVolume("b".into()))
        );
        assert!(matches!(
            Target::of(["Data 1", "data_1"], "data_1"),
            Err(SanError::SameTarget(..))
        ));
        let e = OpError::from(SanError::Initiator("a b".into()));
        assert!(matches!(e, OpError::Refused { .. }), "{e}");
        let e = OpError::from(SanError::UnknownVolume("V9".into()));
        assert!(matches!(e, OpError::NotFound { .. }), "{e}");
    }

    #[test]
    fn grant_creates_the_target_where_missing_then_binds_once() {
        let s = grant_script(&t("x"), "iqn.1991-05.com.microsoft:exch1").unwrap();
        assert_eq!(
            s,
            "T='Target 3: '; t=$(tgtadm --lld iscsi --op show --mode target) || exit 1; \
             tgt() { printf '%s\\n' \"$t\" | awk -v h=\"$T\" 'index($0, \"Target \") == 1 { on = (index($0, h) == 1) } on'; }; \
             cur=$(printf '%s\\n' \"$t\" | sed -n \"s/^$T//p\"); \
             if [ -z \"$cur\" ]; then tgtadm --lld iscsi --op new --mode target --tid 3 --targetname iqn.2026-12.com.example.corp:x || exit 1; \
             t=$(tgtadm --lld iscsi --op show --mode target) || exit 1; \
             elif [ \"$cur\" != iqn.2026-12.com.example.corp:x ]; then echo \"target 3 is $cur, not iqn.2026-12.com.example.corp:x\" >&2; exit 5; fi; \
             tgt | awk -v p=/srv/san/drlab/volumes/x.img '$1 == \"Backing\" && $2 == \"store\" && $4 == p { f = 1 } END { exit !f }' || \
             { install -d -m 700 /srv/san/drlab/volumes && { [ -e /srv/san/drlab/volumes/x.img ] || truncate -s 64M /srv/san/drlab/volumes/x.img; } && \
             tgtadm --lld iscsi --op new --mode logicalunit --tid 3 --lun 1 --backing-store /srv/san/drlab/volumes/x.img; } || exit 1; \
             tgt | awk -v i=iqn.1991-05.com.microsoft:exch1 '/^    [^ ]/ { a = ($1 == \"ACL\") } a && NF == 1 && $1 == i { f = 1 } END { exit !f }' || \
             tgtadm --lld iscsi --op bind --mode target --tid 3 --initiator-name iqn.1991-05.com.microsoft:exch1"
        );
    }

    #[test]
    fn revoke_detach_snapshot_and_login_command_lines() {
        let x = t("x");
        let r = revoke_script(&x, "Exchange1").unwrap();
        assert!(r.starts_with(&x.exists()), "{r}");
        assert!(
            r.ends_with(
                "; if tgt | awk -v i=Exchange1 '/^    [^ ]/ { a = ($1 == \"ACL\") } a && NF == 1 && $1 == i { f = 1 } END { exit !f }'; \
                 then tgtadm --lld iscsi --op unbind --mode target --tid 3 --initiator-name Exchange1; fi"
            ),
            "{r}"
        );
        assert!(x.exists().contains("exit 4; }"), "{}", x.exists());
        let d = detach_script(&x, "Exchange1").unwrap();
        assert!(
            d.ends_with(
                "; if tgt | awk -v i=Exchange1 '$1 == \"Initiator:\" && $2 == i { f = 1 } END { exit !f }'; then \
                 echo \"initiator Exchange1 still has a session on iqn.2026-12.com.example.corp:x\" >&2; exit 9; fi"
            ),
            "{d}"
        );
        let s = snapshot_script(&x, "before-failover_1").unwrap();
        assert!(
            s.ends_with(
                "; f=/srv/san/drlab/snapshots/x/before-failover_1.img; \
                 [ ! -e \"$f\" ] || { echo \"snapshot before-failover_1 of x exists\" >&2; exit 3; }; \
                 n=$(find /srv/san/drlab/snapshots/x -maxdepth 1 -name '*.img' 2>/dev/null | wc -l); \
                 [ \"$n\" -lt 16 ] || { echo \"x has $n snapshots, the most kept\" >&2; exit 6; }; \
                 { install -d -m 700 /srv/san/drlab/snapshots/x && cp --sparse=always /srv/san/drlab/volumes/x.img \"$f.part\" && mv \"$f.part\" \"$f\"; } || { rm -f \"$f.part\"; exit 1; }"
            ),
            "{s}"
        );
        let l = login_script(&x, "10.0.0.20".parse().unwrap(), "Exchange1").unwrap();
        assert_eq!(
            l,
            "u=iscsi://10.0.0.20:3260/iqn.2026-12.com.example.corp:x/1; e=$(iscsi-inq -i Exchange1 \"$u\" 2>&1 >/dev/null) || \
             { printf '%s\\n' \"$e\" >&2; case $e in *'Failed to log in to target. Status:'*) exit 7 ;; *) exit 1 ;; esac; }; \
             v=$(iscsi-test-cu -i Exchange1 -s -t SCSI.Verify16.Simple,SCSI.Verify16.Mismatch \"$u\" 2>&1) && \
             printf '%s\\n' \"$v\" | awk '$1 == \"tests\" { t = ($2 == 2 && $3 == 2 && $4 == 2 && $5 == 0) } \
             $1 == \"asserts\" { a = ($3 > 2 && $3 == $4 && $5 == 0) } END { exit !(t && a) }' || \
             { printf '%s\\n' \"$v\" | tail -n 20 >&2; exit 8; }"
        );
        // a volume name with a space is quoted where it is shown
        let sp = snapshot_script(&t("Exchange Server-1"), "s").unwrap();
        assert!(
            sp.contains("echo \"snapshot s of 'Exchange Server-1' exists\""),
            "{sp}"
        );
    }

    #[test]
    fn prepare_sets_the_acl_to_exactly_the_list() {
        let p = prepare_script(&t("x"), &["Exchange1".into(), "iqn.a:b".into()]).unwrap();
        assert!(p.starts_with(&t("x").ensure()), "{p}");
        assert!(
            p.ends_with(
                "; set -f; for a in $(tgt | awk '/^    [^ ]/ { a = ($1 == \"ACL\"); next } a && NF == 1 { print $1 }'); do \
                 case \" Exchange1 iqn.a:b \" in *\" $a \"*) ;; *) tgtadm --lld iscsi --op unbind --mode target --tid 3 --initiator-name \"$a\" || exit 1 ;; esac; done; \
                 for w in Exchange1 iqn.a:b; do tgt | awk -v i=\"$w\" '/^    [^ ]/ { a = ($1 == \"ACL\") } a && NF == 1 && $1 == i { f = 1 } END { exit !f }' || \
                 tgtadm --lld iscsi --op bind --mode target --tid 3 --initiator-name \"$w\" || exit 1; done"
            ),
            "{p}"
        );
        assert!(prepare_script(&t("x"), &["a b".into()]).is_err());
    }

    fn out(code: u32, stderr: &str) -> Output {
        Output {
            exit_status: Some(code),
            exit_signal: None,
            stdout: String::new(),
            stderr: stderr.into(),
            truncated: false,
        }
    }

    #[test]
    fn exit_statuses_are_the_errors_a_runbook_sees() {
        let o = |c, e| outcome("EXCH1", "attach", "V1", Some("Exchange2"), &out(c, e));
        assert_eq!(o(0, ""), Ok(()));
        let e = o(
            7,
            "Login Failed. Failed to log in to target. Status: Target not found(515)",
        )
        .unwrap_err();
        assert!(matches!(e, OpError::Refused { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("the SAN refused the iSCSI login of initiator Exchange2 to volume V1"),
            "{e}"
        );
        assert!(matches!(
            o(4, "no target").unwrap_err(),
            OpError::NotFound { .. }
        ));
        assert!(matches!(
            o(5, "").unwrap_err(),
            OpError::InvalidState { .. }
        ));
        assert!(matches!(o(3, "").unwrap_err(), OpError::Refused { .. }));
        assert!(matches!(o(6, "").unwrap_err(), OpError::Refused { .. }));
        assert!(matches!(o(8, "").unwrap_err(), OpError::Io { .. }));
        assert!(matches!(
            o(9, "").unwrap_err(),
            OpError::InvalidState { .. }
        ));
        assert!(matches!(
            o(1, "tgtadm: can't connect").unwrap_err(),
            OpError::Io { .. }
        ));
    }
}
