//! The scenario file format (TOML): one estate, a timing profile, a workload,
//! a fault schedule, a policy, objectives and the runbook to use.
//! `docs/scenario-format.md` documents every field; `drlab validate` checks one.

mod estate;
mod fabric;
mod runbook;
mod runbook_dr;
mod runbook_recovery;
pub mod schema;
mod timing;
mod workload;

use schemars::JsonSchema;
use serde::Deserialize;

pub use estate::{
    ClientDef, ClientProfile, DnsDef, DomainDef, ExchangeDef, ExchangeHostDef, ExchangeRole,
    GroupDef, HostDef, LinkDef, LinkSpec, MailboxDef, RecordDef, ReplicationDef, ResolverPolicy,
    Role, ServiceDef, SiteDef, StoreDef, ZONE_NEGATIVE_TTL_S_DEFAULT, ZoneDef,
};
pub use fabric::{
    ArchiveDiskDef, CopyDef, DagDatabaseDef, DagDef, LockstepDef, NetworkDef, PersonaDef,
    ServerDef, VolumeDef,
};
pub use runbook::{LanFailoverParams, PublicFolders, RunbookDef};
pub use runbook_dr::{
    AutoSyncChange, AutoSyncParams, Confirmation, FailbackParams, StopSource, TwoSiteParams,
    WanFailoverParams,
};
pub use runbook_recovery::{
    ArchiveParams, ArchiveSchedule, CcrParams, DagAimParams, DagManualParams, LockstepParams,
    RestoreParams,
};
pub use timing::{Dist, ServiceTiming, Timing};
pub use workload::{
    ArrivalKind, Arrivals, FaultDef, FaultSpec, FaultWhat, WeightedFault, WorkloadDef,
};

/// A whole scenario, as written in the file (validated by [`crate::load`]).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name, description, seed, horizon.
    pub scenario: Meta,
    /// Recovery objectives.
    pub objectives: Objectives,
    /// Monitoring and decision policy.
    pub policy: Policy,
    /// Sites (failure domains) and their LANs.
    pub sites: Vec<SiteDef>,
    /// WAN links between sites.
    #[serde(default)]
    pub links: Vec<LinkDef>,
    /// The Active Directory domain.
    pub domain: Option<DomainDef>,
    /// Servers.
    pub hosts: Vec<HostDef>,
    /// End-user populations with their resolvers.
    #[serde(default)]
    pub clients: Vec<ClientDef>,
    /// DNS zones and records.
    #[serde(default)]
    pub dns: DnsDef,
    /// The Exchange organisation's service set and storage layout.
    pub exchange: Option<ExchangeDef>,
    /// Mailboxes and where they live.
    #[serde(default)]
    pub mailboxes: Vec<MailboxDef>,
    /// Replication connections.
    #[serde(default)]
    pub replication: Vec<ReplicationDef>,
    /// Physical servers (AIM server pool, lockstep hardware).
    #[serde(default)]
    pub servers: Vec<ServerDef>,
    /// VLAN-backed logical networks.
    #[serde(default)]
    pub networks: Vec<NetworkDef>,
    /// SAN volumes with initiator-name ACLs.
    #[serde(default)]
    pub volumes: Vec<VolumeDef>,
    /// AIM personas (hosts booted from SAN images).
    #[serde(default)]
    pub personas: Vec<PersonaDef>,
    /// An Exchange 2010 database availability group.
    pub dag: Option<DagDef>,
    /// Hosts running in lockstep on two servers.
    #[serde(default)]
    pub lockstep: Vec<LockstepDef>,
    /// Archive disks, one image per level.
    #[serde(default)]
    pub archive_disks: Vec<ArchiveDiskDef>,
    /// How long operations take.
    #[serde(default)]
    pub timing: Timing,
    /// The user workload and probes.
    pub workload: WorkloadDef,
    /// The fault schedule.
    #[serde(default)]
    pub faults: Vec<FaultDef>,
    /// The runbook and its parameters.
    pub runbook: RunbookDef,
    /// The real lab this scenario also runs on (the lab battery runs it on
    /// both backends and compares).
    pub lab: Option<LabDef>,
}

/// `[lab]`: which shape of the CI lab hosts the scenario, and whether its
/// lab arm is expected to differ from the simulator's.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabDef {
    /// The lab that hosts it (`drlab lab up --for` starts that one).
    pub shape: LabShape,
    /// Why the lab arm's verdict may differ from the simulator's, when it
    /// may (the battery then excuses the simulator failing a step the lab
    /// passes, and what follows it; before it the arms must agree).
    #[serde(default)]
    pub differs: Option<String>,
}

