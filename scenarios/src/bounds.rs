//! The bounds of every number in the format, in one table.
//!
//! Names carry their unit last (`_s`, `_ms`, `_h`, `_mb`, `_mbps`), so a
//! number's bound follows from its key: every duration in seconds lies in
//! `[0, DURATION_S_MAX]`, every period is at least a millisecond, and so on.
//! [`check`] walks the parsed document, so each out-of-range value is
//! reported at the value itself, whatever table it sits in (distribution
//! tables such as `{ uniform = [2, 6] }` take the bound of the key that
//! holds them, see [`for_dist`]). A second rule bounds work: a period may
//! not wake a drill more often over its horizon than the run's event
//! budget allows.
//!
//! `docs/scenario-format.md` shows [`markdown_table`]; a test keeps the two
//! equal, and another that every numeric field of the format has a rule.

use toml::de::{DeTable, DeValue};

use crate::load::FieldPath;

/// The longest duration a scenario may name: 10^8 s, about 3.2 years (a
/// restore from a 72 h archive over several simulated days fits many times).
pub const DURATION_S_MAX: f64 = 1e8;

/// The shortest period of anything periodic (heartbeats, checks, writes,
/// probes): 1 ms.
pub const PERIOD_S_MIN: f64 = 1e-3;

/// The default event budget of a run (`scenario.events_max`): about 240 MB
/// of events at ~120 bytes of memory each when a run keeps them (a run
/// folded as it is recorded keeps none); the library's largest run uses
/// ~20,000.
pub const EVENTS_MAX_DEFAULT: u64 = 2_000_000;

/// The largest event budget a scenario may ask for (~6 GB of events kept).
pub const EVENTS_MAX_MAX: u64 = 50_000_000;

/// The range a number must lie in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
    /// Whether the value must be a whole number.
    pub integer: bool,
    /// What such a number is, for the documentation.
    pub what: &'static str,
}

const fn real(min: f64, max: f64, what: &'static str) -> Bound {
    Bound {
        min,
        max,
        integer: false,
        what,
    }
}

const fn int(min: f64, max: f64, what: &'static str) -> Bound {
    Bound {
        min,
        max,
        integer: true,
        what,
    }
}

