//! What lies under and beside the hosts: physical servers (AIM pools,
//! lockstep pairs) with their switch ports' VLANs, hosts cut off when their
//! port lacks a network's VLAN, persona boots on standby servers, SAN
//! volumes backing stores, DAG membership with the Client Access proxy to
//! the member holding a database, and archive disks.
//!
//! A host is an operating system; a server is hardware. A host that runs on
//! no `[[servers]]` entry is not modelled at this level and never cut off.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::StoreRef;
use drlab_scenarios::format::{Dist, Scenario};

use super::{Consistency, End, Micros, World};

/// A physical server.
#[derive(Debug, Clone)]
pub struct Server {
    /// Name.
    pub name: String,
    /// Site index.
    pub site: usize,
    /// Its hardware has failed.
    pub failed: bool,
    /// VLANs its switch port carries.
    pub vlans: BTreeSet<u16>,
    /// Boot time of a host on it (None: the timing profile's `host_boot_s`).
    pub boot_s: Option<Dist>,
    /// A boot in progress: the host and its token (a retarget replaces it).
    pub pending: Option<(usize, u32)>,
}

/// An archive disk: one image per level it holds.
#[derive(Debug, Clone)]
pub struct ArchiveDisk {
    /// Name.
    pub name: String,
    /// Levels placed on it, in hours.
    pub levels_h: Vec<u32>,
    /// Capacity.
    pub capacity_bytes: u64,
}

/// Servers, networks, volumes backing stores, the DAG and archive disks.
#[derive(Debug, Clone, Default)]
pub struct Fabric {
    /// Physical servers.
    pub servers: Vec<Server>,
    /// Server index by name (the first of each name; built once).
    server_by_name: BTreeMap<String, usize>,
    /// Per host index: the servers it runs on (two for a lockstep pair).
    /// The per-host vectors are shared with the prepared world until a
    /// run changes them ([`crate::Prepared`]).
    pub on: Rc<Vec<Vec<usize>>>,
    /// Per host index: VLANs its networks need on its server's port.
    needs: Rc<Vec<Vec<u16>>>,
    /// Per host index: cut off because its port lacks a VLAN it needs.
    cut: Rc<Vec<bool>>,
    /// DAG members, in the scenario's order.
    pub dag_members: Vec<usize>,
    /// Per host index: a DAG member (its Client Access role proxies).
    dag_member: Rc<Vec<bool>>,
    /// Stores living on SAN volumes: (host, store index) → volume name.
    pub store_volume: BTreeMap<(usize, usize), String>,
    /// Archive disks (empty: archives are unlimited).
    pub archive_disks: Vec<ArchiveDisk>,
    /// Archive images begun so far (numbers their identifiers).
    pub images: u32,
    boots: u32,
}

impl Fabric {
    /// Whether an end is cut off for lack of a VLAN (cheap: read per user operation).
    pub fn is_cut(&self, e: End) -> bool {
        match e {
            End::Host(h) => self.cut.get(h).copied().unwrap_or(false),
            End::Client(_) => false,
        }
    }

    /// Whether host `h` is a DAG member.
    pub fn is_dag_member(&self, h: usize) -> bool {
        self.dag_member.get(h).copied().unwrap_or(false)
    }

    /// Recomputes which hosts are cut off.
    fn recompute_cut(&mut self) {
        let cut: Vec<bool> = (0..self.cut.len())
            .map(|h| {
                let needs = &self.needs[h];
                !needs.is_empty()
                    && !self.on[h].iter().any(|&s| {
                        let srv = &self.servers[s];
                        !srv.failed && needs.iter().all(|v| srv.vlans.contains(v))
                    })
            })
            .collect();
        if *self.cut != cut {
            self.cut = Rc::new(cut);
        }
    }
}

