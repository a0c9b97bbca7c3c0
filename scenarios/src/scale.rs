//! Scaled estates for benchmarks (`drlab bench --scale KIND=N`): a pure
//! function from a loaded scenario to the same scenario with N replicated
//! server pairs, hosts, mailboxes or clients, so the simulator's cost per
//! event can be measured as the estate grows.
//!
//! What is added copies what the scenario already has and changes only
//! names and addresses:
//!
//! - `pairs=N`: the first `[[replication]]` connection's source and target
//!   hosts are copied (Exchange installation, site, DC) as new pairs
//!   `SOURCE-P1 -> TARGET-P1`, … until the scenario has N connections.
//! - `hosts=N`: plain hosts (no roles, no Exchange) `SCALE-H1`, … on the
//!   first host's site until the scenario has N hosts.
//! - `mailboxes=N`: mailboxes `NAME-M1`, … homed like the scenario's own
//!   mailboxes (in turn) until it has N. The workload writes to every
//!   mailbox in turn unless it names its own, and a runbook that moves
//!   mailboxes moves the new ones too: that extra work is part of the run.
//! - `clients=N`: copies `CLIENT-C1`, … of the workload's client (site,
//!   resolver, DNS server) until the scenario has N clients.
//!
//! New hosts get addresses from 10.200.0.1 upwards, skipping any the
//! scenario uses and every `.0` and `.255`. Everything added comes after
//! what was there, so indexes of the original estate do not move. A scaled
//! scenario is the simulator's only: its `[lab]` section is dropped. The
//! result is validated with the loader's semantic checks; a problem is an
//! error, never a panic.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::format::{HostDef, Scenario};

/// Most replicated pairs a scaled scenario may have.
pub const PAIRS_MAX: usize = 10_000;
/// Most hosts a scaled scenario may have.
pub const HOSTS_MAX: usize = 100_000;
/// Most mailboxes a scaled scenario may have.
pub const MAILBOXES_MAX: usize = 100_000;
/// Most clients a scaled scenario may have.
pub const CLIENTS_MAX: usize = 100_000;
/// Most counts one `KIND=N,N,…` specification may list.
pub const COUNTS_MAX: usize = 64;

/// What grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScaleKind {
    /// Replication connections, each between two new Exchange hosts.
    Pairs,
    /// Hosts.
    Hosts,
    /// Mailboxes.
    Mailboxes,
    /// Client populations.
    Clients,
}

impl ScaleKind {
    /// Every kind.
    pub const ALL: [ScaleKind; 4] = [
        ScaleKind::Pairs,
        ScaleKind::Hosts,
        ScaleKind::Mailboxes,
        ScaleKind::Clients,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ScaleKind::Pairs => "pairs",
            ScaleKind::Hosts => "hosts",
            ScaleKind::Mailboxes => "mailboxes",
            ScaleKind::Clients => "clients",
        }
    }

    /// The largest N allowed.
    pub fn max(self) -> usize {
        match self {
            ScaleKind::Pairs => PAIRS_MAX,
            ScaleKind::Hosts => HOSTS_MAX,
            ScaleKind::Mailboxes => MAILBOXES_MAX,
            ScaleKind::Clients => CLIENTS_MAX,
        }
    }

    /// How many the scenario has now.
    pub fn count(self, s: &Scenario) -> usize {
        match self {
            ScaleKind::Pairs => s.replication.len(),
            ScaleKind::Hosts => s.hosts.len(),
            ScaleKind::Mailboxes => s.mailboxes.len(),
            ScaleKind::Clients => s.clients.len(),
        }
    }
}

impl fmt::Display for ScaleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for ScaleKind {
    type Err = ScaleError;
    fn from_str(text: &str) -> Result<ScaleKind, ScaleError> {
        ScaleKind::ALL
            .into_iter()
            .find(|k| k.name() == text)
            .ok_or_else(|| ScaleError::UnknownKind(text.to_string()))
    }
}

