//! The one interface of drlab: capability traits that every backend (the
//! simulator, the real lab) implements, and the events every run emits.
//!
//! Runbooks are written once against [`Backend`]; they never know whether
//! they run simulated or real. Reports are computed only from [`Event`]s, so
//! simulated and measured runs are directly comparable.

pub mod cache;
pub mod caps;
pub mod dr;
pub mod error;
pub mod event;
pub mod seqset;
pub mod sink;
pub mod time;
pub mod types;

pub use caps::{
    Archives, Backend, Clock, Directory, Dns, Faults, Hosts, MailStores, Replication, San,
    Services, Switches, Workload,
};
pub use dr::{DrState, IllegalTransition, Transition};
pub use error::{ErrorKind, OpError};
pub use event::{Event, EventKind, Recorder, StepOutcome};
pub use seqset::{SEQ_MAX, SeqSet};
pub use sink::{Discard, EventSink, TraceDigest};
pub use time::{Timestamp, timeout};