/// How a key is matched.
#[derive(Clone, Copy, Debug)]
enum Match {
    Exact(&'static str),
    Suffix(&'static str),
}

/// The rules, first match wins: exact names, then units by suffix.
const RULES: &[(Match, Bound)] = &[
    (
        Match::Exact("seed"),
        int(0.0, 9.223_372_036_854_776e18, "seed"),
    ),
    (
        Match::Exact("events_max"),
        int(1.0, EVENTS_MAX_MAX as f64, "event budget of a run"),
    ),
    (
        Match::Exact("missed_heartbeats"),
        int(1.0, 1000.0, "heartbeats missed before failure"),
    ),
    (
        Match::Exact("probe_successes_required"),
        int(1.0, 1000.0, "consecutive successful probes"),
    ),
    (Match::Exact("mount_attempts"), int(1.0, 100.0, "attempts")),
    (
        Match::Exact("preference"),
        int(
            1.0,
            16.0,
            "DAG activation preference (a DAG has up to 16 members)",
        ),
    ),
    (
        Match::Exact("vlan"),
        int(1.0, 4094.0, "IEEE 802.1Q VLAN id"),
    ),
    (
        Match::Exact("vlans"),
        int(1.0, 4094.0, "IEEE 802.1Q VLAN id"),
    ),
    (Match::Exact("loss"), real(0.0, 1.0, "fraction")),
    (
        Match::Exact("write_bytes"),
        int(1.0, 1_073_741_824.0, "bytes (1 B to 1 GiB)"),
    ),
    (
        Match::Exact("burst_writes"),
        int(1.0, 1e6, "writes in a burst"),
    ),
    (
        Match::Exact("hourly_profile"),
        real(0.0, 1000.0, "multiplier of the arrival rate"),
    ),
    (
        Match::Exact("start_hour"),
        int(0.0, 23.0, "hour of the day"),
    ),
    (
        Match::Exact("weight"),
        real(0.0, 1e6, "relative weight of a choice"),
    ),
    (
        Match::Exact("components"),
        int(1.0, 1e6, "components of a failure class (`drlab sla`)"),
    ),
    (
        Match::Exact("mtbf_h"),
        real(1.0, 1e9, "mean time between failures in hours"),
    ),
    (
        Match::Exact("availability_pct"),
        real(0.0, 100.0, "availability target in percent"),
    ),
    (
        Match::Exact("meet_probability"),
        real(
            0.0,
            0.9999,
            "share of periods within a budget: below 1, which no sample shows",
        ),
    ),
    (Match::Suffix("_probability"), real(0.0, 1.0, "probability")),
    (Match::Suffix("_max"), int(1.0, 1000.0, "attempts")),
    (
        Match::Suffix("_interval_s"),
        real(PERIOD_S_MIN, DURATION_S_MAX, "period in seconds"),
    ),
    (
        Match::Suffix("_interval_ms"),
        int(1.0, 3_600_000.0, "period in milliseconds (1 ms to 1 h)"),
    ),
    (Match::Suffix("_per_s"), real(1e-6, 1e6, "rate per second")),
    (Match::Suffix("_per_year"), real(0.0, 1e6, "rate per year")),
    (
        Match::Suffix("_ttl_s"),
        int(0.0, 2_147_483_647.0, "DNS TTL in seconds (RFC 2181 §8)"),
    ),
    (
        Match::Suffix("_s"),
        real(0.0, DURATION_S_MAX, "duration or time in seconds"),
    ),
    (
        Match::Suffix("_ms"),
        real(0.0, DURATION_S_MAX * 1e3, "duration in milliseconds"),
    ),
    (
        Match::Suffix("_h"),
        int(1.0, 27_000.0, "hours (up to the longest duration)"),
    ),
    (
        Match::Suffix("_mbps"),
        real(1e-3, 1e6, "megabits per second (1 kbit/s to 1 Tbit/s)"),
    ),
    (
        Match::Suffix("_mb"),
        real(0.0, 1e9, "megabytes (up to 1 PB)"),
    ),
];

/// The bound of a number stored under `key`, if the format has one.
pub fn for_key(key: &str) -> Option<Bound> {
    rule(key).map(|(_, b)| b)
}

/// The name of the rule that bounds `key` (the exact name, or the suffix
/// such as `_interval_s`), if the format has one.
pub fn rule_name(key: &str) -> Option<&'static str> {
    rule(key).map(|(m, _)| match m {
        Match::Exact(n) | Match::Suffix(n) => n,
    })
}

/// The first rule matching `key`.
fn rule(key: &str) -> Option<(Match, Bound)> {
    RULES.iter().copied().find(|(m, _)| match *m {
        Match::Exact(n) => key == n,
        Match::Suffix(s) => key.ends_with(s) && key.len() > s.len(),
    })
}

/// The bound of a distribution's parameters (`{ normal = [m, sd], min = x }`,
/// ...) under `key`: the key's range, except that a whole-number field's
/// parameters are reals from 0 up to its maximum. A spread or a mean need
/// not be whole (`write_bytes = { normal = [32768, 0.5] }`) and an omitted
/// `min` is 0; what such a distribution draws is rounded and clamped to the
/// field's range where it is used (`schedule::Writes::size`).
pub fn for_dist(key: &str) -> Option<Bound> {
    for_key(key).map(|b| {
        if b.integer {
            Bound {
                min: b.min.min(0.0),
                integer: false,
                ..b
            }
        } else {
            b
        }
    })
}

/// The rule table as the format documentation shows it.
pub fn markdown_table() -> String {
    let mut out = String::from("| field | range | kind |\n|---|---|---|\n");
    for (m, b) in RULES {
        let key = match m {
            Match::Exact(n) => format!("`{n}`"),
            Match::Suffix(s) => format!("`…{s}`"),
        };
        let range = if b.integer {
            format!("{} to {} (whole)", fmt_num(b.min), fmt_num(b.max))
        } else {
            format!("{} to {}", fmt_num(b.min), fmt_num(b.max))
        };
        out.push_str(&format!("| {key} | {range} | {} |\n", b.what));
    }
    out
}

/// `1e8` for powers of ten from 10^7 and below 10^-2, `9.2e18` from 10^15,
/// else plain digits.
fn fmt_num(x: f64) -> String {
    let power_of_ten = x > 0.0 && x.log10().fract() == 0.0;
    if power_of_ten && !(1e-2..1e7).contains(&x) {
        format!("{x:e}")
    } else if x >= 1e15 {
        format!("{x:.1e}")
    } else {
        format!("{x}")
    }
}

/// What a walk needs to know of the scenario to bound its work.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// `scenario.horizon_s`.
    pub horizon_s: f64,
    /// `scenario.events_max`.
    pub events_max: u64,
}

