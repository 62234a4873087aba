//! Turns a captured packet into addresses, ports, flags and payload: link layers a SPAN or capture
//! delivers (Ethernet with any VLAN stack, PPPoE, MPLS, Linux SLL and SLL2, raw IP, BSD NULL and
//! LOOP, NFLOG), tunnels a remote SPAN uses (GRE with transparent Ethernet bridging or IP, ERSPAN
//! types I, II and III, VXLAN, Geneve, GRE-in-UDP) and others a capture may hold (GTP-U, AYIYA,
//! PPTP's enhanced GRE), IPv4 and IPv6 with extension headers and fragment reassembly, then TCP,
//! UDP, ICMP and ICMPv6. An ICMP error carries the flow it refuses, read from its quoted header.
//!
//! etherparse reads the IP and transport headers; the link layers and tunnels it does not cover
//! are read here. Views borrow the packet (or the reassembly buffer); nothing is copied except
//! fragments. A packet that cannot be decoded, or only in part, increments a counter in
//! [`DecodeStats`]; decoding never fails a run. It does not track conversations (that is `flow`).

#![deny(clippy::indexing_slicing)]

mod defrag;
mod ip;
mod link;
mod transport;

use std::net::IpAddr;

pub use defrag::Defrag;
pub use transport::{Checksum, Icmp, Quoted, Tcp, TcpFlags, Transport, Udp};

use crate::source::RawPacket;
use crate::stats::{DecodeStats, FragmentStats};
use crate::time::{Duration, Timestamp};

/// VLAN tags kept per packet: the outer and the inner id (802.1Q / QinQ), plus the stack depth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vlans {
    ids: [u16; 2],
    depth: u8,
}

impl Vlans {
    pub const NONE: Vlans = Vlans {
        ids: [0, 0],
        depth: 0,
    };

    pub(crate) fn push(&mut self, id: u16) {
        if let Some(slot) = self.ids.get_mut(usize::from(self.depth)) {
            *slot = id & 0x0fff;
        }
        self.depth = self.depth.saturating_add(1);
    }

    /// The ids kept, outermost first (at most two).
    pub fn ids(&self) -> &[u16] {
        let n = usize::from(self.depth).min(self.ids.len());
        self.ids.get(..n).unwrap_or(&[])
    }

    /// How many tags the frame carried (may exceed the ids kept).
    pub fn depth(&self) -> u8 {
        self.depth
    }

    pub fn is_empty(&self) -> bool {
        self.depth == 0
    }
}

/// One decoded IP packet (after reassembly and tunnel decapsulation).
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    pub vlans: Vlans,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the transport (after IPv6 extension headers).
    pub ip_proto: u8,
    /// The IP packet's length as its header states it (what crossed the wire at the IP layer).
    pub ip_len: u32,
    pub transport: Transport<'a>,
    /// How many tunnel layers were removed to reach this packet.
    pub tunnel_depth: u8,
    /// The UDP tunnel packets (VXLAN, Geneve, GRE-in-UDP) that carried this one, outermost
    /// first: each is a flow of its own, as Zeek counts them.
    pub outer: [Option<OuterUdp>; 2],
}

/// The outer datagram of a UDP tunnel, kept so that it is counted as its own flow.
#[derive(Clone, Copy, Debug)]
pub struct OuterUdp {
    pub vlans: Vlans,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub ip_len: u32,
    pub payload_len: u32,
    pub checksum: Checksum,
    pub tunnel_depth: u8,
}

impl OuterUdp {
    /// The outer datagram's UDP header (its payload is the tunnel, not kept).
    pub fn udp(&self) -> Udp<'static> {
        Udp {
            src_port: self.src_port,
            dst_port: self.dst_port,
            payload: &[],
            payload_len: self.payload_len,
            checksum: self.checksum,
        }
    }

    /// The outer datagram as a packet of its own.
    pub fn as_decoded(&self) -> Decoded<'static> {
        Decoded {
            vlans: self.vlans,
            src: self.src,
            dst: self.dst,
            ip_proto: 17,
            ip_len: self.ip_len,
            transport: Transport::Udp(self.udp()),
            tunnel_depth: self.tunnel_depth,
            outer: [None, None],
        }
    }
}

/// Settings for decoding.
#[derive(Clone, Copy, Debug)]
pub struct DecodeConfig {
    /// Verify IPv4, TCP and UDP checksums (for captures from a SPAN; a capture taken on the
    /// sending host shows offloaded checksums as wrong).
    pub verify_checksums: bool,
    /// Datagrams being reassembled at once, per tunnel level.
    pub max_fragmented_datagrams: usize,
    /// How long an unfinished datagram waits for its fragments (Linux: 30 s).
    pub fragment_timeout: Duration,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            verify_checksums: false,
            max_fragmented_datagrams: 1024,
            fragment_timeout: Duration::from_secs(30),
        }
    }
}

/// Tunnels followed inside each other before a packet is counted as too deep.
const MAX_TUNNEL_DEPTH: u8 = 3;

/// Decodes packets; owns the fragment reassembly tables (one per tunnel level, so an inner
/// datagram can be rebuilt from an outer one that was itself rebuilt).
pub struct Decoder {
    config: DecodeConfig,
    defrag: [Defrag; 2],
    pub stats: DecodeStats,
    pub fragments: FragmentStats,
}

impl Decoder {
    pub fn new(config: DecodeConfig) -> Self {
        Self {
            config,
            defrag: [
                Defrag::new(config.max_fragmented_datagrams, config.fragment_timeout),
                Defrag::new(config.max_fragmented_datagrams, config.fragment_timeout),
            ],
            stats: DecodeStats::default(),
            fragments: FragmentStats::default(),
        }
    }

    /// Decodes one packet. `None` when it holds no IP packet we can use (counted in the stats),
    /// or when it is a fragment of a datagram that is not complete yet.
    pub fn decode<'a>(&'a mut self, pkt: &RawPacket<'a>) -> Option<Decoded<'a>> {
        let mut cx = Cx {
            ts: pkt.ts,
            verify: self.config.verify_checksums,
            stats: &mut self.stats,
            frag: &mut self.fragments,
        };
        let (l3, vlans) = link::strip(pkt.link, pkt.data, &mut cx)?;
        ip::decode_l3(l3, vlans, 0, &mut self.defrag, &mut cx)
    }
}

/// What every layer needs: the packet's time, the settings, and the counters.
pub(crate) struct Cx<'s> {
    pub ts: Timestamp,
    pub verify: bool,
    pub stats: &'s mut DecodeStats,
    pub frag: &'s mut FragmentStats,
}

/// The network layer a link layer handed over.
#[derive(Clone, Copy, Debug)]
pub(crate) enum L3<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// Raw IP whose version is read from the first nibble.
    Ip(&'a [u8]),
}
