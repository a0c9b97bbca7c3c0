//! The HTML page of a sweep (`drlab sweep --format html`): per variant the
//! empirical RTO and RPO distributions as step CDFs, and, when one
//! parameter is varied, the p50/p95/p99 of each against its values with
//! their 95 % confidence bounds as whiskers, the objectives as horizontal
//! lines, the `--require` bound as a line and its answer (the smallest
//! value that meets it) marked; then the table of the variants.
//!
//! Pure, like the drill page: a function of [`SweepPage`] (what the sweep
//! computed, as plain data) to the same bytes every time, with the drill
//! page's style, axes and escaping. Bounded whatever the number of seeds:
//! each CDF is drawn from at most [`CDF_POINTS_MAX`] of its steps (the
//! drawn curve is never more than 1 / `CDF_POINTS_MAX` below the
//! empirical one), and at most [`VARIANTS_MAX`] variants are drawn.

use maud::{Markup, html};
use serde::Serialize;

use crate::html::scale::{
    AXIS_H, Px, TEXT_MAX, TimeScale, axis_with, clip, seconds, text_w, y_axis,
};
use crate::html::{document, key, shell_word};

/// The most steps each CDF curve is drawn from.
pub const CDF_POINTS_MAX: usize = 200;
/// The most variants drawn (the rest are counted, and are in sweep.json).
pub const VARIANTS_MAX: usize = 100;

/// One metric's quantiles over a variant's runs, in seconds, as `drlab
/// sweep` computes them (nearest rank; `None`: +∞, a run that never
/// recovered) with their distribution-free 95 % confidence bounds
/// (`None`: too few runs to bound it, or the bounding run never recovered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SweepQuantiles {
    /// The median.
    pub p50: Option<f64>,
    /// The 95th percentile.
    pub p95: Option<f64>,
    /// The 99th percentile.
    pub p99: Option<f64>,
    /// The largest value.
    pub max: Option<f64>,
    /// The median's 95 % upper bound.
    pub p50_upper95: Option<f64>,
    /// The p95's 95 % upper bound.
    pub p95_upper95: Option<f64>,
    /// The p99's 95 % upper bound.
    pub p99_upper95: Option<f64>,
    /// The median's 95 % lower bound.
    pub p50_lower95: Option<f64>,
    /// The p95's 95 % lower bound.
    pub p95_lower95: Option<f64>,
    /// The p99's 95 % lower bound.
    pub p99_lower95: Option<f64>,
}

/// A quantile's name, estimate, lower and upper bound.
type Estimate = (&'static str, Option<f64>, Option<f64>, Option<f64>);

impl SweepQuantiles {
    /// p50, p95 and p99 with their bounds.
    fn each(&self) -> [Estimate; 3] {
        [
            ("p50", self.p50, self.p50_lower95, self.p50_upper95),
            ("p95", self.p95, self.p95_lower95, self.p95_upper95),
            ("p99", self.p99, self.p99_lower95, self.p99_upper95),
        ]
    }
}

/// One metric of one variant: every run's value (`None`: never restored,
/// or unknown) and the quantiles.
#[derive(Debug, Clone, Default)]
pub struct SweepMetric {
    /// Every run's value, in any order.
    pub samples: Vec<Option<f64>>,
    /// The quantiles of `samples`.
    pub q: SweepQuantiles,
}

/// One variant: its settings (key, value as TOML writes it) and its runs.
#[derive(Debug, Clone, Default)]
pub struct SweepVariant {
    /// `key=value …`, as the table names it.
    pub name: String,
    /// Each varied key with this variant's value.
    pub settings: Vec<(String, String)>,
    /// Runs (seeds).
    pub runs: u64,
    /// The share of runs that passed.
    pub pass_ratio: f64,
    /// Lost writes per run, on average.
    pub lost_writes_mean: f64,
    /// RTO in seconds (`None`: never restored).
    pub rto: SweepMetric,
    /// RPO in seconds (`None`: unknown).
    pub rpo: SweepMetric,
    /// The variant's RTO objective, in seconds.
    pub rto_objective_s: f64,
    /// The variant's RPO objective, in seconds.
    pub rpo_objective_s: f64,
    /// Whether the variant meets the requirement (when there is one).
    pub meets: Option<bool>,
}

/// A `--require METRIC<=BOUND` (`rpo_p99`, `rto_max`, …): met by a variant
/// whose quantile's 95 % upper bound (or largest value, for `max`) is at
/// most the bound.
#[derive(Debug, Clone)]
pub struct SweepRequire {
    /// `rto_p50` … `rpo_max`.
    pub metric: String,
    /// The bound, in seconds.
    pub bound: f64,
}

/// What a sweep computed, as the page draws it.
#[derive(Debug, Clone, Default)]
pub struct SweepPage {
    /// The scenario file, as given.
    pub scenario: String,
    /// Runs per variant.
    pub seeds: u64,
    /// The first seed.
    pub first_seed: u64,
    /// Each `--vary` key with its values, as given.
    pub vary: Vec<(String, Vec<String>)>,
    /// The variants in the order run.
    pub variants: Vec<SweepVariant>,
    /// The `--require`, if any.
    pub require: Option<SweepRequire>,
}

/// The page of a sweep.
pub fn sweep_html(p: &SweepPage) -> String {
    page(p).into_string()
}

const CHART_W: f64 = 590.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 572.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 290.0;
const CHART_H: f64 = BOTTOM + AXIS_H + 6.0;
/// Variant colours (classes `v0`…), repeated past the last.
const COLOURS: usize = 10;

fn page(p: &SweepPage) -> Markup {
    let title = format!("drlab sweep: {}", clip(&p.scenario, TEXT_MAX));
    document(
        &title,
        SWEEP_CSS,
        html! {
            header {
                h1 { "drlab sweep: " (clip(&p.scenario, TEXT_MAX)) }
                p class="note" {
                    (p.variants.len()) " variant(s) × " (p.seeds) " seeds from " (p.first_seed)
                    "; quantiles are nearest-rank, bounds distribution-free at 95 % confidence."
                }
                (answer(p))
            }
            (quantile_section(p))
            (cdf_section(p))
            (table(p))
            (footer(p))
        },
    )
}

/// The variants drawn.
fn shown(p: &SweepPage) -> &[SweepVariant] {
    &p.variants[..p.variants.len().min(VARIANTS_MAX)]
}

/// Which metric (`rto` or `rpo`) and which figure a requirement speaks of.
fn require_parts(metric: &str) -> (&str, &str) {
    metric.split_once('_').unwrap_or((metric, "max"))
}

/// The value a variant is judged on for `figure` (p50, p95, p99, max).
fn judged(q: &SweepQuantiles, figure: &str) -> Option<f64> {
    match figure {
        "p50" => q.p50_upper95,
        "p95" => q.p95_upper95,
        "p99" => q.p99_upper95,
        _ => q.max,
    }
}

fn metric_of<'a>(v: &'a SweepVariant, metric: &str) -> &'a SweepMetric {
    if metric == "rto" { &v.rto } else { &v.rpo }
}

