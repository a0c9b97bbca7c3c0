//! The HTML page of an availability budget (`drlab sla --format html`):
//! per user tier, each protection choice's share of periods within the
//! tier's budget with its 95 % interval against the share required (the
//! judgement the report makes, drawn), and its unplanned downtime per year
//! stacked by failure class (what to fix first); then the tables of the
//! text report and the command that reproduces it.
//!
//! Pure, like the drill and sweep pages: a function of the
//! [`SlaReport`] to the same bytes every time, with their style, axes and
//! escaping (`maud`: names from plan files cannot inject markup). Bounded
//! whatever the plan: at most [`TIERS_MAX`] tiers are drawn, each with at
//! most [`CHOICES_MAX`] choices; the tables list everything (the plan's
//! own bounds keep them small).

use maud::{Markup, html};

use crate::html::scale::{AXIS_H, Px, TEXT_MAX, TimeScale, axis_with, clip, seconds, text_w};
use crate::html::{document, key, shell_word};
use crate::sla::{
    Judgement, SlaReport, TierLine, budget, est, header, human, judgement, nines, pct, quantile,
    verdict,
};

/// The most tiers drawn as charts (all are in the tables).
pub const TIERS_MAX: usize = 20;
/// The most protection choices drawn per tier.
pub const CHOICES_MAX: usize = 12;
/// Failure-class colours (classes `f0`…), repeated past the last.
const COLOURS: usize = 8;

const CHART_W: f64 = 1200.0;
const LEFT: f64 = 260.0;
/// The plots end here; the figures written after each bar go to the right.
const RIGHT: f64 = 880.0;
const TOP: f64 = 12.0;
const ROW_H: f64 = 26.0;
/// The most characters of a bar's figures (they fit between the plot's
/// end and the chart's).
const NOTE_MAX: usize = 50;
const BAR_H: f64 = 14.0;

/// What `drlab sla` was run with, for the command that reproduces it.
#[derive(Clone, Debug)]
pub struct SlaRun<'a> {
    /// The plan file, as given.
    pub plan_file: &'a str,
}

/// The page of `r`.
pub fn sla_html(r: &SlaReport, run: &SlaRun<'_>) -> String {
    page(r, run).into_string()
}

fn page(r: &SlaReport, run: &SlaRun<'_>) -> Markup {
    let tiers = by_tier(r);
    let title = format!("drlab sla: {}", clip(&r.plan, TEXT_MAX));
    document(
        &title,
        SLA_CSS,
        html! {
            header {
                h1 { "drlab sla: " (clip(&r.plan, TEXT_MAX)) }
                (answer(r))
                p class="note" { (header(r)) }
            }
            section {
                h2 { "Within budget, per tier" }
                p class="legend" {
                    (key("judged meets", "meets"))
                    (key("judged undecided", "undecided"))
                    (key("judged misses", "misses"))
                    span class="key" { svg width="16" height="12" aria-hidden="true" { line class="ci" x1="0" x2="16" y1="6" y2="6" {} } " 95 % interval" }
                    span class="key" { svg width="16" height="12" aria-hidden="true" { g class="required" { line x1="8" x2="8" y1="0" y2="12" {} } } " share of periods required" }
                }
                @for (i, (tier, lines)) in tiers.iter().take(TIERS_MAX).enumerate() {
                    h3 { (clip(tier, TEXT_MAX)) }
                    p class="note" { "budget: " (budget(lines[0])) }
                    (share_chart(i, lines))
                    (downtime_chart(i, lines))
                }
                @if tiers.len() > TIERS_MAX {
                    p class="note" { (tiers.len() - TIERS_MAX) " more tier(s) in the tables below and in sla.json." }
                }
            }
            (tier_table(r))
            (class_table(r))
            footer {
                h2 { "Reproduce" }
                pre { (command(r, run)) }
                p class="note" { (crate::sla::NOTES) }
            }
        },
    )
}

/// Whether a choice meets every tier, in words.
fn answer(r: &SlaReport) -> Markup {
    let meeting = r.choices_meeting_all();
    let ok = !meeting.is_empty();
    html! {
        p id="verdict" class={ "verdict " @if ok { "pass" } @else { "fail" } } {
            @if ok {
                strong { "PASS" } " — every tier's budget is met with 95 % confidence under: "
                (clip(&meeting.join(", "), TEXT_MAX))
            } @else {
                strong { "FAIL" } " — no protection choice meets every tier's budget with 95 % confidence."
            }
        }
    }
}

