//! Where a drill's events go. A [`crate::Recorder`] hands every event, in
//! time order, to one [`EventSink`]: a `Vec<Event>` keeps them all (tests,
//! `events.jsonl`, the HTML page, explore's invariant checker); a fold
//! (the report's, with a [`TraceDigest`]) or [`Discard`] keeps none, so a
//! run's memory does not grow with its events.

use xxhash_rust::xxh3::Xxh3;

use crate::event::Event;

/// Takes a drill's events one at a time, in the order recorded.
pub trait EventSink {
    /// Takes one event.
    fn accept(&mut self, e: Event);
}

/// Keeps every event.
impl EventSink for Vec<Event> {
    fn accept(&mut self, e: Event) {
        self.push(e);
    }
}

/// Keeps nothing (the recorder still counts what passes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl EventSink for Discard {
    fn accept(&mut self, _: Event) {}
}

/// The trace hash and event count of a stream, computed as it passes:
/// xxh3-64 fed with each event's canonical encoding in turn, which is the
/// hash of their concatenation, so [`crate::event::trace_hash`] of the same
/// events is the same. Retains one event's encoding at a time.
#[derive(Clone)]
pub struct TraceDigest {
    hasher: Xxh3,
    buf: Vec<u8>,
    events: usize,
}

impl std::fmt::Debug for TraceDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceDigest")
            .field("events", &self.events)
            .field("hash", &self.hash())
            .finish()
    }
}

impl Default for TraceDigest {
    fn default() -> TraceDigest {
        TraceDigest::new()
    }
}

impl TraceDigest {
    /// The digest of no events.
    pub fn new() -> TraceDigest {
        TraceDigest {
            hasher: Xxh3::new(),
            buf: Vec::with_capacity(64),
            events: 0,
        }
    }

    /// Takes in one event.
    pub fn observe(&mut self, e: &Event) {
        self.buf.clear();
        e.encode(&mut self.buf);
        self.hasher.update(&self.buf);
        self.events += 1;
    }

    /// Events observed so far.
    pub fn events(&self) -> usize {
        self.events
    }

    /// The trace hash so far, as 16 hex digits.
    pub fn hash(&self) -> String {
        format!("{:016x}", self.hasher.digest())
    }
}

impl EventSink for TraceDigest {
    fn accept(&mut self, e: Event) {
        self.observe(&e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, trace_hash};
    use crate::time::Timestamp;

    #[test]
    fn the_digest_is_the_trace_hash() {
        let events: Vec<Event> = (0..100u64)
            .map(|i| Event {
                at: Timestamp(i * 1000),
                kind: if i % 3 == 0 {
                    EventKind::ProbeOk
                } else {
                    EventKind::WriteAcked {
                        seq: i,
                        bytes: 10 + i as u32,
                    }
                },
            })
            .collect();
        let mut d = TraceDigest::new();
        assert_eq!(d.hash(), trace_hash(&[]));
        for e in &events {
            d.accept(e.clone());
        }
        assert_eq!(d.hash(), trace_hash(&events));
        assert_eq!(d.events(), 100);
    }
}
