//! The world's one random number generator (ChaCha8, seeded from the run's
//! seed, on the world's stream of `drlab_scenarios::draws`) and the timing
//! distributions drawn from it. Fixed durations draw nothing, so making one
//! timing fixed leaves every other draw unchanged. The drill's own draws
//! (workload arrivals and sizes, the fault schedule) are on other streams
//! and never come from here, so they are the same on every backend.

use std::time::Duration;

use drlab_scenarios::draws::{Draws, Stream};
use drlab_scenarios::format::Dist;

/// The seeded generator.
#[derive(Debug, Clone)]
pub struct SimRng(Draws);

impl SimRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng(Draws::new(seed, Stream::World))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.unit()
    }

    /// True with probability `p` (draws nothing when `p` is 0).
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.chance(p)
    }

    /// A duration drawn from `d`.
    pub fn sample(&mut self, d: &Dist) -> Duration {
        crate::world::secs_f(self.0.sample(d))
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
