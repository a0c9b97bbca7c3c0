//! Seed ranges of many-run commands (`sweep`, `bench`): exactly the number
//! of seeds asked for, consecutive from the first, never wrapping past
//! `u64::MAX`, split into disjoint contiguous chunks for parallel jobs.

use anyhow::{Result, ensure};

/// `count` consecutive seeds starting at `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// The first seed.
    pub first: u64,
    /// How many.
    pub count: u64,
}

impl Seeds {
    /// The seeds `first, first + 1, ...`, `count` of them; refused when the
    /// last would pass `u64::MAX` (seeds never wrap) or `count` is 0.
    pub fn new(first: u64, count: u64) -> Result<Seeds> {
        ensure!(count > 0, "at least one seed is needed");
        ensure!(
            first.checked_add(count - 1).is_some(),
            "{count} seeds from {first} would pass the largest seed {}: \
             start at {} at most",
            u64::MAX,
            u64::MAX - (count - 1)
        );
        Ok(Seeds { first, count })
    }

    /// The seeds in order.
    pub fn iter(self) -> impl Iterator<Item = u64> {
        (0..self.count).map(move |i| self.first + i)
    }

    /// At most `jobs` non-empty, disjoint, contiguous chunks in seed order
    /// that together hold exactly these seeds.
    pub fn split(self, jobs: u64) -> Vec<Seeds> {
        assert!(jobs > 0, "split into no jobs");
        let per = self.count.div_ceil(jobs);
        let mut out = Vec::new();
        let mut done = 0;
        while done < self.count {
            let n = per.min(self.count - done);
            out.push(Seeds {
                first: self.first + done,
                count: n,
            });
            done += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_seeds_are_usable_and_never_wrap() {
        let s = Seeds::new(u64::MAX - 2, 3).unwrap();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [u64::MAX - 2, u64::MAX - 1, u64::MAX]
        );
        let e = Seeds::new(u64::MAX - 1, 3).unwrap_err().to_string();
        assert!(e.contains("start at 18446744073709551613 at most"), "{e}");
        assert!(Seeds::new(5, 0).is_err());
    }

    #[test]
    fn chunks_hold_exactly_the_seeds_in_order() {
        for (count, jobs) in [(1, 2), (3, 2), (10, 3), (7, 7), (2, 64)] {
            let s = Seeds::new(u64::MAX - (count - 1), count).unwrap();
            let chunks = s.split(jobs);
            assert!(chunks.len() as u64 <= jobs);
            assert!(chunks.iter().all(|c| c.count > 0));
            let all: Vec<u64> = chunks.iter().flat_map(|c| c.iter()).collect();
            assert_eq!(
                all,
                s.iter().collect::<Vec<_>>(),
                "{count} seeds, {jobs} jobs"
            );
        }
    }
}
