//! The HTML report: one self-contained page (inline CSS and SVG, no script,
//! no font, nothing fetched) that shows a drill at a glance: the verdict and
//! its reasons, the timeline (DR state bands, faults shaded while in effect,
//! the runbook's steps as a Gantt chart), the writes and probes over time,
//! each client population's stale DNS window, the RTO breakdown against its
//! objective, and the command that replays the drill.
//!
//! A pure function of the report and the events it was computed from:
//! markup is written with `maud` (checked at compile time, every string
//! escaped, so names from scenario files cannot inject markup), numbers
//! with one decimal, in the report's order: the same drill gives the same
//! bytes. The page is bounded whatever the trace: writes and probes are
//! counted in at most [`series::BUCKETS_MAX`] time buckets, and steps,
//! states, faults, clients, reasons and alerts are drawn up to a limit each
//! (the rest are counted, and are in `report.json`).

mod breakdown;
mod clients;
pub mod compare;
mod marks;
mod scale;
mod series;
pub mod sla;
pub mod sweep;
#[cfg(test)]
mod tests;
mod timeline;
mod workload;

use drlab_drivers::Event;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::compute::{Report, Verdict};
use crate::render::verdict_word;
use scale::{TEXT_MAX, TimeScale, clip, seconds};
use series::{Buckets, FaultWindow};

pub use series::BUCKETS_MAX;

/// The most reasons and alerts listed.
const LINES_MAX: usize = 100;

/// What every chart draws from: the report, its drill-time scale, the
/// fault windows and the bucketed workload.
pub(crate) struct View<'a> {
    r: &'a Report,
    scale: TimeScale,
    windows: Vec<FaultWindow<'a>>,
    buckets: Buckets,
}

impl<'a> View<'a> {
    fn new(r: &'a Report, events: &[Event]) -> View<'a> {
        let last_step = r.steps.iter().map(|s| s.start_s + s.duration_s);
        let t_max = last_step.fold(r.timeline.ended_s, f64::max);
        let scale = TimeScale::new(focus_from(r, t_max), t_max);
        View {
            r,
            scale,
            windows: series::fault_windows(&r.faults, scale.t_max),
            buckets: Buckets::of(events, r, &scale),
        }
    }
}

/// Where the time charts begin: 0, unless the incident (T0 to the end)
/// is less than half the drill, as in a drill that runs for days before
/// its fault; then a margin before T0 (a tenth of the incident, at least
/// a minute) at a round number, so the incident is drawn to a readable
/// scale.
fn focus_from(r: &Report, end: f64) -> f64 {
    let Some(t0) = r.timeline.t0_s else {
        return 0.0;
    };
    let margin = ((end - t0) * 0.1).max(60.0);
    let step = scale::nice_step(end - (t0 - margin), 10);
    let from = ((t0 - margin) / step).floor() * step;
    if from > end / 2.0 { from } else { 0.0 }
}

/// The HTML page of `report`, computed from `events` (the drill's trace);
/// `scenario_file` is the path the replay command names.
pub fn html(report: &Report, events: &[Event], scenario_file: &str) -> String {
    let v = View::new(report, events);
    page(&v, scenario_file).into_string()
}

fn page(v: &View<'_>, scenario_file: &str) -> Markup {
    let r = v.r;
    let title = format!("drlab report: {} — {}", r.scenario, verdict_word(r.verdict));
    document(
        &title,
        "",
        html! {
            (patterns())
            (verdict(r))
            (figures(r))
            (timeline_section(v))
            (workload_section(v))
            (clients_section(v))
            (breakdown_section(v))
            (alerts(r))
            (replay(r, scenario_file))
        },
    )
}

/// A whole page: the document, its head (`title`, the shared style then
/// `page_css`) and `body`, as every drlab page has them.
fn document(title: &str, page_css: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) (PreEscaped(page_css)) }
            }
            body { (body) }
        }
    }
}

