//! Endpoint-mapper and DCOM conversations built in code with a small NDR writer: one tower, two
//! towers, 0.0.0.0, ncacn_http and ncacn_np towers, a lookup answer, DCOM string bindings,
//! fragments, NDR64 without a bind, near misses, every cut, the caps and arbitrary bytes.

use proptest::prelude::*;

use super::*;
use crate::inspect::dcerpc::tests::{bind, bind_ack, pdu, request, response};
use crate::testkit::epm::{
    Nb, http_tower, lookup_request, lookup_response, map_request, map_response, np_tower,
    tcp_tower, tower,
};

const SVCCTL: Uuid = Uuid::from_u128(0x367abb81_9844_35f1_ad32_98f038001003);
const EMSMDB: Uuid = Uuid::from_u128(0xa4f1db00_ca47_1067_b31f_00dd010662da);
const NSPI: Uuid = Uuid::from_u128(0xf5cc5a18_4264_101a_8c59_08002b2f8426);

/// A DUALSTRINGARRAY's units: string bindings, then security bindings.
fn dsa_units(bindings: &[(u16, &str)], security: &[(u16, &str)]) -> (Vec<u16>, u16) {
    let mut u = Vec::new();
    for (tower, text) in bindings {
        u.push(*tower);
        u.extend(text.encode_utf16());
        u.push(0);
    }
    u.push(0);
    let sec = u16::try_from(u.len()).unwrap();
    for (authn, name) in security {
        u.push(*authn);
        u.push(0xffff);
        u.extend(name.encode_utf16());
        u.push(0);
    }
    u.push(0);
    (u, sec)
}

fn push_dsa(b: &mut Nb, bindings: &[(u16, &str)], security: &[(u16, &str)]) {
    let (u, sec) = dsa_units(bindings, security);
    let n = u16::try_from(u.len()).unwrap();
    b.u32(u32::from(n)).u16(n).u16(sec);
    for x in u {
        b.u16(x);
    }
}

/// ResolveOxid2's out parameters: the bindings (unique pointer), IPID, authn hint, COMVERSION,
/// status.
fn resolve_oxid2_response(bindings: &[(u16, &str)]) -> Vec<u8> {
    let mut b = Nb::new(false);
    b.u32(0x0002_0000);
    push_dsa(&mut b, bindings, &[(10, ""), (9, "")]);
    b.align(4).bytes(&[7; 16]).u32(2).u16(5).u16(7).u32(0);
    b.v
}

/// ServerAlive2's out parameters: COMVERSION, the bindings, reserved, status.
fn server_alive2_response(bindings: &[(u16, &str)]) -> Vec<u8> {
    let mut b = Nb::new(false);
    b.u16(5).u16(7).u32(0x0002_0000);
    push_dsa(&mut b, bindings, &[(10, "")]);
    b.u32(0).u32(0);
    b.v
}

fn input<'a>(c: &'a [u8], s: &'a [u8]) -> Input<'a> {
    Input {
        client: c,
        server: s,
        client_port: 50058,
        server_port: 135,
        ..Input::default()
    }
}

/// Client and server bytes.
type Conversation = (Vec<u8>, Vec<u8>);

/// Bind EPM, ept_map for `iface`, the answer with `towers`.
fn map_conversation(iface: Uuid, towers: &[Vec<u8>], status: u32) -> Conversation {
    (
        [
            bind(11, 1, &[(EPM, 3)], None, true),
            request(2, 0, 3, &map_request(iface, 4, false), None),
        ]
        .concat(),
        [
            bind_ack(12, 1, &[0], None, true),
            response(2, 0, &map_response(towers, false, status)),
        ]
        .concat(),
    )
}

fn oxid_conversation() -> Conversation {
    (
        [
            bind(11, 1, &[(OBJECT_EXPORTER, 0)], None, true),
            request(2, 0, 4, &[0; 24], None),
        ]
        .concat(),
        [
            bind_ack(12, 1, &[0], None, true),
            response(
                2,
                0,
                &resolve_oxid2_response(&[(7, "CAS01[6004]"), (7, "10.0.0.5[6004]")]),
            ),
        ]
        .concat(),
    )
}

