//! Two reports side by side, typically the simulated and the measured (lab)
//! run of one scenario: verdicts, the RTO and its breakdown, RPO and lost
//! writes, every step's start and duration (matched by position and
//! label), and the DR state traces. A pure function of the two reports.
//!
//! The reports *disagree* (and `drlab compare` exits 1) when, and only
//! when, one of these rules holds:
//! 1. the verdicts differ;
//! 2. the RTO of B differs from A's by more than the tolerance, in % of A's
//!    (more than, not equal to); users served again in one report and never
//!    in the other; or A's RTO is 0 and B's is not (no percentage of 0
//!    holds a difference);
//! 3. the DR state traces differ: the sequence of states entered and the
//!    transitions that led there (their times are shown, not judged);
//! 4. the step lists differ: another number of steps, or another label at
//!    some position (their timings are then compared only where the labels
//!    agree);
//! 5. a step of one label at one position ended otherwise (`ok` in A,
//!    `failed` in B, …).
//!
//! Step durations and the breakdown are shown, never judged: the RTO holds
//! their sum, and a single short step's percentage says little. RPO and
//! lost writes are shown, never judged either: they depend on where the
//! replication stood when the fault struck (a batch just sent or about to
//! be), which two runs of one scenario need not share. A different
//! scenario or runbook is a warning line.

use std::fmt::Write;

use serde::Serialize;

use crate::compute::{Breakdown, Report, StateLine, StepLine, Verdict};
use crate::render::{md_escape, opt, verdict_word};

/// The tolerance `drlab compare` applies without `--tolerance`.
pub const DEFAULT_TOLERANCE_PCT: f64 = 10.0;

/// The largest tolerance accepted.
pub const TOLERANCE_PCT_MAX: f64 = 1000.0;

/// How far B's RTO may be from A's, in % of A's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Tolerance(f64);

impl Tolerance {
    /// A tolerance of `pct` %, from 0 to [`TOLERANCE_PCT_MAX`].
    pub fn pct(pct: f64) -> Result<Tolerance, CompareError> {
        if pct.is_finite() && (0.0..=TOLERANCE_PCT_MAX).contains(&pct) {
            Ok(Tolerance(pct))
        } else {
            Err(CompareError::Tolerance(pct))
        }
    }

    /// The percentage.
    pub fn as_pct(self) -> f64 {
        self.0
    }
}

impl Default for Tolerance {
    fn default() -> Tolerance {
        Tolerance(DEFAULT_TOLERANCE_PCT)
    }
}

/// Why a comparison cannot be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// The tolerance is not a percentage in range.
    #[error("tolerance {0} % is not a percentage from 0 to {TOLERANCE_PCT_MAX}")]
    Tolerance(f64),
}

/// `b - a` in % of `a`: 0 when both are 0, none when only `a` is.
pub fn difference_pct(a: f64, b: f64) -> Option<f64> {
    if a == 0.0 {
        (b == 0.0).then_some(0.0)
    } else {
        Some((b - a) / a * 100.0)
    }
}

/// One figure of both reports, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// In A.
    pub a: Option<f64>,
    /// In B.
    pub b: Option<f64>,
    /// `b - a`, rounded to the millisecond, when both are known.
    pub diff: Option<f64>,
    /// `diff` in % of `a` (see [`difference_pct`]).
    pub diff_pct: Option<f64>,
}

fn figure(a: Option<f64>, b: Option<f64>) -> Figure {
    let both = a.zip(b);
    Figure {
        a,
        b,
        diff: both.map(|(a, b)| ((b - a) * 1000.0).round() / 1000.0),
        diff_pct: both.and_then(|(a, b)| difference_pct(a, b)),
    }
}

/// Which run a report is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    /// Scenario name.
    pub scenario: String,
    /// `sim` or `lab`.
    pub backend: String,
    /// Seed.
    pub seed: u64,
    /// Runbook.
    pub runbook: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its reasons.
    pub reasons: Vec<String>,
    /// Its trace hash.
    pub trace_hash: String,
}

fn side(r: &Report) -> Side {
    Side {
        scenario: r.scenario.clone(),
        backend: r.backend.clone(),
        seed: r.seed,
        runbook: r.runbook.clone(),
        verdict: r.verdict,
        reasons: r.reasons.clone(),
        trace_hash: r.trace_hash.clone(),
    }
}

/// One part of the RTO breakdown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Part {
    /// `detection`, `decision`, `execution` or `propagation`.
    pub part: &'static str,
    /// Its seconds.
    #[serde(flatten)]
    pub figure: Figure,
}

