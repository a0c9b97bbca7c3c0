//! The world's one random number generator (ChaCha8, seeded from the run's
//! seed) and the timing distributions drawn from it. Fixed durations draw
//! nothing, so making one timing fixed leaves every other draw unchanged.

use std::time::Duration;

use drlab_scenarios::format::Dist;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// The seeded generator.
#[derive(Debug, Clone)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (draws nothing when `p` is 0).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A duration drawn from `d`.
    pub fn sample(&mut self, d: &Dist) -> Duration {
        let secs = match *d {
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
        };
        crate::world::secs_f(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        let mut c = SimRng::new(8);
        let xs: Vec<f64> = (0..5).map(|_| a.unit()).collect();
        let ys: Vec<f64> = (0..5).map(|_| b.unit()).collect();
        let zs: Vec<f64> = (0..5).map(|_| c.unit()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn distributions_stay_in_bounds() {
        let mut r = SimRng::new(1);
        for _ in 0..1000 {
            let u = r
                .sample(&Dist::Uniform {
                    uniform: [2.0, 3.0],
                })
                .as_secs_f64();
            assert!((2.0..3.0).contains(&u), "{u}");
            let n = r
                .sample(&Dist::Normal {
                    normal: [1.0, 5.0],
                    min: 0.5,
                })
                .as_secs_f64();
            assert!(n >= 0.5);
        }
        let mean: f64 = (0..20000)
            .map(|_| {
                r.sample(&Dist::Exponential { exponential: 2.0 })
                    .as_secs_f64()
            })
            .sum::<f64>()
            / 20000.0;
        assert!((mean - 2.0).abs() < 0.1, "{mean}");
        assert_eq!(r.sample(&Dist::Fixed(4.0)), Duration::from_secs(4));
    }
}
