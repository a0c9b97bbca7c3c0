//! The simulator as a backend: every interface method validated against the
//! world, delayed by the timing profile on the virtual clock, then applied.
//! Borrows of the world never cross an `.await`.

use std::cell::{RefCell, RefMut};
use std::time::Duration;

use drlab_drivers::caps::OpResult;
use drlab_drivers::types::{
    ArchiveInfo, DnsRecord, Fault, IdentityItems, MailboxInfo, MirrorMode, QueueStatus, RecordType,
    RestoreOptions, ServiceState, StartupType, StoreInfo, StoreRef,
};
use drlab_drivers::{
    Archives, Backend, Clock, Directory, Dns, Faults, Hosts, MailStores, OpError, Replication, San,
    SeqSet, Services, Switches, Timestamp, Workload,
};

use crate::exec::VirtualClock;
use crate::world::{End, World};

/// The simulated estate behind the interface.
pub struct SimBackend {
    clock: VirtualClock,
    world: RefCell<World>,
}

impl SimBackend {
    /// A backend over `world`, at drill time zero.
    pub fn new(world: World) -> SimBackend {
        SimBackend {
            clock: VirtualClock::new(),
            world: RefCell::new(world),
        }
    }

    /// The virtual clock (the executor drives it).
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    fn micros(&self) -> u64 {
        self.clock.now().as_micros()
    }

    /// The world, settled to now.
    fn w(&self) -> RefMut<'_, World> {
        let mut w = self.world.borrow_mut();
        w.settle(self.micros());
        w
    }

    /// Read access for tests and benchmarks.
    pub fn world(&self) -> std::cell::Ref<'_, World> {
        self.world.borrow()
    }

    async fn wait(&self, d: Duration) {
        if !d.is_zero() {
            self.clock.sleep(d).await;
        }
    }

    fn dc(&self, w: &World, dc: &str) -> OpResult<usize> {
        let h = w.up_host(dc)?;
        w.directory.dc_of(h)
    }
}

impl Clock for SimBackend {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }
    fn sleep(&self, d: Duration) -> impl std::future::Future<Output = ()> {
        self.clock.sleep(d)
    }
}

impl Hosts for SimBackend {
    async fn ping(&self, from: &str, to: &str, limit: Duration) -> OpResult<Duration> {
        let res = {
            let mut w = self.w();
            let (a, b) = (w.host_ix(from)?, w.host_ix(to)?);
            w.up_host(from).map(|_| w.round_trip(End::Host(a), b))
        };
        // a monitor that is down with its host sends nothing
        let res = match res {
            Ok(r) => r,
            Err(down) => {
                self.wait(limit).await;
                return Err(down);
            }
        };
        match res {
            Ok(rtt) if rtt <= limit => {
                self.wait(rtt).await;
                Ok(rtt)
            }
            _ => {
                self.wait(limit).await;
                Err(OpError::timeout(format!("heartbeat {from} -> {to}"), limit))
            }
        }
    }

    async fn reboot(&self, host: &str) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            let h = w.up_host(host)?;
            w.shut_down(h, self.micros());
            (h, w.boot_time())
        };
        self.wait(d).await;
        let mut w = self.w();
        w.finish_boot(h, self.micros());
        w.resume_flows(self.micros());
        Ok(())
    }

    async fn rename(&self, host: &str, new_name: &str) -> OpResult<()> {
        let d = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            w.rename(h, new_name)?;
            w.draw(|t| t.rename_s)
        };
        self.wait(d).await;
        Ok(())
    }

    async fn join_domain(&self, host: &str, domain: &str) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            (w.up_host(host)?, w.draw(|t| t.domain_join_s))
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().join_domain(h, domain, now)
    }

    async fn leave_domain(&self, host: &str) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            (w.up_host(host)?, w.draw(|t| t.domain_leave_s))
        };
        self.wait(d).await;
        self.w().leave_domain(h)
    }

    async fn take_over_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        let (a, b, d) = {
            let mut w = self.w();
            (
                w.host_ix(from)?,
                w.up_host(to)?,
                w.draw(|t| t.identity_takeover_s),
            )
        };
        self.wait(d).await;
        self.w().take_over_identity(a, b, items)
    }

    async fn release_identity(&self, from: &str, to: &str, items: IdentityItems) -> OpResult<()> {
        let (a, b, d) = {
            let mut w = self.w();
            (
                w.host_ix(from)?,
                w.up_host(to)?,
                w.draw(|t| t.identity_takeover_s),
            )
        };
        self.wait(d).await;
        self.w().release_identity(a, b, items)
    }

    async fn boot_on(&self, host: &str, server: &str) -> OpResult<()> {
        let (h, s, d, token) = {
            let mut w = self.w();
            let (h, s) = (w.host_ix(host)?, w.server_ix(server)?);
            let (d, token) = w.begin_boot_on(h, s)?;
            (h, s, d, token)
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().finish_boot_on(h, s, token, now)
    }
}

