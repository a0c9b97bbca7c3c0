//! The drill timeline: milestones labelled at the top, the two-site DR
//! state as bands, the faults, and the runbook's steps as a Gantt chart,
//! all on one drill-time axis with the fault windows shaded behind.

use maud::{Markup, html};

use crate::compute::{StateLine, StepLine};
use crate::html::View;
use crate::html::marks::{fault_shading, milestone_lines, milestones};
use crate::html::scale::{
    AXIS_H, LABEL_PX, PLOT_X0, PLOT_X1, Px, TEXT_MAX, WIDTH, clip, label_rows, label_x, seconds,
    text_w, time_axis,
};

/// The most steps drawn as rows (the rest are counted below the chart).
pub const STEPS_MAX: usize = 300;
/// The most state bands drawn.
pub const STATES_MAX: usize = 500;

const LABEL_ROW_H: f64 = 15.0;
const STATE_H: f64 = 24.0;
const FAULT_ROW_H: f64 = 16.0;
const STEP_ROW_H: f64 = 18.0;
const STEP_BAR_H: f64 = 12.0;
const STEP_PX: f64 = 11.0;
/// Characters of a step name that fit the label column at [`STEP_PX`].
const STEP_LABEL_CHARS: usize = 50;

/// Where the timeline's labels go (x, row) and its lanes' vertical positions.
struct Lanes {
    milestone_rows: Vec<(f64, usize)>,
    fault_rows: Vec<(f64, usize)>,
    states_y: f64,
    faults_y: f64,
    steps_y: f64,
    axis_y: f64,
}

impl Lanes {
    fn of(v: &View<'_>) -> Lanes {
        let marks: Vec<(f64, f64)> = milestones(v.r)
            .iter()
            // Bold: a tenth wider than the estimate.
            .map(|(s, name)| (v.scale.x(*s), text_w(name, LABEL_PX) * 1.1))
            .collect();
        let milestone_rows = placed(&marks);
        let faults: Vec<(f64, f64)> = v
            .windows
            .iter()
            .map(|w| (v.scale.x(w.from_s) + 4.0, text_w(&fault_label(w), STEP_PX)))
            .collect();
        let fault_rows = placed(&faults);
        let rows = |r: &[(f64, usize)]| r.iter().map(|p| p.1).max().map_or(0, |m| m + 1) as f64;
        let states_y = 6.0 + LABEL_ROW_H * rows(&milestone_rows).max(1.0);
        let faults_y = states_y + STATE_H + 6.0;
        let steps_y = faults_y + FAULT_ROW_H * rows(&fault_rows).max(1.0) + 8.0;
        let n_steps = v.r.steps.len().min(STEPS_MAX) as f64;
        let axis_y = steps_y + STEP_ROW_H * n_steps.max(1.0) + 4.0;
        Lanes {
            milestone_rows,
            fault_rows,
            states_y,
            faults_y,
            steps_y,
            axis_y,
        }
    }
}

/// Labels (at x, of width w) moved inside the chart, each in its row.
fn placed(labels: &[(f64, f64)]) -> Vec<(f64, usize)> {
    let xs: Vec<(f64, f64)> = labels.iter().map(|&(x, w)| (label_x(x, w), w)).collect();
    xs.iter().map(|p| p.0).zip(label_rows(&xs, 6.0)).collect()
}

fn fault_label(w: &crate::html::series::FaultWindow<'_>) -> String {
    clip(&format!("{} {}", w.fault.fault, w.fault.target), 60)
}

/// The timeline chart.
pub fn timeline(v: &View<'_>) -> Markup {
    let l = Lanes::of(v);
    let height = l.axis_y + AXIS_H;
    html! {
        svg id="timeline" role="img" aria-labelledby="timeline-title" width=(Px(WIDTH)) height=(Px(height))
            viewBox={ "0 0 " (Px(WIDTH)) " " (Px(height)) } {
            title id="timeline-title" { "Drill timeline of " (v.r.scenario) ": DR state, faults and runbook steps over drill time" }
            (fault_shading(v, l.states_y, l.axis_y))
            (time_axis(&v.scale, l.states_y, l.axis_y))
            (milestone_lines(v, l.states_y - 2.0, l.axis_y))
            (milestone_labels(v, &l))
            (state_bands(v, &l))
            (fault_marks(v, &l))
            (step_bars(v, &l))
        }
    }
}

/// The milestone names above the lanes, in as many rows as keep them apart.
fn milestone_labels(v: &View<'_>, l: &Lanes) -> Markup {
    html! {
        text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(l.states_y - 4.0)) text-anchor="end" { "milestones" }
        @for ((s, name), (x, row)) in milestones(v.r).into_iter().zip(&l.milestone_rows) {
            text class="lbl milestone-label" x=(Px(*x))
                y=(Px(4.0 + LABEL_ROW_H * (*row as f64 + 1.0) - 3.0)) {
                (name)
                title { (name) " at " (seconds(s)) " s" }
            }
        }
    }
}