/// The one varied parameter, when there is exactly one: its key, and its
/// values as numbers when every variant's is a number.
struct Param<'a> {
    key: &'a str,
    values: Option<Vec<f64>>,
}

fn param(p: &SweepPage) -> Option<Param<'_>> {
    let [(key, _)] = p.vary.as_slice() else {
        return None;
    };
    let values: Option<Vec<f64>> = shown(p)
        .iter()
        .map(|v| {
            v.settings
                .first()
                .and_then(|(_, x)| x.parse::<f64>().ok())
                .filter(|x| x.is_finite())
        })
        .collect();
    Some(Param { key, values })
}

/// The variant that answers the requirement: of those that meet it, the
/// one with the smallest value of the one varied parameter (when it is a
/// number), else the first in the order given.
fn answer_index(p: &SweepPage) -> Option<usize> {
    let meeting = shown(p)
        .iter()
        .enumerate()
        .filter(|(_, v)| v.meets == Some(true))
        .map(|(i, _)| i);
    match param(p).and_then(|q| q.values) {
        Some(xs) => meeting.min_by(|&a, &b| xs[a].total_cmp(&xs[b])),
        None => meeting.min(),
    }
}

/// The requirement and its answer, in words.
fn answer(p: &SweepPage) -> Markup {
    let Some(req) = &p.require else {
        return html! {};
    };
    let met = p.variants.iter().filter(|v| v.meets == Some(true)).count();
    let what = format!("{} ≤ {} s", req.metric, seconds(req.bound));
    html! {
        p id="requirement" class={ "verdict " @if met > 0 { "pass" } @else { "fail" } } {
            @match answer_index(p) {
                Some(i) => {
                    strong { (what) } ": met with 95 % confidence by " (met) " of " (p.variants.len()) " variant(s); "
                    @if param(p).and_then(|q| q.values).is_some() { "the smallest value meeting it: " } @else { "the first meeting it: " }
                    strong { (clip(&p.variants[i].name, TEXT_MAX)) }
                },
                None => { strong { (what) } ": no variant meets it with 95 % confidence." },
            }
        }
    }
}

fn quantile_section(p: &SweepPage) -> Markup {
    let Some(param) = param(p) else {
        return html! {
            section {
                h2 { "Quantiles against the parameter" }
                p class="note" {
                    @if p.vary.is_empty() { "No parameter was varied: the distributions below are of the scenario as written." }
                    @else { "Several parameters were varied together: their quantiles are in the table below." }
                }
            }
        };
    };
    html! {
        section {
            h2 { "Quantiles against " (clip(param.key, TEXT_MAX)) }
            p class="legend" {
                (key("quantile q-p50", "p50")) (key("quantile q-p95", "p95")) (key("quantile q-p99", "p99"))
                span class="key" { svg width="16" height="12" aria-hidden="true" { line class="ci" x1="8" x2="8" y1="0" y2="12" {} } " 95 % confidence bounds (dashed to the top: no upper bound from this many runs)" }
                span class="key" { svg width="16" height="12" aria-hidden="true" { g class="objective" { line x1="0" x2="16" y1="6" y2="6" {} } } " objective" }
                @if p.require.is_some() {
                    span class="key" { svg width="16" height="12" aria-hidden="true" { g class="requirement" { line x1="0" x2="16" y1="6" y2="6" {} } } " requirement" }
                }
            }
            div class="pair" {
                (quantile_chart(p, &param, "rto", "RTO"))
                (quantile_chart(p, &param, "rpo", "RPO"))
            }
        }
    }
}

/// Where each variant sits on the parameter axis, and that axis.
fn param_scale(param: &Param<'_>, n: usize) -> (TimeScale, Vec<f64>) {
    match &param.values {
        Some(xs) => {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let pad = if hi > lo {
                (hi - lo) * 0.06
            } else {
                lo.abs().max(1.0) * 0.1
            };
            (
                TimeScale::linear(lo - pad, hi + pad).onto(LEFT, RIGHT),
                xs.clone(),
            )
        }
        None => (
            TimeScale::linear(-0.5, n as f64 - 0.5).onto(LEFT, RIGHT),
            (0..n).map(|i| i as f64).collect(),
        ),
    }
}