fn lookup_conversation() -> Conversation {
    (
        [
            bind(11, 1, &[(EPM, 3)], None, true),
            request(5, 0, 2, &lookup_request(NSPI), None),
        ]
        .concat(),
        [
            bind_ack(12, 1, &[0], None, true),
            response(
                5,
                0,
                &lookup_response(&[
                    (
                        "MS Exchange Directory NSPI Proxy",
                        tcp_tower(NSPI, 56, 6004, [10, 0, 0, 5]),
                    ),
                    ("", np_tower(NSPI, "\\pipe\\lsass", "\\\\CAS01")),
                ]),
            ),
        ]
        .concat(),
    )
}

fn learned(c: &[u8], s: &[u8]) -> Learned {
    learn(&input(c, s)).expect("learned")
}

#[test]
fn one_tower_teaches_one_tcp_endpoint() {
    let (c, s) = map_conversation(EMSMDB, &[tcp_tower(EMSMDB, 4, 59500, [10, 0, 0, 5])], 0);
    let l = learned(&c, &s);
    assert_eq!(l.epm.maps, 1);
    assert_eq!(l.epm.answers, 1);
    assert_eq!(l.epm.malformed, 0);
    assert!(!l.epm.ndr64);
    let a = &l.epm.asked[0];
    assert_eq!(a.op, Op::EptMap);
    assert_eq!(
        a.interface,
        Some(IfId {
            uuid: EMSMDB,
            major: 4,
            minor: 0
        })
    );
    assert!(a.answered);
    assert_eq!(a.towers, 1);
    assert_eq!(a.status, None);
    assert_eq!(l.endpoints.len(), 1);
    let e = &l.endpoints[0];
    assert_eq!(
        e.interface.map(|i| (i.uuid, i.major, i.name())),
        Some((EMSMDB, 4, Some("emsmdb")))
    );
    assert_eq!(e.transport, Transport::Tcp);
    assert_eq!(e.port, 59500);
    assert_eq!(e.ip, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))));
    assert!(!e.dcom);
    assert_eq!(e.op, Op::EptMap);
    // The answer is the server's second PDU, after the bind_ack.
    let ack = bind_ack(12, 1, &[0], None, true).len();
    assert_eq!(
        e.at,
        At {
            pdu: 1,
            offset: u32::try_from(ack).unwrap()
        }
    );
}

#[test]
fn two_towers_teach_two_endpoints() {
    let (c, s) = map_conversation(
        NSPI,
        &[
            tcp_tower(NSPI, 56, 6004, [10, 0, 0, 5]),
            tcp_tower(NSPI, 56, 6004, [192, 168, 1, 5]),
        ],
        0,
    );
    let l = learned(&c, &s);
    assert_eq!(l.epm.asked[0].towers, 2);
    let ports: Vec<_> = l.endpoints.iter().map(|e| (e.port, e.ip)).collect();
    assert_eq!(
        ports,
        [
            (6004, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)))),
            (6004, Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 5))))
        ]
    );
}

#[test]
fn zero_address_means_the_answering_server() {
    let (c, s) = map_conversation(EMSMDB, &[tcp_tower(EMSMDB, 4, 49700, [0; 4])], 0);
    let l = learned(&c, &s);
    let e = &l.endpoints[0];
    assert_eq!(e.port, 49700);
    assert_eq!(e.ip, None);
    assert_eq!(e.host, None);
    // The detail shows what the tower said.
    assert_eq!(l.epm.towers[0].ip, Some(Ipv4Addr::UNSPECIFIED));
}

#[test]
fn ncacn_http_and_np_towers_are_not_tcp_ports() {
    let (c, s) = map_conversation(
        EMSMDB,
        &[
            http_tower(EMSMDB, 593, [10, 0, 0, 5]),
            np_tower(EMSMDB, "\\PIPE\\emsmdb", "\\\\CAS01"),
        ],
        0,
    );
    let l = learned(&c, &s);
    assert!(l.endpoints.is_empty());
    assert_eq!(l.epm.towers.len(), 2);
    let h = &l.epm.towers[0];
    assert_eq!((h.protseq, h.port), (Protseq::Http, Some(593)));
    let p = &l.epm.towers[1];
    assert_eq!(p.protseq, Protseq::NamedPipe);
    assert_eq!(p.port, None);
    assert_eq!(p.name.as_deref(), Some("\\PIPE\\emsmdb"));
}

