//! Estate elements below and beside the hosts: physical servers and their
//! switch ports, VLAN networks, SAN volumes with initiator-name ACLs, AIM
//! personas (Dell AIM paper), an Exchange 2010 DAG (same paper), lockstep
//! pairs (Marathon everRun blog) and the patent's archive disks.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Dist;

/// `[[servers]]`: a physical server (an AIM server pool member, or one half
/// of a lockstep pair). Hosts are the operating systems; a host listed in
/// `runs` runs on this server at the start.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerDef {
    /// Server name, e.g. `R720-A`.
    pub name: String,
    /// The site it stands in.
    pub site: String,
    /// The host running on it at the start (absent: a standby server).
    pub runs: Option<String>,
    /// VLANs its switch port carries at the start.
    #[serde(default)]
    pub vlans: Vec<u16>,
    /// Time from a boot on this server until the host answers (AIM: until
    /// the persona's agent services respond). Default: `timing.host_boot_s`.
    pub boot_s: Option<Dist>,
}

/// `[[networks]]`: a logical network carried by a VLAN (AIM networks: the
/// Exchange MAPI and DAG replication networks).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkDef {
    /// Network name, e.g. `MAPI`.
    pub name: String,
    /// Its VLAN id (1-4094).
    pub vlan: u16,
    /// Hosts connected to it: a host that runs on a `[[servers]]` entry is
    /// reachable only while that server's port carries every VLAN of its networks.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `[[volumes]]`: an iSCSI SAN volume; only the listed initiator names may
/// log in to it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {
    /// Volume name, e.g. `Database-1Active`.
    pub name: String,
    /// Initiator names allowed to log in (the ACL).
    pub initiators: Vec<String>,
    /// The host whose store lives on this volume (with `group` and `store`):
    /// mounting that store needs the volume logged in by the host.
    pub host: Option<String>,
    /// Storage group of that store.
    pub group: Option<String>,
    /// The store.
    pub store: Option<String>,
}

/// `[[personas]]`: a host whose operating system and applications live on
/// a SAN boot volume (an AIM persona), so AIM can boot it on any server of
/// its pool.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaDef {
    /// The host.
    pub host: String,
    /// The iSCSI initiator name that goes with the persona wherever it boots
    /// (the paper's `Exchange1`).
    pub initiator: String,
    /// The `[[volumes]]` entry holding its boot image.
    pub image_volume: String,
}

/// One copy of a DAG database.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyDef {
    /// The DAG member holding the copy.
    pub server: String,
    /// Its activation preference (1 = preferred active copy).
    pub preference: u32,
}

/// `[[dag.databases]]`: a mailbox database and its copies.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DagDatabaseDef {
    /// The storage group of the members' `[exchange]` layout that holds the
    /// database (one store: an Exchange 2010 database is its own log stream).
    pub name: String,
    /// Its copies; the copy with preference 1 is mounted at the start.
    pub copies: Vec<CopyDef>,
}

/// `[dag]`: an Exchange 2010 database availability group. Its members
/// replicate every database continuously to each other and proxy user
/// requests (multi-role Client Access) to the member where a database is mounted.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DagDef {
    /// DAG name.
    pub name: String,
    /// Members (2 to 16 Exchange hosts sharing the `[exchange]` layout).
    pub members: Vec<String>,
    /// Databases with their copies.
    pub databases: Vec<DagDatabaseDef>,
    /// Active Manager's (cluster) heartbeat interval.
    #[serde(default = "default_cluster_interval_s")]
    pub heartbeat_interval_s: f64,
    /// Missed cluster heartbeats before a member counts as failed.
    #[serde(default = "default_cluster_missed")]
    pub missed_heartbeats: u32,
}

fn default_cluster_interval_s() -> f64 {
    1.0
}
fn default_cluster_missed() -> u32 {
    5
}

/// `[[lockstep]]`: a host running in lockstep on two physical servers
/// (everRun): both execute the same instruction stream, so a hardware
/// fault of one costs nothing, and a software fault happens on both.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockstepDef {
    /// The protected host.
    pub host: String,
    /// Its two `[[servers]]`.
    pub servers: [String; 2],
    /// Largest one-way latency between the two servers that lockstep
    /// tolerates: light in fibre covers about 100 miles (the blog's SplitSite
    /// limit) in 0.8 ms.
    #[serde(default = "default_lockstep_latency_ms")]
    pub max_link_latency_ms: f64,
}

fn default_lockstep_latency_ms() -> f64 {
    0.8
}

/// `[[archive_disks]]`: near-line archive disks holding one image per level
/// (the patent's archives 124a-n).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveDiskDef {
    /// Disk name.
    pub name: String,
    /// The archive levels (hours) placed on it.
    pub levels_h: Vec<u32>,
    /// Its capacity: an image that does not fit is refused (disk full).
    pub capacity_mb: f64,
}
