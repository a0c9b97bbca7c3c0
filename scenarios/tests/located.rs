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
