//! Replication control of the lab's lsyncd/rsync pairs over SSH: connect
//! (with a mirror), pause, resume, wait until drained, disconnect, reverse,
//! queue status, and restoration from the replica back to its origin.
//!
//! The model, against Double-Take's: lsyncd on the *source* watches the data
//! directory (inotify) and ships changes to the *target* with rsync over SSH
//! (`root@<target address>`, the key the lab installs on every mail host).
//! * pause = SIGSTOP to lsyncd: changes keep arriving and wait in the kernel's
//!   inotify queue on the source (Double-Take's source queue); resume =
//!   SIGCONT, and lsyncd ships them.
//! * queue status = what rsync would still send: `rsync --dry-run
//!   --itemize-changes --stats` from source to target. Files and bytes to
//!   send are the queue; files only on the target are *orphans* (reported,
//!   not queued: lsyncd never deletes what the source did not delete).
//!   rsync writes each file to a temporary name and renames it, so a target
//!   never holds a half-applied file: the target-side queue is always 0.
//! * waiting on the target alone (the source cannot be asked) = until its
//!   rsync receivers have moved no byte for the idle time: a receiver cut
//!   off mid-transfer stays alive but applies nothing (`RSYNC_PROGRESS`).
//! * restore = rsync from the replica to the origin, optionally "only if
//!   backup copy is more recent", which silently skips files that are newer
//!   on the origin: the files whose origin copy is newer, compared at the
//!   file system's nanoseconds as Double-Take compares NTFS times, are
//!   excluded from the rsync ([`restore_script`] says why not `--update`).
//!
//! Command text comes from pure builders (tested below); only
//! [`Replicator`] does I/O.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use drlab_drivers::error::OpError;
use drlab_drivers::types::{MirrorMode, QueueStatus, ReplicationState};

use crate::ssh::{Output, SshError, SshPool, SshTarget, sh_quote};

/// lsyncd's configuration file (the lab image's entrypoint writes the same one).
pub const LSYNCD_CONFIG: &str = "/etc/lsyncd-drlab.lua";
/// lsyncd's pid file.
pub const LSYNCD_PID: &str = "/run/lsyncd.pid";

/// Limits of replication control. Units are in the names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicationLimits {
    /// Each short control command (pause, status, ...).
    pub command_timeout_ms: u64,
    /// A mirror or a restoration (copies whole data sets).
    pub copy_timeout_ms: u64,
    /// Interval between queue polls while waiting for a drain.
    pub poll_interval_ms: u64,
    /// lsyncd's batching delay: changes are shipped this long after they happen.
    pub lsyncd_delay_s: u32,
}

impl Default for ReplicationLimits {
    fn default() -> ReplicationLimits {
        ReplicationLimits {
            command_timeout_ms: 30_000,
            copy_timeout_ms: 600_000,
            poll_interval_ms: 250,
            lsyncd_delay_s: 1,
        }
    }
}

/// State of the lsyncd process on a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsyncdState {
    /// Running: changes are shipped.
    Running,
    /// Stopped with SIGSTOP: changes queue.
    Paused,
    /// Not running: nothing is replicated.
    Stopped,
}

/// What rsync would still do to make the target equal to the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Regular files to send (new or changed on the source).
    pub files: u64,
    /// Directories to create.
    pub dirs: u64,
    /// Bytes of the files to send.
    pub bytes: u64,
    /// Files and directories only on the target (not queued, see the module doc).
    pub orphans: u64,
}

impl Pending {
    /// Nothing left to send.
    pub fn is_empty(&self) -> bool {
        self.files == 0 && self.dirs == 0
    }
}

/// The status of a replication pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// lsyncd on the source.
    pub lsyncd: LsyncdState,
    /// What is not yet on the target.
    pub pending: Pending,
}

impl ReplicaStatus {
    /// The interface's queue status.
    pub fn queue_status(&self) -> QueueStatus {
        QueueStatus {
            state: match self.lsyncd {
                LsyncdState::Running => ReplicationState::Replicating,
                LsyncdState::Paused => ReplicationState::Paused,
                LsyncdState::Stopped => ReplicationState::Disconnected,
            },
            source_queued_bytes: self.pending.bytes,
            source_queued_items: self.pending.files + self.pending.dirs,
            target_queued_bytes: 0,
        }
    }
}

/// What a restoration did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Files copied to the origin.
    pub files_transferred: u64,
    /// Bytes of those files.
    pub bytes_transferred: u64,
    /// Files that differ but were *not* copied because the origin's copy is
    /// newer ("only if backup copy is more recent"); 0 without that option.
    pub skipped_newer_on_destination: u64,
}

