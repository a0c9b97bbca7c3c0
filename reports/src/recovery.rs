//! Report sections beyond RTO and RPO, computed from their own events: the
//! archives of the patent's process 600 (success and failure time stamps),
//! operations refused by the interlocks (steps 612 and 704), the image a
//! restore (process 700) brought back and its age at the incident, and the
//! time a redundant system (a DAG) spent degraded, with its objective.
//! Every field is left out of JSON when empty, so reports of scenarios
//! without these events are unchanged.

use std::fmt::Write;

use drlab_drivers::{Event, EventKind, Timestamp};
use serde::{Deserialize, Serialize};

use crate::render::opt;
use crate::secs;

/// One archive attempt that ran (refusals are in [`Refused`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveLine {
    /// Drill time of the outcome.
    pub at_s: f64,
    /// Host archived.
    pub host: String,
    /// Level in hours.
    pub level_h: u32,
    /// `ok` or `failed`.
    #[serde(deserialize_with = "crate::read::archive_outcome")]
    pub outcome: crate::read::Label,
    /// The image (ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its size (ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The UTC stamp (success or failure).
    pub utc: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An operation refused before it began.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refused {
    /// When.
    pub at_s: f64,
    /// The operation.
    pub operation: String,
    /// Why.
    pub reason: String,
}

/// The image a restore brought back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoredImage {
    /// When the copy finished.
    pub at_s: f64,
    /// Host restored.
    pub host: String,
    /// The image.
    pub image: String,
    /// When it was taken.
    pub taken_at_s: f64,
    /// Its age at T0: what a restore from it gives up (the RPO it implies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_at_t0_s: Option<f64>,
}

/// One period of degraded redundancy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DegradedLine {
    /// The system.
    pub what: String,
    /// Why it was degraded.
    pub why: String,
    /// From.
    pub from_s: f64,
    /// Until (None: still degraded when the drill ended).
    pub to_s: Option<f64>,
    /// How long (to the end of the drill when still open).
    pub duration_s: f64,
}

/// The sections, as the report carries them (flattened into its JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Archive attempts that ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<ArchiveLine>,
    /// Operations refused by a safety check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refused>,
    /// The image a restore brought back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_image: Option<RestoredImage>,
    /// Total time spent degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_s: Option<f64>,
    /// Its objective, when the scenario sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_objective_s: Option<f64>,
    /// The degraded periods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<DegradedLine>,
}

/// Accumulates the sections while the report reads the events.
#[derive(Debug, Default)]
pub struct Collector {
    r: Recovery,
    restored: Option<(Timestamp, String, String, Timestamp)>,
    open: Vec<(String, String, Timestamp)>,
    closed: Vec<(String, String, Timestamp, Timestamp)>,
}

impl Collector {
    /// Takes one of this module's events (others are ignored).
    pub fn observe(&mut self, e: &Event) {
        let at = e.at.secs_ms();
        match &e.kind {
            EventKind::ArchiveTaken {
                host,
                level_h,
                image,
                bytes,
                utc,
            } => self.r.archives.push(ArchiveLine {
                at_s: at,
                host: host.to_string(),
                level_h: *level_h,
                outcome: "ok",
                image: Some(image.to_string()),
                bytes: Some(*bytes),
                utc: utc.to_string(),
                error: None,
            }),
            EventKind::ArchiveFailed {
                host,
                level_h,
                error,
                utc,
            } => self.r.archives.push(ArchiveLine {
                at_s: at,
                host: host.to_string(),
                level_h: *level_h,
                outcome: "failed",
                image: None,
                bytes: None,
                utc: utc.to_string(),
                error: Some(error.to_string()),
            }),
            EventKind::OperationRefused { operation, reason } => self.r.refused.push(Refused {
                at_s: at,
                operation: operation.to_string(),
                reason: reason.to_string(),
            }),
            EventKind::ImageRestored {
                host,
                image,
                taken_at,
            } => {
                self.restored = Some((e.at, host.to_string(), image.to_string(), *taken_at));
            }
            EventKind::DegradedStarted { what, why }
                if !self.open.iter().any(|o| *o.0 == **what) =>
            {
                self.open.push((what.to_string(), why.to_string(), e.at));
            }
            EventKind::DegradedEnded { what } => {
                if let Some(i) = self.open.iter().position(|o| *o.0 == **what) {
                    let (w, why, from) = self.open.remove(i);
                    self.closed.push((w, why, from, e.at));
                }
            }
            EventKind::DegradedObjective { limit_us } => {
                self.r.degraded_objective_s = Some(secs(*limit_us));
            }
            _ => {}
        }
    }