/// Every number of `doc` outside its bound, and every period that would
/// wake the drill more often than the budget allows, located by field path.
pub fn check(doc: &DeTable<'_>, budget: Budget) -> Vec<(FieldPath, String)> {
    let mut out = Vec::new();
    for (k, v) in doc.iter() {
        let key = k.get_ref();
        walk(
            v.get_ref(),
            (key, false),
            &FieldPath::root().key(key),
            budget,
            &mut out,
        );
    }
    out
}

/// Walks `v`, stored under `key` (`in_dist`: as a distribution's parameter).
fn walk(
    v: &DeValue<'_>,
    (key, in_dist): (&str, bool),
    at: &FieldPath,
    budget: Budget,
    out: &mut Vec<(FieldPath, String)>,
) {
    match v {
        DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
            Ok(x) => number((x as f64, &i.to_string()), (key, in_dist), at, budget, out),
            Err(_) => out.push((at.clone(), format!("{i} is not a number"))),
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(x) => number((x, f.as_str()), (key, in_dist), at, budget, out),
            Err(_) => out.push((at.clone(), format!("{f} is not a number"))),
        },
        DeValue::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x.get_ref(), (key, in_dist), &at.index(i), budget, out);
            }
        }
        DeValue::Table(t) => {
            // A distribution (`{ uniform = [2, 6] }`) takes the bound of
            // the key that holds it ([`for_dist`]); any other table's keys
            // have their own.
            let dist = for_key(key).is_some();
            for (k, x) in t.iter() {
                let inner = k.get_ref();
                let bound_key: (&str, bool) = if dist { (key, true) } else { (inner, false) };
                walk(x.get_ref(), bound_key, &at.key(inner), budget, out);
            }
        }
        _ => {}
    }
}

