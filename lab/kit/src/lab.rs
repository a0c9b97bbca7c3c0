//! Starting and removing the CI lab: image build, private network, the
//! containers (testcontainers), domain membership of the mail hosts, and the
//! inventory with its secret files.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use drlab_real::inventory::Inventory;
use testcontainers::bollard::models::HostConfig;
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::docker::{self, DOCKER_CALL_TIMEOUT_MS};
use crate::inventory::{self as inv, HostPlan};
use crate::secrets::LabSecrets;

/// Receives one line of progress at a time.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Label naming a container's or network's lab.
pub const LAB_LABEL: &str = drlab_real::faults::LAB_LABEL;
/// Label naming the process that owns a lab removed at its end (tests);
/// absent on labs left running on purpose (`drlab lab up`).
pub const OWNER_PID_LABEL: &str = "drlab.owner-pid";
/// Label naming the owner's pid namespace, so that a pid is only judged in
/// the namespace it belongs to.
pub const OWNER_PIDNS_LABEL: &str = "drlab.owner-pidns";

/// The lab's shape: which hosts it starts, on which networks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    /// One site: DC1, EXCH1, EXCH2 and CLIENT1 on one service network
    /// `drlab-<lab>-net` (the library's LAN scenarios).
    #[default]
    Lan,
    /// Two sites, each a service network, with a router container between
    /// them (the library's WAN scenarios): `hq` (`drlab-<lab>-hq`: DC1,
    /// EXCH1, CLIENT1) and `dr` (`drlab-<lab>-dr`: DC2, a second domain
    /// controller of the domain, and EXCH2). Every host routes the other
    /// site's subnet via the router's address on its own site; Docker
    /// isolates the two bridges from each other otherwise.
    Wan,
}

impl Shape {
    /// The shape's name (`lan`, `wan`).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Lan => "lan",
            Shape::Wan => "wan",
        }
    }

    /// The scenario names of the hosts the shape starts, in inventory
    /// order (the router of a `wan` lab is no scenario host).
    pub fn scenario_hosts(self) -> Vec<&'static str> {
        match self {
            Shape::Lan => HOSTS.iter().map(|h| h.0).collect(),
            Shape::Wan => WAN_HOSTS.iter().map(|h| h.0).collect(),
        }
    }
}

/// One site of a `wan` lab: its service network and what is on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The scenario's site name (`hq`, `dr`).
    pub name: String,
    /// The Docker network (`drlab-<lab>-<site>`).
    pub network: String,
    /// Its subnet, e.g. `10.212.17.0/24`.
    pub subnet: String,
    /// The router's address on it: the other site's subnet is reached via it.
    pub router: IpAddr,
    /// The scenario hosts on it.
    pub hosts: Vec<String>,
}

/// What to start.
#[derive(Clone)]
pub struct LabOptions {
    /// Lab name (default `ci-<pid>-<n>`, unique per process and call).
    pub name: Option<String>,
    /// Directory for `inventory.toml`, `known_hosts` and `secrets/`.
    pub out_dir: PathBuf,
    /// AD/DNS domain (default the library scenario's `corp.example.com`).
    pub domain: String,
    /// NetBIOS domain name (default `CORP`).
    pub netbios_domain: String,
    /// Mailboxes created on both mail hosts (default the scenario's four).
    pub mailboxes: Vec<String>,
    /// Leave the containers running when the `Lab` is dropped (`drlab lab up`).
    pub keep: bool,
    /// Image to run; `None` runs `build.sh` in [`LabOptions::images_dir`].
    pub image: Option<String>,
    /// `lab/images` of this repository.
    pub images_dir: PathBuf,
    /// How long the slowest container (the domain controller) may take to be ready.
    pub ready_timeout_s: u64,
    /// Progress lines (build output, each step); none by default.
    pub progress: Option<Progress>,
    /// Which lab: one site ([`Shape::Lan`], the default) or two sites with
    /// a router between them ([`Shape::Wan`]).
    pub shape: Shape,
    /// `wan` only: the WAN link's bandwidth in Mbit/s, a `tc` token bucket
    /// (`tbf`) on both of the router's site interfaces; `None` leaves the
    /// link unshaped. (Latency and loss would need `netem`, which this
    /// machine's kernel lacks: they are not offered.)
    pub wan_bandwidth_mbps: Option<f64>,
    /// The zones whose dynamic updates the lab's DNS refuses (a scenario's
    /// `[[dns.zones]] dynamic_updates = false`). None: the DCs' DNS is
    /// Samba's own, which takes the runbook's updates on every zone. Some:
    /// each DC also runs BIND on [`BIND_PORT`] holding the domain's zone,
    /// these zones and the lab's reverse zones, each with its policy (Samba
    /// has one policy for all its zones), and the inventory's DNS service
    /// is that BIND.
    pub refused_zones: Vec<String>,
}

/// The port of BIND beside Samba on a DC of a lab with refused zones.
pub const BIND_PORT: u16 = 5353;

impl std::fmt::Debug for LabOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabOptions")
            .field("name", &self.name)
            .field("out_dir", &self.out_dir)
            .field("domain", &self.domain)
            .field("keep", &self.keep)
            .field("image", &self.image)
            .field("shape", &self.shape)
            .field("wan_bandwidth_mbps", &self.wan_bandwidth_mbps)
            .field("refused_zones", &self.refused_zones)
            .finish_non_exhaustive()
    }
}

impl LabOptions {
    /// Defaults, writing into `out_dir`.
    pub fn new(out_dir: impl Into<PathBuf>) -> LabOptions {
        LabOptions {
            name: None,
            out_dir: out_dir.into(),
            domain: "corp.example.com".into(),
            netbios_domain: "CORP".into(),
            mailboxes: ["alice", "bob", "carol", "dave"].map(String::from).to_vec(),
            keep: false,
            image: None,
            images_dir: default_images_dir(),
            ready_timeout_s: 180,
            progress: None,
            shape: Shape::Lan,
            wan_bandwidth_mbps: None,
            refused_zones: Vec::new(),
        }
    }

    /// Whether the DCs run BIND beside Samba (see [`LabOptions::refused_zones`]).
    pub fn runs_bind(&self) -> bool {
        !self.refused_zones.is_empty()
    }