impl Switches for SimBackend {
    async fn set_port_vlans(&self, server: &str, vlans: &[u16]) -> OpResult<()> {
        let now = self.micros();
        let mut w = self.w();
        let s = w.server_ix(server)?;
        w.set_port_vlans(s, vlans, now);
        Ok(())
    }
}

impl Services for SimBackend {
    async fn start_service(&self, host: &str, service: &str) -> OpResult<()> {
        let (h, begun) = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            (h, w.begin_start(h, service)?)
        };
        let Some((d, epoch)) = begun else {
            return Ok(());
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().finish_start(h, service, epoch, now)
    }

    async fn stop_service(&self, host: &str, service: &str) -> OpResult<()> {
        let (h, begun) = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            (h, w.begin_stop(h, service)?)
        };
        let Some((d, epoch)) = begun else {
            return Ok(());
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().finish_stop(h, service, epoch, now)
    }

    async fn service_status(&self, host: &str, service: &str) -> OpResult<ServiceState> {
        let w = self.w();
        let h = w.up_host(host)?;
        let i = w.hosts[h].service(service)?;
        Ok(w.hosts[h].services[i].state)
    }

    async fn set_startup_type(
        &self,
        host: &str,
        service: &str,
        startup: StartupType,
    ) -> OpResult<()> {
        let mut w = self.w();
        let h = w.up_host(host)?;
        let i = w.hosts[h].service(service)?;
        w.hosts[h].services[i].startup = startup;
        Ok(())
    }
}

impl MailStores for SimBackend {
    async fn list_stores(&self, host: &str) -> OpResult<Vec<StoreInfo>> {
        let w = self.w();
        let h = w.up_host(host)?;
        Ok(w.hosts[h]
            .stores
            .iter()
            .map(|s| StoreInfo {
                id: s.id.clone(),
                file: s.file.clone(),
                log_prefix: s.prefix.clone(),
                public: s.public,
                mounted: s.mounted,
                overwrite_on_restore: s.overwrite,
            })
            .collect())
    }

    async fn mount_store(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        let (h, begun) = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            let now = self.micros();
            (h, w.begin_mount(h, store, now)?)
        };
        let Some((d, epoch)) = begun else {
            return Ok(());
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().finish_mount(h, store, epoch, now)
    }

    async fn dismount_store(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            let h = w.up_host(host)?;
            w.hosts[h].store(store)?;
            (h, w.draw(|t| t.store_dismount_s))
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().dismount(h, store, now)
    }

    async fn store_mounted(&self, host: &str, store: &StoreRef) -> OpResult<bool> {
        let w = self.w();
        let h = w.up_host(host)?;
        let i = w.hosts[h].store(store)?;
        Ok(w.hosts[h].stores[i].mounted)
    }

    async fn set_overwrite_on_restore(
        &self,
        host: &str,
        store: &StoreRef,
        on: bool,
    ) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            let h = w.up_host(host)?;
            w.hosts[h].store(store)?;
            (h, w.draw(|t| t.overwrite_flag_s))
        };
        self.wait(d).await;
        let mut w = self.w();
        if !w.hosts[h].up {
            return Err(OpError::unreachable(host));
        }
        let i = w.hosts[h].store(store)?;
        w.hosts[h].stores[i].overwrite = on;
        Ok(())
    }

    async fn soft_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            w.offline_store(h, store, "soft recovery")?;
            (h, w.draw(|t| t.soft_recovery_s))
        };
        self.wait(d).await;
        self.w().soft_recover(h, store)
    }

    async fn hard_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            w.offline_store(h, store, "hard recovery")?;
            (h, w.draw(|t| t.hard_recovery_s))
        };
        self.wait(d).await;
        self.w().hard_recover(h, store)
    }
}

impl Directory for SimBackend {
    async fn computer_exists(&self, dc: &str, name: &str) -> OpResult<bool> {
        let w = self.w();
        let d = self.dc(&w, dc)?;
        Ok(w.directory.view(d).has_computer(name))
    }

