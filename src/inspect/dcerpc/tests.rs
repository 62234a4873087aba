//! Conversations built byte by byte: every fact, mechanism and protection the DCE/RPC inspector
//! sets, a near miss for each, every truncation of a good conversation, and arbitrary bytes.

use proptest::prelude::*;

use super::*;
use crate::inspect::{Detail, MAX_AUTH};

const EPM: Uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);
const SVCCTL: Uuid = Uuid::from_u128(0x367abb81_9844_35f1_ad32_98f038001003);
const DRSUAPI: Uuid = Uuid::from_u128(0xe3514235_4b06_11d1_ab04_00c04fc2dcd2);
const EMSMDB: Uuid = Uuid::from_u128(0xa4f1db00_ca47_1067_b31f_00dd010662da);

/// Kerberos 5 and SPNEGO object identifiers, DER-encoded.
pub(crate) const OID_KRB5: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
];
pub(crate) const OID_SPNEGO: &[u8] = &[0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

fn put16(v: &mut Vec<u8>, n: u16, le: bool) {
    v.extend_from_slice(&if le { n.to_le_bytes() } else { n.to_be_bytes() });
}

fn put32(v: &mut Vec<u8>, n: u32, le: bool) {
    v.extend_from_slice(&if le { n.to_le_bytes() } else { n.to_be_bytes() });
}

fn uuid_wire(u: Uuid, le: bool) -> Vec<u8> {
    let b = u.0;
    let mut v = Vec::new();
    put32(&mut v, u32::from_be_bytes(b[0..4].try_into().unwrap()), le);
    put16(&mut v, u16::from_be_bytes([b[4], b[5]]), le);
    put16(&mut v, u16::from_be_bytes([b[6], b[7]]), le);
    v.extend_from_slice(&b[8..16]);
    v
}

fn syntax(u: Uuid, major: u16, minor: u16, le: bool) -> Vec<u8> {
    let mut v = uuid_wire(u, le);
    put32(&mut v, u32::from(major) | (u32::from(minor) << 16), le);
    v
}

/// One PDU: header, body, padding to 4 and a sec_trailer with `auth` when given.
pub(crate) fn pdu(
    ptype: u8,
    flags: u8,
    call_id: u32,
    body: &[u8],
    auth: Option<(u8, u8, &[u8])>,
    le: bool,
) -> Vec<u8> {
    let mut b = body.to_vec();
    let mut trailer = Vec::new();
    if let Some((ty, level, value)) = auth {
        let pad = (4 - (HDR_LEN + b.len()) % 4) % 4;
        b.extend(std::iter::repeat_n(0u8, pad));
        trailer.extend_from_slice(&[ty, level, u8::try_from(pad).unwrap(), 0]);
        put32(&mut trailer, 0x0001_0000, le);
        trailer.extend_from_slice(value);
    }
    let auth_len = auth.map_or(0, |(_, _, v)| v.len());
    let frag = HDR_LEN + b.len() + trailer.len();
    let mut v = vec![5, 0, ptype, flags, if le { 0x10 } else { 0 }, 0, 0, 0];
    put16(&mut v, u16::try_from(frag).unwrap(), le);
    put16(&mut v, u16::try_from(auth_len).unwrap(), le);
    put32(&mut v, call_id, le);
    v.extend_from_slice(&b);
    v.extend_from_slice(&trailer);
    v
}

/// A bind (or alter_context, ptype 14) offering `ifaces` with NDR, contexts numbered from 0.
pub(crate) fn bind(
    ptype: u8,
    call_id: u32,
    ifaces: &[(Uuid, u16)],
    auth: Option<(u8, u8, &[u8])>,
    le: bool,
) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, 5840, le);
    put16(&mut b, 5840, le);
    put32(&mut b, 0, le);
    b.extend_from_slice(&[u8::try_from(ifaces.len()).unwrap(), 0, 0, 0]);
    for (i, (u, major)) in ifaces.iter().enumerate() {
        put16(&mut b, u16::try_from(i).unwrap(), le);
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&syntax(*u, *major, 0, le));
        b.extend_from_slice(&syntax(NDR, 2, 0, le));
    }
    pdu(ptype, 0x03, call_id, &b, auth, le)
}

