//! Parameters of the archive and restore runbooks (the patent's processes
//! 600 and 700), the Exchange 2010 DAG re-provisioning runbooks (Dell AIM
//! paper, automatic and manual), the Exchange 2007 CCR activation and the
//! everRun lockstep runbook.

use schemars::JsonSchema;
use serde::Deserialize;

/// `[runbook.archive]`: the patent's archive process 600 as configured on
/// the console (Figure 9E: the Archive setting and its levels).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSchedule {
    /// The host whose information store is archived (the patent archives
    /// the secondary's store 120b).
    pub host: String,
    /// Archive levels in hours; level L is due every L hours and keeps one
    /// image (the patent's 24, 48 and 72 h levels).
    #[serde(default = "default_levels_h")]
    pub levels_h: Vec<u32>,
    /// How often process 600's loop checks whether an archive is due
    /// (step 606); a refused or failed archive is tried again at the next check.
    #[serde(default = "default_check_s")]
    pub check_interval_s: f64,
    /// The UTC time at drill time zero, `YYYY-MM-DDTHH:MM:SSZ`: the
    /// patent stamps archives in UTC and a drill has no wall clock.
    #[serde(default = "default_start_utc")]
    pub start_utc: String,
    /// The Archive setting (step 602): when false no archive is taken.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_levels_h() -> Vec<u32> {
    vec![24, 48, 72]
}
fn default_check_s() -> f64 {
    900.0
}
fn default_start_utc() -> String {
    "2012-08-06T00:00:00Z".into()
}
fn yes() -> bool {
    true
}

/// Parameters of the archive runbook (process 600 running for days).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveParams {
    /// The primary server, which serves users throughout.
    pub primary: String,
    /// The archive schedule.
    pub archive: ArchiveSchedule,
}

/// Parameters of the restore-from-archive runbook (process 700, with the
/// archive schedule running alongside).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreParams {
    /// The primary server (store 120a).
    pub primary: String,
    /// The secondary server (store 120b), which the images are restored to.
    pub secondary: String,
    /// The archive schedule (its `host` is the secondary).
    pub archive: ArchiveSchedule,
    /// The level whose image the operator selects (Figure 9E, screen 952).
    #[serde(default = "default_image_level_h")]
    pub image_level_h: u32,
    /// Interval of the agents' store-state reports (the patent: 30 s).
    #[serde(default = "default_agent_s")]
    pub agent_interval_s: f64,
    /// Restore requests refused by the safety check (step 704) are tried
    /// again after this long...
    #[serde(default = "default_retry_s")]
    pub request_retry_s: f64,
    /// ...at most this many times in all.
    #[serde(default = "default_attempts")]
    pub request_attempts_max: u32,
    /// Wait before starting a service again when a dependency was not ready.
    #[serde(default = "default_service_wait_s")]
    pub service_wait_s: f64,
    /// Start attempts per service.
    #[serde(default = "default_attempts")]
    pub start_attempts_max: u32,
    /// Bound on each wait for replication to drain.
    #[serde(default = "default_drain_s")]
    pub drain_limit_s: f64,
    /// The DC the mailbox moves write to (default: the first controller).
    pub dc: Option<String>,
}

fn default_image_level_h() -> u32 {
    24
}
fn default_agent_s() -> f64 {
    30.0
}
fn default_retry_s() -> f64 {
    300.0
}
fn default_attempts() -> u32 {
    3
}
fn default_service_wait_s() -> f64 {
    20.0
}
fn default_drain_s() -> f64 {
    900.0
}

/// Parameters of the DAG re-provisioning runbook with Dell AIM.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DagAimParams {
    /// The host running the AIM controller (it heartbeats the personas).
    pub controller: String,
    /// AIM's heartbeat interval to a persona's agent.
    #[serde(default = "default_aim_interval_s")]
    pub heartbeat_interval_s: f64,
    /// Missed heartbeats before AIM declares the server failed.
    #[serde(default = "default_aim_missed")]
    pub missed_heartbeats: u32,
    /// The persona boot timer: how long AIM waits for the persona's
    /// services to respond before it retargets (default 15 min; the paper
    /// raises it to 20 min for Exchange).
    #[serde(default = "default_boot_timer_s")]
    pub persona_boot_timer_s: f64,
    /// Standby servers in the order AIM tries them (default: every server
    /// that runs nothing at the start, in file order).
    #[serde(default)]
    pub standby: Vec<String>,
    /// Delay before the redistribution batch file runs after the persona
    /// boots (the paper's appendix: let AIM and Exchange services start).
    #[serde(default = "default_script_delay_s")]
    pub script_delay_s: f64,
    /// The script's `start-sleep -s 30` after redistributing.
    #[serde(default = "default_script_sleep_s")]
    pub script_sleep_s: f64,
    /// Bound on waiting for copies to become Healthy.
    #[serde(default = "default_healthy_s")]
    pub healthy_limit_s: f64,
}