    async fn create_computer(&self, dc: &str, name: &str) -> OpResult<()> {
        self.directory_write(dc, |view| {
            if view.has_computer(name) {
                Err(OpError::invalid_state(format!(
                    "computer {name} already exists"
                )))
            } else {
                Ok(crate::world::Change::CreateComputer(name.to_string()))
            }
        })
        .await
    }

    async fn rename_computer(&self, dc: &str, old: &str, new: &str) -> OpResult<()> {
        self.directory_write(dc, |view| {
            if !view.has_computer(old) {
                Err(OpError::not_found(format!("computer {old}")))
            } else if view.has_computer(new) {
                Err(OpError::invalid_state(format!(
                    "computer {new} already exists"
                )))
            } else {
                Ok(crate::world::Change::RenameComputer(
                    old.to_string(),
                    new.to_string(),
                ))
            }
        })
        .await
    }

    async fn remove_computer(&self, dc: &str, name: &str) -> OpResult<()> {
        self.directory_write(dc, |view| {
            if view.has_computer(name) {
                Ok(crate::world::Change::RemoveComputer(name.to_string()))
            } else {
                Err(OpError::not_found(format!("computer {name}")))
            }
        })
        .await
    }

    async fn list_mailboxes(&self, dc: &str, server: &str) -> OpResult<Vec<MailboxInfo>> {
        let w = self.w();
        let d = self.dc(&w, dc)?;
        Ok(w.directory
            .view(d)
            .mailboxes_on(server)
            .map(|(name, store)| MailboxInfo {
                name: name.as_str().into(),
                server: server.into(),
                store: store.clone(),
            })
            .collect())
    }

    async fn set_mailbox_home(
        &self,
        dc: &str,
        mailbox: &str,
        server: &str,
        store: &StoreRef,
    ) -> OpResult<()> {
        let d = {
            let mut w = self.w();
            self.dc(&w, dc)?;
            w.draw(|t| t.mailbox_move_s)
        };
        self.wait(d).await;
        let now = self.micros();
        let mut w = self.w();
        let d = self.dc(&w, dc)?;
        if w.directory.view(d).mailbox(mailbox).is_none() {
            return Err(OpError::not_found(format!("mailbox {mailbox}")));
        }
        w.directory.write(
            d,
            crate::world::Change::SetMailbox(
                mailbox.to_string(),
                server.to_string(),
                store.clone(),
            ),
            now,
        );
        Ok(())
    }

    async fn force_replication(&self, from: &str, to: &str) -> OpResult<()> {
        let (a, b, d) = {
            let mut w = self.w();
            let (ha, hb) = (w.up_host(from)?, w.up_host(to)?);
            if w.path(End::Host(ha), End::Host(hb)).is_none() {
                return Err(OpError::unreachable(to));
            }
            let (a, b) = (w.directory.dc_of(ha)?, w.directory.dc_of(hb)?);
            (a, b, w.draw(|t| t.force_replication_s))
        };
        self.wait(d).await;
        self.w().directory.force(a, b);
        Ok(())
    }
}

impl SimBackend {
    async fn directory_write(
        &self,
        dc: &str,
        change: impl FnOnce(&crate::world::directory::View) -> OpResult<crate::world::Change>,
    ) -> OpResult<()> {
        let d = {
            let mut w = self.w();
            self.dc(&w, dc)?;
            w.draw(|t| t.directory_write_s)
        };
        self.wait(d).await;
        let now = self.micros();
        let mut w = self.w();
        let d = self.dc(&w, dc)?;
        let c = change(w.directory.view(d))?;
        w.directory.write(d, c, now);
        Ok(())
    }
}

impl Dns for SimBackend {
    async fn add_record(&self, server: &str, record: &DnsRecord) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            (w.up_host(server)?, w.draw(|t| t.dns_update_s))
        };
        self.wait(d).await;
        self.w().dns_add(h, record)
    }

    async fn delete_record(&self, server: &str, record: &DnsRecord) -> OpResult<()> {
        let (h, d) = {
            let mut w = self.w();
            (w.up_host(server)?, w.draw(|t| t.dns_update_s))
        };
        self.wait(d).await;
        self.w().dns_delete(h, record)
    }

    async fn query_server(
        &self,
        server: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>> {
        let w = self.w();
        let h = w.up_host(server)?;
        Ok(w.dns_answer(h, name, rtype))
    }

    async fn resolve(
        &self,
        client: &str,
        name: &str,
        rtype: RecordType,
    ) -> OpResult<Vec<DnsRecord>> {
        let res = {
            let mut w = self.w();
            let c = w.client_ix(client)?;
            let now = self.micros();
            let timeout = crate::world::secs_f(w.timing.client_timeout_s);
            w.resolve(c, name, rtype, now).map_err(|e| (e, timeout))
        };
        match res {
            Ok((answer, d)) => {
                self.wait(d).await;
                Ok(answer)
            }
            Err((e, d)) => {
                self.wait(d).await;
                Err(e)
            }
        }
    }

    async fn flush_cache(&self, client: &str) -> OpResult<()> {
        let mut w = self.w();
        let c = w.client_ix(client)?;
        w.clients[c].resolver.flush();
        Ok(())
    }
}

