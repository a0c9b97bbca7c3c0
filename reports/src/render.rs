//! Renderers: a terminal summary, Markdown and JUnit XML. (JSON is the
//! report's own serialisation.)

use std::fmt::Write;

use crate::compute::{Report, Verdict};

/// Seconds to the millisecond, or `-`: every renderer's figures.
pub(crate) fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// `PASS` or `FAIL`: every renderer's verdict word.
pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    }
}

/// A terminal summary.
pub fn text(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} {} on {} (seed {}, runbook {})",
        verdict_word(r.verdict),
        r.scenario,
        r.backend,
        r.seed,
        r.runbook
    );
    let _ = writeln!(
        o,
        "  RTO {} s (objective {} s)   RPO {} s (objective {} s)   lost writes {} ({} bytes)",
        opt(r.rto_s),
        r.objectives.rto_s,
        opt(r.rpo_s),
        r.objectives.rpo_s,
        r.lost_writes,
        r.lost_bytes
    );
    if let Some(b) = r.rto_breakdown {
        let _ = writeln!(
            o,
            "  breakdown: detection {:.3} + decision {:.3} + execution {:.3} + propagation {:.3}",
            b.detection_s, b.decision_s, b.execution_s, b.propagation_s
        );
    }
    if let Some(f) = r.failover_s {
        let _ = writeln!(
            o,
            "  failover (Engaging Secondary 210 -> Secondary Engaged 214): {f:.3} s (objective {} s)",
            opt(r.objectives.failover_s)
        );
    }
    if let Some(f) = r.switch_back_s {
        let _ = writeln!(
            o,
            "  switch-back (Engaging Primary 222 -> ReSync Secondary 226): {f:.3} s"
        );
    }
    for reason in &r.reasons {
        let _ = writeln!(o, "  reason: {reason}");
    }
    if !r.clients.is_empty() {
        let _ = writeln!(o, "  clients (name watched after the DNS change):");
        for c in &r.clients {
            let _ = writeln!(
                o,
                "    {:<16} {:<44} stale {:>9} s  redirected at {:>9}  ({} s after T0)",
                c.client,
                c.resolver,
                opt(c.stale_s),
                opt(c.redirected_s),
                opt(c.after_t0_s)
            );
        }
    }
    let _ = writeln!(o, "  steps:");
    for s in &r.steps {
        let _ = write!(
            o,
            "    {:>9.3}  {:>8.3}s  {:<10} {}",
            s.start_s, s.duration_s, s.outcome, s.name
        );
        if let Some(d) = &s.detail {
            let _ = write!(o, "  ({d})");
        }
        o.push('\n');
    }
    let _ = writeln!(o, "  states:");
    for s in &r.states {
        let via = s.via.map(|v| format!(" via {v}")).unwrap_or_default();
        let _ = writeln!(o, "    {:>9.3}  {} ({}){via}", s.at_s, s.state, s.code);
    }
    crate::recovery::text(&r.recovery, &mut o);
    for a in &r.alerts {
        let _ = writeln!(o, "  alert at {:.3}: {}", a.at_s, a.message);
    }
    let _ = writeln!(
        o,
        "  writes acked {} failed {}, probes ok {} failed {}; ended: {}",
        r.workload.acked,
        r.workload.failed,
        r.workload.probes_ok,
        r.workload.probes_failed,
        r.end_reason
    );
    let _ = writeln!(o, "  {} events, trace {}", r.events, r.trace_hash);
    o
}

