//! Drill orchestration above the backends: what turns a scenario and a
//! backend into a journalled, undoable drill.
//!
//! - [`recorded`]: the journalling wrapper ([`recorded::Recorded`]) around
//!   any backend, its sinks (a journal file for drills, plan lines for dry
//!   runs), undo values known from the scenario, and rollback;
//! - [`journal`]: the journal file format the wrapper writes;
//! - [`lab`]: a drill on the lab backend (set-up, journal, progress) and the
//!   dry-run plan, rehearsed in the simulator;
//! - [`render`]: journal actions as the lab operations they stand for, from
//!   the lab backend's own command builders (what the plan and the journal
//!   show is what the backend sends);
//! - [`estate`]: the scenario's estate as the lab backend sees it;
//! - [`calibrate`]: a scenario's `[timing]` fitted to the step durations of
//!   reports (of lab drills), as the scenario's text with the new table;
//! - `capabilities` (private): the state-changing capabilities described
//!   once, a table from which the journal's `Action`, its undo and text,
//!   the wrapper, `perform` and the lab rendering are generated.
//!
//! The backends (`drlab-sim`, `drlab-real`) know nothing of this crate: the
//! lab backend takes an [`drlab_real::lab::Estate`], built here by
//! [`estate::of`].

pub mod calibrate;
mod capabilities;
pub mod estate;
pub mod journal;
pub mod lab;
pub mod recorded;
pub mod render;
