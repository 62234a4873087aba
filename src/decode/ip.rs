//! IPv4 and IPv6 (with extension headers) through etherparse's lax slicing, so that a packet cut
//! by the snaplen still yields the headers it has. Fragments go to the reassembly table; IP-in-IP
//! and GRE recurse into the inner packet.

use std::net::IpAddr;

use etherparse::LaxIpSlice;

use super::defrag::{Defrag, FragKey};
use super::transport::{self, Checksum, Transport};
use super::{Cx, Decoded, L3, MAX_TUNNEL_DEPTH, OuterUdp, Vlans, link};

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;

pub(crate) fn decode_l3<'a>(
    l3: L3<'a>,
    vlans: Vlans,
    depth: u8,
    defrags: &'a mut [Defrag],
    cx: &mut Cx<'_>,
) -> Option<Decoded<'a>> {
    let (bytes, want) = match l3 {
        L3::Ipv4(b) => (b, Some(4)),
        L3::Ipv6(b) => (b, Some(6)),
        L3::Ip(b) => (b, None),
    };
    let Some(first) = bytes.first() else {
        cx.stats.bad_ip_header += 1;
        return None;
    };
    if want.is_some_and(|v| v != first >> 4) {
        cx.stats.bad_ip_version += 1;
        return None;
    }
    let (ip, ext_err) = match LaxIpSlice::from_slice(bytes) {
        Ok(r) => r,
        Err(_) => {
            cx.stats.bad_ip_header += 1;
            return None;
        }
    };
    if ext_err.is_some() {
        cx.stats.bad_ipv6_extension += 1;
    }
    let src = ip.source_addr();
    let dst = ip.destination_addr();
    let payload = ip.payload();
    let proto = payload.ip_number.0;
    let body = payload.payload;
    if payload.incomplete {
        cx.stats.ip_payload_cut += 1;
    }

    // Lengths as the header states them: what crossed the wire, whatever the snaplen kept.
    let (ip_len, header_len, frag) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            if cx.verify && !ipv4_checksum_ok(h.slice()) {
                cx.stats.bad_ipv4_checksum += 1;
                return None;
            }
            let hl = u32::from(h.ihl()) * 4;
            let total = u32::from(h.total_len());
            // The header's length counts even when the snaplen cut the packet; only an
            // impossible value (0 from segmentation offload, or below the header) is replaced
            // by what was captured.
            let ip_len = if total < hl {
                u32::try_from(bytes.len()).unwrap_or(u32::MAX)
            } else {
                total
            };
            let frag = payload.fragmented.then(|| {
                (
                    u32::from(h.identification()),
                    usize::from(h.fragments_offset().value()) * 8,
                    h.more_fragments(),
                )
            });
            (ip_len, hl, frag)
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let plen = u32::from(h.payload_length());
            let ip_len = if plen == 0 {
                // Jumbogram or segmentation offload: the captured length is all we know.
                u32::try_from(bytes.len()).unwrap_or(u32::MAX)
            } else {
                40 + plen
            };
            let frag = if payload.fragmented {
                v6.extensions().clone().into_iter().find_map(|e| match e {
                    etherparse::Ipv6ExtensionSlice::Fragment(f) => Some((
                        f.identification(),
                        usize::from(f.fragment_offset().value()) * 8,
                        f.more_fragments(),
                    )),
                    _ => None,
                })
            } else {
                None
            };
            // Header length up to the transport: whatever precedes the payload on the wire.
            let payload_wire = payload_wire_len(bytes.len(), body.len(), ip_len);
            (ip_len, ip_len.saturating_sub(payload_wire), frag)
        }
    };
    let wire_payload_len = ip_len.saturating_sub(header_len);

    if let Some((id, offset, more)) = frag {
        let Some((table, rest)) = defrags.split_first_mut() else {
            cx.stats.tunnel_too_deep += 1;
            return None;
        };
        let key = FragKey {
            src,
            dst,
            id,
            proto,
        };
        let whole = table.insert(key, offset, more, body, cx.ts, cx.frag)?;
        let whole_len = u32::try_from(whole.len()).unwrap_or(u32::MAX);
        return upper(
            Layer {
                vlans,
                src,
                dst,
                proto,
                ip_len: header_len.saturating_add(whole_len),
                wire_payload_len: whole_len,
                depth,
            },
            whole,
            rest,
            cx,
        );
    }
    upper(
        Layer {
            vlans,
            src,
            dst,
            proto,
            ip_len,
            wire_payload_len,
            depth,
        },
        body,
        defrags,
        cx,
    )
}