#[test]
fn lrpc_and_udp_towers() {
    let lrpc = tower(EMSMDB, 4, 0, &[(0x0c, &[0, 0]), (0x10, b"LRPC-1234\0")]);
    let udp = tower(
        EMSMDB,
        4,
        0,
        &[
            (0x0a, &[0, 0]),
            (0x08, &[0xc0, 0x01]),
            (0x09, &[10, 0, 0, 5]),
        ],
    );
    let (c, s) = map_conversation(EMSMDB, &[lrpc, udp], 0);
    let l = learned(&c, &s);
    assert_eq!(l.epm.towers[0].protseq, Protseq::Lrpc);
    assert_eq!(l.epm.towers[0].name.as_deref(), Some("LRPC-1234"));
    assert_eq!(l.endpoints.len(), 1);
    assert_eq!(l.endpoints[0].transport, Transport::Udp);
    assert_eq!(l.endpoints[0].port, 0xc001);
}

#[test]
fn not_registered_answer_is_reported_with_the_asked_interface() {
    let (c, s) = map_conversation(SVCCTL, &[], 0x16c9_a0d6);
    let l = learned(&c, &s);
    assert!(l.endpoints.is_empty());
    let a = &l.epm.asked[0];
    assert_eq!(a.interface.map(|i| i.uuid), Some(SVCCTL));
    assert!(a.answered);
    assert_eq!(a.towers, 0);
    assert_eq!(a.status, Some(0x16c9_a0d6));
}

#[test]
fn unanswered_request_is_still_asked() {
    let (c, _) = map_conversation(SVCCTL, &[], 0);
    let l = learned(&c, &[]);
    assert_eq!(l.epm.maps, 1);
    assert!(!l.epm.asked[0].answered);
    assert_eq!(l.epm.asked[0].interface.map(|i| i.uuid), Some(SVCCTL));
}

#[test]
fn lookup_answer_gives_annotations_and_towers() {
    let (c, s) = lookup_conversation();
    let l = learned(&c, &s);
    assert_eq!(l.epm.lookups, 1);
    assert_eq!(l.epm.asked[0].op, Op::EptLookup);
    assert_eq!(l.epm.asked[0].interface.map(|i| i.uuid), Some(NSPI));
    assert_eq!(l.epm.towers.len(), 2);
    assert_eq!(
        l.epm.towers[0].annotation.as_deref(),
        Some("MS Exchange Directory NSPI Proxy")
    );
    assert_eq!(l.epm.towers[1].annotation, None);
    assert_eq!(l.epm.towers[1].protseq, Protseq::NamedPipe);
    assert_eq!(l.endpoints.len(), 1);
    assert_eq!(l.endpoints[0].op, Op::EptLookup);
    assert_eq!(l.endpoints[0].port, 6004);
}

#[test]
fn resolve_oxid2_with_two_string_bindings() {
    let (c, s) = oxid_conversation();
    let l = learned(&c, &s);
    assert_eq!(l.epm.dcom, 1);
    assert_eq!(l.epm.malformed, 0);
    assert_eq!(l.epm.bindings.len(), 2);
    assert_eq!(l.epm.bindings[0].host, "CAS01");
    assert_eq!(l.epm.bindings[0].port, Some(6004));
    assert_eq!(l.epm.bindings[0].op, Op::ResolveOxid2);
    let e: Vec<_> = l
        .endpoints
        .iter()
        .map(|e| (e.port, e.ip, e.host.as_deref(), e.dcom, e.interface))
        .collect();
    assert_eq!(
        e,
        [
            (6004, None, Some("CAS01"), true, None),
            (
                6004,
                Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))),
                Some("10.0.0.5"),
                true,
                None
            )
        ]
    );
}

#[test]
fn server_alive2_bindings_without_ports_teach_no_endpoint() {
    let c = [
        bind(11, 1, &[(OBJECT_EXPORTER, 0)], None, true),
        request(2, 0, 5, &[], None),
    ]
    .concat();
    let s = [
        bind_ack(12, 1, &[0], None, true),
        response(
            2,
            0,
            &server_alive2_response(&[(7, "CAS01"), (7, "fe80::1"), (0x1f, "CAS01[593]")]),
        ),
    ]
    .concat();
    let l = learned(&c, &s);
    assert_eq!(l.epm.bindings.len(), 3);
    assert!(l.epm.bindings.iter().all(|b| b.op == Op::ServerAlive2));
    assert_eq!(l.epm.bindings[2].protseq, Protseq::Http);
    assert!(l.endpoints.is_empty());
}

