//! Community ID v1 (corelight/community-id-spec): a flow hash other tools (Zeek, Suricata,
//! Arkime) compute the same way, so a SIEM can join exaudit's flows with theirs.
//!
//! SHA-1 over: seed (u16), the ordered source and destination addresses, the IP protocol, a zero
//! byte, and, for TCP, UDP, SCTP, ICMP and ICMPv6, the ordered ports (ICMP type and code mapped
//! as in `flow::icmp_ports`). The result is `1:` and the digest in base64.

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::flow::{icmp_ports, proto};

/// The flow's Community ID. `icmp` carries the originator's ICMP type and code for ICMP flows.
pub fn community_id(
    seed: u16,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    ip_proto: u8,
    icmp: Option<(u8, u8)>,
) -> String {
    let b = community_id_bytes(seed, src, dst, ip_proto, icmp);
    // Only "1:" and base64 characters are written.
    String::from_utf8_lossy(&b).into_owned()
}

/// The Community ID as its 30 ASCII bytes, without allocating (the JSON writer's path).
pub fn community_id_bytes(
    seed: u16,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    ip_proto: u8,
    icmp: Option<(u8, u8)>,
) -> [u8; 30] {
    let (mut s, mut d) = (src, dst);
    let mut one_way = false;
    if let Some((ty, code)) = icmp {
        let (sp, dp, ow) = icmp_ports(ip_proto == proto::ICMPV6, ty, code);
        s.1 = sp;
        d.1 = dp;
        one_way = ow;
    }
    let has_ports = matches!(
        ip_proto,
        proto::TCP | proto::UDP | proto::SCTP | proto::ICMP | proto::ICMPV6
    );
    let ordered = one_way || s.0 < d.0 || (s.0 == d.0 && (!has_ports || s.1 <= d.1));
    if !ordered {
        std::mem::swap(&mut s, &mut d);
    }
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    for a in [s.0, d.0] {
        match a {
            IpAddr::V4(v) => h.update(v.octets()),
            IpAddr::V6(v) => h.update(v.octets()),
        }
    }
    h.update([ip_proto, 0]);
    if has_ports {
        h.update(s.1.to_be_bytes());
        h.update(d.1.to_be_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; 30];
    out[0] = b'1';
    out[1] = b':';
    // 20 bytes of SHA-1 are 28 characters of padded base64: exactly the space left.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut out[2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    type Case = (
        u16,
        &'static str,
        u16,
        &'static str,
        u16,
        u8,
        Option<(u8, u8)>,
        &'static str,
    );

    /// Vectors from the specification's baseline (baseline/baseline_deflt.json, baseline_seed1.json
    /// and the README's tables of raw ICMP type/code inputs).
    #[test]
    fn specification_test_vectors() {
        let cases: &[Case] = &[
            (
                0,
                "128.232.110.120",
                34855,
                "66.35.250.204",
                80,
                6,
                None,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                0,
                "66.35.250.204",
                80,
                "128.232.110.120",
                34855,
                6,
                None,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                0,
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                63943,
                "2607:f8b0:400c:c03::1a",
                25,
                6,
                None,
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                0,
                "192.168.1.52",
                54585,
                "8.8.8.8",
                53,
                17,
                None,
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            (
                0,
                "192.168.170.8",
                7,
                "192.168.170.56",
                7,
                132,
                None,
                "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
            ),
            (
                0,
                "192.168.0.89",
                0,
                "192.168.0.1",
                0,
                1,
                Some((8, 0)),
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                0,
                "192.168.0.1",
                0,
                "192.168.0.89",
                0,
                1,
                Some((0, 0)),
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                0,
                "192.168.0.1",
                0,
                "192.168.0.89",
                0,
                1,
                Some((0, 20)),
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                0,
                "10.0.0.1",
                0,
                "10.0.0.2",
                0,
                1,
                Some((11, 0)),
                "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
            ),
            (
                0,
                "fe80::200:86ff:fe05:80da",
                0,
                "fe80::260:97ff:fe07:69ea",
                0,
                58,
                Some((135, 0)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                0,
                "fe80::260:97ff:fe07:69ea",
                0,
                "fe80::200:86ff:fe05:80da",
                0,
                58,
                Some((136, 0)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                0,
                "3ffe:501:410:0:2c0:dfff:fe47:33e",
                0,
                "3ffe:507:0:1:200:86ff:fe05:80da",
                0,
                58,
                Some((1, 4)),
                "1:hLZd0XGWojozrvxqE0dWB1iM6R0=",
            ),
            (
                0,
                "10.1.12.1",
                0,
                "10.1.12.2",
                0,
                46,
                None,
                "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            ),
            (
                0,
                "192.168.0.89",
                0,
                "192.168.0.1",
                0,
                1,
                Some((20, 0)),
                "1:3o2RFccXzUgjl7zDpqmY7yJi8rI=",
            ),
            (
                0,
                "192.168.0.89",
                0,
                "192.168.0.1",
                0,
                1,
                Some((20, 1)),
                "1:tz/fHIDUHs19NkixVVoOZywde+I=",
            ),
            (
                0,
                "3ffe:507:0:1:260:97ff:fe07:69ea",
                0,
                "3ffe:507:0:1:200:86ff:fe05:80da",
                0,
                58,
                Some((3, 0)),
                "1:NdobDX8PQNJbAyfkWxhtL2Pqp5w=",
            ),
            (
                0,
                "1.2.3.4",
                1122,
                "5.6.7.8",
                3344,
                6,
                None,
                "1:wCb3OG7yAFWelaUydu0D+125CLM=",
            ),
            (
                1,
                "1.2.3.4",
                1122,
                "5.6.7.8",
                3344,
                6,
                None,
                "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=",
            ),
            (
                1,
                "128.232.110.120",
                34855,
                "66.35.250.204",
                80,
                6,
                None,
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                1,
                "192.168.0.89",
                0,
                "192.168.0.1",
                0,
                1,
                Some((8, 0)),
                "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
            ),
            (
                1,
                "10.1.12.1",
                0,
                "10.1.12.2",
                0,
                46,
                None,
                "1:rYir8gphR31noO9iDRQmF/BteEI=",
            ),
        ];
        for &(seed, s, sp, d, dp, p, icmp, want) in cases {
            assert_eq!(
                community_id(seed, (ip(s), sp), (ip(d), dp), p, icmp),
                want,
                "{s} {d} {p}"
            );
        }
    }
}