/// Lost writes of both.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Counts {
    /// In A.
    pub a: u64,
    /// In B.
    pub b: u64,
    /// `b - a`.
    pub diff: i128,
}

/// The steps at one position of both lists.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepPair {
    /// 1-based.
    pub position: usize,
    /// A's label (none: A has fewer steps).
    pub a: Option<String>,
    /// B's label (none: B has fewer steps).
    pub b: Option<String>,
    /// Both present with one label: only then are the timings compared.
    pub same: bool,
    /// Both present with one label and one outcome.
    pub same_outcome: bool,
    /// A's outcome.
    pub outcome_a: Option<&'static str>,
    /// B's outcome.
    pub outcome_b: Option<&'static str>,
    /// Start (drill seconds).
    pub start: Figure,
    /// Duration.
    pub duration: Figure,
}

/// A state entered, as the trace comparison sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StateStep {
    /// Console label.
    pub state: &'static str,
    /// Patent reference number.
    pub code: u16,
    /// Transition that led here.
    pub via: Option<u16>,
}

/// The states at one position of both traces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatePair {
    /// 1-based.
    pub position: usize,
    /// A's state.
    pub a: Option<StateStep>,
    /// B's state.
    pub b: Option<StateStep>,
    /// Both present and equal (state and transition).
    pub same: bool,
    /// When each was entered.
    pub at: Figure,
}

/// Two reports compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The tolerance on the RTO, in % of A's.
    pub tolerance_pct: f64,
    /// No rule of the module documentation holds.
    pub agree: bool,
    /// Each rule that holds, as a sentence.
    pub disagreements: Vec<String>,
    /// What is odd but judged by no rule (another scenario, runbook).
    pub warnings: Vec<String>,
    /// The first report.
    pub a: Side,
    /// The second report.
    pub b: Side,
    /// RTO (none: users never served again).
    pub rto: Figure,
    /// RTO breakdown (empty when either report has none).
    pub breakdown: Vec<Part>,
    /// RPO (none: the read-back failed).
    pub rpo: Figure,
    /// Lost writes.
    pub lost_writes: Counts,
    /// Same number of steps, same labels, same outcomes.
    pub steps_agree: bool,
    /// Steps by position.
    pub steps: Vec<StepPair>,
    /// Same states through the same transitions.
    pub states_agree: bool,
    /// States by position.
    pub states: Vec<StatePair>,
}

impl Comparison {
    /// The disagreements but rule 1's (the verdicts): what still has to
    /// agree when a difference of outcome is declared and explained (a
    /// scenario's `[lab] differs`): the same steps ending the same way, the
    /// same states, the RTO within the tolerance.
    pub fn besides_verdicts(&self) -> Vec<&str> {
        let verdicts = verdict_rule(self);
        self.disagreements
            .iter()
            .map(String::as_str)
            .filter(|d| Some(*d) != verdicts.as_deref())
            .collect()
    }
}

/// Whether `b` (a lab run) agrees with `a` (the simulator's) but for a
/// difference the model explains (a scenario's `[lab] differs`): `a`
/// failing a step that `b` passes, the verdicts, and everything after that
/// step. Before it the two must agree as any two do: the same steps ending
/// the same way, the same states, the RTO within the tolerance. A `b` that
/// fails where `a` passes is never excused. Says where they part, or why
/// they disagree.
pub fn agree_but_for_a_stricter_model(
    a: &Report,
    b: &Report,
    tolerance: Tolerance,
) -> Result<String, String> {
    let c = compare(a, b, tolerance);
    let Some(k) = c.steps.iter().position(|p| !p.same_outcome) else {
        let left = c.besides_verdicts();
        return if !left.is_empty() {
            Err(left.join("; "))
        } else if a.verdict == Verdict::Pass && b.verdict != Verdict::Pass {
            Err(format!("A passes and B fails ({})", b.reasons.join("; ")))
        } else {
            Ok("the arms agree but for their verdicts".into())
        };
    };
    let (sa, sb) = match (a.steps.get(k), b.steps.get(k)) {
        (Some(x), Some(y)) if x.name == y.name && x.outcome == "failed" && y.outcome == "ok" => {
            (x, y)
        }
        _ => {
            let p = &c.steps[k];
            return Err(format!(
                "they part at step {} ({} in A, {} in B), not where A fails a step B passes",
                k + 1,
                opt_step(p.a.as_deref(), p.outcome_a),
                opt_step(p.b.as_deref(), p.outcome_b),
            ));
        }
    };
    let before = |r: &Report, start_s: f64| {
        let mut r = r.clone();
        r.steps.truncate(k);
        r.states.retain(|st| st.at_s < start_s);
        r
    };
    let c = compare(&before(a, sa.start_s), &before(b, sb.start_s), tolerance);
    let left = c.besides_verdicts();
    if left.is_empty() {
        Ok(format!(
            "the arms agree up to step {} {:?}, which A fails and B passes",
            k + 1,
            sa.name
        ))
    } else {
        Err(format!(
            "before step {} {:?}: {}",
            k + 1,
            sa.name,
            left.join("; ")
        ))
    }
}

