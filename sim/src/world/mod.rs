//! The simulated estate: every piece of state the interface can observe or
//! change, built from a scenario. Methods take the current drill time and
//! return durations for the backend to sleep; the world itself never waits.
//!
//! Large transfers (replication, mirrors, restores) are flows over links with
//! bandwidth and latency whose effects are settled lazily: every observer
//! calls [`World::settle`] first, so nothing needs a per-packet event.

mod cow;
pub mod directory;
mod dns;
pub mod fabric;
mod hosts;
mod replication;
mod san;
mod services;
mod stores;
mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::SeqSet;
use drlab_drivers::types::{ReplicaHeld, ServiceState, StartupType, StoreRef};
use drlab_scenarios::format::{ExchangeRole, LinkSpec, Role, Scenario, Timing};

use crate::rng::SimRng;

pub use cow::{CowMap, CowVec};
pub use directory::{Change, Directory};
pub use dns::{Resolver, ZoneData};
pub use fabric::{ArchiveDisk, Fabric, Server};
pub use replication::Pair;
pub use san::{Archive, Volume};
pub use workload::Served;

type Micros = u64;

/// Seconds as a duration, nanosecond-truncated (cheaper than
/// `Duration::from_secs_f64`, which the hot path calls per write); negative
/// and NaN become zero, huge values saturate.
pub fn secs_f(s: f64) -> Duration {
    Duration::from_nanos((s * 1e9) as u64)
}

fn us(d: Duration) -> Micros {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// Name → index of the first item of each name (what a linear search from
/// the start finds), for lookups only: never iterated for behaviour.
fn first_index<K: Ord>(names: impl Iterator<Item = K>) -> BTreeMap<K, usize> {
    let mut m = BTreeMap::new();
    for (i, n) in names.enumerate() {
        m.entry(n).or_insert(i);
    }
    m
}

/// A site and its LAN.
#[derive(Debug, Clone)]
pub struct Site {
    /// Name.
    pub name: String,
    /// LAN parameters.
    pub lan: LinkSpec,
}

/// A service on a host.
#[derive(Debug, Clone)]
pub struct Service {
    /// Name.
    pub name: Arc<str>,
    /// State as the service manager reports it.
    pub state: ServiceState,
    /// When a running service becomes able to serve.
    pub ready_at: Micros,
    /// Indexes of services that must be ready before this one starts.
    pub requires: Vec<usize>,
    /// Startup type.
    pub startup: StartupType,
    /// Whether a start was attempted since the last boot.
    pub attempted_since_boot: bool,
    /// Its process died (`kill-service`) and nothing has started, stopped
    /// or booted it since: what a service manager's recovery restarts.
    pub failed: bool,
}

impl Service {
    /// Running and past its readiness delay.
    pub fn ready(&self, now: Micros) -> bool {
        self.state == ServiceState::Running && now >= self.ready_at
    }

    /// Hung (`hang-service`): running for its service manager, never ready.
    pub fn hung(&self) -> bool {
        self.state == ServiceState::Running && self.ready_at == Micros::MAX
    }
}

/// How consistent a store's database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Cleanly shut down or mounted.
    Clean,
    /// The host died with the store mounted: logs must replay (soft recovery).
    DirtyShutdown,
    /// Damaged: only a hard recovery or a restore fixes it.
    Corrupt,
}

/// A mail store on a host.
#[derive(Debug, Clone)]
pub struct Store {
    /// Group and name.
    pub id: StoreRef,
    /// Database file name.
    pub file: Arc<str>,
    /// Log prefix of its group.
    pub prefix: Arc<str>,
    /// Public folder store.
    pub public: bool,
    /// Database size before workload records.
    pub base_bytes: u64,
    /// Mounted.
    pub mounted: bool,
    /// "Can be overwritten by a restore".
    pub overwrite: bool,
    /// The database came from another server (replica): mounting needs `overwrite`.
    pub foreign: bool,
    /// Consistency.
    pub consistency: Consistency,
    /// Workload records held.
    pub records: SeqSet,
    /// Bytes of workload records held.
    pub record_bytes: u64,
    /// Last modification time of the database files.
    pub modified_at: Micros,
    /// Replication, a mirror or a restore from a replica put records in it
    /// while it was dismounted, since it was last mounted: mounting it is
    /// a takeover ([`World::replicas_held`]).
    pub replica: bool,
}

