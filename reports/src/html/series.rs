//! What the HTML report draws over time, taken from the drill's events and
//! bounded whatever their number: the workload's writes and the probes
//! counted in at most [`BUCKETS_MAX`] time buckets, and at most
//! [`WINDOWS_MAX`] fault windows paired from the report's faults.

use std::collections::BTreeMap;

use drlab_drivers::{Event, EventKind};

use crate::compute::{FaultLine, Report, is_repair};
use crate::html::scale::{TimeScale, nice_step};

/// The most fault windows paired and shaded (a fault schedule is short;
/// this bounds a hostile one).
pub const WINDOWS_MAX: usize = 200;

/// The most time buckets a chart counts writes and probes in: the page's
/// size is bounded by this, not by the number of events.
pub const BUCKETS_MAX: u32 = 240;

/// What one bucket counts, in this order.
pub const SERIES: [&str; 5] = [
    "writes acknowledged",
    "writes failed",
    "writes lost",
    "probes ok",
    "probes failed",
];

/// Writes and probes per time bucket.
#[derive(Debug)]
pub struct Buckets {
    /// Where the first bucket begins, in drill seconds.
    pub from_s: f64,
    /// The width of one bucket in seconds (1, 2 or 5 × 10ⁿ).
    pub width_s: f64,
    /// Counts per bucket, one column per [`SERIES`] entry.
    pub counts: Vec<[u64; 5]>,
    /// Counts before `from_s` (a chart that shows only the incident).
    pub before: [u64; 5],
}

impl Buckets {
    /// Counts the events of `events` into at most [`BUCKETS_MAX`] buckets
    /// covering `scale`; an event at or after the last bucket's end (the
    /// scale's last second) counts in the last bucket. Lost writes are the
    /// acknowledged ones whose sequence number the report found missing.
    pub fn of(events: &[Event], report: &Report, scale: &TimeScale) -> Buckets {
        // `nice_step` makes `width_s` at least span / BUCKETS_MAX, so
        // `span / width_s` buckets cover the scale; the clamp only guards
        // against rounding.
        let width_s = nice_step(scale.span(), BUCKETS_MAX).max(0.001);
        let n = (scale.span() / width_s).ceil();
        let n = if n.is_finite() { n as usize } else { 1 };
        let n = n.clamp(1, BUCKETS_MAX as usize);
        let mut b = Buckets {
            from_s: scale.t_min,
            width_s,
            counts: vec![[0u64; 5]; n],
            before: [0; 5],
        };
        for e in events {
            let Some(series) = series_of(&e.kind, report) else {
                continue;
            };
            let t = e.at.secs_ms() - b.from_s;
            let slot = if t < 0.0 {
                &mut b.before
            } else {
                &mut b.counts[((t / width_s).floor() as usize).min(n - 1)]
            };
            for &s in series {
                slot[s] = slot[s].saturating_add(1);
            }
        }
        b
    }

    /// Where bucket `i` begins, in drill seconds.
    pub fn start(&self, i: usize) -> f64 {
        self.from_s + i as f64 * self.width_s
    }

    /// The largest count of any bucket among `series`, at least 1.
    pub fn peak(&self, series: &[usize]) -> u64 {
        self.counts
            .iter()
            .flat_map(|c| series.iter().map(move |&s| c[s]))
            .max()
            .unwrap_or(0)
            .max(1)
    }
}

/// Which series an event counts in (a lost write is also acknowledged).
fn series_of(kind: &EventKind, report: &Report) -> Option<&'static [usize]> {
    match kind {
        EventKind::WriteAcked { seq, .. } if report.lost_seqs.contains(*seq) => Some(&[0, 2]),
        EventKind::WriteAcked { .. } => Some(&[0]),
        EventKind::WriteFailed { .. } => Some(&[1]),
        EventKind::ProbeOk => Some(&[3]),
        EventKind::ProbeFailed { .. } => Some(&[4]),
        _ => None,
    }
}

/// A fault in effect from `from_s` until `to_s`.
#[derive(Debug)]
pub struct FaultWindow<'a> {
    /// The fault as the report lists it.
    pub fault: &'a FaultLine,
    /// When it took effect.
    pub from_s: f64,
    /// When its repair took effect, or the end of the drill.
    pub to_s: f64,
    /// Whether a repair of the same target ended it.
    pub repaired: bool,
}

