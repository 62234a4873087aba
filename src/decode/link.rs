//! Link layers and the Ethernet type dispatch shared by them and by tunnels.

use super::{Cx, L3, Vlans};
use crate::source::LinkType;

/// Tags followed in one VLAN stack (802.1Q, 802.1ad, the old 0x9100/0x9200 QinQ types).
const MAX_VLAN_TAGS: u8 = 8;
/// MPLS labels followed before giving up on a label stack.
const MAX_MPLS_LABELS: usize = 8;

const ETH_HDR: usize = 14;
const SLL_HDR: usize = 16;
const SLL2_HDR: usize = 20;

pub(crate) mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86DD;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88A8;
    pub const QINQ_OLD1: u16 = 0x9100;
    pub const QINQ_OLD2: u16 = 0x9200;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const MPLS_UC: u16 = 0x8847;
    pub const MPLS_MC: u16 = 0x8848;
    pub const TEB: u16 = 0x6558;
    pub const ERSPAN_I_II: u16 = 0x88BE;
    pub const ERSPAN_III: u16 = 0x22EB;
    /// Cisco VN-Tag (802.1Qbh precursor): 4 bytes of tag, then the next type.
    pub const VNTAG: u16 = 0x8926;
}

/// BSD address families seen in DLT_NULL / DLT_LOOP headers (values differ between systems).
const AF_INET: u32 = 2;
const AF_INET6_ALL: [u32; 4] = [10, 24, 28, 30];

fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// Removes the capture's link layer. `None` when there is no IP packet (counted).
pub(crate) fn strip<'a>(
    link: LinkType,
    data: &'a [u8],
    cx: &mut Cx<'_>,
) -> Option<(L3<'a>, Vlans)> {
    let mut vlans = Vlans::NONE;
    let l3 = match link {
        LinkType::ETHERNET => ethernet(data, &mut vlans, cx),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => Some(L3::Ip(data)),
        LinkType::IPV4 => Some(L3::Ipv4(data)),
        LinkType::IPV6 => Some(L3::Ipv6(data)),
        LinkType::NULL | LinkType::LOOP => null(link, data, cx),
        LinkType::LINUX_SLL => {
            let Some((hdr, rest)) = data.split_first_chunk::<SLL_HDR>() else {
                cx.stats.truncated_link += 1;
                return None;
            };
            ether_payload(be16([hdr[14], hdr[15]]), rest, &mut vlans, cx)
        }
        LinkType::LINUX_SLL2 => {
            let Some((hdr, rest)) = data.split_first_chunk::<SLL2_HDR>() else {
                cx.stats.truncated_link += 1;
                return None;
            };
            ether_payload(be16([hdr[0], hdr[1]]), rest, &mut vlans, cx)
        }
        LinkType::NFLOG => nflog(data, cx),
        _ => {
            cx.stats.unknown_link_type += 1;
            None
        }
    }?;
    Some((l3, vlans))
}

/// An Ethernet II frame (also the inner frame of GRE bridging and ERSPAN).
pub(crate) fn ethernet<'a>(data: &'a [u8], vlans: &mut Vlans, cx: &mut Cx<'_>) -> Option<L3<'a>> {
    let Some((hdr, rest)) = data.split_first_chunk::<ETH_HDR>() else {
        cx.stats.truncated_link += 1;
        return None;
    };
    let ty = be16([hdr[12], hdr[13]]);
    if ty < 0x0600 {
        // IEEE 802.3 length field: LLC/SNAP (STP, CDP …), not IP.
        cx.stats.non_ip += 1;
        return None;
    }
    ether_payload(ty, rest, vlans, cx)
}

