//! Geometry shared by the HTML report's charts: the page's columns, the
//! drill-time scale, "nice" axis ticks, pixel numbers as SVG writes them,
//! text width estimates and clipping of user-provided strings.

use maud::{Markup, Render, html};

/// Width of every chart, in CSS pixels.
pub const WIDTH: f64 = 1200.0;
/// Where the plot area begins: the label column is to its left.
pub const PLOT_X0: f64 = 350.0;
/// Where the plot area ends.
pub const PLOT_X1: f64 = 1170.0;
/// Height of a time axis with its tick labels and title.
pub const AXIS_H: f64 = 44.0;
/// The font size of labels (CSS `.lbl`), in pixels.
pub const LABEL_PX: f64 = 12.0;
/// Longest user-provided string shown in full (tooltips, lists).
pub const TEXT_MAX: usize = 500;

/// A number of pixels (or seconds) as SVG attributes carry it: one decimal,
/// never NaN or infinite, so the markup is small and deterministic.
#[derive(Clone, Copy, Debug)]
pub struct Px(pub f64);

impl Render for Px {
    fn render_to(&self, out: &mut String) {
        let v = if self.0.is_finite() { self.0 } else { 0.0 };
        let v = (v * 10.0).round() / 10.0;
        // `-0.0` prints as "-0".
        let v = if v == 0.0 { 0.0 } else { v };
        if v.fract() == 0.0 {
            out.push_str(&format!("{v:.0}"));
        } else {
            out.push_str(&format!("{v:.1}"));
        }
    }
}

/// As in an attribute: path data is built from these.
impl std::fmt::Display for Px {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.render_to(&mut s);
        f.write_str(&s)
    }
}