#[test]
fn fragmented_answer_is_reassembled() {
    let stub = map_response(&[tcp_tower(EMSMDB, 4, 59500, [10, 0, 0, 5])], false, 0);
    let (a, b) = stub.split_at(30);
    let frag = |flags: u8, part: &[u8]| {
        let mut body = u32::try_from(stub.len()).unwrap().to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.extend_from_slice(part);
        pdu(2, flags, 2, &body, None, true)
    };
    let (c, _) = map_conversation(EMSMDB, &[], 0);
    let s = [bind_ack(12, 1, &[0], None, true), frag(1, a), frag(2, b)].concat();
    let l = learned(&c, &s);
    assert_eq!(l.endpoints.len(), 1);
    assert_eq!(l.endpoints[0].at.pdu, 2);
}

#[test]
fn without_a_bind_the_answer_decodes_by_shape_in_ndr_and_ndr64() {
    for wide in [false, true] {
        let c = request(2, 1, 3, &map_request(SVCCTL, 2, wide), None);
        let s = response(
            2,
            1,
            &map_response(&[tcp_tower(SVCCTL, 2, 49683, [0; 4])], wide, 0),
        );
        let mut i = input(&c, &s);
        i.midstream = true;
        let l = learn(&i).expect("learned");
        assert_eq!(l.epm.ndr64, wide);
        assert_eq!(l.endpoints.len(), 1, "wide {wide}");
        assert_eq!(l.endpoints[0].port, 49683);
        assert_eq!(l.epm.asked[0].interface.map(|i| i.uuid), Some(SVCCTL));
        // Server side only: the answer alone.
        let l = learn(&input(&[], &s));
        assert!(
            l.is_none(),
            "no context and no request: nothing says it is EPM"
        );
    }
}

#[test]
fn ncacn_http_prefix_is_skipped_and_offsets_count_it() {
    let (c, s) = map_conversation(EMSMDB, &[tcp_tower(EMSMDB, 4, 59500, [10, 0, 0, 5])], 0);
    let c = [NCACN_HTTP, &c].concat();
    let s = [NCACN_HTTP, &s].concat();
    let l = learned(&c, &s);
    let ack = bind_ack(12, 1, &[0], None, true).len() + NCACN_HTTP.len();
    assert_eq!(l.endpoints[0].at.offset, u32::try_from(ack).unwrap());
}

#[test]
fn near_misses_teach_nothing() {
    // Not DCE/RPC.
    assert!(
        learn(&input(
            b"GET / HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n"
        ))
        .is_none()
    );
    // UDP.
    let (c, s) = map_conversation(EMSMDB, &[tcp_tower(EMSMDB, 4, 59500, [10, 0, 0, 5])], 0);
    let mut i = input(&c, &s);
    i.udp = true;
    assert!(learn(&i).is_none());
    // Another interface's opnum 3 with a tower-shaped answer.
    let c2 = [
        bind(11, 1, &[(SVCCTL, 2)], None, true),
        request(2, 0, 3, &map_request(EMSMDB, 4, false), None),
    ]
    .concat();
    assert!(learn(&input(&c2, &s)).is_none());
    // EPM, other opnum (ept_inq_object).
    let c3 = [
        bind(11, 1, &[(EPM, 3)], None, true),
        request(2, 0, 5, &[0; 8], None),
    ]
    .concat();
    assert!(learn(&input(&c3, &s)).is_none());
    // A DCOM answer whose DUALSTRINGARRAY lacks the terminators, and one with a control char.
    let mut bad = resolve_oxid2_response(&[(7, "CAS01[6004]")]);
    let at = 12 + 2 * "CAS01[6004]".len() + 2; // the first NUL after the string
    bad[at] = b'x';
    let (c4, _) = oxid_conversation();
    let s4 = [bind_ack(12, 1, &[0], None, true), response(2, 0, &bad)].concat();
    let l = learned(&c4, &s4);
    assert!(l.endpoints.is_empty());
    assert_eq!(l.epm.malformed, 1);
    let s5 = [
        bind_ack(12, 1, &[0], None, true),
        response(2, 0, &resolve_oxid2_response(&[(7, "CAS\u{1}[6004]")])),
    ]
    .concat();
    assert!(learned(&c4, &s5).endpoints.is_empty());
    // A failed DCOM call (an HRESULT, no bindings) is not malformed.
    let s6 = [
        bind_ack(12, 1, &[0], None, true),
        response(2, 0, &[0, 0, 0, 0, 5, 0, 7, 0x80]),
    ]
    .concat();
    let l = learned(&c4, &s6);
    assert_eq!(l.epm.malformed, 0);
    assert!(l.epm.bindings.is_empty());
}