/// A bind_ack (or alter_context_resp, ptype 15) with one result per entry (0 accepts).
pub(crate) fn bind_ack(
    ptype: u8,
    call_id: u32,
    results: &[u16],
    auth: Option<(u8, u8, &[u8])>,
    le: bool,
) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, 5840, le);
    put16(&mut b, 5840, le);
    put32(&mut b, 0x1234, le);
    let addr = b"49683\0";
    put16(&mut b, u16::try_from(addr.len()).unwrap(), le);
    b.extend_from_slice(addr);
    while (HDR_LEN + b.len()) % 4 != 0 {
        b.push(0);
    }
    b.extend_from_slice(&[u8::try_from(results.len()).unwrap(), 0, 0, 0]);
    for r in results {
        put16(&mut b, *r, le);
        put16(&mut b, if *r == 0 { 0 } else { 2 }, le);
        b.extend_from_slice(&syntax(if *r == 0 { NDR } else { Uuid([0; 16]) }, 2, 0, le));
    }
    pdu(ptype, 0x03, call_id, &b, auth, le)
}

pub(crate) fn request(
    call_id: u32,
    ctx: u16,
    opnum: u16,
    stub: &[u8],
    auth: Option<(u8, u8, &[u8])>,
) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, u32::try_from(stub.len()).unwrap(), true);
    put16(&mut b, ctx, true);
    put16(&mut b, opnum, true);
    b.extend_from_slice(stub);
    pdu(0, 0x03, call_id, &b, auth, true)
}

pub(crate) fn response(call_id: u32, ctx: u16, stub: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, u32::try_from(stub.len()).unwrap(), true);
    put16(&mut b, ctx, true);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(stub);
    pdu(2, 0x03, call_id, &b, None, true)
}

fn fault(call_id: u32, status: u32) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, 0, true);
    put16(&mut b, 0, true);
    b.extend_from_slice(&[0, 0]);
    put32(&mut b, status, true);
    put32(&mut b, 0, true);
    pdu(3, 0x03, call_id, &b, None, true)
}

/// NTLM NEGOTIATE (MS-NLMP 2.2.1.1), flags only.
pub(crate) fn ntlm_negotiate() -> Vec<u8> {
    crate::testkit::ntlm::negotiate()
}

/// NTLM CHALLENGE (MS-NLMP 2.2.1.2) naming `domain`.
pub(crate) fn ntlm_challenge(domain: &str) -> Vec<u8> {
    crate::testkit::ntlm::challenge(domain, &[0x11; 8])
}

/// NTLM AUTHENTICATE (MS-NLMP 2.2.1.3) from WS01 with an NT response of `nt_len` bytes of 0x5a.
pub(crate) fn ntlm_authenticate(nt_len: usize, domain: &str, user: &str) -> Vec<u8> {
    crate::testkit::ntlm::authenticate(&vec![0x5a; nt_len], domain, user, "WS01")
}

/// A GSS-API token naming Kerberos, then a stand-in AP-REQ.
pub(crate) fn kerberos_token() -> Vec<u8> {
    let mut t = vec![0x60, 0x30];
    t.extend_from_slice(OID_KRB5);
    t.extend_from_slice(&[0x01, 0x00, 0x6e, 0x20]);
    t.extend_from_slice(&[0x77; 32]);
    t
}

/// The SPNEGO negTokenInit wrapping `inner`.
pub(crate) fn spnego(inner: &[u8]) -> Vec<u8> {
    let mut t = vec![0x60, 0x82, 0x01, 0x00];
    t.extend_from_slice(OID_SPNEGO);
    t.extend_from_slice(&[0xa0, 0x82, 0x00, 0xf0]);
    t.extend_from_slice(inner);
    t
}

fn run(client: &[u8], server: &[u8]) -> (bool, Evidence) {
    let mut ev = Evidence::default();
    let input = Input {
        client,
        server,
        ..Input::default()
    };
    let mine = inspect(&input, &mut ev);
    (mine, ev)
}

fn detail(ev: &Evidence) -> &DceRpc {
    match &ev.detail {
        Detail::DceRpc(d) => d,
        other => panic!("no DCE/RPC detail: {other:?}"),
    }
}

/// The endpoint mapper on 135: bind without auth, ept_map, its answer.
pub(crate) fn epm_conversation() -> (Vec<u8>, Vec<u8>) {
    let client = [
        bind(11, 1, &[(EPM, 3)], None, true),
        request(2, 0, 3, &[0u8; 40], None),
    ]
    .concat();
    let server = [
        bind_ack(12, 1, &[0], None, true),
        response(2, 0, &[0u8; 60]),
    ]
    .concat();
    (client, server)
}

