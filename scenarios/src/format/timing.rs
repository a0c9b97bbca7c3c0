//! `[timing]`: how long operations take, as fixed values or distributions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A duration in seconds: a fixed number or a distribution.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Dist {
    /// Always this many seconds: `5.0`.
    Fixed(f64),
    /// Uniform between two bounds: `{ uniform = [2.0, 6.0] }`.
    Uniform {
        /// `[min, max]`.
        uniform: [f64; 2],
    },
    /// Normal, truncated at `min`: `{ normal = [mean, sd], min = 0.5 }`.
    Normal {
        /// `[mean, standard deviation]`.
        normal: [f64; 2],
        /// Lower bound (default 0).
        #[serde(default)]
        min: f64,
    },
    /// Exponential with this mean: `{ exponential = 3.0 }`.
    Exponential {
        /// Mean.
        exponential: f64,
    },
}

impl Dist {
    /// Why the parameters are impossible, if they are.
    pub fn problem(&self) -> Option<String> {
        self.problem_as("a duration")
    }

    /// Why the parameters are impossible for a quantity called `what` (`a
    /// duration`, `a size`), if they are.
    pub fn problem_as(&self, what: &str) -> Option<String> {
        let bad = |x: f64| !x.is_finite() || x < 0.0;
        match *self {
            Dist::Fixed(x) if bad(x) => Some(format!("{x} is not {what} >= 0")),
            Dist::Uniform { uniform: [a, b] } if bad(a) || bad(b) || a > b => Some(format!(
                "uniform bounds [{a}, {b}] must satisfy 0 <= min <= max"
            )),
            Dist::Normal {
                normal: [m, sd],
                min,
            } if bad(m) || bad(sd) || bad(min) => Some(format!(
                "normal [{m}, {sd}] with min {min} needs finite values >= 0"
            )),
            Dist::Exponential { exponential: m } if bad(m) => {
                Some(format!("exponential mean {m} must be >= 0"))
            }
            _ => None,
        }
    }

    /// The largest value a draw can take (`None`: unbounded).
    pub fn upper(&self) -> Option<f64> {
        match *self {
            Dist::Fixed(x) => Some(x),
            Dist::Uniform { uniform: [_, b] } => Some(b),
            Dist::Normal { .. } | Dist::Exponential { .. } => None,
        }
    }

    /// The mean, for the README's arithmetic and plans.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed(x) => x,
            Dist::Uniform { uniform: [a, b] } => (a + b) / 2.0,
            Dist::Normal {
                normal: [m, _],
                min,
            } => m.max(min),
            Dist::Exponential { exponential: m } => m,
        }
    }
}

/// Per-service timing overrides.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTiming {
    /// Time until the service manager reports running.
    pub start_s: Option<Dist>,
    /// Further time until the service can serve (it may claim "running" earlier).
    pub ready_s: Option<Dist>,
    /// Time to stop.
    pub stop_s: Option<Dist>,
    /// Probability that the first start attempt after boot fails (the guide:
    /// the Information Store "may not start on the first attempt").
    #[serde(default)]
    pub first_start_failure_probability: f64,
}