/// `"label" outcome`, or `nothing`.
fn opt_step(label: Option<&str>, outcome: Option<&str>) -> String {
    match (label, outcome) {
        (Some(l), Some(o)) => format!("{l:?} {o}"),
        (Some(l), None) => format!("{l:?}"),
        _ => "nothing".into(),
    }
}

/// Compares report `b` against report `a` (the reference: percentages are
/// of A's figures).
pub fn compare(a: &Report, b: &Report, tolerance: Tolerance) -> Comparison {
    let steps = step_pairs(&a.steps, &b.steps);
    let states = state_pairs(&a.states, &b.states);
    let mut c = Comparison {
        tolerance_pct: tolerance.as_pct(),
        agree: true,
        disagreements: Vec::new(),
        warnings: warnings(a, b),
        a: side(a),
        b: side(b),
        rto: figure(a.rto_s, b.rto_s),
        breakdown: breakdown(a.rto_breakdown, b.rto_breakdown),
        rpo: figure(a.rpo_s, b.rpo_s),
        lost_writes: Counts {
            a: a.lost_writes,
            b: b.lost_writes,
            diff: i128::from(b.lost_writes) - i128::from(a.lost_writes),
        },
        steps_agree: steps.iter().all(|s| s.same_outcome),
        steps,
        states_agree: states.iter().all(|s| s.same),
        states,
    };
    c.disagreements = [
        verdict_rule(&c),
        rto_rule(&c),
        states_rule(&c),
        steps_rule(&c),
        outcomes_rule(&c),
    ]
    .into_iter()
    .flatten()
    .collect();
    c.agree = c.disagreements.is_empty();
    c
}

fn warnings(a: &Report, b: &Report) -> Vec<String> {
    let mut w = Vec::new();
    if a.scenario != b.scenario {
        w.push(format!(
            "the reports are of different scenarios: A {}, B {}",
            a.scenario, b.scenario
        ));
    }
    if a.runbook != b.runbook {
        w.push(format!(
            "the reports ran different runbooks: A {}, B {}",
            a.runbook, b.runbook
        ));
    }
    w
}

/// One part's seconds of a breakdown.
type Seconds = fn(&Breakdown) -> f64;

fn breakdown(a: Option<Breakdown>, b: Option<Breakdown>) -> Vec<Part> {
    let Some((a, b)) = a.zip(b) else {
        return Vec::new();
    };
    let parts: [(&'static str, Seconds); 4] = [
        ("detection", |x| x.detection_s),
        ("decision", |x| x.decision_s),
        ("execution", |x| x.execution_s),
        ("propagation", |x| x.propagation_s),
    ];
    parts
        .into_iter()
        .map(|(part, f)| Part {
            part,
            figure: figure(Some(f(&a)), Some(f(&b))),
        })
        .collect()
}

fn step_pairs(a: &[StepLine], b: &[StepLine]) -> Vec<StepPair> {
    (0..a.len().max(b.len()))
        .map(|i| {
            let (x, y) = (a.get(i), b.get(i));
            let same = matches!((x, y), (Some(x), Some(y)) if x.name == y.name);
            let timed = |f: fn(&StepLine) -> f64| {
                if same {
                    figure(x.map(f), y.map(f))
                } else {
                    figure(x.map(f), None).with_b(y.map(f))
                }
            };
            StepPair {
                position: i + 1,
                a: x.map(|s| s.name.clone()),
                b: y.map(|s| s.name.clone()),
                same,
                same_outcome: same && x.map(|s| s.outcome) == y.map(|s| s.outcome),
                outcome_a: x.map(|s| s.outcome),
                outcome_b: y.map(|s| s.outcome),
                start: timed(|s| s.start_s),
                duration: timed(|s| s.duration_s),
            }
        })
        .collect()
}

impl Figure {
    /// The figure with B's value shown but not differenced (steps whose
    /// labels differ are not the same step).
    fn with_b(mut self, b: Option<f64>) -> Figure {
        self.b = b;
        self
    }
}

fn state_step(s: &StateLine) -> StateStep {
    StateStep {
        state: s.state,
        code: s.code,
        via: s.via,
    }
}

fn state_pairs(a: &[StateLine], b: &[StateLine]) -> Vec<StatePair> {
    (0..a.len().max(b.len()))
        .map(|i| {
            let (x, y) = (a.get(i).map(state_step), b.get(i).map(state_step));
            StatePair {
                position: i + 1,
                a: x,
                b: y,
                same: x.is_some() && x == y,
                at: figure(a.get(i).map(|s| s.at_s), b.get(i).map(|s| s.at_s)),
            }
        })
        .collect()
}

fn verdict_rule(c: &Comparison) -> Option<String> {
    (c.a.verdict != c.b.verdict).then(|| {
        let why = |s: &Side| {
            if s.reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.reasons.join("; "))
            }
        };
        format!(
            "verdicts differ: A {}{}, B {}{}",
            verdict_word(c.a.verdict),
            why(&c.a),
            verdict_word(c.b.verdict),
            why(&c.b)
        )
    })
}

