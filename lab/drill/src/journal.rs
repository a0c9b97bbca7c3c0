//! The drill journal: every state-changing step of a real drill, appended to
//! a JSON-lines file as it happens (one `begin` record before the step, one
//! `ok`/`failed` record after), each line flushed to disk before the step
//! proceeds. A drill that dies half-way leaves a journal that says what was
//! done, what might have been done, and how to undo each of them.
//!
//! Reading tolerates a torn last line (the process died mid-write): it is
//! reported, not fatal.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use drlab_drivers::types::{MirrorMode, RecordType, StartupType};
use serde::{Deserialize, Serialize};

use crate::capabilities::own;

// `Action`: the simple variants come from the rows of the capability table
// (`src/capabilities.rs`); these are the variants of the methods with
// bookkeeping of their own (previous values, two methods sharing a variant,
// faults and their repairs).
crate::capabilities::capabilities! { @enum
    /// Set a computer name (effective at the next boot).
    Rename {
        /// Host.
        host: String,
        /// New name.
        name: String,
        /// The name before, when known (for undo).
        #[serde(default)]
        previous: Option<String>,
    },
    /// Leave the domain.
    LeaveDomain {
        /// Host.
        host: String,
        /// Domain it leaves (to re-join on undo).
        domain: String,
    },
    /// Move a mailbox's home.
    SetMailboxHome {
        /// Domain controller.
        dc: String,
        /// Mailbox.
        mailbox: String,
        /// New home server.
        server: String,
        /// New home group.
        group: String,
        /// New home store.
        store: String,
        /// The home before, `[server, group, store]`, when known (for undo).
        previous: Option<[String; 3]>,
    },
    /// A fault injected on purpose; its undo is the repair.
    Fault {
        /// Fault kind as scenario files spell it.
        fault: String,
        /// Target (host, `host:service`, `a<->b`).
        target: String,
        /// A `degrade-link`'s parameters (absent for other faults, and in
        /// journals written before they were kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<LinkChange>,
    },
    /// A repair (power on, heal).
    Repair {
        /// Repair kind.
        fault: String,
        /// Target.
        target: String,
    },
    /// Set a service's startup type.
    SetStartup {
        /// Host.
        host: String,
        /// Service.
        service: String,
        /// The type (`automatic`, `manual` or `disabled` in the journal).
        startup: StartupType,
        /// The type before, when known (for undo).
        previous: Option<StartupType>,
    },
    /// Soft (log replay) or hard (repair) recovery of a store (no undo).
    Recovery {
        /// Host.
        host: String,
        /// Storage group.
        group: String,
        /// Store.
        store: String,
        /// Hard recovery.
        hard: bool,
    },
    /// Set a switch port's VLANs.
    SetPortVlans {
        /// Server.
        server: String,
        /// New VLANs.
        vlans: Vec<u16>,
        /// VLANs before, when known (for undo).
        previous: Option<Vec<u16>>,
    },
}

/// What a `degrade-link` fault sets on a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkChange {
    /// Added one-way latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Bandwidth limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_mbps: Option<f64>,
    /// Packet loss, a fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

// The simple actions' undos come from their rows; these are the others'.
crate::capabilities::capabilities! { @inverse
    Action::Fault { fault, target, .. } => Some(Action::Repair {
        fault: match fault.as_str() {
            "crash-host" | "power-off" => "power-on".into(),
            "partition" => "heal".into(),
            // the service manager's recovery of a killed or hung service
            // (a hung process ends only by a restart; journals written
            // before it existed undo a kill with `start-service`, which
            // rollback still reads)
            "kill-service" | "hang-service" => "restart-service".into(),
            _ => return None,
        },
        target: own(target),
    }),
    Action::SetMailboxHome {
        dc,
        mailbox,
        server,
        group,
        store,
        previous: Some([ps, pg, pst]),
    } => Some(Action::SetMailboxHome {
        dc: own(dc),
        mailbox: own(mailbox),
        server: own(ps),
        group: own(pg),
        store: own(pst),
        previous: Some([own(server), own(group), own(store)]),
    }),
    Action::SetStartup {
        host,
        service,
        startup,
        previous: Some(prev),
    } => Some(Action::SetStartup {
        host: own(host),
        service: own(service),
        startup: *prev,
        previous: Some(*startup),
    }),
    Action::SetPortVlans {
        server,
        vlans,
        previous: Some(prev),
    } => Some(Action::SetPortVlans {
        server: own(server),
        vlans: own(prev),
        previous: Some(own(vlans)),
    }),
    Action::Rename {
        host,
        name,
        previous: Some(prev),
    } => Some(Action::Rename {
        host: own(host),
        name: own(prev),
        previous: Some(own(name)),
    }),
    Action::LeaveDomain { host, domain } => Some(Action::JoinDomain {
        host: own(host),
        domain: own(domain),
    }),
    Action::SetMailboxHome { previous: None, .. }
    | Action::SetStartup { previous: None, .. }
    | Action::SetPortVlans { previous: None, .. }
    | Action::Rename { previous: None, .. }
    | Action::Repair { .. }
    | Action::Recovery { .. } => None,
}