/// `[timing]` with every default from the lab's calibration.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    /// Service start, until "running".
    pub service_start_s: Dist,
    /// Service readiness after "running".
    pub service_ready_s: Dist,
    /// Service stop.
    pub service_stop_s: Dist,
    /// Per-service overrides, keyed by service name.
    pub services: BTreeMap<String, ServiceTiming>,
    /// Store mount.
    pub store_mount_s: Dist,
    /// Store dismount.
    pub store_dismount_s: Dist,
    /// Setting the overwrite-on-restore flag (exchfailover -setup).
    pub overwrite_flag_s: Dist,
    /// Soft recovery (log replay).
    pub soft_recovery_s: Dist,
    /// Hard recovery (repair).
    pub hard_recovery_s: Dist,
    /// Host reboot, until it answers again.
    pub host_boot_s: Dist,
    /// Rename of a computer (before reboot).
    pub rename_s: Dist,
    /// Domain join.
    pub domain_join_s: Dist,
    /// Domain leave.
    pub domain_leave_s: Dist,
    /// IP and name takeover by the target.
    pub identity_takeover_s: Dist,
    /// One directory write (computer account, attribute).
    pub directory_write_s: Dist,
    /// Moving one mailbox's home attributes (exchfailover per user).
    pub mailbox_move_s: Dist,
    /// Forced directory replication.
    pub force_replication_s: Dist,
    /// One DNS update on a server.
    pub dns_update_s: Dist,
    /// Server-side processing of one workload write.
    pub server_write_s: Dist,
    /// Client connect/response timeout for writes and probes.
    pub client_timeout_s: f64,
    /// Rate at which the target applies replicated data to disk.
    pub target_apply_mbps: f64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            service_start_s: Dist::Uniform {
                uniform: [2.0, 6.0],
            },
            service_ready_s: Dist::Uniform {
                uniform: [3.0, 12.0],
            },
            service_stop_s: Dist::Uniform {
                uniform: [1.0, 4.0],
            },
            services: BTreeMap::new(),
            store_mount_s: Dist::Uniform {
                uniform: [4.0, 12.0],
            },
            store_dismount_s: Dist::Uniform {
                uniform: [2.0, 5.0],
            },
            overwrite_flag_s: Dist::Fixed(2.0),
            soft_recovery_s: Dist::Uniform {
                uniform: [60.0, 180.0],
            },
            hard_recovery_s: Dist::Uniform {
                uniform: [600.0, 1800.0],
            },
            host_boot_s: Dist::Uniform {
                uniform: [90.0, 180.0],
            },
            rename_s: Dist::Fixed(3.0),
            domain_join_s: Dist::Uniform {
                uniform: [10.0, 30.0],
            },
            domain_leave_s: Dist::Uniform {
                uniform: [5.0, 15.0],
            },
            identity_takeover_s: Dist::Uniform {
                uniform: [2.0, 5.0],
            },
            directory_write_s: Dist::Fixed(0.2),
            mailbox_move_s: Dist::Fixed(0.5),
            force_replication_s: Dist::Uniform {
                uniform: [5.0, 20.0],
            },
            dns_update_s: Dist::Fixed(0.5),
            server_write_s: Dist::Uniform {
                uniform: [0.002, 0.010],
            },
            client_timeout_s: 5.0,
            target_apply_mbps: 400.0,
        }
    }
}

impl ServiceTiming {
    /// The durations this service sets, by key (what validation checks and
    /// `drlab explore` jitters).
    pub fn durations(&self) -> impl Iterator<Item = (&'static str, Dist)> {
        [
            ("start_s", self.start_s),
            ("ready_s", self.ready_s),
            ("stop_s", self.stop_s),
        ]
        .into_iter()
        .filter_map(|(k, d)| Some((k, d?)))
    }
}

impl Timing {
    /// Every top-level duration distribution, by its key: the one list
    /// validation checks and `drlab explore` jitters. `services` (each
    /// service's own), `client_timeout_s` (a limit) and `target_apply_mbps`
    /// (a rate) are not durations drawn from a distribution.
    pub fn durations(&self) -> [(&'static str, Dist); 18] {
        [
            ("service_start_s", self.service_start_s),
            ("service_ready_s", self.service_ready_s),
            ("service_stop_s", self.service_stop_s),
            ("store_mount_s", self.store_mount_s),
            ("store_dismount_s", self.store_dismount_s),
            ("overwrite_flag_s", self.overwrite_flag_s),
            ("soft_recovery_s", self.soft_recovery_s),
            ("hard_recovery_s", self.hard_recovery_s),
            ("host_boot_s", self.host_boot_s),
            ("rename_s", self.rename_s),
            ("domain_join_s", self.domain_join_s),
            ("domain_leave_s", self.domain_leave_s),
            ("identity_takeover_s", self.identity_takeover_s),
            ("directory_write_s", self.directory_write_s),
            ("mailbox_move_s", self.mailbox_move_s),
            ("force_replication_s", self.force_replication_s),
            ("dns_update_s", self.dns_update_s),
            ("server_write_s", self.server_write_s),
        ]
    }
}
