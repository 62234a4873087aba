//! Tracks bidirectional conversations: one entry per 5-tuple (and VLAN stack), with Zeek's
//! `conn_state` and `history`, per-direction counters, and the first bytes of each direction's
//! payload. A flow's record leaves the table when the flow ends (FIN/RST plus a short linger, an
//! unanswered attempt, inactivity, reuse of its 5-tuple, eviction under `--max-flows`) or when the
//! input ends, so memory is set by the caps, not by the capture.
//!
//! Semantics follow Zeek (`scripts/base/protocols/conn/main.zeek` and the TCP session adapter):
//! who the originator is (the SYN's sender; otherwise the first packet's, flipped when it comes
//! from a likely server port), when a SYN starts a new connection on the same 5-tuple, which
//! packets count, and how long each kind of flow lingers. It does not interpret payload (that is
//! `inspect`) and never reads the clock: time comes from the packets.

mod conn_state;
mod history;
mod key;
mod payload;
mod table;
mod tcp;

use std::net::IpAddr;

pub use conn_state::ConnState;
pub use history::History;
pub use key::{FlowKey, icmp_ports, proto};
pub use payload::Prefix;
pub use table::{FlowTable, FlowView};
pub use tcp::TcpState;

use crate::decode::Vlans;
use crate::time::{Duration, Timestamp};

/// Ports on which a first packet that is not a SYN is taken to come from the server.
#[derive(Clone)]
pub struct ServerPorts {
    tcp: Box<[u64; 1024]>,
    udp: Box<[u64; 1024]>,
}

impl std::fmt::Debug for ServerPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerPorts")
    }
}

impl ServerPorts {
    pub fn empty() -> Self {
        Self {
            tcp: Box::new([0; 1024]),
            udp: Box::new([0; 1024]),
        }
    }

    pub fn with(tcp: &[u16], udp: &[u16]) -> Self {
        let mut s = Self::empty();
        for &p in tcp {
            s.add_tcp(p);
        }
        for &p in udp {
            s.add_udp(p);
        }
        s
    }

    fn set(bits: &mut [u64; 1024], p: u16) {
        if let Some(w) = bits.get_mut(usize::from(p / 64)) {
            *w |= 1u64 << (p % 64);
        }
    }

    fn get(bits: &[u64; 1024], p: u16) -> bool {
        bits.get(usize::from(p / 64))
            .is_some_and(|w| w & (1u64 << (p % 64)) != 0)
    }

    pub fn add_tcp(&mut self, p: u16) {
        Self::set(&mut self.tcp, p);
    }

    pub fn add_udp(&mut self, p: u16) {
        Self::set(&mut self.udp, p);
    }

    pub fn is_tcp_server(&self, p: u16) -> bool {
        Self::get(&self.tcp, p)
    }

    pub fn is_udp_server(&self, p: u16) -> bool {
        Self::get(&self.udp, p)
    }

    /// The services an Exchange organisation runs, and the common ones around it.
    pub fn exchange_default() -> Self {
        let mut tcp: Vec<u16> = vec![
            21, 22, 23, 25, 53, 80, 88, 102, 110, 119, 135, 139, 143, 389, 443, 445, 464, 465, 563,
            587, 593, 636, 691, 993, 995, 1433, 3268, 3269, 3389, 5061, 5062, 5063, 5064, 5065,
            5066, 5067, 5068, 5060, 8080, 8443, 9389, 50389, 50636,
        ];
        tcp.extend(6001..=6004);
        let udp = [
            53, 67, 88, 123, 137, 138, 161, 389, 464, 500, 514, 1812, 3544, 4500, 4789, 5060, 5353,
            5355, 6081,
        ];
        Self::with(&tcp, &udp)
    }
}

/// How long each kind of flow may be idle, and how long a finished one lingers. The defaults are
/// Zeek's (`scripts/base/init-bare.zeek`), so that flows split where Zeek's do.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// TCP before the handshake completed (Zeek uses the UDP timeout here too).
    pub tcp_handshake: Duration,
    /// TCP once established, closing or reset.
    pub tcp_established: Duration,
    pub udp: Duration,
    pub icmp: Duration,
    pub other: Duration,
    /// After both sides closed, or one reset: late packets still join the flow this long.
    pub close_delay: Duration,
    /// An unanswered SYN: the attempt is written this long after the first SYN.
    pub attempt: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            tcp_handshake: Duration::from_secs(60),
            tcp_established: Duration::from_secs(300),
            udp: Duration::from_secs(60),
            icmp: Duration::from_secs(60),
            other: Duration::from_secs(60),
            close_delay: Duration::from_secs(5),
            attempt: Duration::from_secs(5),
        }
    }
}

/// Settings of the flow table.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Flows tracked at once; past it the flow closest to its timeout is written early.
    pub max_flows: usize,
    /// Payload kept per direction for the inspectors.
    pub payload_prefix_bytes: usize,
    /// Memory for payload prefixes in all; when it is spent, prefixes stop growing (counted).
    pub payload_memory_bytes: usize,
    /// Whether the VLAN stack is part of the flow key.
    pub vlan_in_key: bool,
    pub server_ports: ServerPorts,
    pub timeouts: Timeouts,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            max_flows: 250_000,
            payload_prefix_bytes: 4096,
            payload_memory_bytes: 256 << 20,
            vlan_in_key: true,
            server_ports: ServerPorts::exchange_default(),
            timeouts: Timeouts::default(),
        }
    }
}

