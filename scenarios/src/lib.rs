//! Scenarios: the file format and its validation, the runbooks of the source
//! documents (written once against the interface), and the drill engine that
//! runs a scenario's workload, faults, monitoring and runbook on any backend.

pub mod bounds;
pub mod dns;
pub mod draws;
pub mod exchange;
pub mod format;
pub mod interlock;
pub mod load;
pub(crate) mod validate;
mod validate_fabric;
mod validate_workload;

pub use format::Scenario;
pub use load::{Problem, ScenarioError, load, parse};
pub mod context;
pub mod drill;
pub mod runbooks;
pub mod scale;
pub mod schedule;
pub mod sla;