    /// Sets the progress callback.
    pub fn with_progress(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> LabOptions {
        self.progress = Some(Arc::new(f));
        self
    }
}

/// `lab/images` of the checkout this crate was built from (override with
/// `DRLAB_IMAGES_DIR`).
pub fn default_images_dir() -> PathBuf {
    std::env::var_os("DRLAB_IMAGES_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../images"),
        PathBuf::from,
    )
}

/// Why the lab could not be started or removed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Docker does not answer.
    #[error("Docker is not reachable ({0})")]
    DockerUnreachable(String),
    /// `build.sh` failed (its last stderr lines are in the message).
    #[error("image build failed: {0}")]
    Build(String),
    /// A `docker` CLI call failed.
    #[error("docker: {0}")]
    Docker(String),
    /// testcontainers could not create or start a container.
    #[error("starting {host}: {detail}")]
    Start {
        /// The scenario host.
        host: String,
        /// What went wrong.
        detail: String,
    },
    /// A container did not become ready in time, or exited; its log tail is included.
    #[error("{host} not ready: {detail}")]
    NotReady {
        /// The scenario host.
        host: String,
        /// Why, with the end of the container's log.
        detail: String,
    },
    /// A set-up step inside the lab failed.
    #[error("{step}: {detail}")]
    Setup {
        /// The step.
        step: String,
        /// What the container said.
        detail: String,
    },
    /// The output directory or a file in it could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The written inventory does not load (a bug of the harness).
    #[error("inventory: {0}")]
    Inventory(String),
}

/// What `down` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownReport {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
}

/// The lab's hosts: (scenario name, short host name, image role).
const HOSTS: [(&str, &str, &str); 4] = [
    ("DC1", "dc1", "dc"),
    ("EXCH1", "exch1", "mail"),
    ("EXCH2", "exch2", "mail"),
    ("CLIENT1", "client1", "client"),
];

/// The `wan` lab's hosts: (scenario name, short host name, image role,
/// site), in the inventory's order.
const WAN_HOSTS: [(&str, &str, &str, &str); 5] = [
    ("DC1", "dc1", "dc", "hq"),
    ("EXCH1", "exch1", "mail", "hq"),
    ("EXCH2", "exch2", "mail", "dr"),
    ("CLIENT1", "client1", "client", "hq"),
    ("DC2", "dc2", "dc", "dr"),
];

/// The `wan` lab's router: its scenario-free name (the `drlab.host` label
/// and [`Lab::exec`]'s host) and short name.
pub const WAN_ROUTER: (&str, &str) = ("ROUTER", "router");

/// A running CI lab. Removed by [`Lab::down`], or on drop unless it was
/// started with `keep`.
pub struct Lab {
    name: String,
    network: String,
    shape: Shape,
    sites: Vec<Site>,
    out_dir: PathBuf,
    inventory_path: PathBuf,
    inventory: Inventory,
    secrets: LabSecrets,
    containers: Vec<(String, ContainerAsync<GenericImage>)>,
    image: String,
    keep: bool,
    rt: Option<tokio::runtime::Runtime>,
    startup: Duration,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("name", &self.name)
            .field("network", &self.network)
            .field("inventory_path", &self.inventory_path)
            .finish_non_exhaustive()
    }
}

static LAB_SEQ: AtomicU32 = AtomicU32::new(0);

/// Runs a future on `rt` from any thread, also from inside another async
/// runtime (a scoped thread keeps `block_on` out of the caller's runtime).
fn block_on<F: std::future::Future + Send>(rt: &tokio::runtime::Runtime, f: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| rt.block_on(f))
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LabError + '_ {
    move |source| LabError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The owner's pid namespace (`/proc/self/ns/pid` link text).
fn own_pidns() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

