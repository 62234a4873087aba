//! The `expect` stage: endpoints learned while the capture is read.
//!
//! An endpoint-mapper answer says "interface X of host H listens at TCP port P"; a SIP offer or
//! answer says "RTP for this call arrives at H:P over UDP". The stage has two halves, so that a
//! pipeline that shards flows across workers keeps them correct:
//!
//! - [`Learner`] (in `learn`) runs wherever packets are read. It reads an answer the moment it
//!   arrives (the endpoint mapper's towers from the flow's payload prefix, SIP messages datagram
//!   by datagram) and emits [`Lesson`]s. It owns only the SIP call state it needs to know which
//!   endpoints a call taught.
//! - [`Expectations`] runs where flow records are classified. It applies lessons in the order
//!   they were learned and attributes each finished flow to the endpoint it went to: one hash
//!   probe by (server address, server port, transport).
//!
//! Records are classified when a flow ends, so a flow that began before the answer appeared (a
//! SPAN port joining a long-lived MAPI connection) is attributed as long as it is still open when
//! the answer is seen. An endpoint is valid for flows that start before it expires (`until`); it
//! is kept a little longer ([`ExpectConfig::retain`]) for the flows that started in time and end
//! later. The table is bounded in entries; what the bound drops is counted.

pub mod learn;
pub mod sip;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sip_table_tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::flow::{FlowRecord, Kind};
use crate::inspect::epm::IfId;
use crate::time::{Duration, Timestamp};

pub use learn::Learner;

/// Interfaces remembered per endpoint: the processes that host Exchange's RPC interfaces serve
/// a few on one port (EMSMDB and AsyncEMSMDB, NSPI and RFR).
pub const MAX_INTERFACES: usize = 4;

/// Bounds of the expectation table.
#[derive(Clone, Debug)]
pub struct ExpectConfig {
    /// Endpoints held at once; the oldest learned goes first when a new one needs room.
    pub max_entries: usize,
    /// How long an endpoint-mapper or DCOM answer holds after it was last given. Windows keeps a
    /// dynamic endpoint until the service restarts; a day of capture time is a bound, not a fact.
    pub rpc_lifetime: Duration,
    /// How long an SDP offer or answer holds when the call's end is not seen.
    pub media_lifetime: Duration,
    /// How long an ended or expired endpoint is kept for flows that started before it ended.
    pub retain: Duration,
}

impl Default for ExpectConfig {
    fn default() -> Self {
        Self {
            max_entries: 16_384,
            rpc_lifetime: Duration::from_secs(24 * 3600),
            media_lifetime: Duration::from_secs(4 * 3600),
            retain: Duration::from_secs(600),
        }
    }
}

/// How often (in capture time) ended endpoints are swept out.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The transport of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Where a server listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub ip: IpAddr,
    pub port: u16,
    pub transport: Transport,
}

/// A call, by the first 8 bytes of the SHA-256 of its Call-ID (the same hash the SIP evidence
/// shows, so the two join without the identifier being kept).
pub type CallId = crate::inspect::sip::CallHash;

/// What an endpoint was learned to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// DCE/RPC: an endpoint-mapper tower (`dcom` false) or a DCOM string binding.
    Rpc {
        /// The interface the answer named; `None` for a DCOM object exporter, whose port
        /// serves whatever objects the process exports.
        interface: Option<IfId>,
        dcom: bool,
    },
    /// RTP (or RTCP) media of a call, from an SDP offer or answer.
    Media {
        call: CallId,
        /// The RTCP port of a stream (port + 1, or what `a=rtcp` said), not its RTP port.
        rtcp: bool,
        /// The SDP profile was secure RTP (`RTP/SAVP` …).
        srtp: bool,
        /// The SIP message that carried the SDP had come over TLS at its previous hop (its top
        /// Via said TLS).
        signalling_tls: bool,
        /// Who sent the SDP: the media address belongs to it (a gateway's media processor may
        /// have an address the site file does not place).
        announcer: IpAddr,
    },
}

/// The flow an endpoint was learned from and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// The Community ID of the flow that carried the answer.
    pub community_id: [u8; 30],
    /// The time of the packet that completed the answer.
    pub at: Timestamp,
}

impl Source {
    pub fn community_id(&self) -> &str {
        std::str::from_utf8(&self.community_id).unwrap_or("")
    }
}

/// What a learner tells the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lesson {
    /// `key` is `what`, as `from` taught.
    Learn { key: Key, what: What, from: Source },
    /// The call ended (BYE, CANCEL, a failure answer) at `at`: its endpoints teach nothing to
    /// flows that start later.
    EndCall {
        key: Key,
        call: CallId,
        at: Timestamp,
    },
}

