//! Reading a run's events back from `events.jsonl` (what `drlab run --out`
//! and the lab drill write: one JSON event per line), so that a run's
//! invariants can be checked after the fact, a lab drill's as a simulated
//! one's (`drlab check`). The input is bounded and every problem is an
//! error at its line and column, never a panic or a default.
//!
//! Bounds: the file is at most [`EVENTS_FILE_BYTES_MAX`], a line at most
//! [`EVENT_LINE_BYTES_MAX`], the events at most
//! `drlab_scenarios::bounds::EVENTS_MAX_MAX` (no run records more), every
//! sequence number below `SEQ_MAX` (a lab read-back may hold foreign
//! numbers up to it) and the sets of sequence
//! numbers together at most [`SEQ_SET_BITS_MAX`] bits (a set costs a bit
//! per number up to its largest, so a short line could otherwise ask for
//! megabytes). Times are read at the file's resolution, the millisecond,
//! and must not decrease (a run records them in order); a file without
//! an event is refused.

use drlab_drivers::Event;

use drlab_drivers::seqset::SEQ_MAX;

/// The largest events file read: a library run writes a few hundred KiB;
/// one at the largest event budget (about 100 bytes an event) may not fit,
/// and is refused whole rather than read in part.
pub const EVENTS_FILE_BYTES_MAX: u64 = 4 << 30;

/// The longest line: an event's sets of sequence numbers are ranges, so a
/// line is long only when a set has many holes.
pub const EVENT_LINE_BYTES_MAX: usize = 64 << 20;

/// The bits all sets of sequence numbers in a file may take together
/// (512 MiB of bitsets).
pub const SEQ_SET_BITS_MAX: u64 = 1 << 32;

/// Why a text is not a run's events.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// The file, a line, the events or their sets of sequence numbers
    /// exceed their bound; nothing more was read.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What exceeded its bound (with where, for a line).
        what: String,
        /// The bound.
        limit: u64,
    },
    /// A line that is not an event (not JSON, an unknown event kind, a
    /// missing field, a number out of range).
    #[error("{line}:{column}: {message}")]
    NotAnEvent {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The `events.jsonl` text of `events`: one JSON event per line, what
/// [`events_from_jsonl`] reads.
pub fn events_to_jsonl(events: &[Event]) -> Result<String, serde_json::Error> {
    let mut text = String::new();
    for e in events {
        text += &serde_json::to_string(e)?;
        text.push('\n');
    }
    Ok(text)
}

/// The events of an `events.jsonl` text, in file order (blank lines are
/// skipped).
pub fn events_from_jsonl(text: &str) -> Result<Vec<Event>, EventsError> {
    read(text, SEQ_SET_BITS_MAX)
}

/// [`events_from_jsonl`] with the sets' budget as a parameter.
fn read(text: &str, set_bits_max: u64) -> Result<Vec<Event>, EventsError> {
    let bytes = text.len() as u64;
    if bytes > EVENTS_FILE_BYTES_MAX {
        return Err(EventsError::TooLarge {
            what: format!("the file's {bytes} bytes"),
            limit: EVENTS_FILE_BYTES_MAX,
        });
    }
    let events_max = drlab_scenarios::bounds::EVENTS_MAX_MAX;
    let mut events = Vec::new();
    let mut set_bits = 0u64;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > EVENT_LINE_BYTES_MAX {
            return Err(EventsError::TooLarge {
                what: format!("line {n} ({} bytes)", line.len()),
                limit: EVENT_LINE_BYTES_MAX as u64,
            });
        }
        if events.len() as u64 >= events_max {
            return Err(EventsError::TooLarge {
                what: format!("the events (line {n})"),
                limit: events_max,
            });
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| at_line(n, &e))?;
        set_bits += seq_set_bits(&value).map_err(|message| EventsError::NotAnEvent {
            line: n,
            column: 1,
            message,
        })?;
        if set_bits > set_bits_max {
            return Err(EventsError::TooLarge {
                what: format!("the sequence-number sets (line {n})"),
                limit: set_bits_max,
            });
        }
        let event: Event = serde_json::from_value(value).map_err(|e| at_line(n, &e))?;
        if let Some(before) = events.last().map(|e: &Event| e.at)
            && event.at < before
        {
            return Err(EventsError::NotAnEvent {
                line: n,
                column: 1,
                message: format!("time {} is before the previous event's {before}", event.at),
            });
        }
        events.push(event);
    }
    if events.is_empty() {
        return Err(EventsError::NotAnEvent {
            line: 1,
            column: 1,
            message: "no event".into(),
        });
    }
    Ok(events)
}