/// Follows VLAN tags, PPPoE and MPLS to the IP packet an Ethernet type announces.
fn ether_payload<'a>(
    mut ty: u16,
    mut rest: &'a [u8],
    vlans: &mut Vlans,
    cx: &mut Cx<'_>,
) -> Option<L3<'a>> {
    loop {
        match ty {
            ethertype::IPV4 => return Some(L3::Ipv4(rest)),
            ethertype::IPV6 => return Some(L3::Ipv6(rest)),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD1 | ethertype::QINQ_OLD2 => {
                if vlans.depth() >= MAX_VLAN_TAGS {
                    cx.stats.vlan_too_deep += 1;
                    return None;
                }
                let Some((tag, tail)) = rest.split_first_chunk::<4>() else {
                    cx.stats.truncated_link += 1;
                    return None;
                };
                vlans.push(be16([tag[0], tag[1]]));
                ty = be16([tag[2], tag[3]]);
                rest = tail;
            }
            ethertype::VNTAG => {
                let Some((tag, tail)) = rest.split_first_chunk::<6>() else {
                    cx.stats.truncated_link += 1;
                    return None;
                };
                ty = be16([tag[4], tag[5]]);
                rest = tail;
            }
            ethertype::PPPOE_SESSION => return pppoe(rest, cx),
            ethertype::MPLS_UC | ethertype::MPLS_MC => return mpls(rest, cx),
            _ => {
                cx.stats.non_ip += 1;
                return None;
            }
        }
    }
}

/// RFC 2516 PPPoE session header (6 bytes) and the PPP protocol field (2 bytes).
fn pppoe<'a>(data: &'a [u8], cx: &mut Cx<'_>) -> Option<L3<'a>> {
    let Some((hdr, rest)) = data.split_first_chunk::<8>() else {
        cx.stats.truncated_link += 1;
        return None;
    };
    match be16([hdr[6], hdr[7]]) {
        0x0021 => Some(L3::Ipv4(rest)),
        0x0057 => Some(L3::Ipv6(rest)),
        _ => {
            cx.stats.pppoe_not_ip += 1;
            None
        }
    }
}

/// RFC 3032 label stack: 4 bytes a label, bottom of stack bit 0x100; IP version from the nibble.
fn mpls<'a>(mut data: &'a [u8], cx: &mut Cx<'_>) -> Option<L3<'a>> {
    for _ in 0..MAX_MPLS_LABELS {
        let Some((label, rest)) = data.split_first_chunk::<4>() else {
            cx.stats.truncated_link += 1;
            return None;
        };
        data = rest;
        if label[2] & 0x01 != 0 {
            return Some(L3::Ip(data));
        }
    }
    cx.stats.vlan_too_deep += 1;
    None
}

/// DLT_NULL (address family in the capturing host's byte order) and DLT_LOOP (network order).
fn null<'a>(link: LinkType, data: &'a [u8], cx: &mut Cx<'_>) -> Option<L3<'a>> {
    let Some((af, rest)) = data.split_first_chunk::<4>() else {
        cx.stats.truncated_link += 1;
        return None;
    };
    let be = u32::from_be_bytes(*af);
    let le = u32::from_le_bytes(*af);
    let family = if link == LinkType::LOOP {
        be
    } else {
        // The writer's byte order is unknown; the family is the small one of the two readings.
        be.min(le)
    };
    if family == AF_INET {
        Some(L3::Ipv4(rest))
    } else if AF_INET6_ALL.contains(&family) {
        Some(L3::Ipv6(rest))
    } else {
        cx.stats.non_ip += 1;
        None
    }
}

/// NFLOG (link type 239): family, version, resource id, then TLVs whose length and type are in
/// the capturing host's byte order (little-endian in practice); type 9 (NFULA_PAYLOAD) holds the
/// IP packet. Lengths include the 4-byte TLV header and are padded to 4 bytes.
fn nflog<'a>(data: &'a [u8], cx: &mut Cx<'_>) -> Option<L3<'a>> {
    const NFULA_PAYLOAD: u16 = 9;
    const MAX_TLVS: usize = 64;
    let Some((hdr, mut rest)) = data.split_first_chunk::<4>() else {
        cx.stats.truncated_link += 1;
        return None;
    };
    let family = hdr[0];
    for _ in 0..MAX_TLVS {
        let Some((tlv, _)) = rest.split_first_chunk::<4>() else {
            break;
        };
        let len = usize::from(u16::from_le_bytes([tlv[0], tlv[1]]));
        let ty = u16::from_le_bytes([tlv[2], tlv[3]]) & 0x7fff;
        if len < 4 {
            break;
        }
        let Some(value) = rest.get(4..len) else {
            break;
        };
        if ty == NFULA_PAYLOAD {
            return match family {
                2 => Some(L3::Ipv4(value)),
                10 => Some(L3::Ipv6(value)),
                _ => Some(L3::Ip(value)),
            };
        }
        let padded = len.div_ceil(4) * 4;
        rest = rest.get(padded..).unwrap_or(&[]);
    }
    cx.stats.bad_nflog += 1;
    None
}