/// A simulated server.
#[derive(Debug, Clone)]
pub struct Host {
    /// The scenario's name for it (stable identity for the interface).
    pub name: Arc<str>,
    /// Current computer name.
    pub computer_name: String,
    /// Computer name that takes effect at the next boot.
    pub pending_name: Option<String>,
    /// Site index.
    pub site: usize,
    /// Addresses it currently holds.
    pub ips: Vec<Ipv4Addr>,
    /// Powered and running.
    pub up: bool,
    /// Incremented at every crash and boot, so operations in flight notice.
    pub epoch: u32,
    /// Domain it belongs to.
    pub domain: Option<String>,
    /// Names of other servers it answers to (name takeover).
    pub aliases: Vec<String>,
    /// The DC it talks to.
    pub dc: Option<usize>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Exchange services (empty when not an Exchange host).
    pub services: Vec<Service>,
    /// Mail stores.
    pub stores: Vec<Store>,
    /// iSCSI initiator name.
    pub initiator: String,
}

impl Host {
    /// Index of a service by name.
    pub fn service(&self, name: &str) -> Result<usize, OpError> {
        self.services
            .iter()
            .position(|s| &*s.name == name)
            .ok_or_else(|| OpError::not_found(format!("service {name} on {}", self.name)))
    }

    /// Index of a store.
    pub fn store(&self, id: &StoreRef) -> Result<usize, OpError> {
        self.stores
            .iter()
            .position(|s| s.id == *id)
            .ok_or_else(|| OpError::not_found(format!("store {id} on {}", self.name)))
    }
}

/// An end-user population.
#[derive(Debug, Clone)]
pub struct Client {
    /// Name.
    pub name: Arc<str>,
    /// Site index.
    pub site: usize,
    /// DNS server host index.
    pub dns_server: usize,
    /// Resolver and its cache.
    pub resolver: Resolver,
}

/// One end of a path: a host or a client population.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A host index.
    Host(usize),
    /// A client index.
    Client(usize),
}

/// The whole simulated estate. A clone is a run's fresh copy of a
/// prepared world ([`crate::Prepared`]): what is large and shared
/// (hosts, names, directory accounts) is copied on write.
#[derive(Debug, Clone)]
pub struct World {
    /// The run's one RNG.
    pub rng: SimRng,
    /// Timing profile.
    pub timing: Timing,
    /// Sites.
    pub sites: Vec<Site>,
    /// WAN links by (lower, higher) site index.
    pub wan: BTreeMap<(usize, usize), LinkSpec>,
    /// Cut paths, as unordered pairs of site or host names.
    pub partitions: BTreeSet<(String, String)>,
    /// Hosts (copied on write: a run copies the hosts it changes).
    pub hosts: CowVec<Host>,
    /// Clients (copied on write, as hosts are).
    pub clients: CowVec<Client>,
    /// Per host index: the addresses it held at build, its own (a
    /// released takeover gives them back).
    home_ips: Rc<Vec<Vec<Ipv4Addr>>>,
    /// Which host holds each address (copied on write).
    pub ip_owner: CowMap<Ipv4Addr, usize>,
    /// DNS data per server host index.
    pub zones: BTreeMap<usize, Vec<ZoneData>>,
    /// Active Directory.
    pub directory: Directory,
    /// Replication connections (added only through [`World::add_pair`],
    /// which keeps their indexes).
    pub pairs: Vec<Pair>,
    /// SAN volumes.
    pub volumes: Vec<Volume>,
    /// Archives taken.
    pub archives: Vec<Archive>,
    /// Physical servers, VLAN networks, volumes backing stores, the DAG,
    /// archive disks.
    pub fabric: Fabric,
    /// Service names an end-user operation needs on the serving host.
    pub user_path: Vec<Arc<str>>,
    /// Their indexes in every Exchange host's service list (all Exchange
    /// hosts share the organisation's service set, in its order).
    pub user_path_ix: Vec<usize>,
    /// The service that hosts the stores.
    pub store_service: Arc<str>,
    /// Error messages of the user path, built once (a failed write costs
    /// an `Arc` clone, not a `format!`).
    messages: BTreeMap<(Msg, usize, usize), Arc<str>>,
    /// Host index by scenario name (names never change; built once).
    host_by_name: Rc<BTreeMap<Arc<str>, usize>>,
    /// Client index by name (built once).
    client_by_name: Rc<BTreeMap<Arc<str>, usize>>,
    /// Replication connections by (source, target): the first one of each.
    pair_by_ends: BTreeMap<(usize, usize), usize>,
    /// Per host index: the connections from it, in connection order
    /// (copied when a run adds one).
    pairs_from: Rc<Vec<Vec<usize>>>,
    /// Connections that may have writes to apply, by (earliest time one
    /// may be applied, connection): a lower bound of each one's first
    /// queued write, so [`World::settle`] visits only connections where
    /// something arrived instead of sweeping them all.
    due: BTreeSet<(Micros, usize)>,
    /// Per connection: its key in `due` (`Micros::MAX`: none).
    pair_due: Vec<Micros>,
    /// `settle`'s list of connections to visit, kept for its allocation.
    ready: Vec<usize>,
    /// What each replica store held when it was taken over (mounted on a
    /// replication target), in time order, at most [`REPLICAS_HELD_MAX`].
    pub replicas_held: Vec<ReplicaHeld>,
}

