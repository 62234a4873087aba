//! The flow table: a slab of flows, an index by key, and one list per timeout class.
//!
//! Every flow sits in exactly one list, ordered by the time its timeout started, so the flows
//! due to be written are always at the heads: expiry pops heads and never scans the table, and
//! eviction under the cap takes the head closest to its deadline. The slab and index grow to the
//! cap and are reused afterwards; nothing per packet allocates in steady state.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::conn_state::{self, SideSummary};
use super::history::{History, mask};
use super::key::{FlowKey, icmp_ports, proto};
use super::payload::{Pool, Prefix};
use super::tcp::{self, Endpoint, Ooo, Segment, SegmentEffect, TcpState};
use super::{
    ConnState, DirCounts, EndReason, FlowConfig, FlowRecord, IcmpRefusal, Kind, PayloadPrefix,
    Refusals,
};
use crate::decode::{Checksum, Decoded, Icmp, Tcp, Transport, Udp, Vlans};
use crate::stats::FlowStats;
use crate::time::{Duration, Timestamp};

const NIL: u32 = u32::MAX;
/// How often (in capture time) the table looks for flows past their deadline.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Timeout classes; each has its own list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    TcpHandshake = 0,
    TcpLong = 1,
    Udp = 2,
    Icmp = 3,
    Other = 4,
    Close = 5,
    Attempt = 6,
}
const TIMERS: usize = 7;

/// One open flow. `repr(C)` keeps the fields every packet reads first (the key the index
/// compares, the timer and the times the expiry check reads) in the first cache line.
#[repr(C)]
struct Flow {
    key: FlowKey,
    timer: Timer,
    /// Whether the originator is the key's side `a`.
    orig_is_a: bool,
    kind: Kind,
    /// A close that ends the flow after the linger (both closed, or a reset).
    complete: bool,
    long_timeout: bool,
    saw_syn: bool,
    truncated: bool,
    payload_cap_hit: bool,
    live: bool,
    last: Timestamp,
    /// When the flow was put at the tail of its list. Lists are ordered by this time; a flow
    /// active since then is moved back only when it reaches the head (once per timeout at most),
    /// so a packet costs no list work.
    queued_at: Timestamp,
    /// When the originator's first SYN armed the attempt timer.
    attempt_start: Option<Timestamp>,
    prefix_a: Option<Box<Prefix>>,
    prefix_b: Option<Box<Prefix>>,
    prev: u32,
    next: u32,
    /// Index of this flow's ICMP refusals in the table's side list, or `NIL` (most flows have
    /// none, so they are not kept inline).
    refusals: u32,
    ip_proto: u8,
    vlans: Vlans,
    orig: Endpoint,
    resp: Endpoint,
    history: History,
    start: Timestamp,
    id: u64,
    late_packets: u64,
    ooo_a: Ooo,
    ooo_b: Ooo,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// All open flows. See the module documentation of `flow` for the semantics.
pub struct FlowTable {
    config: FlowConfig,
    flows: Vec<Flow>,
    free: Vec<u32>,
    /// Slots of the open flows by the hash of their key; the key itself is read from the slab,
    /// which the packet needs anyway, so an entry is 4 bytes and the index stays in cache.
    index: HashTable<u32>,
    /// Randomly seeded: senders choose the keys.
    hasher: foldhash::fast::RandomState,
    lists: [List; TIMERS],
    pool: Pool,
    /// ICMP refusals of the flows that have any, with a free list (at most one per flow).
    refusals: Vec<Refusals>,
    free_refusals: Vec<u32>,
    next_id: u64,
    clock: Timestamp,
    next_sweep: Timestamp,
    /// The flow whose payload prefix the last packet added to, and whether the bytes came from
    /// the key's side `a` (for [`FlowTable::fed`]); `NIL` when it added to none.
    fed: u32,
    fed_from_a: bool,
}

/// An open flow as the last packet left it: for learners that read answers as they arrive
/// (the endpoint mapper's towers), before the flow ends.
#[derive(Clone, Copy, Debug)]
pub struct FlowView<'a> {
    pub id: u64,
    pub start: Timestamp,
    pub ip_proto: u8,
    pub orig: (std::net::IpAddr, u16),
    pub resp: (std::net::IpAddr, u16),
    /// The packet's bytes came from the responder.
    pub from_resp: bool,
    pub midstream: bool,
    pub truncated: bool,
    orig_payload: Option<&'a Prefix>,
    resp_payload: Option<&'a Prefix>,
}