/// Builds the fabric of a scenario into `w` (called last by `World::build`),
/// resolving host names with `host_ix` (an index, not a search).
pub fn build(w: &mut World, s: &Scenario, host_ix: &dyn Fn(&str) -> Option<usize>) {
    let n = w.hosts.len();
    let site_ix = |name: &str| w.sites.iter().position(|x| x.name == name).unwrap_or(0);
    let mut f = Fabric {
        on: Rc::new(vec![Vec::new(); n]),
        needs: Rc::new(vec![Vec::new(); n]),
        cut: Rc::new(vec![false; n]),
        dag_member: Rc::new(vec![false; n]),
        ..Fabric::default()
    };
    for sd in &s.servers {
        let i = f.servers.len();
        f.servers.push(Server {
            name: sd.name.clone(),
            site: site_ix(&sd.site),
            failed: false,
            vlans: sd.vlans.iter().copied().collect(),
            boot_s: sd.boot_s,
            pending: None,
        });
        f.server_by_name.entry(sd.name.clone()).or_insert(i);
        if let Some(h) = sd.runs.as_deref().and_then(host_ix)
            && !f.on[h].contains(&i)
        {
            Rc::make_mut(&mut f.on)[h].push(i);
        }
    }
    let server_ix = |f: &Fabric, name: &str| f.server_by_name.get(name).copied();
    for l in &s.lockstep {
        let Some(h) = host_ix(&l.host) else { continue };
        for name in &l.servers {
            if let Some(i) = server_ix(&f, name)
                && !f.on[h].contains(&i)
            {
                Rc::make_mut(&mut f.on)[h].push(i);
            }
        }
    }
    for net in &s.networks {
        for h in net.hosts.iter().filter_map(|x| host_ix(x)) {
            Rc::make_mut(&mut f.needs)[h].push(net.vlan);
        }
    }
    for p in &s.personas {
        if let Some(h) = host_ix(&p.host) {
            w.hosts[h].initiator = p.initiator.clone();
        }
    }
    for v in &s.volumes {
        w.grant_all(&v.name, &v.initiators);
        let (Some(h), Some(g), Some(st)) = (
            v.host.as_deref().and_then(host_ix),
            v.group.as_deref(),
            v.store.as_deref(),
        ) else {
            continue;
        };
        let id = StoreRef::new(g, st);
        if let Ok(i) = w.hosts[h].store(&id) {
            f.store_volume.insert((h, i), v.name.clone());
            // A running host is logged in to its volumes at the start.
            if v.initiators.contains(&w.hosts[h].initiator) {
                let _ = w.attach(h, &v.name);
            }
        }
    }
    if let Some(dag) = &s.dag {
        f.dag_members = dag.members.iter().filter_map(|m| host_ix(m)).collect();
        let member = Rc::make_mut(&mut f.dag_member);
        for &m in &f.dag_members {
            member[m] = true;
        }
        for db in &dag.databases {
            let best = db.copies.iter().map(|c| c.preference).min().unwrap_or(1);
            for c in &db.copies {
                let Some(h) = host_ix(&c.server) else {
                    continue;
                };
                for st in w.hosts[h]
                    .stores
                    .iter_mut()
                    .filter(|x| *x.id.group == *db.name)
                {
                    // Copies are seeded and meant to be activated: no
                    // overwrite flag is needed to mount one.
                    st.mounted = c.preference == best;
                    st.overwrite = true;
                    st.foreign = false;
                    st.consistency = Consistency::Clean;
                }
            }
        }
        // Continuous replication between every pair of members.
        for &a in &f.dag_members {
            for &b in &f.dag_members {
                if a != b && w.pair_ix(a, b).is_err() {
                    let pair = w.new_pair(a, b, true);
                    w.add_pair(pair);
                }
            }
        }
    }
    for r in &s.replication {
        if let (Some(mb), Some(a), Some(b)) =
            (r.log_file_mb, host_ix(&r.source), host_ix(&r.target))
            && let Ok(i) = w.pair_ix(a, b)
        {
            w.pairs[i].log_bytes = (mb * 1024.0 * 1024.0) as u64;
        }
    }
    f.archive_disks = s
        .archive_disks
        .iter()
        .map(|d| ArchiveDisk {
            name: d.name.clone(),
            levels_h: d.levels_h.clone(),
            capacity_bytes: (d.capacity_mb * 1024.0 * 1024.0) as u64,
        })
        .collect();
    f.recompute_cut();
    w.fabric = f;
}