/// The most takeovers [`World::replicas_held`] keeps: a drill mounts a
/// replica a few times (a failover, a switch-back); a runbook that
/// remounts more often keeps the first ones.
pub const REPLICAS_HELD_MAX: usize = 64;

/// Which memoised message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Msg {
    NotServing,
    Dismounted,
}

impl World {
    /// Builds the estate of a (validated) scenario.
    pub fn build(s: &Scenario, seed: u64) -> World {
        let sites: Vec<Site> = s
            .sites
            .iter()
            .map(|x| Site {
                name: x.name.clone(),
                lan: x.lan,
            })
            .collect();
        // Names resolve through indexes built once (the first of a name,
        // as a linear search would find it), so building is linear in the
        // estate.
        let site_by_name = first_index(sites.iter().map(|x| x.name.as_str()));
        let site_ix = |n: &str| *site_by_name.get(n).expect("validated site");
        let mut wan = BTreeMap::new();
        for l in &s.links {
            let (a, b) = (site_ix(&l.between[0]), site_ix(&l.between[1]));
            wan.insert((a.min(b), a.max(b)), l.spec());
        }
        let host_by_def = first_index(s.hosts.iter().map(|h| h.name.as_str()));
        let host_ix = |n: &str| host_by_def.get(n).copied();
        let dcs: Vec<usize> = s
            .domain
            .iter()
            .flat_map(|d| d.controllers.iter().filter_map(|c| host_ix(c)))
            .collect();
        let exchange_services = s
            .exchange
            .as_ref()
            .map(|x| x.services.as_slice())
            .unwrap_or(&[]);
        // Shared by every Exchange host: the service names and what each requires.
        let service_names: Vec<Arc<str>> = exchange_services
            .iter()
            .map(|d| Arc::from(d.name.as_str()))
            .collect();
        let service_ix = first_index(exchange_services.iter().map(|d| d.name.as_str()));
        let requires: Vec<Vec<usize>> = exchange_services
            .iter()
            .map(|d| {
                d.requires
                    .iter()
                    .filter_map(|r| service_ix.get(r.as_str()).copied())
                    .collect()
            })
            .collect();
        let mut hosts = Vec::new();
        let mut ip_owner = BTreeMap::new();
        for (i, h) in s.hosts.iter().enumerate() {
            let site = site_ix(&h.site);
            let dc = h.dc.as_deref().and_then(host_ix).or_else(|| {
                dcs.iter()
                    .copied()
                    .find(|&d| s.hosts[d].site == h.site)
                    .or(dcs.first().copied())
            });
            let (services, stores) = match &h.exchange {
                None => (Vec::new(), Vec::new()),
                Some(x) => {
                    let active = x.state == ExchangeRole::Active;
                    let services = service_names
                        .iter()
                        .zip(&requires)
                        .map(|(name, requires)| Service {
                            name: name.clone(),
                            state: if active {
                                ServiceState::Running
                            } else {
                                ServiceState::Stopped
                            },
                            ready_at: 0,
                            requires: requires.clone(),
                            startup: x.startup,
                            attempted_since_boot: active,
                            failed: false,
                        })
                        .collect();
                    let stores = drlab_scenarios::exchange::groups_of(s, h)
                        .iter()
                        .flat_map(|g| {
                            g.stores.iter().map(move |st| Store {
                                id: StoreRef::new(g.name.as_str(), st.name.as_str()),
                                file: st.file.as_str().into(),
                                prefix: g.prefix.as_str().into(),
                                public: st.public,
                                base_bytes: (st.size_mb * 1024.0 * 1024.0) as u64,
                                mounted: active,
                                overwrite: false,
                                foreign: false,
                                consistency: Consistency::Clean,
                                records: SeqSet::new(),
                                record_bytes: 0,
                                modified_at: 0,
                                replica: false,
                            })
                        })
                        .collect();
                    (services, stores)
                }
            };
            ip_owner.insert(h.ip, i);
            hosts.push(Host {
                name: h.name.as_str().into(),
                computer_name: h.name.clone(),
                pending_name: None,
                site,
                ips: vec![h.ip],
                up: true,
                epoch: 0,
                domain: s.domain.as_ref().map(|d| d.name.clone()),
                aliases: Vec::new(),
                dc,
                roles: h.roles.clone(),
                services,
                stores,
                initiator: drlab_drivers::types::default_initiator(&h.name),
            });
        }
        let clients: CowVec<Client> = s
            .clients
            .iter()
            .map(|c| Client {
                name: c.name.as_str().into(),
                site: site_ix(&c.site),
                dns_server: host_ix(&c.dns_server).expect("validated dns server"),
                resolver: Resolver::new(drlab_scenarios::dns::rules_of(c)),
            })
            .collect();
        let zones = dns::build_zones(s, &host_ix);
        // Directory entries share the hosts' store references (cheap
        // equality): the first host's, in host order.
        let mut first_ref: BTreeMap<StoreRef, StoreRef> = BTreeMap::new();
        for st in hosts.iter().flat_map(|h: &Host| h.stores.iter()) {
            first_ref
                .entry(st.id.clone())
                .or_insert_with(|| st.id.clone());
        }
        let canonical = |r: StoreRef| first_ref.get(&r).cloned().unwrap_or(r);
        let directory = Directory::build(s, &dcs, &canonical);
        let host_by_name = Rc::new(first_index(hosts.iter().map(|h: &Host| h.name.clone())));
        let client_by_name = Rc::new(first_index(clients.iter().map(|c: &Client| c.name.clone())));
        let pairs_from = Rc::new(vec![Vec::new(); hosts.len()]);
        let home_ips = Rc::new(hosts.iter().map(|h: &Host| h.ips.clone()).collect());
        let hosts: CowVec<Host> = hosts.into_iter().collect();
        let mut world = World {
            messages: BTreeMap::new(),
            host_by_name,
            client_by_name,
            pair_by_ends: BTreeMap::new(),
            pairs_from,
            due: BTreeSet::new(),
            pair_due: Vec::new(),
            ready: Vec::new(),
            replicas_held: Vec::new(),

            rng: SimRng::new(seed),
            timing: s.timing.clone(),
            sites,
            wan,
            partitions: BTreeSet::new(),
            hosts,
            clients,
            home_ips,
            ip_owner: CowMap::new(ip_owner),
            zones,
            directory,
            pairs: Vec::new(),
            volumes: Vec::new(),
            archives: Vec::new(),
            fabric: Fabric::default(),
            user_path: s
                .exchange
                .iter()
                .flat_map(|x| x.user_path_services.iter().map(|n| Arc::from(n.as_str())))
                .collect(),
            user_path_ix: s
                .exchange
                .iter()
                .flat_map(|x| {
                    x.user_path_services
                        .iter()
                        .filter_map(|n| x.services.iter().position(|d| &d.name == n))
                })
                .collect(),
            store_service: s.exchange.as_ref().map_or_else(
                || Arc::from("MSExchangeIS"),
                |x| Arc::from(x.store_service.as_str()),
            ),
        };
        for r in &s.replication {
            let (src, tgt) = (
                host_ix(&r.source).expect("validated"),
                host_ix(&r.target).expect("validated"),
            );
            let mut pair = world.new_pair(src, tgt, r.mirrored_at_start);
            pair.batch_delay_us = (r.batch_delay_s * 1e6) as u64;
            world.add_pair(pair);
            if r.mirrored_at_start {
                for st in &mut world.hosts[tgt].stores {
                    st.foreign = true;
                }
            }
        }
        fabric::build(&mut world, s, &host_ix);
        world
    }

