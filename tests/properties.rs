//! Properties over random inputs (proptest), each against a model or an
//! identity that must hold for every input:
//! - `SeqSet` behaves as a `BTreeSet<u64>` (insert, remove, union, ranges);
//! - random transition sequences never leave the state machine's table;
//! - store pairing follows database file names, whatever the target's order;
//! - a report's RTO breakdown sums to its RTO, and RPO is 0 iff nothing was lost;
//! - a library scenario with any number replaced by an extreme value is
//!   refused with a located error or runs, never panics or runs away.

use std::collections::BTreeSet;

use drlab_drivers::{DrState, SeqSet, Transition};
use drlab_scenarios::exchange::pairing::{self, StoreKey};
use drlab_scenarios::format::PublicFolders;
use drlab_tests::{run, table, variant};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum SetOp {
    Insert(u64),
    Remove(u64),
    Union(Vec<u64>),
}

fn set_op() -> impl Strategy<Value = SetOp> {
    prop_oneof![
        (0u64..2000).prop_map(SetOp::Insert),
        (0u64..2000).prop_map(SetOp::Remove),
        prop::collection::vec(0u64..2000, 0..20).prop_map(SetOp::Union),
    ]
}

/// The same cases on every run (CI must not be flaky): a fixed seed unless
/// `PROPTEST_RNG_SEED` asks for another, and no regression files written
/// into the tree (a failure found is added below as a named test).
fn config() -> ProptestConfig {
    let from_env = ProptestConfig::default();
    ProptestConfig {
        rng_seed: if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
            from_env.rng_seed
        } else {
            proptest::test_runner::RngSeed::Fixed(0x0d71_ab12)
        },
        failure_persistence: None,
        ..from_env
    }
}