impl FlowView<'_> {
    /// The prefixes as the inspectors read them (worked out only when a learner wants them).
    pub fn input(&self) -> crate::inspect::Input<'_> {
        let cut =
            |p: Option<&Prefix>| p.is_some_and(|p| p.is_full() || p.has_gap() || p.is_starved());
        crate::inspect::Input {
            client: self.orig_payload.map(Prefix::bytes).unwrap_or(&[]),
            server: self.resp_payload.map(Prefix::bytes).unwrap_or(&[]),
            udp: self.ip_proto == proto::UDP,
            client_port: self.orig.1,
            server_port: self.resp.1,
            midstream: self.midstream,
            client_cut: self.truncated || cut(self.orig_payload),
            server_cut: self.truncated || cut(self.resp_payload),
        }
    }
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> Self {
        let pool = Pool::new(config.payload_prefix_bytes, config.payload_memory_bytes);
        let reserve = config.max_flows.clamp(1, 1 << 12);
        Self {
            flows: Vec::with_capacity(reserve),
            free: Vec::new(),
            index: HashTable::with_capacity(reserve),
            hasher: foldhash::fast::RandomState::default(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; TIMERS],
            pool,
            refusals: Vec::new(),
            free_refusals: Vec::new(),
            next_id: 0,
            clock: Timestamp::ZERO,
            next_sweep: Timestamp::ZERO,
            fed: NIL,
            fed_from_a: false,
            config,
        }
    }

    /// Flows currently open.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Feeds one decoded packet. Flows that end because of it (reuse of the 5-tuple, expiry
    /// noticed on the way, eviction) are moved into `out`, which the caller owns and reuses.
    pub fn observe(
        &mut self,
        now: Timestamp,
        pkt: &Decoded<'_>,
        truncated: bool,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) {
        self.fed = NIL;
        if now > self.clock {
            self.clock = now;
        }
        if self.clock >= self.next_sweep {
            self.expire(self.clock, st, out);
            self.next_sweep = self.clock.saturating_add(SWEEP_INTERVAL);
        }
        // The datagrams of UDP tunnels that carried this packet are conversations of their own.
        for o in pkt.outer.iter().flatten() {
            self.udp(now, &o.as_decoded(), &o.udp(), truncated, st, out);
        }
        match pkt.transport {
            Transport::Tcp(t) => self.tcp(now, pkt, &t, truncated, st, out),
            Transport::Udp(u) => self.udp(now, pkt, &u, truncated, st, out),
            Transport::Icmp(i) => self.icmp(now, pkt, &i, st, out),
            Transport::Other => self.other(now, pkt, st, out),
        }
    }

    /// The open TCP flow whose payload prefix the last [`observe`](Self::observe) added bytes
    /// to, if any.
    pub fn fed(&self) -> Option<FlowView<'_>> {
        let f = self.flows.get(self.fed as usize).filter(|f| f.live)?;
        let (a, b) = ((f.key.a, f.key.port_a), (f.key.b, f.key.port_b));
        let (orig, resp) = if f.orig_is_a { (a, b) } else { (b, a) };
        let (pa, pb) = (f.prefix_a.as_deref(), f.prefix_b.as_deref());
        let (op, rp) = if f.orig_is_a { (pa, pb) } else { (pb, pa) };
        Some(FlowView {
            id: f.id,
            start: f.start,
            ip_proto: f.ip_proto,
            orig,
            resp,
            from_resp: self.fed_from_a != f.orig_is_a,
            midstream: f.kind == Kind::Tcp && !f.saw_syn,
            truncated: f.truncated,
            orig_payload: op,
            resp_payload: rp,
        })
    }

    /// Writes every flow whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Timestamp, st: &mut FlowStats, out: &mut Vec<FlowRecord>) {
        for t in 0..TIMERS {
            loop {
                let head = self.lists.get(t).map_or(NIL, |l| l.head);
                let Some(f) = self.flows.get(head as usize) else {
                    break;
                };
                if self.deadline(f) <= now {
                    let reason = reason_for(f.timer);
                    self.remove(head, reason, st, out);
                } else if self.deadline_from(f, f.queued_at) <= now {
                    // Active since it was queued: back to the tail, from its last activity.
                    let (timer, last) = (f.timer, f.last);
                    self.unlink(head);
                    self.push_tail(head, timer, last);
                } else {
                    break;
                }
            }
        }
    }

    /// Writes every open flow (the input ended), oldest first.
    pub fn finish(&mut self, st: &mut FlowStats, out: &mut Vec<FlowRecord>) {
        let mut open: Vec<(Timestamp, u64, u32)> = self
            .flows
            .iter()
            .enumerate()
            .filter(|(_, f)| f.live)
            .map(|(i, f)| (f.start, f.id, u32::try_from(i).unwrap_or(NIL)))
            .collect();
        open.sort_unstable();
        for (_, _, slot) in open {
            // A flow that had finished and was only lingering ended by its close.
            let closed = self
                .flows
                .get(slot as usize)
                .is_some_and(|f| f.timer == Timer::Close && f.complete);
            let reason = if closed {
                EndReason::Closed
            } else {
                EndReason::EndOfInput
            };
            self.remove(slot, reason, st, out);
        }
    }

    /// Returns a written record's payload buffers to the pool (the record is left without them;
    /// taking it by reference spares moving the whole record).
    pub fn recycle(&mut self, rec: &mut FlowRecord) {
        for p in [
            rec.orig_payload.prefix.take(),
            rec.resp_payload.prefix.take(),
        ]
        .into_iter()
        .flatten()
        {
            self.pool.give(p);
        }
    }

    /// When the flow is due to be written, given its state.
    fn deadline(&self, f: &Flow) -> Timestamp {
        self.deadline_from(f, f.last)
    }

    /// The deadline of the flow's timeout class counted from `since` (its last activity, or the
    /// time it was queued).
    fn deadline_from(&self, f: &Flow, since: Timestamp) -> Timestamp {
        let t = &self.config.timeouts;
        match f.timer {
            Timer::TcpHandshake => since.saturating_add(t.tcp_handshake),
            Timer::TcpLong => since.saturating_add(t.tcp_established),
            Timer::Udp => since.saturating_add(t.udp),
            Timer::Icmp => since.saturating_add(t.icmp),
            Timer::Other => since.saturating_add(t.other),
            Timer::Close => since.saturating_add(t.close_delay),
            Timer::Attempt => f.attempt_start.unwrap_or(f.start).saturating_add(t.attempt),
        }
    }

    // ---- the index ----------------------------------------------------------------------------

    fn find(&self, key: &FlowKey) -> Option<u32> {
        let flows = &self.flows;
        self.index
            .find(self.hasher.hash_one(key), |&s| {
                flows.get(s as usize).is_some_and(|f| f.key == *key)
            })
            .copied()
    }

    fn index_insert(&mut self, key: &FlowKey, slot: u32) {
        let (flows, hasher) = (&self.flows, &self.hasher);
        self.index.insert_unique(hasher.hash_one(key), slot, |&s| {
            flows.get(s as usize).map_or(0, |f| hasher.hash_one(f.key))
        });
    }

    fn index_remove(&mut self, key: &FlowKey, slot: u32) {
        if let Ok(e) = self
            .index
            .find_entry(self.hasher.hash_one(key), |&s| s == slot)
        {
            e.remove();
        }
    }

    // ---- list maintenance -------------------------------------------------------------------

    fn unlink(&mut self, slot: u32) {
        let Some(f) = self.flows.get(slot as usize) else {
            return;
        };
        let (prev, next, t) = (f.prev, f.next, f.timer as usize);
        if let Some(p) = self.flows.get_mut(prev as usize) {
            p.next = next;
        } else if let Some(l) = self.lists.get_mut(t) {
            l.head = next;
        }
        if let Some(n) = self.flows.get_mut(next as usize) {
            n.prev = prev;
        } else if let Some(l) = self.lists.get_mut(t) {
            l.tail = prev;
        }
    }

    fn push_tail(&mut self, slot: u32, timer: Timer, at: Timestamp) {
        let t = timer as usize;
        let tail = self.lists.get(t).map_or(NIL, |l| l.tail);
        if let Some(f) = self.flows.get_mut(slot as usize) {
            f.timer = timer;
            f.queued_at = at;
            f.prev = tail;
            f.next = NIL;
        }
        if let Some(p) = self.flows.get_mut(tail as usize) {
            p.next = slot;
        }
        if let Some(l) = self.lists.get_mut(t) {
            if l.head == NIL {
                l.head = slot;
            }
            l.tail = slot;
        }
    }

    /// Moves the flow to the list its state calls for, if that changed. Activity within the same
    /// class needs no list work: `expire` requeues a flow that was active after it was queued.
    fn touch(&mut self, slot: u32) {
        let Some(f) = self.flows.get(slot as usize) else {
            return;
        };
        let timer = timer_for(f);
        if timer == f.timer {
            return;
        }
        let at = if timer == Timer::Attempt {
            f.attempt_start.unwrap_or(f.last)
        } else {
            f.last
        };
        self.unlink(slot);
        self.push_tail(slot, timer, at);
    }

    // ---- creation and removal ---------------------------------------------------------------

    fn remove(
        &mut self,
        slot: u32,
        reason: EndReason,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) {
        self.unlink(slot);
        let Some(f) = self.flows.get_mut(slot as usize) else {
            return;
        };
        f.live = false;
        let key = f.key;
        let refusals = match self.refusals.get(f.refusals as usize) {
            Some(r) => {
                self.free_refusals.push(f.refusals);
                *r
            }
            None => Refusals::default(),
        };
        f.refusals = NIL;
        let rec = record(f, reason, refusals);
        self.index_remove(&key, slot);
        self.free.push(slot);
        match reason {
            EndReason::Closed | EndReason::Attempt | EndReason::Reused => st.ended += 1,
            EndReason::Timeout => st.timed_out += 1,
            EndReason::Evicted => st.evicted += 1,
            EndReason::EndOfInput => st.open_at_end += 1,
        }
        out.push(rec);
    }

    /// Makes room under the cap by writing the flow nearest to its deadline.
    fn evict_one(&mut self, st: &mut FlowStats, out: &mut Vec<FlowRecord>) {
        let mut best: Option<(Timestamp, u32)> = None;
        for l in self.lists {
            if let Some(f) = self.flows.get(l.head as usize) {
                let d = self.deadline(f);
                if best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, l.head));
                }
            }
        }
        if let Some((_, slot)) = best {
            self.remove(slot, EndReason::Evicted, st, out);
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one call site per transport")]
    fn create(
        &mut self,
        key: FlowKey,
        orig_is_a: bool,
        flipped: bool,
        kind: Kind,
        pkt: &Decoded<'_>,
        now: Timestamp,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) -> u32 {
        while self.index.len() >= self.config.max_flows.max(1) {
            let before = self.index.len();
            self.evict_one(st, out);
            if self.index.len() == before {
                break;
            }
        }
        st.flows += 1;
        let mut history = History::default();
        if flipped {
            history.push_raw(b'^');
        }
        let flow = Flow {
            key,
            id: self.next_id,
            orig_is_a,
            start: now,
            last: now,
            attempt_start: None,
            kind,
            ip_proto: pkt.ip_proto,
            vlans: pkt.vlans,
            orig: Endpoint::default(),
            resp: Endpoint::default(),
            history,
            refusals: NIL,
            complete: false,
            long_timeout: false,
            saw_syn: false,
            truncated: false,
            late_packets: 0,
            payload_cap_hit: false,
            prefix_a: None,
            prefix_b: None,
            ooo_a: Ooo::default(),
            ooo_b: Ooo::default(),
            timer: Timer::Other,
            queued_at: now,
            prev: NIL,
            next: NIL,
            live: true,
        };
        self.next_id += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(f) = self.flows.get_mut(s as usize) {
                    *f = flow;
                }
                s
            }
            None => {
                self.flows.push(flow);
                u32::try_from(self.flows.len() - 1).unwrap_or(NIL)
            }
        };
        self.index_insert(&key, slot);
        let timer = self
            .flows
            .get(slot as usize)
            .map_or(Timer::Other, timer_for);
        self.push_tail(slot, timer, now);
        slot
    }

    /// Finds the flow of `key`; a flow past its deadline is written first, as if its timer had
    /// fired before this packet arrived.
    fn lookup(
        &mut self,
        key: &FlowKey,
        now: Timestamp,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) -> Option<u32> {
        let slot = self.find(key)?;
        let f = self.flows.get(slot as usize)?;
        if self.deadline(f) <= now {
            let reason = reason_for(f.timer);
            self.remove(slot, reason, st, out);
            return None;
        }
        Some(slot)
    }

    fn key_vlans(&self, pkt: &Decoded<'_>) -> Vlans {
        if self.config.vlan_in_key {
            pkt.vlans
        } else {
            Vlans::NONE
        }
    }

    // ---- TCP --------------------------------------------------------------------------------

    fn tcp(
        &mut self,
        now: Timestamp,
        pkt: &Decoded<'_>,
        t: &Tcp<'_>,
        truncated: bool,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) {
        let (key, src_is_a) = FlowKey::new(
            (pkt.src, t.src_port),
            (pkt.dst, t.dst_port),
            proto::TCP,
            self.key_vlans(pkt),
            false,
        );
        let mut slot = self.lookup(&key, now, st, out);
        if let Some(s) = slot
            && let Some(f) = self.flows.get(s as usize)
            && is_reuse(f, t)
        {
            self.remove(s, EndReason::Reused, st, out);
            slot = None;
        }
        let slot = match slot {
            Some(s) => s,
            None => {
                let flip = self.tcp_flip(pkt, t);
                self.create(key, src_is_a != flip, flip, Kind::Tcp, pkt, now, st, out)
            }
        };
        let prefix_cap_hit = self.tcp_segment(slot, now, pkt, t, src_is_a, truncated);
        if prefix_cap_hit {
            st.payload_buffer_cap_hit += 1;
        }
        self.touch(slot);
    }

    /// Zeek's `WantConnection` for TCP: a first packet that is not a plain SYN is flipped when it
    /// comes from a likely server port (and the other port is not one, or is higher).
    fn tcp_flip(&self, pkt: &Decoded<'_>, t: &Tcp<'_>) -> bool {
        let f = t.flags;
        if f.syn() && !f.ack() {
            return false;
        }
        if is_limited_broadcast(pkt) {
            return false;
        }
        let sp = &self.config.server_ports;
        if sp.is_tcp_server(t.src_port) {
            if sp.is_tcp_server(t.dst_port) {
                !f.syn() && t.src_port < t.dst_port
            } else {
                true
            }
        } else {
            false
        }
    }

    /// Runs one segment through the flow. Returns whether a payload buffer was refused.
    fn tcp_segment(
        &mut self,
        slot: u32,
        now: Timestamp,
        pkt: &Decoded<'_>,
        t: &Tcp<'_>,
        src_is_a: bool,
        truncated: bool,
    ) -> bool {
        let Some(f) = self.flows.get_mut(slot as usize) else {
            return false;
        };
        let stale_is_orig = src_is_a == f.orig_is_a;
        // The endpoints are worked on in place; if the roles flip, the two are swapped at the end.
        let (ep, peer) = if stale_is_orig {
            (&mut f.orig, &mut f.resp)
        } else {
            (&mut f.resp, &mut f.orig)
        };
        f.truncated |= truncated;
        if t.header_cut {
            // Zeek keeps the connection but cannot process a segment whose header is cut.
            return false;
        }
        if t.checksum == Checksum::Bad {
            // Zeek: a bad checksum records C/c and the packet is otherwise ignored.
            if ep.checksum_errors.bump() {
                f.history.push(b'C', stale_is_orig);
            }
            return false;
        }
        let seg = Segment {
            flags: t.flags,
            seq: t.seq,
            ack: t.ack,
            len: t.payload_len,
            window: t.window,
        };
        let flags = t.flags;
        let mut is_orig_now = stale_is_orig;
        ep.pkts += 1;
        ep.ip_bytes += u64::from(pkt.ip_len);
        if flags.syn() {
            f.saw_syn = true;
        }
        let arms_attempt = stale_is_orig && ep.state == TcpState::Inactive && flags.syn();
        let before = (ep.state, peer.state);

        ep.init_seq(&seg);
        let rel = ep.rel_seq(seg.seq);
        if tcp_history(&mut f.history, ep, is_orig_now, &seg, rel) {
            // Zeek's "H" rule: a flow that began with an unflipped SYN-ACK turns around.
            is_orig_now = !is_orig_now;
            f.orig_is_a = !f.orig_is_a;
        }
        if seg.window == 0
            && !flags.rst()
            && peer.state != TcpState::Closed
            && ep.state != TcpState::Reset
            && ep.zero_windows.bump()
        {
            f.history.push(b'W', is_orig_now);
        }
        if ep.did_close && peer.did_close {
            f.late_packets += 1;
        } else {
            f.last = now;
        }
        if flags.ack() {
            if peer.state == TcpState::Inactive {
                peer.init_from_ack(seg.ack);
            } else if !flags.rst() {
                peer.ack_received(seg.ack);
            }
        }
        if ep.update_last_seq(&seg) && ep.retransmissions.bump() {
            f.history.push(b'T', is_orig_now);
        }
        let mut eff = SegmentEffect::default();
        tcp::update_state(ep, peer, stale_is_orig, &seg, &mut eff);
        if flags.fin() {
            ep.note_fin(rel + u64::from(seg.len) + u64::from(flags.syn()) + 1);
        }
        if eff.flip {
            is_orig_now = !is_orig_now;
            f.orig_is_a = !f.orig_is_a;
            f.history.push_raw(b'^');
        }

        // Data the peer acknowledged but the capture never carried is a gap.
        let (ooo_ep, ooo_peer) = if src_is_a {
            (&mut f.ooo_a, &mut f.ooo_b)
        } else {
            (&mut f.ooo_b, &mut f.ooo_a)
        };
        if flags.ack() && !flags.rst() && tcp::clean(peer) && tcp::clean(ep) {
            let mut rel_ack = peer.rel_seq(seg.ack);
            if peer.fin_cnt > 0 {
                rel_ack = rel_ack.min(peer.fin_rel().saturating_sub(1).max(1));
            }
            let gap = peer.gap_up_to(rel_ack, ooo_peer);
            if gap > 0 {
                peer.missed_bytes = peer.missed_bytes.saturating_add(gap);
                if peer.gaps.bump() {
                    f.history.push(b'G', !is_orig_now);
                }
            }
        }

        // Payload into the prefix and the contiguity tracker.
        let mut cap_hit = false;
        if seg.len > 0 && !flags.rst() {
            let data_rel = rel + u64::from(flags.syn());
            let captured_all = t.payload.len() as u64 == u64::from(seg.len);
            if captured_all {
                ep.saw_data(data_rel, data_rel + u64::from(seg.len), ooo_ep);
            }
            let prefix = if src_is_a {
                &mut f.prefix_a
            } else {
                &mut f.prefix_b
            };
            if prefix.is_none() {
                *prefix = self.pool.take();
            }
            if let Some(p) = prefix
                && !p.is_full()
                && !p.is_starved()
            {
                p.add(data_rel.saturating_sub(1), t.payload, &mut self.pool);
                self.fed = slot;
                self.fed_from_a = src_is_a;
                if p.is_starved() && !f.payload_cap_hit {
                    f.payload_cap_hit = true;
                    cap_hit = true;
                }
            }
        }

        if eff.do_close {
            ep.did_close = true;
            if ep.state == TcpState::Reset || peer.did_close || peer.state == TcpState::Inactive {
                f.complete = true;
            }
        }
        if arms_attempt
            && f.attempt_start.is_none()
            && matches!(ep.state, TcpState::SynSent | TcpState::SynAckSent)
        {
            f.attempt_start = Some(now);
        }
        if tcp::left_handshake(before, (ep.state, peer.state)) {
            f.long_timeout = true;
        }
        if is_orig_now != stale_is_orig {
            std::mem::swap(&mut f.orig, &mut f.resp);
        }
        cap_hit
    }

    // ---- UDP, ICMP, other -------------------------------------------------------------------

    fn udp(
        &mut self,
        now: Timestamp,
        pkt: &Decoded<'_>,
        u: &Udp<'_>,
        truncated: bool,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) {
        let (key, src_is_a) = FlowKey::new(
            (pkt.src, u.src_port),
            (pkt.dst, u.dst_port),
            proto::UDP,
            self.key_vlans(pkt),
            false,
        );
        let slot = match self.lookup(&key, now, st, out) {
            Some(s) => s,
            None => {
                let sp = &self.config.server_ports;
                let flip = !is_limited_broadcast(pkt)
                    && sp.is_udp_server(u.src_port)
                    && !sp.is_udp_server(u.dst_port);
                self.create(key, src_is_a != flip, flip, Kind::Udp, pkt, now, st, out)
            }
        };
        let mut cap_hit = false;
        if let Some(f) = self.flows.get_mut(slot as usize) {
            let is_orig = src_is_a == f.orig_is_a;
            f.truncated |= truncated;
            let ep = if is_orig { &mut f.orig } else { &mut f.resp };
            if u.checksum == Checksum::Bad {
                if ep.checksum_errors.bump() {
                    f.history.push(b'C', is_orig);
                }
            } else {
                ep.pkts += 1;
                ep.ip_bytes += u64::from(pkt.ip_len);
                ep.payload_bytes += u64::from(u.payload_len);
                ep.state = TcpState::Established;
                f.history.check(mask::DATA, b'D', is_orig);
                f.last = now;
                let prefix = if src_is_a {
                    &mut f.prefix_a
                } else {
                    &mut f.prefix_b
                };
                if prefix.is_none() && !u.payload.is_empty() {
                    *prefix = self.pool.take();
                }
                if let Some(p) = prefix {
                    p.add_datagram(u.payload, &mut self.pool);
                    if p.is_starved() && !f.payload_cap_hit {
                        f.payload_cap_hit = true;
                        cap_hit = true;
                    }
                }
            }
        }
        if cap_hit {
            st.payload_buffer_cap_hit += 1;
        }
        self.touch(slot);
    }

    fn icmp(
        &mut self,
        now: Timestamp,
        pkt: &Decoded<'_>,
        i: &Icmp,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) {
        let (sp, dp, one_way) = icmp_ports(i.v6, i.ty, i.code);
        let p = if i.v6 { proto::ICMPV6 } else { proto::ICMP };
        let (key, src_is_a) = FlowKey::new(
            (pkt.src, sp),
            (pkt.dst, dp),
            p,
            self.key_vlans(pkt),
            one_way,
        );
        let slot = match self.lookup(&key, now, st, out) {
            Some(s) => s,
            None => self.create(
                key,
                src_is_a,
                false,
                Kind::Icmp { v6: i.v6 },
                pkt,
                now,
                st,
                out,
            ),
        };
        if let Some(f) = self.flows.get_mut(slot as usize) {
            let is_orig = src_is_a == f.orig_is_a;
            let ep = if is_orig { &mut f.orig } else { &mut f.resp };
            // Zeek counts an ICMP packet only when the whole message was captured.
            if i.complete {
                ep.pkts += 1;
                ep.ip_bytes += u64::from(pkt.ip_len);
            } else {
                f.truncated = true;
            }
            ep.payload_bytes += u64::from(i.payload_len);
            ep.state = TcpState::Established;
            f.last = now;
        }
        self.touch(slot);
        if let Some(q) = i.quoted {
            self.tie_refusal(now, pkt, i, &q, st);
        }
    }

    /// Records an ICMP error on the flow whose packet it quotes.
    fn tie_refusal(
        &mut self,
        now: Timestamp,
        pkt: &Decoded<'_>,
        i: &Icmp,
        q: &crate::decode::Quoted,
        st: &mut FlowStats,
    ) {
        let (key, _) = FlowKey::new(
            (q.src, q.src_port),
            (q.dst, q.dst_port),
            q.proto,
            self.key_vlans(pkt),
            false,
        );
        let Some(f) = self.find(&key).and_then(|s| self.flows.get_mut(s as usize)) else {
            st.icmp_errors_unmatched += 1;
            return;
        };
        if f.refusals == NIL {
            f.refusals = match self.free_refusals.pop() {
                Some(i) => {
                    if let Some(r) = self.refusals.get_mut(i as usize) {
                        *r = Refusals::default();
                    }
                    i
                }
                None => {
                    self.refusals.push(Refusals::default());
                    u32::try_from(self.refusals.len() - 1).unwrap_or(NIL)
                }
            };
        }
        if let Some(r) = self.refusals.get_mut(f.refusals as usize) {
            r.add(IcmpRefusal {
                v6: i.v6,
                ty: i.ty,
                code: i.code,
                from: pkt.src,
                first: now,
                count: 1,
            });
        }
        st.icmp_errors_matched += 1;
    }

    fn other(
        &mut self,
        now: Timestamp,
        pkt: &Decoded<'_>,
        st: &mut FlowStats,
        out: &mut Vec<FlowRecord>,
    ) {
        let (key, src_is_a) = FlowKey::new(
            (pkt.src, 0),
            (pkt.dst, 0),
            pkt.ip_proto,
            self.key_vlans(pkt),
            false,
        );
        let slot = match self.lookup(&key, now, st, out) {
            Some(s) => s,
            None => self.create(key, src_is_a, false, Kind::Other, pkt, now, st, out),
        };
        if let Some(f) = self.flows.get_mut(slot as usize) {
            let is_orig = src_is_a == f.orig_is_a;
            let ep = if is_orig { &mut f.orig } else { &mut f.resp };
            ep.pkts += 1;
            ep.ip_bytes += u64::from(pkt.ip_len);
            f.last = now;
        }
        self.touch(slot);
    }
}