#[test]
fn hostile_ndr_is_counted_not_followed() {
    let (c, _) = map_conversation(EMSMDB, &[], 0);
    // Absurd array count.
    let mut b = Nb::new(false);
    b.bytes(&[0; 20])
        .u32(0x4000_0000)
        .u32(0x4000_0000)
        .u32(0)
        .u32(0x4000_0000)
        .u32(1);
    // Tower longer than the stub.
    let mut t = Nb::new(false);
    t.bytes(&[0; 20])
        .u32(1)
        .u32(4)
        .u32(0)
        .u32(1)
        .u32(3)
        .u32(0xffff)
        .u32(0xffff)
        .bytes(&[5, 0]);
    // Conformance and tower_length that disagree.
    let mut d = Nb::new(false);
    d.bytes(&[0; 20])
        .u32(1)
        .u32(4)
        .u32(0)
        .u32(1)
        .u32(3)
        .u32(8)
        .u32(9)
        .bytes(&[0; 12])
        .u32(0);
    // A floor count of zero and floors that run past the tower.
    let zero = map_response(&[vec![0, 0]], false, 0);
    let past = map_response(&[vec![5, 0, 19, 0, 0x0d]], false, 0);
    for stub in [b.v, t.v, d.v, zero, past] {
        let s = [bind_ack(12, 1, &[0], None, true), response(2, 0, &stub)].concat();
        let l = learned(&c, &s);
        assert!(l.endpoints.is_empty());
        assert_eq!(l.epm.malformed, 1, "{stub:?}");
    }
}

#[test]
fn caps_hold_endpoints_and_towers() {
    let towers: Vec<_> = (0..100u16)
        .map(|i| tcp_tower(EMSMDB, 4, 50000 + i, [10, 0, 0, 5]))
        .collect();
    let (c, s) = map_conversation(EMSMDB, &towers, 0);
    let l = learned(&c, &s);
    assert_eq!(l.endpoints.len(), MAX_ENDPOINTS);
    assert_eq!(l.endpoints_dropped, 36);
    assert_eq!(l.epm.towers.len(), MAX_TOWERS);
    assert_eq!(l.epm.towers_more, 36);
    assert_eq!(l.epm.asked[0].towers, 100);
}

/// Every cut of either direction: no panic, never more than the whole conversation teaches,
/// and the whole of it again once the server side is complete.
#[test]
fn every_truncation_is_handled() {
    for (c, s) in [
        map_conversation(EMSMDB, &[tcp_tower(EMSMDB, 4, 59500, [10, 0, 0, 5])], 0),
        lookup_conversation(),
        oxid_conversation(),
    ] {
        let full = learned(&c, &s);
        for n in 0..=s.len() {
            let mut i = input(&c, &s[..n]);
            i.server_cut = n < s.len();
            let l = learn(&i);
            let got = l.as_ref().map_or(0, |l| l.endpoints.len());
            assert!(got <= full.endpoints.len(), "server cut at {n}");
            if let Some(l) = &l {
                assert!(
                    l.endpoints.iter().all(|e| full.endpoints.contains(e)),
                    "cut {n}"
                );
            }
            if n == s.len() {
                assert_eq!(got, full.endpoints.len());
            }
        }
        for n in 0..=c.len() {
            let mut i = input(&c[..n], &s);
            i.client_cut = n < c.len();
            let _ = learn(&i).map(|l| serde_json::to_string(&l.epm).unwrap());
        }
    }
}

