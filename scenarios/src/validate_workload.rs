//! Semantic checks of `[workload]` and `[[faults]]`: references resolve,
//! the arrival process has only its own parameters, an on-off process's
//! periods let it write and switch no more often than the event budget
//! allows, the writes a drill can make fit the event budget, and drawn
//! fault times and choices are possible.
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
    on_off(s, p);
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
            matches!(kind, ArrivalKind::Fixed | ArrivalKind::Bursts),
        ),
        (
            "rate_per_s",
            w.rate_per_s.is_some(),
            matches!(kind, ArrivalKind::Poisson | ArrivalKind::OnOff),
        ),
        (
            "on_mean_s",
            w.on_mean_s.is_some(),
            kind == ArrivalKind::OnOff,
        ),
        (
            "off_mean_s",
            w.off_mean_s.is_some(),
            kind == ArrivalKind::OnOff,
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
        ArrivalKind::OnOff => "on-off",
    }
}

fn takes(k: ArrivalKind) -> &'static str {
    match k {
        ArrivalKind::Fixed => "it takes write_interval_ms",
        ArrivalKind::Poisson => "it takes rate_per_s",
        ArrivalKind::Bursts => "it takes burst_writes, burst_interval_s and write_interval_ms",
        ArrivalKind::OnOff => "it takes rate_per_s, on_mean_s and off_mean_s",
    }
}

/// An on-off process must have on periods to write in, and may not switch
/// between on and off more often over the horizon than the event budget
/// allows: a switch records nothing, but each costs the write process
/// draws, so tiny periods over a long horizon would make its work run
/// away. A mean's own range (`…_s`: 0 to 1e8) is `bounds.rs`'s; an off
/// mean of 0 is a Poisson process.
fn on_off(s: &Scenario, p: &mut Problems) {
    let Arrivals::OnOff {
        on_mean_s,
        off_mean_s,
        ..
    } = s.workload.arrivals()
    else {
        return;
    };
    let in_range = |x: f64| x.is_finite() && x >= 0.0;
    if !(in_range(on_mean_s) && in_range(off_mean_s)) {
        return;
    }
    if on_mean_s == 0.0 {
        p.push((
            path!("workload", "on_mean_s"),
            "on periods of 0 s on average: the workload would never write".into(),
        ));
        return;
    }
    let horizon_s = s.scenario.horizon_s;
    let cycles = horizon_s / (on_mean_s + off_mean_s);
    if cycles > s.scenario.events_max as f64 {
        p.push((
            path!("workload", "on_mean_s"),
            format!(
                "on and off periods of {on_mean_s} s and {off_mean_s} s on average switch the \
                 workload on {cycles:.0} times over the {horizon_s} s horizon, more than the \
                 event budget (scenario.events_max = {}): longer periods, a shorter horizon or \
                 a larger events_max",
                s.scenario.events_max
            ),
        ));
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
            ArrivalKind::Poisson | ArrivalKind::OnOff => "rate_per_s",
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
                margin_text(w, s.scenario.horizon_s),
                s.scenario.events_max
            ),
        ));
    }
}

/// How the write bound of an error message was reached, after "writes at
/// its peak rate": the margin of a random count.
fn margin_text(w: &WorkloadDef, horizon_s: f64) -> String {
    match w.arrivals {
        ArrivalKind::Poisson => ", with 6 standard deviations of margin".into(),
        ArrivalKind::OnOff => {
            let peak = w.peak_multiplier();
            format!(
                ", the on-rate all along, with 6 standard deviations of margin; the long-run \
                 mean{} is {:.0}",
                if peak == 1.0 {
                    ""
                } else {
                    " at the profile's peak"
                },
                horizon_s * w.mean_rate_per_s() * peak
            )
        }
        ArrivalKind::Fixed | ArrivalKind::Bursts => String::new(),
    }
}

