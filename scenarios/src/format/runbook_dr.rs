//! Parameters of the catalogue's DR runbooks: WAN failover with DNS and
//! failback (the Storage Mirroring guide), the two-site DR system with Auto
//! Pilot, and AutoSync (the patent). Each field has a documented default;
//! `docs/scenario-format.md` describes them for scenario authors.

use drlab_drivers::types::MirrorMode;
use schemars::JsonSchema;
use serde::Deserialize;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_string()).collect()
}

/// Parameters of the WAN failover runbook (guide, Appendix A): the LAN
/// postover.bat with only the server name failing over, followed by the
/// DNSCMD updates of the forward and reverse zones.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WanFailoverParams {
    /// The protected (source) server.
    pub source: String,
    /// The standby (target) server on another site, which monitors the source.
    pub target: String,
    /// The source's DNS name (default `<source>.<domain>`, lower case).
    pub source_name: Option<String>,
    /// DNS servers the failover script updates (default: every server of
    /// the zone holding the source name). The guide: "changes must be made
    /// on all DNS servers used by relevant clients".
    #[serde(default)]
    pub dns_servers: Vec<String>,
    /// TTL of the records the script adds (default: the deleted A record's).
    pub record_ttl_s: Option<u32>,
    /// Client populations whose resolvers are watched after the DNS change
    /// (default: every `[[clients]]` entry).
    pub watch_clients: Option<Vec<String>>,
    /// How long they are watched after the DNS change.
    #[serde(default = "default_watch_limit_s")]
    pub watch_limit_s: f64,
    /// Populations whose users flush their cache (`ipconfig /flushdns`).
    #[serde(default)]
    pub flush_clients: Vec<String>,
    /// When they do, after the DNS change.
    #[serde(default = "default_flush_after_s")]
    pub flush_after_s: f64,
    /// The DC the user move writes to (default: the target's DC).
    pub dc: Option<String>,
    /// postover.bat's `dtcl wait 20000`, as for `lan-failover`.
    #[serde(default = "default_service_wait_s")]
    pub service_wait_s: f64,
    /// postover.bat's `dtcl waitontarget` idle time, as for `lan-failover`.
    #[serde(default = "super::runbook::default_idle_s")]
    pub wait_on_target_idle_s: f64,
    /// The bound on the whole drain wait, as for `lan-failover`.
    #[serde(default = "super::runbook::default_drain_limit_s")]
    pub wait_on_target_limit_s: f64,
}

fn default_watch_limit_s() -> f64 {
    3600.0
}
fn default_flush_after_s() -> f64 {
    60.0
}

/// When the source's Exchange services are stopped during a failback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StopSource {
    /// Before the failback on the target ("Recovering to the original
    /// source", step 2 before step 5): the source's files are older.
    #[default]
    BeforeFailback,
    /// After it (Appendix B: failback at step 3, services stopped at step
    /// 18): the source's files are newer than the target's.
    AfterFailback,
}

/// Parameters of the failback runbook: LAN failover, then "Recovering to
/// the original source" with the PreBack.BAT stop order, the restoration
/// target → source, the public-folder split and re-protection.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailbackParams {
    /// The original source.
    pub source: String,
    /// The target standing in for it.
    pub target: String,
    /// Drill time at which the operator starts the recovery (the source's
    /// problem is resolved; it may still be off the network).
    pub failback_at_s: f64,
    /// When the source's services are stopped relative to the failback.
    #[serde(default)]
    pub stop_source_services: StopSource,
    /// Restoration Manager's "only if backup copy is more recent" (the
    /// guide, step 13: disable it).
    #[serde(default)]
    pub only_if_backup_newer: bool,
    /// PreBack.BAT's stop order (a `net stop X /y` also stops X's dependents).
    #[serde(default = "default_preback_order")]
    pub stop_order: Vec<String>,
    /// Start order on the source after the restore (default: postover.bat's;
    /// the sample post_restore.bat leaves out W3SVC and SMTPSVC, which step 2
    /// stopped, so users would never be served).
    #[serde(default = "default_postover_order")]
    pub start_order: Vec<String>,
    /// Services followed by `service_wait_s` (post_restore.bat: SA, IS, MTA, ES).
    #[serde(default = "default_post_restore_waits")]
    pub wait_after: Vec<String>,
    /// `dtcl wait 20000`, in postover.bat (the failover) and in
    /// post_restore.bat alike.
    #[serde(default = "default_service_wait_s")]
    pub service_wait_s: f64,
    /// The failover's `dtcl waitontarget` idle time.
    #[serde(default = "super::runbook::default_idle_s")]
    pub wait_on_target_idle_s: f64,
    /// The failover's bound on the whole drain wait.
    #[serde(default = "super::runbook::default_drain_limit_s")]
    pub wait_on_target_limit_s: f64,
    /// Start attempts of a service that fails to start.
    #[serde(default = "default_attempts")]
    pub start_attempts_max: u32,
    /// Bound on waiting for the source to be back on the network.
    #[serde(default = "default_reconnect_limit_s")]
    pub reconnect_limit_s: f64,
    /// Re-establish protection afterwards: connect source → target with a
    /// difference mirror and restart failure monitoring.
    #[serde(default = "yes")]
    pub reprotect: bool,
    /// The DC the user moves write to (default: the target's DC).
    pub dc: Option<String>,
}