impl Lab {
    /// Builds the image if its recipe changed, then starts the lab and
    /// writes its inventory. On failure everything started is removed.
    pub fn start(opts: LabOptions) -> Result<Lab, LabError> {
        let t0 = Instant::now();
        let say = |m: &str| {
            if let Some(p) = &opts.progress {
                p(m)
            }
        };
        docker::docker_status().map_err(LabError::DockerUnreachable)?;
        let name = opts.name.clone().unwrap_or_else(|| {
            format!(
                "ci-{}-{}",
                std::process::id(),
                LAB_SEQ.fetch_add(1, Ordering::Relaxed)
            )
        });
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || name.is_empty()
            || name.len() > 40
        {
            return Err(LabError::Setup {
                step: "lab name".into(),
                detail: format!("{name:?}: use 1-40 letters, digits and '-'"),
            });
        }
        if !opts.keep {
            reap_dead_owners(&say);
        }
        let image = match &opts.image {
            Some(i) => i.clone(),
            None => crate::build::build_image(&opts.images_dir, &say)?,
        };
        std::fs::create_dir_all(&opts.out_dir).map_err(io(&opts.out_dir))?;
        let out_dir = opts.out_dir.canonicalize().map_err(io(&opts.out_dir))?;
        let secrets = LabSecrets::generate(&out_dir, &format!("drlab-{name}"))
            .map_err(io(&out_dir.join("secrets")))?;

        let network = match opts.shape {
            Shape::Lan => format!("drlab-{name}-net"),
            Shape::Wan => format!("drlab-{name}-hq"),
        };
        say(&format!("lab {name}: creating network {network}"));
        let subnet = create_network(&network, &name, opts.keep, SERVICE_NET_PREFIX, false)?;
        say(&format!("lab {name}: network {network} {subnet}"));
        // wan: the second site's network (a /24 of its own: the first free
        // one after the hq network's, which create_network skips as taken)
        let mut site_nets = Vec::new();
        if opts.shape == Shape::Wan {
            let dr = format!("drlab-{name}-dr");
            let dr_subnet = match create_network(&dr, &name, opts.keep, SERVICE_NET_PREFIX, false) {
                Ok(s) => s,
                Err(e) => {
                    let _ = down_by_name(&name);
                    return Err(e);
                }
            };
            say(&format!("lab {name}: network {dr} {dr_subnet}"));
            site_nets = vec![
                ("hq".to_string(), network.clone(), subnet.clone()),
                ("dr".to_string(), dr, dr_subnet),
            ];
        }
        // drlab's own SSH sessions go over a management network, as an
        // operator's console does: a host cut off the service network, or
        // whose address another host took over, is still reached as itself.
        let management = format!("drlab-{name}-mgmt");
        let mgmt_subnet =
            match create_network(&management, &name, opts.keep, MANAGEMENT_NET_PREFIX, true) {
                Ok(s) => s,
                Err(e) => {
                    let _ = down_by_name(&name);
                    return Err(e);
                }
            };
        say(&format!(
            "lab {name}: management network {management} {mgmt_subnet}"
        ));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| LabError::Docker(format!("tokio runtime: {e}")))?;
        let ctx = StartCtx {
            name: name.clone(),
            network: network.clone(),
            management,
            image: image.clone(),
            opts: opts.clone(),
            secrets: &secrets,
            keep: opts.keep,
            site_nets,
        };
        let started = match opts.shape {
            Shape::Lan => block_on(&rt, ctx.start_all()).map(|(c, p)| (c, p, Vec::new())),
            Shape::Wan => block_on(&rt, ctx.start_all_wan()),
        };
        let (containers, plans, sites) = match started {
            Ok(v) => v,
            Err(e) => {
                say(&format!("lab {name}: start failed, removing what was made"));
                let _ = down_by_name(&name);
                return Err(e);
            }
        };
        let mut lab = Lab {
            name: name.clone(),
            network: network.clone(),
            shape: opts.shape,
            sites,
            inventory_path: out_dir.join("inventory.toml"),
            out_dir,
            inventory: Inventory {
                lab: drlab_real::inventory::LabDef {
                    name: name.clone(),
                    domain: opts.domain.clone(),
                    docker_network: Some(network.clone()),
                },
                credentials: BTreeMap::new(),
                hosts: Vec::new(),
                services: BTreeMap::new(),
                clients: Vec::new(),
                mail: Default::default(),
            },
            secrets,
            containers,
            image,
            keep: opts.keep,
            rt: Some(rt),
            startup: Duration::ZERO,
        };
        match lab.finish(&opts, &plans, &say) {
            Ok(()) => {}
            Err(e) => {
                say(&format!("lab {name}: set-up failed, removing it"));
                let _ = lab.remove();
                return Err(e);
            }
        }
        lab.startup = t0.elapsed();
        say(&format!(
            "lab {name}: up in {:.1} s; inventory {}",
            lab.startup.as_secs_f64(),
            lab.inventory_path.display()
        ));
        Ok(lab)
    }

    /// Domain membership, host keys, inventory.
    fn finish(
        &mut self,
        opts: &LabOptions,
        plans: &[HostPlan],
        say: &dyn Fn(&str),
    ) -> Result<(), LabError> {
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| LabError::Docker("no runtime".into()))?;
        let dc = self.container_handle("DC1")?.id().to_string();
        let dc = dc.as_str();
        // The mail hosts (and the client) become computer accounts of the
        // domain, with A records in its DNS zone. samba-tool runs on the DC
        // against its own database (-H sam.ldb): no credential is needed.
        // (a further DC, wan's DC2, joined the domain as a DC: it has its
        // account and its A record already)
        for p in plans.iter().filter(|p| p.role != "dc") {
            say(&format!(
                "lab {}: computer account {} ({})",
                self.name, p.host, p.address
            ));
            let sam = "/var/lib/samba/private/sam.ldb";
            let create = vec![
                "samba-tool".to_string(),
                "computer".into(),
                "create".into(),
                p.host.clone(),
                "-H".into(),
                sam.into(),
                format!("--description=drlab lab host {}", p.short),
            ];
            exec_ok(rt, dc, "samba-tool computer create", create)?;
            // the A record, added by the DC's own machine account (-P)
            let add = vec![
                "samba-tool".to_string(),
                "dns".into(),
                "add".into(),
                "127.0.0.1".into(),
                opts.domain.clone(),
                p.short.clone(),
                "A".into(),
                p.address.to_string(),
                "-P".into(),
            ];
            exec_ok(rt, dc, "samba-tool dns add", add)?;
        }
        self.reverse_zones(rt, dc, plans, say)?;
        if opts.runs_bind() {
            self.bind_zones(rt, opts, plans, say)?;
        }
        say(&format!("lab {}: collecting host keys", self.name));
        let mut known = String::new();
        for p in plans {
            let c = self.container_handle(&p.host)?.id().to_string();
            let keys = exec_ok(
                rt,
                &c,
                "read host keys",
                vec![
                    "sh".into(),
                    "-c".into(),
                    "cat /etc/ssh/ssh_host_*_key.pub".into(),
                ],
            )?;
            for line in keys.lines().filter(|l| !l.trim().is_empty()) {
                let mut w = line.split_whitespace();
                if let (Some(alg), Some(key)) = (w.next(), w.next()) {
                    for addr in [p.address, p.management] {
                        known.push_str(&format!("{addr} {alg} {key}\n"));
                    }
                }
            }
        }
        let known_path = self.out_dir.join("known_hosts");
        crate::inventory::write_atomic(&known_path, &known).map_err(io(&known_path))?;
        self.inventory = inv::build(
            &self.name,
            &self.network,
            opts,
            plans,
            &self.secrets.files,
            &known_path,
        );
        let text = inv::render(&self.inventory, &self.image)
            .map_err(|e| LabError::Inventory(e.to_string()))?;
        Inventory::parse(&self.inventory_path, &text)
            .map_err(|e| LabError::Inventory(e.to_string()))?;
        crate::inventory::write_atomic(&self.inventory_path, &text)
            .map_err(io(&self.inventory_path))?;
        Ok(())
    }

    /// The reverse zone of every service subnet (a `/24` each), made on
    /// DC1 with the domain administrator's password from the container's
    /// own environment (never a command line), so that a scenario's PTR
    /// records have a zone on the lab's servers; `wan`'s DC2 then pulls
    /// them with a forced replication of the DNS partition, as it serves
    /// the same AD-integrated zones.
    fn reverse_zones(
        &self,
        rt: &tokio::runtime::Runtime,
        dc: &str,
        plans: &[HostPlan],
        say: &dyn Fn(&str),
    ) -> Result<(), LabError> {
        let zones: std::collections::BTreeSet<String> = plans
            .iter()
            .filter_map(|p| reverse_zone(p.address))
            .collect();
        for z in &zones {
            say(&format!("lab {}: reverse zone {z}", self.name));
            let create = format!(
                "PASSWD=\"$DC_ADMIN_PASSWORD\" samba-tool dns zonecreate 127.0.0.1 {z} -U Administrator"
            );
            exec_ok(rt, dc, "samba-tool dns zonecreate", sh_argv(&create))?;
        }
        if self.shape == Shape::Wan {
            let base: Vec<String> = self
                .inventory
                .lab
                .domain
                .split('.')
                .map(|p| format!("DC={p}"))
                .collect();
            let nc = format!("DC=DomainDnsZones,{}", base.join(","));
            let dc2 = self.container_handle("DC2")?.id().to_string();
            let pull = format!(
                "PASSWD=\"$DC_ADMIN_PASSWORD\" samba-tool drs replicate dc2 dc1 '{nc}' -U Administrator"
            );
            exec_ok(rt, &dc2, "samba-tool drs replicate", sh_argv(&pull))?;
        }
        Ok(())
    }

    /// On the BIND of every DC: the domain's zone and the lab's reverse
    /// zones, taking the runbook's updates, and the refused zones, taking
    /// only the set-up's (`drlab-bind-zone`, in the image). Each DC's BIND
    /// is a primary of its own, as the scenario's DNS servers are: the
    /// runbook changes each of them.
    fn bind_zones(
        &self,
        rt: &tokio::runtime::Runtime,
        opts: &LabOptions,
        plans: &[HostPlan],
        say: &dyn Fn(&str),
    ) -> Result<(), LabError> {
        let mut zones: BTreeMap<String, &str> = plans
            .iter()
            .filter_map(|p| reverse_zone(p.address))
            .map(|z| (z, "allow"))
            .collect();
        zones.insert(opts.domain.to_ascii_lowercase(), "allow");
        for z in &opts.refused_zones {
            zones.insert(z.to_ascii_lowercase(), "refuse");
        }
        for p in plans.iter().filter(|p| p.role == "dc") {
            let c = self.container_handle(&p.host)?.id().to_string();
            let ns = format!("{}.{}", p.short, opts.domain.to_ascii_lowercase());
            for (zone, policy) in &zones {
                say(&format!(
                    "lab {}: BIND zone {zone} on {} ({policy} dynamic updates)",
                    self.name, p.host
                ));
                let argv = vec![
                    "drlab-bind-zone".to_string(),
                    zone.clone(),
                    ns.clone(),
                    p.address.to_string(),
                    (*policy).to_string(),
                    drlab_scenarios::format::ZONE_NEGATIVE_TTL_S_DEFAULT.to_string(),
                ];
                exec_ok(rt, &c, "drlab-bind-zone", argv)?;
            }
        }
        Ok(())
    }

    fn container_handle(&self, host: &str) -> Result<&ContainerAsync<GenericImage>, LabError> {
        self.containers
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, c)| c)
            .ok_or_else(|| LabError::Setup {
                step: "lookup".into(),
                detail: format!("no container for {host}"),
            })
    }

    /// The lab's name (the `drlab.lab` label of everything it made).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private Docker network (`wan`: the hq site's, which the
    /// inventory's `docker_network` names).
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The lab's shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// `wan`: the two sites (hq, dr), their networks and router addresses;
    /// empty for `lan`.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// `wan`: the router's container name (reach it with
    /// `exec(WAN_ROUTER.0, ..)`); `None` for `lan`.
    pub fn router_container(&self) -> Option<String> {
        (self.shape == Shape::Wan).then(|| format!("drlab-{}-{}", self.name, WAN_ROUTER.1))
    }

    /// Where the inventory was written.
    pub fn inventory_path(&self) -> &Path {
        &self.inventory_path
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The directory holding the inventory, `known_hosts` and `secrets/`.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// The image the lab runs.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// Time from `start` to ready.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// The lab's secrets (for tests that check that none leaks).
    pub fn secrets(&self) -> &LabSecrets {
        &self.secrets
    }

    /// Container name of a scenario host.
    pub fn container(&self, host: &str) -> Option<String> {
        self.inventory.host(host).and_then(|h| h.container.clone())
    }

    /// Runs a command in a host's container (as root, via the container
    /// engine, not SSH): exit code, stdout, stderr.
    pub fn exec(&self, host: &str, argv: &[&str]) -> Result<(i64, String, String), LabError> {
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| LabError::Docker("lab is down".into()))?;
        let c = self.container_handle(host)?.id().to_string();
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        block_on(rt, exec_raw(&c, argv))
    }

    /// Leaves the lab running (for `drlab lab up`): dropping the handle no
    /// longer removes it. Returns its name.
    pub fn detach(mut self) -> String {
        self.keep = true;
        // the containers must not run testcontainers' remove-on-drop
        for (_, c) in std::mem::take(&mut self.containers) {
            std::mem::forget(c);
        }
        self.name.clone()
    }

    /// Removes every container and network of the lab.
    pub fn down(mut self) -> Result<DownReport, LabError> {
        self.remove()
    }

    fn remove(&mut self) -> Result<DownReport, LabError> {
        // testcontainers' handles: forget them (removal is done by label
        // below, which also finds anything a crash left behind)
        for (_, c) in std::mem::take(&mut self.containers) {
            std::mem::forget(c);
        }
        self.keep = true;
        let r = down_by_name(&self.name);
        // the secrets open nothing once the lab is gone
        let _ = std::fs::remove_dir_all(self.out_dir.join("secrets"));
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        r
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.keep {
            let _ = self.remove();
        } else if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Removes every container and network labelled `drlab.lab=<name>`.
pub fn down_by_name(name: &str) -> Result<DownReport, LabError> {
    let label = format!("{LAB_LABEL}={name}");
    let mut report = DownReport::default();
    let ids = docker::containers_with(&label).map_err(LabError::Docker)?;
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(ids.iter().map(String::as_str));
        docker::docker(&args, 120_000).map_err(LabError::Docker)?;
        report.containers = ids.len();
    }
    for n in docker::networks_with(&label).map_err(LabError::Docker)? {
        docker::docker(&["network", "rm", &n], DOCKER_CALL_TIMEOUT_MS).map_err(LabError::Docker)?;
        report.networks += 1;
    }
    Ok(report)
}