fn default_aim_interval_s() -> f64 {
    30.0
}
fn default_aim_missed() -> u32 {
    3
}
fn default_boot_timer_s() -> f64 {
    900.0
}
fn default_script_delay_s() -> f64 {
    120.0
}
fn default_script_sleep_s() -> f64 {
    30.0
}
fn default_healthy_s() -> f64 {
    3600.0
}

/// Parameters of the manual DAG re-provisioning runbook: the paper's list of
/// manual steps. The paper gives no durations ("from few hours to a day");
/// the defaults are one administrator's working times.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DagManualParams {
    /// The host whose monitoring notices the failed member (heartbeats per
    /// `[policy]`; the operator responds after `policy.operator_response_s`).
    pub monitor: String,
    /// The spare server the failed member is rebuilt on.
    pub replacement: String,
    /// Deploy/prepare server for OS installation.
    #[serde(default = "d_deploy")]
    pub deploy_server_s: f64,
    /// Install OS with required patches.
    #[serde(default = "d_install_os")]
    pub install_os_s: f64,
    /// Activate the OS with appropriate licenses.
    #[serde(default = "d_activate")]
    pub activate_os_s: f64,
    /// Preparation for Exchange.
    #[serde(default = "d_prepare")]
    pub prepare_exchange_s: f64,
    /// Configure MAPI and Replication host networks.
    #[serde(default = "d_networks")]
    pub configure_networks_s: f64,
    /// Join the domain and reboot.
    #[serde(default = "d_join")]
    pub join_domain_s: f64,
    /// Install Exchange prerequisites.
    #[serde(default = "d_prereq")]
    pub install_prerequisites_s: f64,
    /// Install Exchange Server 2010 SP2 (recovering the server's identity).
    #[serde(default = "d_exchange")]
    pub install_exchange_s: f64,
    /// Connect to the Databases.
    #[serde(default = "d_connect")]
    pub connect_databases_s: f64,
    /// The redistribution script's `start-sleep -s 30`.
    #[serde(default = "default_script_sleep_s")]
    pub script_sleep_s: f64,
    /// Bound on waiting for copies to become Healthy.
    #[serde(default = "default_healthy_s")]
    pub healthy_limit_s: f64,
}

fn d_deploy() -> f64 {
    3600.0
}
fn d_install_os() -> f64 {
    5400.0
}
fn d_activate() -> f64 {
    600.0
}
fn d_prepare() -> f64 {
    1800.0
}
fn d_networks() -> f64 {
    1200.0
}
fn d_join() -> f64 {
    900.0
}
fn d_prereq() -> f64 {
    2700.0
}
fn d_exchange() -> f64 {
    3600.0
}
fn d_connect() -> f64 {
    900.0
}

/// Parameters of the Exchange 2007 CCR activation at the DR site.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CcrParams {
    /// The active node (primary site).
    pub active: String,
    /// The passive node (DR site), on its own local disks.
    pub passive: String,
    /// Forcing quorum on the surviving node (`net start clussvc /forcequorum`).
    #[serde(default = "default_quorum_s")]
    pub force_quorum_s: f64,
    /// TTL of the clustered mailbox server's name after it moves.
    #[serde(default = "default_ccr_ttl_s")]
    pub dns_ttl_s: u32,
    /// Wait before starting a service again when a dependency was not ready.
    #[serde(default = "default_service_wait_s")]
    pub service_wait_s: f64,
    /// Start attempts per service.
    #[serde(default = "default_attempts")]
    pub start_attempts_max: u32,
    /// The DC at the DR site the mailbox moves write to (default: the
    /// passive node's DC).
    pub dc: Option<String>,
}

fn default_quorum_s() -> f64 {
    60.0
}
fn default_ccr_ttl_s() -> u32 {
    300
}

/// Parameters of the everRun lockstep runbook: the availability monitor of
/// a fault-tolerant pair, which watches the hardware and nothing else.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockstepParams {
    /// The protected host (a `[[lockstep]]` entry).
    pub host: String,
    /// The host that heartbeats it.
    pub monitor: String,
}