pub(crate) fn default_preback_order() -> Vec<String> {
    s(&[
        "MSExchangeSA",
        "MSExchangeMGMT",
        "POP3Svc",
        "IMAP4Svc",
        "RESvc",
        "MSExchangeES",
        "W3SVC",
        "SMTPSVC",
    ])
}
fn default_postover_order() -> Vec<String> {
    s(&[
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
    ])
}
fn default_post_restore_waits() -> Vec<String> {
    s(&[
        "MSExchangeSA",
        "MSExchangeIS",
        "MSExchangeMTA",
        "MSExchangeES",
    ])
}
fn default_service_wait_s() -> f64 {
    20.0
}
fn default_attempts() -> u32 {
    3
}
fn default_reconnect_limit_s() -> f64 {
    3600.0
}
fn yes() -> bool {
    true
}

/// The operator's answer to the confirmation prompt of step 314.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Confirmation {
    /// Confirms after `confirm_after_s`.
    #[default]
    Confirm,
    /// Does not answer: the prompt times out and the failover goes on.
    Timeout,
    /// Aborts: services revert to the primary if it is available (318).
    Abort,
}

/// Parameters of the two-site DR system (patent: Figure 2's state machine,
/// failover process 300, switch-back, Auto Pilot 400).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoSiteParams {
    /// The primary Exchange server (118a).
    pub primary: String,
    /// The secondary Exchange server (118b) on the secondary site.
    pub secondary: String,
    /// The management server (128) the agents report to.
    pub management: String,
    /// Agent report interval ("every thirty seconds").
    #[serde(default = "default_agent_interval_s")]
    pub agent_interval_s: f64,
    /// How long the management server waits for one agent's report.
    #[serde(default = "default_agent_timeout_s")]
    pub agent_timeout_s: f64,
    /// Services the agents watch on the active server (default: every
    /// `[exchange]` service).
    pub monitored_services: Option<Vec<String>>,
    /// Whether user access points are watched too (transition 230).
    #[serde(default = "yes")]
    pub watch_user_access: bool,
    /// Step 308's stop order (a stop also stops the service's dependents).
    #[serde(default = "default_patent_stop_order")]
    pub stop_order: Vec<String>,
    /// Step 342's start order.
    #[serde(default = "default_patent_start_order")]
    pub start_order: Vec<String>,
    /// Attempts per service start (a start fails while a dependency is not ready).
    #[serde(default = "default_attempts")]
    pub start_attempts_max: u32,
    /// Wait before a failed start is retried.
    #[serde(default = "default_service_wait_s")]
    pub service_retry_wait_s: f64,
    /// Step 310: the replication queue is flushed when the target has been
    /// idle this long.
    #[serde(default = "default_flush_idle_s")]
    pub flush_idle_s: f64,
    /// Bound on the flush.
    #[serde(default = "default_flush_limit_s")]
    pub flush_limit_s: f64,
    /// The operator's answer at step 314.
    #[serde(default)]
    pub confirmation: Confirmation,
    /// When the operator confirms (`confirmation = "confirm"`).
    #[serde(default = "default_confirm_after_s")]
    pub confirm_after_s: f64,
    /// Step 316's timeout ("after ten seconds").
    #[serde(default = "default_confirmation_timeout_s")]
    pub confirmation_timeout_s: f64,
    /// Appended to the outgoing server's name (step 326a: `<name>tmp`).
    #[serde(default = "default_temp_suffix")]
    pub temp_suffix: String,
    /// The public DNS servers (136a-b) that hold the MX and webmail records.
    pub public_dns: Vec<String>,
    /// The A records users reach mail through (MX target, webmail), moved
    /// to the active server at step 362.
    pub redirect_records: Vec<String>,
    /// TTL of the moved records ("must be set to zero").
    #[serde(default)]
    pub redirect_ttl_s: u32,
    /// Mount attempts before recovery (step 348: "at least two").
    #[serde(default = "default_mount_attempts")]
    pub mount_attempts: u32,
    /// Step 364: unpause the new reverse replication at once (otherwise
    /// changes are cached on the active server until ReSync).
    #[serde(default)]
    pub unpause_reverse: bool,
    /// Mirror used when a replication session must be established anew.
    #[serde(default = "default_mirror")]
    #[schemars(with = "super::schema::MirrorModeSchema")]
    pub resync_mirror: MirrorMode,
    /// Planned switchover: the operator engages the secondary at this drill
    /// time, without any fault (maintenance).
    pub planned_at_s: Option<f64>,
    /// Switch back this long after the secondary is engaged and the primary
    /// reports healthy again (none: stay on the secondary).
    pub switch_back_after_s: Option<f64>,
    /// Bound on waiting for the primary to report healthy before switching back.
    #[serde(default = "default_reconnect_limit_s")]
    pub primary_back_limit_s: f64,
}