fn is_limited_broadcast(pkt: &Decoded<'_>) -> bool {
    matches!(pkt.dst, std::net::IpAddr::V4(a) if a.is_broadcast())
}

fn reason_for(t: Timer) -> EndReason {
    match t {
        Timer::Close => EndReason::Closed,
        Timer::Attempt => EndReason::Attempt,
        _ => EndReason::Timeout,
    }
}

fn timer_for(f: &Flow) -> Timer {
    match f.kind {
        Kind::Tcp => {
            let both_inactive =
                f.orig.state == TcpState::Inactive && f.resp.state == TcpState::Inactive;
            if f.complete || both_inactive {
                Timer::Close
            } else if f.attempt_start.is_some()
                && matches!(f.orig.state, TcpState::SynSent | TcpState::SynAckSent)
                && f.resp.state == TcpState::Inactive
            {
                Timer::Attempt
            } else if f.long_timeout {
                Timer::TcpLong
            } else {
                Timer::TcpHandshake
            }
        }
        Kind::Udp => Timer::Udp,
        Kind::Icmp { .. } => Timer::Icmp,
        Kind::Other => Timer::Other,
    }
}

/// Zeek's `IsReuse`: whether a SYN on an existing flow starts a new connection.
fn is_reuse(f: &Flow, t: &Tcp<'_>) -> bool {
    let flags = t.flags;
    if !flags.syn() {
        return false;
    }
    let compared = if flags.ack() {
        if f.orig.state != TcpState::Inactive {
            return false;
        }
        &f.resp
    } else {
        &f.orig
    };
    if !f.orig.did_close && !f.resp.did_close {
        if t.seq == compared.start_seq {
            return false;
        }
        if !flags.ack()
            && compared.state == TcpState::SynAckSent
            && f.resp.state == TcpState::Inactive
            && t.seq == f.resp.start_seq
        {
            return false;
        }
    }
    true
}