/// The shapes of CI lab drlab can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum LabShape {
    /// One service network: a Samba AD domain controller with its DNS
    /// (`DC1`), two mail hosts replicating with lsyncd (`EXCH1` active,
    /// `EXCH2` standby), a client host (`CLIENT1`), and drlab's management
    /// network beside it.
    Lan,
    /// Two sites, each its own service network, joined by a router
    /// container that shapes the WAN link with `tc`: `hq` holds `DC1`,
    /// `EXCH1` and `CLIENT1`, `dr` a second domain controller of the
    /// domain (`DC2`, replicating the directory and its DNS zones with
    /// `DC1`) and `EXCH2`.
    Wan,
}

impl LabShape {
    /// Every shape, for whatever must cover them all.
    pub const ALL: [LabShape; 2] = [LabShape::Lan, LabShape::Wan];

    /// The scenario hosts the shape provides (the lab kit starts its own
    /// list; a test of `drlab lab` checks that the two agree).
    pub fn hosts(self) -> &'static [&'static str] {
        match self {
            LabShape::Lan => &["DC1", "EXCH1", "EXCH2", "CLIENT1"],
            LabShape::Wan => &["DC1", "EXCH1", "EXCH2", "CLIENT1", "DC2"],
        }
    }

    /// Its name as the format spells it.
    pub fn name(self) -> &'static str {
        match self {
            LabShape::Lan => "lan",
            LabShape::Wan => "wan",
        }
    }
}

/// `[scenario]`: identity and run limits.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Short name, e.g. `lan-failover`.
    pub name: String,
    /// What the scenario proves, one paragraph.
    #[serde(default)]
    pub description: String,
    /// Default seed when the command line gives none.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The drill stops at this drill time whatever happens.
    #[serde(default = "default_horizon_s")]
    pub horizon_s: f64,
    /// After restoration, keep the workload running this long before reading back.
    #[serde(default = "default_settle_s")]
    pub settle_s: f64,
    /// The most events a run may record (its memory bound); a run that
    /// would record more stops with an error. See [`crate::bounds`].
    #[serde(default = "default_events_max")]
    pub events_max: u64,
    /// The verdict this scenario must produce: `pass`, or `fail` for scenarios
    /// that demonstrate a pitfall a drill has to catch.
    #[serde(default)]
    pub expect: Expect,
}

/// The verdict a scenario is expected to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Objectives met.
    #[default]
    Pass,
    /// A drill must fail (it demonstrates a broken runbook or pitfall).
    Fail,
}

fn default_seed() -> u64 {
    1
}
fn default_horizon_s() -> f64 {
    3600.0
}
fn default_events_max() -> u64 {
    crate::bounds::EVENTS_MAX_DEFAULT
}

fn default_settle_s() -> f64 {
    30.0
}

/// `[objectives]`: what the drill must achieve.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    /// Recovery time objective.
    pub rto_s: f64,
    /// Recovery point objective.
    pub rpo_s: f64,
    /// Objective for the failover itself: Engaging Secondary (210) to
    /// Secondary Engaged (214) of the two-site state machine.
    #[serde(default)]
    pub failover_s: Option<f64>,
    /// Objective for the time a redundant system runs degraded (a DAG with
    /// a failed member), from the runbook's degraded events.
    #[serde(default)]
    pub degraded_s: Option<f64>,
}

/// `[policy]`: monitoring and how failover is engaged.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Heartbeat interval (Double-Take default 5 s).
    #[serde(default = "default_heartbeat_s")]
    pub heartbeat_interval_s: f64,
    /// Missed heartbeats before failure is declared (Double-Take default 5).
    #[serde(default = "default_missed")]
    pub missed_heartbeats: u32,
    /// `manual` (an operator acknowledges the prompt) or `autopilot`.
    pub decision: DecisionPolicy,
    /// Manual: time the operator takes to acknowledge the prompt.
    #[serde(default)]
    pub operator_response_s: f64,
    /// Autopilot: wait between detection and engaging.
    #[serde(default)]
    pub autopilot_wait_s: f64,
}

fn default_heartbeat_s() -> f64 {
    5.0
}
fn default_missed() -> u32 {
    5
}

/// How failover is engaged after detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionPolicy {
    /// A manual-intervention prompt an operator acknowledges.
    Manual,
    /// Automatic failover.
    Autopilot,
}

#[cfg(test)]
mod tests {
    use super::LabShape;

    /// `LabShape::ALL` lists every variant: the format's own list of
    /// expected names (serde's, in its error for an unknown shape) is the
    /// names of `ALL`.
    #[test]
    fn every_lab_shape_is_in_all() {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            #[allow(dead_code)]
            shape: LabShape,
        }
        let e = toml::from_str::<T>("shape = \"no-such-shape\"").unwrap_err();
        let names: Vec<String> = LabShape::ALL
            .iter()
            .map(|s| format!("`{}`", s.name()))
            .collect();
        let message = e.to_string();
        let expected = message.split("expected ").nth(1).unwrap_or_default().trim();
        let listed: Vec<&str> = expected
            .split([',', ' '])
            .filter(|w| w.starts_with('`'))
            .collect();
        assert_eq!(listed, names, "{message}");
    }
}
