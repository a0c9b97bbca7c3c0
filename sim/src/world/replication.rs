//! Replication connections as flows: each acknowledged write joins the
//! source's queue, is serialised onto the link at its bandwidth, crosses it
//! with its latency and is applied by the target at its disk rate. Times are
//! computed when a write is queued; [`World::settle`] applies what has
//! arrived. Pauses, partitions and crashes interrupt the flow.
//!
//! A store that receives records this way while dismounted is a replica
//! (`Store::replica`); mounting it is a takeover, and
//! [`World::finish_mount`] notes what it held then
//! ([`World::replicas_held`]: the drill's `replica-held` events). The
//! moment is the mount, not the source's failure: writes on the wire when
//! the source stopped may still arrive before the target goes live, and
//! nothing arriving after the mount is owed to the failover.

use std::collections::VecDeque;
use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::{MirrorMode, QueueStatus, ReplicationState, RestoreOptions};

use super::{Consistency, End, Micros, World, us};

/// One replicated write.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    seq: u64,
    store: usize,
    bytes: u32,
    tx_done: Micros,
    applied_at: Micros,
    /// The shipped log file it belongs to (0: replicated on its own).
    log: u64,
}

/// A replication connection source → target.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Changes wait this long in a batch before they are sent (0: stream).
    pub batch_delay_us: Micros,
    /// When the open batch is sent.
    batch_closes_at: Micros,
    /// Source host index.
    pub source: usize,

    /// Target host index.
    pub target: usize,
    /// State.
    pub state: ReplicationState,
    sent: VecDeque<Item>,
    unsent: VecDeque<Item>,
    link_busy_until: Micros,
    apply_busy_until: Micros,
    /// When the target last applied something.
    pub last_applied: Micros,
    /// Log shipping: size of the source's transaction log file; writes wait
    /// in the open log until it is full (0: every write replicates at once).
    pub log_bytes: u64,
    open: Vec<Item>,
    open_bytes: u64,
    logs_closed: u64,
    /// For each source store (by index), the target store its files land
    /// in ([`World::counterpart`]); `None` when the target has none.
    store_map: Vec<Option<usize>>,
}

impl Pair {
    /// A connection, replicating already if `connected`.
    pub fn new(source: usize, target: usize, connected: bool) -> Pair {
        Pair {
            batch_delay_us: 0,
            batch_closes_at: 0,
            source,
            target,
            state: if connected {
                ReplicationState::Replicating
            } else {
                ReplicationState::Disconnected
            },
            sent: VecDeque::new(),
            unsent: VecDeque::new(),
            link_busy_until: 0,
            apply_busy_until: 0,
            last_applied: 0,
            log_bytes: 0,
            open: Vec::new(),
            open_bytes: 0,
            logs_closed: 0,
            store_map: Vec::new(),
        }
    }

    /// When the last queued write will be applied, if any is in flight.
    pub fn drained_at(&self) -> Option<Micros> {
        self.sent.back().map(|i| i.applied_at)
    }

    /// Whether writes wait on the source (paused or cut off).
    pub fn has_unsent(&self) -> bool {
        !self.unsent.is_empty()
    }
}

impl World {
    /// The index of the connection `source` → `target`.
    pub fn pair_ix(&self, source: usize, target: usize) -> Result<usize, OpError> {
        self.pair_by_ends
            .get(&(source, target))
            .copied()
            .ok_or_else(|| {
                OpError::not_found(format!(
                    "replication connection {} -> {}",
                    self.hosts[source].name, self.hosts[target].name
                ))
            })
    }

    /// Adds a connection (the only way one is added, so that its indexes
    /// stay whole); returns its index.
    pub fn add_pair(&mut self, pair: Pair) -> usize {
        let i = self.pairs.len();
        self.pair_by_ends
            .entry((pair.source, pair.target))
            .or_insert(i);
        std::rc::Rc::make_mut(&mut self.pairs_from)[pair.source].push(i);
        self.pairs.push(pair);
        self.pair_due.push(Micros::MAX);
        i
    }

