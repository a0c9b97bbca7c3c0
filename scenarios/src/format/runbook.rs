//! `[runbook]`: which runbook to use and its parameters.

use serde::Deserialize;

/// The runbook of a scenario, chosen by `name`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RunbookDef {
    /// Storage Mirroring LAN failover of an Exchange 2000/2003 member server.
    LanFailover(LanFailoverParams),
}

impl RunbookDef {
    /// The runbook's name as written in the file.
    pub fn name(&self) -> &'static str {
        match self {
            RunbookDef::LanFailover(_) => "lan-failover",
        }
    }
}

/// Which public folders move with the users (`-nopublicfolders`, `-onlypublicfolders`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
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
#[derive(Clone, Debug, Deserialize)]
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

fn yes() -> bool {
    true
}
fn default_idle_s() -> f64 {
    10.0
}
fn default_drain_limit_s() -> f64 {
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