/// The hatch that shades fault windows, defined once for every chart.
fn patterns() -> Markup {
    html! {
        svg class="defs" width="0" height="0" aria-hidden="true" {
            defs {
                pattern id="fault-hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                    rect width="8" height="8" fill="#fdf0ef" {}
                    line x1="0" y1="0" x2="0" y2="8" stroke="#f2c4bf" stroke-width="2.5" {}
                }
            }
        }
    }
}

/// The title, the verdict in words and the reasons.
fn verdict(r: &Report) -> Markup {
    let class = match r.verdict {
        Verdict::Pass => "verdict pass",
        Verdict::Fail => "verdict fail",
    };
    html! {
        header {
            h1 { "drlab report: " (r.scenario) }
            p id="verdict" class=(class) {
                strong { (verdict_word(r.verdict)) }
                @match r.verdict {
                    Verdict::Pass => " — every objective met, nothing broke.",
                    Verdict::Fail => { " — " (r.reasons.len()) " reason(s):" },
                }
            }
            @if !r.reasons.is_empty() {
                ul id="reasons" {
                    @for reason in r.reasons.iter().take(LINES_MAX) { li { (clip(reason, TEXT_MAX)) } }
                    @if r.reasons.len() > LINES_MAX { li { "… and " (r.reasons.len() - LINES_MAX) " more (see report.json)" } }
                }
            }
        }
    }
}

/// `x` seconds as [`seconds`] prints them, with the unit, or `none`. (Not
/// `render::opt`: the page says what a missing figure means and drops
/// trailing zeros.)
fn opt_s(x: Option<f64>, none: &str) -> String {
    x.map_or_else(|| none.into(), |s| format!("{} s", seconds(s)))
}

/// The key figures as a table.
fn figures(r: &Report) -> Markup {
    html! {
        table id="figures" {
            tr {
                th { "RTO" } td { (opt_s(r.rto_s, "not restored")) " (objective " (seconds(r.objectives.rto_s)) " s)" }
                th { "RPO" } td {
                    (opt_s(r.rpo_s, "unknown"))
                    " (objective " (seconds(r.objectives.rpo_s)) " s)"
                }
                th { "lost writes" } td { (r.lost_writes) " (" (r.lost_bytes) " bytes)" }
            }
            tr {
                th { "runbook" } td { (r.runbook) }
                th { "backend" } td { (r.backend) ", seed " (r.seed) }
                th { "ended" } td { (clip(&r.end_reason, TEXT_MAX)) " at " (seconds(r.timeline.ended_s)) " s" }
            }
            @if let Some(f) = r.failover_s {
                tr {
                    th { "failover 210→214" } td { (seconds(f)) " s" @if let Some(o) = r.objectives.failover_s { " (objective " (seconds(o)) " s)" } }
                    th { "switch-back 222→226" } td { (opt_s(r.switch_back_s, "not restored")) }
                    th { "decision" } td { (decision(r)) }
                }
            }
        }
    }
}

fn decision(r: &Report) -> &'static str {
    match r.decision {
        Some(drlab_drivers::event::Decision::Operator) => "operator",
        Some(drlab_drivers::event::Decision::Autopilot) => "autopilot",
        Some(drlab_drivers::event::Decision::ConfirmationTimeout) => "confirmation timed out",
        None => "none",
    }
}

/// A legend entry: a swatch drawn with the chart's own classes, then text.
fn key(group_class: &str, text: &str) -> Markup {
    html! {
        span class="key" {
            svg width="16" height="12" aria-hidden="true" { g class=(group_class) { rect class="swatch" x="0" y="1" width="16" height="10" {} } }
            " " (text)
        }
    }
}

