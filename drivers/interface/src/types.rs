//! Shared value types of the capability traits.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The state of a service as its service manager reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// Not running.
    Stopped,
    /// Start requested, not yet running (Windows `START_PENDING`).
    StartPending,
    /// Running. A service may report running before it is ready to serve
    /// (the guide's reason for its 20 s waits); readiness shows in probes.
    Running,
    /// Stop requested, not yet stopped.
    StopPending,
}

/// How a service starts at boot (Windows startup type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartupType {
    /// Started at boot.
    Automatic,
    /// Started only on request (the guide's setting for target Exchange services).
    Manual,
    /// Never started.
    Disabled,
}

/// A mail store (Exchange database) inside a storage group.
// Equality is content equality with a pointer fast path, so the derived
// Hash and Ord (content-based) agree with it.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Debug, Eq, PartialOrd, Ord, Hash, Serialize)]

pub struct StoreRef {
    /// Storage group name, e.g. `First Storage Group`.
    pub group: Arc<str>,
    /// Store name, e.g. `Mailbox Store`.
    pub store: Arc<str>,
}

impl PartialEq for StoreRef {
    fn eq(&self, other: &StoreRef) -> bool {
        // Backends share the Arcs of one store's reference; equal pointers
        // skip the string comparison (the hot path of every user operation).
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
        same(&self.group, &other.group) && same(&self.store, &other.store)
    }
}

impl StoreRef {
    /// A store reference from its group and name.
    pub fn new(group: impl Into<Arc<str>>, store: impl Into<Arc<str>>) -> StoreRef {
        StoreRef {
            group: group.into(),
            store: store.into(),
        }
    }
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.store)
    }
}

/// What a host knows about one of its stores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreInfo {
    /// Which store.
    pub id: StoreRef,
    /// Database file name without path, e.g. `priv1.edb` (the pairing key).
    pub file: Arc<str>,
    /// Log file prefix of its storage group, e.g. `E00`.
    pub log_prefix: Arc<str>,
    /// Whether this is a public folder store.
    pub public: bool,
    /// Whether the store is mounted.
    pub mounted: bool,
    /// The "this database can be overwritten by a restore" flag.
    pub overwrite_on_restore: bool,
}

/// A mailbox as the directory records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailboxInfo {
    /// Mailbox (user) name.
    pub name: Arc<str>,
    /// Home server (Exchange server name).
    pub server: Arc<str>,
    /// Home store on that server.
    pub store: StoreRef,
}

/// DNS record types drlab manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecordType {
    /// IPv4 address (RFC 1035).
    A,
    /// Reverse pointer (RFC 1035).
    PTR,
    /// Mail exchanger (RFC 1035).
    MX,
    /// Alias (RFC 1035).
    CNAME,
}

impl RecordType {
    /// The mnemonic, e.g. `A`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::PTR => "PTR",
            RecordType::MX => "MX",
            RecordType::CNAME => "CNAME",
        }
    }
}

/// One DNS resource record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DnsRecord {
    /// Owner name, fully qualified, lower case, no trailing dot.
    pub name: Arc<str>,
    /// Type.
    pub rtype: RecordType,
    /// Data: an address for A, a name for PTR/CNAME, `pref host` for MX.
    pub data: Arc<str>,
    /// Time to live in seconds.
    pub ttl_s: u32,
}

/// Whether `name` lies in `zone`: it is the zone's apex or ends with `.` and
/// the zone's name (RFC 1034 §4.2: a zone is a subtree of the name space).
/// Case-insensitive (RFC 4343), trailing dots ignored. The one suffix rule
/// of the scenarios, the simulator and the lab backend.
pub fn name_in_zone(name: &str, zone: &str) -> bool {
    let n = name.trim_end_matches('.').as_bytes();
    let z = zone.trim_end_matches('.').as_bytes();
    if n.len() == z.len() {
        return n.eq_ignore_ascii_case(z);
    }
    n.len() > z.len() && {
        let (head, tail) = n.split_at(n.len() - z.len());
        head.ends_with(b".") && tail.eq_ignore_ascii_case(z)
    }
}

