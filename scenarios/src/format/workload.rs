//! `[workload]` and `[[faults]]`: what users do and what goes wrong, when.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use super::Dist;

/// `[workload]`: sequence-numbered writes and end-user probes through a name.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadDef {
    /// The client population that writes and probes.
    pub client: String,
    /// The name users connect to, e.g. `exch1.corp.example.com`.
    pub service_name: String,
    /// Mailboxes written round-robin (default: all mailboxes).
    #[serde(default)]
    pub mailboxes: Vec<String>,
    /// How writes arrive: at a fixed interval (default), as a Poisson
    /// process, in bursts, or as a Poisson process switched on and off.
    #[serde(default)]
    pub arrivals: ArrivalKind,
    /// Fixed: the interval between writes; bursts: between the writes of a
    /// burst (default 200). Not with Poisson or on-off arrivals.
    #[serde(default)]
    pub write_interval_ms: Option<u64>,
    /// Poisson: the mean number of writes per second; on-off: the mean
    /// number per second while on (default 5).
    #[serde(default)]
    pub rate_per_s: Option<f64>,
    /// On-off: the mean duration of an on period in seconds, exponential
    /// (default 120).
    #[serde(default)]
    pub on_mean_s: Option<f64>,
    /// On-off: the mean duration of an off period in seconds, exponential
    /// (default 480).
    #[serde(default)]
    pub off_mean_s: Option<f64>,
    /// Bursts: writes in each burst (default 10).
    #[serde(default)]
    pub burst_writes: Option<u32>,
    /// Bursts: a burst starts every this many seconds (default 60).
    #[serde(default)]
    pub burst_interval_s: Option<f64>,
    /// Size of each write in bytes: a whole number, or a distribution
    /// (real parameters from 0) whose draws are rounded and clamped to the
    /// range of `write_bytes` (`schedule::Writes::size`).
    #[serde(default = "default_write_bytes")]
    pub write_bytes: Dist,
    /// A daily change-rate profile: 24 multipliers of the arrival rate, one
    /// per hour of the day from 00:00.
    #[serde(default)]
    pub hourly_profile: Option<[f64; 24]>,
    /// The hour of the day (0-23) at which the drill starts, for the
    /// profile (default 0).
    #[serde(default)]
    pub start_hour: Option<u32>,
    /// Interval between probes.
    #[serde(default = "default_probe_ms")]
    pub probe_interval_ms: u64,
    /// Consecutive successful probes that count as restored.
    #[serde(default = "default_probe_n")]
    pub probe_successes_required: u32,
}

/// `workload.arrivals`: the arrival process of writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalKind {
    /// A write every `write_interval_ms` (draws nothing).
    #[default]
    Fixed,
    /// Exponential gaps with mean `1 / rate_per_s`.
    Poisson,
    /// `burst_writes` writes `write_interval_ms` apart, a burst every
    /// `burst_interval_s` (draws nothing).
    Bursts,
    /// A Markov-modulated Poisson process: exponential gaps with mean
    /// `1 / rate_per_s` in on periods, no writes in off periods; the
    /// periods' durations are exponential with means `on_mean_s` and
    /// `off_mean_s`, and the drill starts on with probability
    /// `on_mean_s / (on_mean_s + off_mean_s)`.
    OnOff,
}

/// The arrival process with its parameters, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrivals {
    /// A write every `interval_ms`.
    Fixed {
        /// Interval between writes.
        interval_ms: u64,
    },
    /// Poisson arrivals.
    Poisson {
        /// Mean writes per second.
        rate_per_s: f64,
    },
    /// Bursts.
    Bursts {
        /// Writes per burst.
        writes: u32,
        /// Period of the bursts in seconds.
        period_s: f64,
        /// Interval between the writes of a burst.
        spacing_ms: u64,
    },
    /// Poisson arrivals switched on and off.
    OnOff {
        /// Mean writes per second while on.
        rate_per_s: f64,
        /// Mean duration of an on period in seconds.
        on_mean_s: f64,
        /// Mean duration of an off period in seconds.
        off_mean_s: f64,
    },
}

