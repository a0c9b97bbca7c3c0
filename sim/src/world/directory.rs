//! Active Directory: one view per domain controller, and changes that reach
//! the other controllers after the replication delay unless replication is
//! forced.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use drlab_drivers::OpError;
use drlab_drivers::types::StoreRef;
use drlab_scenarios::format::Scenario;

use super::Micros;

/// What one domain controller holds.
#[derive(Debug, Clone, Default)]
pub struct View {
    computers: BTreeSet<String>,
    mailboxes: BTreeMap<String, (String, StoreRef)>,
}

impl View {
    /// Whether a computer account exists (names are case-insensitive).
    pub fn has_computer(&self, name: &str) -> bool {
        self.computers.contains(&name.to_ascii_lowercase())
    }

    /// A mailbox's home server and store.
    pub fn mailbox(&self, name: &str) -> Option<&(String, StoreRef)> {
        self.mailboxes.get(name)
    }

    /// Mailboxes homed on `server`, in name order.
    pub fn mailboxes_on<'a>(
        &'a self,
        server: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a StoreRef)> + 'a {
        self.mailboxes
            .iter()
            .filter(move |(_, (s, _))| s.eq_ignore_ascii_case(server))
            .map(|(n, (_, st))| (n, st))
    }

    fn apply(&mut self, c: &Change) {
        match c {
            Change::CreateComputer(n) => {
                self.computers.insert(n.to_ascii_lowercase());
            }
            Change::RemoveComputer(n) => {
                self.computers.remove(&n.to_ascii_lowercase());
            }
            Change::RenameComputer(a, b) => {
                if self.computers.remove(&a.to_ascii_lowercase()) {
                    self.computers.insert(b.to_ascii_lowercase());
                }
            }
            Change::SetMailbox(m, server, store) => {
                self.mailboxes
                    .insert(m.clone(), (server.clone(), store.clone()));
            }
        }
    }
}

/// A directory change.
#[derive(Debug, Clone)]
pub enum Change {
    /// New computer account.
    CreateComputer(String),
    /// Computer account removed.
    RemoveComputer(String),
    /// Computer account renamed.
    RenameComputer(String, String),
    /// Mailbox home moved.
    SetMailbox(String, String, StoreRef),
}

#[derive(Debug, Clone)]
struct Pending {
    origin: usize,
    to: usize,
    visible_at: Micros,
    change: Change,
}

/// The domain: its controllers' views and changes in transit between them.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Host index of each DC.
    pub dcs: Vec<usize>,
    views: Vec<View>,
    pending: VecDeque<Pending>,
    delay_us: Micros,
}

impl Directory {
    /// The directory of a scenario: every host has an account, every mailbox its home.
    pub fn build(
        s: &Scenario,
        dcs: &[usize],
        canonical: &dyn Fn(StoreRef) -> StoreRef,
    ) -> Directory {
        let mut base = View::default();
        for h in &s.hosts {
            base.computers.insert(h.name.to_ascii_lowercase());
        }
        for m in &s.mailboxes {
            base.mailboxes.insert(
                m.name.clone(),
                (
                    m.server.clone(),
                    canonical(StoreRef::new(m.group.as_str(), m.store.as_str())),
                ),
            );
        }
        Directory {
            dcs: dcs.to_vec(),
            views: vec![base; dcs.len()],
            pending: VecDeque::new(),
            delay_us: s
                .domain
                .as_ref()
                .map_or(0, |d| (d.replication_delay_s * 1e6) as u64),
        }
    }

    /// The directory index of the DC on host `h`.
    pub fn dc_of(&self, h: usize) -> Result<usize, OpError> {
        self.dcs
            .iter()
            .position(|&d| d == h)
            .ok_or_else(|| OpError::not_found("a domain controller on that host"))
    }

    /// A DC's view.
    pub fn view(&self, dc: usize) -> &View {
        &self.views[dc]
    }

    /// Applies a change on `dc` now; the others see it after the delay.
    pub fn write(&mut self, dc: usize, change: Change, now: Micros) {
        self.views[dc].apply(&change);
        for to in 0..self.views.len() {
            if to != dc {
                self.pending.push_back(Pending {
                    origin: dc,
                    to,
                    visible_at: now + self.delay_us,
                    change: change.clone(),
                });
            }
        }
    }

    /// Creates a computer account on `dc`.
    pub fn create_computer(&mut self, dc: usize, name: &str, now: Micros) {
        self.write(dc, Change::CreateComputer(name.to_string()), now);
    }

    /// Delivers changes whose delay has passed.
    pub fn settle(&mut self, now: Micros) {
        while self.pending.front().is_some_and(|p| p.visible_at <= now) {
            let p = self.pending.pop_front().expect("peeked");
            self.views[p.to].apply(&p.change);
        }
    }

    /// Delivers every change from `from` to `to` now.
    pub fn force(&mut self, from: usize, to: usize) {
        let mut keep = VecDeque::with_capacity(self.pending.len());
        for p in self.pending.drain(..) {
            if p.origin == from && p.to == to {
                self.views[to].apply(&p.change);
            } else {
                keep.push_back(p);
            }
        }
        self.pending = keep;
    }
}