/// Removes labs whose owning test process died (crash, kill) in this pid
/// namespace. Labs without an owner label (`drlab lab up`) are left alone.
fn reap_dead_owners(say: &dyn Fn(&str)) {
    let Ok(ids) = docker::containers_with(OWNER_PID_LABEL) else {
        return;
    };
    let ns = own_pidns();
    let mut dead = std::collections::BTreeSet::new();
    for id in ids {
        let fmt = format!(
            "{{{{index .Config.Labels \"{LAB_LABEL}\"}}}} {{{{index .Config.Labels \"{OWNER_PID_LABEL}\"}}}} {{{{index .Config.Labels \"{OWNER_PIDNS_LABEL}\"}}}}"
        );
        let Ok(line) = docker::inspect(&fmt, &id) else {
            continue;
        };
        let mut w = line.split_whitespace();
        let (Some(lab), Some(pid), Some(pidns)) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        if pidns == ns && !Path::new(&format!("/proc/{pid}")).exists() {
            dead.insert(lab.to_string());
        }
    }
    for lab in dead {
        say(&format!(
            "removing lab {lab} left by a test process that died"
        ));
        let _ = down_by_name(&lab);
    }
}

/// The service network's addresses: 10.212.x.0/24.
const SERVICE_NET_PREFIX: &str = "10.212";
/// The management network's addresses: 10.213.x.0/24.
const MANAGEMENT_NET_PREFIX: &str = "10.213";

