//! The end-user path: resolve the service name through the client's
//! resolver, reach the address's current holder, find its services running
//! and the mailbox homed on it with its store mounted.

use std::time::Duration;

use drlab_drivers::OpError;

use std::sync::Arc;

use super::{End, Micros, Msg, World};

/// Where a user operation landed, and its two legs over the network: the
/// request (DNS, then the way to the server) and the reply (the way back).
/// An operation succeeds for the user only when its reply arrives.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// Serving host.
    pub host: usize,
    /// Store holding the mailbox.
    pub store: usize,
    /// Host epoch, to detect a crash before the acknowledgement.
    pub epoch: u32,
    /// The host the client talks to (a DAG member relays to `host`).
    pub entry: usize,
    /// The client.
    pub client: usize,
    /// DNS resolution and the request's way to the server.
    pub request: Duration,
    /// The reply's way back to the client.
    pub reply: Duration,
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
        // Half of each round trip is the reply's.
        let legs = |total: Duration, (host, store, epoch): (usize, usize, u32)| {
            let reply = total.saturating_sub(dns_time) / 2;
            Served {
                host,
                store,
                epoch,
                entry: h,
                client: c,
                request: total - reply,
                reply,
            }
        };
        if self.fabric.is_dag_member(h) {
            // Exchange 2010: the Client Access role forwards to the member
            // where the mailbox's database is mounted.
            let store = store.clone();
            let (m, i, total) = self.serve_via_dag(h, &store, network, now)?;
            return Ok(legs(total, (m, i, self.hosts[m].epoch)));
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
        Ok(legs(network, (h, i, host.epoch)))
    }

    /// Whether the operation's path still stands: its hosts up (the server
    /// in the epoch it was reached in) and no partition or cut between the
    /// client, the entry host and the server. Draws nothing: loss was drawn
    /// for both legs when the operation was routed.
    pub fn path_stands(&self, s: &Served) -> Result<(), OpError> {
        let server = &self.hosts[s.host];
        let entry = &self.hosts[s.entry];
        let up = server.up && server.epoch == s.epoch && entry.up;
        let linked = self
            .path(End::Client(s.client), End::Host(s.entry))
            .is_some()
            && (s.entry == s.host || self.path(End::Host(s.entry), End::Host(s.host)).is_some());
        if up && linked {
            Ok(())
        } else {
            Err(OpError::unreachable(server.name.clone()))
        }
    }

    /// Whether the reply of a served operation reaches its client now (the
    /// end of its reply leg). A server that crashed, or a path cut, while
    /// the reply was on its way loses it: the user saw no acknowledgement.
    pub fn reply_arrives(&self, s: &Served) -> Result<(), OpError> {
        self.path_stands(s)
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

    /// Commits a write whose request reached the server (the end of its
    /// request leg and the server's work); fails if the host died or the
    /// path was cut meanwhile, or the store was dismounted.
    pub fn commit_write(
        &mut self,
        s: Served,
        seq: u64,
        bytes: u32,
        now: Micros,
    ) -> Result<(), OpError> {
        self.path_stands(&s)?;
        let host = &mut self.hosts[s.host];
        if !host.stores[s.store].mounted {
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