fn rto_rule(c: &Comparison) -> Option<String> {
    let tol = c.tolerance_pct;
    let (a, b) = match (c.rto.a, c.rto.b) {
        (None, None) => return None,
        (Some(a), None) => {
            return Some(format!(
                "users were served again in A (RTO {a:.3} s) but never in B"
            ));
        }
        (None, Some(b)) => {
            return Some(format!(
                "users were served again in B (RTO {b:.3} s) but never in A"
            ));
        }
        (Some(a), Some(b)) => (a, b),
    };
    let diff = c.rto.diff.unwrap_or(b - a);
    let agrees = if a == 0.0 {
        b == 0.0
    } else {
        within(a, b, tol)
    };
    if agrees {
        return None;
    }
    let head = match c.rto.diff_pct {
        Some(p) => format!(
            "RTO differs by {p:+.1} % ({a:.3} s in A, {b:.3} s in B, {diff:+.3} s), beyond \
             the tolerance of {tol} %"
        ),
        None => {
            format!("RTO is 0 in A and {b:.3} s in B: no tolerance in % of 0 covers a difference")
        }
    };
    Some(head + &largest_differences(c))
}

/// `b` is within `tol` % of `a` (`a` not 0): `|b - a| <= tol × |a| / 100`,
/// with a margin of a billionth of `a` (at least 1e-9) so that a figure
/// exactly at the tolerance, such as 3.3 against 3 at 10 %, is within
/// whatever the rounding of its decimal.
fn within(a: f64, b: f64, tol: f64) -> bool {
    (b - a).abs() <= tol * a.abs() / 100.0 + 1e-9 * a.abs().max(1.0)
}

/// Where an RTO difference came from: the breakdown part and the step
/// that differ most.
fn largest_differences(c: &Comparison) -> String {
    let largest = |it: &mut dyn Iterator<Item = (String, f64)>| {
        it.filter(|(_, d)| *d != 0.0)
            .max_by(|x, y| x.1.abs().total_cmp(&y.1.abs()))
    };
    let mut o = String::new();
    if let Some((part, d)) = largest(
        &mut c
            .breakdown
            .iter()
            .filter_map(|p| Some((p.part.to_string(), p.figure.diff?))),
    ) {
        let _ = write!(o, "; most in {part} ({d:+.3} s)");
    }
    if let Some((step, d)) = largest(&mut c.steps.iter().filter_map(|s| {
        let name = s.a.as_deref()?;
        Some((format!("step {} \"{name}\"", s.position), s.duration.diff?))
    })) {
        let _ = write!(o, "; the step that differs most is {step} ({d:+.3} s)");
    }
    o
}

fn state_words(s: Option<StateStep>) -> String {
    match s {
        None => "nothing".to_string(),
        Some(s) => {
            let via = s.via.map(|v| format!(" via {v}")).unwrap_or_default();
            format!("{} ({}){via}", s.state, s.code)
        }
    }
}

fn states_rule(c: &Comparison) -> Option<String> {
    let first = c.states.iter().find(|s| !s.same)?;
    let count = |f: fn(&StatePair) -> bool| c.states.iter().filter(|s| f(s)).count();
    Some(format!(
        "DR state traces differ at state {} (A has {} states, B {}): A {}, B {}",
        first.position,
        count(|s| s.a.is_some()),
        count(|s| s.b.is_some()),
        state_words(first.a),
        state_words(first.b)
    ))
}

fn steps_rule(c: &Comparison) -> Option<String> {
    let first = c.steps.iter().find(|s| !s.same)?;
    let count = |f: fn(&StepPair) -> bool| c.steps.iter().filter(|s| f(s)).count();
    let label = |s: &Option<String>| s.as_ref().map_or("nothing".into(), |n| format!("\"{n}\""));
    Some(format!(
        "step lists differ (A has {} steps, B {}): first at step {}, A {}, B {}",
        count(|s| s.a.is_some()),
        count(|s| s.b.is_some()),
        first.position,
        label(&first.a),
        label(&first.b)
    ))
}

