//! The estate: sites, links, hosts, clients, directory, DNS, Exchange layout,
//! mailboxes and replication connections.

use std::net::Ipv4Addr;

use drlab_drivers::types::{MirrorMode, StartupType};
use schemars::JsonSchema;
use serde::Deserialize;

/// Network parameters of a LAN or WAN link.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One-way latency.
    pub latency_ms: f64,
    /// Bandwidth available to replication and clients.
    pub bandwidth_mbps: f64,
    /// Packet loss probability in [0, 1].
    #[serde(default)]
    pub loss: f64,
}

/// `[[sites]]`: a failure domain with its own LAN.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteDef {
    /// Site name.
    pub name: String,
    /// The site's LAN.
    #[serde(default = "default_lan")]
    pub lan: LinkSpec,
}

fn default_lan() -> LinkSpec {
    LinkSpec {
        latency_ms: 0.25,
        bandwidth_mbps: 1000.0,
        loss: 0.0,
    }
}

/// `[[links]]`: a WAN link between two sites.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkDef {
    /// The two sites.
    pub between: [String; 2],
    /// One-way latency.
    pub latency_ms: f64,
    /// Bandwidth.
    pub bandwidth_mbps: f64,
    /// Packet loss probability in [0, 1].
    #[serde(default)]
    pub loss: f64,
}

impl LinkDef {
    /// The link's parameters.
    pub fn spec(&self) -> LinkSpec {
        LinkSpec {
            latency_ms: self.latency_ms,
            bandwidth_mbps: self.bandwidth_mbps,
            loss: self.loss,
        }
    }
}

/// `[domain]`: the Active Directory domain.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainDef {
    /// DNS name of the domain, e.g. `corp.example.com`.
    pub name: String,
    /// Domain controllers (hosts with the `domain-controller` role).
    pub controllers: Vec<String>,
    /// Delay before a change on one DC is visible on another (unless forced).
    #[serde(default = "default_ad_delay")]
    pub replication_delay_s: f64,
}

fn default_ad_delay() -> f64 {
    15.0
}

/// What a host does besides Exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// An Active Directory domain controller.
    DomainController,
    /// A DNS server (authoritative for the zones that name it).
    Dns,
}

/// Whether a host's Exchange serves users at the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ExchangeRole {
    /// Services running, stores mounted.
    #[default]
    Active,
    /// Services stopped, stores dismounted (a failover target).
    Standby,
}

/// A host's Exchange installation.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeHostDef {
    /// Startup type of the Exchange services (the guide sets the target to manual).
    #[serde(default = "default_startup")]
    #[schemars(with = "super::schema::StartupTypeSchema")]
    pub startup: StartupType,
    /// Active or standby at the start.
    #[serde(default)]
    pub state: ExchangeRole,
    /// Storage groups, when they differ from `[exchange]`'s.
    pub storage_groups: Option<Vec<GroupDef>>,
}

fn default_startup() -> StartupType {
    StartupType::Automatic
}

/// `[[hosts]]`: a server.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostDef {
    /// Computer name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Primary IPv4 address.
    pub ip: Ipv4Addr,
    /// Roles besides Exchange.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The host's Exchange installation, if any.
    pub exchange: Option<ExchangeHostDef>,
    /// The DC this host uses (default: a DC on its site, else the first DC).
    pub dc: Option<String>,
}

/// How a client resolver caches answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ResolverPolicy {
    /// Caches for the record's TTL.
    #[default]
    HonourTtl,
    /// Caches for max(TTL, `min_ttl_s`).
    MinTtl,
    /// Never expires an answer until the cache is flushed.
    NeverExpire,
}

/// A named client resolver at a product's documented defaults (the table
/// with their sources is `crate::dns::PROFILES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClientProfile {
    /// The JDK's `InetAddress` cache: 30 s whatever the TTL, failures 10 s.
    Java,
    /// Chrome's built-in resolver: at least 60 s, failures not cached.
    Chrome,
    /// The Windows DNS Client service: TTL up to 1 day, failures up to 15 min.
    Windows,
    /// A BIND 9 caching resolver: TTL up to 1 week, failures up to 3 h.
    Bind,
    /// An Unbound with `serve-expired: yes`: expired answers served while refreshed.
    UnboundServeExpired,
}