/// Why a replication operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// SSH to a host failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// The data directory is not an absolute, plain path.
    #[error(
        "invalid replication directory {0:?}: absolute path of letters, digits, '.', '_', '-' and '/', no '..'"
    )]
    InvalidDir(String),
    /// The pair is not in a state that allows the operation (e.g. pause
    /// without a running lsyncd).
    #[error("{host}: {reason}")]
    InvalidState {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// A control command ran and failed.
    #[error("{host}: {what} failed: {detail}")]
    Command {
        /// The host.
        host: String,
        /// What was attempted.
        what: &'static str,
        /// Exit status and the first line of stderr.
        detail: String,
    },
    /// The answer of a command is not in the expected format.
    #[error("{host}: cannot parse the answer to {what}")]
    Unparseable {
        /// The host.
        host: String,
        /// What was asked.
        what: &'static str,
    },
    /// The target's receivers kept applying data past the limit.
    #[error("{host}: rsync receivers still moving data after {limit_ms} ms")]
    ReceiversBusy {
        /// The target.
        host: String,
        /// The limit.
        limit_ms: u64,
    },
    /// The target did not drain (and stay idle) within the limit.
    #[error("{host}: not drained after {limit_ms} ms ({} files, {} bytes still queued)", last.files, last.bytes)]
    DrainTimeout {
        /// The source.
        host: String,
        /// The limit.
        limit_ms: u64,
        /// The last queue seen.
        last: Pending,
    },
}

impl From<ReplicationError> for OpError {
    fn from(e: ReplicationError) -> OpError {
        match e {
            ReplicationError::Ssh(s) => s.into(),
            ReplicationError::InvalidState { .. } => OpError::InvalidState {
                reason: e.to_string().into(),
            },
            ReplicationError::ReceiversBusy { host, limit_ms } => OpError::Timeout {
                op: format!("waitontarget {host}").into(),
                after: Duration::from_millis(limit_ms),
            },
            ReplicationError::DrainTimeout { limit_ms, .. } => OpError::Timeout {
                op: e.to_string().into(),
                after: Duration::from_millis(limit_ms),
            },
            e => OpError::Io {
                detail: e.to_string().into(),
            },
        }
    }
}

/// Checks a data directory: absolute, plain characters, no `..`.
pub fn check_dir(dir: &str) -> Result<(), ReplicationError> {
    let ok = dir.starts_with('/')
        && dir.len() > 1
        && dir
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        && !dir.split('/').any(|p| p == "..");
    if ok {
        Ok(())
    } else {
        Err(ReplicationError::InvalidDir(dir.to_string()))
    }
}

fn slash(dir: &str) -> String {
    format!("{}/", dir.trim_end_matches('/'))
}

/// The rsync remote shell: batch mode (never prompt), bounded connect.
const RSYNC_SSH: &str = "ssh -o BatchMode=yes -o ConnectTimeout=5";

/// lsyncd's configuration: mirror `dir` to `root@peer:dir` with rsync over
/// SSH, shipping changes `delay_s` after they happen. `init = false` skips
/// lsyncd's own start-up sync (the mirror is done before, synchronously).
pub fn lsyncd_config(dir: &str, peer: IpAddr, delay_s: u32) -> String {
    let d = dir.trim_end_matches('/');
    format!(
        "settings {{ logfile = \"/var/log/lsyncd.log\", statusFile = \"/run/lsyncd.status\", pidfile = \"{LSYNCD_PID}\", insist = true, nodaemon = false }}\n\
         sync {{\n  default.rsyncssh,\n  source = \"{d}\", host = \"root@{peer}\", targetdir = \"{d}\",\n  delay = {delay_s}, init = false,\n  rsync = {{ archive = true, compress = false }},\n}}\n"
    )
}

/// Shell function printing `lsyncd=running|paused|stopped` (a stopped
/// process shows state `T` in /proc; a zombie counts as stopped).
const LSYNCD_STATE_FN: &str = r#"lsyncd_state() {
  pid=$(cat /run/lsyncd.pid 2>/dev/null || true)
  st=$( [ -n "$pid" ] && awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true )
  case $st in
    T|t) echo lsyncd=paused ;;
    ''|Z|X) echo lsyncd=stopped ;;
    *) echo lsyncd=running ;;
  esac
}"#;