/// Zeek's `update_history` for one segment. Returns `true` when the "H" rule flipped the roles.
fn tcp_history(h: &mut History, ep: &mut Endpoint, is_orig: bool, seg: &Segment, rel: u64) -> bool {
    let f = seg.flags;
    let n = u8::from(f.syn()) + u8::from(f.fin()) + u8::from(f.rst());
    if n >= 2 {
        if f.fin() && f.rst() {
            h.check(mask::FIN_RST, b'I', is_orig);
        } else {
            h.check(mask::MULTI_FLAG, b'Q', is_orig);
        }
        return false;
    }
    if n == 1 {
        if f.syn() {
            let c = if f.ack() { b'H' } else { b'S' };
            let seen = h.check(mask::SYN, c, is_orig);
            if tcp::repeat_syn(ep, rel) && seen {
                h.push(c, is_orig);
            }
        } else if f.fin() {
            let seen = h.check(mask::FIN, b'F', is_orig);
            if tcp::repeat_fin(ep, rel + u64::from(seg.len)) && seen {
                h.push(b'F', is_orig);
            }
        } else {
            let seen = h.check(mask::RST, b'R', is_orig);
            if tcp::repeat_rst(ep, rel) && seen {
                h.push(b'R', is_orig);
            }
        }
        return false;
    }
    let (m, letter) = if seg.len > 0 {
        (mask::DATA, b'D')
    } else if f.ack() {
        (mask::ACK, b'A')
    } else {
        return false;
    };
    let mut who = is_orig;
    let mut flipped = false;
    if h.as_bytes() == b"H" {
        h.replace(b"^h");
        who = !who;
        flipped = true;
    }
    h.check(m, letter, who);
    flipped
}