impl ClientProfile {
    /// Every profile.
    pub const ALL: [ClientProfile; 5] = [
        ClientProfile::Java,
        ClientProfile::Chrome,
        ClientProfile::Windows,
        ClientProfile::Bind,
        ClientProfile::UnboundServeExpired,
    ];

    /// Its name as the format spells it.
    pub fn name(self) -> &'static str {
        match self {
            ClientProfile::Java => "java",
            ClientProfile::Chrome => "chrome",
            ClientProfile::Windows => "windows",
            ClientProfile::Bind => "bind",
            ClientProfile::UnboundServeExpired => "unbound-serve-expired",
        }
    }
}

/// `[[clients]]`: an end-user population behind one resolver.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(try_from = "ClientFields")]
pub struct ClientDef {
    /// Name.
    pub name: String,
    /// Site.
    pub site: String,
    /// The DNS server its resolver asks.
    pub dns_server: String,
    /// Cache policy (without a profile).
    pub resolver: ResolverPolicy,
    /// Floor applied by `min-ttl` resolvers.
    pub min_ttl_s: u32,
    /// A named resolver profile, instead of `resolver` and `min_ttl_s`.
    pub profile: Option<ClientProfile>,
}

/// `[[clients]]` as written: a profile excludes the explicit cache fields.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ClientDef")]
#[schemars(extend("not" = { "anyOf": [
    { "required": ["profile", "resolver"] },
    { "required": ["profile", "min_ttl_s"] }
] }))]
struct ClientFields {
    /// Name.
    name: String,
    /// Site.
    site: String,
    /// The DNS server its resolver asks.
    dns_server: String,
    /// Cache policy (default `honour-ttl`); not with `profile`.
    resolver: Option<ResolverPolicy>,
    /// Floor applied by `min-ttl` resolvers (default 0); not with `profile`.
    min_ttl_s: Option<u32>,
    /// A named resolver profile at a product's defaults (`java`, `chrome`,
    /// `windows`, `bind`, `unbound-serve-expired`): sets the whole cache
    /// policy, so `resolver` and `min_ttl_s` may not be given with it.
    profile: Option<ClientProfile>,
}

impl TryFrom<ClientFields> for ClientDef {
    type Error = String;

    fn try_from(f: ClientFields) -> Result<ClientDef, String> {
        if let Some(p) = f.profile {
            let explicit: Vec<&str> = [
                f.resolver.map(|_| "`resolver`"),
                f.min_ttl_s.map(|_| "`min_ttl_s`"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !explicit.is_empty() {
                return Err(format!(
                    "client {:?}: profile {:?} sets the whole cache policy; remove {} or the profile",
                    f.name,
                    p.name(),
                    explicit.join(" and ")
                ));
            }
        }
        Ok(ClientDef {
            name: f.name,
            site: f.site,
            dns_server: f.dns_server,
            resolver: f.resolver.unwrap_or_default(),
            min_ttl_s: f.min_ttl_s.unwrap_or(0),
            profile: f.profile,
        })
    }
}

/// `[dns]`: zones and records.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsDef {
    /// Zones.
    #[serde(default)]
    pub zones: Vec<ZoneDef>,
    /// Records.
    #[serde(default)]
    pub records: Vec<RecordDef>,
}

/// `[[dns.zones]]`: a zone on one or more servers.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneDef {
    /// Zone name, e.g. `corp.example.com` or `0.0.10.in-addr.arpa`.
    pub name: String,
    /// Servers authoritative for it (hosts with the `dns` role).
    pub servers: Vec<String>,
    /// Whether dynamic updates are allowed (the guide: DNSCMD needs them).
    #[serde(default = "yes")]
    pub dynamic_updates: bool,
    /// How long resolvers may cache an empty answer from the zone (RFC 2308
    /// §5: the SOA's TTL and MINIMUM, the smaller; a Windows DNS zone's
    /// default minimum TTL is 1 hour). Clients with a profile that caches
    /// negative answers use it, capped by the profile.
    #[serde(default = "default_negative_ttl")]
    pub negative_ttl_s: u32,
}

