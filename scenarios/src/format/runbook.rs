//! `[runbook]`: which runbook to use and its parameters.

use schemars::JsonSchema;
use serde::Deserialize;

/// The runbook of a scenario, chosen by `name`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RunbookDef {
    /// Storage Mirroring LAN failover of an Exchange 2000/2003 member server.
    LanFailover(LanFailoverParams),
    /// Storage Mirroring WAN failover: server name only, then DNS updates.
    WanFailover(super::WanFailoverParams),
    /// LAN failover, then recovery to the original source (failback, restore).
    Failback(super::FailbackParams),
    /// The patent's two-site DR system: agents, process 300, switch-back, Auto Pilot.
    TwoSiteDr(super::TwoSiteParams),
    /// The patent's AutoSync (process 500).
    Autosync(super::AutoSyncParams),
    /// The patent's archive operation (process 600) over days.
    Archive(super::ArchiveParams),
    /// The patent's restore operation (process 700) with archives alongside.
    RestoreFromArchive(super::RestoreParams),
    /// Exchange 2010 DAG member re-provisioned by Dell AIM.
    DagAim(super::DagAimParams),
    /// Exchange 2010 DAG member re-provisioned by hand.
    DagManual(super::DagManualParams),
    /// Exchange 2007 CCR activated by hand at the DR site.
    CcrActivation(super::CcrParams),
    /// everRun lockstep fault tolerance.
    EverrunLockstep(super::LockstepParams),
}

impl RunbookDef {
    /// The runbook's name as written in the file.
    pub fn name(&self) -> &'static str {
        match self {
            RunbookDef::LanFailover(_) => "lan-failover",
            RunbookDef::WanFailover(_) => "wan-failover",
            RunbookDef::Failback(_) => "failback",
            RunbookDef::TwoSiteDr(_) => "two-site-dr",
            RunbookDef::Autosync(_) => "autosync",
            RunbookDef::Archive(_) => "archive",
            RunbookDef::RestoreFromArchive(_) => "restore-from-archive",
            RunbookDef::DagAim(_) => "dag-aim",
            RunbookDef::DagManual(_) => "dag-manual",
            RunbookDef::CcrActivation(_) => "ccr-activation",
            RunbookDef::EverrunLockstep(_) => "everrun-lockstep",
        }
    }
}

/// Which public folders move with the users (`-nopublicfolders`, `-onlypublicfolders`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PublicFolders {
    /// Mailbox and public folder stores.
    #[default]
    Include,
    /// Only public folder stores.
    Only,
    /// No public folder stores.
    Exclude,
}

/// Parameters of the LAN failover runbook (Storage Mirroring guide,
/// "Configuring failure monitoring", postover.bat).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LanFailoverParams {
    /// The protected (source) server.
    pub source: String,
    /// The standby (target) server, which also runs the monitor.
    pub target: String,
    /// Fail over the source's IP addresses (LAN: yes).
    #[serde(default = "yes")]
    pub fail_over_ip_addresses: bool,
    /// Fail over the source's server name.
    #[serde(default = "yes")]
    pub fail_over_server_name: bool,
    /// `dtcl waitontarget`: idle time of the target queue before going on.
    #[serde(default = "default_idle_s")]
    pub wait_on_target_idle_s: f64,
    /// Upper bound on the whole drain wait.
    #[serde(default = "default_drain_limit_s")]
    pub wait_on_target_limit_s: f64,
    /// `dtcl wait 20000` between the first services.
    #[serde(default = "default_service_wait_s")]
    pub service_wait_s: f64,
    /// Service start order (default: the guide's postover.bat order).
    #[serde(default = "default_start_order")]
    pub start_order: Vec<String>,
    /// Services followed by a `service_wait_s` wait (default SA, IS, MTA).
    #[serde(default = "default_waits_after")]
    pub wait_after: Vec<String>,
    /// The service that may fail its first start and is retried.
    #[serde(default = "default_retried")]
    pub retried_service: String,
    /// Start attempts of the retried service before giving up.
    #[serde(default = "default_attempts")]
    pub start_attempts_max: u32,
    /// Store pairing rules `group[,store]:group[,store]` (Appendix C `-r`).
    #[serde(default)]
    pub pairing_rules: Vec<String>,
    /// Public folder handling of the user move.
    #[serde(default)]
    pub public_folders: PublicFolders,
    /// The DC the runbook talks to (default: the target's DC).
    pub dc: Option<String>,
}

impl LanFailoverParams {
    /// The guide's postover.bat from `source` to `target`, every other
    /// parameter at its default (runbooks that run a failover first).
    pub fn new(source: &str, target: &str) -> LanFailoverParams {
        LanFailoverParams {
            source: source.to_string(),
            target: target.to_string(),
            fail_over_ip_addresses: true,
            fail_over_server_name: true,
            wait_on_target_idle_s: default_idle_s(),
            wait_on_target_limit_s: default_drain_limit_s(),
            service_wait_s: default_service_wait_s(),
            start_order: default_start_order(),
            wait_after: default_waits_after(),
            retried_service: default_retried(),
            start_attempts_max: default_attempts(),
            pairing_rules: Vec::new(),
            public_folders: PublicFolders::Include,
            dc: None,
        }
    }
}

fn yes() -> bool {
    true
}
pub(crate) fn default_idle_s() -> f64 {
    10.0
}
pub(crate) fn default_drain_limit_s() -> f64 {
    900.0
}
fn default_service_wait_s() -> f64 {
    20.0
}
fn default_start_order() -> Vec<String> {
    [
        "MSExchangeSA",
        "MSExchangeIS",
        "MSExchangeMTA",
        "POP3Svc",
        "IMAP4Svc",
        "MSExchangeMGMT",
        "RESvc",
        "MSExchangeES",
        "W3SVC",
        "SMTPSVC",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}
fn default_waits_after() -> Vec<String> {
    ["MSExchangeSA", "MSExchangeIS", "MSExchangeMTA"]
        .into_iter()
        .map(String::from)
        .collect()
}
fn default_retried() -> String {
    "MSExchangeIS".into()
}
fn default_attempts() -> u32 {
    3
}