fn counts(e: &Endpoint, bytes: u64) -> DirCounts {
    DirCounts {
        pkts: e.pkts,
        ip_bytes: e.ip_bytes,
        bytes,
        missed_bytes: e.missed_bytes,
        retransmissions: e.retransmissions.count(),
        zero_windows: e.zero_windows.count(),
        bad_checksums: e.checksum_errors.count(),
    }
}

/// Turns a flow into its record, moving the payload buffers out.
fn record(f: &mut Flow, end: EndReason, icmp_refusals: Refusals) -> FlowRecord {
    let (conn_state, ob, rb) = match f.kind {
        Kind::Tcp => {
            let os = f.orig.tcp_size();
            let rs = f.resp.tcp_size();
            let cs = conn_state::tcp_state(
                SideSummary {
                    state: f.orig.state,
                    size: os,
                },
                SideSummary {
                    state: f.resp.state,
                    size: rs,
                },
                f.history.as_bytes(),
            );
            (cs, os, rs)
        }
        Kind::Udp => (
            conn_state::udp_state(f.orig.pkts > 0, f.resp.pkts > 0),
            f.orig.payload_bytes,
            f.resp.payload_bytes,
        ),
        Kind::Icmp { .. } => (ConnState::OTH, f.orig.payload_bytes, f.resp.payload_bytes),
        Kind::Other => (ConnState::OTH, 0, 0),
    };
    let (a, b) = ((f.key.a, f.key.port_a), (f.key.b, f.key.port_b));
    let (orig, resp) = if f.orig_is_a { (a, b) } else { (b, a) };
    let (pa, pb) = (f.prefix_a.take(), f.prefix_b.take());
    let (op, rp) = if f.orig_is_a { (pa, pb) } else { (pb, pa) };
    FlowRecord {
        id: f.id,
        start: f.start,
        last: f.last,
        kind: f.kind,
        ip_proto: f.ip_proto,
        vlans: f.vlans,
        orig,
        resp,
        conn_state,
        history: f.history,
        orig_counts: counts(&f.orig, ob),
        resp_counts: counts(&f.resp, rb),
        orig_tcp_state: f.orig.state,
        resp_tcp_state: f.resp.state,
        midstream: f.kind == Kind::Tcp && !f.saw_syn,
        truncated: f.truncated,
        icmp_refusals,
        end,
        orig_payload: PayloadPrefix { prefix: op },
        resp_payload: PayloadPrefix { prefix: rp },
        late_packets: f.late_packets,
    }
}

#[cfg(test)]
mod size_tests {
    /// The flow is touched on every packet: keep it within a few cache lines.
    #[test]
    fn flow_stays_compact() {
        let n = std::mem::size_of::<super::Flow>();
        assert!(n <= 704, "{n}");
    }
}
