//! What the report's fold keeps of the probes and the acknowledged writes,
//! compactly, so that its memory does not grow with the horizon faster
//! than it must: the probes as runs of equal outcomes (memory grows with
//! the changes of outcome, not with the probes), the acknowledged writes
//! as runs of consecutive sequence numbers with each write's time as a
//! 32-bit step from the previous write's and its size only where it
//! changes (4 bytes a write: which writes are lost is known only at the
//! read-back, at the end, so each acknowledged write's time and size must
//! be kept until then).

use std::collections::BTreeMap;

use drlab_drivers::Timestamp;

/// A run of probes with the same outcome.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ProbeRun {
    /// Whether they succeeded.
    pub ok: bool,
    /// The first probe's time.
    pub first: Timestamp,
    /// The last probe's time.
    pub last: Timestamp,
    /// How many.
    pub count: u64,
}

/// The probes' outcomes in order, as runs (consecutive runs differ).
#[derive(Debug, Default)]
pub(crate) struct Probes {
    runs: Vec<ProbeRun>,
}

impl Probes {
    /// Takes one probe (probes come in time order).
    pub fn push(&mut self, at: Timestamp, ok: bool) {
        match self.runs.last_mut() {
            Some(r) if r.ok == ok => {
                r.last = at;
                r.count += 1;
            }
            _ => self.runs.push(ProbeRun {
                ok,
                first: at,
                last: at,
                count: 1,
            }),
        }
    }

    /// The runs, in order.
    pub fn runs(&self) -> &[ProbeRun] {
        &self.runs
    }

    /// The outcomes from the last probe back.
    pub fn latest_first(&self) -> impl Iterator<Item = bool> + '_ {
        self.runs
            .iter()
            .rev()
            .flat_map(|r| std::iter::repeat_n(r.ok, usize::try_from(r.count).unwrap_or(usize::MAX)))
    }

    /// The failed probes at the end (from the last success on), and the
    /// time of the first of them.
    pub fn trailing_failures(&self) -> (u64, Option<Timestamp>) {
        match self.runs.last() {
            Some(r) if !r.ok => (r.count, Some(r.first)),
            _ => (0, None),
        }
    }
}

/// The first of `needed` consecutive successful probes after the outage
/// began (the first failed probe at or after `t0`); `t0` itself when no
/// probe failed from `t0` on but one was made.
pub(crate) fn restored_at(
    probes: &[ProbeRun],
    t0: Option<Timestamp>,
    needed: u32,
) -> Option<Timestamp> {
    let t0 = t0?;
    // Runs with a probe at or after T0; only the first can straddle it.
    let mut after = probes.iter().filter(|r| r.last >= t0);
    let first = after.next()?;
    if first.ok {
        // No outage seen by users until a failure follows.
        loop {
            match after.next() {
                None => return Some(t0),
                Some(r) if !r.ok => break,
                Some(_) => {}
            }
        }
    }
    // After the first failure: runs alternate, so a successful run is a
    // whole streak of successes, and each began after a failure.
    after
        .find(|r| r.ok && r.count >= u64::from(needed.max(1)))
        .map(|r| r.first)
}

/// Consecutive acknowledged writes: `first_seq`, `first_seq + 1`, ….
#[derive(Debug)]
struct AckRun {
    first_seq: u64,
    first_at: Timestamp,
    last_at: Timestamp,
    /// Each later write's time after the previous one's, in microseconds.
    steps: Vec<u32>,
    /// (index of the first write of this size in the run, size), in order.
    sizes: Vec<(u64, u32)>,
}

impl AckRun {
    fn len(&self) -> u64 {
        self.steps.len() as u64 + 1
    }
}

/// The acknowledged writes: sequence number, acknowledgement time and size
/// of each, as a map from sequence number (a write acknowledged twice
/// keeps its last acknowledgement), stored as runs.
#[derive(Debug, Default)]
pub(crate) struct Acked {
    runs: Vec<AckRun>,
    /// Whether every run starts after the previous one ends (the runs are
    /// the map in order); false only for a trace that acknowledges a
    /// sequence number again or out of order.
    ordered: bool,
}

impl Acked {
    /// Takes one acknowledged write (in time order).
    pub fn insert(&mut self, seq: u64, at: Timestamp, bytes: u32) {
        if let Some(r) = self.runs.last_mut() {
            let step = at
                .as_micros()
                .checked_sub(r.last_at.as_micros())
                .and_then(|d| u32::try_from(d).ok());
            if let (Some(step), Some(true)) =
                (step, r.first_seq.checked_add(r.len()).map(|n| n == seq))
            {
                let i = r.len();
                r.steps.push(step);
                r.last_at = at;
                if r.sizes.last().is_none_or(|s| s.1 != bytes) {
                    r.sizes.push((i, bytes));
                }
                return;
            }
            if seq <= r.first_seq + (r.len() - 1) {
                self.ordered = false;
            }
        } else {
            self.ordered = true;
        }
        self.runs.push(AckRun {
            first_seq: seq,
            first_at: at,
            last_at: at,
            steps: Vec::new(),
            sizes: vec![(0, bytes)],
        });
    }

    /// Runs kept (a new one at each gap in the sequence numbers).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Every write as (sequence number, time, size), in sequence order.
    pub fn for_each(&self, mut f: impl FnMut(u64, Timestamp, u32)) {
        if self.ordered {
            self.each_as_recorded(f);
        } else {
            let mut map = BTreeMap::new();
            self.each_as_recorded(|s, t, b| {
                map.insert(s, (t, b));
            });
            for (s, (t, b)) in map {
                f(s, t, b);
            }
        }
    }