    /// The sections, and the reasons they add to the verdict.
    pub fn finish(
        mut self,
        t0: Option<Timestamp>,
        end: Timestamp,
        reasons: &mut Vec<String>,
    ) -> Recovery {
        if let Some((at, host, image, taken)) = self.restored {
            self.r.restored_image = Some(RestoredImage {
                at_s: at.secs_ms(),
                host,
                image,
                taken_at_s: taken.secs_ms(),
                age_at_t0_s: t0.map(|t| secs(t.as_micros().saturating_sub(taken.as_micros()))),
            });
        }
        let span = |a: Timestamp, b: Timestamp| secs(b.as_micros().saturating_sub(a.as_micros()));
        let mut lines: Vec<DegradedLine> = self
            .closed
            .into_iter()
            .map(|(what, why, from, to)| DegradedLine {
                what,
                why,
                from_s: from.secs_ms(),
                to_s: Some(to.secs_ms()),
                duration_s: span(from, to),
            })
            .chain(self.open.into_iter().map(|(what, why, from)| DegradedLine {
                what,
                why,
                from_s: from.secs_ms(),
                to_s: None,
                duration_s: span(from, end),
            }))
            .collect();
        lines.sort_by(|a, b| a.from_s.total_cmp(&b.from_s));
        if !lines.is_empty() {
            let total = secs(lines.iter().map(|l| (l.duration_s * 1e6) as u64).sum());
            self.r.degraded_s = Some(total);
            if let Some(limit) = self.r.degraded_objective_s
                && total > limit
            {
                let names: Vec<&str> = lines.iter().map(|l| l.what.as_str()).collect();
                let still = if lines.iter().any(|l| l.to_s.is_none()) {
                    " and was still degraded when the drill ended"
                } else {
                    ""
                };
                reasons.push(format!(
                    "{} ran degraded for {total} s ({:.2} h){still}, beyond the objective of {limit} s",
                    names.join(", "),
                    total / 3600.0
                ));
            }
        }
        self.r.degraded = lines;
        self.r
    }
}

/// Terminal lines for the sections present.
pub fn text(r: &Recovery, o: &mut String) {
    if let Some(d) = r.degraded_s {
        let _ = writeln!(
            o,
            "  degraded {d:.3} s ({:.2} h, objective {} s)",
            d / 3600.0,
            opt(r.degraded_objective_s)
        );
        for l in &r.degraded {
            let _ = writeln!(
                o,
                "    {} from {:.3} to {}: {}",
                l.what,
                l.from_s,
                l.to_s
                    .map_or_else(|| "the end".to_string(), |t| format!("{t:.3}")),
                l.why
            );
        }
    }
    if let Some(i) = &r.restored_image {
        let _ = writeln!(
            o,
            "  restored image {} on {} (taken at {:.3}, {} s old at T0)",
            i.image,
            i.host,
            i.taken_at_s,
            opt(i.age_at_t0_s)
        );
    }
    if !r.archives.is_empty() {
        let _ = writeln!(o, "  archives:");
        for a in &r.archives {
            let what = a
                .image
                .clone()
                .or_else(|| a.error.clone())
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "    {:>11.3}  {:>3} h  {:<6} {}  {what}",
                a.at_s, a.level_h, a.outcome, a.utc
            );
        }
    }
    for x in &r.refused {
        let _ = writeln!(
            o,
            "  refused at {:.3}: {}: {}",
            x.at_s, x.operation, x.reason
        );
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Markdown sections for the sections present.
pub fn markdown(r: &Recovery, o: &mut String) {
    if let Some(d) = r.degraded_s {
        let _ = writeln!(
            o,
            "## Degraded redundancy\n\nTotal **{d:.3} s** ({:.2} h), objective {} s.\n\n\
             | system | from (s) | to (s) | duration (s) | why |\n|---|---:|---:|---:|---|",
            d / 3600.0,
            opt(r.degraded_objective_s)
        );
        for l in &r.degraded {
            let _ = writeln!(
                o,
                "| {} | {:.3} | {} | {:.3} | {} |",
                md_escape(&l.what),
                l.from_s,
                l.to_s
                    .map_or_else(|| "still degraded".to_string(), |t| format!("{t:.3}")),
                l.duration_s,
                md_escape(&l.why)
            );
        }
        o.push('\n');
    }
    if let Some(i) = &r.restored_image {
        let _ = writeln!(
            o,
            "## Restored image\n\n`{}` restored on {} at {:.3} s; taken at {:.3} s, {} s old at T0.\n",
            i.image,
            i.host,
            i.at_s,
            i.taken_at_s,
            opt(i.age_at_t0_s)
        );
    }
    if !r.archives.is_empty() {
        let _ = writeln!(
            o,
            "## Archives\n\n| at (s) | level (h) | outcome | UTC stamp | image or error |\n|---:|---:|---|---|---|"
        );
        for a in &r.archives {
            let what = a
                .image
                .clone()
                .or_else(|| a.error.clone())
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "| {:.3} | {} | {} | {} | {} |",
                a.at_s,
                a.level_h,
                a.outcome,
                a.utc,
                md_escape(&what)
            );
        }
        o.push('\n');
    }
    if !r.refused.is_empty() {
        let _ = writeln!(
            o,
            "## Refused operations\n\n| at (s) | operation | reason |\n|---:|---|---|"
        );
        for x in &r.refused {
            let _ = writeln!(
                o,
                "| {:.3} | {} | {} |",
                x.at_s,
                md_escape(&x.operation),
                md_escape(&x.reason)
            );
        }
        o.push('\n');
    }
}