/// SVCCTL at packet privacy with NTLM: bind, bind_ack with the challenge, AUTH3, four calls.
pub(crate) fn svcctl_privacy(nt_len: usize) -> (Vec<u8>, Vec<u8>) {
    let neg = ntlm_negotiate();
    let chal = ntlm_challenge("3B");
    let auth = ntlm_authenticate(nt_len, "3B", "Backdoor");
    let sig = [
        0x01u8, 0, 0, 0, 0x99, 0x99, 0x99, 0x99, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let client = [
        bind(11, 1, &[(SVCCTL, 2)], Some((10, 6, &neg)), true),
        pdu(16, 0x03, 1, &[0, 0, 0, 0], Some((10, 6, &auth)), true),
        request(2, 0, 27, &[0xee; 32], Some((10, 6, &sig))),
        request(3, 0, 24, &[0xee; 64], Some((10, 6, &sig))),
        request(4, 0, 31, &[0xee; 16], Some((10, 6, &sig))),
        request(5, 0, 0, &[0xee; 20], Some((10, 6, &sig))),
    ]
    .concat();
    let server = [
        bind_ack(12, 1, &[0], Some((10, 6, &chal)), true),
        response(2, 0, &[0xdd; 24]),
        response(3, 0, &[0xdd; 24]),
    ]
    .concat();
    (client, server)
}

#[test]
fn epm_bind_without_auth_is_clear_and_anonymous() {
    let (c, s) = epm_conversation();
    let (mine, ev) = run(&c, &s);
    assert!(mine);
    assert_eq!(ev.service, Some(Service::DceRpc));
    assert_eq!(ev.protection, Protection::RpcClear);
    assert!(ev.facts.has(Fact::RpcWithoutPrivacy));
    assert!(ev.facts.has(Fact::AnonymousAccess));
    assert!(!ev.facts.has(Fact::Malformed));
    assert_eq!(ev.auth.len(), 1);
    assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
    assert_eq!(ev.auth[0].outcome, Outcome::Success);
    let d = detail(&ev);
    assert_eq!(d.contexts.len(), 1);
    assert_eq!(d.contexts[0].endpoint, Some("epmapper"));
    assert_eq!(d.contexts[0].version, (3, 0));
    assert_eq!(d.contexts[0].result, ContextResult::Accepted);
    assert_eq!(d.contexts[0].transfer, Some(Transfer::Ndr));
    assert_eq!(d.auth_type, None);
    assert_eq!(d.operations.len(), 1);
    assert_eq!(d.operations[0].operation, Some("ept_map"));
    assert_eq!(d.operations[0].count, 1);
    assert_eq!((d.binds, d.requests, d.responses), (1, 1, 1));
    assert_eq!(d.sec_addr.as_deref(), Some("49683"));
}

#[test]
fn ntlm_at_packet_privacy_is_encrypted_and_names_the_user() {
    let (c, s) = svcctl_privacy(0x9c);
    let (_, ev) = run(&c, &s);
    assert_eq!(ev.protection, Protection::RpcPrivacy);
    assert!(!ev.facts.has(Fact::RpcWithoutPrivacy));
    assert!(!ev.facts.has(Fact::NtlmV1));
    assert!(!ev.facts.has(Fact::AnonymousAccess));
    assert_eq!(ev.auth.len(), 1);
    let a = &ev.auth[0];
    assert_eq!(a.mechanism, Mechanism::Ntlm);
    assert_eq!(a.user.as_deref(), Some("Backdoor"));
    assert_eq!(a.domain.as_deref(), Some("3B"));
    assert_eq!(a.outcome, Outcome::Success);
    assert!(!a.clear_credentials);
    let d = detail(&ev);
    assert_eq!(d.auth_type, Some(AuthType::Ntlm));
    assert_eq!(d.auth_level, Some(AuthLevel::Privacy));
    let names: Vec<_> = d.operations.iter().map(|o| o.operation).collect();
    assert_eq!(
        names,
        [
            Some("ROpenSCManagerA"),
            Some("RCreateServiceA"),
            Some("RStartServiceA"),
            Some("RCloseServiceHandle")
        ]
    );
    assert!(d.operations.iter().all(|o| o.endpoint == Some("svcctl")));
}

#[test]
fn ntlm_v1_response_in_auth3_is_a_fact() {
    let (c, s) = svcctl_privacy(24);
    let (_, ev) = run(&c, &s);
    assert!(ev.facts.has(Fact::NtlmV1));
    // Near miss: the same exchange with an NTLMv2 response.
    let (c, s) = svcctl_privacy(70);
    assert!(!run(&c, &s).1.facts.has(Fact::NtlmV1));
}

#[test]
fn anonymous_ntlm_is_anonymous() {
    let anon = ntlm_authenticate(0, "", "");
    let client = [
        bind(
            11,
            1,
            &[(SVCCTL, 2)],
            Some((10, 2, &ntlm_negotiate())),
            true,
        ),
        pdu(16, 0x03, 1, &[0; 4], Some((10, 2, &anon)), true),
    ]
    .concat();
    let (_, ev) = run(&client, &[]);
    assert!(ev.facts.has(Fact::AnonymousAccess));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
    assert_eq!(ev.protection, Protection::RpcClear);
}

#[test]
fn integrity_level_is_signed_not_sealed() {
    let token = spnego(&ntlm_negotiate());
    let client = bind(11, 1, &[(DRSUAPI, 4)], Some((9, 5, &token)), true);
    let (_, ev) = run(&client, &[]);
    assert_eq!(ev.protection, Protection::RpcIntegrity);
    assert!(ev.facts.has(Fact::RpcWithoutPrivacy));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
    assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
    assert_eq!(detail(&ev).auth_type, Some(AuthType::Spnego));
}

#[test]
fn kerberos_at_connect_level_is_clear() {
    let token = spnego(&kerberos_token());
    let client = [
        bind(11, 2, &[(EMSMDB, 4096)], Some((9, 2, &token)), true),
        request(3, 0, 10, &[0; 12], None),
    ]
    .concat();
    let server = [bind_ack(12, 2, &[0], None, true), response(3, 0, &[0; 8])].concat();
    let (_, ev) = run(&client, &server);
    assert_eq!(ev.protection, Protection::RpcClear);
    assert!(ev.facts.has(Fact::RpcWithoutPrivacy));
    assert!(!ev.facts.has(Fact::AnonymousAccess));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Kerberos);
    assert_eq!(ev.auth[0].outcome, Outcome::Success);
    let d = detail(&ev);
    assert_eq!(d.auth_level, Some(AuthLevel::Connect));
    assert_eq!(d.contexts[0].endpoint, Some("emsmdb"));
    assert_eq!(d.operations[0].operation, Some("EcDoConnectEx"));
}