impl World {
    /// Index of a physical server by name.
    pub fn server_ix(&self, name: &str) -> Result<usize, OpError> {
        self.fabric
            .server_by_name
            .get(name)
            .copied()
            .ok_or_else(|| OpError::not_found(format!("server {name}")))
    }

    /// A server's hardware fails: a host running on it alone crashes; a
    /// lockstep partner carries on without a pause.
    pub fn fail_server(&mut self, s: usize, now: Micros) {
        self.fabric.servers[s].failed = true;
        self.fabric.servers[s].pending = None;
        let mut crashed = Vec::new();
        for (h, on) in Rc::make_mut(&mut self.fabric.on).iter_mut().enumerate() {
            if let Some(k) = on.iter().position(|&x| x == s) {
                on.remove(k);
                if on.is_empty() {
                    crashed.push(h);
                }
            }
        }
        for h in crashed {
            self.crash(h, now);
        }
        self.fabric.recompute_cut();
    }

    /// Begins booting `h` on server `s`: returns the boot time and the
    /// token that must still be current when it ends. A pending boot of
    /// `h` elsewhere is abandoned (retarget).
    pub fn begin_boot_on(&mut self, h: usize, s: usize) -> Result<(Duration, u32), OpError> {
        let srv = &self.fabric.servers[s];
        if srv.failed {
            return Err(OpError::unreachable(format!(
                "server {} (hardware failed)",
                srv.name
            )));
        }
        if let Some(other) =
            (0..self.hosts.len()).find(|&o| o != h && self.fabric.on[o].contains(&s))
        {
            return Err(OpError::refused(format!(
                "server {} runs {}",
                srv.name, self.hosts[other].name
            )));
        }
        if let Some((o, _)) = srv.pending
            && o != h
        {
            return Err(OpError::refused(format!(
                "server {} is booting {}",
                srv.name, self.hosts[o].name
            )));
        }
        if self.hosts[h].up {
            return Err(OpError::invalid_state(format!(
                "{} is already running",
                self.hosts[h].name
            )));
        }
        for x in &mut self.fabric.servers {
            if x.pending.is_some_and(|(o, _)| o == h) {
                x.pending = None;
            }
        }
        self.fabric.boots += 1;
        let token = self.fabric.boots;
        self.fabric.servers[s].pending = Some((h, token));
        let d = match self.fabric.servers[s].boot_s {
            Some(d) => self.rng.sample(&d),
            None => self.boot_time(),
        };
        Ok((d, token))
    }

    /// Completes a boot begun with `token`: `h` now runs on `s`.
    pub fn finish_boot_on(
        &mut self,
        h: usize,
        s: usize,
        token: u32,
        now: Micros,
    ) -> Result<(), OpError> {
        let srv = &self.fabric.servers[s];
        if srv.pending != Some((h, token)) || srv.failed {
            return Err(OpError::invalid_state(format!(
                "the boot of {} on {} was abandoned",
                self.hosts[h].name, srv.name
            )));
        }
        self.fabric.servers[s].pending = None;
        Rc::make_mut(&mut self.fabric.on)[h] = vec![s];
        self.hosts[h].site = self.fabric.servers[s].site;
        self.finish_boot(h, now);
        self.fabric.recompute_cut();
        self.resume_flows(now);
        Ok(())
    }