    /// Keeps connection `i`'s key in `due` at or below its first queued
    /// write's application time. Called after writes are queued; taking
    /// writes off a queue only makes a key earlier than it need be, which
    /// costs one visit that applies nothing.
    pub(super) fn note_due(&mut self, i: usize) {
        let Some(t) = self.pairs[i].sent.front().map(|x| x.applied_at) else {
            return;
        };
        let key = self.pair_due[i];
        if t < key {
            if key != Micros::MAX {
                self.due.remove(&(key, i));
            }
            self.due.insert((t, i));
            self.pair_due[i] = t;
        }
    }

    /// Whether connection `i` transmits now: replicating or mirroring, both
    /// ends up, and a path between them.
    pub fn flowing(&self, i: usize) -> bool {
        let p = &self.pairs[i];
        matches!(
            p.state,
            ReplicationState::Replicating | ReplicationState::Mirroring
        ) && self.hosts[p.source].up
            && self.hosts[p.target].up
            && self
                .path(End::Host(p.source), End::Host(p.target))
                .is_some()
    }

    fn schedule(&mut self, i: usize, mut item: Item, now: Micros) {
        let p = &self.pairs[i];
        let link = self
            .path(End::Host(p.source), End::Host(p.target))
            .expect("scheduled only while the path is up");
        let apply_mbps = self.timing.target_apply_mbps;
        let p = &mut self.pairs[i];
        let mut start = now.max(p.link_busy_until);
        if p.batch_delay_us > 0 {
            // lsyncd-style batching: the first change opens a batch that is
            // sent when its delay has passed; later changes join it.
            if now >= p.batch_closes_at {
                p.batch_closes_at = now + p.batch_delay_us;
            }
            start = start.max(p.batch_closes_at);
        }

        item.tx_done = start + us(World::transfer_time(&link, u64::from(item.bytes)));
        let arrive = item.tx_done + (link.latency_ms * 1000.0) as u64;
        let apply = us(super::secs_f(
            f64::from(item.bytes) * 8.0 / (apply_mbps * 1e6),
        ));
        item.applied_at = arrive.max(p.apply_busy_until) + apply;
        p.link_busy_until = item.tx_done;
        p.apply_busy_until = item.applied_at;
        if item.log != 0 {
            // A log file is replayed once it has arrived whole.
            for earlier in p.sent.iter_mut().rev().take_while(|x| x.log == item.log) {
                earlier.applied_at = item.applied_at;
            }
        }
        // `settle_pair` stops at the first item not applied yet: the queue
        // must be in application order, and the wire in send order.
        assert!(
            p.sent.back().is_none_or(
                |last| last.applied_at <= item.applied_at && last.tx_done <= item.tx_done
            ),
            "replication queue out of order"
        );
        p.sent.push_back(item);
        self.note_due(i);
    }

    /// Queues an acknowledged write on every connection from `h`.
    pub fn replicate(&mut self, h: usize, store: usize, seq: u64, bytes: u32, now: Micros) {
        for k in 0..self.pairs_from[h].len() {
            let i = self.pairs_from[h][k];
            let p = &self.pairs[i];
            if p.state == ReplicationState::Disconnected {
                continue;
            }
            let item = Item {
                seq,
                store,
                bytes,
                tx_done: 0,
                applied_at: 0,
                log: 0,
            };
            let ship = if self.pairs[i].log_bytes > 0 {
                // Log shipping: only a closed (full) log file is copied.
                let p = &mut self.pairs[i];
                p.open.push(item);
                p.open_bytes += u64::from(bytes);
                if p.open_bytes < p.log_bytes {
                    continue;
                }
                p.open_bytes = 0;
                p.logs_closed += 1;
                let log = p.logs_closed;
                let mut closed = std::mem::take(&mut p.open);
                for x in &mut closed {
                    x.log = log;
                }
                closed
            } else {
                vec![item]
            };
            for item in ship {
                if self.flowing(i) {
                    self.schedule(i, item, now);
                } else {
                    self.pairs[i].unsent.push_back(item);
                }
            }
        }
    }