/// Why a flow's record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// FIN or RST from both sides, or a reset, plus the linger.
    Closed,
    /// No answer to the connection attempt.
    Attempt,
    /// Idle for its protocol's timeout.
    Timeout,
    /// A new connection started on the same 5-tuple.
    Reused,
    /// The table was full.
    Evicted,
    /// The input ended while the flow was open.
    EndOfInput,
}

/// An ICMP error tied to the flow whose packet it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpRefusal {
    pub v6: bool,
    pub ty: u8,
    pub code: u8,
    /// Who sent the ICMP message (a router, a firewall, the destination host).
    pub from: IpAddr,
    pub first: Timestamp,
    pub count: u64,
}

/// Distinct refusals kept per flow; further kinds are only counted.
pub const MAX_REFUSALS: usize = 4;

/// ICMP errors tied to one flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    items: [Option<IcmpRefusal>; MAX_REFUSALS],
    /// Errors of kinds that did not fit.
    pub more: u64,
}

impl Refusals {
    pub fn iter(&self) -> impl Iterator<Item = &IcmpRefusal> {
        self.items.iter().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.items.iter().all(Option::is_none)
    }

    pub(crate) fn add(&mut self, r: IcmpRefusal) {
        for slot in self.items.iter_mut() {
            match slot {
                Some(x) if x.v6 == r.v6 && x.ty == r.ty && x.code == r.code && x.from == r.from => {
                    x.count = x.count.saturating_add(1);
                    return;
                }
                None => {
                    *slot = Some(r);
                    return;
                }
                Some(_) => {}
            }
        }
        self.more = self.more.saturating_add(1);
    }
}

/// One direction's counters in a finished flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirCounts {
    pub pkts: u64,
    /// IP bytes as the IP headers state them.
    pub ip_bytes: u64,
    /// Application bytes: TCP from the sequence space (retransmissions once), UDP and ICMP summed.
    pub bytes: u64,
    /// Bytes acknowledged by the peer that the capture never saw (TCP).
    pub missed_bytes: u64,
    pub retransmissions: u64,
    pub zero_windows: u64,
    pub bad_checksums: u64,
}

/// A flow's payload prefix in one direction, as handed to the inspectors.
#[derive(Debug, Default)]
pub struct PayloadPrefix {
    pub prefix: Option<Box<Prefix>>,
}

impl PayloadPrefix {
    pub fn bytes(&self) -> &[u8] {
        self.prefix.as_deref().map(Prefix::bytes).unwrap_or(&[])
    }

    /// Whether the bytes stop short of what was sent: the prefix filled up, a hole never filled,
    /// or the memory budget ran out.
    pub fn is_cut(&self) -> bool {
        self.prefix
            .as_deref()
            .is_some_and(|p| p.is_full() || p.has_gap() || p.is_starved())
    }
}

/// The transport-specific kind of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Udp,
    Icmp { v6: bool },
    Other,
}

/// Everything known about a finished flow. Produced once per flow; strings are made by `report`.
#[derive(Debug)]
pub struct FlowRecord {
    /// Creation order within this run (stable and deterministic).
    pub id: u64,
    pub start: Timestamp,
    /// The last packet that counted (Zeek's `last_time`).
    pub last: Timestamp,
    pub kind: Kind,
    pub ip_proto: u8,
    pub vlans: Vlans,
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    pub conn_state: ConnState,
    pub history: History,
    pub orig_counts: DirCounts,
    pub resp_counts: DirCounts,
    pub orig_tcp_state: TcpState,
    pub resp_tcp_state: TcpState,
    /// No SYN was seen: the capture joined a conversation already under way.
    pub midstream: bool,
    /// Some packet of the flow was cut by the snaplen.
    pub truncated: bool,
    pub icmp_refusals: Refusals,
    pub end: EndReason,
    pub orig_payload: PayloadPrefix,
    pub resp_payload: PayloadPrefix,
    /// Packets captured after the flow's last counted one (late ACKs after the close).
    pub late_packets: u64,
}

impl FlowRecord {
    pub fn duration(&self) -> Duration {
        self.last.since(self.start)
    }

    /// Swaps the roles of the two ends, for a flow joined mid-stream whose first packet came
    /// from what later proved to be the server (a port the endpoint mapper handed out). As
    /// Zeek does when it flips a connection: the history's letters change case and a `^` is
    /// added, and the connection state is worked out again for the new roles.
    pub fn turn_around(&mut self) {
        std::mem::swap(&mut self.orig, &mut self.resp);
        std::mem::swap(&mut self.orig_counts, &mut self.resp_counts);
        std::mem::swap(&mut self.orig_tcp_state, &mut self.resp_tcp_state);
        std::mem::swap(&mut self.orig_payload, &mut self.resp_payload);
        let mut letters = [0u8; history::MAX_HISTORY];
        let h = self.history.as_bytes();
        let n = h.len().min(letters.len());
        for (d, s) in letters.iter_mut().zip(h) {
            *d = if s.is_ascii_lowercase() {
                s.to_ascii_uppercase()
            } else {
                s.to_ascii_lowercase()
            };
        }
        self.history.replace(letters.get(..n).unwrap_or(&[]));
        self.history.push_raw(b'^');
        if self.kind == Kind::Tcp {
            self.conn_state = conn_state::tcp_state(
                conn_state::SideSummary {
                    state: self.orig_tcp_state,
                    size: self.orig_counts.bytes,
                },
                conn_state::SideSummary {
                    state: self.resp_tcp_state,
                    size: self.resp_counts.bytes,
                },
                self.history.as_bytes(),
            );
        }
    }
}