    /// Index of a host by its scenario name.
    pub fn host_ix(&self, name: &str) -> Result<usize, OpError> {
        self.host_by_name
            .get(name)
            .copied()
            .ok_or_else(|| OpError::not_found(format!("host {name}")))
    }

    /// Index of a client by name.
    pub fn client_ix(&self, name: &str) -> Result<usize, OpError> {
        self.client_by_name
            .get(name)
            .copied()
            .ok_or_else(|| OpError::not_found(format!("client {name}")))
    }

    /// A host that must be up.
    pub fn up_host(&self, name: &str) -> Result<usize, OpError> {
        let h = self.host_ix(name)?;
        if self.hosts[h].up {
            Ok(h)
        } else {
            Err(OpError::unreachable(name))
        }
    }

    /// Applies everything that has happened by `now` in lazy flows: only
    /// the connections with a write due by then, in connection order (the
    /// order a sweep of all of them applies them in; the others have
    /// nothing to apply).
    pub fn settle(&mut self, now: Micros) {
        if self.due.first().is_some_and(|&(t, _)| t <= now) {
            let mut ready = std::mem::take(&mut self.ready);
            while let Some(&(t, i)) = self.due.first() {
                if t > now {
                    break;
                }
                self.due.pop_first();
                self.pair_due[i] = Micros::MAX;
                ready.push(i);
            }
            ready.sort_unstable();
            for &i in &ready {
                self.settle_pair(i, now);
                self.note_due(i);
            }
            ready.clear();
            self.ready = ready;
        }
        self.directory.settle(now);
    }