impl Replication for SimBackend {
    async fn connect(&self, source: &str, target: &str, mirror: MirrorMode) -> OpResult<()> {
        let (a, b, d) = {
            let mut w = self.w();
            let (a, b) = (w.host_ix(source)?, w.host_ix(target)?);
            let now = self.micros();
            (a, b, w.begin_connect(a, b, mirror, now)?)
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().finish_connect(a, b, mirror, now)
    }

    async fn pause(&self, source: &str, target: &str) -> OpResult<()> {
        let mut w = self.w();
        let i = w.pair_ix(w.host_ix(source)?, w.host_ix(target)?)?;
        let now = self.micros();
        w.pause(i, now)
    }

    async fn resume(&self, source: &str, target: &str) -> OpResult<()> {
        let mut w = self.w();
        let i = w.pair_ix(w.host_ix(source)?, w.host_ix(target)?)?;
        let now = self.micros();
        w.resume(i, now)
    }

    async fn wait_drained(
        &self,
        source: &str,
        target: &str,
        idle: Duration,
        limit: Duration,
    ) -> OpResult<QueueStatus> {
        let i = {
            let w = self.w();
            w.pair_ix(w.host_ix(source)?, w.host_ix(target)?)?
        };
        let start = self.micros();
        let deadline = start + limit.as_micros() as u64;
        let idle_us = idle.as_micros() as u64;
        loop {
            let now = self.micros();
            let (wake, status) = {
                let mut w = self.w();
                let status = w.queue_status(i, now);
                let p = &w.pairs[i];
                // Writes stranded on a source that cannot transmit (cut off,
                // down or paused) never reach the target: the target's queue
                // is what `waitontarget` watches.
                match p.drained_at() {
                    Some(t) => (t, None),
                    None if p.has_unsent() && w.flowing(i) => (deadline, None),
                    None => {
                        // The idle wait starts when the queue becomes idle, or now.
                        let quiet_from = p.last_applied.max(start);
                        let due = quiet_from + idle_us;
                        if now >= due {
                            (now, Some(status))
                        } else {
                            (due, None)
                        }
                    }
                }
            };
            if let Some(s) = status {
                return Ok(s);
            }
            if now >= deadline {
                return Err(OpError::timeout(format!("waitontarget {target}"), limit));
            }
            self.clock.sleep_until(Timestamp(wake.min(deadline))).await;
        }
    }

    async fn disconnect(&self, source: &str, target: &str) -> OpResult<()> {
        let mut w = self.w();
        let i = w.pair_ix(w.host_ix(source)?, w.host_ix(target)?)?;
        let now = self.micros();
        w.disconnect(i, now);
        Ok(())
    }

    async fn queue_status(&self, source: &str, target: &str) -> OpResult<QueueStatus> {
        let mut w = self.w();
        let i = w.pair_ix(w.host_ix(source)?, w.host_ix(target)?)?;
        let now = self.micros();
        Ok(w.queue_status(i, now))
    }

    async fn restore(&self, from: &str, to: &str, options: RestoreOptions) -> OpResult<()> {
        let (a, b, d) = {
            let mut w = self.w();
            let (a, b) = (w.host_ix(from)?, w.host_ix(to)?);
            (a, b, w.begin_restore(a, b)?)
        };
        self.wait(d).await;
        let now = self.micros();
        // Skipped stores are the pitfall: the restore "succeeds" without them.
        self.w().finish_restore(a, b, options, now).map(|_| ())
    }
}

impl San for SimBackend {
    async fn grant(&self, volume: &str, initiator: &str) -> OpResult<()> {
        self.w().grant(volume, initiator);
        Ok(())
    }