#[test]
fn ntlm_after_a_kerberos_offer_is_ntlm() {
    // SPNEGO offers Kerberos first (its OID and a Kerberos token), then NTLM runs in the
    // alter_contexts: the NTLM AUTHENTICATE decides.
    let offer = spnego(&kerberos_token());
    let client = [
        bind(11, 1, &[(SVCCTL, 2)], Some((9, 5, &offer)), true),
        bind(
            14,
            2,
            &[(SVCCTL, 2)],
            Some((9, 5, &spnego(&ntlm_negotiate()))),
            true,
        ),
        bind(
            14,
            3,
            &[(SVCCTL, 2)],
            Some((9, 5, &ntlm_authenticate(70, "D", "u"))),
            true,
        ),
    ]
    .concat();
    let (_, ev) = run(&client, &[]);
    assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
    assert_eq!(ev.auth[0].user.as_deref(), Some("u"));
    // Near miss: Kerberos alone stays Kerberos.
    let (_, ev) = run(
        &bind(11, 1, &[(SVCCTL, 2)], Some((9, 5, &offer)), true),
        &[],
    );
    assert_eq!(ev.auth[0].mechanism, Mechanism::Kerberos);
}

#[test]
fn raw_kerberos_netlogon_and_schannel_types() {
    let cases: [(u8, Vec<u8>, Mechanism); 4] = [
        (16, kerberos_token(), Mechanism::Kerberos),
        (16, vec![0x30, 0x01], Mechanism::Kerberos),
        (68, vec![0; 16], Mechanism::Netlogon),
        (14, vec![0; 16], Mechanism::Other),
    ];
    for (ty, token, mech) in cases {
        let client = bind(11, 1, &[(SVCCTL, 2)], Some((ty, 6, &token)), true);
        let (_, ev) = run(&client, &[]);
        assert_eq!(ev.auth[0].mechanism, mech, "auth type {ty}");
        assert_eq!(ev.protection, Protection::RpcPrivacy);
    }
}

