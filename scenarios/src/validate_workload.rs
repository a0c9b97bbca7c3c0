//! Semantic checks of `[workload]` and `[[faults]]`: references resolve,
//! the arrival process has only its own parameters, the writes a drill can
//! make fit the event budget, and drawn fault times and choices are possible.
//!
//! A number's own range (a rate above 0, a whole number of bytes, an hour
//! of the day, a weight >= 0, ...) is `bounds.rs`'s, checked at the value
//! before these run; what is here relates fields to each other. These
//! checks still run on a document with numbers out of range, so they must
//! not trip over one (they skip what they cannot judge).

use std::collections::BTreeSet;

use crate::format::{ArrivalKind, Arrivals, Dist, FaultSpec, FaultWhat, Scenario, WorkloadDef};
use crate::load::FieldPath;
use crate::path;
use crate::validate::{Problems, host, known};

pub(crate) fn workload(s: &Scenario, p: &mut Problems) {
    let w = &s.workload;
    references(s, p);
    arrivals(w, p);
    sizes(w, p);
    profile(w, p);
    write_budget(s, p);
}

/// The client, its name's A record and the mailboxes.
fn references(s: &Scenario, p: &mut Problems) {
    let w = &s.workload;
    let Some(client) = s.clients.iter().find(|c| c.name == w.client) else {
        let names: BTreeSet<&str> = s.clients.iter().map(|c| c.name.as_str()).collect();
        p.push((
            path!("workload", "client"),
            format!("unknown client {:?}; {}", w.client, known(&names)),
        ));
        return;
    };
    let resolvable = crate::dns::records_on(s, &client.dns_server)
        .any(|r| r.name.eq_ignore_ascii_case(&w.service_name) && r.rtype.eq_ignore_ascii_case("A"));
    if !resolvable {
        p.push((
            path!("workload", "service_name"),
            format!(
                "no A record for {:?} on {}, the DNS server of client {}",
                w.service_name, client.dns_server, client.name
            ),
        ));
    }
    if s.mailboxes.is_empty() {
        p.push((
            path!("workload"),
            "the workload needs at least one [[mailboxes]] entry".into(),
        ));
    }
    for (i, m) in w.mailboxes.iter().enumerate() {
        if !s.mailboxes.iter().any(|x| &x.name == m) {
            p.push((
                path!("workload", "mailboxes", i),
                format!("unknown mailbox {m:?}"),
            ));
        }
    }
}

/// Each arrival process takes its own parameters and no other's: a
/// parameter the chosen process would ignore is refused.
fn arrivals(w: &WorkloadDef, p: &mut Problems) {
    let kind = w.arrivals;
    let given = [
        (
            "write_interval_ms",
            w.write_interval_ms.is_some(),
            kind != ArrivalKind::Poisson,
        ),
        (
            "rate_per_s",
            w.rate_per_s.is_some(),
            kind == ArrivalKind::Poisson,
        ),
        (
            "burst_writes",
            w.burst_writes.is_some(),
            kind == ArrivalKind::Bursts,
        ),
        (
            "burst_interval_s",
            w.burst_interval_s.is_some(),
            kind == ArrivalKind::Bursts,
        ),
    ];
    for (field, present, belongs) in given {
        if present && !belongs {
            p.push((
                path!("workload", field),
                format!(
                    "not a parameter of arrivals = \"{}\" ({})",
                    kind_name(kind),
                    takes(kind)
                ),
            ));
        }
    }
    if let Arrivals::Bursts {
        writes,
        period_s,
        spacing_ms,
    } = w.arrivals()
    {
        bursts(p, (writes, period_s, spacing_ms), w.peak_multiplier());
    }
}

fn kind_name(k: ArrivalKind) -> &'static str {
    match k {
        ArrivalKind::Fixed => "fixed",
        ArrivalKind::Poisson => "poisson",
        ArrivalKind::Bursts => "bursts",
    }
}

fn takes(k: ArrivalKind) -> &'static str {
    match k {
        ArrivalKind::Fixed => "it takes write_interval_ms",
        ArrivalKind::Poisson => "it takes rate_per_s",
        ArrivalKind::Bursts => "it takes burst_writes, burst_interval_s and write_interval_ms",
    }
}

/// The writes of the largest burst the profile can make: `burst_writes`
/// times the largest multiplier, rounded as [`crate::schedule::Writes`]
/// rounds it (the multiplier is 1 without a profile).
fn peak_burst(writes: u32, peak: f64) -> f64 {
    (f64::from(writes) * peak).round()
}