/// Where a journal record stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// The drill's header: what ran where.
    Drill {
        /// Scenario name.
        scenario: String,
        /// Scenario file.
        scenario_file: String,
        /// Inventory file.
        inventory_file: String,
        /// Lab name.
        lab: String,
    },
    /// About to perform `action`.
    Begin,
    /// It succeeded.
    Ok,
    /// It failed (so it may or may not have changed anything).
    Failed {
        /// The error.
        error: String,
    },
    /// An undo performed by a rollback of record `of`.
    Undone {
        /// Record number undone.
        of: u64,
    },
    /// An undo of record `of` was tried by a rollback and failed.
    UndoFailed {
        /// Record number whose undo failed.
        of: u64,
        /// The error.
        error: String,
    },
    /// The drill finished normally.
    End {
        /// Why it ended.
        reason: String,
    },
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record number: a `begin` and its outcome share it.
    pub n: u64,
    /// Drill time in seconds.
    pub at_s: f64,
    /// Wall-clock time (UTC, RFC 3339), for operators.
    pub utc: String,
    /// What happened.
    #[serde(flatten)]
    pub phase: Phase,
    /// The runbook step this belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The action (on `begin` and `undone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// How to undo it (on `begin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<Action>,
    /// The operations the action stands for on the backend, one line each,
    /// as the plan shows them (on `begin`; journals of the simulator and
    /// journals written before these were kept have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
}

/// Why a journal could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// File system error.
    #[error("journal {}: {source}", path.display())]
    Io {
        /// The journal.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line in the middle of the file is not a record (corruption, not a torn tail).
    #[error("journal {}:{line}: not a journal record: {message}", path.display())]
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Parser message.
        message: String,
    },
}

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    next: u64,
}