    async fn revoke(&self, volume: &str, initiator: &str) -> OpResult<()> {
        self.w().revoke(volume, initiator)
    }

    async fn attach(&self, host: &str, volume: &str) -> OpResult<()> {
        let mut w = self.w();
        let h = w.host_ix(host)?;
        w.attach(h, volume)
    }

    async fn detach(&self, host: &str, volume: &str) -> OpResult<()> {
        let mut w = self.w();
        let h = w.host_ix(host)?;
        w.detach(h, volume)
    }

    async fn snapshot(&self, volume: &str, name: &str) -> OpResult<()> {
        let now = self.micros();
        self.w().snapshot(volume, name, now)
    }
}

impl Archives for SimBackend {
    async fn take_archive(&self, host: &str, level_h: u32) -> OpResult<ArchiveInfo> {
        let (archive, d) = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            let now = self.micros();
            w.begin_archive(h, level_h, now)?
        };
        self.wait(d).await;
        let info = archive.info.clone();
        self.w().keep_archive(archive);
        Ok(info)
    }

    async fn list_archives(&self, host: &str) -> OpResult<Vec<ArchiveInfo>> {
        let w = self.w();
        let h = w.host_ix(host)?;
        Ok(w.archives
            .iter()
            .filter(|a| a.host == h)
            .map(|a| a.info.clone())
            .collect())
    }

    async fn restore_archive(&self, id: &str, host: &str) -> OpResult<()> {
        let (a, h, d) = {
            let mut w = self.w();
            let h = w.host_ix(host)?;
            let (a, d) = w.begin_restore_archive(id, h)?;
            (a, h, d)
        };
        self.wait(d).await;
        let now = self.micros();
        self.w().finish_restore_archive(a, h, now);
        Ok(())
    }
}

impl Faults for SimBackend {
    async fn inject(&self, fault: &Fault) -> OpResult<()> {
        let now = self.micros();
        match fault {
            Fault::CrashHost { host } | Fault::PowerOff { host } => {
                let mut w = self.w();
                let h = w.host_ix(host)?;
                w.crash(h, now);
            }
            Fault::PowerOn { host } => {
                let (h, d) = {
                    let mut w = self.w();
                    let h = w.host_ix(host)?;
                    if w.hosts[h].up {
                        return Ok(());
                    }
                    (h, w.boot_time())
                };
                self.wait(d).await;
                let now = self.micros();
                let mut w = self.w();
                w.finish_boot(h, now);
                w.resume_flows(now);
            }
            Fault::KillService { host, service } => {
                let mut w = self.w();
                let h = w.up_host(host)?;
                let i = w.hosts[h].service(service)?;
                let svc = &mut w.hosts[h].services[i];
                // a stopped service has no process to die
                svc.failed = svc.state != ServiceState::Stopped;
                svc.state = ServiceState::Stopped;
                if *w.store_service == **service {
                    for st in &mut w.hosts[h].stores {
                        st.mounted = false;
                    }
                }
            }
            Fault::CorruptStore { host, store } => {
                let mut w = self.w();
                let h = w.host_ix(host)?;
                w.corrupt(h, store)?;
            }
            Fault::Partition { a, b } => {
                let mut w = self.w();
                let key = if a <= b {
                    (a.to_string(), b.to_string())
                } else {
                    (b.to_string(), a.to_string())
                };
                w.partitions.insert(key);
                w.interrupt_cut_flows(now);
            }
            Fault::Heal { a, b } => {
                let mut w = self.w();
                let key = if a <= b {
                    (a.to_string(), b.to_string())
                } else {
                    (b.to_string(), a.to_string())
                };
                w.partitions.remove(&key);
                w.resume_flows(now);
            }
            Fault::DegradeLink {
                a,
                b,
                latency_ms,
                bandwidth_mbps,
                loss,
            } => {
                let mut w = self.w();
                let ix = |n: &str| w.sites.iter().position(|s| s.name == n);
                let (Some(x), Some(y)) = (ix(a), ix(b)) else {
                    return Err(OpError::not_found(format!("link {a} <-> {b}")));
                };
                let spec = if x == y {
                    &mut w.sites[x].lan
                } else {
                    w.wan
                        .get_mut(&(x.min(y), x.max(y)))
                        .ok_or_else(|| OpError::not_found(format!("link {a} <-> {b}")))?
                };
                if let Some(v) = latency_ms {
                    spec.latency_ms = *v;
                }
                if let Some(v) = bandwidth_mbps {
                    spec.bandwidth_mbps = *v;
                }
                if let Some(v) = loss {
                    spec.loss = *v;
                }
                // Queued writes are rescheduled at the new rate.
                w.interrupt_all(now);
                w.resume_flows(now);
            }
            Fault::FailServer { server } => {
                let mut w = self.w();
                let s = w.server_ix(server)?;
                w.fail_server(s, now);
            }
            Fault::HangService { host, service } => {
                let mut w = self.w();
                let h = w.up_host(host)?;
                let i = w.hosts[h].service(service)?;
                // Still "running" for the service manager; never ready again.
                w.hosts[h].services[i].ready_at = u64::MAX;
            }
            Fault::RestartService { host, service } => {
                // the service manager recovers a service that failed: a
                // healthy one, or one stopped on purpose (a standby's), is
                // left as it is
                let (failed, hung) = {
                    let w = self.w();
                    let h = w.up_host(host)?;
                    let svc = &w.hosts[h].services[w.hosts[h].service(service)?];
                    (svc.failed, svc.hung())
                };
                if !failed && !hung {
                    return Ok(());
                }
                if hung {
                    self.stop_service(host, service).await?;
                }
                self.start_service(host, service).await?;
                let now = self.micros();
                let mut w = self.w();
                let h = w.up_host(host)?;
                if *w.store_service == **service {
                    w.mount_at_start(h, now);
                }
            }
        }
        Ok(())
    }
}

