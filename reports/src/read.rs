//! Reading a report back from its JSON (`drlab run --format json`,
//! `report.json`), so two runs can be compared after the fact. The input is
//! bounded ([`REPORT_BYTES_MAX`], [`LOST_SEQ_LIMIT`]) and every problem is an
//! error with its line and column, never a panic or a default.

use drlab_drivers::{DrState, SeqSet};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::compute::Report;

/// The largest report file read: a library report is a few KiB; one of a
/// run at the largest event budget, listing every lost write, stays far
/// below it.
pub const REPORT_BYTES_MAX: u64 = 64 << 20;

/// Lost sequence numbers must be below this: a drill writes at most one
/// record per event, and a run has at most `scenario.events_max` events
/// (`drlab_scenarios::bounds::EVENTS_MAX_MAX`, which a test keeps equal), so
/// a report's set of lost writes stays a few MiB.
pub const LOST_SEQ_LIMIT: u64 = 50_000_000;

/// A label a report takes from a fixed list (a step's outcome, a DR
/// state): `&'static str` under a name, which keeps serde from borrowing it
/// from the input (it reads a `String` and finds the label in its list).
pub type Label = &'static str;

/// The outcomes a report gives a step (`compute.rs` writes them).
const STEP_OUTCOMES: [&str; 4] = ["ok", "failed", "skipped", "unfinished"];

/// The outcomes a report gives an archive attempt (`recovery.rs`).
const ARCHIVE_OUTCOMES: [&str; 2] = ["ok", "failed"];

/// Why a text is not a report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Larger than [`REPORT_BYTES_MAX`]; nothing was parsed.
    #[error("{bytes} bytes is more than a report's limit of {REPORT_BYTES_MAX} bytes")]
    TooLarge {
        /// Its size.
        bytes: u64,
    },
    /// Not JSON at all (or cut short).
    #[error("{line}:{column}: not JSON: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser says.
        message: String,
    },
    /// JSON, but not a drlab report (a missing field, a wrong type, an
    /// unknown step outcome or state, a lost write out of range).
    #[error("{line}:{column}: not a drlab report: {message}")]
    NotAReport {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl Report {
    /// Reads a report from its JSON serialisation: the inverse of
    /// `serde_json::to_string_pretty(&report)`, which it reproduces byte for
    /// byte.
    pub fn from_json(text: &str) -> Result<Report, ReadError> {
        let bytes = text.len() as u64;
        if bytes > REPORT_BYTES_MAX {
            return Err(ReadError::TooLarge { bytes });
        }
        serde_json::from_str(text).map_err(|e| located(&e))
    }
}

/// serde_json's error as a [`ReadError`], its location taken out of the
/// message (the caller puts it after the file name).
fn located(e: &serde_json::Error) -> ReadError {
    let (line, column) = (e.line(), e.column());
    let text = e.to_string();
    let message = text
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&text)
        .to_string();
    match e.classify() {
        serde_json::error::Category::Data => ReadError::NotAReport {
            line,
            column,
            message,
        },
        _ => ReadError::Syntax {
            line,
            column,
            message,
        },
    }
}

/// The static string of `known` that equals the one read.
fn one_of<'de, D: Deserializer<'de>>(
    d: D,
    known: &[&'static str],
    what: &str,
) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    known.iter().copied().find(|k| *k == s).ok_or_else(|| {
        D::Error::custom(format!(
            "unknown {what} {s:?}; expected one of {}",
            known.join(", ")
        ))
    })
}

/// A step's outcome.
pub(crate) fn step_outcome<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    one_of(d, &STEP_OUTCOMES, "step outcome")
}

/// An archive attempt's outcome.
pub(crate) fn archive_outcome<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    one_of(d, &ARCHIVE_OUTCOMES, "archive outcome")
}

/// A DR state's console label.
pub(crate) fn state_label<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let labels = DrState::ALL.map(DrState::label);
    one_of(d, &labels, "DR state")
}

/// Lost writes as inclusive ranges, increasing and below [`LOST_SEQ_LIMIT`].
pub(crate) fn lost_seqs<'de, D: Deserializer<'de>>(d: D) -> Result<SeqSet, D::Error> {
    let ranges = Vec::<(u64, u64)>::deserialize(d)?;
    let mut next = 0;
    for &(a, b) in &ranges {
        if a < next || a > b || b >= LOST_SEQ_LIMIT {
            return Err(D::Error::custom(format!(
                "lost_seqs range [{a}, {b}] is not an increasing range of sequence numbers \
                 below {LOST_SEQ_LIMIT}"
            )));
        }
        next = b + 1;
    }
    Ok(SeqSet::from_ranges(&ranges))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ReadError {
        Report::from_json(text).unwrap_err()
    }

    #[test]
    fn bad_json_is_located() {
        assert_eq!(
            err("{\n  \"scenario\": ,\n}"),
            ReadError::Syntax {
                line: 2,
                column: 15,
                message: "expected value".into()
            }
        );
        assert!(matches!(err(""), ReadError::Syntax { line: 1, .. }));
    }

    #[test]
    fn other_json_is_not_a_report() {
        let e = err("{\"scenario\": \"x\"}");
        assert!(
            matches!(&e, ReadError::NotAReport { message, .. } if message.contains("missing field")),
            "{e}"
        );
        let e = err("[1, 2]");
        assert!(matches!(e, ReadError::NotAReport { .. }), "{e}");
    }

    #[test]
    fn hostile_lost_seqs_are_refused_not_allocated() {
        let d = |s: &str| lost_seqs(&mut serde_json::Deserializer::from_str(s));
        assert_eq!(d("[[0, 2], [5, 5]]").unwrap().len(), 4);
        for bad in ["[[0, 4294967295]]", "[[5, 2]]", "[[3, 5], [4, 6]]"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }
}