/// A learned endpoint.
#[derive(Clone, Debug)]
pub struct Entry {
    /// For RPC, the first interface learned; for media, the call.
    pub what: What,
    /// Further interfaces learned for the same RPC endpoint, in the order learned.
    interfaces: [Option<IfId>; MAX_INTERFACES],
    pub interfaces_more: u32,
    /// The first answer that taught it.
    pub from: Source,
    /// Flows that start after this time are not attributed to it.
    pub until: Timestamp,
    /// Finished flows attributed to it, and how many of them the server never answered.
    pub flows: u64,
    pub failed: u64,
    /// The call ended: later lessons of the same call do not revive it.
    ended: bool,
    generation: u64,
}

impl Entry {
    /// Every interface learned for this endpoint (none for media and DCOM exporters).
    pub fn interfaces(&self) -> impl Iterator<Item = IfId> + '_ {
        self.interfaces.iter().flatten().copied()
    }
}

/// Why a finished flow belongs to a learned endpoint.
#[derive(Clone, Debug)]
pub struct Attribution {
    pub key: Key,
    pub what: What,
    pub interfaces: [Option<IfId>; MAX_INTERFACES],
    pub from: Source,
    /// The learned server is the record's originator: a TCP flow joined mid-stream whose first
    /// packet came from the server.
    pub reversed: bool,
    /// Media: the flow's other end, when the same call taught it too, and who announced it.
    pub peer: Option<(IpAddr, IpAddr)>,
}

impl Attribution {
    pub fn interfaces(&self) -> impl Iterator<Item = IfId> + '_ {
        self.interfaces.iter().flatten().copied()
    }
}

crate::stats::counters! {
    /// The expectation table.
    pub struct ExpectStats {
        /// Endpoints learned (the first lesson for each address, port and transport).
        learned,
        /// Lessons that repeated an endpoint already held.
        repeated,
        /// Endpoints dropped to make room (`max_entries`).
        dropped,
        /// Endpoints swept out after they ended or expired.
        expired,
        /// Finished flows attributed to a learned endpoint.
        attributed,
        /// Media endpoints closed because their call ended (BYE, CANCEL, a failure answer).
        ended_by_call,
    }
}

/// The endpoints learned so far.
#[derive(Debug)]
pub struct Expectations {
    config: ExpectConfig,
    map: HashMap<Key, Entry, foldhash::fast::RandomState>,
    /// Keys in the order they were learned, with the generation they were learned in (a key
    /// removed and learned again carries a new one): eviction pops the front.
    order: VecDeque<(Key, u64)>,
    next_generation: u64,
    next_sweep: Timestamp,
    /// Endpoints no longer held, kept for the report (bounded by [`MAX_RETIRED`]).
    retired: Vec<(Key, Entry)>,
    pub retired_more: u64,
    pub stats: ExpectStats,
}

/// Endpoints that left the table and are still listed in the report.
pub const MAX_RETIRED: usize = 1024;

impl Default for Expectations {
    fn default() -> Self {
        Self::new(ExpectConfig::default())
    }
}

