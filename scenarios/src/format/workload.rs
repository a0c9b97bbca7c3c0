//! `[workload]` and `[[faults]]`: what users do and what goes wrong, when.

use serde::Deserialize;

/// `[workload]`: sequence-numbered writes and end-user probes through a name.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadDef {
    /// The client population that writes and probes.
    pub client: String,
    /// The name users connect to, e.g. `exch1.corp.example.com`.
    pub service_name: String,
    /// Mailboxes written round-robin (default: all mailboxes).
    #[serde(default)]
    pub mailboxes: Vec<String>,
    /// Interval between writes.
    #[serde(default = "default_write_ms")]
    pub write_interval_ms: u64,
    /// Size of each write.
    #[serde(default = "default_write_bytes")]
    pub write_bytes: u32,
    /// Interval between probes.
    #[serde(default = "default_probe_ms")]
    pub probe_interval_ms: u64,
    /// Consecutive successful probes that count as restored.
    #[serde(default = "default_probe_n")]
    pub probe_successes_required: u32,
}

fn default_write_ms() -> u64 {
    200
}
fn default_write_bytes() -> u32 {
    32 * 1024
}
fn default_probe_ms() -> u64 {
    1000
}
fn default_probe_n() -> u32 {
    3
}

/// `[[faults]]`: one scheduled fault. (Unknown fields are refused by
/// [`FaultSpec`]; serde cannot refuse them on a struct that flattens.)
#[derive(Clone, Debug, Deserialize)]
pub struct FaultDef {
    /// Drill time at which the fault takes effect.
    pub at_s: f64,
    /// What happens.
    #[serde(flatten)]
    pub spec: FaultSpec,
}

/// The fault kinds a scenario can schedule.
#[derive(Clone, Debug, Deserialize)]
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
}
