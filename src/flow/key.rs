//! The flow key: the 5-tuple (plus the VLAN stack when configured), normalised so that both
//! directions of a conversation find the same entry.

use std::net::IpAddr;

use crate::decode::Vlans;

/// IANA protocol numbers used by the flow table.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
}

/// A normalised key: side `a` is the lower `(address, port)` unless the flow is one-way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub a: IpAddr,
    pub b: IpAddr,
    pub port_a: u16,
    pub port_b: u16,
    pub proto: u8,
    pub vlans: Vlans,
    /// One-way ICMP messages are keyed in their direction only (Zeek does the same).
    pub one_way: bool,
}

/// Hashes the key as one run of bytes: one call into the hasher per packet instead of one per
/// field and enum tag. (IPv4 and IPv4-mapped IPv6 addresses hash alike; they still compare unequal.)
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut b = [0u8; 42];
        let mut put = |at: usize, a: IpAddr| {
            let octets = match a {
                IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
                IpAddr::V6(v) => v.octets(),
            };
            if let Some(dst) = b.get_mut(at..at + 16) {
                dst.copy_from_slice(&octets);
            }
        };
        put(0, self.a);
        put(16, self.b);
        let [p0, p1] = self.port_a.to_be_bytes();
        let [p2, p3] = self.port_b.to_be_bytes();
        let ids = self.vlans.ids();
        let [v0, v1] = ids.first().copied().unwrap_or(0).to_be_bytes();
        if let Some(tail) = b.get_mut(32..42) {
            tail.copy_from_slice(&[
                p0,
                p1,
                p2,
                p3,
                self.proto,
                u8::from(self.one_way),
                v0,
                v1,
                self.vlans.depth(),
                u8::try_from(ids.len()).unwrap_or(0),
            ]);
        }
        state.write(&b);
    }
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is side `a`.
    pub fn new(
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        proto: u8,
        vlans: Vlans,
        one_way: bool,
    ) -> (FlowKey, bool) {
        let src_is_a = one_way || src <= dst;
        let (a, b) = if src_is_a { (src, dst) } else { (dst, src) };
        (
            FlowKey {
                a: a.0,
                b: b.0,
                port_a: a.1,
                port_b: b.1,
                proto,
                vlans,
                one_way,
            },
            src_is_a,
        )
    }
}

/// The "ports" an ICMP message gets (Zeek and Community ID agree): the type, and the type of
/// its counterpart for request/reply pairs, else the code. `true` when the message is one-way.
pub fn icmp_ports(v6: bool, ty: u8, code: u8) -> (u16, u16, bool) {
    let counterpart: Option<u16> = if v6 {
        match ty {
            128 => Some(129),
            129 => Some(128),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            130 => Some(131),
            131 => Some(130),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            _ => None,
        }
    } else {
        match ty {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            10 => Some(9),
            9 => Some(10),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    };
    match counterpart {
        Some(c) => (u16::from(ty), c, false),
        None => (u16::from(ty), u16::from(code), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn both_directions_share_a_key() {
        let x = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        let y = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let (k1, a1) = FlowKey::new((x, 1000), (y, 25), 6, Vlans::NONE, false);
        let (k2, a2) = FlowKey::new((y, 25), (x, 1000), 6, Vlans::NONE, false);
        assert_eq!(k1, k2);
        assert_ne!(a1, a2);
    }

    #[test]
    fn echo_request_and_reply_pair_but_errors_are_one_way() {
        assert_eq!(icmp_ports(false, 8, 0), (8, 0, false));
        assert_eq!(icmp_ports(false, 0, 0), (0, 8, false));
        assert_eq!(icmp_ports(false, 3, 3), (3, 3, true));
        assert_eq!(icmp_ports(true, 128, 0), (128, 129, false));
        assert_eq!(icmp_ports(true, 1, 4), (1, 4, true));
    }
}
