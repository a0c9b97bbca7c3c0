//! Bad input is refused at the value: `file:line:column: field: message`,
//! for values inside tag-chosen tables (`[runbook]`, `[[faults]]`) and for
//! numbers outside their bounds, never a panic.

use std::path::Path;

const LAN: &str = include_str!("../library/lan-failover.toml");

/// The library's LAN failover with `from` replaced by `to` after `anchor`.
fn edited(anchor: &str, from: &str, to: &str) -> String {
    let at = LAN.find(anchor).expect("anchor");
    let (head, tail) = LAN.split_at(at);
    assert!(tail.contains(from), "{from} after {anchor}");
    format!("{head}{}", tail.replacen(from, to, 1))
}

/// The one problem of `text`, as `line:column: field: message`.
fn problem(text: &str) -> String {
    let e = drlab_scenarios::parse(Path::new("s.toml"), text).expect_err("refused");
    let s = e.to_string();
    assert_eq!(s.lines().count(), 1, "{s}");
    s.strip_prefix("s.toml:").expect("located").to_string()
}

/// Line and column of the first occurrence of `needle` after `anchor`.
fn position(text: &str, anchor: &str, needle: &str) -> String {
    let at = text.find(anchor).unwrap() + text[text.find(anchor).unwrap()..].find(needle).unwrap();
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

#[test]
fn a_wrong_type_in_the_runbook_points_at_the_value() {
    let text = edited("[runbook]", "source = \"EXCH1\"", "source = 5");
    let p = problem(&text);
    let at = position(&text, "[runbook]", "5\n");
    assert!(
        p.starts_with(&format!("{at}: runbook.source: invalid type: integer `5`")),
        "{p}"
    );
}

#[test]
fn an_unknown_field_in_the_runbook_points_at_its_key() {
    let text = edited(
        "[runbook]",
        "target = \"EXCH2\"",
        "target = \"EXCH2\"\nbogus = 1",
    );
    let p = problem(&text);
    let at = position(&text, "[runbook]", "bogus");
    assert!(
        p.starts_with(&format!("{at}: runbook.bogus: unknown field")),
        "{p}"
    );
}

#[test]
fn a_wrong_type_in_a_fault_points_at_the_value() {
    let text = edited("[[faults]]", "host = \"EXCH1\"", "host = true");
    let p = problem(&text);
    let at = position(&text, "[[faults]]", "true");
    assert!(
        p.starts_with(&format!("{at}: faults[0].host: invalid type")),
        "{p}"
    );
}

#[test]
fn durations_beyond_the_bound_are_refused_not_panicked_on() {
    for (anchor, from, to, field) in [
        (
            "[policy]",
            "operator_response_s = 30",
            "operator_response_s = 1.9e19",
            "policy.operator_response_s",
        ),
        (
            "[scenario]",
            "settle_s",
            "events_max = 100\nsettle_s",
            "workload.write_interval_ms",
        ),
        (
            "[runbook]",
            "target = \"EXCH2\"",
            "target = \"EXCH2\"\nservice_wait_s = 1e300",
            "runbook.service_wait_s",
        ),
        (
            "[timing]",
            "mailbox_move_s = 0.5",
            "mailbox_move_s = { exponential = 1e30 }",
            "timing.mailbox_move_s.exponential",
        ),
        (
            "[workload]",
            "write_bytes = 32768",
            "write_bytes = 0",
            "workload.write_bytes",
        ),
    ] {
        let text = edited(anchor, from, to);
        let e = drlab_scenarios::parse(Path::new("s.toml"), &text).expect_err(field);
        let all = e.to_string();
        assert!(all.contains(&format!(": {field}: ")), "{field}: {all}");
    }
}

#[test]
fn a_lab_shape_without_the_scenarios_hosts_is_refused_at_the_shape() {
    let wan = include_str!("../library/wan-failover.toml");
    let text = format!("{wan}\n[lab]\nshape = \"lan\"\n");
    let p = problem(&text);
    let at = position(&text, "[lab]", "\"lan\"");
    assert!(
        p.starts_with(&format!(
            "{at}: lab.shape: the lan lab has no host DC2 (known: CLIENT1, DC1, EXCH1, EXCH2)"
        )),
        "{p}"
    );
    let lan = format!("{LAN}\n[lab]\nshape = \"lan\"\n");
    drlab_scenarios::parse(Path::new("s.toml"), &lan).expect("the LAN estate fits the lan lab");
    let unknown = format!("{LAN}\n[lab]\nshape = \"moon\"\n");
    assert!(problem(&unknown).contains("lab.shape: unknown variant `moon`"));
}

#[test]
fn a_lab_reverse_zone_that_refuses_updates_is_refused_at_the_field() {
    let lab = include_str!("../library/wan-failover-dns-refused-lab.toml");
    drlab_scenarios::parse(Path::new("s.toml"), lab).expect("a refused forward zone fits the lab");
    let from = "name = \"0.0.10.in-addr.arpa\"\nservers = [\"DC1\", \"DC2\"]\n";
    assert!(lab.contains(from));
    let text = lab.replacen(from, &format!("{from}dynamic_updates = false\n"), 1);
    let p = problem(&text);
    let at = position(&text, "name = \"0.0.10.in-addr.arpa\"", "false");
    assert!(
        p.starts_with(&format!(
            "{at}: dns.zones[1].dynamic_updates: the lab's reverse zones"
        )),
        "{p}"
    );
}

#[test]
fn stochastic_workloads_and_faults_are_refused_at_the_value() {
    let poisson = include_str!("../library/wan-failover-poisson.toml");
    let edit = |from: &str, to: &str| {
        assert!(poisson.contains(from), "{from}");
        poisson.replacen(from, to, 1)
    };
    for (text, field, says) in [
        (
            edit("rate_per_s = 1.157", "rate_per_s = 0"),
            "workload.rate_per_s",
            "out of range",
        ),
        (
            edit("rate_per_s = 1.157", "rate_per_s = 1000"),
            "workload.rate_per_s",
            "event budget",
        ),
        (
            edit("arrivals = \"poisson\"", "arrivals = \"fixed\""),
            "workload.rate_per_s",
            "not a parameter of arrivals = \"fixed\"",
        ),
        (
            edit("start_hour = 9", "start_hour = 24"),
            "workload.start_hour",
            "out of range",
        ),
        (
            edit("0.2, 0.2, 0.2, 0.2, 0.2, 0.3,", "0.2, 0.2, 0.2, 0.2, 0.2,"),
            "workload.hourly_profile",
            "length",
        ),
        (
            // A distribution's parameters are reals from 0 (its draws are
            // rounded and clamped to 1 B to 1 GiB); 1e12 is above 1 GiB.
            edit("{ exponential = 76800 }", "{ uniform = [0, 1e12] }"),
            "workload.write_bytes.uniform[1]",
            "out of range",
        ),
        (
            edit("{ exponential = 76800 }", "{ uniform = [65536, 4096] }"),
            "workload.write_bytes",
            "min <= max",
        ),
        (
            // 20 writes 200 ms apart last 3.8 s, inside the 5 s period, but
            // the profile's 2.4 at 09:00 makes a burst 48 writes: 9.4 s.
            edit(
                "arrivals = \"poisson\"\nrate_per_s = 1.157",
                "arrivals = \"bursts\"\nburst_writes = 20\nburst_interval_s = 5\n\
                 write_interval_ms = 200",
            ),
            "workload.burst_writes",
            "a burst of 48 writes (burst_writes 20 × the profile's peak multiplier 2.4, \
             rounded) 200 ms apart lasts 9.4 s, not shorter than burst_interval_s (5 s)",
        ),
        (
            // 2400 s of Poisson writes at 1.157 × 2.4 a second: a mean of
            // 6664, 7155 with the margin, and 2400 probes.
            edit("settle_s = 30", "settle_s = 30\nevents_max = 9000"),
            "workload.rate_per_s",
            "could record 9555 events over the 2400 s horizon (7155 writes at its peak rate, \
             with 6 standard deviations of margin, 2400 probes)",
        ),
        (
            edit("at_s = { uniform = [60, 600] }", "at_s = 2400"),
            "faults[0].at_s",
            "fault at 2400 s is not before the horizon (2400 s)",
        ),
        (
            edit(
                "at_s = { uniform = [60, 600] }",
                "at_s = { uniform = [60, 6000] }",
            ),
            "faults[0].at_s",
            "after the horizon",
        ),
        (
            edit(
                "kind = \"crash-host\"\nhost = \"EXCH1\"",
                "one_of = [{ kind = \"crash-host\", host = \"EXCH1\" }, \
                 { kind = \"crash-host\", host = \"EXCH9\", weight = 2 }]",
            ),
            "faults[0].one_of[1].host",
            "unknown host \"EXCH9\"",
        ),
        (
            edit(
                "kind = \"crash-host\"\nhost = \"EXCH1\"",
                "one_of = [{ kind = \"crash-host\", host = \"EXCH1\", weight = -1 }]",
            ),
            "faults[0].one_of[0].weight",
            "out of range",
        ),
    ] {
        let e = drlab_scenarios::parse(Path::new("s.toml"), &text).expect_err(field);
        let all = e.to_string();
        assert_eq!(all.lines().count(), 1, "one problem, reported once: {all}");
        let line = all
            .lines()
            .find(|l| l.contains(&format!(": {field}: ")))
            .unwrap_or_else(|| panic!("{field}: {all}"));
        let mut parts = line.splitn(4, ':');
        assert_eq!(parts.next(), Some("s.toml"), "{line}");
        assert!(
            parts.next().is_some_and(|l| l.parse::<usize>().is_ok()),
            "{line}"
        );
        assert!(
            parts.next().is_some_and(|c| c.parse::<usize>().is_ok()),
            "{line}"
        );
        assert!(line.contains(says), "{field}: {line}");
    }
}

#[test]
fn write_sizes_may_be_drawn_from_real_parameters() {
    let poisson = include_str!("../library/wan-failover-poisson.toml");
    for sizes in [
        "{ normal = [32768, 0.5] }",
        "{ normal = [32768, 4096], min = 0 }",
        "{ uniform = [4096.5, 65536] }",
    ] {
        let text = poisson.replacen("{ exponential = 76800 }", sizes, 1);
        drlab_scenarios::parse(Path::new("s.toml"), &text)
            .unwrap_or_else(|e| panic!("{sizes}: {e}"));
    }
    let whole = poisson.replacen("{ exponential = 76800 }", "4096.5", 1);
    assert!(problem(&whole).contains("workload.write_bytes: 4096.5 must be a whole number"));
}