/// `KIND=N[,N…]`: one kind and the counts of its curve, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleSpec {
    /// What grows.
    pub kind: ScaleKind,
    /// The counts, each within `1..=kind.max()`.
    pub counts: Vec<usize>,
}

impl FromStr for ScaleSpec {
    type Err = ScaleError;
    fn from_str(text: &str) -> Result<ScaleSpec, ScaleError> {
        let Some((kind, list)) = text.split_once('=') else {
            return Err(ScaleError::Syntax(text.to_string()));
        };
        let kind: ScaleKind = kind.trim().parse()?;
        let counts = list
            .split(',')
            .map(|n| {
                let n = n.trim();
                let v: usize = n
                    .parse()
                    .map_err(|_| ScaleError::NotACount(n.to_string()))?;
                if (1..=kind.max()).contains(&v) {
                    Ok(v)
                } else {
                    Err(ScaleError::OutOfRange {
                        kind,
                        n: v,
                        min: 1,
                        max: kind.max(),
                    })
                }
            })
            .collect::<Result<Vec<usize>, ScaleError>>()?;
        if counts.len() > COUNTS_MAX {
            return Err(ScaleError::TooManyCounts(counts.len()));
        }
        Ok(ScaleSpec { kind, counts })
    }
}

/// Why a scenario could not be scaled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    /// Not `KIND=N[,N…]`.
    #[error("expected KIND=N[,N...] (e.g. pairs=10,100,1000), got {0:?}")]
    Syntax(String),
    /// A kind that is not one of the four.
    #[error("unknown scale kind {0:?}: use pairs, hosts, mailboxes or clients")]
    UnknownKind(String),
    /// A count that is not a whole number.
    #[error("{0:?} is not a count (a whole number)")]
    NotACount(String),
    /// More counts than [`COUNTS_MAX`].
    #[error("{0} counts in one curve; at most {COUNTS_MAX}")]
    TooManyCounts(usize),
    /// A count outside what is allowed.
    #[error("{kind}={n}: N must be between {min} and {max}")]
    OutOfRange {
        /// The kind.
        kind: ScaleKind,
        /// The count asked for.
        n: usize,
        /// The smallest allowed (the scenario's own count, or 1).
        min: usize,
        /// The largest allowed.
        max: usize,
    },
    /// The scenario has nothing of the kind to copy.
    #[error("cannot scale {kind}: the scenario has {what}")]
    NoTemplate {
        /// The kind.
        kind: ScaleKind,
        /// What is missing.
        what: &'static str,
    },
    /// No free address is left for a new host.
    #[error("no free IPv4 address left for new hosts above 10.200.0.0")]
    AddressesExhausted,
    /// The scaled scenario fails the loader's checks (a bug of this module,
    /// reported rather than run).
    #[error("the scaled scenario is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The scenario `s` with `n` of `kind` (pairs, hosts, mailboxes, clients),
/// validated. `n` must lie between the scenario's own count (scaling only
/// adds) and the kind's maximum ([`PAIRS_MAX`], …).
pub fn scaled(s: &Scenario, kind: ScaleKind, n: usize) -> Result<Scenario, ScaleError> {
    let have = kind.count(s);
    if n < have.max(1) || n > kind.max() {
        return Err(ScaleError::OutOfRange {
            kind,
            n,
            min: have.max(1),
            max: kind.max(),
        });
    }
    let mut out = s.clone();
    out.lab = None;
    let mut names = Names::of(s);
    match kind {
        ScaleKind::Pairs => add_pairs(&mut out, &mut names, n)?,
        ScaleKind::Hosts => add_hosts(&mut out, &mut names, n)?,
        ScaleKind::Mailboxes => add_mailboxes(&mut out, n)?,
        ScaleKind::Clients => add_clients(&mut out, &mut names, n)?,
    }
    let problems = crate::validate::check(&out);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ScaleError::Invalid(
            problems
                .into_iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect(),
        ))
    }
}

/// Names taken by hosts and clients (one namespace), and addresses in use.
struct Names {
    taken: BTreeSet<String>,
    ips: BTreeSet<Ipv4Addr>,
    next_ip: u32,
}

