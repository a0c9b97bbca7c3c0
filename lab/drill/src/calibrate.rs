//! Calibration: a scenario's `[timing]` fitted to the step durations
//! measured in one or more reports (typically of lab drills), as the
//! scenario's text with that `[timing]` table, everything else of the text
//! kept as it was. `drlab calibrate` is this function with files around it;
//! the lab battery calls it in-process.
//!
//! A step is a timing when the simulator spends exactly one timing draw per
//! unit of it (see `timing_of`, which matches each label shape of the
//! runbooks whole): `net start SVC` is `services.SVC.start_s`, `net stop
//! SVC` `services.SVC.stop_s`, `mount`/`dismount` a store
//! `store_mount_s`/`store_dismount_s`, the IP and name takeover
//! `identity_takeover_s`, the overwrite flag on N stores N ×
//! `overwrite_flag_s`, and the failover's mailbox move one `mailbox_move_s`
//! per mailbox of the source server. Only steps that ended `ok` count. Every
//! other step (waits, `net start clussvc /forcequorum`, `waitontarget`,
//! compound steps such as `net stop SVC /y` or the failback's move back) is a
//! fixed wait of the runbook or not one timing, and is listed as not
//! calibrated.
//!
//! One report gives fixed values (the mean of a key's steps); several give,
//! for a key whose measurements vary, a normal distribution with their mean
//! and sample standard deviation, truncated at the smallest seen.
//!
//! The new `[timing]` (its sub-tables included) stands where the first
//! stood, at the end when there was none, under a comment saying where each
//! value came from (replacing such a comment of an earlier calibration
//! just above it). The result is checked twice: as TOML it is the original
//! document with only `timing` changed, and it loads as a scenario.
//!
//! Pure: no file is read or written here.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;

use drlab_reports::Report;
use drlab_scenarios::format::Dist;
use drlab_scenarios::{Scenario, ScenarioError};

/// One measurement: a report and the name it goes by in messages and in
/// the new table's comment (for `drlab calibrate`, its file).
#[derive(Clone, Copy, Debug)]
pub struct Measurement<'a> {
    /// What the report is called (a file name, "the lab report", …).
    pub name: &'a str,
    /// The report.
    pub report: &'a Report,
}

/// A calibrated scenario.
#[derive(Clone, Debug)]
pub struct Calibrated {
    /// The scenario's text with the fitted `[timing]`.
    pub text: String,
    /// That text, loaded.
    pub scenario: Scenario,
    /// The keys fitted, in key order.
    pub fitted: Vec<Fitted>,
    /// The steps that calibrated nothing, each once, in report order.
    pub not_calibrated: Vec<NotCalibrated>,
}

/// One fitted timing key.
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    /// Its path under `[timing]`: `store_mount_s`, `services.SMTPSVC.start_s`.
    pub key: String,
    /// How many measured steps it was fitted to.
    pub steps: usize,
    /// The mean seconds per draw measured (before rounding).
    pub mean_s: f64,
    /// The value written.
    pub dist: Dist,
}

/// A step that calibrated nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotCalibrated {
    /// The step's name in the report.
    pub step: String,
    /// Why.
    pub why: Why,
}

/// Why a step calibrated nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// It is no timing of its own (a fixed wait, a compound step, …).
    NoTiming,
    /// It is a timing, but it did not end `ok` (the outcome it ended with).
    Ended(String),
    /// It is a timing of this key but draws it no time (a mailbox move from
    /// a server without mailboxes).
    NoDraw(String),
}

impl fmt::Display for NotCalibrated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Why::NoTiming => write!(f, "{}", self.step),
            Why::Ended(outcome) => write!(f, "{} (it ended {outcome})", self.step),
            Why::NoDraw(key) => write!(f, "{} (it draws timing.{key} no time)", self.step),
        }
    }
}

/// Why a scenario could not be calibrated.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// No report was given.
    #[error("no report to calibrate from")]
    NoReports,
    /// A report is of another scenario.
    #[error("{report} is a report of scenario {of}, not of {scenario}")]
    OtherScenario {
        /// The report's name.
        report: String,
        /// The scenario it is a report of.
        of: String,
        /// The scenario being calibrated.
        scenario: String,
    },
    /// No step of the reports is a timing.
    #[error(
        "no step of {} is a timing of the scenario's [timing] (steps seen: {})",
        .reports.join(", "),
        list(.seen)
    )]
    NoTiming {
        /// The reports' names.
        reports: Vec<String>,
        /// Their steps, each once.
        seen: Vec<NotCalibrated>,
    },
    /// The scenario's text could not be given the new `[timing]`.
    #[error("cannot rewrite [timing] of scenario {scenario}: {why}")]
    Rewrite {
        /// The scenario's name.
        scenario: String,
        /// Why.
        why: RewriteError,
    },
    /// The calibrated text does not load (a fitted value out of its range).
    #[error("the calibrated scenario does not load: {0}")]
    Invalid(ScenarioError),
}