impl Workload for SimBackend {
    /// The acknowledging host is the one whose store committed the write
    /// (a DAG member the entry host relayed to, not the entry host).
    async fn write_served(
        &self,
        client: &str,
        service_name: &str,
        mailbox: &str,
        seq: u64,
        bytes: u32,
    ) -> OpResult<Option<std::sync::Arc<str>>> {
        let start = self.micros();
        let routed = {
            let mut w = self.w();
            w.serve(client, service_name, mailbox, start)
                .map(|s| (s, w.draw(|t| t.server_write_s)))
        };
        match routed {
            Ok((served, work)) => {
                self.wait(served.request + work).await;
                // A request that no longer reaches the server gets no reply.
                let reached = self.w().path_stands(&served);
                if let Err(e) = reached {
                    return self.no_reply(start, e).await;
                }
                let now = self.micros();
                let committed = self.w().commit_write(served, seq, bytes, now);
                // The acknowledgement is the reply that arrives: committed
                // or refused, the client learns it one reply leg later.
                self.wait(served.reply).await;
                let arrived = self.w().reply_arrives(&served);
                match arrived {
                    Ok(()) => committed.map(|()| Some(self.w().hosts[served.host].name.clone())),
                    Err(e) => self.no_reply(start, e).await,
                }
            }
            Err((e, d)) => {
                self.wait(d).await;
                Err(e)
            }
        }
    }

    async fn read_back(&self, host: &str) -> OpResult<SeqSet> {
        let w = self.w();
        let h = w.up_host(host)?;
        let mut all = SeqSet::new();
        for st in &w.hosts[h].stores {
            all.union_with(&st.records);
        }
        Ok(all)
    }

    async fn replicas_held(&self) -> OpResult<Vec<drlab_drivers::types::ReplicaHeld>> {
        Ok(self.w().replicas_held.clone())
    }

    async fn probe(&self, client: &str, service_name: &str, mailbox: &str) -> OpResult<()> {
        let now = self.micros();
        let routed = self.w().serve(client, service_name, mailbox, now);
        match routed {
            Ok(served) => {
                self.wait(served.request + served.reply).await;
                let arrived = self.w().reply_arrives(&served);
                match arrived {
                    Ok(()) => Ok(()),
                    Err(e) => self.no_reply(now, e).await,
                }
            }
            Err((e, d)) => {
                self.wait(d).await;
                Err(e)
            }
        }
    }
}

impl SimBackend {
    /// A user operation begun at `start` whose reply never reached the
    /// client: the client waits out its time limit, then gives up.
    async fn no_reply<T>(&self, start: u64, why: OpError) -> OpResult<T> {
        let limit = crate::world::secs_f(self.w().timing.client_timeout_s);
        let deadline = Timestamp(start).after(limit);
        self.clock.sleep_until(deadline).await;
        Err(OpError::Timeout {
            op: format!("waiting for a reply ({why})").into(),
            after: limit,
        })
    }
}

impl Backend for SimBackend {
    fn backend_name(&self) -> &'static str {
        "sim"
    }
}