/// Where new hosts' addresses start.
const FIRST_IP: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
/// Where they must end.
const LAST_IP: Ipv4Addr = Ipv4Addr::new(10, 255, 255, 254);

impl Names {
    fn of(s: &Scenario) -> Names {
        Names {
            taken: s
                .hosts
                .iter()
                .map(|h| h.name.clone())
                .chain(s.clients.iter().map(|c| c.name.clone()))
                .collect(),
            ips: s.hosts.iter().map(|h| h.ip).collect(),
            next_ip: u32::from(FIRST_IP),
        }
    }

    /// The first of `base-TAGk`, `base-TAGk-2`, … that is free, taken now.
    fn fresh(&mut self, base: &str, tag: char, k: usize) -> String {
        let first = format!("{base}-{tag}{k}");
        let mut name = first.clone();
        let mut again = 2u64;
        while self.taken.contains(&name) {
            name = format!("{first}-{again}");
            again += 1;
        }
        self.taken.insert(name.clone());
        name
    }

    fn ip(&mut self) -> Result<Ipv4Addr, ScaleError> {
        while self.next_ip <= u32::from(LAST_IP) {
            let ip = Ipv4Addr::from(self.next_ip);
            self.next_ip += 1;
            let last = ip.octets()[3];
            if last != 0 && last != 255 && self.ips.insert(ip) {
                return Ok(ip);
            }
        }
        Err(ScaleError::AddressesExhausted)
    }
}

fn copy_host(t: &HostDef, names: &mut Names, tag: char, k: usize) -> Result<HostDef, ScaleError> {
    Ok(HostDef {
        name: names.fresh(&t.name, tag, k),
        ip: names.ip()?,
        ..t.clone()
    })
}

fn add_pairs(s: &mut Scenario, names: &mut Names, n: usize) -> Result<(), ScaleError> {
    let none = ScaleError::NoTemplate {
        kind: ScaleKind::Pairs,
        what: "no [[replication]] connection to copy",
    };
    let template = s.replication.first().cloned().ok_or(none)?;
    let host = |name: &str| s.hosts.iter().find(|h| h.name == name).cloned();
    let (Some(src), Some(tgt)) = (host(&template.source), host(&template.target)) else {
        return Err(ScaleError::NoTemplate {
            kind: ScaleKind::Pairs,
            what: "a replication connection between unknown hosts",
        });
    };
    for k in 1..=n - s.replication.len() {
        let a = copy_host(&src, names, 'P', k)?;
        let b = copy_host(&tgt, names, 'P', k)?;
        let mut r = template.clone();
        r.source = a.name.clone();
        r.target = b.name.clone();
        s.hosts.push(a);
        s.hosts.push(b);
        s.replication.push(r);
    }
    Ok(())
}

fn add_hosts(s: &mut Scenario, names: &mut Names, n: usize) -> Result<(), ScaleError> {
    let site = s
        .hosts
        .first()
        .map(|h| h.site.clone())
        .or_else(|| s.sites.first().map(|x| x.name.clone()))
        .ok_or(ScaleError::NoTemplate {
            kind: ScaleKind::Hosts,
            what: "no site to put hosts on",
        })?;
    let template = HostDef {
        name: "SCALE".into(),
        site,
        ip: FIRST_IP,
        roles: Vec::new(),
        exchange: None,
        dc: None,
    };
    for k in 1..=n - s.hosts.len() {
        let h = copy_host(&template, names, 'H', k)?;
        s.hosts.push(h);
    }
    Ok(())
}

fn add_mailboxes(s: &mut Scenario, n: usize) -> Result<(), ScaleError> {
    let own = s.mailboxes.len();
    if own == 0 {
        return Err(ScaleError::NoTemplate {
            kind: ScaleKind::Mailboxes,
            what: "no [[mailboxes]] entry to copy",
        });
    }
    let mut taken: BTreeSet<String> = s.mailboxes.iter().map(|m| m.name.clone()).collect();
    for k in 1..=n - own {
        let mut m = s.mailboxes[(k - 1) % own].clone();
        let first = format!("{}-M{k}", m.name);
        let mut name = first.clone();
        let mut again = 2u64;
        while taken.contains(&name) {
            name = format!("{first}-{again}");
            again += 1;
        }
        taken.insert(name.clone());
        m.name = name;
        s.mailboxes.push(m);
    }
    Ok(())
}