/// Why the new `[timing]` could not be written into the scenario's text.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The text is not TOML (the parser's message).
    #[error("the scenario is not TOML: {0}")]
    NotToml(String),
    /// A table of the timing is something else (its path).
    #[error("{0} is not a table")]
    NotATable(String),
    /// The text rewritten does not parse (the parser's message).
    #[error("the rewritten file is not TOML (a [timing] this rewrite cannot place): {0}")]
    Unplaceable(String),
    /// The text rewritten parses to more changes than the timing.
    #[error("the rewritten file would change more than [timing]")]
    ChangesMore,
}

fn list(steps: &[NotCalibrated]) -> String {
    steps
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The label of the calibrated text in its load errors (it is no file yet).
const CALIBRATED: &str = "<calibrated>";

/// `scenario_text` (the text `scenario` was loaded from) with its
/// `[timing]` fitted to the steps of `reports`, each of which must be a
/// report of `scenario`.
pub fn calibrate(
    scenario_text: &str,
    scenario: &Scenario,
    reports: &[Measurement<'_>],
) -> Result<Calibrated, CalibrateError> {
    if reports.is_empty() {
        return Err(CalibrateError::NoReports);
    }
    for m in reports {
        if m.report.scenario != scenario.scenario.name {
            return Err(CalibrateError::OtherScenario {
                report: m.name.to_string(),
                of: m.report.scenario.clone(),
                scenario: scenario.scenario.name.clone(),
            });
        }
    }
    let (samples, not_calibrated) = measured(scenario, reports.iter().map(|m| m.report));
    if samples.is_empty() {
        return Err(CalibrateError::NoTiming {
            reports: reports.iter().map(|m| m.name.to_string()).collect(),
            seen: not_calibrated,
        });
    }
    let fitted = fit(&samples, reports.len());
    let text = rewrite(scenario_text, &fitted, &header(reports, &samples)).map_err(|why| {
        CalibrateError::Rewrite {
            scenario: scenario.scenario.name.clone(),
            why,
        }
    })?;
    let loaded =
        drlab_scenarios::parse(Path::new(CALIBRATED), &text).map_err(CalibrateError::Invalid)?;
    let fitted = fitted
        .into_iter()
        .map(|(k, dist)| {
            let xs = &samples[&k];
            Fitted {
                key: k.path(),
                steps: xs.len(),
                mean_s: mean(xs),
                dist,
            }
        })
        .collect();
    Ok(Calibrated {
        text,
        scenario: loaded,
        fitted,
        not_calibrated,
    })
}

/// A timing key: `timing.NAME`, or `timing.services.SERVICE.NAME`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// A key of `[timing]` itself.
    Timing(&'static str),
    /// A key of `[timing.services.SERVICE]`.
    Service(String, &'static str),
}

impl Key {
    fn path(&self) -> String {
        match self {
            Key::Timing(k) => (*k).to_string(),
            Key::Service(s, k) => format!("services.{}.{k}", toml_key(s)),
        }
    }
}

/// What one measured step says about one timing key.
#[derive(Debug, PartialEq)]
struct Timed {
    key: Key,
    /// Draws of the key the step is made of.
    units: u32,
}

/// Per timing key, the seconds of one draw each measured step implies;
/// and the steps that are no timing (each once).
fn measured<'a>(
    s: &Scenario,
    reports: impl Iterator<Item = &'a Report>,
) -> (BTreeMap<Key, Vec<f64>>, Vec<NotCalibrated>) {
    let mut samples: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let mut skipped: Vec<NotCalibrated> = Vec::new();
    let mut skip = |step: &str, why: Why| {
        let what = NotCalibrated {
            step: step.to_string(),
            why,
        };
        if !skipped.contains(&what) {
            skipped.push(what);
        }
    };
    for step in reports.flat_map(|r| &r.steps) {
        match timing_of(s, &step.name) {
            Some(_) if step.outcome != "ok" => {
                skip(&step.name, Why::Ended(step.outcome.to_string()))
            }
            Some(t) if t.units == 0 => skip(&step.name, Why::NoDraw(t.key.path())),
            Some(t) => samples
                .entry(t.key)
                .or_default()
                .push(step.duration_s / f64::from(t.units)),
            None => skip(&step.name, Why::NoTiming),
        }
    }
    (samples, skipped)
}

/// Where `phrase` first starts a word of `label` (at its start or after a
/// space: runbooks put tags before their step names): the text before it
/// and the text after it.
fn phrase<'a>(label: &'a str, phrase: &str) -> Option<(&'a str, &'a str)> {
    label.match_indices(phrase).find_map(|(at, _)| {
        let before = &label[..at];
        (before.is_empty() || before.ends_with(' ')).then(|| (before, &label[at + phrase.len()..]))
    })
}

/// One word: non-empty, no space.
fn word(s: &str) -> Option<&str> {
    (!s.is_empty() && !s.contains(' ')).then_some(s)
}

/// `s` without a trailing ` (attempt N)`.
fn without_attempt(s: &str) -> &str {
    s.rsplit_once(" (attempt ")
        .filter(|(_, n)| {
            n.strip_suffix(')')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        })
        .map_or(s, |(head, _)| head)
}

/// `X on HOST` (HOST one word): X.
fn on_host(s: &str) -> Option<&str> {
    let (x, host) = s.rsplit_once(" on ")?;
    word(host)?;
    (!x.is_empty()).then_some(x)
}

/// A service and what may follow it: `SVC`, `SVC on HOST`, each with an
/// optional ` (attempt N)` when `attempts`. Anything else (a flag such as
/// `/forcequorum` or `/y`, a duration) is another step.
fn service(tail: &str, attempts: bool) -> Option<&str> {
    let tail = if attempts {
        without_attempt(tail)
    } else {
        tail
    };
    let svc = on_host(tail).unwrap_or(tail);
    word(svc).filter(|s| !s.starts_with('/'))
}

/// A store as the runbooks name it (`GROUP/STORE`) on a host: `ST on HOST`.
fn store_on_host(tail: &str) -> Option<&str> {
    on_host(tail).filter(|st| st.contains('/'))
}

/// The timing key a step label draws, and how many times: the one place
/// that knows the runbooks' step names (`scenarios/src/runbooks/`) and the
/// simulator's draws for them (`sim/src/backend.rs`). Each shape is matched
/// whole after the phrase (tags may stand before it): a label that only
/// starts like one (`net start clussvc /forcequorum on H (N s)`, a fixed
/// sleep) is no timing.
fn timing_of(s: &Scenario, label: &str) -> Option<Timed> {
    let one = |key| Some(Timed { key, units: 1 });
    // `net start SVC[ on HOST][ (attempt N)]`: exchange_ops, lan_failover,
    // steps::start_retried.
    if let Some((_, tail)) = phrase(label, "net start ") {
        let svc = service(tail, true)?;
        return one(Key::Service(svc.to_string(), "start_s"));
    }
    // `net stop SVC[ on HOST]`: exchange_ops, steps::net_stop without
    // dependents (`/y` stops them first: several draws of several keys).
    if let Some((_, tail)) = phrase(label, "net stop ") {
        let svc = service(tail, false)?;
        return one(Key::Service(svc.to_string(), "stop_s"));
    }
    // `dismount G/S on HOST`: exchange_ops, two_site (306).
    if let Some((_, tail)) = phrase(label, "dismount ") {
        store_on_host(tail)?;
        return one(Key::Timing("store_dismount_s"));
    }
    // `mount G/S on HOST[ (attempt N)| after soft recovery| after hard
    // recovery]`: exchange_ops, lan_failover, failback, steps, two_site.
    if let Some((_, tail)) = phrase(label, "mount ") {
        let tail = without_attempt(tail);
        let tail = tail
            .strip_suffix(" after soft recovery")
            .or_else(|| tail.strip_suffix(" after hard recovery"))
            .unwrap_or(tail);
        store_on_host(tail)?;
        return one(Key::Timing("store_mount_s"));
    }
    // `…: overwrite flag on N stores[ of HOST]`: lan_failover
    // (`exchfailover -setup: `), exchange_ops (`{why}: `), failback
    // (`exchfailover -setup -failback: `). N draws.
    if let Some((_, tail)) = phrase(label, "overwrite flag on ") {
        let (n, rest) = tail.split_once(" stores")?;
        if !(rest.is_empty() || rest.strip_prefix(" of ").and_then(word).is_some()) {
            return None;
        }
        return Some(Timed {
            key: Key::Timing("overwrite_flag_s"),
            units: n
                .parse()
                .ok()
                .filter(|_| n.bytes().all(|c| c.is_ascii_digit()))?,
        });
    }
    // `fail over WHAT of SRC to TGT`: lan_failover (`nothing` takes over no
    // item: what the lab measures of it is no takeover).
    if let Some(tail) = label.strip_prefix("fail over ") {
        let (what, hosts) = tail.split_once(" of ")?;
        let (src, tgt) = hosts.split_once(" to ")?;
        word(src)?;
        word(tgt)?;
        let items = [
            "IP addresses and server name",
            "IP addresses",
            "server name",
        ];
        return if items.contains(&what) {
            one(Key::Timing("identity_takeover_s"))
        } else {
            None
        };
    }
    // `dnscmd SERVER /RecordDelete ZONE ...` and `/RecordAdd`: wan_failover,
    // one RFC 2136 update each (`Dns::delete_record`, `Dns::add_record`).
    if let Some(tail) = label.strip_prefix("dnscmd ") {
        let (server, rest) = tail.split_once(' ')?;
        word(server)?;
        return (rest.starts_with("/RecordDelete ") || rest.starts_with("/RecordAdd ")).then_some(
            Timed {
                key: Key::Timing("dns_update_s"),
                units: 1,
            },
        );
    }
    // `move mailboxes SRC -> TGT on DC` (exchange_ops) and
    // `exchfailover -failover: move mailboxes SRC -> TGT` (lan_failover): one
    // draw per mailbox of SRC. The failback's move back is another count
    // (the mailboxes the failover before it moved), so no timing here.
    if let Some((before, tail)) = phrase(label, "move mailboxes ") {
        let (from, rest) = tail.split_once(" -> ")?;
        word(from)?;
        let to = match on_host(rest) {
            Some(to) => to,
            None if before == "exchfailover -failover: " => rest,
            None => return None,
        };
        word(to)?;
        let n = s.mailboxes.iter().filter(|m| m.server == from).count();
        return Some(Timed {
            key: Key::Timing("mailbox_move_s"),
            units: u32::try_from(n).ok()?,
        });
    }
    None
}

/// Rounds to the microsecond, the simulator's resolution.
fn micros(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// One fixed value per key from one report; a truncated normal from several
/// where the measurements vary.
fn fit(samples: &BTreeMap<Key, Vec<f64>>, reports: usize) -> BTreeMap<Key, Dist> {
    samples
        .iter()
        .map(|(k, xs)| {
            let n = xs.len() as f64;
            let mean = mean(xs);
            let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            let sd = micros(var.sqrt());
            let d = if reports == 1 || sd == 0.0 {
                Dist::Fixed(micros(mean))
            } else {
                Dist::Normal {
                    normal: [micros(mean), sd],
                    min: micros(min),
                }
            };
            (k.clone(), d)
        })
        .collect()
}

/// The comment above the new `[timing]`: where each value came from.
fn header(reports: &[Measurement<'_>], samples: &BTreeMap<Key, Vec<f64>>) -> String {
    let names: Vec<&str> = reports.iter().map(|m| m.name).collect();
    let mut o = format!(
        "{HEADER_FIRST} to the steps of {} report(s): {}\n\
         # (key: steps measured, mean seconds per draw; keys not listed are as they were)\n",
        reports.len(),
        names.join(", ")
    );
    for (k, xs) in samples {
        let _ = writeln!(o, "#   {}: {}, {:.6}", k.path(), xs.len(), mean(xs));
    }
    o
}

/// A TOML key, quoted when it is not bare.
fn toml_key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        toml::Value::String(k.to_string()).to_string()
    }
}

fn dist_value(d: &Dist) -> toml::Value {
    let arr = |xs: &[f64]| toml::Value::Array(xs.iter().map(|x| toml::Value::Float(*x)).collect());
    let table = |kv: Vec<(&str, toml::Value)>| {
        toml::Value::Table(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    match *d {
        Dist::Fixed(x) => toml::Value::Float(x),
        Dist::Uniform { uniform } => table(vec![("uniform", arr(&uniform))]),
        Dist::Normal { normal, min } => table(vec![
            ("normal", arr(&normal)),
            ("min", toml::Value::Float(min)),
        ]),
        Dist::Exponential { exponential } => {
            table(vec![("exponential", toml::Value::Float(exponential))])
        }
    }
}

fn not_a_table(path: String) -> RewriteError {
    RewriteError::NotATable(path)
}

/// The scenario's `[timing]` table with the fitted keys set.
fn calibrated_timing(
    doc: &toml::Table,
    fitted: &BTreeMap<Key, Dist>,
) -> Result<toml::Table, RewriteError> {
    let mut timing = match doc.get("timing") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => return Err(not_a_table("timing".into())),
    };
    for (k, d) in fitted {
        let v = dist_value(d);
        match k {
            Key::Timing(name) => {
                timing.insert((*name).to_string(), v);
            }
            Key::Service(svc, name) => {
                let services = timing
                    .entry("services")
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(services) = services else {
                    return Err(not_a_table("timing.services".into()));
                };
                let one = services
                    .entry(svc.as_str())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(one) = one else {
                    return Err(not_a_table(format!("timing.services.{}", toml_key(svc))));
                };
                one.insert((*name).to_string(), v);
            }
        }
    }
    Ok(timing)
}

/// `[timing]` and its `[timing.services.NAME]` tables as TOML text.
fn timing_text(timing: &toml::Table, header: &str) -> Result<String, RewriteError> {
    let mut o = header.to_string() + "[timing]\n";
    let mut services = None;
    for (k, v) in timing {
        if k == "services" {
            services = Some(v);
            continue;
        }
        let _ = writeln!(o, "{} = {v}", toml_key(k));
    }
    if let Some(services) = services {
        let toml::Value::Table(services) = services else {
            return Err(not_a_table("timing.services".into()));
        };
        for (svc, v) in services {
            let toml::Value::Table(t) = v else {
                return Err(not_a_table(format!("timing.services.{}", toml_key(svc))));
            };
            let _ = writeln!(o, "\n[timing.services.{}]", toml_key(svc));
            for (k, v) in t {
                let _ = writeln!(o, "{} = {v}", toml_key(k));
            }
        }
    }
    Ok(o)
}

/// The first key of a table header line (`[timing.services.X]` → `timing`),
/// or none when the line is no header.
fn header_key(line: &str) -> Option<String> {
    let t = line.trim();
    let inner = if let Some(rest) = t.strip_prefix("[[") {
        rest.split_once("]]")?.0
    } else {
        t.strip_prefix('[')?.split_once(']')?.0
    };
    let after = t.split_once(']')?.1.trim_start_matches(']').trim();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    let first = inner
        .split('.')
        .next()?
        .trim()
        .trim_matches('"')
        .trim_matches('\'');
    let ok = !first.is_empty()
        && first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then(|| first.to_string())
}

/// Whether a line opens or closes a multi-line string (an odd number of
/// `"""` or `'''` in it).
fn toggles_multiline(line: &str) -> bool {
    line.matches("\"\"\"").count() % 2 == 1 || line.matches("'''").count() % 2 == 1
}

/// The text with its `[timing]` tables (and their sub-tables) replaced by
/// the calibrated ones where the first stood (at the end if there was
/// none). Comments and blank lines just before the next table stay with
/// it; every other line of the text is kept as it was. The result is
/// checked: it parses to the original document with only `timing` changed.
fn rewrite(text: &str, fitted: &BTreeMap<Key, Dist>, header: &str) -> Result<String, RewriteError> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| RewriteError::NotToml(e.to_string()))?;
    let timing = calibrated_timing(&doc, fitted)?;
    let block = timing_text(&timing, header)?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut keep = vec![true; lines.len()];
    let mut at: Option<usize> = None;
    let (mut in_string, mut in_timing) = (false, false);
    for (i, line) in lines.iter().enumerate() {
        if !in_string && let Some(k) = header_key(line) {
            if in_timing && k != "timing" {
                // Comments and blanks just above the next table are its own.
                let mut j = i;
                while j > 0 && keep_with_next(lines[j - 1]) && !keep[j - 1] {
                    keep[j - 1] = true;
                    j -= 1;
                }
            }
            in_timing = k == "timing";
            if in_timing {
                at.get_or_insert(i);
            }
        }
        if toggles_multiline(line) {
            in_string = !in_string;
        }
        if in_timing {
            keep[i] = false;
        }
    }
    if in_timing {
        let mut j = lines.len();
        while j > 0 && lines[j - 1].trim().is_empty() && !keep[j - 1] {
            keep[j - 1] = true;
            j -= 1;
        }
    }
    if let Some(at) = at {
        // An earlier calibration's header says where the old values came
        // from: the new header replaces it.
        for i in old_header(&lines[..at]) {
            keep[i] = false;
        }
    }
    let mut o = String::new();
    for (i, line) in lines.iter().enumerate() {
        if Some(i) == at {
            o += &block;
            // A blank line between it and what follows, unless one is kept.
            let next = (i..lines.len()).find(|&j| keep[j]);
            if next.is_some_and(|j| !lines[j].trim().is_empty()) {
                o.push('\n');
            }
        }
        if keep[i] {
            o += line;
        }
    }
    if at.is_none() {
        if !o.is_empty() && !o.ends_with('\n') {
            o.push('\n');
        }
        o = o + "\n" + &block;
    }
    verify(&doc, &timing, &o)?;
    Ok(o)
}

