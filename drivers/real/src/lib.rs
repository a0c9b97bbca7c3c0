//! Real drivers for the lab backend: each module talks to one kind of real
//! component the way operators do (SSH, LDAP, DNS, SMTP/IMAP, the
//! replication tools, the container engine). Protocol messages are built by
//! pure functions that quote the RFC or product document they follow; I/O
//! lives apart from them.
//!
//! Architecture Invariant: every real-I/O dependency of drlab lives in this
//! crate or the `drlab` binary. Nothing here is used by the simulator.
//!
//! Architecture Invariant: this crate (the protocol drivers and the lab
//! backend) depends on the interface (`drlab-drivers`) only, never on the
//! simulator, the scenarios or the reports. Drill orchestration (journal,
//! rollback, the lab drill, the plan) lives above it, in `drlab-drill`.

pub mod inventory;
pub mod lab;

pub mod dialect;
pub mod dns;
mod exchange;
pub mod faults;
pub mod imap;
pub mod ldap;
pub mod net;
pub mod replication;
pub mod san;
#[cfg(test)]
mod scratch;
pub mod secret;
pub mod smtp;
pub mod ssh;
