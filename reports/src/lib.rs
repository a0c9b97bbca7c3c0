//! Reports: RTO with its breakdown, RPO from lost writes, per-step timings,
//! the two-site state trace and a verdict, computed only from a drill's
//! events, so simulated and measured runs compare directly. Renderers turn a
//! report into a terminal summary, JSON, Markdown or JUnit XML.

mod compute;
pub mod invariants;
mod recovery;
mod render;

pub use compute::{
    Alert, Breakdown, ClientLine, FaultLine, Objectives, Report, StateLine, StepLine, Timeline,
    Verdict, WriteCounts,
};
pub use recovery::{ArchiveLine, DegradedLine, Recovery, Refused, RestoredImage};
pub use render::{junit, markdown, text};

/// Seconds from microseconds, rounded to the millisecond as reports print them.
pub fn secs(us: u64) -> f64 {
    (us as f64 / 1000.0).round() / 1000.0
}
