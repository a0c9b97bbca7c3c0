//! Each watched client population's stale window: from the DNS change
//! (when the watch began) until its resolver first answered the new
//! address, or to the end of the drill when it never did, with the moment
//! the RTO objective runs out (T0 + objective) drawn as a line.

use maud::{Markup, html};

use crate::compute::ClientLine;
use crate::html::View;
use crate::html::marks::fault_shading;
use crate::html::scale::{
    AXIS_H, PLOT_X0, PLOT_X1, Px, TEXT_MAX, WIDTH, clip, seconds, text_w, time_axis,
};

/// The most client populations drawn.
pub const CLIENTS_MAX: usize = 100;

const ROW_H: f64 = 34.0;
const BAR_H: f64 = 16.0;
const TOP: f64 = 22.0;
const NOTE_PX: f64 = 11.0;

/// The stale-window chart, or nothing when no population was watched.
pub fn clients(v: &View<'_>) -> Markup {
    let shown = &v.r.clients[..v.r.clients.len().min(CLIENTS_MAX)];
    if shown.is_empty() {
        return html! {};
    }
    let axis_y = TOP + ROW_H * shown.len() as f64;
    let height = axis_y + AXIS_H;
    html! {
        svg id="clients" role="img" aria-labelledby="clients-title" width=(Px(WIDTH)) height=(Px(height))
            viewBox={ "0 0 " (Px(WIDTH)) " " (Px(height)) } {
            title id="clients-title" { "Stale DNS windows of each client population of " (v.r.scenario) }
            (fault_shading(v, TOP, axis_y))
            (time_axis(&v.scale, TOP, axis_y))
            (objective_line(v, axis_y))
            @for (i, c) in shown.iter().enumerate() {
                (stale_window(v, c, TOP + ROW_H * i as f64))
            }
        }
    }
}

/// T0 + the RTO objective: a population redirected after it missed it.
fn objective_line(v: &View<'_>, bottom: f64) -> Markup {
    let Some(t0) = v.r.timeline.t0_s else {
        return html! {};
    };
    let at = t0 + v.r.objectives.rto_s;
    if at > v.scale.t_max {
        return html! {};
    }
    let x = v.scale.x(at);
    let label = format!("RTO objective (T0 + {} s)", seconds(v.r.objectives.rto_s));
    let anchor = if x + text_w(&label, NOTE_PX) > PLOT_X1 {
        "end"
    } else {
        "start"
    };
    html! {
        g class="objective" {
            line x1=(Px(x)) x2=(Px(x)) y1=(Px(TOP - 6.0)) y2=(Px(bottom)) {}
            text class="step-note" x=(Px(x + if anchor == "end" { -3.0 } else { 3.0 })) y=(Px(TOP - 8.0)) text-anchor=(anchor) { (label) }
        }
    }
}

/// One population: its name and resolver on the left, its stale window as
/// a bar, and how long it lasted beside it.
fn stale_window(v: &View<'_>, c: &ClientLine, y: f64) -> Markup {
    let until = c.redirected_s.unwrap_or(v.scale.t_max);
    let (x, w) = (v.scale.x(c.watched_s), v.scale.w(c.watched_s, until, 2.0));
    let note = match (c.stale_s, c.after_t0_s) {
        (Some(stale), Some(t0)) => format!(
            "stale {} s · redirected {} s after T0",
            seconds(stale),
            seconds(t0)
        ),
        (Some(stale), None) => format!("stale {} s", seconds(stale)),
        _ => "still stale when the drill ended".to_string(),
    };
    let note_w = text_w(&note, NOTE_PX);
    let (note_x, anchor) = if x + w + 4.0 + note_w <= PLOT_X1 {
        (x + w + 4.0, "start")
    } else if x - 4.0 - note_w >= PLOT_X0 {
        (x - 4.0, "end")
    } else {
        (x + 4.0, "start")
    };
    let bar_y = y + (ROW_H - BAR_H) / 2.0;
    html! {
        g class={ "stale-window" @if c.redirected_s.is_none() { " never" } } {
            title {
                (clip(&c.client, TEXT_MAX)) " (" (clip(&c.resolver, TEXT_MAX)) ") resolved "
                (clip(&c.name, TEXT_MAX)) " to its old address from the DNS change at "
                (seconds(c.watched_s)) " s "
                @match c.redirected_s {
                    Some(r) => { "until " (seconds(r)) " s" },
                    None => { "until the drill ended" },
                }
            }
            text class="lane" x=(Px(PLOT_X0 - 10.0)) y=(Px(y + 14.0)) text-anchor="end" { (clip(&c.client, 40)) }
            text class="step-label" x=(Px(PLOT_X0 - 10.0)) y=(Px(y + 27.0)) text-anchor="end" { (clip(&c.resolver, 50)) }
            rect x=(Px(x)) y=(Px(bar_y)) width=(Px(w)) height=(Px(BAR_H)) {}
            text class="step-note" x=(Px(note_x)) y=(Px(bar_y + 12.0)) text-anchor=(anchor) { (note) }
        }
    }
}
