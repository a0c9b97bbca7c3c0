//! The catalogue regression: every scenario in `scenarios/library/` is its
//! own test. Each must validate, run twice with the same seed to the same
//! trace hash, produce the verdict it expects, and match its JSON and
//! Markdown report snapshots, and its JSON report must read back to the same
//! bytes. Adding a file adds its test; no code changes.

use drlab_reports::Verdict;
use drlab_scenarios::format::Expect;
use libtest_mimic::{Arguments, Failed, Trial};

fn check(path: &std::path::Path) -> Result<(), Failed> {
    let s = drlab_scenarios::load(path).map_err(|e| e.to_string())?;
    let seed = s.scenario.seed;
    let first = drlab_sim::run(&s, seed).map_err(|e| e.to_string())?;
    let second = drlab_sim::run(&s, seed).map_err(|e| e.to_string())?;
    let (a, b) = (
        drlab_reports::Report::from_events(&first.events),
        drlab_reports::Report::from_events(&second.events),
    );
    if a.trace_hash != b.trace_hash || first.events != second.events {
        return Err(format!(
            "nondeterministic: seed {seed} gave traces {} and {}",
            a.trace_hash, b.trace_hash
        )
        .into());
    }
    let expected = match s.scenario.expect {
        Expect::Pass => Verdict::Pass,
        Expect::Fail => Verdict::Fail,
    };
    if a.verdict != expected {
        return Err(format!(
            "expected verdict {expected:?}, got {:?}: {}",
            a.verdict,
            a.reasons.join("; ")
        )
        .into());
    }
    // The invariants explore checks hold on every library run; a
    // scenario expected to fail may fail the drill's own checks or
    // liveness, never the state machine or the step order.
    for v in drlab_reports::invariants::check(&first.events) {
        let allowed = expected == Verdict::Fail && matches!(v.invariant, "live" | "drill-checks");
        if !allowed {
            return Err(format!(
                "invariant {} broken at {} s: {}",
                v.invariant, v.at_s, v.what
            )
            .into());
        }
    }
    let stem = path
        .file_stem()
        .and_then(|x| x.to_str())
        .unwrap_or("scenario");
    let json = serde_json::to_string_pretty(&a).map_err(|e| e.to_string())?;
    // A report reads back (`drlab compare`) to the same report and bytes.
    let back = drlab_reports::Report::from_json(&json).map_err(|e| format!("read back: {e}"))?;
    let again = serde_json::to_string_pretty(&back).map_err(|e| e.to_string())?;
    if back != a || again != json {
        return Err("the report's JSON does not read back to the same report and bytes".into());
    }
    let md = drlab_reports::markdown(&a);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(drlab_tests::root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(format!("{} with seed {seed}", path.display()));
    settings.bind(|| {
        insta::assert_snapshot!(format!("{stem}.json"), json);
        insta::assert_snapshot!(format!("{stem}.md"), md);
    });
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trials = drlab_tests::library()
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|x| x.to_str())
                .unwrap_or("?")
                .to_string();
            Trial::test(format!("library::{name}"), move || check(&p))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