/// One band per DR state, labelled inside when it fits (its code else).
fn state_bands(v: &View<'_>, l: &Lanes) -> Markup {
    let states = &v.r.states[..v.r.states.len().min(STATES_MAX)];
    html! {
        text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(l.states_y + STATE_H / 2.0 + 4.0)) text-anchor="end" { "DR state (patent code)" }
        @for (i, s) in states.iter().enumerate() {
            @let until = states.get(i + 1).map_or(v.scale.t_max, |n| n.at_s);
            @if until > v.scale.t_min || i + 1 == states.len() {
                (state_band(v, l, s, until))
            }
        }
    }
}

fn state_band(v: &View<'_>, l: &Lanes, s: &StateLine, until: f64) -> Markup {
    let (x, w) = (v.scale.x(s.at_s), v.scale.w(s.at_s, until, 1.0));
    let full = format!("{} {}", s.code, s.state);
    let label = if text_w(&full, STEP_PX) + 8.0 <= w {
        full
    } else if text_w(&s.code.to_string(), STEP_PX) + 4.0 <= w {
        s.code.to_string()
    } else {
        String::new()
    };
    html! {
        g class={ "state-band state-" (s.code) } {
            title { (s.state) " (" (s.code) ") from " (seconds(s.at_s)) " s to " (seconds(until)) " s" }
            rect x=(Px(x)) y=(Px(l.states_y)) width=(Px(w)) height=(Px(STATE_H)) {}
            @if !label.is_empty() {
                text class="band-label" x=(Px(x + w / 2.0)) y=(Px(l.states_y + STATE_H / 2.0 + 4.0)) text-anchor="middle" { (label) }
            }
        }
    }
}

/// A marker and a label where each fault took effect.
fn fault_marks(v: &View<'_>, l: &Lanes) -> Markup {
    html! {
        text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(l.faults_y + 12.0)) text-anchor="end" { "faults (shaded while in effect)" }
        @for (w, (x, row)) in v.windows.iter().zip(&l.fault_rows) {
            @let y = l.faults_y + FAULT_ROW_H * *row as f64;
            g class="fault" {
                title { (fault_label(w)) " at " (seconds(w.from_s)) " s" }
                path class="fault-mark" d={ "M" (Px(v.scale.x(w.from_s))) " " (Px(y + 2.0)) " l5 6 l-5 6 z" } {}
                text class="step-label" x=(Px(*x + 3.0)) y=(Px(y + 12.0)) { (fault_label(w)) }
            }
        }
    }
}

/// The Gantt chart: one row per step, its name on the left, its bar on the
/// time axis, its duration and (unless ok) its outcome beside the bar.
fn step_bars(v: &View<'_>, l: &Lanes) -> Markup {
    let shown = v.r.steps.len().min(STEPS_MAX);
    html! {
        @if v.r.steps.is_empty() {
            text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(l.steps_y + 12.0)) text-anchor="end" { "runbook steps: none" }
        }
        @for (i, s) in v.r.steps[..shown].iter().enumerate() {
            (step_bar(v, l.steps_y + STEP_ROW_H * i as f64, s))
        }
    }
}

fn step_bar(v: &View<'_>, y: f64, s: &StepLine) -> Markup {
    let end = s.start_s + s.duration_s;
    let (x, w) = (v.scale.x(s.start_s), v.scale.w(s.start_s, end, 2.0));
    let mut note = format!("{} s", seconds(s.duration_s));
    if s.outcome != "ok" {
        note = format!("{note} · {}", s.outcome);
    }
    if s.start_s < v.scale.t_min {
        note = format!("{note} · at {} s", seconds(s.start_s));
    }
    let note_w = text_w(&note, STEP_PX);
    let (note_x, anchor) = if x + w + 4.0 + note_w <= PLOT_X1 {
        (x + w + 4.0, "start")
    } else {
        (x - 4.0, "end")
    };
    html! {
        g class={ "step step-" (s.outcome) } {
            title {
                (clip(&s.name, TEXT_MAX)) ": " (s.outcome) ", " (seconds(s.start_s)) " s to " (seconds(end))
                " s (" (seconds(s.duration_s)) " s)"
                @if let Some(d) = &s.detail { " — " (clip(d, TEXT_MAX)) }
            }
            text class="step-label" x=(Px(PLOT_X0 - 10.0)) y=(Px(y + 11.0)) text-anchor="end" { (clip(&s.name, STEP_LABEL_CHARS)) }
            rect x=(Px(x)) y=(Px(y + (STEP_ROW_H - STEP_BAR_H) / 2.0)) width=(Px(w)) height=(Px(STEP_BAR_H)) {}
            text class="step-note" x=(Px(note_x)) y=(Px(y + 11.0)) text-anchor=(anchor) { (note) }
        }
    }
}
