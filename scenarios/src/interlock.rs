//! The patent's interlocks between its long-running processes (002,
//! "Archive Operation" step 612 and "Restore Operation" step 704): an
//! archive is refused while a restore (700), another archive (600) or a
//! failover/switch-back (300) is in progress; a restore is refused while an
//! archive or a failover is in progress. What runs is held for as long as
//! its [`Held`] guard lives, so an early return releases it.

use std::cell::{Cell, RefCell};

/// A process the interlocks know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Process 600.
    Archive,
    /// Process 700.
    Restore,
    /// Process 300, failure switch-over or switch-back.
    Failover,
}

impl Operation {
    fn noun(self) -> &'static str {
        match self {
            Operation::Archive => "an archive (process 600)",
            Operation::Restore => "a restore (process 700)",
            Operation::Failover => "a failover or switch-back (process 300)",
        }
    }

    /// What may not run while this one begins (the patent's rules).
    fn conflicts(self) -> &'static [Operation] {
        match self {
            Operation::Archive => &[Operation::Restore, Operation::Archive, Operation::Failover],
            Operation::Restore => &[Operation::Archive, Operation::Failover],
            // The patent puts no condition on a failover: it never waits.
            Operation::Failover => &[],
        }
    }
}

/// The operations in progress.
#[derive(Debug, Default)]
pub struct Interlocks {
    running: RefCell<Vec<(u64, Operation, String)>>,
    next: Cell<u64>,
}

/// Proof that an operation runs; dropping it ends the operation.
#[derive(Debug)]
pub struct Held<'a> {
    locks: &'a Interlocks,
    id: u64,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.locks
            .running
            .borrow_mut()
            .retain(|(id, ..)| *id != self.id);
    }
}

impl Interlocks {
    /// No operation in progress.
    pub fn new() -> Interlocks {
        Interlocks::default()
    }

    /// Begins `op` (`what` names it for refusals) unless a conflicting
    /// operation is in progress; the error says which one, as a person reads it.
    pub fn begin(&self, op: Operation, what: &str) -> Result<Held<'_>, String> {
        let running = self.running.borrow();
        let busy: Vec<String> = running
            .iter()
            .filter(|(_, o, _)| op.conflicts().contains(o))
            .map(|(_, o, w)| format!("{} is in progress ({w})", o.noun()))
            .collect();
        drop(running);
        if !busy.is_empty() {
            return Err(busy.join("; "));
        }
        let id = self.next.get();
        self.next.set(id + 1);
        self.running.borrow_mut().push((id, op, what.to_string()));
        Ok(Held { locks: self, id })
    }

    /// Whether `op` is in progress.
    pub fn running(&self, op: Operation) -> bool {
        self.running.borrow().iter().any(|(_, o, _)| *o == op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patents_rules() {
        let l = Interlocks::new();
        let a = l.begin(Operation::Archive, "24 h").unwrap();
        let why = l.begin(Operation::Archive, "48 h").unwrap_err();
        assert!(
            why.contains("an archive (process 600) is in progress (24 h)"),
            "{why}"
        );
        assert!(l.begin(Operation::Restore, "r").is_err());
        // A failover never waits for an archive.
        let f = l.begin(Operation::Failover, "f").unwrap();
        drop(a);
        assert!(
            l.begin(Operation::Archive, "48 h").is_err(),
            "failover runs"
        );
        assert!(l.begin(Operation::Restore, "r").is_err(), "failover runs");
        drop(f);
        let r = l.begin(Operation::Restore, "r").unwrap();
        assert!(l.begin(Operation::Archive, "72 h").is_err());
        drop(r);
        assert!(l.begin(Operation::Archive, "72 h").is_ok());
    }
}
