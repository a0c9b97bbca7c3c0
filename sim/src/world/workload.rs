//! The end-user path: resolve the service name through the client's
//! resolver, reach the address's current holder, find its services running
//! and the mailbox homed on it with its store mounted.

use std::time::Duration;

use drlab_drivers::OpError;

use std::sync::Arc;

use super::{End, Micros, Msg, World};

/// Where a user operation landed.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// Serving host.
    pub host: usize,
    /// Store holding the mailbox.
    pub store: usize,
    /// Host epoch, to detect a crash before the acknowledgement.
    pub epoch: u32,
    /// Network time spent (DNS and round trip).
    pub network: Duration,
}

impl World {
    /// Routes one user operation; on failure, also how long the user waited.
    pub fn serve(
        &mut self,
        client: &str,
        name: &str,
        mailbox: &str,
        now: Micros,
    ) -> Result<Served, (OpError, Duration)> {
        let timeout = super::secs_f(self.timing.client_timeout_s);
        let c = self.client_ix(client).map_err(|e| (e, Duration::ZERO))?;
        let (answer, dns_time) = self.resolve_addr(c, name, now).map_err(|e| (e, timeout))?;
        let Some(ip) = answer else {
            return Err((OpError::not_found(format!("address of {name}")), dns_time));
        };
        let Some(&h) = self.ip_owner.get(&ip) else {
            return Err((OpError::unreachable(ip.to_string()), dns_time + timeout));
        };
        let rtt = self
            .round_trip(End::Client(c), h)
            .map_err(|e| (e, dns_time + timeout))?;
        let network = dns_time + rtt;
        let host = &self.hosts[h];
        let down = self
            .user_path_ix
            .iter()
            .position(|&i| !host.services.get(i).is_some_and(|s| s.ready(now)));
        if let Some(k) = down {
            let msg = self.message(Msg::NotServing, h, k, |w| {
                format!("{} is not serving on {}", w.user_path[k], w.hosts[h].name)
            });
            return Err((OpError::Refused { reason: msg }, network));
        }

        let Some(dc) = host.dc else {
            return Err((
                OpError::invalid_state(format!("{} has no domain controller", host.name)),
                network,
            ));
        };
        let d = self.directory.dc_of(dc).map_err(|e| (e, network))?;
        let Some((server, store)) = self.directory.view(d).mailbox(mailbox) else {
            return Err((OpError::not_found(format!("mailbox {mailbox}")), network));
        };
        if self.fabric.is_dag_member(h) {
            // Exchange 2010: the Client Access role forwards to the member
            // where the mailbox's database is mounted.
            let store = store.clone();
            return self.serve_via_dag(h, &store, network, now);
        }
        if !server.eq_ignore_ascii_case(&host.computer_name) {
            // Rare (only while mailboxes move): formatted each time.
            return Err((
                OpError::refused(format!(
                    "mailbox {mailbox} is homed on {server}, not on {}",
                    host.computer_name
                )),
                network,
            ));
        }
        let i = host.store(store).map_err(|e| (e, network))?;
        if !host.stores[i].mounted {
            let msg = self.message(Msg::Dismounted, h, i, |w| {
                format!(
                    "store {} on {} is dismounted",
                    w.hosts[h].stores[i].id, w.hosts[h].name
                )
            });
            return Err((OpError::InvalidState { reason: msg }, network));
        }
        Ok(Served {
            host: h,
            store: i,
            epoch: host.epoch,
            network,
        })
    }

    fn message(
        &mut self,
        kind: Msg,
        a: usize,
        b: usize,
        text: impl FnOnce(&World) -> String,
    ) -> Arc<str> {
        if let Some(m) = self.messages.get(&(kind, a, b)) {
            return m.clone();
        }
        let m: Arc<str> = text(self).into();
        self.messages.insert((kind, a, b), m.clone());
        m
    }

    /// Commits a write that was served; fails if the host died meanwhile.
    pub fn commit_write(
        &mut self,
        s: Served,
        seq: u64,
        bytes: u32,
        now: Micros,
    ) -> Result<(), OpError> {
        let host = &mut self.hosts[s.host];
        if !host.up || host.epoch != s.epoch || !host.stores[s.store].mounted {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let st = &mut host.stores[s.store];
        if st.records.insert(seq) {
            st.record_bytes += u64::from(bytes);
        }
        st.modified_at = now;
        self.replicate(s.host, s.store, seq, bytes, now);
        Ok(())
    }
}
