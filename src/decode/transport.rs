//! TCP, UDP, ICMP and ICMPv6 headers, and the flow an ICMP error quotes.

use std::net::IpAddr;

use etherparse::{LaxIpSlice, TcpSlice, UdpSlice};

use super::Cx;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;

/// TCP flag bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    pub fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
    pub fn urg(self) -> bool {
        self.0 & Self::URG != 0
    }
}

/// Whether a checksum was verified, and how it came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    NotChecked,
    Good,
    Bad,
}

#[derive(Clone, Copy, Debug)]
pub struct Tcp<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// The payload bytes captured (may be cut by the snaplen).
    pub payload: &'a [u8],
    /// The payload length on the wire, from the IP length.
    pub payload_len: u32,
    pub checksum: Checksum,
    /// The header was cut short (by the snaplen) after its ports and flags: the segment names
    /// its conversation but cannot be processed (Zeek creates the connection and skips it).
    pub header_cut: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Udp<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    pub payload_len: u32,
    pub checksum: Checksum,
}

/// The conversation an ICMP error refers to, as its quoted header gives it (sender first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
}

#[derive(Clone, Copy, Debug)]
pub struct Icmp {
    pub v6: bool,
    pub ty: u8,
    pub code: u8,
    /// Echo identifier (0 for other messages).
    pub id: u16,
    pub payload_len: u32,
    /// Whether the whole message was captured (Zeek counts only those).
    pub complete: bool,
    /// For an error message (unreachable, time exceeded, too big, parameter problem, redirect,
    /// source quench): the flow it quotes, if the quote could be read.
    pub quoted: Option<Quoted>,
}

impl Icmp {
    /// Whether this message reports an error about another packet (RFC 792, RFC 4443).
    pub fn is_error(&self) -> bool {
        if self.v6 {
            self.ty < 128
        } else {
            matches!(self.ty, 3 | 4 | 5 | 11 | 12)
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    Tcp(Tcp<'a>),
    Udp(Udp<'a>),
    Icmp(Icmp),
    /// Another IP protocol: a flow without ports.
    Other,
}

/// Parses the transport header. `None` drops the packet (header cut short or malformed; counted).
pub(crate) fn parse<'a>(
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    body: &'a [u8],
    wire_len: u32,
    cx: &mut Cx<'_>,
) -> Option<Transport<'a>> {
    match proto {
        IPPROTO_TCP => {
            let Ok(t) = TcpSlice::from_slice(body) else {
                cx.stats.bad_transport_header += 1;
                return cut_tcp(body);
            };
            let hl = u32::from(t.data_offset()) * 4;
            let checksum = if cx.verify && body.len() as u64 == u64::from(wire_len) {
                if l4_checksum_ok(src, dst, proto, body) {
                    Checksum::Good
                } else {
                    cx.stats.bad_tcp_checksum += 1;
                    Checksum::Bad
                }
            } else {
                Checksum::NotChecked
            };
            let flags = t.header_slice().get(13).copied().unwrap_or(0);
            Some(Transport::Tcp(Tcp {
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: TcpFlags(flags),
                window: t.window_size(),
                payload: t.payload(),
                payload_len: wire_len.saturating_sub(hl),
                checksum,
                header_cut: false,
            }))
        }
        IPPROTO_UDP => {
            let Ok(u) = UdpSlice::from_slice_lax(body) else {
                cx.stats.bad_transport_header += 1;
                return None;
            };
            let field = u32::from(u.length()).saturating_sub(8);
            let payload_len = if u.length() >= 8 {
                field.min(wire_len.saturating_sub(8))
            } else {
                wire_len.saturating_sub(8)
            };
            // RFC 768: a zero UDP checksum over IPv4 means "not computed".
            let checksum = if cx.verify
                && body.len() as u64 == u64::from(wire_len)
                && !(u.checksum() == 0 && src.is_ipv4())
            {
                if l4_checksum_ok(src, dst, proto, body) {
                    Checksum::Good
                } else {
                    cx.stats.bad_udp_checksum += 1;
                    Checksum::Bad
                }
            } else {
                Checksum::NotChecked
            };
            Some(Transport::Udp(Udp {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
                payload_len,
                checksum,
            }))
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let v6 = proto == IPPROTO_ICMPV6;
            let Some((hdr, rest)) = body.split_first_chunk::<8>() else {
                cx.stats.bad_transport_header += 1;
                return None;
            };
            let mut icmp = Icmp {
                v6,
                ty: hdr[0],
                code: hdr[1],
                id: 0,
                payload_len: wire_len.saturating_sub(8),
                complete: body.len() as u64 >= u64::from(wire_len),
                quoted: None,
            };
            let echo = if v6 {
                matches!(icmp.ty, 128 | 129)
            } else {
                matches!(icmp.ty, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
            };
            if echo {
                icmp.id = u16::from_be_bytes([hdr[4], hdr[5]]);
            }
            if icmp.is_error() {
                icmp.quoted = quoted(rest);
                if icmp.quoted.is_none() {
                    cx.stats.icmp_quote_unreadable += 1;
                }
            }
            Some(Transport::Icmp(icmp))
        }
        _ => Some(Transport::Other),
    }
}

/// A TCP header cut after its flags byte: ports, sequence numbers and flags are readable.
fn cut_tcp(body: &[u8]) -> Option<Transport<'_>> {
    let (h, _) = body.split_first_chunk::<14>()?;
    Some(Transport::Tcp(Tcp {
        src_port: u16::from_be_bytes([h[0], h[1]]),
        dst_port: u16::from_be_bytes([h[2], h[3]]),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        flags: TcpFlags(h[13]),
        window: 0,
        payload: &[],
        payload_len: 0,
        checksum: Checksum::NotChecked,
        header_cut: true,
    }))
}

/// The IP header and first 8 transport bytes an ICMP error quotes (RFC 792, RFC 4443 §2.4).
fn quoted(bytes: &[u8]) -> Option<Quoted> {
    let (ip, _) = LaxIpSlice::from_slice(bytes).ok()?;
    let payload = ip.payload();
    let proto = payload.ip_number.0;
    let (src_port, dst_port) = match proto {
        IPPROTO_TCP | IPPROTO_UDP => {
            let (p, _) = payload.payload.split_first_chunk::<4>()?;
            (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )
        }
        _ => (0, 0),
    };
    Some(Quoted {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        proto,
        src_port,
        dst_port,
    })
}

/// The 16-bit ones' complement sum of `data` added to `acc` (RFC 1071), folded.
pub(crate) fn ones_complement_sum(acc: u32, data: &[u8]) -> u16 {
    let mut sum = u64::from(acc);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        if let [a, b] = c {
            sum += u64::from(u16::from_be_bytes([*a, *b]));
        }
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // Folded to 16 bits above.
    u16::try_from(sum).unwrap_or(0xffff)
}

/// TCP/UDP checksum over the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1) and the segment.
fn l4_checksum_ok(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> bool {
    let len = u32::try_from(segment.len()).unwrap_or(u32::MAX);
    let mut acc: u32 = u32::from(proto) + (len >> 16) + (len & 0xffff);
    let mut add = |b: &[u8]| acc += u32::from(ones_complement_sum(0, b));
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            add(&s.octets());
            add(&d.octets());
        }
        _ => return false,
    }
    ones_complement_sum(acc, segment) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_sum() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        assert_eq!(
            ones_complement_sum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }
}