/// Prints a line `PID BYTES` for each rsync process on a host, BYTES being
/// what it has read and written so far (`rchar` + `wchar` of
/// `/proc/PID/io`, proc(5)), or `PID ?` when that cannot be read (another
/// user's process: it counts as moving). A process gone between `pgrep`
/// and the read prints nothing; the command always succeeds.
///
/// Why progress and not presence: a partition that cuts the source off in
/// the middle of a transfer leaves the target's receiving rsync waiting on
/// a connection nobody will send on again (no TCP keepalive, no rsync
/// `--timeout`), alive but applying nothing. Double-Take's `waitontarget`
/// waits for data the target received and has still to apply; a receiver
/// that moves no byte has none.
pub const RSYNC_PROGRESS: &str = r#"for p in $(pgrep -x rsync); do if b=$(awk '/^(rchar|wchar):/ {s += $2} END {print s + 0}' "/proc/$p/io" 2>/dev/null); then echo "$p $b"; elif [ -e "/proc/$p" ]; then echo "$p ?"; fi; done; true"#;

/// One [`RSYNC_PROGRESS`] sample: pid → bytes moved (`None`: unreadable).
pub type RsyncProgress = std::collections::BTreeMap<u32, Option<u64>>;

/// The rsync processes of a [`RSYNC_PROGRESS`] output. Other lines are
/// skipped (a process that vanished mid-line).
pub fn rsync_progress(stdout: &str) -> RsyncProgress {
    stdout
        .lines()
        .filter_map(|l| {
            let (pid, bytes) = l.trim().split_once(' ')?;
            let bytes = match bytes.trim() {
                "?" => None,
                b => Some(b.parse().ok()?),
            };
            Some((pid.parse().ok()?, bytes))
        })
        .collect()
}

/// Whether any receiver moved data between two [`rsync_progress`] samples:
/// a process that is new, whose byte count changed, or whose count cannot
/// be read (never judged still). Processes that ended moved nothing more.
pub fn rsync_moved(before: &RsyncProgress, now: &RsyncProgress) -> bool {
    now.iter()
        .any(|(pid, bytes)| bytes.is_none() || before.get(pid) != Some(bytes))
}