/// The zone of `zones` that holds `name`: the deepest one whose subtree it
/// is in ([`name_in_zone`]), as a server answers for it; `zone_name` reads
/// an item's zone name. The one rule of the scenarios, the simulator and
/// the lab backend, over whatever they keep their zones in.
pub fn deepest_zone<T>(
    zones: impl IntoIterator<Item = T>,
    name: &str,
    zone_name: impl Fn(&T) -> &str,
) -> Option<T> {
    zones
        .into_iter()
        .filter(|z| name_in_zone(name, zone_name(z)))
        .max_by_key(|z| zone_name(z).trim_end_matches('.').len())
}

/// Which identity items move to the standby on failover (Double-Take's
/// "Items to Failover"): LAN = addresses and name, WAN = name only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IdentityItems {
    /// The source's IP addresses are brought up on the target.
    pub ip_addresses: bool,
    /// The target answers to the source's server name.
    pub server_name: bool,
}

/// How a replication connection brings the target up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MirrorMode {
    /// Copy every byte of the replication set.
    Full,
    /// Compare block checksums and copy only differing blocks.
    Difference,
    /// No mirror: replicate changes from now on (the sets are known equal).
    None,
}

/// The state of a replication connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationState {
    /// No connection between the pair.
    Disconnected,
    /// Mirroring (initial or difference) is in progress.
    Mirroring,
    /// Replicating changes as they happen.
    Replicating,
    /// Transmission paused: changes queue on the source.
    Paused,
}

/// A replication connection's queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    /// Connection state.
    pub state: ReplicationState,
    /// Bytes queued on the source, not yet sent.
    pub source_queued_bytes: u64,
    /// Writes queued on the source, not yet sent.
    pub source_queued_items: u64,
    /// Bytes sent but not yet applied on the target.
    pub target_queued_bytes: u64,
}

impl QueueStatus {
    /// True when nothing is waiting anywhere.
    pub fn is_drained(&self) -> bool {
        self.source_queued_bytes == 0 && self.target_queued_bytes == 0
    }
}

/// Options of a restoration from a replica back to its origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RestoreOptions {
    /// "Only if backup copy is more recent": skip files whose destination
    /// copy has a newer timestamp. The guide says to disable it for failback;
    /// leaving it on silently skips data.
    pub only_if_backup_newer: bool,
}

/// An archive (point-in-time image of a host's stores).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArchiveInfo {
    /// Identifier, unique per backend run.
    pub id: Arc<str>,
    /// Archive level in hours (24, 48, 72 in the patent).
    pub level_h: u32,
    /// When the image was taken (drill time, microseconds).
    pub taken_at_us: u64,
    /// Size of the image.
    pub bytes: u64,
}

/// A fault the drill injects.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// The host stops at once: services die, unsent replication is lost.
    CrashHost {
        /// Which host.
        host: Arc<str>,
    },
    /// Power is cut (same effect as a crash; kept apart for reports).
    PowerOff {
        /// Which host.
        host: Arc<str>,
    },
    /// A powered-off or crashed host boots again.
    PowerOn {
        /// Which host.
        host: Arc<str>,
    },
    /// One service process dies.
    KillService {
        /// Which host.
        host: Arc<str>,
        /// Which service.
        service: Arc<str>,
    },
    /// A store becomes corrupt: mounted data is unusable until recovered or restored.
    CorruptStore {
        /// Which host.
        host: Arc<str>,
        /// Which store.
        store: StoreRef,
    },
    /// The network between two sites (or a site and a host) is cut.
    Partition {
        /// One side: a site or host name.
        a: Arc<str>,
        /// Other side.
        b: Arc<str>,
    },
    /// A partition ends.
    Heal {
        /// One side.
        a: Arc<str>,
        /// Other side.
        b: Arc<str>,
    },
    /// The link between two sites gets worse (or better).
    DegradeLink {
        /// One side.
        a: Arc<str>,
        /// Other side.
        b: Arc<str>,
        /// New one-way latency, if changed.
        latency_ms: Option<f64>,
        /// New bandwidth, if changed.
        bandwidth_mbps: Option<f64>,
        /// New loss probability in [0, 1], if changed.
        loss: Option<f64>,
    },
    /// A physical server's hardware fails (AIM server pools, lockstep
    /// pairs): a host running on it alone stops; a lockstep partner carries on.
    FailServer {
        /// Which physical server.
        server: Arc<str>,
    },
    /// A service hangs: its service manager still reports it running, but it
    /// serves nobody until restarted (what everRun does not monitor).
    HangService {
        /// Which host.
        host: Arc<str>,
        /// Which service.
        service: Arc<str>,
    },
    /// The service manager restarts a service (Windows service recovery's
    /// "Restart the Service"): it stops, ending a dead or hung process,
    /// and starts again; the repair of a kill or a hang. The store
    /// service mounts its host's stores as it does at boot.
    RestartService {
        /// Which host.
        host: Arc<str>,
        /// Which service.
        service: Arc<str>,
    },
}