pub(crate) fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A Markdown report.
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# drlab report: {}\n", r.scenario);
    let _ = writeln!(
        o,
        "**Verdict: {}** · backend `{}` · seed {} · runbook `{}` · trace `{}`\n",
        verdict_word(r.verdict),
        r.backend,
        r.seed,
        r.runbook,
        r.trace_hash
    );
    if !r.reasons.is_empty() {
        let _ = writeln!(o, "## Why it failed\n");
        for reason in &r.reasons {
            let _ = writeln!(o, "- {reason}");
        }
        o.push('\n');
    }
    let _ = writeln!(o, "## Objectives\n");
    let _ = writeln!(o, "| | measured | objective |\n|---|---:|---:|");
    let _ = writeln!(o, "| RTO (s) | {} | {} |", opt(r.rto_s), r.objectives.rto_s);
    let _ = writeln!(o, "| RPO (s) | {} | {} |", opt(r.rpo_s), r.objectives.rpo_s);
    let _ = writeln!(
        o,
        "| lost writes | {} ({} bytes) | |\n",
        r.lost_writes, r.lost_bytes
    );
    if let Some(b) = r.rto_breakdown {
        let _ = writeln!(o, "## Where the recovery time went\n");
        let _ = writeln!(
            o,
            "| detection | decision | execution | propagation |\n|---:|---:|---:|---:|"
        );
        let _ = writeln!(
            o,
            "| {:.3} | {:.3} | {:.3} | {:.3} |\n",
            b.detection_s, b.decision_s, b.execution_s, b.propagation_s
        );
    }
    if let Some(f) = r.failover_s {
        let _ = writeln!(
            o,
            "## Failover\n\nEngaging Secondary (210) to Secondary Engaged (214): **{f:.3} s** \
             (objective {} s).\n",
            opt(r.objectives.failover_s)
        );
        if let Some(b) = r.switch_back_s {
            let _ = writeln!(
                o,
                "Switch-back, Engaging Primary (222) to ReSync Secondary (226): **{b:.3} s**.\n"
            );
        }
    }
    if !r.clients.is_empty() {
        let _ = writeln!(
            o,
            "## Client propagation\n\nHow long each population kept the old address after the DNS change.\n\n\
             | client | resolver | name | DNS changed (s) | redirected (s) | stale for (s) | after T0 (s) |\n\
             |---|---|---|---:|---:|---:|---:|"
        );
        for c in &r.clients {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.3} | {} | {} | {} |",
                md_escape(&c.client),
                md_escape(&c.resolver),
                md_escape(&c.name),
                c.watched_s,
                c.redirected_s
                    .map_or_else(|| "never".to_string(), |v| format!("{v:.3}")),
                opt(c.stale_s),
                opt(c.after_t0_s)
            );
        }
        o.push('\n');
    }
    let t = &r.timeline;
    let _ = writeln!(o, "## Timeline (drill seconds)\n");
    let _ = writeln!(
        o,
        "| fault (T0) | detected | engaged | runbook done | restored | ended |\n|---:|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {:.3} |\n",
        opt(t.t0_s),
        opt(t.detected_s),
        opt(t.engaged_s),
        opt(t.runbook_finished_s),
        opt(t.restored_s),
        t.ended_s
    );
    if !r.faults.is_empty() {
        let _ = writeln!(
            o,
            "## Faults\n\n| at (s) | fault | target |\n|---:|---|---|"
        );
        for f in &r.faults {
            let err = f
                .error
                .as_deref()
                .map(|e| format!(" (failed: {e})"))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "| {:.3} | {}{} | {} |",
                f.at_s,
                f.fault,
                md_escape(&err),
                md_escape(&f.target)
            );
        }
        o.push('\n');
    }
    if !r.steps.is_empty() {
        let _ = writeln!(
            o,
            "## Runbook steps\n\n| start (s) | duration (s) | outcome | step |\n|---:|---:|---|---|"
        );
        for s in &r.steps {
            let detail = s
                .detail
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "| {:.3} | {:.3} | {} | {}{} |",
                s.start_s,
                s.duration_s,
                s.outcome,
                md_escape(&s.name),
                md_escape(&detail)
            );
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "## Two-site state\n\n| at (s) | state | via |\n|---:|---|---:|"
    );
    for s in &r.states {
        let via = s.via.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(o, "| {:.3} | {} ({}) | {} |", s.at_s, s.state, s.code, via);
    }
    o.push('\n');
    crate::recovery::markdown(&r.recovery, &mut o);
    if !r.alerts.is_empty() {
        let _ = writeln!(o, "## Alerts\n");
        for a in &r.alerts {
            let _ = writeln!(o, "- {:.3} s: {}", a.at_s, a.message);
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "Workload: {} writes acknowledged, {} failed, {} held after recovery; probes {} ok, {} failed. \
         Drill ended: {} ({} events).",
        r.workload.acked,
        r.workload.failed,
        r.workload.held,
        r.workload.probes_ok,
        r.workload.probes_failed,
        r.end_reason,
        r.events
    );
    o
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test suite per report, one test case per objective, so
/// CI systems show which objective failed.
pub fn junit(reports: &[Report]) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for r in reports {
        let cases = [
            (
                "rto",
                r.rto_s.is_some_and(|x| x <= r.objectives.rto_s),
                format!("RTO {} s, objective {} s", opt(r.rto_s), r.objectives.rto_s),
            ),
            (
                "rpo",
                r.rpo_s.is_some_and(|x| x <= r.objectives.rpo_s),
                format!("RPO {} s, objective {} s", opt(r.rpo_s), r.objectives.rpo_s),
            ),
            ("verdict", r.verdict == Verdict::Pass, r.reasons.join("; ")),
        ];
        let failures = cases.iter().filter(|c| !c.1).count();
        let _ = writeln!(
            o,
            "  <testsuite name=\"{}\" tests=\"3\" failures=\"{failures}\">",
            xml_escape(&format!("{} ({}, seed {})", r.scenario, r.backend, r.seed))
        );
        for (name, ok, msg) in cases {
            if ok {
                let _ = writeln!(o, "    <testcase name=\"{name}\"/>");
            } else {
                let _ = writeln!(
                    o,
                    "    <testcase name=\"{name}\"><failure message=\"{}\"/></testcase>",
                    xml_escape(&msg)
                );
            }
        }
        let _ = writeln!(o, "  </testsuite>");
    }
    o.push_str("</testsuites>\n");
    o
}
