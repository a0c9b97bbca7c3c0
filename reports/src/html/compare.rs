//! The HTML page of two reports compared (`drlab compare A.json B.json
//! --format html`): the agreement and its reasons, the two runs side by
//! side, both RTO breakdowns as stacked bars on one axis with A's RTO
//! tolerance shaded, both runs' steps as one Gantt chart (each step's A bar
//! above its B bar on one drill-time axis, so a step that started late or
//! ran long shows as a shifted or longer bar), and the per-step and DR
//! state tables.
//!
//! Pure, like the drill page: a function of a [`Comparison`], with the
//! drill page's style, parts' colours, axis and escaping; at most
//! [`STEPS_MAX`] steps and [`STATES_MAX`] states are listed, and at most
//! [`GANTT_STEPS_MAX`] steps drawn.

use maud::{Markup, html};

use crate::compare::{Comparison, Figure, Side, pct};
use crate::html::scale::{AXIS_H, PLOT_X0, Px, TEXT_MAX, TimeScale, WIDTH, axis, clip, seconds};
use crate::html::timeline::{STATES_MAX, STEPS_MAX};
use crate::html::{document, key};
use crate::render::verdict_word;

const TOP: f64 = 26.0;
const BAR_H: f64 = 26.0;
const ROW_H: f64 = 40.0;

/// The most steps the Gantt chart draws (all are in the table).
pub const GANTT_STEPS_MAX: usize = 120;
/// One step's row in the Gantt chart: A's bar, then B's.
const GANTT_ROW_H: f64 = 20.0;
const GANTT_BAR_H: f64 = 8.0;

/// The page comparing `c`'s two reports.
pub fn compare_html(c: &Comparison) -> String {
    page(c).into_string()
}

fn who(s: &Side) -> String {
    format!("{} (seed {})", clip(&s.backend, 40), s.seed)
}

fn page(c: &Comparison) -> Markup {
    let title = format!(
        "drlab compare: {} — {}",
        clip(&c.a.scenario, TEXT_MAX),
        if c.agree { "agree" } else { "disagree" }
    );
    document(
        &title,
        COMPARE_CSS,
        html! {
            header {
                h1 { "drlab compare: " (clip(&c.a.scenario, TEXT_MAX)) }
                p id="verdict" class={ "verdict " @if c.agree { "pass" } @else { "fail" } } {
                    strong { @if c.agree { "AGREE" } @else { "DISAGREE" } }
                    " — A " (who(&c.a)) " against B " (who(&c.b)) ", RTO tolerance " (seconds(c.tolerance_pct)) " %"
                }
                @if !c.disagreements.is_empty() || !c.warnings.is_empty() {
                    ul id="reasons" {
                        @for d in c.disagreements.iter().take(100) { li { "disagrees: " (clip(d, TEXT_MAX)) } }
                        @for w in c.warnings.iter().take(100) { li { "warning: " (clip(w, TEXT_MAX)) } }
                    }
                }
            }
            (sides(c))
            (breakdown_section(c))
            (gantt_section(c))
            (steps(c))
            (states(c))
        },
    )
}

fn opt_s(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), seconds)
}

fn signed(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |d| format!("{d:+.3}"))
}

/// The two runs and their key figures, A beside B.
fn sides(c: &Comparison) -> Markup {
    let row = |name: &str, f: &Figure| {
        html! {
            tr { th { (name) } td { (opt_s(f.a)) } td { (opt_s(f.b)) } td { (signed(f.diff)) } td { (pct(f.diff_pct)) } }
        }
    };
    html! {
        table id="sides" class="grid" {
            tr { th {} th { "A" } th { "B" } th { "B−A (s)" } th { "%" } }
            tr { th { "backend" } td { (clip(&c.a.backend, TEXT_MAX)) } td { (clip(&c.b.backend, TEXT_MAX)) } td {} td {} }
            tr { th { "seed" } td { (c.a.seed) } td { (c.b.seed) } td {} td {} }
            tr { th { "runbook" } td { (clip(&c.a.runbook, TEXT_MAX)) } td { (clip(&c.b.runbook, TEXT_MAX)) } td {} td {} }
            tr { th { "verdict" } td { (verdict_word(c.a.verdict)) } td { (verdict_word(c.b.verdict)) } td {} td {} }
            (row("RTO (s)", &c.rto))
            @for p in &c.breakdown { (row(&format!("· {} (s)", p.part), &p.figure)) }
            (row("RPO (s)", &c.rpo))
            tr { th { "lost writes" } td { (c.lost_writes.a) } td { (c.lost_writes.b) } td { (format!("{:+}", c.lost_writes.diff)) } td {} }
            tr { th { "trace" } td { code { (clip(&c.a.trace_hash, 40)) } } td { code { (clip(&c.b.trace_hash, 40)) } } td {} td {} }
        }
    }
}

