//! The deterministic simulator: an event-driven virtual clock, one seeded
//! RNG, and a world model of the estate built from a scenario. It implements
//! the drlab interface, so runbooks run on it unchanged.
//!
//! Architecture Invariant: no I/O, no wall clock, no OS randomness, no
//! threads, no unordered iteration. Same scenario + same seed gives the same
//! event trace on any machine.

pub mod backend;
pub mod exec;
pub mod rng;
pub mod world;

pub use backend::SimBackend;
pub use exec::{ExecError, VirtualClock, block_on};

use drlab_drivers::{Event, Recorder};
use drlab_scenarios::Scenario;

/// Polls allowed per run: far above any library scenario, low enough that a
/// runaway loop ends in an error instead of a hang.
pub const POLLS_MAX: u64 = 200_000_000;

/// A finished simulated run.
#[derive(Debug)]
pub struct SimRun {
    /// The event trace.
    pub events: Vec<Event>,
    /// How often the virtual clock jumped (a cost measure).
    pub timer_fires: u64,
}

/// Runs a (validated) scenario in the simulator with `seed`.
pub fn run(s: &Scenario, seed: u64) -> Result<SimRun, ExecError> {
    let backend = SimBackend::new(world::World::build(s, seed));
    let rec = Recorder::with_capacity(4096);
    block_on(
        backend.clock(),
        drlab_scenarios::drill::run(&backend, s, seed, &rec),
        POLLS_MAX,
    )?;
    Ok(SimRun {
        events: rec.into_events(),
        timer_fires: backend.clock().timer_fires(),
    })
}