/// A burst must end before the next one starts, at the profile's peak too
/// (the profile multiplies a burst's writes).
fn bursts(p: &mut Problems, (writes, period_s, spacing_ms): (u32, f64, u64), peak: f64) {
    let n = peak_burst(writes, peak);
    // Fewer than 2 writes take no time; out-of-range counts and periods
    // are `bounds.rs`'s to report.
    if !(n >= 2.0 && period_s.is_finite()) {
        return;
    }
    let span_s = (n - 1.0) * spacing_ms as f64 / 1e3;
    if span_s >= period_s {
        let scaled = if peak == 1.0 {
            String::new()
        } else {
            format!(" (burst_writes {writes} × the profile's peak multiplier {peak}, rounded)")
        };
        p.push((
            path!("workload", "burst_writes"),
            format!(
                "a burst of {n} writes{scaled} {spacing_ms} ms apart lasts {span_s} s, \
                 not shorter than burst_interval_s ({period_s} s): fewer writes, \
                 a shorter write_interval_ms, a longer period or a lower peak"
            ),
        ));
    }
}

/// A uniform size's bounds must be in order (each parameter's range is
/// `bounds.rs`'s: reals from 0 to 1 GiB; a plain size is a whole number
/// of bytes from 1).
fn sizes(w: &WorkloadDef, p: &mut Problems) {
    if let Dist::Uniform { uniform: [a, b] } = w.write_bytes
        && a > b
    {
        p.push((
            path!("workload", "write_bytes"),
            format!("uniform bounds [{a}, {b}] must satisfy min <= max"),
        ));
    }
}

/// A profile must let the workload write at some hour; a start hour needs one.
fn profile(w: &WorkloadDef, p: &mut Problems) {
    match (&w.hourly_profile, w.start_hour) {
        (Some(h), _) if !h.iter().any(|m| m.is_finite() && *m > 0.0) => p.push((
            path!("workload", "hourly_profile"),
            "every multiplier is 0: the workload would never write".into(),
        )),
        (None, Some(_)) => p.push((
            path!("workload", "start_hour"),
            "start_hour places the drill on the day of an hourly_profile; give one".into(),
        )),
        _ => {}
    }
}

/// The events the workload can record over the horizon must fit the event
/// budget, so no rate or profile can make a run's memory or time run away.
/// Each write records one event (acknowledged or failed) and so does each
/// probe; the recorder counts them against `scenario.events_max` with every
/// other event. The bound is [`workload_events`]: writes at the peak rate
/// (Poisson arrivals with a margin), plus the probes.
fn write_budget(s: &Scenario, p: &mut Problems) {
    let w = &s.workload;
    let Some((writes, probes)) = workload_events(w, s.scenario.horizon_s) else {
        return;
    };
    let events = writes + probes;
    if events.is_nan() || events > s.scenario.events_max as f64 {
        let field = match w.arrivals {
            ArrivalKind::Fixed => "write_interval_ms",
            ArrivalKind::Poisson => "rate_per_s",
            ArrivalKind::Bursts => "burst_writes",
        };
        p.push((
            path!("workload", field),
            format!(
                "the workload could record {events:.0} events over the {} s horizon ({writes:.0} \
                 writes at its peak rate{}, {probes:.0} probes), more than the event budget \
                 (scenario.events_max = {}): lower the rate or the profile, lengthen \
                 probe_interval_ms, shorten the horizon or raise events_max",
                s.scenario.horizon_s,
                if w.arrivals == ArrivalKind::Poisson {
                    ", with 6 standard deviations of margin"
                } else {
                    ""
                },
                s.scenario.events_max
            ),
        ));
    }
}

/// The most writes and probes a drill of `horizon_s` can make, as `(writes,
/// probes)`; `None` when a parameter is out of its range (`bounds.rs`
/// reports it). At the profile's peak multiplier all along: fixed arrivals
/// `⌈horizon × rate × peak⌉`; bursts `⌈horizon / period⌉` bursts of
/// `round(burst_writes × peak)`; Poisson arrivals, whose count is random,
/// their mean `μ = horizon × rate × peak` plus six standard deviations
/// (`√μ`: where the budget matters the count is large and nearly normal,
/// so a run exceeds it with a probability of about 10⁻⁹). Probes:
/// `⌈horizon / probe_interval⌉`.
fn workload_events(w: &WorkloadDef, horizon_s: f64) -> Option<(f64, f64)> {
    let peak = w.peak_multiplier();
    let writes = match w.arrivals() {
        Arrivals::Fixed { interval_ms } if interval_ms > 0 => {
            (horizon_s * 1e3 / interval_ms as f64 * peak).ceil()
        }
        Arrivals::Poisson { rate_per_s } if rate_per_s >= 0.0 => {
            let mean = horizon_s * rate_per_s * peak;
            (mean + 6.0 * mean.sqrt()).ceil()
        }
        Arrivals::Bursts {
            writes, period_s, ..
        } if period_s > 0.0 => (horizon_s / period_s).ceil() * peak_burst(writes, peak),
        _ => return None,
    };
    if w.probe_interval_ms == 0 {
        return None;
    }
    let probes = (horizon_s * 1e3 / w.probe_interval_ms as f64).ceil();
    Some((writes, probes))
}

