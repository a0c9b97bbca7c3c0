//! Mail stores: mount, dismount, the overwrite-on-restore flag, recovery and
//! corruption.

use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::{ReplicaHeld, StoreRef};

use super::{Consistency, Micros, REPLICAS_HELD_MAX, Store, World};

/// Notes a takeover when `st`, a replica (replication, a mirror or a
/// restore filled it while dismounted), goes live, by a mount or at boot:
/// what it holds now ([`World::replicas_held`], at most
/// [`REPLICAS_HELD_MAX`]).
pub(super) fn note_takeover(
    held: &mut Vec<ReplicaHeld>,
    host: &std::sync::Arc<str>,
    st: &mut Store,
    now: Micros,
) {
    if std::mem::take(&mut st.replica) && held.len() < REPLICAS_HELD_MAX {
        held.push(ReplicaHeld {
            host: host.clone(),
            store: st.id.to_string().into(),
            at: drlab_drivers::Timestamp(now),
            held: st.records.clone(),
        });
    }
}

impl World {
    /// Begins a mount; `None` when already mounted.
    pub fn begin_mount(
        &mut self,
        h: usize,
        id: &StoreRef,
        now: Micros,
    ) -> Result<Option<(Duration, u32)>, OpError> {
        let host = &self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let i = host.store(id)?;
        let st = &host.stores[i];
        if st.mounted {
            return Ok(None);
        }
        self.store_volume_ready(h, i)?;
        if !self.service_ready(h, &self.store_service, now) {
            return Err(OpError::invalid_state(format!(
                "cannot mount {id} on {}: {} is not running",
                host.name, self.store_service
            )));
        }
        match st.consistency {
            Consistency::Corrupt => {
                return Err(OpError::invalid_state(format!(
                    "cannot mount {id} on {}: the database is corrupt (hard recovery or restore needed)",
                    host.name
                )));
            }
            Consistency::DirtyShutdown => {
                return Err(OpError::invalid_state(format!(
                    "cannot mount {id} on {}: the database is in dirty shutdown (soft recovery needed)",
                    host.name
                )));
            }
            Consistency::Clean => {}
        }
        if st.foreign && !st.overwrite {
            return Err(OpError::refused(format!(
                "cannot mount {id} on {}: the database was copied from another server; set \
                 'This database can be overwritten by a restore' first",
                host.name
            )));
        }
        let epoch = host.epoch;
        Ok(Some((self.draw(|t| t.store_mount_s), epoch)))
    }

    /// Completes a mount.
    pub fn finish_mount(
        &mut self,
        h: usize,
        id: &StoreRef,
        epoch: u32,
        now: Micros,
    ) -> Result<(), OpError> {
        let ready = self.service_ready(h, &self.store_service, now);
        let host = &mut self.hosts[h];
        if !host.up || host.epoch != epoch {
            return Err(OpError::unreachable(host.name.clone()));
        }
        if !ready {
            return Err(OpError::invalid_state(format!(
                "{} stopped during the mount",
                self.store_service
            )));
        }
        let i = host.store(id)?;
        let st = &mut host.stores[i];
        st.mounted = true;
        st.modified_at = now;
        // (`settle` applied what had arrived before this call)
        note_takeover(&mut self.replicas_held, &host.name, st, now);
        Ok(())
    }

    /// Dismounts (after the backend waited the dismount time).
    pub fn dismount(&mut self, h: usize, id: &StoreRef, now: Micros) -> Result<(), OpError> {
        let host = &mut self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let i = host.store(id)?;
        let st = &mut host.stores[i];
        if st.mounted {
            st.mounted = false;
            st.modified_at = now;
        }
        Ok(())
    }

    /// A store that must be dismounted for offline work.
    pub fn offline_store(&self, h: usize, id: &StoreRef, what: &str) -> Result<usize, OpError> {
        let host = &self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let i = host.store(id)?;
        if host.stores[i].mounted {
            return Err(OpError::invalid_state(format!(
                "{what} needs {id} on {} dismounted",
                host.name
            )));
        }
        Ok(i)
    }

    /// Soft recovery: a dirty shutdown becomes clean; corruption stays.
    pub fn soft_recover(&mut self, h: usize, id: &StoreRef) -> Result<(), OpError> {
        let i = self.offline_store(h, id, "soft recovery")?;
        let st = &mut self.hosts[h].stores[i];
        match st.consistency {
            Consistency::Corrupt => Err(OpError::invalid_state(format!(
                "soft recovery of {id} failed: the database is corrupt"
            ))),
            _ => {
                st.consistency = Consistency::Clean;
                Ok(())
            }
        }
    }

    /// Hard recovery: the database becomes consistent again.
    pub fn hard_recover(&mut self, h: usize, id: &StoreRef) -> Result<(), OpError> {
        let i = self.offline_store(h, id, "hard recovery")?;
        self.hosts[h].stores[i].consistency = Consistency::Clean;
        Ok(())
    }

    /// Corrupts a store; Exchange dismounts a store it finds damaged.
    pub fn corrupt(&mut self, h: usize, id: &StoreRef) -> Result<(), OpError> {
        let i = self.hosts[h].store(id)?;
        let st = &mut self.hosts[h].stores[i];
        st.consistency = Consistency::Corrupt;
        st.mounted = false;
        Ok(())
    }
}