/// The fault kinds that repair an earlier fault rather than break
/// something (they open no outage), as scenario files spell them.
pub const REPAIR_KINDS: [&str; 3] = ["power-on", "heal", "restart-service"];

impl Fault {
    /// Short kind name as scenario files spell it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Fault::CrashHost { .. } => "crash-host",
            Fault::PowerOff { .. } => "power-off",
            Fault::PowerOn { .. } => "power-on",
            Fault::KillService { .. } => "kill-service",
            Fault::CorruptStore { .. } => "corrupt-store",
            Fault::Partition { .. } => "partition",
            Fault::Heal { .. } => "heal",
            Fault::DegradeLink { .. } => "degrade-link",
            Fault::FailServer { .. } => "fail-server",
            Fault::HangService { .. } => "hang-service",
            Fault::RestartService { .. } => "restart-service",
        }
    }

    /// The thing the fault acts on, for reports.
    pub fn target(&self) -> String {
        match self {
            Fault::CrashHost { host } | Fault::PowerOff { host } | Fault::PowerOn { host } => {
                host.to_string()
            }
            Fault::KillService { host, service }
            | Fault::HangService { host, service }
            | Fault::RestartService { host, service } => format!("{host}:{service}"),
            Fault::FailServer { server } => server.to_string(),
            Fault::CorruptStore { host, store } => format!("{host}:{store}"),
            Fault::Partition { a, b } | Fault::Heal { a, b } | Fault::DegradeLink { a, b, .. } => {
                format!("{a}<->{b}")
            }
        }
    }

    /// Whether the fault repairs rather than breaks (it does not start an incident).
    pub fn is_repair(&self) -> bool {
        REPAIR_KINDS.contains(&self.kind_name())
    }
}

/// The iSCSI initiator name a host logs in with when no persona gives it
/// one: the Microsoft iSCSI Initiator's default form,
/// `iqn.1991-05.com.microsoft:` and the computer name in lower case. Both
/// backends use it, so a host logs in under the same name on either.
pub fn default_initiator(host: &str) -> String {
    format!("iqn.1991-05.com.microsoft:{}", host.to_ascii_lowercase())
}

/// What a replication target's store held when the target took it over:
/// the workload records (sequence numbers) applied to it by the moment it
/// was mounted while it was the target of a replication connection. The
/// drill records each as a `replica-held` event; the invariant
/// `replicated-never-lost` reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaHeld {
    /// The target host (scenario name) that took the store over.
    pub host: Arc<str>,
    /// The store, as `group/store`.
    pub store: Arc<str>,
    /// When the store was mounted on the target (drill time).
    pub at: crate::time::Timestamp,
    /// The records it held then.
    pub held: crate::seqset::SeqSet,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_in_a_zone_at_its_apex_or_below_a_dot() {
        assert!(name_in_zone("corp.example.com", "corp.example.com"));
        assert!(name_in_zone("EXCH1.Corp.Example.com.", "corp.example.com"));
        assert!(name_in_zone(
            "11.0.0.10.in-addr.arpa",
            "0.0.10.in-addr.arpa"
        ));
        assert!(!name_in_zone("xcorp.example.com", "corp.example.com"));
        assert!(!name_in_zone("example.com", "corp.example.com"));
        assert!(!name_in_zone("a.example.org", "corp.example.com"));
        // bytes, not characters: no panic on a cut inside a UTF-8 sequence
        assert!(!name_in_zone("é.x", "x.x"));
    }
}