/// The tier lines grouped by tier, in the report's order.
fn by_tier(r: &SlaReport) -> Vec<(&str, Vec<&TierLine>)> {
    let mut out: Vec<(&str, Vec<&TierLine>)> = Vec::new();
    for t in &r.tiers {
        match out.iter_mut().find(|(name, _)| *name == t.tier) {
            Some((_, v)) => v.push(t),
            None => out.push((t.tier.as_str(), vec![t])),
        }
    }
    out
}

fn judged_class(j: Judgement) -> &'static str {
    match j {
        Judgement::Meets => "judged meets",
        Judgement::Misses => "judged misses",
        Judgement::Undecided => "judged undecided",
    }
}

/// Height of a chart of `rows` rows with its axis.
fn chart_h(rows: usize) -> f64 {
    TOP + rows as f64 * ROW_H + AXIS_H + 4.0
}

/// One bar per choice: the share of periods within budget, its interval as
/// a whisker, and the share required as a line.
fn share_chart(tier: usize, lines: &[&TierLine]) -> Markup {
    let shown = &lines[..lines.len().min(CHOICES_MAX)];
    let xs = TimeScale::linear(0.0, 100.0).onto(LEFT, RIGHT);
    let bottom = TOP + shown.len() as f64 * ROW_H;
    let label = |v: f64| format!("{v:.0} %");
    html! {
        svg id={ "share-" (tier) } class="chart share" width=(Px(CHART_W)) height=(Px(chart_h(shown.len()))) role="img"
            aria-label="share of periods within the budget per protection choice" {
            rect class="plot" x=(Px(LEFT)) y=(Px(TOP)) width=(Px(RIGHT - LEFT)) height=(Px(bottom - TOP)) {}
            (axis_with(&xs, TOP, bottom, "periods within the budget (%)", 10, &label))
            @for (i, t) in shown.iter().enumerate() {
                @let y = TOP + i as f64 * ROW_H + (ROW_H - BAR_H) / 2.0;
                @let mid = y + BAR_H / 2.0;
                @let s = t.within_budget;
                text class="lbl" x=(Px(LEFT - 8.0)) y=(Px(mid + 4.0)) text-anchor="end" { (clip(&t.protection, 40)) }
                g class=(judged_class(t.judgement)) {
                    title { (t.protection) ": " (pct(s)) " of " (s.periods) " " (t.per) "s within budget — " (verdict(t)) }
                    @if s.share > 0.0 {
                        rect class="swatch" x=(Px(LEFT)) y=(Px(y)) width=(Px(xs.w(0.0, 100.0 * s.share, 0.0))) height=(Px(BAR_H)) {}
                    }
                }
                line class="ci" x1=(Px(xs.x(100.0 * s.lower))) x2=(Px(xs.x(100.0 * s.upper))) y1=(Px(mid)) y2=(Px(mid)) {}
                line class="ci" x1=(Px(xs.x(100.0 * s.lower))) x2=(Px(xs.x(100.0 * s.lower))) y1=(Px(mid - 4.0)) y2=(Px(mid + 4.0)) {}
                line class="ci" x1=(Px(xs.x(100.0 * s.upper))) x2=(Px(xs.x(100.0 * s.upper))) y1=(Px(mid - 4.0)) y2=(Px(mid + 4.0)) {}
                g class="required" {
                    line x1=(Px(xs.x(100.0 * t.meet_probability))) x2=(Px(xs.x(100.0 * t.meet_probability))) y1=(Px(y - 3.0)) y2=(Px(y + BAR_H + 3.0)) {}
                }
                @let note = format!("{} — {}", pct(s), verdict(t));
                text class="bar-note" x=(Px(note_x(xs.x(100.0 * s.upper.max(s.share)), &note))) y=(Px(mid + 4.0)) { (clip(&note, NOTE_MAX)) }
            }
        }
    }
}