    /// The store of host `to` that holds the replica of store `k` of host
    /// `from`: the one with the same database file name (Storage Mirroring
    /// replicates files; the guide pairs stores "by database file name"),
    /// else, when file names do not decide, the one with the same group and
    /// name. One rule for replication, mirrors and restores alike.
    pub fn counterpart(&self, from: usize, k: usize, to: usize) -> Option<usize> {
        let s = &self.hosts[from].stores[k];
        let stores = &self.hosts[to].stores;
        let mut by_file = stores.iter().enumerate().filter(|(_, t)| t.file == s.file);
        match (by_file.next(), by_file.next()) {
            (Some((j, _)), None) => Some(j),
            _ => stores.iter().position(|t| t.id == s.id),
        }
    }

    /// A replication connection `source` → `target` with its store map.
    pub fn new_pair(&self, source: usize, target: usize, connected: bool) -> Pair {
        let mut p = Pair::new(source, target, connected);
        p.store_map = (0..self.hosts[source].stores.len())
            .map(|k| self.counterpart(source, k, target))
            .collect();
        p
    }

    /// Applies writes that reached the target by `now`.
    pub fn settle_pair(&mut self, i: usize, now: Micros) {
        while let Some(item) = self.pairs[i].sent.front().copied() {
            if item.applied_at > now {
                break;
            }
            self.pairs[i].sent.pop_front();
            assert!(
                item.applied_at >= self.pairs[i].last_applied,
                "replication applied out of order"
            );
            let t = self.pairs[i].target;
            // A write to a store with no counterpart lands in no store: the
            // target cannot serve it, and a read-back shows it missing.
            let counterpart = self.pairs[i].store_map.get(item.store).copied().flatten();
            if let Some(st) = counterpart.map(|k| &mut self.hosts[t].stores[k]) {
                if st.records.insert(item.seq) {
                    st.record_bytes += u64::from(item.bytes);
                }
                st.modified_at = item.applied_at;
                st.replica |= !st.mounted;
            }
            self.pairs[i].last_applied = item.applied_at;
        }
    }

    /// Stops the flow at `now`: writes not fully sent go back to the source queue.
    fn interrupt(&mut self, i: usize, now: Micros) {
        self.settle_pair(i, now);
        let p = &mut self.pairs[i];
        let mut cut = p
            .sent
            .iter()
            .position(|x| x.tx_done > now)
            .unwrap_or(p.sent.len());
        // A log file only partly copied goes back whole.
        while cut > 0 && cut < p.sent.len() && p.sent[cut].log != 0 {
            if p.sent[cut - 1].log != p.sent[cut].log {
                break;
            }
            cut -= 1;
        }
        let back: Vec<Item> = p.sent.drain(cut..).collect();
        for item in back.into_iter().rev() {
            p.unsent.push_front(item);
        }
        p.link_busy_until = now;
    }

    /// Restarts flows that can flow again (after a heal, resume or boot).
    pub fn resume_flows(&mut self, now: Micros) {
        for i in 0..self.pairs.len() {
            if self.flowing(i) {
                let items: Vec<Item> = self.pairs[i].unsent.drain(..).collect();
                for item in items {
                    self.schedule(i, item, now);
                }
            }
        }
    }

    /// Interrupts every flow (link parameters changed).
    pub fn interrupt_all(&mut self, now: Micros) {
        for i in 0..self.pairs.len() {
            self.interrupt(i, now);
        }
    }

    /// Interrupts every flow whose path is now cut.
    pub fn interrupt_cut_flows(&mut self, now: Micros) {
        for i in 0..self.pairs.len() {
            let p = &self.pairs[i];
            if self
                .path(End::Host(p.source), End::Host(p.target))
                .is_none()
            {
                self.interrupt(i, now);
            }
        }
    }