#[test]
fn auth_type_none_with_a_verifier_is_anonymous() {
    let client = bind(11, 1, &[(EPM, 3)], Some((0, 1, &[])), true);
    let (_, ev) = run(&client, &[]);
    assert_eq!(ev.protection, Protection::RpcClear);
    assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
    assert!(ev.facts.has(Fact::AnonymousAccess));
}

#[test]
fn big_endian_pdus_read_the_same() {
    let client = bind(11, 7, &[(DRSUAPI, 4)], None, false);
    let server = bind_ack(12, 7, &[0], None, false);
    let (mine, ev) = run(&client, &server);
    assert!(mine);
    let d = detail(&ev);
    assert_eq!(d.contexts[0].uuid, DRSUAPI);
    assert_eq!(d.contexts[0].endpoint, Some("drsuapi"));
    assert_eq!(d.contexts[0].version, (4, 0));
    assert_eq!(d.contexts[0].result, ContextResult::Accepted);
}

#[test]
fn bind_nak_and_access_denied_fault_are_failures() {
    let client = bind(
        11,
        1,
        &[(SVCCTL, 2)],
        Some((10, 6, &ntlm_negotiate())),
        true,
    );
    let nak = pdu(13, 0x03, 1, &[0x02, 0x00, 0x00], None, true);
    let (_, ev) = run(&client, &nak);
    assert_eq!(detail(&ev).bind_naks, 1);
    assert_eq!(ev.auth[0].outcome, Outcome::Failure);

    let (c, _) = svcctl_privacy(70);
    let server = [
        bind_ack(12, 1, &[0], Some((10, 6, &ntlm_challenge("D"))), true),
        fault(2, 5),
    ]
    .concat();
    let (_, ev) = run(&c, &server);
    let d = detail(&ev);
    assert_eq!((d.faults, d.fault_status), (1, Some(5)));
    assert_eq!(ev.auth[0].outcome, Outcome::Failure);
    // Near miss: a fault that is not a refusal leaves the outcome open.
    let server = [bind_ack(12, 1, &[0], None, true), fault(2, 0x1c01_0002)].concat();
    let (_, ev) = run(&c, &server);
    assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
}

#[test]
fn rejected_context_and_alter_context_answers() {
    let client = [
        bind(11, 1, &[(DRSUAPI, 4), (EPM, 3)], None, true),
        bind(14, 2, &[(DRSUAPI, 4)], None, true),
    ]
    .concat();
    let server = [
        bind_ack(12, 1, &[0, 2], None, true),
        bind_ack(15, 2, &[0], None, true),
    ]
    .concat();
    let (_, ev) = run(&client, &server);
    let d = detail(&ev);
    // The alter_context re-offers context 0: no duplicate.
    assert_eq!(d.contexts.len(), 2);
    assert_eq!(d.contexts[0].result, ContextResult::Accepted);
    assert_eq!(d.contexts[1].result, ContextResult::ProviderRejection);
    assert_eq!(d.binds, 1);
    assert_eq!(d.alter_contexts, 1);
}

#[test]
fn ncacn_http_prefix_is_skipped() {
    let (c, s) = epm_conversation();
    let c = [b"ncacn_http/1.0".as_slice(), &c].concat();
    let s = [b"ncacn_http/1.0".as_slice(), &s].concat();
    let (mine, ev) = run(&c, &s);
    assert!(mine);
    assert!(detail(&ev).ncacn_http);
    assert_eq!(detail(&ev).contexts[0].result, ContextResult::Accepted);
}

#[test]
fn midstream_requests_decide_only_with_a_verifier() {
    let sig = [1u8, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0];
    let (_, ev) = run(&request(9, 0, 3, &[0; 8], Some((10, 6, &sig))), &[]);
    assert_eq!(ev.protection, Protection::RpcPrivacy);
    assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
    let (_, ev) = run(&request(9, 0, 3, &[0; 8], Some((9, 5, &sig))), &[]);
    assert_eq!(ev.protection, Protection::RpcIntegrity);
    // Near miss: without a bind or a verifier nothing is known about the level.
    let (mine, ev) = run(&request(9, 0, 3, &[0; 8], None), &[]);
    assert!(mine);
    assert_eq!(ev.protection, Protection::Unknown);
    assert!(ev.auth.is_empty());
    assert!(!ev.facts.has(Fact::RpcWithoutPrivacy));
    assert_eq!(detail(&ev).operations[0].endpoint, None);
}