/// Seconds as a person reads them: up to three decimals, trailing zeros
/// dropped (`481`, `25.5`, `0.196`).
pub fn seconds(s: f64) -> String {
    let s = if s.is_finite() { s } else { 0.0 };
    let t = format!("{s:.3}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    if t == "-0" { "0".into() } else { t.into() }
}

/// Maps seconds (or any linear quantity) onto pixel coordinates: by
/// default the plot area's x coordinates, else those given to
/// [`TimeScale::onto`] (from the bottom up for a vertical scale).
#[derive(Clone, Copy, Debug)]
pub struct TimeScale {
    /// The first second shown (the left edge).
    pub t_min: f64,
    /// The last second shown (the right edge), at least 1 s after `t_min`
    /// ([`TimeScale::linear`]: after it by any positive amount).
    pub t_max: f64,
    /// The pixel coordinate of `t_min`.
    pub p0: f64,
    /// The pixel coordinate of `t_max`.
    pub p1: f64,
}

impl TimeScale {
    /// The same scale drawn from pixel `p0` (at `t_min`) to `p1` (at
    /// `t_max`; above `p0` for a vertical scale, `p1 < p0`).
    pub fn onto(self, p0: f64, p1: f64) -> TimeScale {
        TimeScale { p0, p1, ..self }
    }

    /// A scale from `v_min` to `v_max` of any sign and span (a parameter's
    /// values, a fraction of runs), on the plot area's x coordinates; an
    /// empty or reversed range is widened to one unit.
    pub fn linear(v_min: f64, v_max: f64) -> TimeScale {
        let v_min = if v_min.is_finite() { v_min } else { 0.0 };
        let v_max = if v_max.is_finite() && v_max > v_min {
            v_max
        } else {
            v_min + 1.0
        };
        TimeScale {
            t_min: v_min,
            t_max: v_max,
            p0: PLOT_X0,
            p1: PLOT_X1,
        }
    }

    /// A scale from `t_min` (at least 0) to `t_max` seconds.
    pub fn new(t_min: f64, t_max: f64) -> TimeScale {
        let t_min = if t_min.is_finite() {
            t_min.max(0.0)
        } else {
            0.0
        };
        let t_max = if t_max.is_finite() { t_max } else { 0.0 };
        TimeScale {
            t_min,
            t_max: t_max.max(t_min + 1.0),
            p0: PLOT_X0,
            p1: PLOT_X1,
        }
    }

    /// The seconds the scale spans.
    pub fn span(&self) -> f64 {
        self.t_max - self.t_min
    }

    /// The coordinate of second `t` (x, or y for a vertical scale),
    /// clamped into the scale's pixels.
    pub fn x(&self, t: f64) -> f64 {
        let t = if t.is_finite() { t } else { 0.0 };
        let t = t.clamp(self.t_min, self.t_max) - self.t_min;
        self.p0 + (t / self.span()) * (self.p1 - self.p0)
    }

    /// The width in pixels of the interval `[a, b]`, at least `min`.
    pub fn w(&self, a: f64, b: f64, min: f64) -> f64 {
        (self.x(b) - self.x(a)).max(min)
    }
}

/// A step of 1, 2 or 5 × 10ⁿ giving at most `most` intervals over `span`.
pub fn nice_step(span: f64, most: u32) -> f64 {
    let span = if span.is_finite() && span > 0.0 {
        span
    } else {
        1.0
    };
    let raw = span / f64::from(most.max(1));
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Tick positions from `t_min` to `t_max` (inclusive), at the multiples
/// of `step`.
pub fn ticks(t_min: f64, t_max: f64, step: f64) -> Vec<f64> {
    let first = (t_min / step).ceil();
    let n = (t_max / step).floor() - first;
    if !first.is_finite() || !n.is_finite() || n < 0.0 {
        return Vec::new();
    }
    (0..=n.min(100.0) as u32)
        .map(|i| (first + f64::from(i)) * step)
        .collect()
}

/// A label of width `w` that starts just right of `x`, moved left as far
/// as it must to end inside the chart.
pub fn label_x(x: f64, w: f64) -> f64 {
    (x + 3.0).min(WIDTH - 4.0 - w)
}

/// How wide `s` is drawn at `font_px` (a generous average for sans-serif).
pub fn text_w(s: &str, font_px: f64) -> f64 {
    s.chars().count() as f64 * font_px * 0.6
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The drill-time axis below a chart whose plot ends at `y`: grid lines up
/// to `top`, ticks, labels in seconds and the axis title.
pub fn time_axis(scale: &TimeScale, top: f64, y: f64) -> Markup {
    axis(scale, top, y, "drill time (s)")
}

/// A seconds axis below a chart whose plot ends at `y`, titled `title`.
pub fn axis(scale: &TimeScale, top: f64, y: f64, title: &str) -> Markup {
    axis_with(scale, top, y, title, 10, &seconds)
}

/// [`axis`] with at most `most` intervals between ticks, each labelled
/// by `label`.
pub fn axis_with(
    scale: &TimeScale,
    top: f64,
    y: f64,
    title: &str,
    most: u32,
    label: &dyn Fn(f64) -> String,
) -> Markup {
    let step = nice_step(scale.span(), most);
    html! {
        g class="axis" {
            @for t in ticks(scale.t_min, scale.t_max, step) {
                line class="grid" x1=(Px(scale.x(t))) x2=(Px(scale.x(t))) y1=(Px(top)) y2=(Px(y)) {}
                line x1=(Px(scale.x(t))) x2=(Px(scale.x(t))) y1=(Px(y)) y2=(Px(y + 5.0)) {}
                text class="tick" x=(Px(scale.x(t))) y=(Px(y + 17.0)) text-anchor="middle" { (label(t)) }
            }
            line x1=(Px(scale.p0)) x2=(Px(scale.p1)) y1=(Px(y)) y2=(Px(y)) {}
            text class="axis-title" x=(Px((scale.p0 + scale.p1) / 2.0)) y=(Px(y + 32.0)) text-anchor="middle" { (title) }
        }
    }
}

/// A vertical axis on a chart's left edge `x`, for a scale drawn onto y
/// coordinates ([`TimeScale::onto`]): grid lines across to `right`, ticks
/// labelled by `label` (at most `most` intervals), and `title` written
/// upwards beside them.
pub fn y_axis(
    scale: &TimeScale,
    x: f64,
    right: f64,
    title: &str,
    most: u32,
    label: &dyn Fn(f64) -> String,
) -> Markup {
    let step = nice_step(scale.span(), most);
    let mid = (scale.p0 + scale.p1) / 2.0;
    html! {
        g class="axis" {
            @for t in ticks(scale.t_min, scale.t_max, step) {
                line class="grid" x1=(Px(x)) x2=(Px(right)) y1=(Px(scale.x(t))) y2=(Px(scale.x(t))) {}
                line x1=(Px(x - 5.0)) x2=(Px(x)) y1=(Px(scale.x(t))) y2=(Px(scale.x(t))) {}
                text class="tick" x=(Px(x - 8.0)) y=(Px(scale.x(t) + 4.0)) text-anchor="end" { (label(t)) }
            }
            line x1=(Px(x)) x2=(Px(x)) y1=(Px(scale.p0)) y2=(Px(scale.p1)) {}
            text class="axis-title" x=(Px(x - 46.0)) y=(Px(mid)) text-anchor="middle"
                transform={ "rotate(-90 " (Px(x - 46.0)) " " (Px(mid)) ")" } { (title) }
        }
    }
}

/// Places labels left to right in as few rows as keep them apart: each
/// `(x, text width)` gets the first row whose last label ends before it.
pub fn label_rows(items: &[(f64, f64)], gap: f64) -> Vec<usize> {
    let mut ends: Vec<f64> = Vec::new();
    items
        .iter()
        .map(|&(x, w)| {
            let row = ends.iter().position(|&e| e + gap <= x);
            match row {
                Some(r) => {
                    ends[r] = x + w;
                    r
                }
                None => {
                    ends.push(x + w);
                    ends.len() - 1
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_one_two_or_five() {
        assert_eq!(nice_step(900.0, 10), 100.0);
        assert_eq!(nice_step(481.0, 10), 50.0);
        assert_eq!(nice_step(15.5, 10), 2.0);
        assert_eq!(nice_step(0.0, 10), 0.1);
        assert_eq!(ticks(0.0, 900.0, 100.0).len(), 10);
        assert_eq!(
            ticks(250.0, 900.0, 100.0),
            [300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0]
        );
    }

    #[test]
    fn numbers_print_short_and_finite() {
        let r = |x: f64| maud::html! { (Px(x)) }.into_string();
        assert_eq!(r(12.0), "12");
        assert_eq!(r(12.345), "12.3");
        assert_eq!(r(f64::NAN), "0");
        assert_eq!(r(-0.01), "0");
        assert_eq!(seconds(481.0), "481");
        assert_eq!(seconds(0.196), "0.196");
        assert_eq!(seconds(259.6460001), "259.646");
    }

    #[test]
    fn labels_take_the_first_free_row() {
        assert_eq!(
            label_rows(
                &[(0.0, 50.0), (30.0, 50.0), (60.0, 10.0), (90.0, 10.0)],
                4.0
            ),
            vec![0, 1, 0, 0]
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