fn default_negative_ttl() -> u32 {
    ZONE_NEGATIVE_TTL_S_DEFAULT
}

/// A zone's negative TTL unless the scenario says otherwise: a Windows
/// DNS zone's default minimum TTL (1 hour), and what the CI lab's Samba
/// zones answer with (their SOA's minimum and TTL, 3600 s at provisioning
/// and `samba-tool dns zonecreate`: `samba.provision.sambadns.SOARecord`),
/// which drlab does not change; a scenario with `[lab]` keeps it, so both
/// backends cache empty answers alike.
pub const ZONE_NEGATIVE_TTL_S_DEFAULT: u32 = 3600;

fn yes() -> bool {
    true
}

/// `[[dns.records]]`: a record in a zone (on all its servers).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordDef {
    /// Owner name.
    pub name: String,
    /// `A`, `PTR`, `MX` or `CNAME`.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Data.
    pub data: String,
    /// TTL.
    #[serde(default = "default_ttl")]
    pub ttl_s: u32,
}

fn default_ttl() -> u32 {
    3600
}

/// `[[exchange.services]]`: one Exchange (or IIS) service.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    /// Service name, e.g. `MSExchangeIS`.
    pub name: String,
    /// Services that must be ready before this one can start.
    #[serde(default)]
    pub requires: Vec<String>,
}

/// `[[exchange.storage_groups]]`: a storage group.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    /// Group name.
    pub name: String,
    /// Log file prefix (E00, E01...); must match between source and target.
    pub prefix: String,
    /// Its stores.
    pub stores: Vec<StoreDef>,
}

/// A store inside a storage group.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreDef {
    /// Store name.
    pub name: String,
    /// Database file name (the pairing key), e.g. `priv1.edb`.
    pub file: String,
    /// Public folder store.
    #[serde(default)]
    pub public: bool,
    /// Database size, for mirrors and restores.
    #[serde(default = "default_store_mb")]
    pub size_mb: f64,
}

fn default_store_mb() -> f64 {
    1024.0
}

/// `[exchange]`: services and storage layout shared by Exchange hosts.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeDef {
    /// Services with their dependencies.
    pub services: Vec<ServiceDef>,
    /// Storage groups.
    pub storage_groups: Vec<GroupDef>,
    /// Services an end-user operation needs on the serving host.
    #[serde(default = "default_user_path")]
    pub user_path_services: Vec<String>,
    /// The service that hosts the stores (mounts need it ready).
    #[serde(default = "default_store_service")]
    pub store_service: String,
}

fn default_store_service() -> String {
    "MSExchangeIS".into()
}

fn default_user_path() -> Vec<String> {
    vec![
        "MSExchangeSA".into(),
        "MSExchangeIS".into(),
        "SMTPSVC".into(),
    ]
}

/// `[[mailboxes]]`: a mailbox and its home.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxDef {
    /// Mailbox name.
    pub name: String,
    /// Home server.
    pub server: String,
    /// Storage group.
    pub group: String,
    /// Store.
    pub store: String,
}

/// `[[replication]]`: a replication connection.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationDef {
    /// Source host.
    pub source: String,
    /// Target host.
    pub target: String,
    /// Mirror before replicating (`full`, `difference`, `none`).
    #[serde(default = "default_mirror")]
    #[schemars(with = "super::schema::MirrorModeSchema")]
    pub mirror: MirrorMode,
    /// Whether the mirror is already complete at the start (protected estate).
    #[serde(default = "yes")]
    pub mirrored_at_start: bool,
    /// Changes are collected this long before they are sent (lsyncd's
    /// `delay`; 0 streams each write at once, as Double-Take does).
    #[serde(default)]
    pub batch_delay_s: f64,

    /// Log shipping (Exchange 2007 CCR): writes fill a transaction log file
    /// of this size on the source, which is shipped only once closed (full).
    /// Absent: every write is replicated as it happens.
    pub log_file_mb: Option<f64>,
}

fn default_mirror() -> MirrorMode {
    MirrorMode::Difference
}