fn breakdown_section(c: &Comparison) -> Markup {
    html! {
        section {
            h2 { "RTO breakdown, A and B" }
            @if c.breakdown.is_empty() {
                p id="compare-breakdown" class="note" { "One of the reports has no RTO breakdown (users not served again, or no outage): RTO A " (opt_s(c.rto.a)) " s, B " (opt_s(c.rto.b)) " s." }
            } @else {
                p class="legend" {
                    @for p in &c.breakdown { (key(&format!("part part-{}", p.part), p.part)) }
                    (key("tolerance", &format!("A's RTO ± {} %", seconds(c.tolerance_pct))))
                }
                (breakdown_chart(c))
            }
        }
    }
}

/// Both breakdowns as stacked bars on one seconds axis, with the band of
/// B's RTOs within the tolerance of A's.
fn breakdown_chart(c: &Comparison) -> Markup {
    let total = |side: usize| -> f64 {
        c.breakdown
            .iter()
            .map(|p| if side == 0 { p.figure.a } else { p.figure.b }.unwrap_or(0.0))
            .sum()
    };
    let (rto_a, rto_b) = (c.rto.a.unwrap_or(total(0)), c.rto.b.unwrap_or(total(1)));
    let tol = c.tolerance_pct / 100.0;
    let scale = TimeScale::new(0.0, rto_a.max(rto_b).max(rto_a * (1.0 + tol)) * 1.06);
    let axis_y = TOP + ROW_H * 2.0;
    let height = axis_y + AXIS_H;
    let (lo, hi) = (rto_a * (1.0 - tol), rto_a * (1.0 + tol));
    html! {
        svg id="compare-breakdown" role="img" aria-labelledby="compare-breakdown-title" width=(Px(WIDTH)) height=(Px(height))
            viewBox={ "0 0 " (Px(WIDTH)) " " (Px(height)) } {
            title id="compare-breakdown-title" { "RTO breakdowns of A and B of " (clip(&c.a.scenario, TEXT_MAX)) " on one axis" }
            g class="tolerance" {
                title { "within tolerance: " (seconds(lo)) " s to " (seconds(hi)) " s" }
                rect class="swatch" x=(Px(scale.x(lo))) y=(Px(TOP - 8.0)) width=(Px(scale.w(lo, hi, 1.0))) height=(Px(ROW_H * 2.0)) {}
            }
            (axis(&scale, TOP - 8.0, axis_y, "seconds after T0"))
            @for (side, (name, s, rto)) in [("A", &c.a, rto_a), ("B", &c.b, rto_b)].into_iter().enumerate() {
                @let y = TOP + ROW_H * side as f64;
                text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(y + BAR_H / 2.0 + 4.0)) text-anchor="end" {
                    (name) " " (who(s)) ": RTO " (seconds(rto)) " s"
                }
                @for (p, v, at) in stacked(c, side) {
                    @if v > 0.0 {
                        g class={ "part part-" (p.part) } {
                            title { (name) " " (p.part) " " (seconds(v)) " s (" (seconds(at)) " s to " (seconds(at + v)) " s)" }
                            rect x=(Px(scale.x(at))) y=(Px(y)) width=(Px(scale.w(at, at + v, 1.0))) height=(Px(BAR_H)) {}
                        }
                    }
                }
            }
        }
    }
}

fn gantt_section(c: &Comparison) -> Markup {
    html! {
        section {
            h2 { "Steps on one timeline, A and B" }
            @if c.steps.is_empty() {
                p id="compare-gantt" class="note" { "Neither report has steps." }
            } @else {
                p class="legend" {
                    (key("gantt-a", "A")) (key("gantt-b", "B")) (key("gantt-failed", "failed"))
                }
                (gantt_chart(c))
                @if c.steps.len() > GANTT_STEPS_MAX {
                    p class="note" { (c.steps.len() - GANTT_STEPS_MAX) " more steps in the table below." }
                }
            }
        }
    }
}

