//! The workload over time: acknowledged, failed and lost writes and the
//! probes (ok, failed), each a labelled row of bars counted per time bucket
//! (writes share one height scale, probes another), on the drill-time axis
//! with the fault windows shaded and the milestones drawn.

use maud::{Markup, html};

use crate::html::View;
use crate::html::marks::{fault_shading, milestone_lines};
use crate::html::scale::{AXIS_H, PLOT_X0, Px, WIDTH, seconds, time_axis};
use crate::html::series::SERIES;

const ROW_H: f64 = 26.0;
const ROW_GAP: f64 = 6.0;
const TOP: f64 = 6.0;

/// The classes of the rows, in [`SERIES`] order.
const CLASSES: [&str; 5] = [
    "writes-acked",
    "writes-failed",
    "writes-lost",
    "probes-ok",
    "probes-failed",
];

/// The workload chart.
pub fn workload(v: &View<'_>) -> Markup {
    let axis_y = TOP + (ROW_H + ROW_GAP) * SERIES.len() as f64;
    let height = axis_y + AXIS_H;
    html! {
        svg id="workload" role="img" aria-labelledby="workload-title" width=(Px(WIDTH)) height=(Px(height))
            viewBox={ "0 0 " (Px(WIDTH)) " " (Px(height)) } {
            title id="workload-title" {
                "Writes and probes of " (v.r.scenario) " per " (seconds(v.buckets.width_s)) " s over drill time"
            }
            (fault_shading(v, TOP, axis_y))
            (time_axis(&v.scale, TOP, axis_y))
            (milestone_lines(v, TOP, axis_y))
            @for (s, name) in SERIES.iter().enumerate() {
                (series_row(v, s, name, TOP + (ROW_H + ROW_GAP) * s as f64))
            }
        }
    }
}

/// The height scale a series shares: writes with writes, probes with probes.
fn peer_group(s: usize) -> &'static [usize] {
    if s < 3 { &[0, 1, 2] } else { &[3, 4] }
}

/// One series: its name and total on the left, a bar per non-empty bucket.
fn series_row(v: &View<'_>, s: usize, name: &str, y: f64) -> Markup {
    let peak = v.buckets.peak(peer_group(s)) as f64;
    let total: u64 = v.buckets.counts.iter().map(|c| c[s]).sum();
    let w = v.buckets.width_s;
    html! {
        g class={ "series " (CLASSES[s]) } {
            text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(y + ROW_H / 2.0 + 4.0)) text-anchor="end" {
                (name) " (" (total) ")"
            }
            line class="baseline" x1=(Px(PLOT_X0)) x2=(Px(crate::html::scale::PLOT_X1)) y1=(Px(y + ROW_H)) y2=(Px(y + ROW_H)) {}
            @for (i, c) in v.buckets.counts.iter().enumerate().filter(|(_, c)| c[s] > 0) {
                @let from = v.buckets.start(i);
                @let h = (ROW_H * c[s] as f64 / peak).max(3.0);
                rect class="bucket" x=(Px(v.scale.x(from))) y=(Px(y + ROW_H - h))
                    width=(Px((v.scale.w(from, from + w, 1.0) - 0.5).max(1.0))) height=(Px(h)) {
                    title { (seconds(from)) "–" (seconds(from + w)) " s: " (c[s]) " " (name) }
                }
            }
        }
    }
}
