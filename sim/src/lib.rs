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

use std::cell::RefCell;

use drlab_drivers::{Event, EventSink, Recorder, Timestamp};
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

/// A finished simulated run whose events went to a sink ([`run_into`]).
#[derive(Clone, Copy, Debug)]
pub struct SimStats {
    /// Events recorded (handed to the sink).
    pub events: usize,
    /// Events the recorder itself retained: none, whatever the horizon.
    pub retained: usize,
    /// The drill time of the last event.
    pub ended_at: Timestamp,
    /// How often the virtual clock jumped (a cost measure).
    pub timer_fires: u64,
}

/// Runs a (validated) scenario in the simulator with `seed`, keeping every
/// event. A run that would record more than `scenario.events_max` events
/// stops as soon as it does, with [`ExecError::EventBudget`].
pub fn run(s: &Scenario, seed: u64) -> Result<SimRun, ExecError> {
    Prepared::new(s).run(seed)
}

/// [`run`], handing each event to `sink` as it is recorded and keeping
/// none: with a fold for a sink (e.g. the report's) a run's memory does
/// not grow with its events. The same budget applies.
pub fn run_into(
    s: &Scenario,
    seed: u64,
    sink: &RefCell<dyn EventSink>,
) -> Result<SimStats, ExecError> {
    Prepared::new(s).run_into(seed, sink)
}

/// A scenario with its world built once, for many runs (a sweep, a bench,
/// the catalogue): each run starts from a copy of the built world, which
/// shares what the run does not change, so a run's cost follows its events
/// and not the size of the estate. A run from a prepared world is the same
/// run as [`run`] gives, event for event.
pub struct Prepared<'s> {
    scenario: &'s Scenario,
    world: world::World,
}

/// The seed the prepared world is built with; each run then takes its own
/// generator (building draws nothing from it, a test checks).
const PREPARED_SEED: u64 = 0;

impl<'s> Prepared<'s> {
    /// Builds the world of a (validated) scenario.
    pub fn new(scenario: &'s Scenario) -> Prepared<'s> {
        Prepared {
            scenario,
            world: world::World::build(scenario, PREPARED_SEED),
        }
    }

    /// The world a run with `seed` starts from: the built one, with the
    /// run's generator.
    pub fn world(&self, seed: u64) -> world::World {
        let mut w = self.world.clone();
        w.rng = rng::SimRng::new(seed);
        w
    }

    /// [`run`] on the prepared world.
    pub fn run(&self, seed: u64) -> Result<SimRun, ExecError> {
        let events_max = usize::try_from(self.scenario.scenario.events_max).unwrap_or(usize::MAX);
        let rec = Recorder::with_budget(4096, events_max);
        let timer_fires = self.drive(seed, &rec)?;
        Ok(SimRun {
            events: rec.into_events(),
            timer_fires,
        })
    }

    /// [`run_into`] on the prepared world.
    pub fn run_into(
        &self,
        seed: u64,
        sink: &RefCell<dyn EventSink>,
    ) -> Result<SimStats, ExecError> {
        let events_max = usize::try_from(self.scenario.scenario.events_max).unwrap_or(usize::MAX);
        let rec = Recorder::into_sink(sink, events_max);
        let timer_fires = self.drive(seed, &rec)?;
        Ok(SimStats {
            events: rec.len(),
            retained: rec.retained(),
            ended_at: rec.last_at(),
            timer_fires,
        })
    }

    /// Runs the drill into `rec`; the clock jumps it took.
    fn drive(&self, seed: u64, rec: &Recorder<'_>) -> Result<u64, ExecError> {
        let s = self.scenario;
        let backend = SimBackend::new(self.world(seed));
        let drill = drlab_scenarios::drill::run(&backend, s, seed, rec);
        block_on(backend.clock(), within_budget(rec, drill), POLLS_MAX)?.map_err(|()| {
            ExecError::EventBudget {
                events_max: s.scenario.events_max,
                at: backend.clock().now(),
            }
        })?;
        Ok(backend.clock().timer_fires())
    }
}

/// `fut`, ended with `Err(())` by the first poll after which `rec` is over
/// its budget.
async fn within_budget<F: std::future::Future>(
    rec: &Recorder<'_>,
    fut: F,
) -> Result<F::Output, ()> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        _ if rec.over_budget() => std::task::Poll::Ready(Err(())),
        std::task::Poll::Ready(out) => std::task::Poll::Ready(Ok(out)),
        std::task::Poll::Pending => std::task::Poll::Pending,
    })
    .await
}

/// The event budget of a fuzzed run: enough for every library scenario's
/// first minutes, small enough that one input costs milliseconds.
pub const FUZZ_EVENTS_MAX: u64 = 20_000;

/// One fuzz input, as `cargo fuzz` and the property tests feed it: the text
/// is parsed as a scenario; when it loads, it runs in the simulator within
/// [`FUZZ_EVENTS_MAX`] events. Refusals and run errors are fine; a panic, or
/// a refusal that is not located, is a bug.
pub fn fuzz_scenario(text: &str) {
    let path = std::path::Path::new("fuzz.toml");
    let mut s = match drlab_scenarios::parse(path, text) {
        Ok(s) => s,
        Err(e) => {
            for line in e.to_string().lines() {
                let mut parts = line.splitn(4, ':');
                let located = parts.next() == Some("fuzz.toml")
                    && parts.next().is_some_and(|l| l.parse::<usize>().is_ok())
                    && parts.next().is_some_and(|c| c.parse::<usize>().is_ok());
                assert!(located, "refusal without file:line:column: {line}");
            }
            return;
        }
    };
    s.scenario.events_max = s.scenario.events_max.min(FUZZ_EVENTS_MAX);
    let _ = run(&s, s.scenario.seed);
}