/// GRE (RFC 2784 / 2890) and what it carries: bridged Ethernet (0x6558), ERSPAN I/II/III, IP.
/// Returns the inner network layer, and whether it came inside an Ethernet frame (whose VLAN
/// tags, written into `vlans`, then replace the outer ones).
pub(crate) fn gre<'a>(
    data: &'a [u8],
    vlans: &mut Vlans,
    cx: &mut Cx<'_>,
) -> Option<(L3<'a>, bool)> {
    let Some((hdr, mut rest)) = data.split_first_chunk::<4>() else {
        cx.stats.bad_gre += 1;
        return None;
    };
    let flags = be16([hdr[0], hdr[1]]);
    let proto = be16([hdr[2], hdr[3]]);
    let version = flags & 0x0007;
    let routing = flags & 0x4000 != 0;
    if version == 1 {
        return pptp(flags, proto, rest, cx).map(|l3| (l3, false));
    }
    if version != 0 {
        cx.stats.gre_unsupported_protocol += 1;
        return None;
    }
    if routing {
        cx.stats.bad_gre += 1;
        return None;
    }
    let seq_present = flags & 0x1000 != 0;
    let optional = 4
        * (usize::from(flags & 0x8000 != 0)
            + usize::from(flags & 0x2000 != 0)
            + usize::from(seq_present));
    let Some(tail) = rest.get(optional..) else {
        cx.stats.bad_gre += 1;
        return None;
    };
    rest = tail;
    let eth = |frame: &'a [u8], vlans: &mut Vlans, cx: &mut Cx<'_>| {
        ethernet(frame, vlans, cx).map(|l3| (l3, true))
    };
    match proto {
        ethertype::TEB => eth(rest, vlans, cx),
        ethertype::IPV4 => Some((L3::Ipv4(rest), false)),
        ethertype::IPV6 => Some((L3::Ipv6(rest), false)),
        // ERSPAN type I has no header of its own (and no GRE sequence number); type II has 8 bytes.
        ethertype::ERSPAN_I_II if !seq_present => eth(rest, vlans, cx),
        ethertype::ERSPAN_I_II => {
            let Some((_, frame)) = rest.split_first_chunk::<8>() else {
                cx.stats.bad_erspan += 1;
                return None;
            };
            eth(frame, vlans, cx)
        }
        ethertype::ERSPAN_III => {
            // 12-byte header; its last bit (O) announces an 8-byte platform-specific subheader.
            let Some((h, frame)) = rest.split_first_chunk::<12>() else {
                cx.stats.bad_erspan += 1;
                return None;
            };
            let frame = if h[11] & 0x01 != 0 {
                let Some((_, f)) = frame.split_first_chunk::<8>() else {
                    cx.stats.bad_erspan += 1;
                    return None;
                };
                f
            } else {
                frame
            };
            eth(frame, vlans, cx)
        }
        _ => {
            cx.stats.gre_unsupported_protocol += 1;
            None
        }
    }
}

/// UDP ports of the tunnels a cloud or remote SPAN delivers (IANA assignments).
pub(crate) const VXLAN_PORT: u16 = 4789;
pub(crate) const GENEVE_PORT: u16 = 6081;
pub(crate) const GRE_IN_UDP_PORT: u16 = 4754;
pub(crate) const GTP_U_PORT: u16 = 2152;
pub(crate) const AYIYA_PORT: u16 = 5072;

/// Whether a UDP port is one whose payload `udp_tunnel` opens.
pub(crate) fn is_tunnel_port(p: u16) -> bool {
    matches!(
        p,
        VXLAN_PORT | GENEVE_PORT | GRE_IN_UDP_PORT | GTP_U_PORT | AYIYA_PORT
    )
}