#[test]
fn server_only_capture_is_recognised() {
    let (_, s) = epm_conversation();
    let (mine, ev) = run(&[], &s);
    assert!(mine);
    assert_eq!(ev.protection, Protection::Unknown);
    assert_eq!(detail(&ev).responses, 1);
}

#[test]
fn near_misses_are_not_mine() {
    let good = bind(11, 1, &[(EPM, 3)], None, true);
    let mut cases: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"\x00\x00\x00\x66\xfeSMB@\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        good[..15].to_vec(),
    ];
    for (at, bad) in [(0, 4u8), (1, 2), (2, 21), (4, 0x20), (4, 0x02), (5, 4)] {
        let mut b = good.clone();
        b[at] = bad;
        cases.push(b);
    }
    let mut short = good.clone();
    short[8..10].copy_from_slice(&15u16.to_le_bytes());
    cases.push(short);
    for c in &cases {
        let (mine, ev) = run(c, &[]);
        assert!(!mine, "{c:02x?}");
        assert_eq!(ev.service, None);
        assert!(matches!(ev.detail, Detail::None));
    }
    // UDP is connectionless DCE/RPC, not this parser's.
    let mut ev = Evidence::default();
    let input = Input {
        client: &good,
        udp: true,
        ..Input::default()
    };
    assert!(!inspect(&input, &mut ev));
}

#[test]
fn a_broken_pdu_after_good_ones_is_malformed() {
    let (c, s) = epm_conversation();
    let mut c2 = c.clone();
    c2.extend_from_slice(&[4, 0, 0, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0]);
    let (_, ev) = run(&c2, &s);
    assert!(ev.facts.has(Fact::Malformed));
    // auth_length larger than the fragment.
    let mut bad = pdu(0, 3, 9, &[0; 8], None, true);
    bad[10] = 0x40;
    let (_, ev) = run(&[c.clone(), bad].concat(), &s);
    assert!(ev.facts.has(Fact::Malformed));
    // Near miss: a conversation cut inside a PDU is not malformed.
    let (_, ev) = run(&c[..c.len() - 3], &s);
    assert!(!ev.facts.has(Fact::Malformed));
}

#[test]
fn every_truncation_of_a_conversation_is_handled() {
    let (c, s) = svcctl_privacy(70);
    let bind_len = bind(
        11,
        1,
        &[(SVCCTL, 2)],
        Some((10, 6, &ntlm_negotiate())),
        true,
    )
    .len();
    for cut in 0..=c.len() {
        let (mine, ev) = run(&c[..cut], &s);
        // With no client bytes, the server's decide.
        assert!(mine, "cut {cut}");
        assert!(ev.auth.len() <= MAX_AUTH);
        if cut < bind_len {
            // The verifier sits at the end of the bind: before it, the level is unknown.
            assert_eq!(ev.protection, Protection::Unknown, "cut {cut}");
            assert!(!ev.facts.has(Fact::RpcWithoutPrivacy), "cut {cut}");
        } else {
            assert_eq!(ev.protection, Protection::RpcPrivacy, "cut {cut}");
        }
        assert!(!ev.facts.has(Fact::Malformed), "cut {cut}");
    }
    for cut in 0..=s.len() {
        let (mine, ev) = run(&c, &s[..cut]);
        assert!(mine);
        assert_eq!(ev.protection, Protection::RpcPrivacy, "cut {cut}");
        assert!(!ev.facts.has(Fact::Malformed), "cut {cut}");
    }
    let (c, s) = epm_conversation();
    for cut in 0..=c.len() {
        let (mine, ev) = run(&c[..cut], &s);
        assert!(mine);
        if cut >= HDR_LEN {
            // The header already says: no verifier.
            assert_eq!(ev.protection, Protection::RpcClear, "cut {cut}");
        }
    }
}