/// serde_json's error on line `n`, its location taken out of the message.
fn at_line(n: usize, e: &serde_json::Error) -> EventsError {
    let text = e.to_string();
    let message = text
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&text)
        .to_string();
    EventsError::NotAnEvent {
        line: n,
        column: e.column().max(1),
        message,
    }
}

/// The bits the event's sets of sequence numbers (`held`, as `[first,
/// last]` ranges) will take, checked below `SEQ_MAX` before
/// anything is built from them.
fn seq_set_bits(event: &serde_json::Value) -> Result<u64, String> {
    let Some(held) = event.get("held").and_then(serde_json::Value::as_array) else {
        return Ok(0);
    };
    let mut largest = None;
    for range in held {
        let last = range
            .as_array()
            .and_then(|r| r.get(1))
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("held: {range} is not a [first, last] range"))?;
        if last >= SEQ_MAX {
            return Err(format!(
                "held: sequence number {last} is not below {SEQ_MAX}"
            ));
        }
        largest = largest.max(Some(last));
    }
    Ok(largest.map_or(0, |l| l + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use drlab_drivers::{EventKind, SeqSet, Timestamp};
    use std::sync::Arc;

    #[test]
    fn events_read_back_as_written() {
        let events = [
            Event {
                at: Timestamp(1_500),
                kind: EventKind::StepStarted {
                    step: Arc::from("net start MSExchangeSA"),
                },
            },
            Event {
                at: Timestamp(2_000_000),
                kind: EventKind::StepFinished {
                    step: Arc::from("net start MSExchangeSA"),
                    outcome: drlab_drivers::event::StepOutcome::Failed {
                        error: Arc::from("refused"),
                    },
                },
            },
            Event {
                at: Timestamp(3_000_000),
                kind: EventKind::ReadBack {
                    host: Arc::from("EXCH2"),
                    held: SeqSet::from_ranges(&[(0, 9), (12, 12)]),
                },
            },
        ];
        let text = events_to_jsonl(&events).unwrap();
        let back = events_from_jsonl(&text).unwrap();
        // times come back at the file's resolution: 1.5 ms -> 2 ms
        assert_eq!(back[0].at, Timestamp(2_000));
        assert_eq!(back[1..], events[1..]);
        let again = events_to_jsonl(&back).unwrap();
        assert_eq!(
            again.lines().skip(1).collect::<Vec<_>>(),
            text.lines().skip(1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn bad_lines_are_located_errors() {
        let ok = r#"{"at":1.0,"event":"probe-ok"}"#;
        let text = format!("{ok}\n\n{{\"at\":2.0,\"event\":\"no-such-event\"}}\n");
        let e = events_from_jsonl(&text).unwrap_err();
        assert!(
            matches!(&e, EventsError::NotAnEvent { line: 3, message, .. } if message.contains("no-such-event")),
            "{e}"
        );
        let e = events_from_jsonl("{\"at\":").unwrap_err();
        assert!(matches!(e, EventsError::NotAnEvent { line: 1, .. }), "{e}");
        let e = events_from_jsonl(r#"{"at":-1.0,"event":"probe-ok"}"#).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        let back = format!("{ok}\n{}", r#"{"at":0.5,"event":"probe-ok"}"#);
        let e = events_from_jsonl(&back).unwrap_err();
        assert!(matches!(e, EventsError::NotAnEvent { line: 2, .. }), "{e}");
        assert!(events_from_jsonl("\n \n").is_err(), "a file without events");
    }

    #[test]
    fn sequence_sets_are_bounded_before_they_are_built() {
        let far =
            format!(r#"{{"at":1.0,"event":"read-back","host":"EXCH2","held":[[0,{SEQ_MAX}]]}}"#);
        let e = events_from_jsonl(&far).unwrap_err();
        assert!(e.to_string().contains("not below"), "{e}");
        let reversed = r#"{"at":1.0,"event":"read-back","host":"EXCH2","held":[[5,2]]}"#;
        assert!(events_from_jsonl(reversed).is_err());
        let overlapping = r#"{"at":1.0,"event":"read-back","host":"EXCH2","held":[[0,5],[5,9]]}"#;
        assert!(events_from_jsonl(overlapping).is_err());
        // sets that pass one by one, not together
        let set = r#"{"at":1.0,"event":"read-back","host":"EXCH2","held":[[0,999]]}"#;
        let text = [set; 3].join("\n");
        assert_eq!(read(&text, 3_000).unwrap().len(), 3);
        let e = read(&text, 2_999).unwrap_err();
        assert!(matches!(e, EventsError::TooLarge { .. }), "{e}");
    }
}