    /// A host went down: its unsent writes never reach their targets, and
    /// writes on their way to it are lost.
    pub fn host_lost_flows(&mut self, h: usize, now: Micros) {
        for i in 0..self.pairs.len() {
            if self.pairs[i].source == h {
                self.interrupt(i, now);
                let p = &mut self.pairs[i];
                p.unsent.clear();
                p.open.clear();
                p.open_bytes = 0;
            } else if self.pairs[i].target == h {
                self.settle_pair(i, now);
                let p = &mut self.pairs[i];
                p.sent.clear();
                p.unsent.clear();
                p.state = ReplicationState::Disconnected;
            }
        }
    }

    /// Pauses transmission.
    pub fn pause(&mut self, i: usize, now: Micros) -> Result<(), OpError> {
        if self.pairs[i].state == ReplicationState::Disconnected {
            return Err(OpError::invalid_state(
                "cannot pause a disconnected replication connection",
            ));
        }
        self.interrupt(i, now);
        self.pairs[i].state = ReplicationState::Paused;
        Ok(())
    }

    /// Resumes transmission.
    pub fn resume(&mut self, i: usize, now: Micros) -> Result<(), OpError> {
        match self.pairs[i].state {
            ReplicationState::Disconnected => Err(OpError::invalid_state(
                "cannot resume a disconnected replication connection",
            )),
            _ => {
                self.pairs[i].state = ReplicationState::Replicating;
                self.resume_flows(now);
                Ok(())
            }
        }
    }

    /// Ends a connection; queued writes are discarded.
    pub fn disconnect(&mut self, i: usize, now: Micros) {
        self.settle_pair(i, now);
        let p = &mut self.pairs[i];
        p.sent.clear();
        p.unsent.clear();
        p.open.clear();
        p.open_bytes = 0;
        p.state = ReplicationState::Disconnected;
    }

    /// Queue status.
    pub fn queue_status(&mut self, i: usize, now: Micros) -> QueueStatus {
        self.settle_pair(i, now);
        let p = &self.pairs[i];
        let bytes = |it: &Item| u64::from(it.bytes);
        let (on_wire, arrived): (Vec<&Item>, Vec<&Item>) =
            p.sent.iter().partition(|x| x.tx_done > now);
        QueueStatus {
            state: p.state,
            source_queued_bytes: p.unsent.iter().map(bytes).sum::<u64>()
                + on_wire.iter().map(|x| bytes(x)).sum::<u64>()
                + p.open_bytes,
            source_queued_items: (p.unsent.len() + on_wire.len() + p.open.len()) as u64,
            target_queued_bytes: arrived.iter().map(|x| bytes(x)).sum(),
        }
    }

    /// Begins a connection with a mirror; returns how long the mirror takes.
    pub fn begin_connect(
        &mut self,
        source: usize,
        target: usize,
        mode: MirrorMode,
        now: Micros,
    ) -> Result<Duration, OpError> {
        for h in [source, target] {
            if !self.hosts[h].up {
                return Err(OpError::unreachable(self.hosts[h].name.clone()));
            }
        }
        let link = self
            .path(End::Host(source), End::Host(target))
            .ok_or_else(|| OpError::unreachable(self.hosts[target].name.clone()))?;
        let i = match self.pair_ix(source, target) {
            Ok(i) => i,
            Err(_) => {
                let pair = self.new_pair(source, target, false);
                self.add_pair(pair)
            }
        };
        if self.pairs[i].state != ReplicationState::Disconnected {
            return Err(OpError::invalid_state(format!(
                "{} -> {} is already connected",
                self.hosts[source].name, self.hosts[target].name
            )));
        }
        let (src, tgt) = (&self.hosts[source], &self.hosts[target]);
        let total: u64 = src
            .stores
            .iter()
            .map(|s| s.base_bytes + s.record_bytes)
            .sum();
        let apply = self.timing.target_apply_mbps;
        let d = match mode {
            MirrorMode::None => Duration::ZERO,
            MirrorMode::Full => World::transfer_time(&link, total),
            MirrorMode::Difference => {
                // Block checksums read the whole set on both sides, then only
                // differing blocks cross the link.
                let differing: u64 = src
                    .stores
                    .iter()
                    .enumerate()
                    .map(|(k, s)| {
                        let other = self.counterpart(source, k, target).map(|j| &tgt.stores[j]);
                        let missing = s
                            .records
                            .iter()
                            .filter(|q| !other.is_some_and(|t| t.records.contains(*q)))
                            .count() as u64;
                        missing * s.record_bytes / s.records.len().max(1)
                    })
                    .sum();
                super::secs_f(total as f64 * 8.0 / (apply * 1e6))
                    + World::transfer_time(&link, differing)
            }
        };
        self.pairs[i].state = ReplicationState::Mirroring;
        self.pairs[i].link_busy_until = now + us(d);
        Ok(d)
    }

