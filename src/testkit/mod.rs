//! The fixture builder: capture scenarios written as code.
//!
//! IP packets are built with etherparse's `PacketBuilder`; this module wraps them in the link
//! layer a scenario asks for (Ethernet with any VLAN stack, raw IP, BSD NULL, Linux SLL/SLL2,
//! NFLOG, PPPoE, GRE and ERSPAN tunnels), keeps the capture time, and writes pcap or pcapng bytes.
//! Tests, benchmarks and the files in `fixtures/` are all made with it.
//!
//! ```
//! use exaudit::testkit::{Capture, addr};
//! let mut cap = Capture::new();
//! let mut s = cap.tcp(addr("10.0.0.9:40000"), addr("10.0.0.1:25"));
//! s.handshake();
//! s.client_sends(b"EHLO client.example\r\n");
//! s.server_sends(b"250 mail.example\r\n");
//! s.close();
//! let pcap: Vec<u8> = cap.to_pcap();
//! assert!(pcap.len() > 24);
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "fixtures are built from constants; a bad scenario is a bug in the test"
)]

pub mod epm;
pub mod fuzzing;
pub mod logins;
pub mod ntlm;
pub mod scenes;
pub mod sip;
mod stream;
mod tcp;
mod writer;

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;

pub use stream::{PcapStreamWriter, pcap_record_bytes, take_frames};
pub use tcp::{Dir, TcpConv, flags};
pub use writer::{Endian, NgBlock, PcapOptions, PcapngOptions};

use crate::source::LinkType;
use crate::time::{Duration, Timestamp};

/// Parses `"10.0.0.1:25"` or `"[2001:db8::1]:25"`.
pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

/// Parses an IP address.
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip address")
}

/// A captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

/// How IP packets are wrapped before they are captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encap {
    /// Ethernet II with a VLAN stack, outermost first: `(TPID, VLAN id)`.
    Ethernet(Vec<(u16, u16)>),
    /// Raw IP with the given link type (12, 14, 101, 228, 229).
    Raw(LinkType),
    /// BSD loopback (DLT_NULL), address family in little-endian order.
    Null,
    /// Linux cooked capture v1.
    Sll,
    /// Linux cooked capture v2.
    Sll2,
    /// NFLOG with a prefix attribute and the payload attribute.
    Nflog,
    /// Ethernet, PPPoE session, PPP.
    Pppoe,
    /// GRE with transparent Ethernet bridging from `outer.0` to `outer.1`, over Ethernet.
    GreTeb(IpAddr, IpAddr),
    /// ERSPAN type II (GRE 0x88BE with a sequence number), over Ethernet.
    Erspan2(IpAddr, IpAddr),
    /// ERSPAN type III (GRE 0x22EB), over Ethernet.
    Erspan3(IpAddr, IpAddr),
}

/// A scenario being recorded: frames in time order.
#[derive(Clone, Debug)]
pub struct Capture {
    frames: Vec<Frame>,
    now: Timestamp,
    step: Duration,
    encap: Encap,
    snaplen: u32,
    ip_id: u16,
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

/// 2026-01-05T09:00:00Z, a Monday morning.
const START: u64 = 1_767_603_600;

impl Capture {
    pub fn new() -> Self {
        Self {
            frames: Vec::new(),
            now: Timestamp::from_parts(START, 0, 1),
            step: Duration::from_millis(1),
            encap: Encap::Ethernet(Vec::new()),
            snaplen: 65_535,
            ip_id: 1,
        }
    }

    /// Later frames are wrapped this way.
    pub fn encap(&mut self, e: Encap) -> &mut Self {
        self.encap = e;
        self
    }

    /// Later frames carry this VLAN stack (802.1Q tags, outermost first).
    pub fn vlans(&mut self, ids: &[u16]) -> &mut Self {
        self.encap = Encap::Ethernet(ids.iter().map(|&i| (0x8100, i)).collect());
        self
    }

    /// Frames longer than this are cut (and keep their original length).
    pub fn snaplen(&mut self, n: u32) -> &mut Self {
        self.snaplen = n;
        self
    }

    /// Time between consecutive frames.
    pub fn step(&mut self, d: Duration) -> &mut Self {
        self.step = d;
        self
    }

    /// Moves the clock forward.
    pub fn wait(&mut self, d: Duration) -> &mut Self {
        self.now = self.now.saturating_add(d);
        self
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Records an IP packet, wrapped in the current encapsulation.
    pub fn push_ip(&mut self, ip_packet: Vec<u8>) {
        let (link, data) = wrap(&self.encap, ip_packet);
        self.push_frame(link, data);
    }

    /// Records a frame as is (for link layers or garbage the builder does not make).
    pub fn push_frame(&mut self, link: LinkType, mut data: Vec<u8>) {
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        data.truncate(self.snaplen as usize);
        self.frames.push(Frame {
            ts: self.now,
            link,
            data,
            orig_len,
        });
        self.now = self.now.saturating_add(self.step);
    }

    /// A TCP conversation from `client` to `server`.
    pub fn tcp(&mut self, client: SocketAddr, server: SocketAddr) -> TcpConv<'_> {
        TcpConv::new(self, client, server)
    }