/// Found by the breakdown property (seed 707310, crash at 164.806 s): the
/// write acknowledged in the instant of the crash is lost, and RPO
/// rounded to the millisecond was 0 with one lost write.
#[test]
fn a_write_lost_in_the_instant_of_the_crash_is_a_nonzero_rpo() {
    let s = variant("lan-failover", |t| {
        let faults = t.get_mut("faults").unwrap().as_array_mut().unwrap();
        faults[0]
            .as_table_mut()
            .unwrap()
            .insert("at_s".into(), toml::Value::Float(164.806));
        table(t, &["scenario"]).insert("horizon_s".into(), toml::Value::Float(900.0));
    })
    .unwrap();
    let r = run(&s, 707_310);
    assert_eq!(r.lost_writes, 1);
    assert_eq!(r.rpo_s, Some(0.001));
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn seqset_is_a_set_of_numbers(ops in prop::collection::vec(set_op(), 0..60)) {
        let mut s = SeqSet::new();
        let mut model = BTreeSet::new();
        for op in ops {
            match op {
                SetOp::Insert(x) => prop_assert_eq!(s.insert(x), model.insert(x)),
                SetOp::Remove(x) => prop_assert_eq!(s.remove(x), model.remove(&x)),
                SetOp::Union(xs) => {
                    s.union_with(&xs.iter().copied().collect());
                    model.extend(xs);
                }
            }
            prop_assert_eq!(s.len(), model.len() as u64);
            prop_assert_eq!(s.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            // Equal sets are equal however they were built.
            prop_assert_eq!(&s, &model.iter().copied().collect::<SeqSet>());
            prop_assert_eq!(&SeqSet::from_ranges(&s.ranges()), &s);
        }
    }

    #[test]
    fn transitions_never_leave_the_table(picks in prop::collection::vec(0usize..9, 0..40)) {
        let mut state = DrState::Normal;
        for i in picks {
            let t = Transition::ALL[i];
            let (from, to) = t.edge();
            match t.apply(state) {
                Ok(next) => {
                    prop_assert_eq!(from, state);
                    prop_assert_eq!(next, to);
                    state = next;
                }
                Err(_) => prop_assert_ne!(from, state),
            }
            prop_assert!(DrState::ALL.contains(&state));
        }
    }

    #[test]
    fn pairing_follows_file_names_not_positions(
        n in 1usize..8,
        groups in prop::collection::vec(0usize..3, 8),
        order in Just(()).prop_perturb(|_, mut rng| {
            let mut v: Vec<usize> = (0..8).collect();
            for i in (1..v.len()).rev() {
                v.swap(i, rng.random_range(0..=i));
            }
            v
        }),
    ) {
        let key = |i: usize| StoreKey {
            group: format!("SG{}", groups[i]),
            store: format!("Store {i}"),
            file: format!("db{i}.edb"),
            prefix: format!("E0{}", groups[i]),
            public: false,
        };
        let source: Vec<StoreKey> = (0..n).map(key).collect();
        let target: Vec<StoreKey> = order.iter().filter(|&&i| i < n).map(|&i| key(i)).collect();
        let pairs = pairing::pair(&source, &target, &[], PublicFolders::Include).unwrap();
        prop_assert_eq!(pairs.len(), n);
        for p in &pairs {
            prop_assert_eq!(&p.from.file, &p.to.file);
        }
    }

    #[test]
    fn breakdown_sums_to_the_rto_and_rpo_is_zero_iff_nothing_is_lost(
        seed in 0u64..1_000_000,
        crash_at_ms in 60_000u64..200_000,
        bandwidth in prop_oneof![Just(100.0), Just(1.0), Just(0.2)],
    ) {
        let s = variant("lan-failover", |t| {
            let faults = t.get_mut("faults").unwrap().as_array_mut().unwrap();
            faults[0].as_table_mut().unwrap()
                .insert("at_s".into(), toml::Value::Float(crash_at_ms as f64 / 1e3));
            let sites = t.get_mut("sites").unwrap().as_array_mut().unwrap();
            let lan = sites[0].as_table_mut().unwrap()["lan"].as_table_mut().unwrap();
            lan.insert("bandwidth_mbps".into(), toml::Value::Float(bandwidth));
            table(t, &["scenario"]).insert("horizon_s".into(), toml::Value::Float(900.0));
        })
        .unwrap();
        let r = run(&s, seed);
        if let (Some(rto), Some(b)) = (r.rto_s, r.rto_breakdown) {
            let sum = b.detection_s + b.decision_s + b.execution_s + b.propagation_s;
            prop_assert!((sum - rto).abs() < 0.0015, "parts {sum} vs RTO {rto}");
            for part in [b.detection_s, b.decision_s, b.execution_s, b.propagation_s] {
                prop_assert!(part >= 0.0);
            }
        }
        if let Some(rpo) = r.rpo_s {
            prop_assert_eq!(rpo == 0.0, r.lost_writes == 0, "RPO {} with {} lost", rpo, r.lost_writes);
        }
    }

    /// A small fuzz campaign in every test run (the cargo-fuzz targets in
    /// `fuzz/` run the same entry point for longer).
    #[test]
    fn any_number_anywhere_is_refused_or_runs(
        file in prop::sample::select(drlab_tests::library()),
        pick in any::<prop::sample::Index>(),
        value in prop_oneof![
            Just("-1".to_string()), Just("0".to_string()), Just("1e-9".to_string()),
            Just("1.8e19".to_string()), Just("1e300".to_string()), Just("inf".to_string()),
            Just("nan".to_string()), Just("9223372036854775807".to_string()),
            Just("-9223372036854775808".to_string()), Just("4294967296".to_string()),
            Just("0.5".to_string()), Just("\"x\"".to_string()), Just("[]".to_string()),
            Just("{}".to_string()),
        ],
    ) {
        let text = std::fs::read_to_string(&file).unwrap();
        let Some(edited) = replace_a_number(&text, pick, &value) else {
            return Ok(());
        };
        drlab_sim::fuzz_scenario(&edited);
    }
}

/// `text` with one of its numeric values (after ` = `) replaced by `value`.
fn replace_a_number(text: &str, pick: prop::sample::Index, value: &str) -> Option<String> {
    let spots: Vec<(usize, usize)> = text
        .match_indices(" = ")
        .filter_map(|(at, _)| {
            let start = at + 3;
            let len = text[start..]
                .find(|c: char| !(c.is_ascii_digit() || ".-+_e".contains(c)))
                .unwrap_or(text.len() - start);
            (len > 0 && text[start..].starts_with(|c: char| c.is_ascii_digit() || c == '-'))
                .then_some((start, len))
        })
        .collect();
    if spots.is_empty() {
        return None;
    }
    let (start, len) = spots[pick.index(spots.len())];
    Some(format!("{}{value}{}", &text[..start], &text[start + len..]))
}