/// p50/p95/p99 of `metric` against the parameter, with whiskers, the
/// objective, the requirement and its answer.
fn quantile_chart(p: &SweepPage, param: &Param<'_>, metric: &str, name: &str) -> Markup {
    let vs = shown(p);
    let (xs, at) = param_scale(param, vs.len());
    let objectives: Vec<f64> = vs.iter().map(|v| objective_of(v, metric)).collect();
    let req = p
        .require
        .as_ref()
        .filter(|r| require_parts(&r.metric).0 == metric);
    let mut top = objectives.iter().copied().fold(0.0, f64::max);
    for v in vs {
        for (_, q, lo, hi) in metric_of(v, metric).q.each() {
            for x in [q, lo, hi].into_iter().flatten() {
                top = top.max(x);
            }
        }
    }
    if let Some(r) = req {
        top = top.max(r.bound);
    }
    let ys = TimeScale::new(0.0, top * 1.08).onto(BOTTOM, TOP);
    let categorical = param.values.is_none();
    let label = |t: f64| {
        if categorical {
            let i = t.round();
            if (t - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < vs.len() {
                vs[i as usize]
                    .settings
                    .first()
                    .map_or_else(String::new, |(_, x)| clip(x, 14))
            } else {
                String::new()
            }
        } else {
            seconds(t)
        }
    };
    let most = if categorical {
        vs.len().min(12) as u32
    } else {
        10
    };
    let id = format!("quantiles-{metric}");
    html! {
        svg id=(id) role="img" aria-labelledby={ (id) "-title" } width=(Px(CHART_W)) height=(Px(CHART_H))
            viewBox={ "0 0 " (Px(CHART_W)) " " (Px(CHART_H)) } {
            title id={ (id) "-title" } { (name) " p50, p95 and p99 of " (clip(&p.scenario, TEXT_MAX)) " against " (clip(param.key, TEXT_MAX)) ", with 95 % confidence bounds" }
            (plot_area())
            text class="lane" x=(Px(LEFT)) y=(Px(TOP - 12.0)) { (name) " (s)" }
            (y_axis(&ys, LEFT, RIGHT, &format!("{name} (s)"), 8, &seconds))
            (axis_with(&xs, TOP, BOTTOM, &clip(param.key, 80), most, &label))
            (objective_lines(&ys, &objectives, &format!("{name} objective")))
            @if let Some(r) = req {
                @let y = ys.x(r.bound);
                g class="requirement" {
                    title { "requirement " (r.metric) " ≤ " (seconds(r.bound)) " s, judged on the 95 % upper bound" }
                    line x1=(Px(LEFT)) x2=(Px(RIGHT)) y1=(Px(y)) y2=(Px(y)) {}
                    text class="step-note" x=(Px(LEFT + 4.0)) y=(Px(y - 4.0)) { "requirement " (r.metric) " ≤ " (seconds(r.bound)) " s" }
                }
            }
            @for (k, (qname, _, _, _)) in SweepQuantiles::default().each().iter().enumerate() {
                (quantile_series(vs, metric, &xs, &ys, &at, k, qname))
            }
            @if let Some(r) = req {
                (answer_mark(p, r, &xs, &ys, &at))
            }
        }
    }
}

/// The plot area's background, under everything drawn.
fn plot_area() -> Markup {
    html! { rect class="plot" x=(Px(LEFT)) y=(Px(TOP)) width=(Px(RIGHT - LEFT)) height=(Px(BOTTOM - TOP)) {} }
}

fn objective_of(v: &SweepVariant, metric: &str) -> f64 {
    if metric == "rto" {
        v.rto_objective_s
    } else {
        v.rpo_objective_s
    }
}

/// The objective as a horizontal line across the chart, or, when the
/// variants' objectives differ (the sweep varies it), one line per value.
fn objective_lines(ys: &TimeScale, objectives: &[f64], label: &str) -> Markup {
    let mut distinct: Vec<f64> = objectives.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    html! {
        @for o in distinct {
            @let y = ys.x(o);
            g class="objective" {
                title { (label) " " (seconds(o)) " s" }
                line x1=(Px(LEFT)) x2=(Px(RIGHT)) y1=(Px(y)) y2=(Px(y)) {}
                text class="step-note" x=(Px(RIGHT - 4.0)) y=(Px(y - 4.0)) text-anchor="end" { (label) " " (seconds(o)) " s" }
            }
        }
    }
}

/// One quantile (k: 0 p50, 1 p95, 2 p99) across the variants: a line
/// through its finite values (broken where it is +∞, marked ∞ at the
/// top), a dot per variant and its bounds as a whisker, shifted a little
/// sideways so the three stay apart.
fn quantile_series(
    vs: &[SweepVariant],
    metric: &str,
    xs: &TimeScale,
    ys: &TimeScale,
    at: &[f64],
    k: usize,
    qname: &str,
) -> Markup {
    let dx = (k as f64 - 1.0) * 5.0;
    let mut order: Vec<usize> = (0..vs.len()).collect();
    order.sort_by(|&a, &b| at[a].total_cmp(&at[b]));
    let mut d = String::new();
    let mut pen_down = false;
    for &i in &order {
        match metric_of(&vs[i], metric).q.each()[k].1 {
            Some(q) => {
                let cmd = if pen_down { 'L' } else { 'M' };
                d += &format!("{cmd}{} {}", Px(xs.x(at[i]) + dx), Px(ys.x(q)));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    html! {
        g class={ "quantile q-" (qname) } {
            @if !d.is_empty() { path d=(d) {} }
            @for &i in &order {
                @let v = &vs[i];
                @let (_, q, lo, hi) = metric_of(v, metric).q.each()[k];
                @let x = xs.x(at[i]) + dx;
                @let bounds = format!("95 % bounds {} to {}", lo.map_or("unknown".into(), |l| format!("{} s", seconds(l))), hi.map_or("unknown (too few runs, or a run never recovered)".into(), |h| format!("{} s", seconds(h))));
                @if let Some(lo) = lo {
                    @let y_hi = hi.map_or(TOP, |h| ys.x(h));
                    line class={ "ci" @if hi.is_none() { " open" } } x1=(Px(x)) x2=(Px(x)) y1=(Px(ys.x(lo))) y2=(Px(y_hi)) {
                        title { (clip(&v.name, TEXT_MAX)) " " (qname) ": " (bounds) }
                    }
                    line class="ci" x1=(Px(x - 3.0)) x2=(Px(x + 3.0)) y1=(Px(ys.x(lo))) y2=(Px(ys.x(lo))) {}
                    @if let Some(h) = hi { line class="ci" x1=(Px(x - 3.0)) x2=(Px(x + 3.0)) y1=(Px(ys.x(h))) y2=(Px(ys.x(h))) {} }
                }
                @match q {
                    Some(q) => {
                        circle cx=(Px(x)) cy=(Px(ys.x(q))) r="3.5" {
                            title { (clip(&v.name, TEXT_MAX)) " " (qname) " " (seconds(q)) " s; " (bounds) }
                        }
                    },
                    None => {
                        text class="infinite" x=(Px(x)) y=(Px(TOP - 2.0)) text-anchor="middle" {
                            "∞" title { (clip(&v.name, TEXT_MAX)) " " (qname) ": a run never recovered" }
                        }
                    },
                }
            }
        }
    }
}

/// The answer on the chart of the requirement's metric: a vertical line
/// at the variant that answers it, its judged value ringed and labelled;
/// or, when none meets it, a note in the chart.
fn answer_mark(
    p: &SweepPage,
    r: &SweepRequire,
    xs: &TimeScale,
    ys: &TimeScale,
    at: &[f64],
) -> Markup {
    let (metric, figure) = require_parts(&r.metric);
    let Some(i) = answer_index(p) else {
        let note = format!("no variant meets {} ≤ {} s", r.metric, seconds(r.bound));
        return html! {
            g id="require-answer" class="answer none" {
                text class="step-note" x=(Px((LEFT + RIGHT) / 2.0)) y=(Px(TOP + 14.0)) text-anchor="middle" { (note) }
            }
        };
    };
    let v = &p.variants[i];
    let x = xs.x(at[i]);
    let value = judged(&metric_of(v, metric).q, figure);
    let value_text = settings_value(v);
    let label = format!("smallest meeting it: {value_text}");
    let anchor = if x + text_w(&label, 11.0) + 6.0 > RIGHT {
        "end"
    } else {
        "start"
    };
    let lx = if anchor == "end" { x - 5.0 } else { x + 5.0 };
    html! {
        g id="require-answer" class="answer" {
            title {
                (clip(&v.name, TEXT_MAX)) " meets " (r.metric) " ≤ " (seconds(r.bound)) " s: "
                @match value { Some(x) => { "judged " (seconds(x)) " s" }, None => { "judged value unknown" } }
            }
            line x1=(Px(x)) x2=(Px(x)) y1=(Px(TOP)) y2=(Px(BOTTOM)) {}
            @if let Some(y) = value { circle cx=(Px(x)) cy=(Px(ys.x(y))) r="7" {} }
            text class="step-note answer-label" x=(Px(lx)) y=(Px(TOP + 12.0)) text-anchor=(anchor) { (label) }
        }
    }
}

/// A variant's value of the one varied key (its name else).
fn settings_value(v: &SweepVariant) -> String {
    match v.settings.as_slice() {
        [(_, x)] => clip(x, 40),
        _ => clip(&v.name, 60),
    }
}

fn cdf_section(p: &SweepPage) -> Markup {
    let vs = shown(p);
    html! {
        section {
            h2 { "RTO and RPO distributions" }
            p class="note" {
                "The share of runs whose RTO (RPO) was at most each value: one step curve per variant, drawn from at most "
                (CDF_POINTS_MAX) " of its steps. A curve that ends below 100 % has runs that never recovered (RTO) or whose RPO is unknown."
            }
            @if vs.len() > COLOURS {
                p class="note" {
                    "More variants than colours: one small chart per variant, its curve over the others' in grey, every chart on the same scale."
                }
                (cdf_panels(p, "rto", "RTO"))
                (cdf_panels(p, "rpo", "RPO"))
            } @else {
                p class="legend" {
                    @for (i, v) in vs.iter().enumerate() {
                        (key(&format!("cdf v{}", i % COLOURS), &clip(&v.name, 80)))
                    }
                }
                div class="pair" {
                    (cdf_chart(p, "rto", "RTO"))
                    (cdf_chart(p, "rpo", "RPO"))
                }
            }
            (same_curves(p, "rto", "RTO"))
            (same_curves(p, "rpo", "RPO"))
            @if p.variants.len() > VARIANTS_MAX {
                p class="note" { (p.variants.len() - VARIANTS_MAX) " more variants are not drawn (see sweep.json)." }
            }
        }
    }
}

/// The steps of the empirical CDF of `samples`: (value, share of runs at
/// most it), ascending, `None`s (never recovered) counted in the total
/// only; at most [`CDF_POINTS_MAX`]: when there are more, for each
/// `k / CDF_POINTS_MAX` the first step that reaches it.
pub fn cdf_steps(samples: &[Option<f64>]) -> Vec<(f64, f64)> {
    let n = samples.len();
    let mut xs: Vec<f64> = samples
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    xs.sort_by(f64::total_cmp);
    let mut steps: Vec<(f64, f64)> = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        let share = (i + 1) as f64 / n as f64;
        match steps.last_mut() {
            Some(last) if last.0 == *x => last.1 = share,
            _ => steps.push((*x, share)),
        }
    }
    if steps.len() <= CDF_POINTS_MAX {
        return steps;
    }
    let mut kept = Vec::with_capacity(CDF_POINTS_MAX);
    let mut next = 0;
    for k in 1..=CDF_POINTS_MAX {
        let level = k as f64 / CDF_POINTS_MAX as f64;
        while next < steps.len() && steps[next].1 + 1e-12 < level {
            next += 1;
        }
        if next == steps.len() {
            break;
        }
        if kept.last() != Some(&steps[next]) {
            kept.push(steps[next]);
        }
    }
    // The last step (the largest value) is always drawn.
    if let Some(&last) = steps.last()
        && kept.last() != Some(&last)
    {
        if kept.len() == CDF_POINTS_MAX {
            kept.pop();
        }
        kept.push(last);
    }
    kept
}

/// One CDF's steps: (value, share of runs at most it).
type Steps = Vec<(f64, f64)>;

/// The CDF steps and objectives of the variants drawn, and the largest
/// value any shows (the right end of a scale they all share).
fn cdf_extent(p: &SweepPage, metric: &str) -> (Vec<Steps>, Vec<f64>, f64) {
    let vs = shown(p);
    let curves: Vec<Steps> = vs
        .iter()
        .map(|v| cdf_steps(&metric_of(v, metric).samples))
        .collect();
    let objectives: Vec<f64> = vs.iter().map(|v| objective_of(v, metric)).collect();
    let mut right = objectives.iter().copied().fold(0.0, f64::max);
    for c in &curves {
        if let Some(&(x, _)) = c.last() {
            right = right.max(x);
        }
    }
    (curves, objectives, right)
}

fn share_label(t: f64) -> String {
    format!("{} %", seconds(t * 100.0))
}

fn cdf_chart(p: &SweepPage, metric: &str, name: &str) -> Markup {
    let vs = shown(p);
    let (curves, objectives, right) = cdf_extent(p, metric);
    let xs = TimeScale::new(0.0, right * 1.05).onto(LEFT, RIGHT);
    let ys = TimeScale::linear(0.0, 1.0).onto(BOTTOM, TOP);
    let id = format!("cdf-{metric}");
    html! {
        svg id=(id) role="img" aria-labelledby={ (id) "-title" } width=(Px(CHART_W)) height=(Px(CHART_H))
            viewBox={ "0 0 " (Px(CHART_W)) " " (Px(CHART_H)) } {
            title id={ (id) "-title" } { "Empirical CDF of the " (name) " of " (clip(&p.scenario, TEXT_MAX)) ", one curve per variant" }
            (plot_area())
            text class="lane" x=(Px(LEFT)) y=(Px(TOP - 12.0)) { "share of runs with " (name) " ≤ x" }
            (y_axis(&ys, LEFT, RIGHT, "share of runs", 5, &share_label))
            (axis_with(&xs, TOP, BOTTOM, &format!("{name} (s)"), 8, &seconds))
            @for o in distinct(&objectives) {
                @let x = xs.x(o);
                g class="objective" {
                    title { (name) " objective " (seconds(o)) " s" }
                    line x1=(Px(x)) x2=(Px(x)) y1=(Px(TOP)) y2=(Px(BOTTOM)) {}
                    text class="step-note" x=(Px(x - 4.0)) y=(Px(TOP + 12.0)) text-anchor="end" { (name) " objective " (seconds(o)) " s" }
                }
            }
            @for (i, (v, c)) in vs.iter().zip(&curves).enumerate() {
                (cdf_curve(v, metric, name, c, (&xs, &ys), (LEFT, RIGHT), i))
            }
        }
    }
}

/// Size of one small chart of [`cdf_panels`].
const PANEL_W: f64 = 316.0;
const PANEL_LEFT: f64 = 62.0;
const PANEL_RIGHT: f64 = 288.0;
const PANEL_TOP: f64 = 26.0;
const PANEL_BOTTOM: f64 = 150.0;
const PANEL_H: f64 = PANEL_BOTTOM + AXIS_H + 4.0;

/// Small multiples: per variant, a small chart of its CDF over the other
/// variants' in grey, all on one scale so that charts compare (ids
/// `cdf-METRIC-I`). For more variants than one chart's colours tell apart.
/// Each curve's path is written once (in the first chart's `defs`) and the
/// others `use` it, so the page grows with the variants, not their square.
fn cdf_panels(p: &SweepPage, metric: &str, name: &str) -> Markup {
    let vs = shown(p);
    let (curves, objectives, right) = cdf_extent(p, metric);
    let xs = TimeScale::new(0.0, right * 1.05).onto(PANEL_LEFT, PANEL_RIGHT);
    let ys = TimeScale::linear(0.0, 1.0).onto(PANEL_BOTTOM, PANEL_TOP);
    let edges = (PANEL_LEFT, PANEL_RIGHT);
    html! {
        div class="panels" {
            @for (i, v) in vs.iter().enumerate() {
                @let id = format!("cdf-{metric}-{i}");
                svg id=(id) class="panel" role="img" aria-labelledby={ (id) "-title" } width=(Px(PANEL_W)) height=(Px(PANEL_H))
                    viewBox={ "0 0 " (Px(PANEL_W)) " " (Px(PANEL_H)) } {
                    title id={ (id) "-title" } { "Empirical CDF of the " (name) " of " (clip(&v.name, TEXT_MAX)) ", the other variants in grey" }
                    rect class="plot" x=(Px(PANEL_LEFT)) y=(Px(PANEL_TOP)) width=(Px(PANEL_RIGHT - PANEL_LEFT)) height=(Px(PANEL_BOTTOM - PANEL_TOP)) {}
                    text class="lane" x=(Px(PANEL_LEFT)) y=(Px(PANEL_TOP - 10.0)) { (name) ": " (clip(&v.name, 40)) }
                    (y_axis(&ys, PANEL_LEFT, PANEL_RIGHT, "", 2, &share_label))
                    (axis_with(&xs, PANEL_TOP, PANEL_BOTTOM, &format!("{name} (s)"), 4, &seconds))
                    @let o = xs.x(objectives[i]);
                    g class="objective" {
                        title { (name) " objective " (seconds(objectives[i])) " s" }
                        line x1=(Px(o)) x2=(Px(o)) y1=(Px(PANEL_TOP)) y2=(Px(PANEL_BOTTOM)) {}
                    }
                    @if i == 0 {
                        // each curve once, for the other charts' grey context
                        defs {
                            @for (j, c) in curves.iter().enumerate() {
                                path id={ "cdf-" (metric) "-curve-" (j) } d=(step_path(c, (&xs, &ys), edges)) {}
                            }
                        }
                    }
                    @for j in (0..vs.len()).filter(|&j| j != i) {
                        use class="context" href={ "#cdf-" (metric) "-curve-" (j) } {}
                    }
                    (cdf_curve(v, metric, name, &curves[i], (&xs, &ys), edges, i))
                }
            }
        }
    }
}

/// Names the variants whose curve is drawn exactly over an earlier one's
/// (and so hidden by it).
fn same_curves(p: &SweepPage, metric: &str, name: &str) -> Markup {
    let vs = shown(p);
    let curves: Vec<Vec<(f64, f64)>> = vs
        .iter()
        .map(|v| cdf_steps(&metric_of(v, metric).samples))
        .collect();
    let hidden: Vec<(usize, usize)> = (0..vs.len())
        .filter_map(|i| (0..i).find(|&j| curves[j] == curves[i]).map(|j| (i, j)))
        .collect();
    html! {
        @if !hidden.is_empty() {
            p class="note same-curve" {
                (name) ": "
                @for (k, (i, j)) in hidden.iter().enumerate() {
                    @if k > 0 { "; " }
                    (clip(&vs[*i].name, 80)) " has the same curve as " (clip(&vs[*j].name, 80))
                }
                " (drawn under the last)."
            }
        }
    }
}

fn distinct(xs: &[f64]) -> Vec<f64> {
    let mut d = xs.to_vec();
    d.sort_by(f64::total_cmp);
    d.dedup();
    d
}

/// One variant's CDF as a step path: flat from the left edge at 0, up at
/// each step, flat to the right edge at its last share.
fn cdf_curve(
    v: &SweepVariant,
    metric: &str,
    name: &str,
    steps: &[(f64, f64)],
    (xs, ys): (&TimeScale, &TimeScale),
    (left, right): (f64, f64),
    i: usize,
) -> Markup {
    let samples = &metric_of(v, metric).samples;
    let missing = samples.iter().filter(|s| s.is_none()).count();
    let d = step_path(steps, (xs, ys), (left, right));
    html! {
        g class={ "cdf v" (i % COLOURS) } {
            title {
                (clip(&v.name, TEXT_MAX)) ": " (name) " of " (samples.len()) " runs"
                @if let Some(q) = metric_of(v, metric).q.p50 { ", p50 " (seconds(q)) " s" }
                @if missing > 0 { "; " (missing) " never recovered or unknown" }
            }
            path d=(d) {}
        }
    }
}

/// A CDF's steps as an SVG path: flat from the `left` edge at 0, up at
/// each step, flat to the `right` edge at its last share.
fn step_path(
    steps: &[(f64, f64)],
    (xs, ys): (&TimeScale, &TimeScale),
    (left, right): (f64, f64),
) -> String {
    let mut d = format!("M{} {}", Px(left), Px(ys.x(0.0)));
    for &(x, share) in steps {
        d += &format!("H{}V{}", Px(xs.x(x)), Px(ys.x(share)));
    }
    d += &format!("H{}", Px(right));
    d
}

/// Seconds with one decimal, or ∞.
fn fmt1(x: Option<f64>) -> String {
    x.map_or_else(|| "∞".to_string(), |v| format!("{v:.1}"))
}

/// A quantile with its bounds below it, as the table shows it:
/// `395.1` over `[390.2, 400.8]`.
fn cell(q: Option<f64>, lo: Option<f64>, hi: Option<f64>) -> Markup {
    let b = |x: Option<f64>| x.map_or_else(|| "?".to_string(), |v| format!("{v:.1}"));
    html! { (fmt1(q)) br; span class="bounds" { "[" (b(lo)) ", " (b(hi)) "]" } }
}

fn table(p: &SweepPage) -> Markup {
    html! {
        section {
            h2 { "Variants" }
            p class="note" { "Seconds; each quantile with its 95 % confidence bounds [lower, upper] (? : too few runs to bound it; ∞: a run never recovered)." }
            table id="variants" {
                tr {
                    th { "variant" } th { "runs" } th { "pass" }
                    th { "RTO p50" } th { "p95" } th { "p99" } th { "max" }
                    th { "RPO p50" } th { "p95" } th { "p99" } th { "max" }
                    th { "lost writes (mean)" }
                    @if p.require.is_some() { th { "meets" } }
                }
                @for v in shown(p) {
                    tr {
                        td { (clip(&v.name, TEXT_MAX)) } td { (v.runs) } td { (format!("{:.0} %", v.pass_ratio * 100.0)) }
                        @for (_, q, lo, hi) in v.rto.q.each() { td { (cell(q, lo, hi)) } }
                        td { (fmt1(v.rto.q.max)) }
                        @for (_, q, lo, hi) in v.rpo.q.each() { td { (cell(q, lo, hi)) } }
                        td { (fmt1(v.rpo.q.max)) }
                        td { (format!("{:.1}", v.lost_writes_mean)) }
                        @match v.meets { Some(true) => td class="yes" { "yes" }, Some(false) => td class="no" { "no" }, None => {} }
                    }
                }
            }
            @if p.variants.len() > VARIANTS_MAX {
                p class="note" { (p.variants.len() - VARIANTS_MAX) " more variants are in sweep.json." }
            }
        }
    }
}

/// The command that repeats the sweep, and what the page is drawn from.
fn footer(p: &SweepPage) -> Markup {
    let mut command = format!(
        "drlab sweep {} --seeds {} --seed {}",
        shell_word(&clip(&p.scenario, TEXT_MAX)),
        p.seeds,
        p.first_seed
    );
    for (k, values) in &p.vary {
        command += &format!(
            " --vary {}",
            shell_word(&clip(&format!("{k}={}", values.join(",")), TEXT_MAX))
        );
    }
    if let Some(r) = &p.require {
        command += &format!(
            " --require {}",
            shell_word(&format!("{}<={}", r.metric, seconds(r.bound)))
        );
    }
    html! {
        footer {
            p { "Repeat this sweep (the same seeds give the same runs):" }
            pre id="replay" { code { (command) } }
            p class="note" {
                "Each CDF is drawn from at most " (CDF_POINTS_MAX) " of its steps (never more than "
                (seconds(100.0 / CDF_POINTS_MAX as f64)) " % below the empirical curve), at most "
                (VARIANTS_MAX) " variants are drawn."
            }
        }
    }
}

/// The sweep page's own style, after the drill page's.
const SWEEP_CSS: &str = r#"
.pair{display:flex;flex-wrap:wrap;gap:16px}
.plot{fill:#fcfcfd}
.cdf path{fill:none;stroke-width:2}
.panels{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:16px}
use.context{fill:none;stroke:#d3d7dd;stroke-width:1}
.cdf rect.swatch{height:4px;y:5px}
.v0 path{stroke:#1f77b4}.v0 .swatch{fill:#1f77b4}
.v1 path{stroke:#ff7f0e}.v1 .swatch{fill:#ff7f0e}
.v2 path{stroke:#2ca02c}.v2 .swatch{fill:#2ca02c}
.v3 path{stroke:#9467bd}.v3 .swatch{fill:#9467bd}
.v4 path{stroke:#8c564b}.v4 .swatch{fill:#8c564b}
.v5 path{stroke:#e377c2}.v5 .swatch{fill:#e377c2}
.v6 path{stroke:#7f7f7f}.v6 .swatch{fill:#7f7f7f}
.v7 path{stroke:#bcbd22}.v7 .swatch{fill:#bcbd22}
.v8 path{stroke:#17becf}.v8 .swatch{fill:#17becf}
.v9 path{stroke:#d62728}.v9 .swatch{fill:#d62728}
.quantile path{fill:none;stroke-width:2}
.q-p50 path{stroke:#3f6fa3}.q-p50 circle,.q-p50 .swatch{fill:#3f6fa3}
.q-p95 path{stroke:#e08a1e}.q-p95 circle,.q-p95 .swatch{fill:#e08a1e}
.q-p99 path{stroke:#8e44ad}.q-p99 circle,.q-p99 .swatch{fill:#8e44ad}
.ci{stroke:#555;stroke-width:1.2}
.ci.open{stroke-dasharray:3 2}
.infinite{font-size:13px;font-weight:700}
.requirement line{stroke:#2e7d32;stroke-width:2;stroke-dasharray:2 3}
.answer line{stroke:#2e7d32;stroke-width:1.5}
.answer circle{fill:none;stroke:#2e7d32;stroke-width:2}
.answer.none text{fill:#c62828}
#variants{border-collapse:collapse;margin:8px 0;font-size:13px}
#variants th,#variants td{padding:2px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap;vertical-align:top}
#variants .bounds{font-size:11px;color:#666}
#variants th:first-child,#variants td:first-child{text-align:left}
#variants td.yes{color:#2e7d32;font-weight:600}#variants td.no{color:#c62828}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` runs of a variant with value `x`: RTO 100 + i/n·x s, RPO i/n s.
    fn variant(x: u32, n: usize, meets: Option<bool>) -> SweepVariant {
        let rto: Vec<Option<f64>> = (0..n)
            .map(|i| Some(100.0 + f64::from(x) * i as f64 / n as f64))
            .collect();
        let rpo: Vec<Option<f64>> = (0..n).map(|i| Some(i as f64 / n as f64)).collect();
        let q = |top: f64| SweepQuantiles {
            p50: Some(top * 0.5),
            p95: Some(top * 0.95),
            p99: Some(top * 0.99),
            max: Some(top),
            p50_lower95: Some(top * 0.45),
            p50_upper95: Some(top * 0.55),
            p95_lower95: Some(top * 0.9),
            p99_lower95: Some(top * 0.97),
            ..SweepQuantiles::default()
        };
        SweepVariant {
            name: format!("k={x}"),
            settings: vec![("k".into(), x.to_string())],
            runs: n as u64,
            pass_ratio: 1.0,
            lost_writes_mean: 0.0,
            rto: SweepMetric {
                samples: rto,
                q: q(100.0 + f64::from(x)),
            },
            rpo: SweepMetric {
                samples: rpo,
                q: q(1.0 / f64::from(x)),
            },
            rto_objective_s: 300.0,
            rpo_objective_s: 0.5,
            meets,
        }
    }

    fn sweep(n: usize) -> SweepPage {
        SweepPage {
            scenario: "s.toml".into(),
            seeds: n as u64,
            first_seed: 1,
            vary: vec![("k".into(), vec!["8".into(), "2".into(), "4".into()])],
            variants: vec![
                variant(8, n, Some(true)),
                variant(2, n, Some(false)),
                variant(4, n, Some(true)),
            ],
            require: Some(SweepRequire {
                metric: "rpo_p50".into(),
                bound: 0.3,
            }),
        }
    }

    /// The markup of `<svg id="ID" …>…</svg>`.
    fn chart<'a>(page: &'a str, id: &str) -> &'a str {
        let at = page
            .find(&format!("<svg id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id}"));
        &page[at..at + page[at..].find("</svg>").unwrap()]
    }

    #[test]
    fn one_cdf_per_variant_and_metric_with_objectives_and_the_answer() {
        let p = sweep(50);
        let page = sweep_html(&p);
        assert_eq!(page, sweep_html(&p), "not deterministic");
        for id in ["cdf-rto", "cdf-rpo"] {
            let c = chart(&page, id);
            assert_eq!(c.matches("class=\"cdf v").count(), 3, "#{id}");
            assert_eq!(c.matches("class=\"objective\"").count(), 1, "#{id}");
        }
        for id in ["quantiles-rto", "quantiles-rpo"] {
            let c = chart(&page, id);
            assert_eq!(c.matches("class=\"objective\"").count(), 1, "#{id}");
            for q in ["p50", "p95", "p99"] {
                assert_eq!(c.matches(&format!("class=\"quantile q-{q}\"")).count(), 1);
            }
            // Whiskers: p50 bounded both ways, p95/p99 only from below.
            assert_eq!(c.matches("class=\"ci open\"").count(), 6, "#{id}");
        }
        // The requirement and its answer are on the RPO chart only: the
        // smallest value meeting it is 4, not the first given (8).
        let rpo = chart(&page, "quantiles-rpo");
        assert!(rpo.contains("class=\"requirement\""));
        assert!(rpo.contains("id=\"require-answer\" class=\"answer\""));
        assert!(rpo.contains("smallest meeting it: 4"), "{rpo}");
        assert!(!chart(&page, "quantiles-rto").contains("require-answer"));
        assert!(page.contains("the smallest value meeting it: <strong>k=4</strong>"));
        assert!(page.contains("--vary k=8,2,4 --require 'rpo_p50&lt;=0.3'"));
    }

    #[test]
    fn more_variants_than_colours_get_one_small_chart_each() {
        let mut p = sweep(20);
        p.variants = (1..=COLOURS as u32 + 2)
            .map(|x| variant(x, 20, None))
            .collect();
        let n = p.variants.len();
        let page = sweep_html(&p);
        for metric in ["rto", "rpo"] {
            assert!(
                !page.contains(&format!("id=\"cdf-{metric}\"")),
                "no overlay"
            );
            for i in 0..n {
                let c = chart(&page, &format!("cdf-{metric}-{i}"));
                // its own curve in its colour, last (on top), the others grey
                assert_eq!(
                    c.matches("class=\"context\"").count(),
                    n - 1,
                    "{metric} {i}"
                );
                let own = c.rfind("class=\"cdf v").unwrap();
                assert!(c[own..].starts_with(&format!("class=\"cdf v{}\"", i % COLOURS)));
                assert!(!c[own..].contains("context"), "{metric} {i}");
                assert_eq!(c.matches("class=\"objective\"").count(), 1);
            }
            assert!(!page.contains(&format!("id=\"cdf-{metric}-{n}\"")));
        }
        // At most as many colours as variants: the overlay stays.
        let few = sweep_html(&sweep(20));
        assert!(few.contains("id=\"cdf-rto\"") && !few.contains("id=\"cdf-rto-0\""));
    }

    #[test]
    fn no_variant_meeting_the_requirement_is_said_on_the_chart() {
        let mut p = sweep(10);
        for v in &mut p.variants {
            v.meets = Some(false);
        }
        let page = sweep_html(&p);
        let rpo = chart(&page, "quantiles-rpo");
        assert!(rpo.contains("class=\"answer none\""));
        assert!(rpo.contains("no variant meets rpo_p50 ≤ 0.3 s"));
        assert!(page.contains("class=\"verdict fail\""));
        // Nothing to draw draws without panicking.
        let empty = sweep_html(&SweepPage::default());
        assert!(empty.starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn a_million_runs_make_a_small_page() {
        let small = sweep_html(&sweep(50)).len();
        let big = sweep_html(&sweep(1_000_000));
        let steps = |c: &str| c.matches('H').count() - 1;
        for id in ["cdf-rto", "cdf-rpo"] {
            let c = chart(&big, id);
            for path in c.split("<path d=\"").skip(1) {
                let d = &path[..path.find('"').unwrap()];
                assert!(steps(d) <= CDF_POINTS_MAX, "#{id}: {} steps", steps(d));
            }
        }
        assert!(
            big.len() < small * 3,
            "{} bytes, {small} for 50 runs",
            big.len()
        );
    }

    #[test]
    fn cdf_steps_are_exact_when_few_and_within_a_step_of_the_curve_when_many() {
        let s = [Some(2.0), Some(1.0), Some(2.0), None];
        assert_eq!(cdf_steps(&s), vec![(1.0, 0.25), (2.0, 0.75)]);
        let n = 10_007;
        let xs: Vec<Option<f64>> = (0..n).map(|i| Some(f64::from(i))).collect();
        let steps = cdf_steps(&xs);
        assert!(steps.len() <= CDF_POINTS_MAX);
        assert_eq!(steps.last(), Some(&(f64::from(n - 1), 1.0)));
        // The drawn curve at x is the last kept step at or before x: never
        // above the empirical CDF, never more than 1 / CDF_POINTS_MAX below.
        for i in 0..n {
            let x = f64::from(i);
            let empirical = f64::from(i + 1) / f64::from(n);
            let drawn = steps
                .iter()
                .take_while(|s| s.0 <= x)
                .last()
                .map_or(0.0, |s| s.1);
            assert!(drawn <= empirical + 1e-12, "at {x}");
            assert!(
                empirical - drawn <= 1.0 / CDF_POINTS_MAX as f64 + 1e-9,
                "at {x}: {drawn} for {empirical}"
            );
        }
    }

    #[test]
    fn names_are_escaped_and_strings_drawn_as_categories() {
        let evil = "<script>alert(1)</script>";
        let mut p = sweep(5);
        p.scenario = evil.into();
        p.vary = vec![("policy".into(), vec![evil.into(), "b".into()])];
        p.variants.truncate(2);
        for (v, x) in p.variants.iter_mut().zip([evil, "\"b\""]) {
            v.settings = vec![("policy".into(), x.into())];
            v.name = format!("policy={x}");
        }
        let page = sweep_html(&p);
        assert!(!page.contains("<script"), "unescaped markup");
        assert!(page.contains("&lt;script&gt;"));
        // Categorical: the values label the axis.
        assert!(chart(&page, "quantiles-rto").contains("&quot;b&quot;"));
    }
}