pub(crate) fn faults(s: &Scenario, p: &mut Problems) {
    let mut last_fixed = 0.0;
    for (i, f) in s.faults.iter().enumerate() {
        let at = path!("faults", i, "at_s");
        at_time(s, p, &at, &f.at_s);
        // Fixed times are listed in time order; drawn ones may stand anywhere
        // (the schedule injects in drawn-time order).
        if let Dist::Fixed(x) = f.at_s {
            if x < last_fixed {
                p.push((at, "faults are listed in time order".into()));
            }
            last_fixed = x;
        }
        match &f.what {
            FaultWhat::One(spec) => fault_spec(s, p, &path!("faults", i), spec),
            FaultWhat::OneOf(set) => {
                let at = path!("faults", i, "one_of");
                if set.is_empty() {
                    p.push((at.clone(), "a one_of set needs at least one fault".into()));
                }
                if !set.is_empty() && set.iter().all(|c| c.weight == 0.0) {
                    p.push((
                        at.clone(),
                        "every weight is 0: no fault can be drawn".into(),
                    ));
                }
                for (j, c) in set.iter().enumerate() {
                    fault_spec(s, p, &at.index(j), &c.spec);
                }
            }
        }
    }
}

/// A fault time is a possible distribution inside the horizon: a plain
/// number before it, a uniform's upper bound at most at it (a uniform draw
/// stays below its upper bound), an unbounded one's mean at most at it. A
/// draw at or past the horizon never takes effect (the drill has ended):
/// [`crate::schedule::faults`] leaves it out, so only a drawn time can.
fn at_time(s: &Scenario, p: &mut Problems, at: &FieldPath, d: &Dist) {
    if let Some(why) = d.problem_as("a fault time") {
        p.push((at.clone(), why));
        return;
    }
    let horizon = s.scenario.horizon_s;
    let (latest, what) = match d.upper() {
        Some(x) => (x, "fault at"),
        None => (d.mean(), "a fault time with a mean of"),
    };
    if let Dist::Fixed(x) = *d
        && x >= horizon
    {
        p.push((
            at.clone(),
            format!(
                "fault at {x} s is not before the horizon ({horizon} s): it would never take effect"
            ),
        ));
    } else if latest > horizon {
        p.push((
            at.clone(),
            format!("{what} {latest} s is after the horizon ({horizon} s)"),
        ));
    }
}

/// One fault's references, its fields located under `at`.
fn fault_spec(s: &Scenario, p: &mut Problems, at: &FieldPath, spec: &FaultSpec) {
    let hosts: BTreeSet<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
    let sites: BTreeSet<&str> = s.sites.iter().map(|h| h.name.as_str()).collect();
    let host_ok = |p: &mut Problems, h: &str| {
        if !hosts.contains(h) {
            p.push((
                at.key("host"),
                format!("unknown host {h:?}; {}", known(&hosts)),
            ));
        }
    };
    let end_ok = |p: &mut Problems, k: &str, e: &str, sites_only: bool| {
        if !(sites.contains(e) || (!sites_only && hosts.contains(e))) {
            let what = if sites_only { "site" } else { "site or host" };
            p.push((at.key(k), format!("unknown {what} {e:?}")));
        }
    };
    match spec {
        FaultSpec::CrashHost { host }
        | FaultSpec::PowerOff { host }
        | FaultSpec::PowerOn { host } => host_ok(p, host),
        FaultSpec::FailServer { server } => {
            if !s.servers.iter().any(|x| &x.name == server) {
                let names: BTreeSet<&str> = s.servers.iter().map(|x| x.name.as_str()).collect();
                p.push((
                    at.key("server"),
                    format!("unknown server {server:?}; {}", known(&names)),
                ));
            }
        }
        FaultSpec::KillService { host: h, service }
        | FaultSpec::HangService { host: h, service } => {
            host_ok(p, h);
            let known_svc = s
                .exchange
                .iter()
                .any(|x| x.services.iter().any(|v| &v.name == service));
            if !known_svc {
                p.push((at.key("service"), format!("unknown service {service:?}")));
            }
        }
        FaultSpec::CorruptStore {
            host: h,
            group,
            store,
        } => {
            host_ok(p, h);
            let found = host(s, h).is_some_and(|hd| {
                crate::exchange::groups_of(s, hd)
                    .iter()
                    .any(|g| &g.name == group && g.stores.iter().any(|x| &x.name == store))
            });
            if !found {
                p.push((at.key("store"), format!("{h} has no store {group}/{store}")));
            }
        }
        FaultSpec::Partition { a, b } | FaultSpec::Heal { a, b } => {
            end_ok(p, "a", a, false);
            end_ok(p, "b", b, false);
        }
        // Its latency, bandwidth and loss are in `bounds.rs`'s ranges.
        FaultSpec::DegradeLink { a, b, .. } => {
            end_ok(p, "a", a, true);
            end_ok(p, "b", b, true);
        }
    }
}