/// Checks `x` (with its text as written) against the bound of `key` (of
/// a distribution's parameters under `key` when `in_dist`).
fn number(
    (x, written): (f64, &str),
    (key, in_dist): (&str, bool),
    at: &FieldPath,
    budget: Budget,
    out: &mut Vec<(FieldPath, String)>,
) {
    let bound = if in_dist { for_dist(key) } else { for_key(key) };
    let Some(b) = bound else {
        // Not a numeric field of the format: serde reports the type error.
        return;
    };
    if !x.is_finite() || x < b.min || x > b.max {
        out.push((
            at.clone(),
            format!(
                "{written} is out of range: allowed {} to {} ({})",
                fmt_num(b.min),
                fmt_num(b.max),
                b.what
            ),
        ));
        return;
    }
    if b.integer && x.fract() != 0.0 {
        out.push((at.clone(), format!("{written} must be a whole number")));
        return;
    }
    let period_s = if key.ends_with("_interval_s") {
        Some(x)
    } else if key.ends_with("_interval_ms") {
        Some(x / 1e3)
    } else {
        None
    };
    if let Some(p) = period_s {
        let wakes = budget.horizon_s / p;
        if wakes > budget.events_max as f64 {
            out.push((
                at.clone(),
                format!(
                    "a period of {written} {} wakes the drill {wakes:.0} times over the {} s horizon, \
                     more than the event budget (scenario.events_max = {}): lengthen the \
                     period, shorten the horizon or raise events_max (at most {EVENTS_MAX_MAX})",
                    if key.ends_with("_ms") { "ms" } else { "s" },
                    budget.horizon_s,
                    budget.events_max
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(String, String)> {
        let doc = DeTable::parse(text).expect("toml");
        check(
            doc.get_ref(),
            Budget {
                horizon_s: 900.0,
                events_max: 1000,
            },
        )
        .into_iter()
        .map(|(p, m)| (p.to_string(), m))
        .collect()
    }

    #[test]
    fn huge_durations_are_refused_where_they_stand() {
        let p = problems(
            "[policy]\noperator_response_s = 1e20\n[timing]\nstore_mount_s = { uniform = [1, 1e300] }\n",
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].0, "policy.operator_response_s");
        assert!(p[0].1.contains("allowed 0 to 1e8"), "{}", p[0].1);
        assert_eq!(p[1].0, "timing.store_mount_s.uniform[1]");
    }

    #[test]
    fn periods_are_bounded_below_and_by_the_budget() {
        let p = problems("[policy]\nheartbeat_interval_s = 1e-9\n");
        assert!(p[0].1.contains("allowed 1e-3 to"), "{p:?}");
        // 900 s / 0.5 s = 1800 wakes > 1000.
        let p = problems("[runbook]\ncheck_interval_s = 0.5\n");
        assert_eq!(p[0].0, "runbook.check_interval_s");
        assert!(p[0].1.contains("1800 times"), "{p:?}");
        assert!(problems("[runbook]\ncheck_interval_s = 1\n").is_empty());
    }

    #[test]
    fn whole_numbers_and_fractions() {
        let p = problems("[[links]]\nloss = 1.5\n[dag]\npreference = 17\n");
        assert_eq!(p.len(), 2, "{p:?}");
        let p = problems("[[archive_disks]]\nlevels_h = [24, 0]\n");
        assert_eq!(p[0].0, "archive_disks[0].levels_h[1]");
    }

    #[test]
    fn a_whole_number_fields_distribution_takes_real_parameters_from_0() {
        // A spread, a fractional bound and an explicit `min = 0` are sizes
        // a distribution may have; its draws are rounded and clamped.
        for ok in [
            "[workload]\nwrite_bytes = { normal = [32768, 0.5] }\n",
            "[workload]\nwrite_bytes = { normal = [32768, 100], min = 0 }\n",
            "[workload]\nwrite_bytes = { uniform = [4096.5, 8192.25] }\n",
            "[workload]\nwrite_bytes = { uniform = [0, 10] }\n",
            "[workload]\nwrite_bytes = { exponential = 76800.5 }\n",
        ] {
            assert!(problems(ok).is_empty(), "{ok}: {:?}", problems(ok));
        }
        // A plain size is still a whole number of bytes from 1 ...
        let p = problems("[workload]\nwrite_bytes = 4096.5\n");
        assert!(p[0].1.contains("whole number"), "{p:?}");
        let p = problems("[workload]\nwrite_bytes = 0\n");
        assert!(p[0].1.contains("allowed 1 to"), "{p:?}");
        // ... and no parameter is negative or above 1 GiB.
        let p = problems("[workload]\nwrite_bytes = { normal = [-1, 1e10] }\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].0, "workload.write_bytes.normal[0]");
        assert!(p[0].1.contains("allowed 0 to 1073741824"), "{p:?}");
        assert_eq!(p[1].0, "workload.write_bytes.normal[1]");
        // A real field's distribution keeps the field's bound.
        assert_eq!(for_dist("store_mount_s"), for_key("store_mount_s"));
    }

    #[test]
    fn the_format_doc_shows_this_table() {
        let doc = include_str!("../../docs/scenario-format.md");
        assert!(
            doc.contains(&markdown_table()),
            "docs/scenario-format.md must contain bounds::markdown_table():\n{}",
            markdown_table()
        );
    }

    /// Every numeric field declared in `format/` has a rule (a tidy test
    /// over the source, so a new field cannot go unbounded).
    #[test]
    fn every_numeric_field_has_a_bound() {
        let sources = [
            include_str!("format/mod.rs"),
            include_str!("format/estate.rs"),
            include_str!("format/fabric.rs"),
            include_str!("format/runbook.rs"),
            include_str!("format/runbook_dr.rs"),
            include_str!("format/runbook_recovery.rs"),
            include_str!("format/timing.rs"),
            include_str!("format/workload.rs"),
        ];
        let numeric = [
            "f64", "f32", "u8", "u16", "u32", "u64", "usize", "i32", "i64", "Dist",
        ];
        let mut missing = Vec::new();
        for src in sources {
            for line in src.lines() {
                let Some(rest) = line.trim().strip_prefix("pub ") else {
                    continue;
                };
                let Some((name, ty)) = rest.split_once(": ") else {
                    continue;
                };
                let ty = ty.trim_end_matches(',');
                let is_numeric = numeric.iter().any(|n| {
                    ty == *n
                        || ty.contains(&format!("<{n}>"))
                        || ty.contains(&format!("[{n};"))
                        || ty.contains(&format!(", {n}>"))
                });
                if is_numeric && for_key(name).is_none() {
                    missing.push(name.to_string());
                }
            }
        }
        assert!(missing.is_empty(), "fields without a bound: {missing:?}");
    }
}
