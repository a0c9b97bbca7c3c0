//! iSCSI volumes with initiator-name ACLs, and point-in-time archives of a
//! host's stores.

use std::collections::BTreeSet;
use std::time::Duration;

use drlab_drivers::types::{ArchiveInfo, StoreRef};
use drlab_drivers::{OpError, SeqSet};

use super::{Consistency, Micros, World};

/// A SAN volume.
#[derive(Debug, Clone)]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Initiator names allowed to log in.
    pub acl: BTreeSet<String>,
    /// Host logged in, if any.
    pub attached: Option<usize>,
    /// Snapshot names and times.
    pub snapshots: Vec<(String, Micros)>,
}

/// An archive image.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Identity and metadata.
    pub info: ArchiveInfo,
    /// Host it was taken from.
    pub host: usize,
    /// Store contents at the time: records, bytes and consistency.
    pub stores: Vec<(StoreRef, SeqSet, u64, Consistency)>,
}

impl World {
    fn volume(&mut self, name: &str) -> &mut Volume {
        if let Some(i) = self.volumes.iter().position(|v| v.name == name) {
            return &mut self.volumes[i];
        }
        self.volumes.push(Volume {
            name: name.to_string(),
            acl: BTreeSet::new(),
            attached: None,
            snapshots: Vec::new(),
        });
        self.volumes.last_mut().expect("just pushed")
    }

    fn existing_volume(&mut self, name: &str) -> Result<&mut Volume, OpError> {
        self.volumes
            .iter_mut()
            .find(|v| v.name == name)
            .ok_or_else(|| OpError::not_found(format!("volume {name}")))
    }

    /// Allows an initiator (creating the volume's ACL entry).
    pub fn grant(&mut self, volume: &str, initiator: &str) {
        self.volume(volume).acl.insert(initiator.to_string());
    }

    /// Revokes an initiator.
    pub fn revoke(&mut self, volume: &str, initiator: &str) -> Result<(), OpError> {
        self.existing_volume(volume)?.acl.remove(initiator);
        Ok(())
    }

    /// Logs `h` in to a volume: its initiator must be allowed and the volume free.
    pub fn attach(&mut self, h: usize, volume: &str) -> Result<(), OpError> {
        if !self.hosts[h].up {
            return Err(OpError::unreachable(self.hosts[h].name.clone()));
        }
        let initiator = self.hosts[h].initiator.clone();
        let names: Vec<String> = self.hosts.iter().map(|x| x.name.to_string()).collect();
        let v = self.existing_volume(volume)?;
        if !v.acl.contains(&initiator) {
            return Err(OpError::refused(format!(
                "login refused: initiator {initiator} is not allowed on volume {volume}"
            )));
        }
        match v.attached {
            Some(o) if o != h => Err(OpError::refused(format!(
                "volume {volume} is in use by {}",
                names[o]
            ))),
            _ => {
                v.attached = Some(h);
                Ok(())
            }
        }
    }

    /// Logs `h` out of a volume.
    pub fn detach(&mut self, h: usize, volume: &str) -> Result<(), OpError> {
        let v = self.existing_volume(volume)?;
        if v.attached == Some(h) {
            v.attached = None;
        }
        Ok(())
    }

    /// Records a snapshot.
    pub fn snapshot(&mut self, volume: &str, name: &str, now: Micros) -> Result<(), OpError> {
        self.existing_volume(volume)?
            .snapshots
            .push((name.to_string(), now));
        Ok(())
    }

    /// Begins an archive of `h`'s stores: the image is taken now; copying it
    /// to the archive disks takes the returned time.
    pub fn begin_archive(
        &mut self,
        h: usize,
        level_h: u32,
        now: Micros,
    ) -> Result<(Archive, Duration), OpError> {
        let host = &self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        if let Some(st) = host
            .stores
            .iter()
            .find(|s| s.consistency == Consistency::Corrupt)
        {
            // An online backup reads every page and checks its checksum.
            return Err(OpError::invalid_state(format!(
                "backup of {} on {} failed: the database is corrupt (page checksum mismatch)",
                st.id, host.name
            )));
        }
        let stores: Vec<_> = host
            .stores
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    s.records.clone(),
                    s.base_bytes + s.record_bytes,
                    s.consistency,
                )
            })
            .collect();
        let bytes: u64 = stores.iter().map(|s| s.2).sum();
        self.archive_room(h, level_h, bytes)?;
        // Numbered by a run-wide counter: images replace each other per level.
        self.fabric.images += 1;
        let id = format!("{}-{}h-{}", self.hosts[h].name, level_h, self.fabric.images);
        let d = super::secs_f(bytes as f64 * 8.0 / (self.timing.target_apply_mbps * 1e6));
        Ok((
            Archive {
                info: ArchiveInfo {
                    id: id.into(),
                    level_h,
                    taken_at_us: now,
                    bytes,
                },
                host: h,
                stores,
            },
            d,
        ))
    }

    /// Begins restoring archive `id` over `h`'s (dismounted) stores.
    pub fn begin_restore_archive(
        &mut self,
        id: &str,
        h: usize,
    ) -> Result<(usize, Duration), OpError> {
        let a = self
            .archives
            .iter()
            .position(|a| &*a.info.id == id)
            .ok_or_else(|| OpError::not_found(format!("archive {id}")))?;
        let host = &self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        if let Some(st) = host.stores.iter().find(|s| s.mounted) {
            return Err(OpError::invalid_state(format!(
                "cannot restore over {} on {}: dismount it first",
                st.id, host.name
            )));
        }
        let bytes = self.archives[a].info.bytes;
        Ok((
            a,
            super::secs_f(bytes as f64 * 8.0 / (self.timing.target_apply_mbps * 1e6)),
        ))
    }

    /// Keeps a finished archive: it replaces the image of the same host
    /// and level (one image per level, aged by the schedule).
    pub fn keep_archive(&mut self, archive: Archive) {
        self.archives
            .retain(|a| !(a.host == archive.host && a.info.level_h == archive.info.level_h));
        self.archives.push(archive);
    }

    /// Completes an archive restore.
    pub fn finish_restore_archive(&mut self, a: usize, h: usize, now: Micros) {
        let stores = self.archives[a].stores.clone();
        for st in &mut self.hosts[h].stores {
            if let Some((_, rec, bytes, consistency)) = stores.iter().find(|(id, ..)| *id == st.id)
            {
                st.records = rec.clone();
                st.record_bytes = bytes.saturating_sub(st.base_bytes);
                st.consistency = *consistency;
                st.modified_at = now;
                // An archive image, not a replica's data.
                st.replica = false;
            }
        }
    }
}