impl Expectations {
    pub fn new(config: ExpectConfig) -> Self {
        Self {
            config,
            map: HashMap::default(),
            order: VecDeque::new(),
            next_generation: 0,
            next_sweep: Timestamp::ZERO,
            retired: Vec::new(),
            retired_more: 0,
            stats: ExpectStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Takes one lesson, learned at `lesson`'s time.
    pub fn apply(&mut self, lesson: &Lesson) {
        match *lesson {
            Lesson::Learn { key, what, from } => self.learn(key, what, from),
            Lesson::EndCall { key, call, at } => {
                if let Some(e) = self.map.get_mut(&key)
                    && matches!(e.what, What::Media { call: c, .. } if c == call)
                    && !e.ended
                {
                    e.until = e.until.min(at);
                    e.ended = true;
                    self.stats.ended_by_call += 1;
                }
            }
        }
    }

    fn learn(&mut self, key: Key, what: What, from: Source) {
        let lifetime = match what {
            What::Rpc { .. } => self.config.rpc_lifetime,
            What::Media { .. } => self.config.media_lifetime,
        };
        let until = from.at.saturating_add(lifetime);
        if let Some(e) = self.map.get_mut(&key) {
            let same_kind = matches!((e.what, what), (What::Rpc { .. }, What::Rpc { .. }))
                || matches!(
                    (e.what, what),
                    (What::Media { call: a, .. }, What::Media { call: b, .. }) if a == b
                );
            // Still in force: the lesson confirms it (and, for RPC, may name another interface
            // served on the same port).
            if same_kind && (from.at <= e.until || e.ended) {
                self.stats.repeated += 1;
                if !e.ended {
                    e.until = e.until.max(until);
                }
                if let What::Rpc {
                    interface: Some(i), ..
                } = what
                {
                    add_interface(e, i);
                }
                return;
            }
            // Ended, or now something else (a new call on the port, an RPC port reused): the
            // newer lesson replaces it.
            if let Some(old) = self.map.remove(&key) {
                self.retire(key, old);
            }
        }
        if self.map.len() >= self.config.max_entries.max(1) {
            self.evict_one();
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let mut e = Entry {
            what,
            interfaces: [None; MAX_INTERFACES],
            interfaces_more: 0,
            from,
            until,
            flows: 0,
            failed: 0,
            ended: false,
            generation,
        };
        if let What::Rpc {
            interface: Some(i), ..
        } = what
        {
            add_interface(&mut e, i);
        }
        self.map.insert(key, e);
        self.order.push_back((key, generation));
        self.stats.learned += 1;
        // Keys of removed entries linger in `order`; keep it within twice the table.
        if self.order.len() > 2 * self.config.max_entries.max(1) {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|e| e.generation == *g));
        }
    }

    /// Drops the oldest learned endpoint still held.
    fn evict_one(&mut self) {
        while let Some((k, g)) = self.order.pop_front() {
            if self.map.get(&k).is_some_and(|e| e.generation == g) {
                if let Some(old) = self.map.remove(&k) {
                    self.retire(k, old);
                }
                self.stats.dropped += 1;
                return;
            }
        }
    }

    /// Moves capture time on: every minute, endpoints past `until` plus the retention go.
    pub fn tick(&mut self, now: Timestamp) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(SWEEP_INTERVAL);
        if self.map.is_empty() {
            return;
        }
        let retain = self.config.retain;
        let gone: Vec<Key> = self
            .map
            .iter()
            .filter(|(_, e)| e.until.saturating_add(retain) < now)
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            if let Some(old) = self.map.remove(&k) {
                self.retire(k, old);
                self.stats.expired += 1;
            }
        }
    }

    fn retire(&mut self, key: Key, e: Entry) {
        if self.retired.len() < MAX_RETIRED {
            self.retired.push((key, e));
        } else {
            self.retired_more += 1;
        }
    }

    /// The learned endpoint a finished flow went to, if any: its responder for TCP (a flow
    /// whose *client* port equals a learned port is not attributed), or its originator when the
    /// flow was joined mid-stream and the first packet came from the learned server; either end
    /// for UDP media, which both sides send. Counts the flow on the endpoint.
    pub fn attribute(&mut self, rec: &FlowRecord) -> Option<Attribution> {
        if self.map.is_empty() {
            return None;
        }
        let (transport, may_reverse) = match rec.kind {
            Kind::Tcp => (Transport::Tcp, rec.midstream),
            Kind::Udp => (Transport::Udp, true),
            Kind::Icmp { .. } | Kind::Other => return None,
        };
        let probe = |ip: IpAddr, port: u16| Key {
            ip,
            port,
            transport,
        };
        let started = rec.start;
        let fits = |e: &Entry| {
            started <= e.until
                && matches!(
                    (transport, e.what),
                    (Transport::Tcp, What::Rpc { .. }) | (Transport::Udp, What::Media { .. })
                )
        };
        let (key, reversed) = {
            let k = probe(rec.resp.0, rec.resp.1);
            if self.map.get(&k).is_some_and(fits) {
                (k, false)
            } else if may_reverse {
                let k = probe(rec.orig.0, rec.orig.1);
                if self.map.get(&k).is_some_and(fits) {
                    (k, transport == Transport::Tcp)
                } else {
                    return None;
                }
            } else {
                return None;
            }
        };
        // Media: the other end may be the call's other endpoint, announced by the other party.
        let peer = match self.map.get(&key).map(|e| e.what) {
            Some(What::Media { call, .. }) => {
                let other = if key.ip == rec.resp.0 && key.port == rec.resp.1 {
                    rec.orig
                } else {
                    rec.resp
                };
                match self.map.get(&probe(other.0, other.1)).map(|e| e.what) {
                    Some(What::Media {
                        call: c, announcer, ..
                    }) if c == call => Some((other.0, announcer)),
                    _ => None,
                }
            }
            _ => None,
        };
        let e = self.map.get_mut(&key)?;
        e.flows += 1;
        if crate::classify::reachability(rec).failed() {
            e.failed += 1;
        }
        self.stats.attributed += 1;
        Some(Attribution {
            key,
            what: e.what,
            interfaces: e.interfaces,
            from: e.from,
            reversed,
            peer,
        })
    }

    /// Every endpoint learned in the run (those still held and those retired, up to
    /// [`MAX_RETIRED`]), in the order learned.
    pub fn entries(&self) -> Vec<(Key, &Entry)> {
        let mut v: Vec<(Key, &Entry)> = self
            .map
            .iter()
            .map(|(k, e)| (*k, e))
            .chain(self.retired.iter().map(|(k, e)| (*k, e)))
            .collect();
        v.sort_by_key(|(_, e)| e.generation);
        v
    }
}

fn add_interface(e: &mut Entry, i: IfId) {
    if e.interfaces.contains(&Some(i)) {
        return;
    }
    match e.interfaces.iter_mut().find(|s| s.is_none()) {
        Some(slot) => *slot = Some(i),
        None => e.interfaces_more = e.interfaces_more.saturating_add(1),
    }
}