#[test]
fn caps_hold_contexts_operations_and_pdus() {
    let many: Vec<(Uuid, u16)> = (0..40u128).map(|i| (Uuid::from_u128(i), 1)).collect();
    let mut client = bind(11, 1, &many, None, true);
    for op in 0..50u16 {
        client.extend(request(2, 0, op, &[], None));
    }
    let (_, ev) = run(&client, &[]);
    let d = detail(&ev);
    assert_eq!(d.contexts.len(), MAX_CONTEXTS);
    assert_eq!(d.contexts_more, 40 - 16);
    assert_eq!(d.operations.len(), MAX_OPERATIONS);
    assert_eq!(d.operations_more, 50 - 32);
    assert_eq!(d.requests, 50);

    let tiny = pdu(17, 3, 0, &[], None, true);
    let flood = tiny.repeat(MAX_PDUS + 10);
    let mut it = pdus(&flood);
    assert_eq!(it.by_ref().count(), MAX_PDUS);
    assert_eq!(it.stop, Some(Stop::Cap));
}

#[test]
fn request_with_object_uuid_and_walker_views() {
    let mut b = Vec::new();
    put32(&mut b, 4, true);
    put16(&mut b, 0, true);
    put16(&mut b, 4, true);
    b.extend_from_slice(&uuid_wire(EPM, true));
    b.extend_from_slice(&[1, 2, 3, 4]);
    let p = pdu(0, 0x83, 5, &b, None, true);
    let all: Vec<Pdu<'_>> = pdus(&p).collect();
    assert_eq!(all.len(), 1);
    let r = all[0].request().unwrap();
    assert_eq!((r.context_id, r.opnum, r.object), (0, 4, Some(EPM)));
    assert_eq!(r.stub, &[1, 2, 3, 4]);
    assert!(all[0].response().is_none());
    assert!(all[0].fault_status().is_none());
    assert!(all[0].nak_reason().is_none());
    assert_eq!(all[0].contexts().count(), 0);
    assert_eq!(all[0].answers().count(), 0);
    let resp = response(5, 0, &[9, 9]);
    let r = pdus(&resp).next().unwrap();
    assert_eq!(r.response(), Some((0, &[9u8, 9][..])));
}

#[test]
fn verifier_debug_and_json_keep_no_token() {
    let (c, s) = svcctl_privacy(70);
    let p = pdus(&c).nth(1).unwrap();
    let dbg = format!("{p:?}");
    assert!(dbg.contains("value_len"), "{dbg}");
    // The NT response bytes (0x5a = 90) never appear as a run.
    assert!(!dbg.contains("90, 90, 90"), "{dbg}");
    let (_, ev) = run(&c, &s);
    let json = serde_json::to_string(detail(&ev)).unwrap();
    assert!(!json.contains("NTLMSSP"));
    let ev_dbg = format!("{ev:?}");
    assert!(!ev_dbg.contains("90, 90, 90"));
}

#[test]
fn detail_serialises_compactly() {
    let (c, s) = epm_conversation();
    let (_, ev) = run(&c, &s);
    let json = serde_json::to_value(detail(&ev)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "contexts": [{
                "id": 0,
                "uuid": "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
                "version": "3.0",
                "endpoint": "epmapper",
                "transfer": "ndr",
                "result": "accepted"
            }],
            "operations": [{"endpoint": "epmapper", "opnum": 3, "operation": "ept_map", "count": 1}],
            "binds": 1,
            "requests": 1,
            "responses": 1,
            "sec_addr": "49683"
        })
    );
    let (c, s) = svcctl_privacy(70);
    let (_, ev) = run(&c, &s);
    let json = serde_json::to_value(detail(&ev)).unwrap();
    assert_eq!(json["auth_type"], "ntlm");
    assert_eq!(json["auth_level"], "privacy");
}