fn default_agent_interval_s() -> f64 {
    30.0
}
fn default_agent_timeout_s() -> f64 {
    5.0
}
fn default_patent_stop_order() -> Vec<String> {
    s(&[
        "POP3Svc",
        "IMAP4Svc",
        "MSExchangeMTA",
        "MSExchangeIS",
        "RESvc",
        "MSExchangeSA",
        "W3SVC",
        "IISADMIN",
    ])
}
fn default_patent_start_order() -> Vec<String> {
    s(&[
        "IISADMIN",
        "NNTPSVC",
        "W3SVC",
        "SMTPSVC",
        "MSExchangeSA",
        "RESvc",
        "MSExchangeIS",
        "MSExchangeMTA",
        "IMAP4Svc",
        "POP3Svc",
    ])
}
fn default_flush_idle_s() -> f64 {
    10.0
}
fn default_flush_limit_s() -> f64 {
    900.0
}
fn default_confirm_after_s() -> f64 {
    5.0
}
fn default_confirmation_timeout_s() -> f64 {
    10.0
}
fn default_temp_suffix() -> String {
    "tmp".into()
}
fn default_mount_attempts() -> u32 {
    2
}
fn default_mirror() -> MirrorMode {
    MirrorMode::Difference
}

/// One change of the AutoSync setting on the console.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoSyncChange {
    /// Drill time of the change.
    pub at_s: f64,
    /// The new setting.
    pub enabled: bool,
}

/// Parameters of AutoSync (patent process 500).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoSyncParams {
    /// The active server (replication source).
    pub source: String,
    /// The passive server (replication target).
    pub target: String,
    /// How often process 500 runs (the agents' 30 s cadence).
    #[serde(default = "default_agent_interval_s")]
    pub check_interval_s: f64,
    /// The mirror of step 506 when no session exists (a "full mirror" that
    /// sends the differences: Double-Take's difference mirror).
    #[serde(default = "default_mirror")]
    #[schemars(with = "super::schema::MirrorModeSchema")]
    pub mirror: MirrorMode,
    /// The setting at the start.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Later changes of the setting, in time order.
    #[serde(default)]
    pub schedule: Vec<AutoSyncChange>,
    /// When monitoring ends and the replica is verified.
    pub until_s: f64,
    /// Bound on the final drain before the verification.
    #[serde(default = "default_flush_limit_s")]
    pub verify_limit_s: f64,
}