/// Creates a lab network with a free /24 from `<prefix>.0.0/16` (a subnet
/// of our own, so that a host can be reconnected at its old address);
/// `internal` networks route nowhere beyond their members and this machine.
fn create_network(
    network: &str,
    lab: &str,
    keep: bool,
    prefix: &str,
    internal: bool,
) -> Result<String, LabError> {
    const SUBNET_TRIES_MAX: u32 = 64;
    let start = std::process::id() % 250;
    let mut last = String::new();
    let pid = std::process::id().to_string();
    let ns = own_pidns();
    for i in 0..SUBNET_TRIES_MAX {
        let octet = (start + i * 7) % 250 + 1;
        let subnet = format!("{prefix}.{octet}.0/24");
        let lab_label = format!("{LAB_LABEL}={lab}");
        let pid_label = format!("{OWNER_PID_LABEL}={pid}");
        let ns_label = format!("{OWNER_PIDNS_LABEL}={ns}");
        let mut args = vec!["network", "create", "--label", &lab_label];
        if !keep {
            args.extend(["--label", &pid_label, "--label", &ns_label]);
        }
        if internal {
            args.push("--internal");
        }
        args.extend(["--subnet", &subnet, network]);
        match docker::docker(&args, DOCKER_CALL_TIMEOUT_MS) {
            Ok(_) => return Ok(subnet),
            Err(e) if e.contains("overlap") || e.contains("Pool") => last = e,
            Err(e) => return Err(LabError::Docker(e)),
        }
    }
    Err(LabError::Docker(format!(
        "no free {prefix}.x.0/24 after {SUBNET_TRIES_MAX} tries ({last})"
    )))
}

/// `c.b.a.in-addr.arpa`, the reverse zone of the `/24` holding `a.b.c.d`
/// (RFC 1035 §3.5); none for IPv6.
fn reverse_zone(a: IpAddr) -> Option<String> {
    let IpAddr::V4(a) = a else { return None };
    let [a, b, c, _] = a.octets();
    Some(format!("{c}.{b}.{a}.in-addr.arpa"))
}