    /// One UDP datagram.
    pub fn udp(&mut self, from: SocketAddr, to: SocketAddr, payload: &[u8]) {
        let b = ip_builder(from.ip(), to.ip(), self.next_ip_id()).udp(from.port(), to.port());
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("udp packet");
        self.push_ip(v);
    }

    /// An ICMP echo request (`reply` false) or reply.
    pub fn ping(&mut self, from: IpAddr, to: IpAddr, id: u16, seq: u16, reply: bool) {
        let b = ip_builder(from, to, self.next_ip_id());
        let mut v = Vec::new();
        match (from, reply) {
            (IpAddr::V4(_), false) => b.icmpv4_echo_request(id, seq).write(&mut v, b"ping"),
            (IpAddr::V4(_), true) => b.icmpv4_echo_reply(id, seq).write(&mut v, b"ping"),
            (IpAddr::V6(_), false) => b.icmpv6_echo_request(id, seq).write(&mut v, b"ping"),
            (IpAddr::V6(_), true) => b.icmpv6_echo_reply(id, seq).write(&mut v, b"ping"),
        }
        .expect("icmp packet");
        self.push_ip(v);
    }

    /// An ICMP error from `from` quoting the start of `original` (an IP packet), as routers and
    /// firewalls send: destination unreachable (type 3 / ICMPv6 1) with `code`.
    pub fn icmp_unreachable(&mut self, from: IpAddr, original: &[u8], code: u8) {
        let Some(first) = original.first() else {
            return;
        };
        let dst = if first >> 4 == 4 {
            let o = original.get(12..16).expect("ipv4 source");
            IpAddr::from(<[u8; 4]>::try_from(o).expect("4 bytes"))
        } else {
            let o = original.get(8..24).expect("ipv6 source");
            IpAddr::from(<[u8; 16]>::try_from(o).expect("16 bytes"))
        };
        let quote_len = if from.is_ipv4() { 28 } else { 48 }.min(original.len());
        let quote = original.get(..quote_len).unwrap_or(original);
        let b = ip_builder(from, dst, self.next_ip_id());
        let mut v = Vec::new();
        match from {
            IpAddr::V4(_) => b.icmpv4_raw(3, code, [0; 4]).write(&mut v, quote),
            IpAddr::V6(_) => b.icmpv6_raw(1, code, [0; 4]).write(&mut v, quote),
        }
        .expect("icmp error");
        self.push_ip(v);
    }

    /// The last IP packet recorded (for quoting it in an ICMP error).
    pub fn last_ip_packet(&self) -> Option<Vec<u8>> {
        let f = self.frames.last()?;
        unwrap_ip(&self.encap, &f.data)
    }

    /// Records `ip_packet` (IPv4) as fragments of `size` payload bytes (a multiple of 8),
    /// in the order `order` gives (indexes of the fragments); `None` keeps their natural order.
    pub fn push_fragmented(&mut self, ip_packet: &[u8], size: usize, order: Option<&[usize]>) {
        let frags = fragment_ipv4(ip_packet, size);
        let idx: Vec<usize> = match order {
            Some(o) => o.to_vec(),
            None => (0..frags.len()).collect(),
        };
        for i in idx {
            if let Some(f) = frags.get(i) {
                self.push_ip(f.clone());
            }
        }
    }

    pub fn to_pcap(&self) -> Vec<u8> {
        writer::pcap(&self.frames, &PcapOptions::default(), self.snaplen)
    }

    pub fn to_pcap_with(&self, o: &PcapOptions) -> Vec<u8> {
        writer::pcap(&self.frames, o, self.snaplen)
    }

    pub fn to_pcapng(&self) -> Vec<u8> {
        writer::pcapng(&self.frames, &PcapngOptions::default(), self.snaplen)
    }

    pub fn to_pcapng_with(&self, o: &PcapngOptions) -> Vec<u8> {
        writer::pcapng(&self.frames, o, self.snaplen)
    }
}

/// An IPv4 or IPv6 packet builder between two addresses.
pub fn ip_builder(
    src: IpAddr,
    dst: IpAddr,
    id: u16,
) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = etherparse::Ipv4Header::new(
                0,
                64,
                etherparse::IpNumber::TCP,
                s.octets(),
                d.octets(),
            )
            .expect("ipv4 header");
            h.identification = id;
            h.dont_fragment = false;
            PacketBuilder::ip(etherparse::IpHeaders::Ipv4(h, Default::default()))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ip(etherparse::IpHeaders::Ipv6(
            etherparse::Ipv6Header {
                traffic_class: 0,
                flow_label: Default::default(),
                payload_length: 0,
                next_header: etherparse::IpNumber::TCP,
                hop_limit: 64,
                source: s.octets(),
                destination: d.octets(),
            },
            Default::default(),
        )),
        _ => panic!("mixed address families"),
    }
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