fn outcomes_rule(c: &Comparison) -> Option<String> {
    let mut other = c.steps.iter().filter(|s| s.same && !s.same_outcome);
    let first = other.next()?;
    let more = other.count();
    let more = match more {
        0 => String::new(),
        1 => "; 1 more step ended otherwise".to_string(),
        n => format!("; {n} more steps ended otherwise"),
    };
    Some(format!(
        "step {} \"{}\" ended {} in A, {} in B{more}",
        first.position,
        first.a.as_deref().unwrap_or_default(),
        first.outcome_a.unwrap_or("-"),
        first.outcome_b.unwrap_or("-"),
    ))
}

/// `+3.8 %`, or `-` when there is no percentage.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |p| format!("{p:+.1} %"))
}

/// A signed difference in seconds, or `-`.
fn signed(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |d| format!("{d:+.3}"))
}

fn headline(c: &Comparison) -> String {
    let who = |s: &Side| format!("{} {} (seed {})", s.scenario, s.backend, s.seed);
    format!(
        "{} A {} vs B {}, RTO tolerance {} %",
        if c.agree { "AGREE" } else { "DISAGREE" },
        who(&c.a),
        who(&c.b),
        c.tolerance_pct
    )
}

/// A terminal comparison.
pub fn compare_text(c: &Comparison) -> String {
    let mut o = headline(c) + "\n";
    let _ = writeln!(
        o,
        "  verdicts: A {}, B {}",
        verdict_word(c.a.verdict),
        verdict_word(c.b.verdict)
    );
    for d in &c.disagreements {
        let _ = writeln!(o, "  disagrees: {d}");
    }
    for w in &c.warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
    let row = |o: &mut String, name: &str, f: &Figure| {
        let _ = writeln!(
            o,
            "  {name:<14} {:>10} {:>10} {:>10} {:>9}",
            opt(f.a),
            opt(f.b),
            signed(f.diff),
            pct(f.diff_pct)
        );
    };
    let _ = writeln!(
        o,
        "  {:<14} {:>10} {:>10} {:>10} {:>9}",
        "(s)", "A", "B", "B-A", "%"
    );
    row(&mut o, "RTO", &c.rto);
    for p in &c.breakdown {
        row(&mut o, &format!("  {}", p.part), &p.figure);
    }
    row(&mut o, "RPO", &c.rpo);
    let l = &c.lost_writes;
    let _ = writeln!(
        o,
        "  {:<14} {:>10} {:>10} {:>+10}",
        "lost writes", l.a, l.b, l.diff
    );
    steps_text(c, &mut o);
    states_text(c, &mut o);
    o
}

/// How the step lists compare, for the table's title.
fn steps_word(c: &Comparison) -> &'static str {
    if c.steps_agree {
        "same list"
    } else if c.steps.iter().all(|s| s.same) {
        "same list, other outcomes"
    } else {
        "the lists differ"
    }
}

fn steps_text(c: &Comparison, o: &mut String) {
    let _ = writeln!(
        o,
        "  steps ({}, matched by position and label):",
        steps_word(c)
    );
    let _ = writeln!(
        o,
        "    {:>3} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  step",
        "#", "start A", "start B", "B-A", "dur A", "dur B", "B-A", "%"
    );
    for r in step_rows(c) {
        r.text(o, &STEP_WIDTHS);
    }
}

fn states_text(c: &Comparison, o: &mut String) {
    let _ = writeln!(
        o,
        "  DR states ({}):",
        if c.states_agree {
            "same trace"
        } else {
            "the traces differ"
        }
    );
    for r in state_rows(c) {
        r.text(o, &STATE_WIDTHS);
    }
}