/// One bar per choice: the unplanned downtime per year, stacked by failure
/// class (largest first, as the report orders them), with the yearly
/// downtime's interval.
fn downtime_chart(tier: usize, lines: &[&TierLine]) -> Markup {
    let shown = &lines[..lines.len().min(CHOICES_MAX)];
    let classes = class_order(shown);
    let top = shown
        .iter()
        .map(|t| {
            let stacked: f64 = t.contributions.iter().map(|c| c.downtime_per_year_s).sum();
            stacked.max(t.downtime_per_year_s.upper)
        })
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.05 } else { 60.0 };
    // ticks at round numbers of the unit the figures are read in
    let (unit_s, unit) = if top < 120.0 {
        (1.0, "s")
    } else if top < 7200.0 {
        (60.0, "min")
    } else {
        (3600.0, "h")
    };
    let xs = TimeScale::linear(0.0, top / unit_s).onto(LEFT, RIGHT);
    let x = |v_s: f64| xs.x(v_s / unit_s);
    let bottom = TOP + shown.len() as f64 * ROW_H;
    let label = |v: f64| format!("{} {unit}", seconds(v));
    html! {
        p class="legend" {
            @for (i, c) in classes.iter().enumerate() {
                (key(&format!("class f{}", i % COLOURS), &clip(c, 60)))
            }
        }
        svg id={ "downtime-" (tier) } class="chart downtime" width=(Px(CHART_W)) height=(Px(chart_h(shown.len()))) role="img"
            aria-label="unplanned downtime per year by failure class per protection choice" {
            rect class="plot" x=(Px(LEFT)) y=(Px(TOP)) width=(Px(RIGHT - LEFT)) height=(Px(bottom - TOP)) {}
            (axis_with(&xs, TOP, bottom, "unplanned downtime per year", 8, &label))
            @for (i, t) in shown.iter().enumerate() {
                @let y = TOP + i as f64 * ROW_H + (ROW_H - BAR_H) / 2.0;
                @let mid = y + BAR_H / 2.0;
                text class="lbl" x=(Px(LEFT - 8.0)) y=(Px(mid + 4.0)) text-anchor="end" { (clip(&t.protection, 40)) }
                @let bars = segments(t, &classes);
                @let end = bars.last().map_or(0.0, |b| b.to);
                @for b in bars.iter().filter(|b| b.to > b.from) {
                    g class={ "class f" (b.colour) } {
                        rect class="swatch" x=(Px(x(b.from))) y=(Px(y)) width=(Px((x(b.to) - x(b.from)).max(0.5))) height=(Px(BAR_H)) {
                            title { (b.failure) ": " (human(b.to - b.from)) " a year (" (format!("{:.0}", 100.0 * b.share)) " %), most in " (b.top_part) }
                        }
                    }
                }
                @let e = t.downtime_per_year_s;
                line class="ci" x1=(Px(x(e.lower))) x2=(Px(x(e.upper))) y1=(Px(mid)) y2=(Px(mid)) {}
                @let note = format!("{} a year [{}, {}]", human(e.mean), human(e.lower), human(e.upper));
                text class="bar-note" x=(Px(note_x(x(end.max(e.upper)), &note))) y=(Px(mid + 4.0)) { (clip(&note, NOTE_MAX)) }
            }
        }
    }
}

/// Where a bar's figures start: just after the bar's end at `x`, moved
/// left if they would leave the chart.
fn note_x(x: f64, note: &str) -> f64 {
    (x + 8.0).min(CHART_W - 4.0 - text_w(&clip(note, NOTE_MAX), 11.0))
}

/// One failure class's part of a stacked bar.
struct Segment<'a> {
    failure: &'a str,
    colour: usize,
    from: f64,
    to: f64,
    share: f64,
    top_part: &'a str,
}

/// `t`'s contributions laid end to end, coloured by their place in `classes`.
fn segments<'a>(t: &'a TierLine, classes: &[&str]) -> Vec<Segment<'a>> {
    let mut at = 0.0;
    t.contributions
        .iter()
        .map(|c| {
            let from = at;
            at += c.downtime_per_year_s;
            Segment {
                failure: &c.failure,
                colour: classes.iter().position(|n| *n == c.failure).unwrap_or(0) % COLOURS,
                from,
                to: at,
                share: c.share,
                top_part: c.top_part.as_deref().unwrap_or("-"),
            }
        })
        .collect()
}

/// The failure classes of `lines`, in the order they first appear.
fn class_order<'a>(lines: &[&'a TierLine]) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for t in lines {
        for c in &t.contributions {
            if !names.contains(&c.failure.as_str()) {
                names.push(c.failure.as_str());
            }
        }
    }
    names
}