/// `sh -c SCRIPT`.
fn sh_argv(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// Limit of one command run in a container during set-up or by [`Lab::exec`].
pub const EXEC_TIMEOUT_MS: u64 = 120_000;

/// Runs a command in a container (`docker exec`, as root): exit code,
/// stdout, stderr. The CLI rather than testcontainers' exec, whose handles
/// cannot be shared across threads.
async fn exec_raw(id: &str, argv: Vec<String>) -> Result<(i64, String, String), LabError> {
    let mut cmd = tokio::process::Command::new("docker");
    cmd.arg("exec")
        .arg(id)
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_millis(EXEC_TIMEOUT_MS), cmd.output())
        .await
        .map_err(|_| LabError::Docker(format!("docker exec timed out after {EXEC_TIMEOUT_MS} ms")))?
        .map_err(|e| LabError::Docker(format!("docker exec: {e}")))?;
    Ok((
        i64::from(out.status.code().unwrap_or(-1)),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Runs a set-up command that must succeed; its stdout.
fn exec_ok(
    rt: &tokio::runtime::Runtime,
    id: &str,
    step: &str,
    argv: Vec<String>,
) -> Result<String, LabError> {
    let (code, out, err) = block_on(rt, exec_raw(id, argv))?;
    if code == 0 {
        Ok(out)
    } else {
        Err(LabError::Setup {
            step: step.into(),
            detail: format!(
                "exit {code}: {}",
                err.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
            ),
        })
    }
}

/// Where a container starts: its first network, its DNS servers (none:
/// Docker's default), and whether it forwards IP (the wan router).
struct Placement {
    network: String,
    dns: Vec<IpAddr>,
    forwarding: bool,
    /// `wan`: the other site's subnet and the router's address on this
    /// one; the entrypoint sets the route at every start (`DRLAB_ROUTE`).
    route: Option<(String, IpAddr)>,
}

/// What the async part of `start` needs.
struct StartCtx<'a> {
    name: String,
    network: String,
    management: String,
    image: String,
    opts: LabOptions,
    secrets: &'a LabSecrets,
    keep: bool,
    /// `wan`: (site, network, subnet) of hq and dr; empty for `lan`.
    site_nets: Vec<(String, String, String)>,
}

impl StartCtx<'_> {
    fn container_name(&self, short: &str) -> String {
        format!("drlab-{}-{short}", self.name)
    }

    async fn run(
        &self,
        host: &str,
        short: &str,
        role: &str,
        env: Vec<(String, String)>,
        dns: Option<IpAddr>,
    ) -> Result<ContainerAsync<GenericImage>, LabError> {
        let at = Placement {
            network: self.network.clone(),
            dns: dns.into_iter().collect(),
            forwarding: false,
            route: None,
        };
        self.run_on(at, host, short, role, env).await
    }

    /// Starts a container on `at.network` (see [`Placement`]).
    async fn run_on(
        &self,
        at: Placement,
        host: &str,
        short: &str,
        role: &str,
        env: Vec<(String, String)>,
    ) -> Result<ContainerAsync<GenericImage>, LabError> {
        let Placement {
            network,
            dns,
            forwarding,
            route,
        } = at;
        let (repo, tag) = self
            .image
            .rsplit_once(':')
            .unwrap_or((&self.image, "latest"));
        let domain = self.opts.domain.clone();
        let mut req = GenericImage::new(repo, tag)
            .with_wait_for(WaitFor::Nothing)
            .with_container_name(self.container_name(short))
            .with_hostname(short)
            .with_network(network)
            .with_label(LAB_LABEL, self.name.clone())
            .with_label("drlab.host", host)
            .with_label("drlab.role", role)
            // routes and tc for the partition and link faults
            .with_cap_add("NET_ADMIN")
            .with_startup_timeout(Duration::from_secs(120))
            .with_host_config_modifier(move |hc: &mut HostConfig| {
                // tini as PID 1 reaps processes re-parented to it (services
                // started over ssh or docker exec that exit later)
                hc.init = Some(true);
                // nothing of the lab is published on the host
                hc.publish_all_ports = Some(false);
                if !dns.is_empty() {
                    hc.dns = Some(dns.iter().map(IpAddr::to_string).collect());
                    hc.dns_search = Some(vec![domain.clone()]);
                }
                if forwarding {
                    // the wan router forwards between the sites
                    hc.sysctls = Some(std::collections::HashMap::from([(
                        "net.ipv4.ip_forward".to_string(),
                        "1".to_string(),
                    )]));
                }
            });
        if !self.keep {
            req = req
                .with_label(OWNER_PID_LABEL, std::process::id().to_string())
                .with_label(OWNER_PIDNS_LABEL, own_pidns());
        }
        req = req.with_env_var("ROLE", role);
        if let Some((subnet, via)) = route {
            req = req.with_env_var("DRLAB_ROUTE", format!("{subnet} via {via}"));
        }
        for (k, v) in env {
            req = req.with_env_var(k, v);
        }
        req.start().await.map_err(|e| LabError::Start {
            host: host.into(),
            detail: e.to_string(),
        })
    }

    fn common_env(&self, sshd: bool) -> Vec<(String, String)> {
        vec![
            ("SSHD".into(), if sshd { "1" } else { "0" }.into()),
            ("ROOT_PASSWORD".into(), self.secrets.root.expose().into()),
            (
                "SSH_AUTHORIZED_KEYS".into(),
                self.secrets.ssh_public.clone(),
            ),
            (
                "SSH_PRIVATE_KEY".into(),
                self.secrets.ssh_private.expose().trim_end().into(),
            ),
        ]
    }

    /// A domain controller's environment: the domain, its administrator's
    /// password, the DC it joins (none: it provisions the domain), and in a
    /// lab with refused zones BIND on [`BIND_PORT`] with the lab's two keys.
    fn dc_env(&self, join: Option<IpAddr>) -> Vec<(String, String)> {
        let mut env = self.common_env(true);
        env.extend([
            ("DC_REALM".into(), self.opts.domain.to_uppercase()),
            ("DC_DOMAIN".into(), self.opts.netbios_domain.clone()),
            (
                "DC_ADMIN_PASSWORD".into(),
                self.secrets.admin.expose().into(),
            ),
        ]);
        if let Some(j) = join {
            env.push(("DC_JOIN".into(), j.to_string()));
        }
        if self.opts.runs_bind() {
            env.extend([
                ("DC_BIND_PORT".into(), BIND_PORT.to_string()),
                (
                    "DC_BIND_UPDATE_KEY".into(),
                    self.secrets.dns_update.expose().into(),
                ),
                (
                    "DC_BIND_ADMIN_KEY".into(),
                    self.secrets.dns_admin.expose().into(),
                ),
            ]);
        }
        env
    }

    fn mail_env(&self, replicate_to: Option<IpAddr>, standby: bool) -> Vec<(String, String)> {
        let mut env = self.common_env(true);
        env.extend([
            ("MAIL_DOMAIN".into(), self.opts.domain.clone()),
            ("MAIL_USERS".into(), self.opts.mailboxes.join(",")),
            ("MAIL_PASSWORD".into(), self.secrets.mail.expose().into()),
            ("MAIL_DATA".into(), inv::MAIL_ROOT.into()),
            (
                "SVC_STARTUP".into(),
                if standby { "manual" } else { "automatic" }.into(),
            ),
        ]);
        if let Some(t) = replicate_to {
            env.push(("MAIL_REPLICATE_TO".into(), t.to_string()));
        }
        env
    }

    async fn address(&self, host: &str, id: &str) -> Result<IpAddr, LabError> {
        self.address_on(&self.network, host, id).await
    }

    /// A started host as the inventory sees it: its address on `network`,
    /// and on the management network, which it joins here.
    async fn plan(
        &self,
        network: &str,
        host: &str,
        short: &str,
        role: &str,
        id: &str,
    ) -> Result<HostPlan, LabError> {
        Ok(HostPlan {
            host: host.into(),
            short: short.into(),
            role: role.into(),
            address: self.address_on(network, host, id).await?,
            management: self.join_management(host, id).await?,
            container: self.container_name(short),
        })
    }

    /// Joins the container to the management network; its address there.
    async fn join_management(&self, host: &str, id: &str) -> Result<IpAddr, LabError> {
        let (net, id2) = (self.management.clone(), id.to_string());
        tokio::task::spawn_blocking(move || {
            docker::docker(&["network", "connect", &net, &id2], DOCKER_CALL_TIMEOUT_MS)
        })
        .await
        .map_err(|e| LabError::Docker(e.to_string()))?
        .map_err(LabError::Docker)?;
        self.address_on(&self.management, host, id).await
    }

    async fn address_on(&self, network: &str, host: &str, id: &str) -> Result<IpAddr, LabError> {
        let fmt = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
        let id = id.to_string();
        let out = tokio::task::spawn_blocking(move || docker::inspect(&fmt, &id))
            .await
            .map_err(|e| LabError::Docker(e.to_string()))?
            .map_err(LabError::Docker)?;
        out.parse().map_err(|_| LabError::Start {
            host: host.into(),
            detail: format!("no address on {network} ({out:?})"),
        })
    }

    async fn wait_ready(&self, host: &str, id: &str, limit: Duration) -> Result<(), LabError> {
        const POLL_MS: u64 = 250;
        let t0 = Instant::now();
        loop {
            let (code, _, _) = exec_raw(
                id,
                vec!["test".into(), "-e".into(), "/run/drlab-ready".into()],
            )
            .await
            .unwrap_or((1, String::new(), String::new()));
            if code == 0 {
                return Ok(());
            }
            let id2 = id.to_string();
            let running =
                tokio::task::spawn_blocking(move || docker::inspect("{{.State.Running}}", &id2))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .is_some_and(|s| s == "true");
            if !running || t0.elapsed() >= limit {
                let id2 = id.to_string();
                // the entrypoint logs on stderr; it never logs a secret
                let tail = tokio::task::spawn_blocking(move || {
                    std::process::Command::new("docker")
                        .args(["logs", "--tail", "15", &id2])
                        .output()
                        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                        .unwrap_or_default()
                })
                .await
                .unwrap_or_default();
                return Err(LabError::NotReady {
                    host: host.into(),
                    detail: format!(
                        "{} after {:.0} s; log tail:\n{}",
                        if running {
                            "still not ready"
                        } else {
                            "container exited"
                        },
                        t0.elapsed().as_secs_f64(),
                        tail.trim_end()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
        }
    }

    /// Starts the four containers: the DC first (its address is everyone's
    /// DNS server), the standby mail host and the client with it, then the
    /// active mail host (which replicates to the standby, so it must be up).
    async fn start_all(
        &self,
    ) -> Result<(Vec<(String, ContainerAsync<GenericImage>)>, Vec<HostPlan>), LabError> {
        let say = |m: &str| {
            if let Some(p) = &self.opts.progress {
                p(m)
            }
        };
        let limit = Duration::from_secs(self.opts.ready_timeout_s);
        let quick = Duration::from_secs(60.min(self.opts.ready_timeout_s));
        let [dc_h, exch1_h, exch2_h, client_h] = HOSTS;
        say(&format!(
            "lab {}: starting {} ({})",
            self.name,
            dc_h.0,
            self.container_name(dc_h.1)
        ));
        let dc = self
            .run(dc_h.0, dc_h.1, dc_h.2, self.dc_env(None), None)
            .await?;
        let dc_ip = self.address(dc_h.0, dc.id()).await?;

        say(&format!(
            "lab {}: starting {} and {}",
            self.name, exch2_h.0, client_h.0
        ));
        let (exch2, client) = tokio::join!(
            self.run(
                exch2_h.0,
                exch2_h.1,
                exch2_h.2,
                self.mail_env(None, true),
                Some(dc_ip)
            ),
            self.run(
                client_h.0,
                client_h.1,
                client_h.2,
                self.common_env(true),
                Some(dc_ip)
            ),
        );
        let (exch2, client) = (exch2?, client?);
        let exch2_ip = self.address(exch2_h.0, exch2.id()).await?;
        self.wait_ready(exch2_h.0, exch2.id(), quick).await?;
        say(&format!(
            "lab {}: {} ready; starting {} (replicating to {exch2_ip})",
            self.name, exch2_h.0, exch1_h.0
        ));
        let exch1 = self
            .run(
                exch1_h.0,
                exch1_h.1,
                exch1_h.2,
                self.mail_env(Some(exch2_ip), false),
                Some(dc_ip),
            )
            .await?;
        let (r1, r2, r3) = tokio::join!(
            self.wait_ready(exch1_h.0, exch1.id(), quick),
            self.wait_ready(client_h.0, client.id(), quick),
            self.wait_ready(dc_h.0, dc.id(), limit),
        );
        r1?;
        r2?;
        r3?;
        say(&format!("lab {}: every container is ready", self.name));
        let mut plans = Vec::new();
        let mut containers = Vec::new();
        for ((host, short, role), c) in [
            (dc_h, dc),
            (exch1_h, exch1),
            (exch2_h, exch2),
            (client_h, client),
        ] {
            plans.push(self.plan(&self.network, host, short, role, c.id()).await?);
            containers.push((host.to_string(), c));
        }
        Ok((containers, plans))
    }

    /// Connects a started container to a further network; its address there.
    async fn connect(&self, network: &str, host: &str, id: &str) -> Result<IpAddr, LabError> {
        let (net, id2) = (network.to_string(), id.to_string());
        tokio::task::spawn_blocking(move || {
            docker::docker(&["network", "connect", &net, &id2], DOCKER_CALL_TIMEOUT_MS)
        })
        .await
        .map_err(|e| LabError::Docker(e.to_string()))?
        .map_err(LabError::Docker)?;
        self.address_on(network, host, id).await
    }

    /// The wan lab: the router on both site networks, DC1 (a new domain),
    /// EXCH1 and CLIENT1 at hq, DC2 (joining the domain as a second DC)
    /// and EXCH2 at dr, each routing the other site via the router, then
    /// the WAN bandwidth on the router's interfaces. DC2 and the dr mail
    /// host ask DC2's DNS first, DC1's second; the hq hosts DC1's.
    async fn start_all_wan(
        &self,
    ) -> Result<
        (
            Vec<(String, ContainerAsync<GenericImage>)>,
            Vec<HostPlan>,
            Vec<Site>,
        ),
        LabError,
    > {
        let say = |m: &str| {
            if let Some(p) = &self.opts.progress {
                p(m)
            }
        };
        let limit = Duration::from_secs(self.opts.ready_timeout_s);
        let quick = Duration::from_secs(60.min(self.opts.ready_timeout_s));
        let [(_, hq_net, hq_subnet), (_, dr_net, dr_subnet)] = match self.site_nets.as_slice() {
            [a, b] => [a.clone(), b.clone()],
            _ => {
                return Err(LabError::Setup {
                    step: "wan networks".into(),
                    detail: "the wan lab needs the hq and dr networks".into(),
                });
            }
        };
        // the router: no sshd, no secret in its environment
        let (rh, rs) = WAN_ROUTER;
        say(&format!(
            "lab {}: starting the router ({})",
            self.name,
            self.container_name(rs)
        ));
        let router = self
            .run_on(
                Placement {
                    network: hq_net.clone(),
                    dns: Vec::new(),
                    forwarding: true,
                    route: None,
                },
                rh,
                rs,
                "client",
                vec![("SSHD".into(), "0".into())],
            )
            .await?;
        let router_hq = self.address_on(&hq_net, rh, router.id()).await?;
        let router_dr = self.connect(&dr_net, rh, router.id()).await?;
        say(&format!(
            "lab {}: router {router_hq} (hq {hq_subnet}) / {router_dr} (dr {dr_subnet})",
            self.name
        ));
        // the route of a host on `site` to the other site's subnet
        let via = |site: &str| match site {
            "hq" => (dr_subnet.clone(), router_hq),
            _ => (hq_subnet.clone(), router_dr),
        };
        // a host on `site`'s network, asking `dns`, routing the other site
        // through the router (the entrypoint sets it at every start)
        let on = |site: &str, dns: Vec<IpAddr>| Placement {
            network: if site == "hq" {
                hq_net.clone()
            } else {
                dr_net.clone()
            },
            dns,
            forwarding: false,
            route: Some(via(site)),
        };
        let host_def = |h: &str| {
            WAN_HOSTS
                .iter()
                .copied()
                .find(|w| w.0 == h)
                .ok_or_else(|| LabError::Setup {
                    step: "wan hosts".into(),
                    detail: format!("no {h}"),
                })
        };
        let (dc1_h, exch1_h, exch2_h, client_h, dc2_h) = (
            host_def("DC1")?,
            host_def("EXCH1")?,
            host_def("EXCH2")?,
            host_def("CLIENT1")?,
            host_def("DC2")?,
        );
        say(&format!("lab {}: starting {} at hq", self.name, dc1_h.0));
        let dc1 = self
            .run_on(
                on(dc1_h.3, Vec::new()),
                dc1_h.0,
                dc1_h.1,
                dc1_h.2,
                self.dc_env(None),
            )
            .await?;
        let dc1_ip = self.address_on(&hq_net, dc1_h.0, dc1.id()).await?;

        say(&format!(
            "lab {}: starting {} (joining the domain via {dc1_ip}), {} at dr and {} at hq",
            self.name, dc2_h.0, exch2_h.0, client_h.0
        ));
        let (dc2, client) = tokio::join!(
            self.run_on(
                on(dc2_h.3, vec![dc1_ip]),
                dc2_h.0,
                dc2_h.1,
                dc2_h.2,
                self.dc_env(Some(dc1_ip))
            ),
            self.run_on(
                on(client_h.3, vec![dc1_ip]),
                client_h.0,
                client_h.1,
                client_h.2,
                self.common_env(true)
            ),
        );
        let (dc2, client) = (dc2?, client?);
        let dc2_ip = self.address_on(&dr_net, dc2_h.0, dc2.id()).await?;
        let exch2 = self
            .run_on(
                on(exch2_h.3, vec![dc2_ip, dc1_ip]),
                exch2_h.0,
                exch2_h.1,
                exch2_h.2,
                self.mail_env(None, true),
            )
            .await?;
        let exch2_ip = self.address_on(&dr_net, exch2_h.0, exch2.id()).await?;
        self.wait_ready(exch2_h.0, exch2.id(), quick).await?;
        say(&format!(
            "lab {}: {} ready; starting {} at hq (replicating to {exch2_ip} via the router)",
            self.name, exch2_h.0, exch1_h.0
        ));
        let exch1 = self
            .run_on(
                on(exch1_h.3, vec![dc1_ip]),
                exch1_h.0,
                exch1_h.1,
                exch1_h.2,
                self.mail_env(Some(exch2_ip), false),
            )
            .await?;
        let (r1, r2, r3, r4) = tokio::join!(
            self.wait_ready(exch1_h.0, exch1.id(), quick),
            self.wait_ready(client_h.0, client.id(), quick),
            self.wait_ready(dc1_h.0, dc1.id(), limit),
            self.wait_ready(dc2_h.0, dc2.id(), limit),
        );
        r1?;
        r2?;
        r3?;
        r4?;
        say(&format!("lab {}: every container is ready", self.name));
        if let Some(mbps) = self.opts.wan_bandwidth_mbps {
            let rate = drlab_real::faults::rate_kbit(mbps).map_err(|e| LabError::Setup {
                step: "wan bandwidth".into(),
                detail: e.to_string(),
            })?;
            // a token bucket on each of the router's interfaces, found by
            // its address inside the script
            for own in [router_hq, router_dr] {
                let script = drlab_real::faults::tbf_script(own, rate);
                let (code, _, err) =
                    exec_raw(router.id(), vec!["sh".into(), "-c".into(), script]).await?;
                if code != 0 {
                    return Err(LabError::Setup {
                        step: format!("tc tbf {rate}kbit on the router's {own}"),
                        detail: format!("exit {code}: {}", err.trim()),
                    });
                }
            }
            say(&format!(
                "lab {}: WAN link {mbps} Mbit/s (tbf {rate} kbit/s on {router_hq} and {router_dr})",
                self.name
            ));
        }
        let mut plans = Vec::new();
        let mut containers = Vec::new();
        let mut by_host = vec![
            (dc1_h, dc1),
            (exch1_h, exch1),
            (exch2_h, exch2),
            (client_h, client),
            (dc2_h, dc2),
        ];
        let mut sites = vec![
            Site {
                name: "hq".into(),
                network: hq_net.clone(),
                subnet: hq_subnet.clone(),
                router: router_hq,
                hosts: Vec::new(),
            },
            Site {
                name: "dr".into(),
                network: dr_net.clone(),
                subnet: dr_subnet.clone(),
                router: router_dr,
                hosts: Vec::new(),
            },
        ];
        for ((host, short, role, site), c) in by_host.drain(..) {
            let net = if site == "hq" { &hq_net } else { &dr_net };
            plans.push(self.plan(net, host, short, role, c.id()).await?);
            if let Some(s) = sites.iter_mut().find(|s| s.name == site) {
                s.hosts.push(host.to_string());
            }
            containers.push((host.to_string(), c));
        }
        containers.push((rh.to_string(), router));
        Ok((containers, plans, sites))
    }
}