    /// Sets the VLANs of a server's switch port.
    pub fn set_port_vlans(&mut self, s: usize, vlans: &[u16], now: Micros) {
        self.fabric.servers[s].vlans = vlans.iter().copied().collect();
        self.fabric.recompute_cut();
        self.resume_flows(now);
    }

    /// Where a database is mounted among the DAG's members: (host, store index).
    fn dag_active(&self, store: &StoreRef) -> Option<(usize, usize)> {
        self.fabric.dag_members.iter().find_map(|&m| {
            let host = &self.hosts[m];
            if !host.up {
                return None;
            }
            let i = host.store(store).ok()?;
            host.stores[i].mounted.then_some((m, i))
        })
    }

    /// The user path through a DAG member's Client Access role: the request
    /// goes to the member where the mailbox's database is mounted (Active
    /// Manager knows where), wherever the directory homed the mailbox.
    /// Returns the member, its store and the network time in all.
    pub(super) fn serve_via_dag(
        &mut self,
        h: usize,
        store: &StoreRef,
        network: Duration,
        now: Micros,
    ) -> Result<(usize, usize, Duration), (OpError, Duration)> {
        let timeout = super::secs_f(self.timing.client_timeout_s);
        let Some((m, i)) = self.dag_active(store) else {
            return Err((
                OpError::invalid_state(format!(
                    "database {} is not mounted on any DAG member",
                    store.group
                )),
                network,
            ));
        };
        let mut total = network;
        if m != h {
            let rtt = self
                .round_trip(End::Host(h), m)
                .map_err(|e| (e, network + timeout))?;
            total += rtt;
            if !self.service_ready(m, &self.store_service, now) {
                return Err((
                    OpError::refused(format!(
                        "{} is not serving on {}",
                        self.store_service, self.hosts[m].name
                    )),
                    total,
                ));
            }
        }
        Ok((m, i, total))
    }

    /// Whether `h` is logged in to the volume its store `i` lives on (true
    /// when the store is not on a modelled volume).
    pub fn store_volume_ready(&self, h: usize, i: usize) -> Result<(), OpError> {
        let Some(v) = self.fabric.store_volume.get(&(h, i)) else {
            return Ok(());
        };
        if self
            .volumes
            .iter()
            .any(|x| x.name == *v && x.attached == Some(h))
        {
            Ok(())
        } else {
            Err(OpError::invalid_state(format!(
                "cannot mount {} on {}: SAN volume {v} is not logged in",
                self.hosts[h].stores[i].id, self.hosts[h].name
            )))
        }
    }

    /// Where an image of `level_h` goes and whether it fits: the disk
    /// holding the level must have room for it beside the other levels'
    /// current images (one image per level).
    pub fn archive_room(&self, h: usize, level_h: u32, bytes: u64) -> Result<(), OpError> {
        if self.fabric.archive_disks.is_empty() {
            return Ok(());
        }
        let Some(disk) = self
            .fabric
            .archive_disks
            .iter()
            .find(|d| d.levels_h.contains(&level_h))
        else {
            return Err(OpError::invalid_state(format!(
                "no archive disk holds level {level_h} h"
            )));
        };
        let others: u64 = self
            .archives
            .iter()
            .filter(|a| {
                a.host == h && a.info.level_h != level_h && disk.levels_h.contains(&a.info.level_h)
            })
            .map(|a| a.info.bytes)
            .sum();
        let mb = |b: u64| b / (1024 * 1024);
        if others + bytes > disk.capacity_bytes {
            return Err(OpError::refused(format!(
                "archive disk {} is full: the {level_h} h image needs {} MB, {} MB of {} MB are free",
                disk.name,
                mb(bytes),
                mb(disk.capacity_bytes.saturating_sub(others)),
                mb(disk.capacity_bytes)
            )));
        }
        Ok(())
    }

    /// Grants several initiators on a volume.
    fn grant_all(&mut self, volume: &str, initiators: &[String]) {
        for i in initiators {
            self.grant(volume, i);
        }
    }
}
