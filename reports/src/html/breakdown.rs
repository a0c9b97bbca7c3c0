//! The RTO breakdown as one stacked bar (detection, decision, execution,
//! propagation, which sum to the RTO) against the RTO objective's line.

use maud::{Markup, html};

use crate::compute::Breakdown;
use crate::html::View;
use crate::html::scale::{AXIS_H, PLOT_X0, PLOT_X1, Px, TimeScale, WIDTH, axis, seconds, text_w};

const TOP: f64 = 24.0;
const BAR_H: f64 = 34.0;
const PART_PX: f64 = 12.0;

/// The parts in order: (class, name, seconds).
pub fn parts(b: &Breakdown) -> [(&'static str, &'static str, f64); 4] {
    [
        ("part-detection", "detection", b.detection_s),
        ("part-decision", "decision", b.decision_s),
        ("part-execution", "execution", b.execution_s),
        ("part-propagation", "propagation", b.propagation_s),
    ]
}

/// The breakdown chart, or a sentence when there is no RTO to break down.
pub fn breakdown(v: &View<'_>) -> Markup {
    let r = v.r;
    let (Some(rto), Some(b)) = (r.rto_s, r.rto_breakdown) else {
        return html! {
            p id="rto-breakdown" class="note" {
                @match r.rto_s {
                    Some(_) => "No outage was seen by users after T0: the RTO is 0 and has no parts.",
                    None => "Users were not served again before the drill ended: there is no RTO to break down.",
                }
            }
        };
    };
    let scale = TimeScale::new(0.0, rto.max(r.objectives.rto_s) * 1.06);
    let axis_y = TOP + BAR_H + 22.0;
    let height = axis_y + AXIS_H;
    html! {
        svg id="rto-breakdown" role="img" aria-labelledby="rto-breakdown-title" width=(Px(WIDTH)) height=(Px(height))
            viewBox={ "0 0 " (Px(WIDTH)) " " (Px(height)) } {
            title id="rto-breakdown-title" {
                "RTO " (seconds(rto)) " s of " (r.scenario) " split into detection, decision, execution and propagation, against the objective of " (seconds(r.objectives.rto_s)) " s"
            }
            (axis(&scale, TOP, axis_y, "seconds after T0"))
            text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(TOP + BAR_H / 2.0 + 4.0)) text-anchor="end" {
                "RTO " (seconds(rto)) " s"
            }
            (stacked_parts(&scale, &b))
            text class="step-note" x=(Px(scale.x(rto))) y=(Px(TOP + BAR_H + 15.0)) text-anchor="middle" { "RTO " (seconds(rto)) " s" }
            (objective(&scale, r.objectives.rto_s, axis_y))
        }
    }
}

/// The four parts side by side, each labelled inside when its name fits;
/// a part of 0 s is not drawn (the legend gives its 0 s), a shorter one at
/// least a pixel wide.
fn stacked_parts(scale: &TimeScale, b: &Breakdown) -> Markup {
    let mut from = 0.0;
    let placed = parts(b).map(|(class, name, s)| {
        let at = from;
        from += s;
        (class, name, s, at)
    });
    html! {
        @for (class, name, s, from) in placed.into_iter().filter(|p| p.2 > 0.0) {
            @let (x, w) = (scale.x(from), scale.w(from, from + s, 1.0));
            @let long = format!("{name} {} s", seconds(s));
            @let label = if text_w(&long, PART_PX) + 8.0 <= w { long.clone() }
                else if text_w(&seconds(s), PART_PX) + 6.0 <= w { seconds(s) }
                else { String::new() };
            g class={ "part " (class) } {
                title { (long) " (" (seconds(from)) " s to " (seconds(from + s)) " s after T0)" }
                rect x=(Px(x)) y=(Px(TOP)) width=(Px(w)) height=(Px(BAR_H)) {}
                @if !label.is_empty() {
                    text class="band-label" x=(Px(x + w / 2.0)) y=(Px(TOP + BAR_H / 2.0 + 4.0)) text-anchor="middle" { (label) }
                }
            }
        }
    }
}

/// The objective as a vertical line through the bar, labelled above it.
fn objective(scale: &TimeScale, objective_s: f64, bottom: f64) -> Markup {
    let x = scale.x(objective_s);
    let label = format!("RTO objective {} s", seconds(objective_s));
    let anchor = if x + text_w(&label, PART_PX) / 2.0 > PLOT_X1 {
        "end"
    } else {
        "middle"
    };
    html! {
        g class="objective" {
            title { (label) }
            line x1=(Px(x)) x2=(Px(x)) y1=(Px(TOP - 8.0)) y2=(Px(bottom)) {}
            text class="step-note" x=(Px(x)) y=(Px(TOP - 11.0)) text-anchor=(anchor) { (label) }
        }
    }
}