/// One row per step position: A's bar over B's, on one drill-time axis.
fn gantt_chart(c: &Comparison) -> Markup {
    let shown = &c.steps[..c.steps.len().min(GANTT_STEPS_MAX)];
    let end = |start: Option<f64>, d: Option<f64>| start.map(|s| s + d.unwrap_or(0.0));
    let t_max = shown
        .iter()
        .flat_map(|s| [end(s.start.a, s.duration.a), end(s.start.b, s.duration.b)])
        .flatten()
        .fold(0.0, f64::max);
    let scale = TimeScale::new(0.0, if t_max > 0.0 { t_max * 1.02 } else { 1.0 });
    let axis_y = TOP + GANTT_ROW_H * shown.len() as f64;
    let height = axis_y + AXIS_H;
    html! {
        svg id="compare-gantt" role="img" aria-labelledby="compare-gantt-title" width=(Px(WIDTH)) height=(Px(height))
            viewBox={ "0 0 " (Px(WIDTH)) " " (Px(height)) } {
            title id="compare-gantt-title" { "the steps of A and B of " (clip(&c.a.scenario, TEXT_MAX)) " on one timeline" }
            (axis(&scale, TOP - 6.0, axis_y, "drill time (s)"))
            @for (i, s) in shown.iter().enumerate() {
                @let y = TOP + GANTT_ROW_H * i as f64;
                @let name = s.a.as_deref().or(s.b.as_deref()).unwrap_or("-");
                text class="step-label" x=(Px(PLOT_X0 - 10.0)) y=(Px(y + GANTT_BAR_H + 3.0)) text-anchor="end" {
                    (s.position) " " (clip(name, 48))
                }
                @for (side, start, duration, outcome, dy) in [
                    ("A", s.start.a, s.duration.a, s.outcome_a, 0.0),
                    ("B", s.start.b, s.duration.b, s.outcome_b, GANTT_BAR_H + 1.0),
                ] {
                    @if let Some(at) = start {
                        @let d = duration.unwrap_or(0.0);
                        g class={ "gantt-" (side.to_ascii_lowercase()) @if outcome == Some("failed") { " gantt-failed" } } {
                            title { (side) " " (clip(name, TEXT_MAX)) ": " (seconds(at)) " s + " (seconds(d)) " s, " (outcome.unwrap_or("unfinished")) }
                            rect class="swatch" x=(Px(scale.x(at))) y=(Px(y + dy)) width=(Px(scale.w(at, at + d, 1.0))) height=(Px(GANTT_BAR_H)) {}
                        }
                    }
                }
            }
        }
    }
}

/// Side `side`'s parts (0: A, 1: B), each with its seconds and where it
/// starts.
fn stacked(c: &Comparison, side: usize) -> Vec<(&crate::compare::Part, f64, f64)> {
    let mut from = 0.0;
    c.breakdown
        .iter()
        .map(|p| {
            let v = if side == 0 { p.figure.a } else { p.figure.b }.unwrap_or(0.0);
            from += v;
            (p, v, from - v)
        })
        .collect()
}

/// Rows that differ get `class="differs"`.
fn differs(same: bool) -> &'static str {
    if same { "" } else { "differs" }
}

fn steps(c: &Comparison) -> Markup {
    html! {
        section {
            h2 { "Steps" @if c.steps_agree { " (same list)" } @else { " (the lists differ)" } }
            table id="steps" class="grid" {
                tr { th { "#" } th class="name" { "step" } th { "outcome A" } th { "outcome B" } th { "start A" } th { "start B" } th { "B−A" } th { "duration A" } th { "duration B" } th { "B−A" } th { "%" } }
                @for s in c.steps.iter().take(STEPS_MAX) {
                    tr class=(differs(s.same_outcome)) {
                        td { (s.position) }
                        td class="name" {
                            @match (&s.a, &s.b) {
                                (Some(a), Some(_)) if s.same => { (clip(a, TEXT_MAX)) },
                                (a, b) => { "A " (clip(a.as_deref().unwrap_or("-"), TEXT_MAX)) " · B " (clip(b.as_deref().unwrap_or("-"), TEXT_MAX)) },
                            }
                        }
                        td { (s.outcome_a.unwrap_or("-")) } td { (s.outcome_b.unwrap_or("-")) }
                        td { (opt_s(s.start.a)) } td { (opt_s(s.start.b)) } td { (signed(s.start.diff)) }
                        td { (opt_s(s.duration.a)) } td { (opt_s(s.duration.b)) } td { (signed(s.duration.diff)) } td { (pct(s.duration.diff_pct)) }
                    }
                }
            }
            @if c.steps.len() > STEPS_MAX { p class="note" { (c.steps.len() - STEPS_MAX) " more steps (see the JSON)." } }
        }
    }
}

