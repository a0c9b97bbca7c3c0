//! Reports: RTO with its breakdown, RPO from lost writes, per-step timings,
//! the two-site state trace and a verdict, computed only from a drill's
//! events, so simulated and measured runs compare directly. Renderers turn a
//! report into a terminal summary, JSON, Markdown or JUnit XML. A report
//! reads back from its JSON (`Report::from_json`), and two reports compare
//! side by side (`compare`: simulated against measured). A report is a fold
//! over the events (`ReportFold`), so a run can be reported as it is
//! recorded without keeping its events (`ReportSink`).

pub mod compare;
mod compute;
pub mod events_file;
mod html;
pub mod invariants;
mod read;
mod recovery;
mod render;
pub mod sla;
mod tally;

pub use compare::{Comparison, Tolerance, compare, compare_markdown, compare_text};
pub use compute::{
    Alert, Breakdown, ClientLine, FaultLine, Objectives, Report, ReportFold, ReportSink, StateLine,
    StepLine, Timeline, Verdict, WriteCounts,
};
pub use events_file::{EventsError, events_from_jsonl, events_to_jsonl};
pub use html::compare::compare_html;
pub use html::sla::{SlaRun, sla_html};
pub use html::sweep::{
    CDF_POINTS_MAX, SweepMetric, SweepPage, SweepQuantiles, SweepRequire, SweepVariant,
    VARIANTS_MAX, sweep_html,
};
pub use html::{BUCKETS_MAX, html};
pub use read::{LOST_SEQ_LIMIT, REPORT_BYTES_MAX, ReadError};
pub use recovery::{ArchiveLine, DegradedLine, Recovery, Refused, RestoredImage};
pub use render::{junit, markdown, text};

/// Seconds from microseconds, rounded to the millisecond as reports print them.
pub fn secs(us: u64) -> f64 {
    (us as f64 / 1000.0).round() / 1000.0
}