/// A Markdown comparison.
pub fn compare_markdown(c: &Comparison) -> String {
    let mut o = format!("# drlab compare: {}\n\n", md_escape(&c.a.scenario));
    let _ = writeln!(o, "**{}**\n", md_escape(&headline(c)));
    let _ = writeln!(
        o,
        "| | A | B |\n|---|---|---|\n| backend | {} | {} |\n| seed | {} | {} |\n\
         | runbook | {} | {} |\n| verdict | {} | {} |\n| trace | `{}` | `{}` |\n",
        md_escape(&c.a.backend),
        md_escape(&c.b.backend),
        c.a.seed,
        c.b.seed,
        md_escape(&c.a.runbook),
        md_escape(&c.b.runbook),
        verdict_word(c.a.verdict),
        verdict_word(c.b.verdict),
        c.a.trace_hash,
        c.b.trace_hash
    );
    if !c.disagreements.is_empty() || !c.warnings.is_empty() {
        for d in &c.disagreements {
            let _ = writeln!(o, "- disagrees: {}", md_escape(d));
        }
        for w in &c.warnings {
            let _ = writeln!(o, "- warning: {}", md_escape(w));
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "## RTO and RPO\n\n| (s) | A | B | B-A | % |\n|---|---:|---:|---:|---:|"
    );
    let row = |o: &mut String, name: &str, f: &Figure| {
        let _ = writeln!(
            o,
            "| {name} | {} | {} | {} | {} |",
            opt(f.a),
            opt(f.b),
            signed(f.diff),
            pct(f.diff_pct)
        );
    };
    row(&mut o, "RTO", &c.rto);
    for p in &c.breakdown {
        row(&mut o, &format!("· {}", p.part), &p.figure);
    }
    row(&mut o, "RPO", &c.rpo);
    let l = &c.lost_writes;
    let _ = writeln!(o, "| lost writes | {} | {} | {:+} | |\n", l.a, l.b, l.diff);
    let _ = writeln!(
        o,
        "## Steps ({})\n\n| # | start A | start B | B-A | duration A | duration B | B-A | % | step |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---|",
        steps_word(c)
    );
    for r in step_rows(c) {
        r.markdown(&mut o);
    }
    let _ = writeln!(
        o,
        "\n## DR states ({})\n\n| # | at A | at B | B-A | state |\n|---:|---:|---:|---:|---|",
        if c.states_agree {
            "same trace"
        } else {
            "the traces differ"
        }
    );
    for r in state_rows(c) {
        r.markdown(&mut o);
    }
    o
}

/// What a step or state row is about: one thing in both reports, or A's
/// and B's.
enum Name {
    Both(String),
    Each(String, String),
}

/// One row of the step or state table, for text and Markdown alike.
struct Row {
    cells: Vec<String>,
    name: Name,
}

/// The text widths of the step table's cells.
const STEP_WIDTHS: [usize; 8] = [3, 9, 9, 8, 8, 8, 8, 8];

/// The text widths of the state table's cells.
const STATE_WIDTHS: [usize; 4] = [3, 9, 9, 8];

impl Row {
    fn text(&self, o: &mut String, widths: &[usize]) {
        o.push_str("   ");
        for (cell, w) in self.cells.iter().zip(widths) {
            let _ = write!(o, " {cell:>w$}");
        }
        let _ = match &self.name {
            Name::Both(n) => writeln!(o, "  {n}"),
            Name::Each(a, b) => writeln!(o, "  A {a} | B {b}"),
        };
    }

    fn markdown(&self, o: &mut String) {
        o.push('|');
        for cell in &self.cells {
            let _ = write!(o, " {cell} |");
        }
        let _ = match &self.name {
            Name::Both(n) => writeln!(o, " {} |", md_escape(n)),
            Name::Each(a, b) => writeln!(o, " A {} · B {} |", md_escape(a), md_escape(b)),
        };
    }
}

fn step_rows(c: &Comparison) -> Vec<Row> {
    c.steps
        .iter()
        .map(|s| {
            let name = match (&s.a, &s.b) {
                (Some(a), Some(_)) if s.same_outcome => Name::Both(a.clone()),
                (Some(a), Some(_)) if s.same => Name::Both(format!(
                    "{a} (ended {} in A, {} in B)",
                    s.outcome_a.unwrap_or("-"),
                    s.outcome_b.unwrap_or("-")
                )),
                (a, b) => Name::Each(
                    a.as_deref().unwrap_or("-").to_string(),
                    b.as_deref().unwrap_or("-").to_string(),
                ),
            };
            Row {
                cells: vec![
                    s.position.to_string(),
                    opt(s.start.a),
                    opt(s.start.b),
                    signed(s.start.diff),
                    opt(s.duration.a),
                    opt(s.duration.b),
                    signed(s.duration.diff),
                    pct(s.duration.diff_pct),
                ],
                name,
            }
        })
        .collect()
}

fn state_rows(c: &Comparison) -> Vec<Row> {
    c.states
        .iter()
        .map(|s| Row {
            cells: vec![
                s.position.to_string(),
                opt(s.at.a),
                opt(s.at.b),
                signed(s.at.diff),
            ],
            name: if s.same {
                Name::Both(state_words(s.a))
            } else {
                Name::Each(state_words(s.a), state_words(s.b))
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::{Objectives, Timeline, WriteCounts};

    fn step(name: &str, start_s: f64, duration_s: f64) -> StepLine {
        StepLine {
            name: name.into(),
            start_s,
            duration_s,
            outcome: "ok",
            detail: None,
        }
    }

    fn state(at_s: f64, code: u16, via: Option<u16>) -> StateLine {
        StateLine {
            at_s,
            state: "Normal",
            code,
            via,
        }
    }

    fn report() -> Report {
        Report {
            scenario: "s".into(),
            backend: "sim".into(),
            seed: 1,
            runbook: "r".into(),
            verdict: Verdict::Pass,
            reasons: Vec::new(),
            objectives: Objectives {
                rto_s: 60.0,
                rpo_s: 5.0,
                failover_s: None,
            },
            rto_s: Some(100.0),
            rto_breakdown: Some(Breakdown {
                detection_s: 10.0,
                decision_s: 20.0,
                execution_s: 70.0,
                propagation_s: 0.0,
            }),
            rpo_s: Some(0.0),
            lost_writes: 0,
            lost_bytes: 0,
            lost_seqs: drlab_drivers::SeqSet::new(),
            decision: None,
            timeline: Timeline::default(),
            workload: WriteCounts::default(),
            faults: Vec::new(),
            steps: vec![step("a", 30.0, 20.0), step("b", 50.0, 50.0)],
            states: vec![state(0.0, 202, None), state(5.0, 206, Some(204))],
            failover_s: None,
            switch_back_s: None,
            clients: Vec::new(),
            recovery: crate::recovery::Recovery::default(),
            alerts: Vec::new(),
            end_reason: "done".into(),
            events: 10,
            trace_hash: "h".into(),
        }
    }

    #[test]
    fn a_report_agrees_with_itself_with_every_difference_zero() {
        let c = compare(&report(), &report(), Tolerance::default());
        assert!(c.agree, "{:?}", c.disagreements);
        assert_eq!(c.rto.diff, Some(0.0));
        assert_eq!(c.rto.diff_pct, Some(0.0));
        assert!(c.steps.iter().all(|s| s.duration.diff == Some(0.0)));
        assert!(c.breakdown.iter().all(|p| p.figure.diff == Some(0.0)));
    }

    #[test]
    fn the_tolerance_is_strict_and_names_the_step() {
        let mut b = report();
        b.rto_s = Some(110.0);
        b.steps[1].duration_s = 60.0;
        let at_ten = compare(&report(), &b, Tolerance::pct(10.0).unwrap());
        assert!(
            at_ten.agree,
            "exactly 10 % is within: {:?}",
            at_ten.disagreements
        );
        let at_five = compare(&report(), &b, Tolerance::pct(5.0).unwrap());
        assert!(!at_five.agree);
        let why = &at_five.disagreements[0];
        assert!(why.contains("+10.0 %"), "{why}");
        assert!(why.contains("step 2 \"b\" (+10.000 s)"), "{why}");
    }

    #[test]
    fn verdicts_states_and_step_lists_are_rules() {
        let mut b = report();
        b.verdict = Verdict::Fail;
        b.states[1].via = Some(999);
        b.steps.push(step("c", 100.0, 1.0));
        let c = compare(&report(), &b, Tolerance::default());
        let all = c.disagreements.join("\n");
        assert!(all.contains("verdicts differ: A PASS, B FAIL"), "{all}");
        assert!(all.contains("DR state traces differ at state 2"), "{all}");
        assert!(
            all.contains("step lists differ (A has 2 steps, B 3)"),
            "{all}"
        );
        assert_eq!(c.disagreements.len(), 3, "{all}");
        // A declared difference of outcome excuses the verdicts only.
        let left = c.besides_verdicts();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.iter().all(|d| !d.contains("verdicts")), "{left:?}");
        let mut only_verdict = report();
        only_verdict.verdict = Verdict::Fail;
        let c = compare(&report(), &only_verdict, Tolerance::default());
        assert!(!c.agree && c.besides_verdicts().is_empty());
    }

    #[test]
    fn a_stricter_model_excuses_only_its_failed_step_and_what_follows() {
        let t = Tolerance::default();
        // the model fails step 2, the lab passes it and goes on
        let mut sim = report();
        sim.verdict = Verdict::Fail;
        sim.steps[1].outcome = "failed";
        let mut lab = report();
        lab.steps.push(step("c", 100.0, 1.0));
        lab.states.push(state(60.0, 222, Some(220)));
        let how = agree_but_for_a_stricter_model(&sim, &lab, t).unwrap();
        assert!(how.contains("up to step 2 \"b\""), "{how}");
        // ...but not a lab that fails where the model passes
        let mut bad = report();
        bad.steps[0].outcome = "failed";
        let why = agree_but_for_a_stricter_model(&sim, &bad, t).unwrap_err();
        assert!(why.contains("part at step 1"), "{why}");
        // ...nor a difference before the model's failed step
        let mut early = lab.clone();
        early.states[1].via = Some(999);
        let why = agree_but_for_a_stricter_model(&sim, &early, t).unwrap_err();
        assert!(
            why.contains("before step 2") && why.contains("DR state"),
            "{why}"
        );
        // ...nor an RTO beyond the tolerance
        let mut slow = lab.clone();
        slow.rto_s = Some(200.0);
        let why = agree_but_for_a_stricter_model(&sim, &slow, t).unwrap_err();
        assert!(why.contains("RTO"), "{why}");
        // the same outcomes: the verdicts alone may differ, the model's
        // being the stricter
        let mut sim2 = report();
        sim2.verdict = Verdict::Fail;
        assert!(agree_but_for_a_stricter_model(&sim2, &report(), t).is_ok());
        let mut lossy = report();
        lossy.verdict = Verdict::Fail;
        lossy.reasons = vec!["RPO 9 s exceeds the objective".into()];
        let why = agree_but_for_a_stricter_model(&report(), &lossy, t).unwrap_err();
        assert!(why.contains("A passes and B fails (RPO 9 s"), "{why}");
    }

    #[test]
    fn a_step_that_ended_otherwise_is_a_rule_naming_it() {
        let mut b = report();
        b.steps[1].outcome = "failed";
        let c = compare(&report(), &b, Tolerance::default());
        assert_eq!(
            c.disagreements,
            vec!["step 2 \"b\" ended ok in A, failed in B".to_string()]
        );
        assert!(!c.steps_agree);
        assert!(c.steps[1].same && !c.steps[1].same_outcome);
        // Its timings are still compared: it is the same step.
        assert_eq!(c.steps[1].duration.diff, Some(0.0));
        let t = compare_text(&c);
        assert!(t.contains("steps (same list, other outcomes"), "{t}");
        assert!(t.contains("  b (ended ok in A, failed in B)\n"), "{t}");
        let m = compare_markdown(&c);
        assert!(m.contains("| b (ended ok in A, failed in B) |"), "{m}");
        b.steps[0].outcome = "bypassed";
        let c = compare(&report(), &b, Tolerance::default());
        assert_eq!(
            c.disagreements,
            vec![
                "step 1 \"a\" ended ok in A, bypassed in B; 1 more step ended otherwise"
                    .to_string()
            ]
        );
    }

    #[test]
    fn rpo_and_lost_writes_are_shown_not_judged() {
        let mut b = report();
        b.rpo_s = Some(4.0);
        b.lost_writes = 7;
        let c = compare(&report(), &b, Tolerance::default());
        assert!(c.agree, "{:?}", c.disagreements);
        assert_eq!(c.rpo.diff, Some(4.0));
        assert_eq!(c.lost_writes.diff, 7);
    }

    #[test]
    fn the_tolerance_boundary_survives_decimal_rounding() {
        let (mut a, mut b) = (report(), report());
        a.rto_s = Some(3.0);
        b.rto_s = Some(3.3);
        let ten = Tolerance::pct(10.0).unwrap();
        assert!(compare(&a, &b, ten).agree, "3.3 is 10 % of 3");
        b.rto_s = Some(2.7);
        assert!(compare(&a, &b, ten).agree, "so is 2.7");
        b.rto_s = Some(3.31);
        let c = compare(&a, &b, ten);
        assert!(!c.agree);
        assert!(
            c.disagreements[0].contains("+10.3 %"),
            "{:?}",
            c.disagreements
        );
        b.rto_s = Some(3.3);
        assert!(!compare(&a, &b, Tolerance::pct(9.9).unwrap()).agree);
        a.rto_s = Some(0.0);
        b.rto_s = Some(1e-10);
        assert!(
            !compare(&a, &b, ten).agree,
            "no percentage of 0 holds a difference"
        );
    }

    #[test]
    fn zero_and_missing_rtos() {
        let (mut a, mut b) = (report(), report());
        a.rto_s = Some(0.0);
        b.rto_s = Some(0.0);
        assert!(compare(&a, &b, Tolerance::default()).agree);
        b.rto_s = Some(1.0);
        assert!(!compare(&a, &b, Tolerance::default()).agree);
        b.rto_s = None;
        let c = compare(&a, &b, Tolerance::default());
        assert!(
            c.disagreements[0].contains("never in B"),
            "{:?}",
            c.disagreements
        );
        assert!(Tolerance::pct(f64::NAN).is_err());
        assert!(Tolerance::pct(-1.0).is_err());
    }
}