fn timeline_section(v: &View<'_>) -> Markup {
    let r = v.r;
    let codes: Vec<(u16, &str)> = {
        let mut c: Vec<(u16, &str)> = r.states.iter().map(|s| (s.code, s.state)).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    html! {
        section {
            h2 { "Timeline" }
            p class="legend" {
                (key("fault-window", "fault in effect"))
                (key("step step-ok", "step ok"))
                (key("step step-failed", "step failed"))
                (key("step step-skipped", "step skipped"))
                (key("step step-unfinished", "step unfinished"))
                span class="key" { svg width="16" height="12" aria-hidden="true" { line class="milestone" x1="8" x2="8" y1="0" y2="12" {} } " milestone" }
            }
            p class="legend" {
                "DR states: "
                @for (code, state) in &codes { (key(&format!("state-band state-{code}"), &format!("{code} {state}"))) }
            }
            (focus_note(v))
            (timeline::timeline(v))
            @if r.steps.len() > timeline::STEPS_MAX {
                p class="note" { (r.steps.len() - timeline::STEPS_MAX) " more steps are not drawn (see report.json)." }
            }
        }
    }
}

/// Says so when the time charts start after 0 (see [`focus_from`]).
fn focus_note(v: &View<'_>) -> Markup {
    html! {
        @if v.scale.t_min > 0.0 {
            p class="note" {
                "The time charts show " (seconds(v.scale.t_min)) "–" (seconds(v.scale.t_max))
                " s, the incident and a margin before it; a step that began earlier is drawn at the left edge with its start time."
            }
        }
    }
}

fn workload_section(v: &View<'_>) -> Markup {
    html! {
        section {
            h2 { "Writes and probes" }
            p class="note" {
                "Counted per " (seconds(v.buckets.width_s)) " s of drill time. Bar heights are relative to the busiest bucket: "
                (v.buckets.peak(&[0, 1, 2])) " writes, " (v.buckets.peak(&[3, 4])) " probes. "
                "A lost write was acknowledged but is missing from the serving site after recovery."
            }
            @if v.buckets.before.iter().any(|&n| n > 0) {
                @let b = &v.buckets.before;
                p class="note" {
                    "Before " (seconds(v.scale.t_min)) " s: " (b[0]) " writes acknowledged (" (b[2]) " of them lost), "
                    (b[1]) " failed; " (b[3]) " probes ok, " (b[4]) " failed."
                }
            }
            (workload::workload(v))
        }
    }
}

fn clients_section(v: &View<'_>) -> Markup {
    let r = v.r;
    html! {
        section {
            h2 { "Stale DNS after the change" }
            @if r.clients.is_empty() {
                p id="clients-none" class="note" { "No client population was watched after a DNS change." }
            } @else {
                p class="note" {
                    "Each bar runs from the DNS change until that population's resolver first answered the new address. "
                    @if let Some(t0) = r.timeline.t0_s {
                        "Users are within the RTO objective when redirected by T0 + " (seconds(r.objectives.rto_s)) " s = " (seconds(t0 + r.objectives.rto_s)) " s."
                    }
                }
                p class="legend" { (key("stale-window", "stale window")) (key("stale-window never", "never redirected")) }
                (clients::clients(v))
                @if r.clients.len() > clients::CLIENTS_MAX {
                    p class="note" { (r.clients.len() - clients::CLIENTS_MAX) " more populations are not drawn (see report.json)." }
                }
            }
        }
    }
}

fn breakdown_section(v: &View<'_>) -> Markup {
    html! {
        section {
            h2 { "RTO breakdown" }
            @if let Some(b) = v.r.rto_breakdown {
                p class="legend" {
                    @for (class, name, s) in breakdown::parts(&b) {
                        (key(&format!("part {class}"), &format!("{name} {} s", seconds(s))))
                    }
                    span class="key" { svg width="16" height="12" aria-hidden="true" { g class="objective" { line x1="8" x2="8" y1="0" y2="12" {} } } " objective" }
                }
            }
            (breakdown::breakdown(v))
        }
    }
}

fn alerts(r: &Report) -> Markup {
    html! {
        @if !r.alerts.is_empty() {
            section {
                h2 { "Alerts" }
                ul id="alerts" {
                    @for a in r.alerts.iter().take(LINES_MAX) { li { (seconds(a.at_s)) " s: " (clip(&a.message, TEXT_MAX)) } }
                    @if r.alerts.len() > LINES_MAX { li { "… and " (r.alerts.len() - LINES_MAX) " more (see report.json)" } }
                }
            }
        }
    }
}

/// `s` as one shell word.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-+:=,@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The seed, the command that replays the drill, and what the page is.
fn replay(r: &Report, scenario_file: &str) -> Markup {
    let command = format!(
        "drlab run {} --seed {}",
        shell_word(&clip(scenario_file, TEXT_MAX)),
        r.seed
    );
    html! {
        footer {
            p { "Seed " strong { (r.seed) } ". Replay this drill" @if r.backend != "sim" { " in the simulator" } ":" }
            pre id="replay" { code { (command) } }
            p class="note" {
                (r.events) " events, trace " code { (r.trace_hash) } ". Drawn from the report and its events alone; "
                "writes and probes are counted in at most " (BUCKETS_MAX) " time buckets."
            }
        }
    }
}

/// The page's style: system fonts only, colours doubled by labels.
const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:20px 24px;color:#1b1f24;background:#fff;max-width:1220px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:17px;margin:22px 0 4px;border-bottom:1px solid #ddd;padding-bottom:2px}
.verdict{font-size:16px;margin:4px 0;padding:6px 10px;border-left:6px solid}
.verdict.pass{background:#e6f4ea;border-color:#2e7d32}
.verdict.fail{background:#fdecea;border-color:#c62828}
#reasons{margin:4px 0 8px}
#figures{border-collapse:collapse;margin:8px 0}
#figures th{text-align:right;font-weight:600;padding:2px 6px 2px 14px;color:#444}
#figures td{padding:2px 6px}
.note{color:#444;margin:2px 0 6px}
.legend{margin:2px 0;font-size:13px}
.key{margin-right:14px;white-space:nowrap}
.key svg{vertical-align:-1px}
svg.defs{position:absolute}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;fill:#1b1f24}
.lbl{font-size:12px}
.lane{font-size:12px;font-weight:600}
.step-label,.step-note,.tick{font-size:11px}
.step-note{fill:#333}
.step-note,.band-label,.milestone-label,.axis-title,.tick{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.part-execution text{stroke:none}
.band-label{font-size:11px}
.axis line{stroke:#777}
.axis line.grid{stroke:#e7e7e7}
.axis-title{font-size:11px;font-style:italic}
.baseline{stroke:#bbb}
.fault-window{fill:url(#fault-hatch)}
.fault-mark{fill:#c62828}
.milestone{stroke:#333;stroke-dasharray:3 3}
.milestone-label{font-weight:600}
.state-band rect{stroke:#fff;stroke-width:1}
.state-202 rect{fill:#cfe8cf}.state-206 rect{fill:#ffe0a3}.state-210 rect{fill:#ffc58a}
.state-214 rect{fill:#b9d3f0}.state-218 rect{fill:#d6c8ee}.state-222 rect{fill:#f9c9a0}
.state-226 rect{fill:#c9bce6}.state-232 rect{fill:#f3b7b7}
.step-ok rect{fill:#4a7fb5}
.step-failed rect{fill:#d9534f}
.step-skipped rect{fill:#fff;stroke:#888;stroke-dasharray:3 2}
.step-unfinished rect{fill:#f0c36d;stroke:#a06d00}
.writes-acked rect{fill:#3c8d5a}.writes-failed rect{fill:#e08a1e}.writes-lost rect{fill:#c62828}
.probes-ok rect{fill:#4a7fb5}.probes-failed rect{fill:#8e44ad}
.stale-window rect{fill:#f0c36d;stroke:#a06d00}
.stale-window.never rect{fill:#f6cfcb;stroke:#c62828;stroke-dasharray:4 2}
.part rect{stroke:#fff;stroke-width:1}
.part-detection rect{fill:#e9a23b}.part-decision rect{fill:#d8c54a}
.part-execution rect{fill:#3f6fa3}.part-propagation rect{fill:#8fbce0}
.part-execution text{fill:#fff}
.objective line{stroke:#c62828;stroke-width:2;stroke-dasharray:6 3}
footer{margin-top:24px;border-top:1px solid #ddd;padding-top:6px}
pre{background:#f4f4f4;padding:6px 10px;margin:4px 0}
"#;
