//! The drill's own random draws: one small deterministic generator type
//! (ChaCha8 seeded from the run's seed) on separate, fixed streams.
//!
//! The drill runs on the simulator and on the real lab alike, so what it
//! draws itself (when the workload writes and how much, when a fault lands
//! and which one) must not depend on the backend: it never comes from the
//! simulator's RNG. Each concern has its own stream of the same seed
//! ([`Stream`]), so the fault schedule, the write arrivals, the write
//! sizes and an on-off workload's on and off periods are independent:
//! drawing sizes never shifts an arrival time, adding a drawn fault never
//! changes the workload, and another on-rate keeps the same periods. The simulator's world
//! uses the same type on its own stream ([`Stream::World`]). A fixed value
//! draws nothing, so a scenario without distributions draws nothing here.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::format::Dist;

/// The streams of one seed, one per concern; the numbers are part of the
/// replay contract (changing one changes every replay of that concern).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// The simulator's world (timings, losses, start failures).
    World = 0,
    /// The fault schedule: drawn fault times and weighted choices.
    Faults = 1,
    /// The workload's write arrivals.
    Arrivals = 2,
    /// The workload's write sizes.
    Sizes = 3,
    /// `drlab sla`'s Monte Carlo: failure times and the simulated run
    /// each incident takes its outage from.
    Availability = 4,
    /// An on-off workload's periods: whether the drill starts on, and the
    /// duration of each on and off period (its gaps are on `Arrivals`).
    Phases = 5,
}

/// A seeded generator on one stream.
#[derive(Debug, Clone)]
pub struct Draws(ChaCha8Rng);

impl Draws {
    /// The generator of `stream` for `seed`.
    pub fn new(seed: u64, stream: Stream) -> Draws {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream as u64);
        Draws(rng)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (draws nothing when `p` is 0).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A value drawn from `d`, in `d`'s unit; a fixed value draws nothing.
    pub fn sample(&mut self, d: &Dist) -> f64 {
        match *d {
            Dist::Fixed(x) => x,
            Dist::Uniform { uniform: [a, b] } => a + (b - a) * self.unit(),
            Dist::Normal {
                normal: [mean, sd],
                min,
            } => {
                // Box-Muller; 1 - unit() is in (0, 1], so ln is finite.
                let u1 = 1.0 - self.unit();
                let u2 = self.unit();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (mean + sd * z).max(min)
            }
            Dist::Exponential { exponential: mean } => -mean * (1.0 - self.unit()).ln(),
        }
    }

    /// An index drawn in proportion to `weights`; a single choice draws
    /// nothing.
    ///
    /// # Panics
    ///
    /// When `weights` is empty, holds a negative or non-finite weight, or
    /// only weights of 0: there is nothing to draw. A scenario that loads
    /// never asks for that (validation refuses an empty `one_of`, a
    /// negative weight and a set whose weights are all 0), so it is a bug.
    pub fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        assert!(
            weights.iter().all(|w| w.is_finite() && *w >= 0.0) && total > 0.0,
            "Draws::pick needs finite weights >= 0, not all 0: {weights:?}"
        );
        if weights.len() == 1 {
            return 0;
        }
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        // Rounding left `x` at the top: the last choice with weight (there
        // is one, asserted above).
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_of_one_seed_differ_and_replay() {
        let draw = |seed, stream| {
            let mut d = Draws::new(seed, stream);
            (0..4).map(|_| d.unit()).collect::<Vec<f64>>()
        };
        assert_eq!(draw(7, Stream::Faults), draw(7, Stream::Faults));
        assert_ne!(draw(7, Stream::Faults), draw(7, Stream::Arrivals));
        assert_ne!(draw(7, Stream::World), draw(7, Stream::Faults));
        assert_ne!(draw(7, Stream::Arrivals), draw(7, Stream::Phases));
        assert_ne!(draw(7, Stream::Availability), draw(7, Stream::Phases));
        assert_ne!(draw(7, Stream::Faults), draw(8, Stream::Faults));
    }

    #[test]
    fn the_world_stream_is_the_plain_seeded_generator() {
        // The simulator's traces were recorded with `seed_from_u64(seed)`.
        let mut plain = ChaCha8Rng::seed_from_u64(11);
        let mut d = Draws::new(11, Stream::World);
        assert_eq!(d.0.next_u64(), plain.next_u64());
    }

    #[test]
    fn picks_follow_the_weights() {
        let mut d = Draws::new(1, Stream::Faults);
        let mut n = [0u32; 3];
        for _ in 0..40_000 {
            n[d.pick(&[3.0, 1.0, 0.0])] += 1;
        }
        assert_eq!(n[2], 0);
        let share = f64::from(n[0]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
        let mut fixed = Draws::new(1, Stream::Faults);
        assert_eq!(fixed.pick(&[2.0]), 0);
        assert_eq!(fixed.unit(), Draws::new(1, Stream::Faults).unit());
    }

    #[test]
    #[should_panic(expected = "not all 0")]
    fn a_pick_among_zero_weights_is_a_bug_not_a_silent_first_choice() {
        Draws::new(1, Stream::Faults).pick(&[0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "not all 0")]
    fn a_pick_among_no_choices_is_a_bug() {
        Draws::new(1, Stream::Faults).pick(&[]);
    }
}