impl Arrivals {
    /// On-off: the share of the time spent on, `on / (on + off)`, which is
    /// also the probability that the drill starts on; 1 for the others.
    pub fn on_share(&self) -> f64 {
        match *self {
            Arrivals::OnOff {
                on_mean_s,
                off_mean_s,
                ..
            } => on_mean_s / (on_mean_s + off_mean_s),
            _ => 1.0,
        }
    }
}

impl WorkloadDef {
    /// The arrival process, with its documented defaults.
    pub fn arrivals(&self) -> Arrivals {
        let interval_ms = self.write_interval_ms.unwrap_or(DEFAULT_WRITE_MS);
        match self.arrivals {
            ArrivalKind::Fixed => Arrivals::Fixed { interval_ms },
            ArrivalKind::Poisson => Arrivals::Poisson {
                rate_per_s: self.rate_per_s.unwrap_or(DEFAULT_RATE_PER_S),
            },
            ArrivalKind::Bursts => Arrivals::Bursts {
                writes: self.burst_writes.unwrap_or(DEFAULT_BURST_WRITES),
                period_s: self.burst_interval_s.unwrap_or(DEFAULT_BURST_S),
                spacing_ms: interval_ms,
            },
            ArrivalKind::OnOff => Arrivals::OnOff {
                rate_per_s: self.rate_per_s.unwrap_or(DEFAULT_RATE_PER_S),
                on_mean_s: self.on_mean_s.unwrap_or(DEFAULT_ON_MEAN_S),
                off_mean_s: self.off_mean_s.unwrap_or(DEFAULT_OFF_MEAN_S),
            },
        }
    }

    /// The mean write rate before the profile, in writes per second (on-off:
    /// the long-run mean, `rate_per_s × on / (on + off)`).
    pub fn mean_rate_per_s(&self) -> f64 {
        let arrivals = self.arrivals();
        match arrivals {
            Arrivals::Fixed { interval_ms } => 1e3 / interval_ms.max(1) as f64,
            Arrivals::Poisson { rate_per_s } => rate_per_s,
            Arrivals::Bursts {
                writes, period_s, ..
            } => f64::from(writes) / period_s,
            Arrivals::OnOff { rate_per_s, .. } => rate_per_s * arrivals.on_share(),
        }
    }

    /// The largest multiplier of the profile (1 without one).
    pub fn peak_multiplier(&self) -> f64 {
        self.hourly_profile
            .map_or(1.0, |p| p.iter().copied().fold(0.0, f64::max))
    }

    /// The arrival process in words, for plans: `a write every 200 ms`.
    pub fn arrivals_text(&self) -> String {
        let base = match self.arrivals() {
            Arrivals::Fixed { interval_ms } => format!("a write every {interval_ms} ms"),
            Arrivals::Poisson { rate_per_s } => {
                format!("Poisson writes at {rate_per_s} per second")
            }
            Arrivals::Bursts {
                writes,
                period_s,
                spacing_ms,
            } => format!("bursts of {writes} writes {spacing_ms} ms apart every {period_s} s"),
            Arrivals::OnOff {
                rate_per_s,
                on_mean_s,
                off_mean_s,
            } => format!(
                "Poisson writes at {rate_per_s} per second in on periods of {on_mean_s} s \
                 on average, none in off periods of {off_mean_s} s on average \
                 (a long-run mean of {} per second)",
                short(self.mean_rate_per_s())
            ),
        };
        match self.hourly_profile {
            Some(_) => format!(
                "{base} (hourly profile, from {:02}:00)",
                self.start_hour.unwrap_or(0)
            ),
            None => base,
        }
    }
}

const DEFAULT_WRITE_MS: u64 = 200;
const DEFAULT_RATE_PER_S: f64 = 5.0;
const DEFAULT_BURST_WRITES: u32 = 10;
const DEFAULT_BURST_S: f64 = 60.0;
const DEFAULT_ON_MEAN_S: f64 = 120.0;
const DEFAULT_OFF_MEAN_S: f64 = 480.0;