/// Stops lsyncd if it runs (waking it first if paused), bounded wait.
const LSYNCD_STOP: &str = r#"pid=$(cat /run/lsyncd.pid 2>/dev/null || true)
if [ -n "$pid" ] && [ -e "/proc/$pid" ]; then
  kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null
  for i in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
  if [ -e "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
fi
rm -f /run/lsyncd.pid"#;

/// The rsync pass a mirror makes (`None` makes none).
pub fn mirror_command(dir: &str, peer: IpAddr, mode: MirrorMode) -> Option<String> {
    let extra = match mode {
        MirrorMode::None => return None,
        // quick check (size, mtime), then rsync's rolling block checksums
        // for files that differ: Double-Take's "difference with checksum"
        MirrorMode::Difference => "",
        // every file, whole: a full mirror
        MirrorMode::Full => " --ignore-times --whole-file",
    };
    let d = sh_quote(&slash(dir));
    Some(format!(
        "rsync -a --delete{extra} -e {} {d} {}",
        sh_quote(RSYNC_SSH),
        sh_quote(&format!("root@{peer}:{}", slash(dir)))
    ))
}

/// Script run on the source: stop any lsyncd, write the configuration,
/// start lsyncd, then mirror, and print lsyncd's state. (Only the
/// container's first start replicates by itself; after a restart
/// replication is off until connected.)
///
/// lsyncd watches before the mirror starts, as Double-Take queues
/// replication from the start of a mirror: a file that changes while the
/// mirror runs is shipped by lsyncd, not lost between the mirror's scan
/// and lsyncd's start. The store is live (delivery renames `tmp/` to
/// `new/`, Dovecot `new/` to `cur/` when a client selects the mailbox),
/// so the mirror may find files gone that it listed: rsync's exit 24
/// ("partial transfer due to vanished source files", rsync(1) EXIT
/// VALUES) means the mirror is complete but for files that lsyncd ships
/// under their new names; every other failure fails the connect.
pub fn connect_script(dir: &str, peer: IpAddr, mode: MirrorMode, delay_s: u32) -> String {
    let mut s = String::from("set -e\n");
    s.push_str(LSYNCD_STOP);
    s.push('\n');
    s.push_str(&format!(
        "cat >{LSYNCD_CONFIG} <<'DRLAB_EOF'\n{}DRLAB_EOF\n",
        lsyncd_config(dir, peer, delay_s)
    ));
    // lsyncd daemonises; its stdio must not hold the SSH channel open
    s.push_str(&format!(
        "lsyncd {LSYNCD_CONFIG} </dev/null >/dev/null 2>&1\n\
         for i in $(seq 50); do [ -s {LSYNCD_PID} ] && break; sleep 0.1; done\n"
    ));
    if let Some(m) = mirror_command(dir, peer, mode) {
        s.push_str(&format!("{m} || [ $? -eq 24 ]\n"));
    }
    s.push_str(&format!("{LSYNCD_STATE_FN}\nlsyncd_state\n"));
    s
}

/// Script run on the source: SIGSTOP lsyncd; fails if it does not run.
pub fn pause_script() -> String {
    format!(
        "{LSYNCD_STATE_FN}\ncase $(lsyncd_state) in lsyncd=stopped) echo lsyncd=stopped; exit 3 ;; esac\n\
         kill -STOP \"$(cat {LSYNCD_PID})\"\nsleep 0.05\nlsyncd_state\n"
    )
}

/// Script run on the source: SIGCONT lsyncd; fails if it does not run.
pub fn resume_script() -> String {
    format!(
        "{LSYNCD_STATE_FN}\ncase $(lsyncd_state) in lsyncd=stopped) echo lsyncd=stopped; exit 3 ;; esac\n\
         kill -CONT \"$(cat {LSYNCD_PID})\"\nsleep 0.05\nlsyncd_state\n"
    )
}

/// Script run on the source: stop lsyncd.
pub fn disconnect_script() -> String {
    format!("{LSYNCD_STOP}\n{LSYNCD_STATE_FN}\nlsyncd_state\n")
}

/// Script run on the source: lsyncd's state, then rsync's dry run against
/// the target, then `rsync_exit=N`.
pub fn status_script(dir: &str, peer: IpAddr) -> String {
    format!(
        "{LSYNCD_STATE_FN}\nlsyncd_state\nrsync -a --delete --dry-run --itemize-changes --stats -e {} {} {} 2>&1\necho rsync_exit=$?\n",
        sh_quote(RSYNC_SSH),
        sh_quote(&slash(dir)),
        sh_quote(&format!("root@{peer}:{}", slash(dir)))
    )
}

/// The script that restores `dir` from the host it runs on (the replica)
/// to `origin` with rsync. Never `--delete`: a restoration copies the
/// replica back, it does not remove what only the origin has.
///
/// "Only if backup copy is more recent" (`only_if_newer`) is not rsync's
/// `--update`, which compares whole seconds, so that a store written on
/// the origin in the same second as the replica's last write counts as
/// equal and is copied; and `--modify-window=-1`, which rsync(1) offers
/// for nanoseconds, makes `--update` skip only files at least 2 s newer
/// (both measured with rsync 3.2.7). Double-Take compares NTFS times
/// (100 ns). So the script lists both sides' files with their times as
/// the file system keeps them (nanoseconds in the inode, set from the
/// kernel's clock, which moves in ticks of a few milliseconds;
/// `find -printf '%T@'`), excludes from the rsync each file
/// whose origin copy is strictly newer, and prints `skipped_newer=N`
/// first. The rsync's own quick check (size and time) compares
/// nanoseconds too (`--modify-window=-1`): with whole seconds, a file of
/// the same size changed within the second of the other side's copy
/// counts as unchanged and is not restored (seen on the lab). The
/// exclusions are anchored paths (`/alice/mbox`), so a name
/// holding rsync's wildcard characters (`*?[`) would match more: mail
/// roots hold mailbox names and Dovecot's files only.
pub fn restore_script(dir: &str, origin: IpAddr, only_if_newer: bool) -> String {
    let rsync = |exclude: &str| {
        format!(
            "rsync -a --modify-window=-1{exclude} --itemize-changes --stats -e {} {} {}",
            sh_quote(RSYNC_SSH),
            sh_quote(&slash(dir)),
            sh_quote(&format!("root@{origin}:{}", slash(dir)))
        )
    };
    if !only_if_newer {
        return rsync("");
    }
    let list = format!(
        "cd {} && find . -type f -printf '%T@ %P\\n'",
        sh_quote(&slash(dir))
    );
    format!(
        "t=$(mktemp -d) || exit 1; trap 'rm -rf \"$t\"' EXIT; \
         {RSYNC_SSH} root@{origin} {} > \"$t/origin\" || exit 1; \
         ( {list} ) > \"$t/replica\" || exit 1; \
         awk {} \"$t/origin\" \"$t/replica\" > \"$t/newer\" || exit 1; \
         echo \"skipped_newer=$(wc -l < \"$t/newer\")\"; {}",
        sh_quote(&list),
        sh_quote(NEWER_ON_ORIGIN_AWK),
        rsync(" --exclude-from=\"$t/newer\"")
    )
}

/// awk over `origin` then `replica` lists of `SECONDS.NANOSECONDS PATH`:
/// prints `/PATH` for each file whose origin copy is strictly newer. The
/// seconds compare as numbers, the fraction (`%T@` prints ten digits) as
/// text, so no precision is lost to floating point.
const NEWER_ON_ORIGIN_AWK: &str = "function newer(a, b,  x, y) { split(a, x, \".\"); split(b, y, \".\"); \
     if (x[1] + 0 != y[1] + 0) return x[1] + 0 > y[1] + 0; return x[2] \"\" > y[2] \"\" } \
     { t = $1; p = substr($0, index($0, \" \") + 1) } \
     NR == FNR { origin[p] = t; next } \
     (p in origin) && newer(origin[p], t) { print \"/\" p }";

/// Parses [`restore_script`]'s `skipped_newer=N` (0 when it is absent: a
/// restore without the option skips nothing).
pub fn parse_skipped_newer(stdout: &str) -> Option<u64> {
    match stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("skipped_newer="))
    {
        Some(n) => n.trim().parse().ok(),
        None => Some(0),
    }
}

