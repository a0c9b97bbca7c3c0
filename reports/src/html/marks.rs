//! Marks every time chart of the HTML report shares: the fault windows
//! shaded behind it (as Jepsen's plots shade nemesis activity) and the
//! drill's milestones as vertical lines.

use maud::{Markup, html};

use crate::compute::Report;
use crate::html::View;
use crate::html::scale::{Px, TEXT_MAX, clip, seconds};

/// The drill's milestones in time order: (seconds, name).
pub fn milestones(r: &Report) -> Vec<(f64, &'static str)> {
    let t = &r.timeline;
    let mut m: Vec<(f64, &'static str)> = [
        (t.t0_s, "T0 fault"),
        (t.detected_s, "detected"),
        (t.engaged_s, "engaged"),
        (t.runbook_finished_s, "runbook done"),
        (t.restored_s, "restored"),
    ]
    .into_iter()
    .filter_map(|(s, name)| s.map(|s| (s, name)))
    .collect();
    m.sort_by(|a, b| a.0.total_cmp(&b.0));
    m
}

/// The fault windows from `top` to `bottom`, hatched, each with its tooltip.
pub fn fault_shading(v: &View<'_>, top: f64, bottom: f64) -> Markup {
    html! {
        @for w in &v.windows {
            rect class="fault-window" x=(Px(v.scale.x(w.from_s))) y=(Px(top))
                width=(Px(v.scale.w(w.from_s, w.to_s, 2.0))) height=(Px(bottom - top)) {
                title {
                    (clip(&w.fault.fault, TEXT_MAX)) " " (clip(&w.fault.target, TEXT_MAX))
                    ": from " (seconds(w.from_s)) " s "
                    @if w.repaired { "to its repair at " (seconds(w.to_s)) " s" }
                    @else { "to the end of the drill (no repair in the trace)" }
                }
            }
        }
    }
}

/// The milestones as dashed vertical lines from `top` to `bottom`.
pub fn milestone_lines(v: &View<'_>, top: f64, bottom: f64) -> Markup {
    html! {
        @for (s, name) in milestones(v.r) {
            line class="milestone" x1=(Px(v.scale.x(s))) x2=(Px(v.scale.x(s))) y1=(Px(top)) y2=(Px(bottom)) {
                title { (name) " at " (seconds(s)) " s" }
            }
        }
    }
}