/// `x` with at most three decimals and no trailing zeros: `4`, `3.333`.
fn short(x: f64) -> String {
    let s = format!("{x:.3}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn default_write_bytes() -> Dist {
    Dist::Fixed(32.0 * 1024.0)
}
fn default_probe_ms() -> u64 {
    1000
}
fn default_probe_n() -> u32 {
    3
}

/// `[[faults]]`: one scheduled fault, or a weighted choice of faults.
/// (Unknown fields are refused by [`FaultSpec`]; serde cannot refuse them
/// on a struct that flattens; the schema's own impl in `schema.rs` refuses
/// them.)
#[derive(Clone, Debug, Deserialize)]
pub struct FaultDef {
    /// Drill time at which the fault takes effect: a number or a distribution.
    pub at_s: Dist,
    /// What happens.
    #[serde(flatten)]
    pub what: FaultWhat,
}

/// What a `[[faults]]` entry does: one fault, or one drawn from a set.
#[derive(Clone, Debug)]
pub enum FaultWhat {
    /// `kind = ...` with its fields.
    One(FaultSpec),
    /// `one_of = [{ kind = ..., weight = 3 }, ...]`: one drawn in
    /// proportion to the weights.
    OneOf(Vec<WeightedFault>),
}

impl FaultWhat {
    /// The possible faults with their weights (one with weight 1 for `One`).
    pub fn choices(&self) -> Vec<(&FaultSpec, f64)> {
        match self {
            FaultWhat::One(f) => vec![(f, 1.0)],
            FaultWhat::OneOf(v) => v.iter().map(|w| (&w.spec, w.weight)).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for FaultWhat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FaultWhat, D::Error> {
        use serde::de::Error;
        let mut t = toml::Table::deserialize(d)?;
        let Some(set) = t.remove("one_of") else {
            return FaultSpec::deserialize(toml::Value::Table(t))
                .map(FaultWhat::One)
                .map_err(|e| D::Error::custom(e.message()));
        };
        if let Some(k) = t.keys().next() {
            return Err(D::Error::custom(format!(
                "unknown field `{k}`: a fault with `one_of` has only `at_s`; \
                 each choice carries its own `kind` and fields"
            )));
        }
        Vec::<WeightedFault>::deserialize(set)
            .map(FaultWhat::OneOf)
            .map_err(|e| D::Error::custom(format!("one_of: {}", e.message())))
    }
}

/// One choice of a `one_of` set (its schema: `schema.rs`).
#[derive(Clone, Debug, Deserialize)]
pub struct WeightedFault {
    /// Relative weight (default 1).
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// The fault.
    #[serde(flatten)]
    pub spec: FaultSpec,
}

fn default_weight() -> f64 {
    1.0
}

/// The fault kinds a scenario can schedule.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultSpec {
    /// Host stops at once.
    CrashHost {
        /// Host.
        host: String,
    },
    /// Power cut.
    PowerOff {
        /// Host.
        host: String,
    },
    /// Power back.
    PowerOn {
        /// Host.
        host: String,
    },
    /// A service process dies.
    KillService {
        /// Host.
        host: String,
        /// Service.
        service: String,
    },
    /// A store becomes corrupt.
    CorruptStore {
        /// Host.
        host: String,
        /// Storage group.
        group: String,
        /// Store.
        store: String,
    },
    /// The network between two sites or hosts is cut.
    Partition {
        /// One side.
        a: String,
        /// Other side.
        b: String,
    },
    /// A partition ends.
    Heal {
        /// One side.
        a: String,
        /// Other side.
        b: String,
    },
    /// A link's parameters change.
    DegradeLink {
        /// One side (site).
        a: String,
        /// Other side (site).
        b: String,
        /// New latency.
        latency_ms: Option<f64>,
        /// New bandwidth.
        bandwidth_mbps: Option<f64>,
        /// New loss.
        loss: Option<f64>,
    },
    /// A physical server's hardware fails.
    FailServer {
        /// A `[[servers]]` entry.
        server: String,
    },
    /// A service hangs: still running for its service manager, serving nobody.
    HangService {
        /// Host.
        host: String,
        /// Service.
        service: String,
    },
    /// The service manager restarts a service: the repair of a kill or a
    /// hang (stop, then start; the store service mounts the host's stores
    /// as at boot).
    RestartService {
        /// Host.
        host: String,
        /// Service.
        service: String,
    },
}