#[test]
fn uuid_text_transfer_syntaxes_and_table() {
    assert_eq!(EPM.to_string(), "e1af8308-5d1f-11c9-91a4-08002b14a0fa");
    assert_eq!(Uuid::parse(&uuid_wire(EPM, false), false), Some(EPM));
    assert_eq!(Uuid::parse(&uuid_wire(EPM, true), true), Some(EPM));
    assert_eq!(Uuid::parse(&[0; 15], true), None);
    assert_eq!(Transfer::from(NDR), Transfer::Ndr);
    assert_eq!(Transfer::from(NDR64), Transfer::Ndr64);
    let btfn = Uuid::from_u128(0x6cb71c2c_9812_4540_0300_000000000000);
    assert_eq!(Transfer::from(btfn), Transfer::BindTimeFeatures);
    for (i, a) in INTERFACES.iter().enumerate() {
        assert!(
            INTERFACES.iter().skip(i + 1).all(|b| b.uuid != a.uuid),
            "{} twice",
            a.uuid
        );
        let mut last = None;
        for (n, name) in a.ops {
            assert!(last < Some(*n), "{} opnums out of order", a.name);
            assert!(!name.is_empty());
            last = Some(*n);
        }
    }
    let drs = interface(&DRSUAPI).unwrap();
    assert_eq!(drs.operation(12), Some("DRSCrackNames"));
    assert_eq!(drs.operation(999), None);
    assert!(interface(&Uuid([0; 16])).is_none());
    // LSARPC and SPOOLSS differ in one digit; both are known and distinct.
    let lsa = interface(&Uuid::from_u128(0x12345778_1234_abcd_ef00_0123456789ab)).unwrap();
    let spool = interface(&Uuid::from_u128(0x12345678_1234_abcd_ef00_0123456789ab)).unwrap();
    assert_eq!((lsa.name, spool.name), ("lsarpc", "spoolss"));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        client in proptest::collection::vec(any::<u8>(), 0..600),
        server in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let (_, ev) = run(&client, &server);
        prop_assert!(ev.auth.len() <= MAX_AUTH);
    }

    #[test]
    fn arbitrary_bodies_behind_good_headers_stay_bounded(
        ptypes in proptest::collection::vec(0u8..=20, 1..8),
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 8),
        auth_lens in proptest::collection::vec(0u16..64, 8),
        le in any::<bool>(),
    ) {
        let mut client = Vec::new();
        for (i, t) in ptypes.iter().enumerate() {
            let body = &bodies[i];
            let mut p = pdu(*t, 0x03, u32::try_from(i).unwrap(), body, None, le);
            let al = auth_lens[i].to_le_bytes();
            p[10..12].copy_from_slice(&if le { al } else { auth_lens[i].to_be_bytes() });
            client.extend(p);
        }
        let (mine, ev) = run(&client, &client);
        prop_assert!(mine);
        prop_assert!(ev.auth.len() <= MAX_AUTH);
        let d = detail(&ev);
        prop_assert!(d.contexts.len() <= MAX_CONTEXTS);
        prop_assert!(d.operations.len() <= MAX_OPERATIONS);
        let _ = serde_json::to_vec(d).unwrap();
    }
}

/// Client and server bytes.
type Conversation = (Vec<u8>, Vec<u8>);

/// Writes the seed corpus of the `inspect_dcerpc` fuzz target (input format in
/// `testkit::fuzzing::inspect_dcerpc`). Run with `--ignored` from the repository root.
#[test]
#[ignore = "writes fuzz/corpus/inspect_dcerpc"]
fn write_fuzz_seeds() {
    let kerb = spnego(&kerberos_token());
    let seeds: Vec<(&str, Conversation)> = vec![
        ("epm-noauth", epm_conversation()),
        ("svcctl-ntlm-privacy", svcctl_privacy(70)),
        ("svcctl-ntlmv1", svcctl_privacy(24)),
        (
            "emsmdb-krb-connect",
            (
                [
                    bind(11, 2, &[(EMSMDB, 4096)], Some((9, 2, &kerb)), true),
                    request(3, 0, 10, &[0; 12], None),
                ]
                .concat(),
                [bind_ack(12, 2, &[0], None, true), response(3, 0, &[0; 8])].concat(),
            ),
        ),
        (
            "drsuapi-big-endian-alter",
            (
                [
                    bind(11, 7, &[(DRSUAPI, 4), (EPM, 3)], None, false),
                    bind(14, 8, &[(DRSUAPI, 4)], None, false),
                ]
                .concat(),
                [
                    bind_ack(12, 7, &[0, 2], None, false),
                    bind_ack(15, 8, &[0], None, false),
                ]
                .concat(),
            ),
        ),
        (
            "bind-nak-fault",
            (
                bind(
                    11,
                    1,
                    &[(SVCCTL, 2)],
                    Some((10, 6, &ntlm_negotiate())),
                    true,
                ),
                [pdu(13, 3, 1, &[2, 0, 0], None, true), fault(2, 5)].concat(),
            ),
        ),
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
    crate::testkit::fuzzing::write_seeds("inspect_dcerpc", &seeds).unwrap();
}
