//! Active Directory: one view per domain controller, and changes that reach
//! the other controllers after the replication delay unless replication is
//! forced.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use drlab_drivers::OpError;
use drlab_drivers::types::StoreRef;
use drlab_scenarios::format::Scenario;

use super::Micros;

/// A mailbox's home: its server and store.
type Home = (String, StoreRef);

/// What one domain controller holds. The accounts and mailbox homes the
/// scenario made are shared by every view and every run's copy
/// ([`crate::Prepared`]): a view keeps its own changes to the accounts, and
/// copies the mailbox homes the first time one moves (a runbook that moves
/// mailboxes moves many; one map then keeps lookups on the user path to one).
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Computer accounts at build, by lower-case name.
    computers_built: Rc<BTreeSet<String>>,
    /// Accounts created (`true`) or removed (`false`) since, by lower-case name.
    computers_changed: BTreeMap<String, bool>,
    /// Mailbox homes, by mailbox name.
    mailboxes: Rc<BTreeMap<String, Home>>,
}

impl View {
    /// Whether a computer account exists (names are case-insensitive).
    pub fn has_computer(&self, name: &str) -> bool {
        self.has_account(&name.to_ascii_lowercase())
    }

    fn has_account(&self, lower: &str) -> bool {
        match self.computers_changed.get(lower) {
            Some(&present) => present,
            None => self.computers_built.contains(lower),
        }
    }

    /// A mailbox's home server and store.
    pub fn mailbox(&self, name: &str) -> Option<&Home> {
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
                self.computers_changed.insert(n.to_ascii_lowercase(), true);
            }
            Change::RemoveComputer(n) => {
                self.computers_changed.insert(n.to_ascii_lowercase(), false);
            }
            Change::RenameComputer(a, b) => {
                let a = a.to_ascii_lowercase();
                if self.has_account(&a) {
                    self.computers_changed.insert(a, false);
                    self.computers_changed.insert(b.to_ascii_lowercase(), true);
                }
            }
            Change::SetMailbox(m, server, store) => {
                Rc::make_mut(&mut self.mailboxes)
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
        let computers = s.hosts.iter().map(|h| h.name.to_ascii_lowercase());
        let mailboxes = s.mailboxes.iter().map(|m| {
            let home = (
                m.server.clone(),
                canonical(StoreRef::new(m.group.as_str(), m.store.as_str())),
            );
            (m.name.clone(), home)
        });
        let base = View {
            computers_built: Rc::new(computers.collect()),
            computers_changed: BTreeMap::new(),
            mailboxes: Rc::new(mailboxes.collect()),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        let home = |server: &str| (server.to_string(), StoreRef::new("SG1", "MBX"));
        View {
            computers_built: Rc::new(["exch1".to_string()].into()),
            mailboxes: Rc::new(
                [("alice", "EXCH1"), ("bob", "EXCH1"), ("carol", "EXCH2")]
                    .into_iter()
                    .map(|(m, s)| (m.to_string(), home(s)))
                    .collect(),
            ),
            ..View::default()
        }
    }

    fn on(v: &View, server: &str) -> Vec<String> {
        v.mailboxes_on(server).map(|(n, _)| n.clone()).collect()
    }

    #[test]
    fn a_moved_home_changes_only_the_view_it_moved_in() {
        let mut v = view();
        let shared = v.clone();
        assert!(Rc::ptr_eq(&v.mailboxes, &shared.mailboxes));
        let to2 =
            |m: &str| Change::SetMailbox(m.into(), "EXCH2".into(), StoreRef::new("SG1", "MBX"));
        v.apply(&to2("bob"));
        v.apply(&to2("alice"));
        assert_eq!(on(&v, "exch2"), ["alice", "bob", "carol"]);
        assert!(on(&v, "EXCH1").is_empty());
        assert_eq!(v.mailbox("bob").map(|h| h.0.as_str()), Some("EXCH2"));
        // The copy it came from is unchanged.
        assert_eq!(on(&shared, "EXCH1"), ["alice", "bob"]);
    }

    #[test]
    fn accounts_are_created_removed_and_renamed_over_the_built_ones() {
        let mut v = view();
        v.apply(&Change::RenameComputer("EXCH1".into(), "EXCH1tmp".into()));
        assert!(!v.has_computer("exch1") && v.has_computer("EXCH1TMP"));
        v.apply(&Change::RenameComputer("EXCH1".into(), "other".into()));
        assert!(!v.has_computer("other"), "a missing account is not renamed");
        v.apply(&Change::CreateComputer("EXCH1".into()));
        v.apply(&Change::RemoveComputer("exch1tmp".into()));
        assert!(v.has_computer("Exch1") && !v.has_computer("exch1tmp"));
        assert!(view().has_computer("EXCH1"));
    }
}