/// The packet inside a UDP tunnel: VXLAN (RFC 7348), Geneve (RFC 8926), GRE-in-UDP (RFC 8086).
/// `None` when the payload is not a well-formed tunnel header (it is then plain UDP).
pub(crate) fn udp_tunnel<'a>(
    port: u16,
    payload: &'a [u8],
    vlans: &mut Vlans,
    cx: &mut Cx<'_>,
) -> Option<(L3<'a>, bool)> {
    match port {
        VXLAN_PORT => {
            let (h, frame) = payload.split_first_chunk::<8>()?;
            // The I flag must be set; the rest of the first word is reserved.
            if h[0] & 0x08 == 0 {
                return None;
            }
            ethernet(frame, vlans, cx).map(|l3| (l3, true))
        }
        GENEVE_PORT => {
            let (h, rest) = payload.split_first_chunk::<8>()?;
            if h[0] >> 6 != 0 {
                return None;
            }
            let opts = usize::from(h[0] & 0x3f) * 4;
            let inner = rest.get(opts..)?;
            match be16([h[2], h[3]]) {
                ethertype::TEB => ethernet(inner, vlans, cx).map(|l3| (l3, true)),
                ethertype::IPV4 => Some((L3::Ipv4(inner), false)),
                ethertype::IPV6 => Some((L3::Ipv6(inner), false)),
                _ => None,
            }
        }
        GRE_IN_UDP_PORT => gre(payload, vlans, cx),
        GTP_U_PORT => gtp_u(payload).map(|l3| (l3, false)),
        AYIYA_PORT => ayiya(payload).map(|l3| (l3, false)),
        _ => None,
    }
}

/// GTP-U (3GPP TS 29.281): an 8-byte header (version 1, protocol type GTP), 4 more bytes when any
/// of the E, S or PN flags is set, then extension headers (each `4 × length` bytes, the last byte
/// naming the next); only G-PDU messages (type 255) carry an IP packet.
fn gtp_u(payload: &[u8]) -> Option<L3<'_>> {
    /// Extension headers followed before giving up.
    const MAX_EXTENSIONS: usize = 8;
    let (h, mut rest) = payload.split_first_chunk::<8>()?;
    let flags = h[0];
    if flags >> 5 != 1 || flags & 0x10 == 0 || h[1] != 0xff {
        return None;
    }
    if flags & 0x07 != 0 {
        let (opt, tail) = rest.split_first_chunk::<4>()?;
        rest = tail;
        let mut next = opt[3];
        for _ in 0..MAX_EXTENSIONS {
            if next == 0 {
                break;
            }
            let units = usize::from(*rest.first()?);
            if units == 0 {
                return None;
            }
            let ext = rest.get(..units * 4)?;
            next = *ext.last()?;
            rest = rest.get(units * 4..)?;
        }
        if next != 0 {
            return None;
        }
    }
    Some(L3::Ip(rest))
}

/// AYIYA ("anything in anything", UDP 5072): an 8-byte header whose first two bytes give the
/// identity length (2^n bytes) and the signature length (4-byte units), then the identity and
/// the signature; the fourth byte names the payload (4 IPv4, 41 IPv6). Only opcode 1 (forward)
/// carries a packet.
fn ayiya(payload: &[u8]) -> Option<L3<'_>> {
    let (h, rest) = payload.split_first_chunk::<8>()?;
    if h[2] & 0x0f != 1 {
        return None;
    }
    let id_len = 1usize.checked_shl(u32::from(h[0] >> 4))?;
    let sig_len = usize::from(h[1] >> 4) * 4;
    let inner = rest.get(id_len.checked_add(sig_len)?..)?;
    match h[3] {
        4 => Some(L3::Ipv4(inner)),
        41 => Some(L3::Ipv6(inner)),
        _ => None,
    }
}

