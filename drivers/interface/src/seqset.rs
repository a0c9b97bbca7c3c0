//! A set of workload sequence numbers: a growable bitset, because writes are
//! dense and numbered from 0, so membership and union are word operations.
//! Numbers are below [`SEQ_MAX`] (a bitset of them is at most 512 MiB), and
//! the last word is never zero, so equal sets compare equal.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The bound on sequence numbers: a drill writes at most
/// `scenario.events_max` (≤ 5·10^7) records, far below it. A number read
/// from a real server at or above it is not drlab's (readers ignore it).
pub const SEQ_MAX: u64 = 1 << 32;

/// A set of sequence numbers.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct SeqSet {
    words: Vec<u64>,
    len: u64,
}

impl std::fmt::Debug for SeqSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ranges()).finish()
    }
}

impl SeqSet {
    /// The empty set.
    pub fn new() -> SeqSet {
        SeqSet::default()
    }

    /// Inserts `seq` (below [`SEQ_MAX`]); returns whether it was new.
    pub fn insert(&mut self, seq: u64) -> bool {
        assert!(seq < SEQ_MAX, "sequence number {seq} is not below SEQ_MAX");
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        self.len += u64::from(fresh);
        fresh
    }

    /// Removes `seq`; returns whether it was present.
    pub fn remove(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        let present = self.words.get(w).is_some_and(|x| x & bit != 0);
        if present {
            self.words[w] &= !bit;
            self.len -= 1;
            while self.words.last() == Some(&0) {
                self.words.pop();
            }
        }
        present
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        self.words
            .get((seq / 64) as usize)
            .is_some_and(|x| x & (1u64 << (seq % 64)) != 0)
    }

    /// Number of members.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &SeqSet) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= *b;
        }
        self.len = self.words.iter().map(|w| u64::from(w.count_ones())).sum();
    }

    /// Members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut bits = w;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let tz = bits.trailing_zeros();
                bits &= bits - 1;
                Some(i as u64 * 64 + u64::from(tz))
            })
        })
    }

    /// Members as inclusive ranges `[first, last]`, in increasing order.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for s in self.iter() {
            match out.last_mut() {
                Some((_, last)) if *last + 1 == s => *last = s,
                _ => out.push((s, s)),
            }
        }
        out
    }

    /// The set of the given inclusive ranges (each `first <= last <
    /// SEQ_MAX`), filled a word at a time.
    pub fn from_ranges(ranges: &[(u64, u64)]) -> SeqSet {
        let mut s = SeqSet::new();
        for &(a, b) in ranges {
            assert!(
                a <= b && b < SEQ_MAX,
                "range [{a}, {b}] is not within SEQ_MAX"
            );
            let (wa, wb) = ((a / 64) as usize, (b / 64) as usize);
            if wb >= s.words.len() {
                s.words.resize(wb + 1, 0);
            }
            for w in wa..=wb {
                let lo = if w == wa { a % 64 } else { 0 };
                let hi = if w == wb { b % 64 } else { 63 };
                // bits lo..=hi
                let mask = (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
                s.words[w] |= mask;
            }
        }
        s.len = s.words.iter().map(|w| u64::from(w.count_ones())).sum();
        s
    }
}

impl FromIterator<u64> for SeqSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> SeqSet {
        let mut s = SeqSet::new();
        for x in iter {
            s.insert(x);
        }
        s
    }
}

impl Serialize for SeqSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ranges().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SeqSet {
    /// Reads what [`Serialize`] wrote: `[first, last]` ranges in
    /// increasing order, apart, every number below [`SEQ_MAX`]. (A reader
    /// of untrusted input bounds the numbers further before it gets here:
    /// a set costs a bit per number up to its largest.)
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SeqSet, D::Error> {
        let ranges = Vec::<(u64, u64)>::deserialize(d)?;
        // each range starts past the gap after the one before
        let mut next_first = 0u64;
        for &(first, last) in &ranges {
            if first > last || last >= SEQ_MAX || first < next_first {
                return Err(serde::de::Error::custom(format!(
                    "sequence range [{first}, {last}] is reversed, out of order or not below {SEQ_MAX}"
                )));
            }
            next_first = last + 2;
        }
        Ok(SeqSet::from_ranges(&ranges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_ranges_fills_whole_words_and_equals_inserting() {
        let ranges = [
            (0, 0),
            (3, 63),
            (64, 64),
            (70, 200),
            (255, 256),
            (1000, 1000),
        ];
        let mut one_by_one = SeqSet::new();
        for &(a, b) in &ranges {
            for x in a..=b {
                one_by_one.insert(x);
            }
        }
        let filled = SeqSet::from_ranges(&ranges);
        assert_eq!(filled, one_by_one);
        assert_eq!(filled.len(), one_by_one.len());
        assert_eq!(
            filled.ranges(),
            vec![(0, 0), (3, 64), (70, 200), (255, 256), (1000, 1000)]
        );
        assert_eq!(SeqSet::from_ranges(&[]), SeqSet::new());
    }

    #[test]
    fn insert_remove_and_ranges() {
        let mut s = SeqSet::new();
        for x in [0, 1, 2, 5, 63, 64, 65, 200] {
            assert!(s.insert(x));
        }
        assert!(!s.insert(2));
        assert_eq!(s.len(), 8);
        assert_eq!(s.ranges(), vec![(0, 2), (5, 5), (63, 65), (200, 200)]);
        assert!(s.remove(64));
        assert!(!s.remove(64));
        assert!(!s.contains(64));
        assert_eq!(
            s.ranges(),
            vec![(0, 2), (5, 5), (63, 63), (65, 65), (200, 200)]
        );
        assert_eq!(SeqSet::from_ranges(&s.ranges()), s);
    }

    #[test]
    fn union_counts_members() {
        let mut a: SeqSet = [1, 2, 3].into_iter().collect();
        let b: SeqSet = [3, 4, 500].into_iter().collect();
        a.union_with(&b);
        assert_eq!(a.len(), 5);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![1, 2, 3, 4, 500]);
    }
}