impl Journal {
    /// Creates a new journal file (never overwrites one).
    pub fn create(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io)?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            next: 1,
        })
    }

    /// Opens an existing journal to append to it (a rollback records its
    /// undos there). A torn last line is cut off first, so new records never
    /// glue onto it.
    pub fn append_to(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let existing = read(path)?;
        let file = OpenOptions::new().append(true).open(path).map_err(io)?;
        if existing.torn_tail {
            let bytes = std::fs::read(path).map_err(io)?;
            let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            file.set_len(keep as u64).map_err(io)?;
        }

        Ok(Journal {
            path: path.to_path_buf(),
            file,
            next: existing.records.iter().map(|r| r.n).max().unwrap_or(0) + 1,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh record number.
    pub fn next_number(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }

    /// Appends a record and flushes it to disk before returning.
    pub fn write(&mut self, r: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_string(r).expect("journal records serialise");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|source| JournalError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// A journal as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Contents {
    /// Complete records, in file order.
    pub records: Vec<Record>,
    /// Whether the last line was torn (the writer died mid-line).
    pub torn_tail: bool,
}

/// The state of one action after a drill (for listing and rollback).
#[derive(Debug, Clone, PartialEq)]
pub struct Performed {
    /// Record number.
    pub n: u64,
    /// Step it belonged to.
    pub step: Option<String>,
    /// The action.
    pub action: Action,
    /// Its undo.
    pub undo: Option<Action>,
    /// `Some(true)` done, `Some(false)` failed, `None` unknown (no outcome recorded).
    pub succeeded: Option<bool>,
    /// Whether a rollback already undid it.
    pub undone: bool,
}

impl Contents {
    /// The drill header, if present.
    pub fn header(&self) -> Option<&Phase> {
        self.records
            .iter()
            .map(|r| &r.phase)
            .find(|p| matches!(p, Phase::Drill { .. }))
    }

    /// Whether the drill recorded its normal end.
    pub fn ended(&self) -> bool {
        self.records
            .iter()
            .any(|r| matches!(r.phase, Phase::End { .. }))
    }

    /// Every action begun, with what is known of its outcome.
    pub fn performed(&self) -> Vec<Performed> {
        let mut out: Vec<Performed> = Vec::new();
        for r in &self.records {
            match &r.phase {
                Phase::Begin => {
                    if let Some(a) = &r.action {
                        out.push(Performed {
                            n: r.n,
                            step: r.step.clone(),
                            action: a.clone(),
                            undo: r.undo.clone(),
                            succeeded: None,
                            undone: false,
                        });
                    }
                }
                Phase::Ok | Phase::Failed { .. } => {
                    if let Some(p) = out.iter_mut().find(|p| p.n == r.n) {
                        p.succeeded = Some(matches!(r.phase, Phase::Ok));
                    }
                }
                Phase::Undone { of } => {
                    if let Some(p) = out.iter_mut().find(|p| p.n == *of) {
                        p.undone = true;
                    }
                }
                Phase::Drill { .. } | Phase::End { .. } | Phase::UndoFailed { .. } => {}
            }
        }
        out
    }

    /// Pairs of done actions that cancel out, `(earlier, later)` by record
    /// number: the later is exactly the earlier's undo (a failback gives
    /// back the identity the failover took, the schedule heals the
    /// partition it injected), and neither action, nor the other, appears
    /// anywhere else in the journal, whatever its outcome, so nothing else
    /// touched that state. Rolling both back would first redo the earlier
    /// one, against an estate that has moved on (the source is back at its
    /// address), then undo it again; so neither is undone. Only actions
    /// known to have succeeded cancel.
    pub fn cancelled(&self) -> Vec<(u64, u64)> {
        let all = self.performed();
        let count = |a: &Action| all.iter().filter(|p| &p.action == a).count();
        let mut pairs = Vec::new();
        for (i, a) in all.iter().enumerate() {
            let Some(undo) = &a.undo else { continue };
            if a.succeeded != Some(true) || a.undone || count(&a.action) != 1 || count(undo) != 1 {
                continue;
            }
            if let Some(b) = all[i + 1..].iter().find(|b| &b.action == undo)
                && b.succeeded == Some(true)
                && !b.undone
            {
                pairs.push((a.n, b.n));
            }
        }
        pairs
    }

    /// What a rollback must undo, newest first: actions that succeeded or
    /// whose outcome is unknown, that have an undo, were not undone yet and
    /// were not cancelled by a later action ([`Contents::cancelled`]).
    /// Failed actions are left alone: they are reported by `performed`.
    pub fn rollback_plan(&self) -> Vec<Performed> {
        let cancelled = self.cancelled_set();
        let mut v: Vec<Performed> = self
            .performed()
            .into_iter()
            .filter(|p| p.succeeded != Some(false) && p.undo.is_some() && !p.undone)
            .filter(|p| !cancelled.contains(&p.n))
            .collect();
        v.reverse();
        v
    }
}

impl Contents {
    /// The record numbers of every action in a cancelled pair.
    pub fn cancelled_set(&self) -> std::collections::BTreeSet<u64> {
        self.cancelled()
            .into_iter()
            .flat_map(|(a, b)| [a, b])
            .collect()
    }
}

/// Reads a journal; a torn last line is tolerated and reported.
pub fn read(path: &Path) -> Result<Contents, JournalError> {
    let text = std::fs::read(path).map_err(|source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses journal bytes (`path` is only named in errors). Lines are JSON
/// records; a last line without its newline that does not parse is a torn
/// tail (the writer died mid-line), any other bad line is corruption.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Contents, JournalError> {
    let corrupt = |line: usize, message: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        line,
        message,
    };
    let ends_with_newline = bytes.last().is_none_or(|b| *b == b'\n');
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // `split` yields an empty piece after a final newline: not a line.
    let count = if ends_with_newline {
        lines.len().saturating_sub(1)
    } else {
        lines.len()
    };
    let mut records = Vec::new();
    let mut torn_tail = false;
    for (i, line) in lines.iter().take(count).enumerate() {
        let last = i + 1 == count;
        let Ok(line) = std::str::from_utf8(line) else {
            if last && !ends_with_newline {
                torn_tail = true;
                continue;
            }
            return Err(corrupt(i + 1, "not UTF-8".into()));
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            Err(_) if last && !ends_with_newline => torn_tail = true,
            Err(e) => return Err(corrupt(i + 1, e.to_string())),
        }
    }
    Ok(Contents { records, torn_tail })
}

/// One fuzz input (`cargo fuzz run journal`, and the corpus replay in the
/// tests): any bytes parse to records or an error, and the records' history
/// and rollback plan follow without a panic.
pub fn fuzz_journal(bytes: &[u8]) {
    if let Ok(c) = parse(Path::new("fuzz.jsonl"), bytes) {
        let _ = c.performed();
        let _ = c.rollback_plan();
    }
}

/// The current UTC time as RFC 3339 (seconds), from the system clock.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_from_unix(secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian).
pub fn utc_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u64, phase: Phase, action: Option<Action>) -> Record {
        let undo = action.as_ref().and_then(Action::inverse);
        Record {
            n,
            at_s: n as f64,
            utc: utc_from_unix(0),
            phase,
            step: None,
            action,
            undo,
            commands: Vec::new(),
        }
    }

    fn start(svc: &str) -> Action {
        Action::StartService {
            host: "EXCH2".into(),
            service: svc.into(),
        }
    }

    fn contents(records: &[(u64, Action, bool)]) -> Contents {
        let mut c = Contents {
            records: Vec::new(),
            torn_tail: false,
        };
        for (n, a, ok) in records {
            c.records.push(rec(*n, Phase::Begin, Some(a.clone())));
            let outcome = if *ok {
                Phase::Ok
            } else {
                Phase::Failed { error: "x".into() }
            };
            c.records.push(rec(*n, outcome, None));
        }
        c
    }

    #[test]
    fn an_action_and_its_later_undo_cancel_out_when_nothing_else_touches_it() {
        let stop = |svc: &str| start(svc).inverse().unwrap();
        let c = contents(&[
            (1, start("SA"), true),
            (2, start("IS"), true),
            (3, stop("SA"), true),  // cancels 1: SA is touched nowhere else
            (4, stop("IS"), false), // failed: cancels nothing
        ]);
        assert_eq!(c.cancelled(), vec![(1, 3)]);
        let plan: Vec<u64> = c.rollback_plan().iter().map(|p| p.n).collect();
        assert_eq!(plan, vec![2], "only what is still in effect");
    }

    #[test]
    fn a_state_touched_again_is_rolled_back_in_full() {
        // stop, start, start again (a no-op): cancelling the first two would
        // leave the third's undo stopping a service that ran before the drill
        let stop = |svc: &str| start(svc).inverse().unwrap();
        let c = contents(&[
            (1, stop("SA"), true),
            (2, start("SA"), true),
            (3, start("SA"), true),
        ]);
        assert_eq!(c.cancelled(), vec![]);
        let plan: Vec<u64> = c.rollback_plan().iter().map(|p| p.n).collect();
        assert_eq!(plan, vec![3, 2, 1]);
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(utc_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_from_unix(1_795_312_496), "2026-11-22T01:54:56Z");
    }

    #[test]
    fn inverses_round_trip() {
        let a = Action::SetMailboxHome {
            dc: "DC1".into(),
            mailbox: "alice".into(),
            server: "EXCH2".into(),
            group: "SG1".into(),
            store: "MB".into(),
            previous: Some(["EXCH1".into(), "SG1".into(), "MB".into()]),
        };
        assert_eq!(a.inverse().unwrap().inverse().unwrap(), a);
        assert!(Action::Reboot { host: "x".into() }.inverse().is_none());
        let crash = Action::Fault {
            fault: "crash-host".into(),
            target: "EXCH1".into(),
            link: None,
        };
        assert_eq!(
            crash.inverse(),
            Some(Action::Repair {
                fault: "power-on".into(),
                target: "EXCH1".into()
            })
        );
        // a hung service is undone by its restart, which the journal
        // replays as the fault of that name
        let hang = Action::Fault {
            fault: "hang-service".into(),
            target: "EXCH1:MSExchangeIS".into(),
            link: None,
        };
        let undo = hang.inverse().unwrap();
        assert_eq!(
            undo,
            Action::Repair {
                fault: "restart-service".into(),
                target: "EXCH1:MSExchangeIS".into()
            }
        );
        let Action::Repair { fault, target } = &undo else {
            unreachable!()
        };
        assert!(matches!(
            crate::recorded::parse_fault(fault, target),
            Ok(drlab_drivers::types::Fault::RestartService { .. })
        ));
    }

    #[test]
    fn rollback_undoes_done_and_unknown_newest_first_and_skips_failed() {
        let d = std::env::temp_dir().join(format!("drlab-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let p = d.join("j.jsonl");
        let mut j = Journal::create(&p).unwrap();
        j.write(&rec(1, Phase::Begin, Some(start("SA")))).unwrap();
        j.write(&rec(1, Phase::Ok, None)).unwrap();
        j.write(&rec(2, Phase::Begin, Some(start("IS")))).unwrap();
        j.write(&rec(2, Phase::Failed { error: "x".into() }, None))
            .unwrap();
        j.write(&rec(3, Phase::Begin, Some(start("MTA")))).unwrap();
        // The process dies while writing record 3's outcome.
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"n\":3,\"at_s\":3")
            .unwrap();
        let c = read(&p).unwrap();
        assert!(c.torn_tail);
        let plan: Vec<u64> = c.rollback_plan().iter().map(|x| x.n).collect();
        assert_eq!(plan, [3, 1], "unknown outcome first, failed skipped");
        assert_eq!(c.performed()[2].succeeded, None);
        // A rollback appends its undo of 3 after cutting the torn line.
        let mut j = Journal::append_to(&p).unwrap();
        let n = j.next_number();
        assert_eq!(n, 4);
        j.write(&rec(n, Phase::Undone { of: 3 }, Some(start("MTA"))))
            .unwrap();
        let c = read(&p).unwrap();
        assert!(!c.torn_tail);
        let plan: Vec<u64> = c.rollback_plan().iter().map(|x| x.n).collect();
        assert_eq!(plan, [1]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn old_journals_without_commands_or_link_parameters_still_read() {
        // a begin record as journals had it before commands were kept
        let line = br#"{"n":2,"at_s":20.0,"utc":"2026-01-01T00:00:00Z","phase":"begin","action":{"kind":"fault","fault":"crash-host","target":"EXCH1"},"undo":{"kind":"repair","fault":"power-on","target":"EXCH1"}}
"#;
        let c = parse(Path::new("old.jsonl"), line).unwrap();
        assert_eq!(c.records.len(), 1);
        assert!(c.records[0].commands.is_empty());
        assert_eq!(
            c.records[0].action,
            Some(Action::Fault {
                fault: "crash-host".into(),
                target: "EXCH1".into(),
                link: None
            })
        );
        // and what is written now reads back whole
        let mut r = c.records[0].clone();
        r.commands = vec!["docker kill --signal KILL drlab-ci-exch1 (EXCH1)".into()];
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"commands\":["), "{text}");
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }

    #[test]
    fn the_corpus_journal_re_serialises_byte_for_byte() {
        // Typed fields (startup types, mirror modes, record types) keep the
        // journal's old spelling: every line written before reads back and
        // writes out identically.
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/journal/lan-failover-sim.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        let c = parse(&path, text.as_bytes()).unwrap();
        assert!(!c.torn_tail);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), c.records.len());
        for (line, r) in lines.iter().zip(&c.records) {
            assert_eq!(&serde_json::to_string(r).unwrap(), line);
        }
        // and the typed fields spell what the journal always spelt
        for (a, json) in [
            (
                Action::SetStartup {
                    host: "H".into(),
                    service: "S".into(),
                    startup: StartupType::Automatic,
                    previous: Some(StartupType::Disabled),
                },
                r#"{"kind":"set-startup","host":"H","service":"S","startup":"automatic","previous":"disabled"}"#,
            ),
            (
                Action::ConnectReplication {
                    source: "A".into(),
                    target: "B".into(),
                    mirror: MirrorMode::Difference,
                },
                r#"{"kind":"connect-replication","source":"A","target":"B","mirror":"difference"}"#,
            ),
            (
                Action::DnsAdd {
                    server: "DC1".into(),
                    name: "mail.x".into(),
                    rtype: RecordType::CNAME,
                    data: "exch2.x".into(),
                    ttl_s: 60,
                },
                r#"{"kind":"dns-add","server":"DC1","name":"mail.x","rtype":"CNAME","data":"exch2.x","ttl_s":60}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&a).unwrap(), json);
            assert_eq!(serde_json::from_str::<Action>(json).unwrap(), a);
        }
    }

    #[test]
    fn corruption_in_the_middle_is_an_error() {
        let d = std::env::temp_dir().join(format!("drlab-journal-c-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("j.jsonl");
        std::fs::write(&p, "garbage\n{}\n").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("j.jsonl:1"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