/// PPTP's enhanced GRE (RFC 2637 §4.1, version 1): key (payload length and call id), optional
/// sequence and acknowledgement numbers, then PPP (RFC 1661), whose address and control bytes
/// and leading protocol zero may be left out (RFC 1661 §6.5, §6.6).
fn pptp<'a>(flags: u16, proto: u16, rest: &'a [u8], cx: &mut Cx<'_>) -> Option<L3<'a>> {
    const PPP: u16 = 0x880B;
    if proto != PPP {
        cx.stats.gre_unsupported_protocol += 1;
        return None;
    }
    let optional = 4 + 4 * (usize::from(flags & 0x1000 != 0) + usize::from(flags & 0x0080 != 0));
    let Some(mut ppp) = rest.get(optional..) else {
        cx.stats.bad_gre += 1;
        return None;
    };
    if let [0xff, 0x03, tail @ ..] = ppp {
        ppp = tail;
    }
    let (protocol, inner) = match ppp {
        [p, tail @ ..] if p & 1 == 1 => (u16::from(*p), tail),
        [hi, lo, tail @ ..] => (u16::from_be_bytes([*hi, *lo]), tail),
        _ => {
            cx.stats.bad_gre += 1;
            return None;
        }
    };
    match protocol {
        0x0021 => Some(L3::Ipv4(inner)),
        0x0057 => Some(L3::Ipv6(inner)),
        _ => {
            // PPP control traffic (LCP, IPCP, CHAP …): not IP.
            cx.stats.non_ip += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{DecodeStats, FragmentStats};
    use crate::time::Timestamp;

    fn with_cx<T>(f: impl FnOnce(&mut Cx<'_>) -> T) -> (T, DecodeStats) {
        let mut stats = DecodeStats::default();
        let mut frag = FragmentStats::default();
        let mut cx = Cx {
            ts: Timestamp::ZERO,
            verify: false,
            stats: &mut stats,
            frag: &mut frag,
        };
        let r = f(&mut cx);
        (r, stats)
    }

    const IP: &[u8] = &[0x45, 0, 0, 20];

    #[test]
    fn gtp_u_g_pdu_with_an_extension_header() {
        // Version 1, PT, E flag; type 255; then seq, N-PDU, next extension 0x85 (one 4-byte
        // unit whose last byte ends the chain), then the IP packet.
        let mut p = vec![
            0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x00, 0,
        ];
        p.extend_from_slice(IP);
        assert!(matches!(gtp_u(&p), Some(L3::Ip(ip)) if ip == IP));
        // Not a G-PDU (an echo request): no packet inside.
        p[1] = 1;
        assert!(gtp_u(&p).is_none());
        // An extension chain that runs past the datagram.
        let cut = [0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 9];
        assert!(gtp_u(&cut).is_none());
    }

    #[test]
    fn ayiya_forward_carries_ipv6() {
        // Identity 2^4 = 16 bytes, signature 5 × 4 = 20 bytes, opcode 1 (forward), IPv6.
        let mut p = vec![0x41, 0x52, 0x11, 41, 0, 0, 0, 0];
        p.extend_from_slice(&[0; 36]);
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        assert!(matches!(ayiya(&p), Some(L3::Ipv6(ip)) if ip == [0x60, 0, 0, 0]));
        p[2] = 0x12; // opcode 2: echo request
        assert!(ayiya(&p).is_none());
    }

    #[test]
    fn pptp_ppp_with_and_without_compression() {
        // K and S set, version 1, protocol PPP; key (length, call id), sequence; then PPP.
        let gre_hdr = [0x30, 0x01, 0x88, 0x0b, 0, 24, 0, 7, 0, 0, 0, 1];
        for ppp in [&[0xff, 0x03, 0x00, 0x21][..], &[0x21][..]] {
            let mut p = gre_hdr.to_vec();
            p.extend_from_slice(ppp);
            p.extend_from_slice(IP);
            let (r, stats) = with_cx(|cx| gre(&p, &mut Vlans::default(), cx).map(|(l3, _)| l3));
            assert!(matches!(r, Some(L3::Ipv4(ip)) if ip == IP), "{ppp:?}");
            assert_eq!(stats.total(), 0);
        }
        // LCP is PPP's own control traffic: counted as non-IP.
        let mut p = gre_hdr.to_vec();
        p.extend_from_slice(&[0xc0, 0x21, 1, 1]);
        let (r, stats) = with_cx(|cx| gre(&p, &mut Vlans::default(), cx));
        assert!(r.is_none());
        assert_eq!(stats.non_ip, 1);
    }
}