fn ethernet(vlans: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + 4 * vlans.len() + payload.len());
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    for &(tpid, id) in vlans {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn ethertype_of(ip: &[u8]) -> u16 {
    if ip.first().is_some_and(|b| b >> 4 == 6) {
        0x86DD
    } else {
        0x0800
    }
}

fn gre_outer(src: IpAddr, dst: IpAddr, gre: Vec<u8>) -> Vec<u8> {
    let mut h = Vec::new();
    // Build the outer IP header by hand: etherparse's builder has no GRE step.
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + gre.len()).expect("outer length");
            let mut hdr = etherparse::Ipv4Header::new(
                total - 20,
                64,
                etherparse::IpNumber::GRE,
                s.octets(),
                d.octets(),
            )
            .expect("outer ipv4");
            hdr.header_checksum = hdr.calc_header_checksum();
            hdr.write(&mut h).expect("write");
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let hdr = etherparse::Ipv6Header {
                traffic_class: 0,
                flow_label: Default::default(),
                payload_length: u16::try_from(gre.len()).expect("outer length"),
                next_header: etherparse::IpNumber::GRE,
                hop_limit: 64,
                source: s.octets(),
                destination: d.octets(),
            };
            hdr.write(&mut h).expect("write");
        }
        _ => panic!("mixed address families"),
    }
    h.extend_from_slice(&gre);
    ethernet(&[], ethertype_of(&h), &h)
}

fn wrap(e: &Encap, ip: Vec<u8>) -> (LinkType, Vec<u8>) {
    match e {
        Encap::Ethernet(vlans) => (LinkType::ETHERNET, ethernet(vlans, ethertype_of(&ip), &ip)),
        Encap::Raw(l) => (*l, ip),
        Encap::Null => {
            let af: u32 = if ethertype_of(&ip) == 0x86DD { 24 } else { 2 };
            let mut v = af.to_le_bytes().to_vec();
            v.extend_from_slice(&ip);
            (LinkType::NULL, v)
        }
        Encap::Sll => {
            let mut v = vec![0, 0, 0, 1, 0, 6];
            v.extend_from_slice(&MAC_A);
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&ethertype_of(&ip).to_be_bytes());
            v.extend_from_slice(&ip);
            (LinkType::LINUX_SLL, v)
        }
        Encap::Sll2 => {
            let mut v = ethertype_of(&ip).to_be_bytes().to_vec();
            v.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
            v.extend_from_slice(&MAC_A);
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&ip);
            (LinkType::LINUX_SLL2, v)
        }
        Encap::Nflog => {
            let family = if ethertype_of(&ip) == 0x86DD { 10 } else { 2 };
            let mut v = vec![family, 0, 0, 1];
            // NFULA_PREFIX (10) "fw", then NFULA_PAYLOAD (9).
            v.extend_from_slice(&7u16.to_le_bytes());
            v.extend_from_slice(&10u16.to_le_bytes());
            v.extend_from_slice(b"fw\0\0");
            let len = u16::try_from(4 + ip.len()).expect("nflog length");
            v.extend_from_slice(&len.to_le_bytes());
            v.extend_from_slice(&9u16.to_le_bytes());
            v.extend_from_slice(&ip);
            while v.len() % 4 != 0 {
                v.push(0);
            }
            (LinkType::NFLOG, v)
        }
        Encap::Pppoe => {
            let ppp: u16 = if ethertype_of(&ip) == 0x86DD {
                0x0057
            } else {
                0x0021
            };
            let mut p = vec![0x11, 0x00, 0x12, 0x34];
            p.extend_from_slice(&u16::try_from(ip.len() + 2).expect("len").to_be_bytes());
            p.extend_from_slice(&ppp.to_be_bytes());
            p.extend_from_slice(&ip);
            (LinkType::ETHERNET, ethernet(&[], 0x8864, &p))
        }
        Encap::GreTeb(s, d) => {
            let inner = ethernet(&[], ethertype_of(&ip), &ip);
            let mut g = vec![0x20, 0x00, 0x65, 0x58, 0, 0, 0, 42]; // K bit, key 42
            g.extend_from_slice(&inner);
            (LinkType::ETHERNET, gre_outer(*s, *d, g))
        }
        Encap::Erspan2(s, d) => {
            let inner = ethernet(&[], ethertype_of(&ip), &ip);
            let mut g = vec![0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1]; // S bit, sequence 1
            g.extend_from_slice(&[0x10, 0x00, 0x00, 0x01, 0, 0, 0, 0]); // version 1, session 1
            g.extend_from_slice(&inner);
            (LinkType::ETHERNET, gre_outer(*s, *d, g))
        }
        Encap::Erspan3(s, d) => {
            let inner = ethernet(&[(0x8100, 10)], ethertype_of(&ip), &ip);
            let mut g = vec![0x10, 0x00, 0x22, 0xEB, 0, 0, 0, 1];
            g.extend_from_slice(&[0x20, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
            g.extend_from_slice(&inner);
            (LinkType::ETHERNET, gre_outer(*s, *d, g))
        }
    }
}

