//! Hosts: power, boot, identity (names, addresses), domain membership.

use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::{IdentityItems, ServiceState, StartupType};

use super::{Consistency, End, Micros, World, us};

impl World {
    /// The host stops at once (crash or power cut).
    pub fn crash(&mut self, h: usize, now: Micros) {
        self.settle(now);
        let host = &mut self.hosts[h];
        if !host.up {
            return;
        }
        host.up = false;
        host.epoch += 1;
        for s in &mut host.services {
            s.state = ServiceState::Stopped;
        }
        for st in &mut host.stores {
            if st.mounted {
                st.mounted = false;
                if st.consistency == Consistency::Clean {
                    st.consistency = Consistency::DirtyShutdown;
                }
            }
        }
        self.host_lost_flows(h, now);
    }

    /// Clean shutdown before a reboot: services stop, stores dismount cleanly.
    pub fn shut_down(&mut self, h: usize, now: Micros) {
        self.settle(now);
        let host = &mut self.hosts[h];
        for s in &mut host.services {
            s.state = ServiceState::Stopped;
        }
        for st in &mut host.stores {
            if st.mounted {
                st.mounted = false;
                st.modified_at = now;
            }
        }
        host.up = false;
        host.epoch += 1;
        self.host_lost_flows(h, now);
    }

    /// How long a boot of `h` takes.
    pub fn boot_time(&mut self) -> Duration {
        self.draw(|t| t.host_boot_s)
    }

    /// The host finishes booting: pending rename applies, automatic services start.
    pub fn finish_boot(&mut self, h: usize, now: Micros) {
        let ready: Vec<Duration> = (0..self.hosts[h].services.len())
            .map(|_| self.draw(|t| t.service_ready_s))
            .collect();
        let host = &mut self.hosts[h];
        host.up = true;
        host.epoch += 1;
        if let Some(n) = host.pending_name.take() {
            host.computer_name = n;
        }
        let mut store_service_up = false;
        for (s, r) in host.services.iter_mut().zip(ready) {
            s.attempted_since_boot = false;
            s.failed = false;
            if s.startup == StartupType::Automatic {
                s.state = ServiceState::Running;
                s.ready_at = now + us(r);
                s.attempted_since_boot = true;
                store_service_up = true;
            }
        }
        if store_service_up {
            self.mount_at_start(h, now);
        }
    }

    /// The store service of `h` has started (at boot, or restarted by its
    /// service manager): it mounts the host's clean stores that are its own
    /// or that it may overwrite, as Exchange mounts its databases when the
    /// Information Store starts. A DAG member mounts nothing by itself:
    /// Active Manager decides which copy is active.
    pub fn mount_at_start(&mut self, h: usize, now: Micros) {
        if self.fabric.is_dag_member(h) {
            return;
        }
        let host = &mut self.hosts[h];
        for st in &mut host.stores {
            if !st.mounted && st.consistency == Consistency::Clean && (!st.foreign || st.overwrite)
            {
                st.mounted = true;
                super::stores::note_takeover(&mut self.replicas_held, &host.name, st, now);
            }
        }
    }

    /// Sets the name that applies at the next boot.
    pub fn rename(&mut self, h: usize, new: &str) -> Result<(), OpError> {
        let host = &mut self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        host.pending_name = Some(new.to_string());
        Ok(())
    }

    /// Joins the host to `domain` under its current name, creating the
    /// computer account on its DC when missing.
    pub fn join_domain(&mut self, h: usize, domain: &str, now: Micros) -> Result<(), OpError> {
        let (name, dc) = {
            let host = &self.hosts[h];
            if !host.up {
                return Err(OpError::unreachable(host.name.clone()));
            }
            let dc = host.dc.ok_or_else(|| {
                OpError::invalid_state(format!("{} has no domain controller", host.name))
            })?;
            (host.computer_name.clone(), dc)
        };
        if !self.hosts[dc].up || self.path(End::Host(h), End::Host(dc)).is_none() {
            return Err(OpError::unreachable(self.hosts[dc].name.clone()));
        }
        let d = self.directory.dc_of(dc)?;
        if !self.directory.view(d).has_computer(&name) {
            self.directory.create_computer(d, &name, now);
        }
        self.hosts[h].domain = Some(domain.to_string());
        Ok(())
    }

    /// Removes the host from its domain (the account stays; AD keeps it).
    pub fn leave_domain(&mut self, h: usize) -> Result<(), OpError> {
        let host = &mut self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        host.domain = None;
        Ok(())
    }

    /// Brings `from`'s original addresses and/or name up on `to`.
    pub fn take_over_identity(
        &mut self,
        from: usize,
        to: usize,
        items: IdentityItems,
    ) -> Result<(), OpError> {
        if !self.hosts[to].up {
            return Err(OpError::unreachable(self.hosts[to].name.clone()));
        }
        if items.ip_addresses {
            // A duplicate address shows only where the source can still be
            // heard: a source cut off by a network fault ("network problems",
            // the guide's recover-to-original case) does not block takeover.
            let heard = self.path(End::Host(from), End::Host(to)).is_some();
            if self.hosts[from].up && heard && !self.hosts[from].ips.is_empty() {
                return Err(OpError::refused(format!(
                    "address conflict: {} is still up and holds {:?}",
                    self.hosts[from].name, self.hosts[from].ips
                )));
            }
            let moved: Vec<_> = std::mem::take(&mut self.hosts[from].ips);
            for ip in &moved {
                self.ip_owner.insert(*ip, to);
            }
            self.hosts[to].ips.extend(moved);
        }
        if items.server_name {
            let name = self.hosts[from].computer_name.clone();
            if !self.hosts[to].aliases.contains(&name) {
                self.hosts[to].aliases.push(name);
            }
        }
        Ok(())
    }

    /// Gives back identity items `to` took over from `from`.
    pub fn release_identity(
        &mut self,
        from: usize,
        to: usize,
        items: IdentityItems,
    ) -> Result<(), OpError> {
        if items.ip_addresses {
            let home = &self.home_ips[from];
            let (back, keep): (Vec<_>, Vec<_>) =
                self.hosts[to].ips.iter().partition(|ip| home.contains(ip));
            self.hosts[to].ips = keep;
            for ip in &back {
                self.ip_owner.insert(*ip, from);
            }
            self.hosts[from].ips.extend(back);
        }
        if items.server_name {
            let name = self.hosts[from].computer_name.clone();
            self.hosts[to].aliases.retain(|a| a != &name);
        }
        Ok(())
    }
}
