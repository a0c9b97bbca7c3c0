//! Cost that follows the run, not the estate (issue 10), counted, not
//! timed: a LAN failover on an estate of thousands of hosts, started from
//! a prepared world, copies only the hosts its runbook and faults change
//! and leaves every other one shared with the prepared world, and its
//! trace is the one `drlab_sim::run` gives.

use drlab_drivers::Recorder;
use drlab_scenarios::scale::{ScaleKind, scaled};
use drlab_sim::{POLLS_MAX, Prepared, SimBackend, block_on};
use drlab_tests::scenario;

/// Hosts the scaled estate has: the library's three and plain copies.
const HOSTS: usize = 2_000;

#[test]
fn a_run_copies_only_the_hosts_it_changes() {
    let s = scaled(&scenario("lan-failover"), ScaleKind::Hosts, HOSTS).expect("scaled");
    let seed = s.scenario.seed;
    let prepared = Prepared::new(&s);
    let backend = SimBackend::new(prepared.world(seed));
    let rec = Recorder::with_budget(4096, usize::MAX);
    block_on(
        backend.clock(),
        drlab_scenarios::drill::run(&backend, &s, seed, &rec),
        POLLS_MAX,
    )
    .expect("the run");
    let after = backend.world();
    let untouched = prepared.world(seed);
    let copied = HOSTS - after.hosts.shared_with(&untouched.hosts);
    // EXCH1 crashes and gives its identity to EXCH2; the plain hosts
    // take no part, so at most the library's own three are copied.
    assert!(
        (2..=3).contains(&copied),
        "{copied} of {HOSTS} hosts copied by one run"
    );
    let events = rec.into_events();
    assert_eq!(
        events,
        drlab_sim::run(&s, seed).expect("a fresh run").events,
        "the same run as drlab_sim::run's"
    );
}