fn payload_wire_len(captured_total: usize, captured_payload: usize, ip_len: u32) -> u32 {
    // Header bytes = captured total − captured payload (both cut at the same place).
    let hdr = captured_total.saturating_sub(captured_payload);
    ip_len.saturating_sub(u32::try_from(hdr).unwrap_or(u32::MAX))
}

struct Layer {
    vlans: Vlans,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ip_len: u32,
    wire_payload_len: u32,
    depth: u8,
}

/// The layer above IP: a tunnel to decapsulate, or the transport.
fn upper<'a>(
    l: Layer,
    body: &'a [u8],
    defrags: &'a mut [Defrag],
    cx: &mut Cx<'_>,
) -> Option<Decoded<'a>> {
    let tunnel = match l.proto {
        IPPROTO_IPIP => Some((L3::Ipv4(body), l.vlans)),
        IPPROTO_IPV6 => Some((L3::Ipv6(body), l.vlans)),
        IPPROTO_GRE => {
            let mut inner = Vlans::NONE;
            let (l3, via_ethernet) = link::gre(body, &mut inner, cx)?;
            Some((l3, if via_ethernet { inner } else { l.vlans }))
        }
        _ => None,
    };
    if let Some((l3, vlans)) = tunnel {
        if l.depth >= MAX_TUNNEL_DEPTH {
            cx.stats.tunnel_too_deep += 1;
            return None;
        }
        return decode_l3(l3, vlans, l.depth + 1, defrags, cx);
    }
    let transport = transport::parse(l.proto, l.src, l.dst, body, l.wire_payload_len, cx)?;
    if matches!(transport, Transport::Other) {
        cx.stats.other_ip_protocol += 1;
    }
    if let Transport::Udp(u) = transport
        && l.depth < MAX_TUNNEL_DEPTH
        && u.checksum != Checksum::Bad
    {
        let port = [u.dst_port, u.src_port]
            .into_iter()
            .find(|p| link::is_tunnel_port(*p));
        let mut inner_vlans = Vlans::NONE;
        if let Some(port) = port
            && let Some((l3, via_ethernet)) =
                link::udp_tunnel(port, u.payload, &mut inner_vlans, cx)
        {
            let outer = OuterUdp {
                vlans: l.vlans,
                src: l.src,
                dst: l.dst,
                src_port: u.src_port,
                dst_port: u.dst_port,
                ip_len: l.ip_len,
                payload_len: u.payload_len,
                checksum: u.checksum,
                tunnel_depth: l.depth,
            };
            let vlans = if via_ethernet { inner_vlans } else { l.vlans };
            return match decode_l3(l3, vlans, l.depth + 1, defrags, cx) {
                Some(mut inner) => {
                    // Nested tunnels: ours is outside those found further in.
                    inner.outer = [Some(outer), inner.outer[0]];
                    Some(inner)
                }
                // The tunnel's own datagram still counts when its content cannot be decoded.
                None => Some(outer.as_decoded()),
            };
        }
    }
    Some(Decoded {
        vlans: l.vlans,
        src: l.src,
        dst: l.dst,
        ip_proto: l.proto,
        ip_len: l.ip_len,
        transport,
        tunnel_depth: l.depth,
        outer: [None, None],
    })
}

/// RFC 791: the ones' complement sum over the header, checksum included, is 0xffff.
fn ipv4_checksum_ok(header: &[u8]) -> bool {
    transport::ones_complement_sum(0, header) == 0xffff
}
