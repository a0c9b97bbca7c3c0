//! The shell scripts the lab backend runs for its state-changing calls on
//! Linux hosts, for whoever shows them before a drill (the dry-run plan
//! renders journal actions with them). Pure builders: arguments are
//! quoted, nothing runs, no secret is involved.

pub use super::hosts::{alias_script, release_ip_script, take_ip_script};
pub use super::stores::{deny_script, overwrite_script, recovery_script};