/// The first line of the comment [`header`] writes.
const HEADER_FIRST: &str = "# [timing] fitted by `drlab calibrate`";

/// The lines of a header [`header`] wrote, when they end `lines`.
fn old_header(lines: &[&str]) -> std::ops::Range<usize> {
    let end = lines.len();
    let mut i = end;
    while i > 0 && lines[i - 1].starts_with("#   ") {
        i -= 1;
    }
    let complete =
        i >= 2 && lines[i - 2].starts_with(HEADER_FIRST) && lines[i - 1].starts_with("# (key: ");
    if complete { i - 2..end } else { end..end }
}

fn keep_with_next(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The rewritten text is the original document with `timing` replaced.
fn verify(doc: &toml::Table, timing: &toml::Table, text: &str) -> Result<(), RewriteError> {
    let new: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| RewriteError::Unplaceable(e.to_string()))?;
    let mut expected = doc.clone();
    expected.insert("timing".into(), toml::Value::Table(timing.clone()));
    if new != expected {
        return Err(RewriteError::ChangesMore);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fitted() -> BTreeMap<Key, Dist> {
        [
            (Key::Timing("store_mount_s"), Dist::Fixed(0.04)),
            (Key::Service("SMTPSVC".into(), "start_s"), Dist::Fixed(0.5)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn timing_is_replaced_in_place_and_the_rest_kept() {
        let text = "# top\n[scenario]\nname = \"x\" # why\ndescription = \"\"\"\n[timing]\n\"\"\"\n\n\
                    # about timing\n[timing]\nservice_start_s = { uniform = [1.0, 2.0] }\n\
                    store_mount_s = 3 # old\n\n[timing.services.SMTPSVC]\nstart_s = 2\n\n\
                    # about workload\n[workload]\nclient = \"c\"\n";
        let o = rewrite(text, &fitted(), "# fitted\n").unwrap();
        assert!(
            o.starts_with("# top\n[scenario]\nname = \"x\" # why\ndescription"),
            "{o}"
        );
        assert!(o.contains("# about timing\n# fitted\n[timing]\n"), "{o}");
        assert!(o.contains("store_mount_s = 0.04\n"), "{o}");
        assert!(
            o.contains("service_start_s = { uniform = [1.0, 2.0] }"),
            "{o}"
        );
        assert!(
            o.contains("[timing.services.SMTPSVC]\nstart_s = 0.5\n"),
            "{o}"
        );
        assert!(
            o.contains("start_s = 0.5\n\n# about workload\n[workload]\nclient = \"c\"\n"),
            "{o}"
        );
        assert_eq!(o.matches("[timing]").count(), 2, "one in the string: {o}");
    }

    #[test]
    fn a_file_without_timing_gets_one_at_the_end() {
        let o = rewrite("[scenario]\nname = \"x\"", &fitted(), "").unwrap();
        assert!(
            o.starts_with("[scenario]\nname = \"x\"\n\n[timing]\n"),
            "{o}"
        );
        // A dotted key elsewhere is not placed twice: refused, not written.
        let e = rewrite("timing.rename_s = 1\n[scenario]\n", &fitted(), "").unwrap_err();
        assert!(matches!(e, RewriteError::Unplaceable(_)), "{e}");
        assert!(e.to_string().contains("not TOML"), "{e}");
    }

    #[test]
    fn several_reports_give_a_truncated_normal() {
        let samples: BTreeMap<Key, Vec<f64>> = [(Key::Timing("rename_s"), vec![1.0, 2.0, 3.0])]
            .into_iter()
            .collect();
        assert_eq!(fit(&samples, 1)[&Key::Timing("rename_s")], Dist::Fixed(2.0));
        assert_eq!(
            fit(&samples, 3)[&Key::Timing("rename_s")],
            Dist::Normal {
                normal: [2.0, 1.0],
                min: 1.0
            }
        );
    }

    /// A library scenario's text and the simulator's report of it.
    fn simulated(name: &str) -> (String, Scenario, Report) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/library")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let s = drlab_scenarios::parse(&path, &text).unwrap();
        let events = drlab_sim::run(&s, 1).unwrap().events;
        (text, s, Report::from_events(&events))
    }

    #[test]
    fn a_report_calibrates_its_scenario_to_a_fixed_point() {
        let (text, s, r) = simulated("lan-failover-lab.toml");
        let m = [Measurement {
            name: "sim.json",
            report: &r,
        }];
        let c = calibrate(&text, &s, &m).unwrap();
        assert!(
            c.text.contains(
                "# [timing] fitted by `drlab calibrate` to the steps of 1 report(s): sim.json\n"
            ),
            "{}",
            c.text
        );
        assert!(
            c.fitted.iter().any(|f| f.key == "store_mount_s"),
            "{:?}",
            c.fitted
        );
        assert!(c.fitted.iter().all(|f| matches!(f.dist, Dist::Fixed(_))));
        assert!(
            c.not_calibrated.contains(&NotCalibrated {
                step: "wait 2s".into(),
                why: Why::NoTiming
            }),
            "{:?}",
            c.not_calibrated
        );
        assert_eq!(c.scenario.scenario.name, s.scenario.name);
        // The same measurements again change nothing.
        let again = calibrate(&c.text, &c.scenario, &m).unwrap();
        assert_eq!(again.text, c.text);
    }

    #[test]
    fn reports_of_another_scenario_or_none_are_refused() {
        let (text, s, _) = simulated("lan-failover-lab.toml");
        let (_, _, other) = simulated("lan-failover.toml");
        let m = [Measurement {
            name: "other.json",
            report: &other,
        }];
        let e = calibrate(&text, &s, &m).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "other.json is a report of scenario {}, not of {}",
                other.scenario, s.scenario.name
            )
        );
        assert!(matches!(
            calibrate(&text, &s, &[]),
            Err(CalibrateError::NoReports)
        ));
    }

    /// Every label form of `scenarios/src/runbooks/` that `timing_of`
    /// recognises, and the look-alikes that are no timing of their own.
    #[test]
    fn each_runbook_label_form_is_matched_whole() {
        let (_, s, _) = simulated("lan-failover-lab.toml");
        let from = s.mailboxes[0].server.clone();
        let boxes = s.mailboxes.iter().filter(|m| m.server == from).count();
        let boxes = u32::try_from(boxes).unwrap();
        let svc = |name: &str, k| Key::Service(name.into(), k);
        let t = Key::Timing;
        let timed: Vec<(String, Key, u32)> = vec![
            // exchange_ops::start_services, lan_failover, steps::start_retried.
            (
                "net start MSExchangeIS on EX2".into(),
                svc("MSExchangeIS", "start_s"),
                1,
            ),
            (
                "net start MSExchangeIS on EX2 (attempt 2)".into(),
                svc("MSExchangeIS", "start_s"),
                1,
            ),
            ("net start SMTPSVC".into(), svc("SMTPSVC", "start_s"), 1),
            (
                "net start SMTPSVC (attempt 3)".into(),
                svc("SMTPSVC", "start_s"),
                1,
            ),
            (
                "[A] 352 net start SMTPSVC on EX2".into(),
                svc("SMTPSVC", "start_s"),
                1,
            ),
            // exchange_ops::stop_services, steps::net_stop without dependents.
            ("net stop W3SVC on EX1".into(), svc("W3SVC", "stop_s"), 1),
            (
                "[2] net stop W3SVC on EX1".into(),
                svc("W3SVC", "stop_s"),
                1,
            ),
            // exchange_ops::mount_stores, lan_failover, failback, steps, two_site.
            (
                "mount First Storage Group/Mailbox Store on EX2".into(),
                t("store_mount_s"),
                1,
            ),
            (
                "mount SG1/DB1 on EX2 (attempt 2)".into(),
                t("store_mount_s"),
                1,
            ),
            (
                "mount SG1/DB1 on EX2 after soft recovery".into(),
                t("store_mount_s"),
                1,
            ),
            (
                "mount SG1/DB1 on EX2 after hard recovery".into(),
                t("store_mount_s"),
                1,
            ),
            (
                "[A] 348 mount SG1/DB1 on EX2 (attempt 3)".into(),
                t("store_mount_s"),
                1,
            ),
            (
                "318 revert: mount SG1/DB1 on EX1".into(),
                t("store_mount_s"),
                1,
            ),
            // wan_failover's DNSCMD updates.
            (
                "dnscmd DC1 /RecordDelete corp.example.com exch1 A 10.0.0.11 /f".into(),
                t("dns_update_s"),
                1,
            ),
            (
                "dnscmd DC2 /RecordAdd 0.1.10.in-addr.arpa 12.0.1.10.in-addr.arpa PTR exch1.corp.example.com".into(),
                t("dns_update_s"),
                1,
            ),
            // exchange_ops::dismount_stores, two_site (306).
            ("dismount SG1/DB1 on EX1".into(), t("store_dismount_s"), 1),
            (
                "[A] 306 dismount SG1/DB1 on EX1".into(),
                t("store_dismount_s"),
                1,
            ),
            // lan_failover, exchange_ops::allow_overwrite, failback.
            (
                "exchfailover -setup: overwrite flag on 3 stores".into(),
                t("overwrite_flag_s"),
                3,
            ),
            (
                "lossy activation: overwrite flag on 2 stores of EX2".into(),
                t("overwrite_flag_s"),
                2,
            ),
            (
                "exchfailover -setup -failback: overwrite flag on 4 stores of EX1".into(),
                t("overwrite_flag_s"),
                4,
            ),
            // lan_failover.
            (
                "fail over IP addresses and server name of EX1 to EX2".into(),
                t("identity_takeover_s"),
                1,
            ),
            (
                "fail over IP addresses of EX1 to EX2".into(),
                t("identity_takeover_s"),
                1,
            ),
            (
                "fail over server name of EX1 to EX2".into(),
                t("identity_takeover_s"),
                1,
            ),
            // exchange_ops::move_mailboxes, lan_failover.
            (
                format!("move mailboxes {from} -> EX9 on DC1"),
                t("mailbox_move_s"),
                boxes,
            ),
            (
                format!("exchfailover -failover: move mailboxes {from} -> EX9"),
                t("mailbox_move_s"),
                boxes,
            ),
        ];
        for (label, key, units) in timed {
            assert_eq!(timing_of(&s, &label), Some(Timed { key, units }), "{label}");
        }
        let untimed = [
            // ccr: a fixed sleep of force_quorum_s.
            "net start clussvc /forcequorum on EX2 (30 s)".to_string(),
            // steps::net_stop with dependents: several draws of several keys.
            "[5] preback.bat: net stop MSExchangeSA /y on EX2".into(),
            // two_site, bypassed: no store.
            "[A] 306 dismount the stores on EX1".into(),
            // resolved steps (only recorded when they fail): no count.
            "exchfailover -setup: overwrite flag on the paired stores".into(),
            "exchfailover -setup -failback: overwrite flag on the stores of EX1".into(),
            "fail over nothing of EX1 to EX2".into(),
            // The failback's move back: the mailboxes the failover moved.
            format!(
                "[5] preback.bat: exchfailover -failback -nopublicfolders: move mailboxes EX9 -> {from}"
            ),
            format!("move mailboxes {from} -> EX9"),
            "soft recovery of SG1/DB1 on EX2".into(),
            "waitontarget EX2 10".into(),
            "wait 2s".into(),
        ];
        for label in untimed {
            assert_eq!(timing_of(&s, &label), None, "{label}");
        }
    }

    #[test]
    fn not_calibrated_steps_say_why() {
        let step = |why| NotCalibrated {
            step: "mount DB1".into(),
            why,
        };
        assert_eq!(step(Why::NoTiming).to_string(), "mount DB1");
        assert_eq!(
            step(Why::Ended("failed".into())).to_string(),
            "mount DB1 (it ended failed)"
        );
        let e = CalibrateError::NoTiming {
            reports: vec!["a.json".into(), "b.json".into()],
            seen: vec![step(Why::NoTiming), step(Why::Ended("failed".into()))],
        };
        assert_eq!(
            e.to_string(),
            "no step of a.json, b.json is a timing of the scenario's [timing] \
             (steps seen: mount DB1, mount DB1 (it ended failed))"
        );
    }
}