/// Each injected fault with the earliest repair of the same target at or
/// after it (a fault without one lasts to `end_s`); repairs and faults that
/// could not be injected open no window. Only the first [`WINDOWS_MAX`]
/// windows are paired (no chart draws more), each by a binary search in
/// its target's repair times: O(n log n) however many faults a scenario
/// schedules.
pub fn fault_windows(faults: &[FaultLine], end_s: f64) -> Vec<FaultWindow<'_>> {
    let mut repairs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in faults.iter().filter(|f| is_repair(&f.fault)) {
        repairs.entry(&r.target).or_default().push(r.at_s);
    }
    for times in repairs.values_mut() {
        times.sort_by(f64::total_cmp);
    }
    faults
        .iter()
        .filter(|f| f.error.is_none() && !is_repair(&f.fault))
        .take(WINDOWS_MAX)
        .map(|f| {
            let repair = repairs.get(f.target.as_str()).and_then(|times| {
                let i = times.partition_point(|&t| t < f.at_s);
                times.get(i).copied()
            });
            FaultWindow {
                fault: f,
                from_s: f.at_s,
                to_s: repair.unwrap_or(end_s).max(f.at_s),
                repaired: repair.is_some(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(at_s: f64, fault: &str, target: &str) -> FaultLine {
        FaultLine {
            at_s,
            fault: fault.into(),
            target: target.into(),
            error: None,
        }
    }

    #[test]
    fn a_repair_of_the_same_target_closes_the_window() {
        let f = [
            fault(10.0, "partition", "A<->B"),
            fault(12.0, "crash-host", "C"),
            fault(30.0, "heal", "A<->B"),
        ];
        let w = fault_windows(&f, 100.0);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].from_s, w[0].to_s, w[0].repaired), (10.0, 30.0, true));
        assert_eq!(
            (w[1].from_s, w[1].to_s, w[1].repaired),
            (12.0, 100.0, false)
        );
    }

    #[test]
    fn the_earliest_later_repair_closes_each_window_of_a_target() {
        let f = [
            fault(10.0, "partition", "A<->B"),
            fault(40.0, "heal", "A<->B"),
            fault(20.0, "heal", "A<->B"),
            fault(50.0, "partition", "A<->B"),
            fault(5.0, "heal", "C"),
        ];
        let w = fault_windows(&f, 100.0);
        let got: Vec<_> = w.iter().map(|w| (w.from_s, w.to_s, w.repaired)).collect();
        assert_eq!(got, [(10.0, 20.0, true), (50.0, 100.0, false)]);
    }

    #[test]
    fn a_huge_fault_schedule_pairs_in_one_pass() {
        // Pairing each fault with each repair would take ~10^10 steps here.
        let n = 100_000;
        let mut f = Vec::with_capacity(2 * n);
        for i in 0..n {
            f.push(fault(i as f64, "partition", &format!("t{i}")));
        }
        for i in (0..n).rev() {
            f.push(fault(i as f64 + 0.5, "heal", &format!("t{i}")));
        }
        let start = std::time::Instant::now();
        let w = fault_windows(&f, 1e6);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(w.len(), WINDOWS_MAX);
        for (i, w) in w.iter().enumerate() {
            assert_eq!(
                (w.from_s, w.to_s, w.repaired),
                (i as f64, i as f64 + 0.5, true)
            );
        }
    }

    #[test]
    fn at_most_buckets_max_buckets_cover_any_span() {
        let r = Report::from_events(&[]);
        // 2400 s and 1.2e6 s are exact multiples of their bucket width
        // (10 s, 5000 s): the span's last second is in the last bucket.
        for span in [0.5, 1.0, 2.4, 240.0, 241.0, 2400.0, 12_345.6, 1.2e6, 1e12] {
            let scale = TimeScale::new(0.0, span);
            let end = Event {
                at: drlab_drivers::Timestamp::from_secs_f64(scale.t_max),
                kind: EventKind::ProbeOk,
            };
            let b = Buckets::of(std::slice::from_ref(&end), &r, &scale);
            let n = b.counts.len();
            assert!(
                (1..=BUCKETS_MAX as usize).contains(&n),
                "{span} s: {n} buckets"
            );
            assert!(
                b.start(n) >= scale.t_max - 1e-6 * scale.t_max,
                "{span} s: not covered"
            );
            assert_eq!(
                b.counts[n - 1][3],
                1,
                "{span} s: the last second is not counted"
            );
        }
    }
}