#[test]
fn detail_serialises_compactly() {
    let (c, s) = map_conversation(EMSMDB, &[tcp_tower(EMSMDB, 4, 59500, [0; 4])], 0);
    let l = learned(&c, &s);
    assert_eq!(
        serde_json::to_string(&l.epm).unwrap(),
        concat!(
            r#"{"maps":1,"answers":1,"asked":[{"op":"ept_map","interface":{"uuid":"#,
            r#""a4f1db00-ca47-1067-b31f-00dd010662da","version":"4.0","endpoint":"emsmdb"},"#,
            r#""answered":true,"towers":1}],"towers":[{"op":"ept_map","interface":{"uuid":"#,
            r#""a4f1db00-ca47-1067-b31f-00dd010662da","version":"4.0","endpoint":"emsmdb"},"#,
            r#""protseq":"ncacn_ip_tcp","port":59500,"ip":"0.0.0.0"}]}"#
        )
    );
    let (c, s) = oxid_conversation();
    let j = serde_json::to_string(&learned(&c, &s).epm).unwrap();
    assert!(j.contains(r#"{"op":"ResolveOxid2","tower_id":7,"protseq":"ncacn_ip_tcp","host":"CAS01","port":6004}"#), "{j}");
    assert_eq!(Protseq::NamedPipe.to_string(), "ncacn_np");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(c in proptest::collection::vec(any::<u8>(), 0..600),
                                   s in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Some(l) = learn(&input(&c, &s)) {
            prop_assert!(l.endpoints.len() <= MAX_ENDPOINTS);
            prop_assert!(l.epm.towers.len() <= MAX_TOWERS);
            prop_assert!(l.epm.bindings.len() <= MAX_BINDINGS);
            prop_assert!(l.epm.asked.len() <= MAX_ASKED);
            let _ = serde_json::to_string(&l.epm);
        }
    }

    #[test]
    fn arbitrary_stubs_behind_good_headers_stay_bounded(
        stub in proptest::collection::vec(any::<u8>(), 0..1500),
        opnum in 0u16..6,
        iface in 0usize..3,
    ) {
        let u = [EPM, OBJECT_EXPORTER, SYSTEM_ACTIVATOR][iface];
        let c = [bind(11, 1, &[(u, 3)], None, true), request(2, 0, opnum, &stub, None)].concat();
        let s = [bind_ack(12, 1, &[0], None, true), response(2, 0, &stub)].concat();
        if let Some(l) = learn(&input(&c, &s)) {
            prop_assert!(l.endpoints.len() <= MAX_ENDPOINTS);
            let _ = serde_json::to_string(&l.epm);
        }
        // And as the tail of a real answer.
        let mut answer = map_response(&[tcp_tower(EMSMDB, 4, 1, [0; 4])], false, 0);
        answer.extend_from_slice(&stub);
        let s = [bind_ack(12, 1, &[0], None, true), response(2, 0, &answer)].concat();
        let _ = learn(&input(&c, &s));
    }
}

/// Writes the seed corpus of the `inspect_epm` fuzz target (`[flags, len_hi, len_lo, client…,
/// server…]`, see `testkit::fuzzing::inspect_epm`). Run with `--ignored` from the repository
/// root.
#[test]
#[ignore = "writes fuzz/corpus/inspect_epm"]
fn write_fuzz_seeds() {
    let wide = (
        request(2, 1, 3, &map_request(SVCCTL, 2, true), None),
        response(
            2,
            1,
            &map_response(&[tcp_tower(SVCCTL, 2, 49683, [0; 4])], true, 0),
        ),
    );
    let seeds: Vec<(&str, Conversation)> = vec![
        (
            "map-one-tower",
            map_conversation(EMSMDB, &[tcp_tower(EMSMDB, 4, 59500, [10, 0, 0, 5])], 0),
        ),
        (
            "map-http-np",
            map_conversation(
                EMSMDB,
                &[
                    http_tower(EMSMDB, 593, [10, 0, 0, 5]),
                    np_tower(EMSMDB, "\\PIPE\\x", "\\\\H"),
                ],
                0,
            ),
        ),
        (
            "map-not-registered",
            map_conversation(SVCCTL, &[], 0x16c9_a0d6),
        ),
        ("lookup", lookup_conversation()),
        ("resolve-oxid2", oxid_conversation()),
        ("ndr64-midstream", wide),
    ];
    let seeds: Vec<_> = seeds
        .into_iter()
        .inspect(|(name, (c, _))| {
            assert!(
                u16::try_from(c.len()).is_ok(),
                "{name}: client side too long for a seed"
            );
        })
        .map(|(name, (c, s))| (name, 0, c, s))
        .collect();
    crate::testkit::fuzzing::write_seeds("inspect_epm", &seeds).unwrap();
}