    fn site_of(&self, e: End) -> usize {
        match e {
            End::Host(h) => self.hosts[h].site,
            End::Client(c) => self.clients[c].site,
        }
    }

    fn end_name(&self, e: End) -> &str {
        match e {
            End::Host(h) => &self.hosts[h].name,
            End::Client(c) => &self.clients[c].name,
        }
    }

    /// The link between two ends, or `None` when the path is cut.
    pub fn path(&self, a: End, b: End) -> Option<LinkSpec> {
        if self.fabric.is_cut(a) || self.fabric.is_cut(b) {
            return None;
        }
        let (sa, sb) = (self.site_of(a), self.site_of(b));
        if !self.partitions.is_empty() {
            let names_a = [self.end_name(a), self.sites[sa].name.as_str()];
            let names_b = [self.end_name(b), self.sites[sb].name.as_str()];
            let cut = self.partitions.iter().any(|(x, y)| {
                (names_a.contains(&x.as_str()) && names_b.contains(&y.as_str()))
                    || (names_a.contains(&y.as_str()) && names_b.contains(&x.as_str()))
            });
            if cut {
                return None;
            }
        }
        if sa == sb {
            Some(self.sites[sa].lan)
        } else {
            // No WAN link defined means the sites cannot talk.
            self.wan.get(&(sa.min(sb), sa.max(sb))).copied()
        }
    }

    /// Round trip from `a` to host `b`, or why there is none. Draws loss.
    pub fn round_trip(&mut self, a: End, b: usize) -> Result<Duration, OpError> {
        if let End::Host(h) = a
            && !self.hosts[h].up
        {
            return Err(OpError::unreachable(self.hosts[h].name.clone()));
        }
        let host = &self.hosts[b];
        let unreachable = || OpError::unreachable(host.name.clone());
        if !host.up {
            return Err(unreachable());
        }
        let link = self.path(a, End::Host(b)).ok_or_else(unreachable)?;
        // Loss is per message: a request and its reply each cross the link.
        if self.rng.chance(link.loss) || self.rng.chance(link.loss) {
            return Err(OpError::unreachable(self.hosts[b].name.clone()));
        }
        Ok(Duration::from_micros((2000.0 * link.latency_ms) as u64))
    }

    /// Time to move `bytes` over `link` (serialisation only).
    pub fn transfer_time(link: &LinkSpec, bytes: u64) -> Duration {
        secs_f(bytes as f64 * 8.0 / (link.bandwidth_mbps * 1e6))
    }

    /// A duration drawn from a timing entry.
    pub fn draw(&mut self, pick: impl Fn(&Timing) -> drlab_scenarios::format::Dist) -> Duration {
        let d = pick(&self.timing);
        self.rng.sample(&d)
    }
}