/// The most writes and probes a drill of `horizon_s` can make, as `(writes,
/// probes)`; `None` when a parameter is out of its range (`bounds.rs`
/// reports it). At the profile's peak multiplier all along: fixed arrivals
/// `⌈horizon × rate × peak⌉`; bursts `⌈horizon / period⌉` bursts of
/// `round(burst_writes × peak)`; Poisson arrivals, whose count is random,
/// their mean `μ = horizon × rate × peak` plus six standard deviations
/// (`√μ`: where the budget matters the count is large and nearly normal,
/// so a run exceeds it with a probability of about 10⁻⁹). On-off arrivals
/// count as Poisson arrivals at their on-rate all along: their writes are
/// those of such a process that fall in on periods, so their count never
/// exceeds its count, whatever the periods. Their long-run mean
/// `horizon × rate × on / (on + off) × peak` would not do, even with six
/// of its Poisson deviations: the count is over-dispersed (a drill with
/// more on time than average has more writes), so many seeds exceed it.
/// Probes: `⌈horizon / probe_interval⌉`.
fn workload_events(w: &WorkloadDef, horizon_s: f64) -> Option<(f64, f64)> {
    let peak = w.peak_multiplier();
    let writes = match w.arrivals() {
        Arrivals::Fixed { interval_ms } if interval_ms > 0 => {
            (horizon_s * 1e3 / interval_ms as f64 * peak).ceil()
        }
        Arrivals::Poisson { rate_per_s } | Arrivals::OnOff { rate_per_s, .. }
            if rate_per_s >= 0.0 =>
        {
            poisson_cap(horizon_s * rate_per_s * peak)
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

/// The most a Poisson count of mean `mean` reaches but with a probability
/// of about 10⁻⁹: `⌈μ + 6√μ⌉`.
fn poisson_cap(mean: f64) -> f64 {
    (mean + 6.0 * mean.sqrt()).ceil()
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
        | FaultSpec::HangService { host: h, service }
        | FaultSpec::RestartService { host: h, service } => {
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

#[cfg(test)]
mod tests {
    //! The on-off process's refusals, with their messages, and its write
    //! bound against what its write process really draws.

    use std::path::Path;

    use crate::load::{Problem, ScenarioError};

    const POISSON: &str = include_str!("../library/wan-failover-poisson.toml");

    /// The Poisson library scenario (2400 s horizon) without its hourly
    /// profile, with `arrivals` instead of its arrival process and
    /// `scenario` added to `[scenario]`.
    fn text(arrivals: &str, scenario: &str) -> String {
        let from = "arrivals = \"poisson\"\nrate_per_s = 1.157\n";
        assert!(POISSON.contains(from));
        let mut t = POISSON.replacen(from, &format!("{arrivals}\n"), 1);
        let at = t.find("hourly_profile").expect("a profile");
        let end = t.find("probe_interval_ms").expect("probes");
        t.replace_range(at..end, "");
        t.replacen(
            "settle_s = 30\n",
            &format!("settle_s = 30\n{scenario}\n"),
            1,
        )
    }

    /// The problems of a scenario that must not load.
    fn problems(text: &str) -> Vec<Problem> {
        match crate::parse(Path::new("s.toml"), text) {
            Err(ScenarioError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("loads:\n{text}"),
        }
    }

    /// Asserts `text` has one problem, at `field`, saying `says`, on the
    /// line that holds `line`.
    fn refused(text: &str, field: &str, says: &str, line: &str) {
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].field, field, "{p:#?}");
        assert!(
            p[0].message.contains(says),
            "{:?} lacks {says:?}",
            p[0].message
        );
        let at = text.find(line).expect("the line");
        assert_eq!(p[0].line, text[..at].lines().count() + 1, "{p:#?}");
    }

    const ON_OFF: &str =
        "arrivals = \"on-off\"\nrate_per_s = 20\non_mean_s = 120\noff_mean_s = 480";

    #[test]
    fn the_documented_example_loads_with_its_defaults_and_words() {
        let s =
            crate::parse(Path::new("s.toml"), &text(ON_OFF, "")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.workload.mean_rate_per_s(), 4.0);
        assert_eq!(
            s.workload.arrivals_text(),
            "Poisson writes at 20 per second in on periods of 120 s on average, none in off \
             periods of 480 s on average (a long-run mean of 4 per second)"
        );
        let d = crate::parse(Path::new("s.toml"), &text("arrivals = \"on-off\"", ""))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            d.workload.arrivals(),
            crate::format::Arrivals::OnOff {
                rate_per_s: 5.0,
                on_mean_s: 120.0,
                off_mean_s: 480.0
            }
        );
        assert_eq!(d.workload.mean_rate_per_s(), 1.0);
    }

    #[test]
    fn a_parameter_of_another_process_is_refused_where_it_stands() {
        let on_off = "not a parameter of arrivals = \"on-off\" (it takes rate_per_s, on_mean_s \
                      and off_mean_s)";
        for (arrivals, field, says) in [
            (
                format!("{ON_OFF}\nwrite_interval_ms = 100"),
                "write_interval_ms",
                on_off,
            ),
            (
                format!("{ON_OFF}\nburst_writes = 5"),
                "burst_writes",
                on_off,
            ),
            (
                format!("{ON_OFF}\nburst_interval_s = 60"),
                "burst_interval_s",
                on_off,
            ),
            (
                "arrivals = \"poisson\"\non_mean_s = 60".into(),
                "on_mean_s",
                "not a parameter of arrivals = \"poisson\" (it takes rate_per_s)",
            ),
            (
                "arrivals = \"bursts\"\noff_mean_s = 60".into(),
                "off_mean_s",
                "not a parameter of arrivals = \"bursts\" (it takes burst_writes, \
                 burst_interval_s and write_interval_ms)",
            ),
            (
                "arrivals = \"fixed\"\non_mean_s = 60".into(),
                "on_mean_s",
                "not a parameter of arrivals = \"fixed\" (it takes write_interval_ms)",
            ),
        ] {
            let t = text(&arrivals, "");
            let line = format!("{field} =");
            refused(&t, &format!("workload.{field}"), says, &line);
        }
    }

    #[test]
    fn on_periods_must_let_it_write_and_switch_within_the_budget() {
        let t = text(&ON_OFF.replace("on_mean_s = 120", "on_mean_s = 0"), "");
        refused(
            &t,
            "workload.on_mean_s",
            "on periods of 0 s on average: the workload would never write",
            "on_mean_s =",
        );
        // An off mean of 0 is a Poisson process.
        let poisson = text(&ON_OFF.replace("off_mean_s = 480", "off_mean_s = 0"), "");
        crate::parse(Path::new("s.toml"), &poisson).unwrap_or_else(|e| panic!("{e}"));
        // A negative mean is out of range, and only that is said.
        let t = text(&ON_OFF.replace("off_mean_s = 480", "off_mean_s = -1"), "");
        refused(&t, "workload.off_mean_s", "out of range", "off_mean_s =");
        // 2400 s / 2 ms: 1.2 million switches.
        let tiny = ON_OFF
            .replace("on_mean_s = 120", "on_mean_s = 0.001")
            .replace("off_mean_s = 480", "off_mean_s = 0.001");
        let t = text(&tiny, "events_max = 1000000");
        refused(
            &t,
            "workload.on_mean_s",
            "on and off periods of 0.001 s and 0.001 s on average switch the workload on \
             1200000 times over the 2400 s horizon, more than the event budget \
             (scenario.events_max = 1000000)",
            "on_mean_s =",
        );
    }

    #[test]
    fn the_event_budget_takes_the_on_rate_all_along() {
        // 2400 s at 20 writes a second: a mean of 48000, 49315 with six
        // deviations, though the long-run mean is 9600; 2400 probes.
        let t = text(ON_OFF, "events_max = 50000");
        refused(
            &t,
            "workload.rate_per_s",
            "could record 51715 events over the 2400 s horizon (49315 writes at its peak \
             rate, the on-rate all along, with 6 standard deviations of margin; the long-run \
             mean is 9600, 2400 probes)",
            "rate_per_s =",
        );
        crate::parse(Path::new("s.toml"), &text(ON_OFF, "events_max = 51715"))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The bound holds what the write process draws, where the long-run
    /// mean's Poisson bound, `μ + 6√μ`, is exceeded by many seeds: why the
    /// bound takes the on-rate.
    #[test]
    fn no_seed_writes_more_than_the_bound_and_the_mean_would_not_bound_it() {
        let s =
            crate::parse(Path::new("s.toml"), &text(ON_OFF, "")).unwrap_or_else(|e| panic!("{e}"));
        let horizon = s.scenario.horizon_s;
        let (bound, _) = super::workload_events(&s.workload, horizon).expect("in range");
        let naive = super::poisson_cap(horizon * s.workload.mean_rate_per_s());
        let seeds = 200;
        let mut above_naive = 0;
        let mut most = 0;
        for seed in 0..seeds {
            let mut w = crate::schedule::Writes::new(&s, seed);
            let mut at = w.first();
            let mut n = 0usize;
            while let Some(t) = at {
                n += 1;
                at = w.after(t);
            }
            assert!(
                (n as f64) <= bound,
                "seed {seed}: {n} writes, bound {bound}"
            );
            above_naive += usize::from(n as f64 > naive);
            most = most.max(n);
        }
        assert!(
            above_naive * 10 >= seeds as usize,
            "{above_naive} of {seeds} seeds above {naive} (most {most})"
        );
    }
}