fn tier_table(r: &SlaReport) -> Markup {
    html! {
        section {
            h2 { "Tiers" }
            table id="tiers" {
                tr { th { "protection" } th { "tier" } th { "budget" } th { "downtime a week" } th { "downtime a year" } th { "availability" } th { "within budget" } th { "verdict" } }
                @for t in &r.tiers {
                    tr {
                        td { (clip(&t.protection, TEXT_MAX)) }
                        td { (clip(&t.tier, TEXT_MAX)) }
                        td { (budget(t)) }
                        td { (est(t.downtime_per_week_s)) }
                        td { (est(t.downtime_per_year_s)) }
                        td { (format!("{:.4} %", t.availability_pct)) " (" (nines(t)) ")" }
                        td { (pct(t.within_budget)) }
                        td class=(judged_class(t.judgement)) { (verdict(t)) }
                    }
                }
            }
            h3 { "Failure classes per tier" }
            table id="contributions" {
                tr { th { "protection" } th { "tier" } th { "failure" } th { "downtime a year" } th { "share" } th { "within budget alone" } th { "most of it in" } }
                @for t in &r.tiers {
                    @for c in &t.contributions {
                        tr {
                            td { (clip(&t.protection, TEXT_MAX)) }
                            td { (clip(&t.tier, TEXT_MAX)) }
                            td { (clip(&c.failure, TEXT_MAX)) }
                            td { (human(c.downtime_per_year_s)) }
                            td { (format!("{:.0} %", 100.0 * c.share)) }
                            td class=(judged_class(c.alone)) { (pct(c.within_budget_alone)) " " (judgement(c.alone)) }
                            td { (clip(c.top_part.as_deref().unwrap_or("-"), TEXT_MAX)) }
                        }
                    }
                }
            }
        }
    }
}

fn class_table(r: &SlaReport) -> Markup {
    html! {
        section {
            h2 { "Outage per incident (s)" }
            table id="classes" {
                tr { th { "protection" } th { "failure" } th { "scenario" } th { "incidents a year" } th { "recovered" } th { "mean" }
                     @for q in r.classes.first().map(|c| c.quantiles.as_slice()).unwrap_or(&[]) { th { (q.name) } } }
                @for c in &r.classes {
                    tr {
                        td { (clip(&c.protection, TEXT_MAX)) }
                        td { (clip(&c.failure, TEXT_MAX)) }
                        td { (clip(&c.scenario, TEXT_MAX)) }
                        td { (format!("{}", c.rate_per_year)) }
                        td { (c.recovered) "/" (c.runs) }
                        td { (format!("{:.1}", c.mean_outage_s)) }
                        @for q in &c.quantiles { td { (quantile(q)) } }
                    }
                }
            }
        }
    }
}

/// The command that computes this report again.
fn command(r: &SlaReport, run: &SlaRun<'_>) -> String {
    format!(
        "drlab sla {} --seeds {} --seed {} --years {} --format html",
        shell_word(run.plan_file),
        r.runs,
        r.first_run_seed,
        r.years
    )
}

const SLA_CSS: &str = r#"
h3{font-size:15px;margin:14px 0 2px}
.plot{fill:#fcfcfd}
.judged.meets .swatch,.judged.meets rect.swatch{fill:#3c8d5a}
.judged.undecided .swatch{fill:#e0a31e}
.judged.misses .swatch{fill:#c62828}
td.judged.meets{color:#2e7d32;font-weight:600}td.judged.misses{color:#c62828;font-weight:600}td.judged.undecided{color:#a06d00}
.ci{stroke:#333;stroke-width:1.4}
.required line{stroke:#1b1f24;stroke-width:2;stroke-dasharray:3 2}
.bar-note{font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.f0 .swatch{fill:#1f77b4}.f1 .swatch{fill:#ff7f0e}.f2 .swatch{fill:#2ca02c}.f3 .swatch{fill:#9467bd}
.f4 .swatch{fill:#8c564b}.f5 .swatch{fill:#e377c2}.f6 .swatch{fill:#7f7f7f}.f7 .swatch{fill:#17becf}
#tiers,#contributions,#classes{border-collapse:collapse;margin:8px 0;font-size:13px}
#tiers th,#tiers td,#contributions th,#contributions td,#classes th,#classes td{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap;vertical-align:top}
pre{background:#f6f8fa;padding:8px 10px;overflow-x:auto}
"#;