    /// Completes a mirror: the target's stores match the source's.
    pub fn finish_connect(
        &mut self,
        source: usize,
        target: usize,
        mode: MirrorMode,
        now: Micros,
    ) -> Result<(), OpError> {
        let i = self.pair_ix(source, target)?;
        if !self.hosts[source].up || !self.hosts[target].up {
            self.pairs[i].state = ReplicationState::Disconnected;
            return Err(OpError::unreachable(
                "replication peer went down during the mirror",
            ));
        }
        if mode != MirrorMode::None {
            for k in 0..self.hosts[source].stores.len() {
                let Some(j) = self.counterpart(source, k, target) else {
                    continue;
                };
                let (rec, b) = {
                    let s = &self.hosts[source].stores[k];
                    (s.records.clone(), s.record_bytes)
                };
                let st = &mut self.hosts[target].stores[j];
                st.records = rec;
                st.record_bytes = b;
                st.modified_at = now;
                st.foreign = true;
                st.consistency = Consistency::Clean;
                st.replica |= !st.mounted;
            }
        }
        self.pairs[i].state = ReplicationState::Replicating;
        self.resume_flows(now);
        Ok(())
    }

    /// Begins a restoration `from` → `to`; returns the copy time.
    pub fn begin_restore(&mut self, from: usize, to: usize) -> Result<Duration, OpError> {
        for h in [from, to] {
            if !self.hosts[h].up {
                return Err(OpError::unreachable(self.hosts[h].name.clone()));
            }
        }
        if let Some(st) = self.hosts[to].stores.iter().find(|s| s.mounted) {
            return Err(OpError::invalid_state(format!(
                "cannot restore over {} on {}: the store is mounted; stop the Exchange services first",
                st.id, self.hosts[to].name
            )));
        }
        let link = self
            .path(End::Host(from), End::Host(to))
            .ok_or_else(|| OpError::unreachable(self.hosts[to].name.clone()))?;
        let bytes: u64 = self.hosts[from]
            .stores
            .iter()
            .map(|s| s.base_bytes + s.record_bytes)
            .sum();
        Ok(World::transfer_time(&link, bytes))
    }

    /// Completes a restoration. With `only_if_backup_newer`, a destination
    /// store whose files are newer than the replica's is skipped: the
    /// guide's pitfall.
    pub fn finish_restore(
        &mut self,
        from: usize,
        to: usize,
        options: RestoreOptions,
        now: Micros,
    ) -> Result<Vec<String>, OpError> {
        let mut skipped = Vec::new();
        for k in 0..self.hosts[from].stores.len() {
            let Some(j) = self.counterpart(from, k, to) else {
                continue;
            };
            let (rec, b, modified) = {
                let s = &self.hosts[from].stores[k];
                (s.records.clone(), s.record_bytes, s.modified_at)
            };
            let st = &mut self.hosts[to].stores[j];
            if options.only_if_backup_newer && st.modified_at > modified {
                skipped.push(st.id.to_string());
                continue;
            }
            st.records = rec;
            st.record_bytes = b;
            st.modified_at = now;
            st.consistency = Consistency::Clean;
            st.foreign = true;
            st.replica |= !st.mounted;
        }
        Ok(skipped)
    }
}