/// Parses [`restore_script`]'s output: rsync's statistics and the count
/// of files skipped as newer on the origin.
pub fn parse_restore(stdout: &str) -> Option<RestoreReport> {
    let done = parse_rsync(stdout)?;
    Some(RestoreReport {
        files_transferred: done.files,
        bytes_transferred: done.bytes,
        skipped_newer_on_destination: parse_skipped_newer(stdout)?,
    })
}

/// Parses an `lsyncd=...` line.
pub fn parse_lsyncd_state(stdout: &str) -> Option<LsyncdState> {
    stdout
        .lines()
        .find_map(|l| match l.trim().strip_prefix("lsyncd=")? {
            "running" => Some(LsyncdState::Running),
            "paused" => Some(LsyncdState::Paused),
            "stopped" => Some(LsyncdState::Stopped),
            _ => None,
        })
}

fn stat_number(stdout: &str, label: &str) -> Option<u64> {
    let line = stdout.lines().find_map(|l| l.trim().strip_prefix(label))?;
    let digits: String = line
        .trim_start_matches(':')
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Parses rsync's `--itemize-changes --stats` output (dry run or real).
/// Returns `None` when the stats block is missing (rsync failed).
pub fn parse_rsync(stdout: &str) -> Option<Pending> {
    let mut p = Pending::default();
    for l in stdout.lines() {
        if l.starts_with("*deleting") {
            p.orphans += 1;
        } else if l.len() > 11 && (l.starts_with(">f") || l.starts_with("<f")) {
            p.files += 1;
        } else if l.starts_with("cd+") {
            p.dirs += 1;
        }
    }
    p.bytes = stat_number(stdout, "Total transferred file size")?;
    Some(p)
}

/// The last non-empty line of stderr, else of stdout: what a failed script said last.
fn last_line(out: &Output) -> &str {
    [&out.stderr, &out.stdout]
        .into_iter()
        .find_map(|s| s.lines().rev().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("")
}

/// Judges a control command's output: it must have exited 0.
pub fn command_result(
    host: &str,
    what: &'static str,
    out: Output,
) -> Result<Output, ReplicationError> {
    if out.success() {
        Ok(out)
    } else {
        Err(ReplicationError::Command {
            host: host.to_string(),
            what,
            detail: format!(
                "exit status {}: {}",
                out.exit_status
                    .map_or_else(|| "none".to_string(), |s| s.to_string()),
                last_line(&out)
            ),
        })
    }
}

/// The `lsyncd=...` state a control script printed.
pub fn state_result(
    host: &str,
    what: &'static str,
    out: &Output,
) -> Result<LsyncdState, ReplicationError> {
    parse_lsyncd_state(&out.stdout).ok_or_else(|| ReplicationError::Unparseable {
        host: host.to_string(),
        what,
    })
}

/// Judges the output of [`pause_script`] or [`resume_script`] (exit 3:
/// lsyncd is not running).
pub fn signal_result(host: &str, what: &'static str, out: &Output) -> Result<(), ReplicationError> {
    if out.exit_status == Some(3) {
        return Err(ReplicationError::InvalidState {
            host: host.to_string(),
            reason: format!("cannot {what}: lsyncd is not running (replication is disconnected)"),
        });
    }
    if !out.success() {
        return Err(ReplicationError::Command {
            host: host.to_string(),
            what,
            detail: last_line(out).to_string(),
        });
    }
    state_result(host, what, out).map(|_| ())
}

/// Runs replication control commands over SSH.
#[derive(Debug)]
pub struct Replicator<'a> {
    ssh: &'a SshPool,
    limits: ReplicationLimits,
}

impl<'a> Replicator<'a> {
    /// Control through `ssh`.
    pub fn new(ssh: &'a SshPool, limits: ReplicationLimits) -> Replicator<'a> {
        Replicator { ssh, limits }
    }

    async fn run(
        &self,
        host: &SshTarget,
        what: &'static str,
        script: &str,
        timeout_ms: u64,
    ) -> Result<Output, ReplicationError> {
        let out = self
            .ssh
            .exec(host, script, Duration::from_millis(timeout_ms))
            .await?;
        command_result(&host.host, what, out)
    }

    fn state_of(
        host: &SshTarget,
        what: &'static str,
        out: &Output,
    ) -> Result<LsyncdState, ReplicationError> {
        state_result(&host.host, what, out)
    }

    /// Connects `source` → `target` for `dir`: mirrors as asked (returns
    /// when the mirror is done), then starts continuous replication.
    pub async fn connect(
        &self,
        source: &SshTarget,
        target: &SshTarget,
        dir: &str,
        mode: MirrorMode,
    ) -> Result<LsyncdState, ReplicationError> {
        check_dir(dir)?;
        let script = connect_script(dir, target.addr.ip(), mode, self.limits.lsyncd_delay_s);
        let out = self
            .run(source, "connect", &script, self.limits.copy_timeout_ms)
            .await?;
        Self::state_of(source, "connect", &out)
    }

    /// Pauses transmission on `source` (changes queue there).
    pub async fn pause(&self, source: &SshTarget) -> Result<(), ReplicationError> {
        self.signal(source, "pause", &pause_script()).await
    }

    /// Resumes transmission on `source`.
    pub async fn resume(&self, source: &SshTarget) -> Result<(), ReplicationError> {
        self.signal(source, "resume", &resume_script()).await
    }

    async fn signal(
        &self,
        source: &SshTarget,
        what: &'static str,
        script: &str,
    ) -> Result<(), ReplicationError> {
        let out = self
            .ssh
            .exec(
                source,
                script,
                Duration::from_millis(self.limits.command_timeout_ms),
            )
            .await?;
        signal_result(&source.host, what, &out)
    }

    /// Ends replication from `source`; what is queued stays unsent.
    pub async fn disconnect(&self, source: &SshTarget) -> Result<(), ReplicationError> {
        self.run(
            source,
            "disconnect",
            &disconnect_script(),
            self.limits.command_timeout_ms,
        )
        .await
        .map(|_| ())
    }

    /// lsyncd's state on `source` and what is not yet on `target`.
    pub async fn status(
        &self,
        source: &SshTarget,
        target: &SshTarget,
        dir: &str,
    ) -> Result<ReplicaStatus, ReplicationError> {
        check_dir(dir)?;
        let out = self
            .ssh
            .exec(
                source,
                &status_script(dir, target.addr.ip()),
                Duration::from_millis(self.limits.command_timeout_ms),
            )
            .await?;
        let lsyncd = Self::state_of(source, "status", &out)?;
        let rsync_ok = out.stdout.lines().any(|l| l.trim() == "rsync_exit=0");
        if !rsync_ok {
            return Err(ReplicationError::Command {
                host: source.host.clone(),
                what: "status (rsync dry run)",
                detail: out
                    .stdout
                    .lines()
                    .find(|l| l.starts_with("rsync:") || l.starts_with("ssh:"))
                    .unwrap_or("rsync failed")
                    .to_string(),
            });
        }
        let pending = parse_rsync(&out.stdout).ok_or_else(|| ReplicationError::Unparseable {
            host: source.host.clone(),
            what: "status (rsync dry run)",
        })?;
        Ok(ReplicaStatus { lsyncd, pending })
    }

    /// Waits until nothing is left to send and that stayed so for `idle`
    /// (Double-Take's `waitontarget`), or fails after `limit`.
    pub async fn wait_drained(
        &self,
        source: &SshTarget,
        target: &SshTarget,
        dir: &str,
        idle: Duration,
        limit: Duration,
    ) -> Result<ReplicaStatus, ReplicationError> {
        let start = Instant::now();
        let mut idle_since: Option<Instant> = None;
        loop {
            let s = self.status(source, target, dir).await?;
            let now = Instant::now();
            if s.pending.is_empty() {
                let since = *idle_since.get_or_insert(now);
                if now.duration_since(since) >= idle {
                    return Ok(s);
                }
            } else {
                idle_since = None;
            }
            if now.duration_since(start) >= limit {
                return Err(ReplicationError::DrainTimeout {
                    host: source.host.clone(),
                    limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                    last: s.pending,
                });
            }
            tokio::time::sleep(Duration::from_millis(self.limits.poll_interval_ms)).await;
        }
    }

    /// Waits until the rsync receivers on `target` have moved no byte for
    /// `idle` (none left, or all stalled: see [`RSYNC_PROGRESS`]), or fails
    /// after `limit`. What a source that cannot be asked leaves to watch.
    pub async fn wait_receivers_still(
        &self,
        target: &SshTarget,
        idle: Duration,
        limit: Duration,
    ) -> Result<(), ReplicationError> {
        let start = Instant::now();
        let mut still_since = Instant::now();
        let mut last = std::collections::BTreeMap::new();
        loop {
            let out = self
                .run(
                    target,
                    "receivers' progress",
                    RSYNC_PROGRESS,
                    self.limits.command_timeout_ms,
                )
                .await?;
            let now = rsync_progress(&out.stdout);
            if rsync_moved(&last, &now) {
                still_since = Instant::now();
            } else if still_since.elapsed() >= idle {
                return Ok(());
            }
            last = now;
            if start.elapsed() >= limit {
                return Err(ReplicationError::ReceiversBusy {
                    host: target.host.clone(),
                    limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                });
            }
            tokio::time::sleep(Duration::from_millis(self.limits.poll_interval_ms)).await;
        }
    }

    /// Reverses the direction: stops replication on `source` (if it can be
    /// reached: a crashed source replicates nothing anyway), then connects
    /// `target` → `source`, mirroring as asked.
    pub async fn reverse(
        &self,
        source: &SshTarget,
        target: &SshTarget,
        dir: &str,
        mode: MirrorMode,
    ) -> Result<LsyncdState, ReplicationError> {
        match self.disconnect(source).await {
            Ok(()) => {}
            Err(ReplicationError::Ssh(
                SshError::Connect { .. } | SshError::ConnectTimeout { .. },
            )) => {}
            Err(e) => return Err(e),
        }
        self.connect(target, source, dir, mode).await
    }

    /// Restores `dir` from `replica` over `origin` (Restoration Manager).
    /// With `only_if_newer` files whose origin copy is newer are skipped
    /// ([`restore_script`]) — the guide's pitfall; the report counts them.
    pub async fn restore(
        &self,
        replica: &SshTarget,
        origin: &SshTarget,
        dir: &str,
        only_if_newer: bool,
    ) -> Result<RestoreReport, ReplicationError> {
        check_dir(dir)?;
        let cmd = restore_script(dir, origin.addr.ip(), only_if_newer);
        let out = self
            .run(replica, "restore", &cmd, self.limits.copy_timeout_ms)
            .await?;
        parse_restore(&out.stdout).ok_or_else(|| ReplicationError::Unparseable {
            host: replica.host.clone(),
            what: "restore",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 212, 5, 3));

    #[test]
    fn a_receiver_that_moves_no_byte_is_idle() {
        let out = "412 1000\n413 52\n";
        let first = rsync_progress(out);
        assert_eq!(first.len(), 2);
        // the same counts: nothing applied since
        assert!(!rsync_moved(&first, &rsync_progress(out)));
        // one receiver read more
        assert!(rsync_moved(&first, &rsync_progress("412 1000\n413 900\n")));
        // a new receiver started
        assert!(rsync_moved(
            &first,
            &rsync_progress("412 1000\n413 52\n500 0\n")
        ));
        // one ended, the other stood still
        assert!(!rsync_moved(&first, &rsync_progress("412 1000\n")));
        // none at all
        assert!(!rsync_moved(&first, &rsync_progress("")));
        // a vanished process's half line is skipped
        assert_eq!(rsync_progress("412\nabc 3\n7 9\n").len(), 1);
        // one that cannot be read is never still
        let hidden = rsync_progress("412 1000\n600 ?\n");
        assert_eq!(hidden.get(&600), Some(&None));
        assert!(rsync_moved(&hidden, &hidden));
    }

    #[test]
    fn dirs_are_checked() {
        assert!(check_dir("/srv/mail").is_ok());
        assert!(check_dir("/srv/mail/").is_ok());
        assert!(check_dir("srv/mail").is_err());
        assert!(check_dir("/").is_err());
        assert!(check_dir("/srv/../etc").is_err());
        assert!(check_dir("/srv/ma il").is_err());
        assert!(check_dir("/srv/$(x)").is_err());
    }

    /// The comparison on real lists: strictly newer on the origin by
    /// nanoseconds within one second, by whole seconds, equal, older, and
    /// a file only the replica has; names with spaces.
    #[test]
    fn only_files_newer_on_the_origin_are_excluded() {
        let dir = crate::scratch::Scratch::new("newer");
        let origin = "1733339464.0170000000 alice/mbox\n\
                      1733339463.2995259581 bob/mbox\n\
                      1733339470.0000000000 carol/mbox\n\
                      1733339463.2995259580 dave/mbox\n\
                      1733339400.0000000000 erin/a b\n";
        let replica = "1733339463.2995259580 alice/mbox\n\
                       1733339463.2995259580 bob/mbox\n\
                       1733339469.9999999999 carol/mbox\n\
                       1733339463.2995259580 dave/mbox\n\
                       1733339500.0000000000 erin/a b\n\
                       1733339463.0000000000 frank/mbox\n";
        let newer = crate::scratch::stdout_of(
            std::process::Command::new("awk")
                .arg(NEWER_ON_ORIGIN_AWK)
                .arg(dir.write("origin", origin))
                .arg(dir.write("replica", replica)),
        );
        assert_eq!(newer, "/alice/mbox\n/bob/mbox\n/carol/mbox\n");
        assert_eq!(
            parse_skipped_newer("skipped_newer=3\nNumber of files: 4\n"),
            Some(3)
        );
        assert_eq!(parse_skipped_newer("Number of files: 4\n"), Some(0));
        assert_eq!(parse_skipped_newer("skipped_newer=x\n"), None);
    }

    #[test]
    fn commands() {
        assert_eq!(
            mirror_command("/srv/mail", PEER, MirrorMode::Full).unwrap(),
            "rsync -a --delete --ignore-times --whole-file -e 'ssh -o BatchMode=yes -o ConnectTimeout=5' /srv/mail/ root@10.212.5.3:/srv/mail/"
        );
        assert!(mirror_command("/srv/mail", PEER, MirrorMode::None).is_none());
        assert_eq!(
            restore_script("/srv/mail/", PEER, false),
            "rsync -a --modify-window=-1 --itemize-changes --stats -e 'ssh -o BatchMode=yes -o ConnectTimeout=5' /srv/mail/ root@10.212.5.3:/srv/mail/"
        );
        let r = restore_script("/srv/mail/", PEER, true);
        assert!(
            r.ends_with("rsync -a --modify-window=-1 --exclude-from=\"$t/newer\" --itemize-changes --stats -e 'ssh -o BatchMode=yes -o ConnectTimeout=5' /srv/mail/ root@10.212.5.3:/srv/mail/"),
            "{r}"
        );
        assert!(!r.contains("--update"), "{r}");
        let c = lsyncd_config("/srv/mail", PEER, 1);
        assert!(c.contains("host = \"root@10.212.5.3\""), "{c}");
        assert!(c.contains("init = false"), "{c}");
        let s = connect_script("/srv/mail", PEER, MirrorMode::Difference, 1);
        let (start, mirror) = (
            s.find("lsyncd /etc/lsyncd-drlab.lua </dev/null"),
            s.find("rsync -a --delete -e"),
        );
        // lsyncd watches before the mirror scans; only "vanished" passes
        assert!(start.is_some() && mirror.is_some() && start < mirror, "{s}");
        assert!(
            s.contains("root@10.212.5.3:/srv/mail/ || [ $? -eq 24 ]\n"),
            "{s}"
        );
        assert!(status_script("/srv/mail", PEER).contains("--dry-run --itemize-changes --stats"));
    }

    #[test]
    fn rsync_output_is_parsed() {
        let out = "lsyncd=paused\n\
cd+++++++++ alice/Maildir/new/sub/\n\
>f+++++++++ alice/Maildir/new/1700000000.M1.exch1\n\
>f.st...... alice/Maildir/new/1700000001.M2.exch1\n\
*deleting   alice/Maildir/dovecot.index\n\
.d..t...... alice/Maildir/\n\
\n\
Number of files: 12 (reg: 8, dir: 4)\n\
Number of created files: 1 (reg: 1)\n\
Number of regular files transferred: 2\n\
Total file size: 1,234,567 bytes\n\
Total transferred file size: 65,536 bytes\n\
rsync_exit=0\n";
        assert_eq!(parse_lsyncd_state(out), Some(LsyncdState::Paused));
        let p = parse_rsync(out).unwrap();
        assert_eq!(
            p,
            Pending {
                files: 2,
                dirs: 1,
                bytes: 65_536,
                orphans: 1
            }
        );
        assert!(!p.is_empty());
        let q = ReplicaStatus {
            lsyncd: LsyncdState::Paused,
            pending: p,
        }
        .queue_status();
        assert_eq!(q.state, ReplicationState::Paused);
        assert_eq!(q.source_queued_items, 3);
        assert!(parse_rsync("rsync: connection unexpectedly closed").is_none());
    }
}