/// The IP packet inside a frame made by `wrap` (for Ethernet and raw encapsulations).
fn unwrap_ip(e: &Encap, frame: &[u8]) -> Option<Vec<u8>> {
    match e {
        Encap::Ethernet(v) => frame.get(14 + 4 * v.len()..).map(<[u8]>::to_vec),
        Encap::Raw(_) => Some(frame.to_vec()),
        _ => None,
    }
}

/// Splits an IPv6 packet (without extension headers) into fragments of `size` payload bytes,
/// each carrying a Fragment header (RFC 8200 §4.5).
pub fn fragment_ipv6(packet: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    let (h, payload) = etherparse::Ipv6Header::from_slice(packet).expect("ipv6 packet");
    let payload = payload
        .get(..usize::from(h.payload_length))
        .unwrap_or(payload);
    split_payload(payload, size, |off, chunk, more| {
        let mut fh = h.clone();
        fh.next_header = etherparse::IpNumber::IPV6_FRAGMENTATION_HEADER;
        fh.payload_length = u16::try_from(8 + chunk.len()).expect("len");
        let mut v = Vec::new();
        fh.write(&mut v).expect("write");
        let offset_field = u16::try_from(off / 8).expect("offset") << 3 | u16::from(more);
        v.push(h.next_header.0);
        v.push(0);
        v.extend_from_slice(&offset_field.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(chunk);
        v
    })
}

/// Splits an IPv4 packet into fragments of `size` payload bytes (RFC 791 §3.2).
pub fn fragment_ipv4(packet: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (h, payload) = etherparse::Ipv4Header::from_slice(packet).expect("ipv4 packet");
    let payload = payload
        .get(..h.payload_len().expect("len") as usize)
        .unwrap_or(payload);
    split_payload(payload, size, |off, chunk, more| {
        let mut fh = h.clone();
        fh.more_fragments = more;
        fh.fragment_offset =
            etherparse::IpFragOffset::try_new(u16::try_from(off / 8).expect("offset"))
                .expect("offset");
        fh.set_payload_len(chunk.len()).expect("len");
        fh.header_checksum = fh.calc_header_checksum();
        let mut v = Vec::new();
        fh.write(&mut v).expect("write");
        v.extend_from_slice(chunk);
        v
    })
}

/// Cuts `payload` into chunks of `size` bytes (rounded down to a multiple of 8, the fragment
/// offset unit) and builds one fragment from each: `(offset, chunk, more fragments follow)`.
fn split_payload(
    payload: &[u8],
    size: usize,
    mut fragment: impl FnMut(usize, &[u8], bool) -> Vec<u8>,
) -> Vec<Vec<u8>> {
    let size = (size / 8).max(1) * 8;
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| fragment(i * size, chunk, (i + 1) * size < payload.len()))
        .collect()
}

/// Offsets where each block of the first zstd frame in `f` ends (RFC 8878 §3.1.1: the frame
/// header's descriptor gives the sizes of its optional fields; each block header is three
/// little-endian bytes, Last_Block, Block_Type and Block_Size, and an RLE block carries one
/// byte). For tests that cut a compressed capture at a known block.
pub fn zstd_block_ends(f: &[u8]) -> Vec<usize> {
    let fhd = f[4];
    let single = fhd & 0x20 != 0;
    let did = [0, 1, 2, 4][usize::from(fhd & 3)];
    let fcs = [usize::from(single), 2, 4, 8][usize::from(fhd >> 6)];
    let mut at = 5 + usize::from(!single) + did + fcs;
    let mut ends = Vec::new();
    loop {
        let h = u32::from_le_bytes([f[at], f[at + 1], f[at + 2], 0]);
        let size = usize::try_from(h >> 3).unwrap();
        at += 3 + if (h >> 1) & 3 == 1 { 1 } else { size };
        ends.push(at);
        if h & 1 == 1 {
            return ends;
        }
    }
}