fn add_clients(s: &mut Scenario, names: &mut Names, n: usize) -> Result<(), ScaleError> {
    let template = s
        .clients
        .iter()
        .find(|c| c.name == s.workload.client)
        .or(s.clients.first())
        .cloned()
        .ok_or(ScaleError::NoTemplate {
            kind: ScaleKind::Clients,
            what: "no [[clients]] entry to copy",
        })?;
    for k in 1..=n - s.clients.len() {
        let mut c = template.clone();
        c.name = names.fresh(&template.name, 'C', k);
        s.clients.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/library/lan-failover.toml");
        crate::load(std::path::Path::new(path)).expect("library scenario loads")
    }

    #[test]
    fn a_scaled_scenario_has_n_of_its_kind_and_still_validates() {
        let s = lan();
        for (kind, n) in [
            (ScaleKind::Pairs, 25),
            (ScaleKind::Hosts, 40),
            (ScaleKind::Mailboxes, 30),
            (ScaleKind::Clients, 12),
        ] {
            let x = scaled(&s, kind, n).unwrap_or_else(|e| panic!("{kind}={n}: {e}"));
            assert_eq!(kind.count(&x), n, "{kind}");
            assert!(crate::validate::check(&x).is_empty(), "{kind}={n}");
            // The original estate keeps its place.
            for (a, b) in s.hosts.iter().zip(&x.hosts) {
                assert_eq!((&a.name, a.ip), (&b.name, b.ip));
            }
        }
        let p = scaled(&s, ScaleKind::Pairs, 25).expect("scales");
        assert_eq!(p.hosts.len(), s.hosts.len() + 2 * 24);
        let ips: BTreeSet<Ipv4Addr> = p.hosts.iter().map(|h| h.ip).collect();
        assert_eq!(ips.len(), p.hosts.len(), "addresses are unique");
        // Its own count is allowed and changes nothing.
        let same = scaled(&s, ScaleKind::Pairs, 1).expect("scales");
        assert_eq!(same.hosts.len(), s.hosts.len());
    }

    #[test]
    fn bad_kinds_and_counts_are_errors() {
        let s = lan();
        assert_eq!(
            "pairs=10,100,1000".parse::<ScaleSpec>(),
            Ok(ScaleSpec {
                kind: ScaleKind::Pairs,
                counts: vec![10, 100, 1000]
            })
        );
        assert!(matches!(
            "racks=10".parse::<ScaleSpec>(),
            Err(ScaleError::UnknownKind(k)) if k == "racks"
        ));
        assert!(matches!(
            "pairs".parse::<ScaleSpec>(),
            Err(ScaleError::Syntax(_))
        ));
        assert!(matches!(
            "hosts=10,x".parse::<ScaleSpec>(),
            Err(ScaleError::NotACount(n)) if n == "x"
        ));
        assert!(matches!(
            "hosts=0".parse::<ScaleSpec>(),
            Err(ScaleError::OutOfRange { n: 0, .. })
        ));
        assert!(matches!(
            format!("pairs={}", PAIRS_MAX + 1).parse::<ScaleSpec>(),
            Err(ScaleError::OutOfRange { .. })
        ));
        // Fewer than the scenario has: scaling only adds.
        assert_eq!(
            scaled(&s, ScaleKind::Hosts, 2).map(|_| ()),
            Err(ScaleError::OutOfRange {
                kind: ScaleKind::Hosts,
                n: 2,
                min: 3,
                max: HOSTS_MAX
            })
        );
        let mut bare = s.clone();
        bare.replication.clear();
        assert!(matches!(
            scaled(&bare, ScaleKind::Pairs, 3),
            Err(ScaleError::NoTemplate { .. })
        ));
    }
}