    fn each_as_recorded(&self, mut f: impl FnMut(u64, Timestamp, u32)) {
        for r in &self.runs {
            let mut at = r.first_at.as_micros();
            let mut sizes = r.sizes.iter().peekable();
            let mut bytes = r.sizes[0].1;
            for i in 0..r.len() {
                if i > 0 {
                    at += u64::from(r.steps[(i - 1) as usize]);
                }
                if let Some(&&(from, b)) = sizes.peek()
                    && from == i
                {
                    bytes = b;
                    sizes.next();
                }
                f(r.first_seq + i, Timestamp(at), bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> Timestamp {
        Timestamp::from_secs_f64(s)
    }

    /// The definition over every probe, as the report computed it before
    /// the probes were kept as runs.
    fn restored_naive(
        probes: &[(Timestamp, bool)],
        t0: Option<Timestamp>,
        needed: u32,
    ) -> Option<Timestamp> {
        let t0 = t0?;
        let after: Vec<&(Timestamp, bool)> = probes.iter().filter(|(t, _)| *t >= t0).collect();
        let Some(f) = after.iter().position(|(_, ok)| !ok) else {
            return after.first().map(|_| t0);
        };
        let (mut run, mut start) = (0, None);
        for (t, ok) in &after[f..] {
            if *ok {
                if run == 0 {
                    start = Some(*t);
                }
                run += 1;
                if run >= needed.max(1) {
                    return start;
                }
            } else {
                run = 0;
            }
        }
        None
    }

    fn runs_of(p: &[(Timestamp, bool)]) -> Probes {
        let mut probes = Probes::default();
        for (at, ok) in p {
            probes.push(*at, *ok);
        }
        probes
    }

    #[test]
    fn restored_needs_n_consecutive_successes_after_the_outage() {
        let p = vec![
            (t(1.0), true),
            (t(2.0), false),
            (t(3.0), true),
            (t(4.0), false),
            (t(5.0), true),
            (t(6.0), true),
            (t(7.0), true),
        ];
        let r = runs_of(&p);
        assert_eq!(restored_at(r.runs(), Some(t(1.5)), 3), Some(t(5.0)));
        assert_eq!(restored_at(r.runs(), Some(t(1.5)), 4), None);
        assert_eq!(restored_at(r.runs(), Some(t(1.5)), 1), Some(t(3.0)));
        // No failure after T0: no outage, restored at T0.
        assert_eq!(restored_at(r.runs(), Some(t(4.5)), 3), Some(t(4.5)));
        assert_eq!(restored_at(r.runs(), None, 3), None);
    }

    /// Runs give what every probe gave, for every outcome pattern of up to
    /// 9 probes (some at the same time), every T0 among them and every N.
    #[test]
    fn runs_restore_as_the_probes_did() {
        for bits in 0u32..(1 << 9) {
            for len in 0..=9usize {
                // times 0, 0, 1, 1, 2, … : two probes a time
                let p: Vec<(Timestamp, bool)> = (0..len)
                    .map(|i| (Timestamp(i as u64 / 2), bits & (1 << i) != 0))
                    .collect();
                let r = runs_of(&p);
                for t0 in [None, Some(0), Some(1), Some(2), Some(4), Some(9)] {
                    let t0 = t0.map(Timestamp);
                    for needed in 0..4 {
                        assert_eq!(
                            restored_at(r.runs(), t0, needed),
                            restored_naive(&p, t0, needed),
                            "{p:?} t0 {t0:?} needed {needed}"
                        );
                    }
                }
                let latest: Vec<bool> = p.iter().rev().map(|x| x.1).collect();
                assert_eq!(r.latest_first().collect::<Vec<_>>(), latest);
                let trailing = latest.iter().take_while(|ok| !**ok).count();
                let from = (trailing > 0).then(|| p[p.len() - trailing].0);
                assert_eq!(r.trailing_failures(), (trailing as u64, from));
            }
        }
    }

    /// The runs are the map the report kept before: in sequence order, the
    /// last acknowledgement of a sequence number winning, whatever the
    /// gaps, steps and sizes.
    #[test]
    fn acked_runs_are_the_map() {
        let writes: Vec<(u64, u64, u32)> = vec![
            (0, 10, 100),
            (1, 20, 100),
            (2, 25, 200),
            (3, 25, 200),
            (5, 30, 200),
            (6, 30 + (1 << 33), 200),
            (7, 30 + (1 << 33) + 1, 100),
            (7, 30 + (1 << 33) + 2, 300),
            (4, 30 + (1 << 33) + 3, 400),
            (8, 30 + (1 << 33) + 4, 400),
        ];
        for n in 0..=writes.len() {
            let mut acked = Acked::default();
            let mut map = BTreeMap::new();
            for &(s, at, b) in &writes[..n] {
                acked.insert(s, Timestamp(at), b);
                map.insert(s, (Timestamp(at), b));
            }
            let mut got = Vec::new();
            acked.for_each(|s, at, b| got.push((s, (at, b))));
            assert_eq!(got, map.into_iter().collect::<Vec<_>>(), "first {n} writes");
        }
        let mut steady = Acked::default();
        for s in 0..1000u64 {
            steady.insert(s, Timestamp(s * 1_000_000 + s % 7), 32768);
        }
        assert_eq!(steady.runs(), 1, "consecutive writes make one run");
        assert_eq!(steady.runs[0].sizes.len(), 1, "one size");
        // the largest number acknowledged twice (a foreign events file):
        // one write, no overflow
        let mut top = Acked::default();
        top.insert(u64::MAX, Timestamp(1), 10);
        top.insert(u64::MAX, Timestamp(2), 20);
        let mut got = Vec::new();
        top.for_each(|s, at, b| got.push((s, at, b)));
        assert_eq!(got, [(u64::MAX, Timestamp(2), 20)]);
    }
}