fn states(c: &Comparison) -> Markup {
    let words = |s: Option<crate::compare::StateStep>| {
        s.map_or_else(|| "-".to_string(), |s| format!("{} {}", s.code, s.state))
    };
    html! {
        section {
            h2 { "DR states" @if c.states_agree { " (same trace)" } @else { " (the traces differ)" } }
            table id="states" class="grid" {
                tr { th { "#" } th class="name" { "state A" } th class="name" { "state B" } th { "at A" } th { "at B" } th { "B−A" } }
                @for s in c.states.iter().take(STATES_MAX) {
                    tr class=(differs(s.same)) {
                        td { (s.position) } td class="name" { (words(s.a)) } td class="name" { (words(s.b)) }
                        td { (opt_s(s.at.a)) } td { (opt_s(s.at.b)) } td { (signed(s.at.diff)) }
                    }
                }
            }
            @if c.states.len() > STATES_MAX { p class="note" { (c.states.len() - STATES_MAX) " more states (see the JSON)." } }
        }
    }
}

/// The compare page's own style, after the drill page's.
const COMPARE_CSS: &str = r#"
table.grid{border-collapse:collapse;margin:8px 0;font-size:13px}
table.grid th,table.grid td{padding:2px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
table.grid th:first-child{text-align:left}
table.grid .name{text-align:left;white-space:normal}
tr.differs td{background:#fdecea}
.tolerance rect{fill:#e6f4ea;stroke:#2e7d32;stroke-dasharray:3 2}
.gantt-a rect{fill:#4a7fb5}.gantt-b rect{fill:#e08a1e}
.gantt-failed rect{fill:#d9534f;stroke:#7a1f1c;stroke-width:1}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::Report;
    use crate::{Tolerance, compare};
    use drlab_drivers::{Event, EventKind, Timestamp};

    fn report(step_s: f64) -> Report {
        let ev = |at_s: f64, kind| Event {
            at: Timestamp::from_secs_f64(at_s),
            kind,
        };
        let events = vec![
            ev(
                0.0,
                EventKind::DrillStarted {
                    scenario: "<s>".into(),
                    backend: "sim".into(),
                    seed: 7,
                    runbook: "r".into(),
                    probe_successes_required: 1,
                    rto_objective_us: 60_000_000,
                    rpo_objective_us: 5_000_000,
                },
            ),
            ev(1.0, EventKind::StepStarted { step: "a".into() }),
            ev(
                1.0 + step_s,
                EventKind::StepFinished {
                    step: "a".into(),
                    outcome: drlab_drivers::event::StepOutcome::Ok,
                },
            ),
            ev(
                9.0,
                EventKind::DrillEnded {
                    reason: "done".into(),
                },
            ),
        ];
        Report::from_events(&events)
    }

    #[test]
    fn the_page_lists_steps_and_escapes() {
        let c = compare(&report(2.0), &report(3.0), Tolerance::default());
        let page = compare_html(&c);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("<s>"), "unescaped");
        assert!(page.contains("&lt;s&gt;"));
        assert!(page.contains("id=\"steps\""));
        assert!(page.contains("<td>+1.000</td>"), "the step's difference");
        assert!(page.contains("id=\"compare-breakdown\""));
        // the Gantt: step a's A bar (1 s + 2 s) and B bar (1 s + 3 s), B's longer
        assert!(page.contains("id=\"compare-gantt\""));
        assert!(page.contains("A a: 1 s + 2 s, ok"), "{page}");
        assert!(page.contains("B a: 1 s + 3 s, ok"), "{page}");
        assert_eq!(page, compare_html(&c));
    }
}
