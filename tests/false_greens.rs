//! False greens: drills in which a capability call fails where a runbook
//! once took a default (an empty read-back, an empty store list) must not
//! pass. Each test runs a library scenario on the simulator through
//! [`failing::Failing`], which fails one chosen call with an operating
//! error, and checks that the step needing the answer failed with that
//! error and that the verdict is FAIL. The same scenario without the
//! failure passes, so the failed call is what changes the verdict.

#[path = "src/failing.rs"]
mod failing;

use drlab_drivers::{OpError, Recorder};
use drlab_reports::{Report, Verdict};
use drlab_sim::world::World;
use drlab_sim::{POLLS_MAX, SimBackend, block_on};
use drlab_tests::scenario;
use failing::Failing;

/// Runs library scenario `stem` with the calls `fail` chooses failing;
/// returns the report and the calls that failed.
fn drill(
    stem: &str,
    fail: impl for<'a> FnOnce(Failing<'a, SimBackend>) -> Failing<'a, SimBackend>,
) -> (Report, Vec<String>) {
    let s = scenario(stem);
    let seed = s.scenario.seed;
    let sim = SimBackend::new(World::build(&s, seed));
    let b = fail(Failing::new(&sim));
    let rec = Recorder::with_capacity(4096);
    block_on(
        sim.clock(),
        drlab_scenarios::drill::run(&b, &s, seed, &rec),
        POLLS_MAX,
    )
    .unwrap_or_else(|e| panic!("{stem}: {e}"));
    let failed = b.failed();
    (Report::from_events(&rec.into_events()), failed)
}

/// The error the chosen call fails with.
fn agent_down() -> OpError {
    OpError::Io {
        detail: "the agent's connection was reset".into(),
    }
}

/// The outcome and detail of the step whose name starts with `prefix`.
fn step<'r>(r: &'r Report, prefix: &str) -> (&'static str, Option<&'r str>) {
    let s = r
        .steps
        .iter()
        .find(|s| s.name.starts_with(prefix))
        .unwrap_or_else(|| {
            let names: Vec<&str> = r.steps.iter().map(|s| s.name.as_str()).collect();
            panic!("no step {prefix:?} in {names:#?}")
        });
    (s.outcome, s.detail.as_deref())
}

/// Asserts the drill failed and the step `prefix` failed with [`agent_down`].
fn fails_with_the_error(r: &Report, failed: &[String], call: &str, prefix: &str) {
    assert_eq!(failed, [call], "the chosen call was not made once");
    let (outcome, detail) = step(r, prefix);
    assert_eq!(
        (outcome, detail),
        ("failed", Some(agent_down().to_string().as_str())),
        "step {prefix:?} must fail with the backend's reason"
    );
    assert_eq!(
        r.verdict,
        Verdict::Fail,
        "a drill whose {call} failed passed: {:#?}",
        r.reasons
    );
}

#[test]
fn the_scenarios_pass_without_failures() {
    for stem in ["autosync", "failback-original-source", "two-site-dr"] {
        let (r, failed) = drill(stem, |b| b);
        assert!(failed.is_empty());
        assert_eq!(r.verdict, Verdict::Pass, "{stem}: {:#?}", r.reasons);
    }
}

#[test]
fn autosync_verification_fails_when_the_source_cannot_be_read_back() {
    // Read back as empty, the source "holds nothing the target lacks".
    let (r, failed) = drill("autosync", |b| b.fail("read_back", "EXCH1", agent_down()));
    fails_with_the_error(
        &r,
        &failed,
        "read_back(EXCH1)",
        "verify: EXCH2 holds everything EXCH1 holds",
    );
}

#[test]
fn failback_fails_when_the_target_cannot_be_read_back_before_the_restore() {
    // Read back as empty, the target "held nothing", so the source "holds
    // everything it held" and the restore pitfall goes unseen.
    let (r, failed) = drill("failback-original-source", |b| {
        b.fail("read_back", "EXCH2", agent_down())
    });
    fails_with_the_error(
        &r,
        &failed,
        "read_back(EXCH2)",
        "[8-16] Restoration Manager: restore EXCH2 -> EXCH1",
    );
}

#[test]
fn failback_verification_fails_with_the_read_error_when_the_source_cannot_be_read_back() {
    // Not a divergence to diagnose: what the source holds is unknown.
    let (r, failed) = drill("failback-original-source", |b| {
        b.fail("read_back", "EXCH1", agent_down())
    });
    fails_with_the_error(
        &r,
        &failed,
        "read_back(EXCH1)",
        "verify the restore: EXCH1 holds everything EXCH2 held",
    );
    assert!(
        !r.reasons.iter().any(|x| x.contains("invariant broken")),
        "an unread source is not a diverged one: {:#?}",
        r.reasons
    );
}

#[test]
fn two_site_failover_fails_when_the_secondary_cannot_list_its_stores() {
    // Listed as empty, "the 0 replicated stores" got their flag and none
    // was mounted, yet the step passed.
    let (r, failed) = drill("two-site-dr", |b| {
        b.fail("list_stores", "EXCH2", agent_down())
    });
    fails_with_the_error(
        &r,
        &failed,
        "list_stores(EXCH2)",
        "346 set 'overwrite on restore' on the",
    );
}
