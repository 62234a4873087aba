//! The LDAP, Kerberos and SIP inspectors on the real captures of `../shared/pcaps/`, checked
//! against the facts its README states (Zeek's baselines and tshark). Skipped, with a note,
//! where `../shared` is absent.

use std::collections::BTreeSet;

use exaudit::flow::FlowRecord;
use exaudit::inspect::kerberos::Kerberos;
use exaudit::inspect::ldap::{Ldap, SecurityLayer, StartTls};
use exaudit::inspect::sip::Sip;
use exaudit::inspect::{
    Detail, Evidence, Fact, Mechanism, Outcome, Protection, Service, input, inspect,
};

use super::common::{evidence, shared, skipped};

fn endpoint(f: &FlowRecord, orig: bool) -> String {
    let (ip, port) = if orig { f.orig } else { f.resp };
    format!("{ip}:{port}")
}

/// The one flow between `a` and `b`, whichever the flow table took for the initiator.
fn between<'a>(all: &'a [(FlowRecord, Evidence)], a: &str, b: &str) -> &'a (FlowRecord, Evidence) {
    let found: Vec<_> = all
        .iter()
        .filter(|(f, _)| {
            let (o, r) = (endpoint(f, true), endpoint(f, false));
            (o == a && r == b) || (o == b && r == a)
        })
        .collect();
    assert_eq!(found.len(), 1, "flows {a} <-> {b}");
    found[0]
}

fn ldap(ev: &Evidence) -> &Ldap {
    match &ev.detail {
        Detail::Ldap(l) => l,
        d => panic!("not LDAP: {d:?}"),
    }
}

fn krb(ev: &Evidence) -> &Kerberos {
    match &ev.detail {
        Detail::Kerberos(k) => k,
        d => panic!("not Kerberos: {d:?}"),
    }
}

fn sip(ev: &Evidence) -> &Sip {
    match &ev.detail {
        Detail::Sip(s) => s,
        d => panic!("not SIP: {d:?}"),
    }
}

/// README: two LDAPv3 simple binds on 3268 (message 1 a UPN, message 3 a DN), both success,
/// the password in clear; a search (message 2) between them.
#[test]
fn ldap_simple_binds_in_clear_on_the_global_catalog() {
    let Some(all) = evidence("zeek-ldap-simple-bind-vlan.pcap") else {
        return;
    };
    let (f, ev) = between(&all, "10.0.0.1:25936", "10.0.0.2:3268");
    assert_eq!(ev.service, Some(Service::Ldap));
    assert_eq!(ev.protection, Protection::Clear);
    assert!(ev.facts.is_empty(), "{:?}", ev.facts);
    assert_eq!(ev.auth.len(), 2);
    for a in &ev.auth {
        assert_eq!(a.mechanism, Mechanism::Password);
        assert!(a.clear_credentials);
        assert_eq!(a.outcome, Outcome::Success);
    }
    assert!(ev.auth[0].user.as_deref().unwrap().contains('@'));
    assert!(ev.auth[1].user.as_deref().unwrap().starts_with("CN="));
    let l = ldap(ev);
    let ops: Vec<(u32, &str, Option<&str>)> = l
        .messages
        .iter()
        .map(|m| (m.message_id, m.opcode, m.result.as_deref()))
        .collect();
    assert_eq!(
        ops,
        [
            (1, "bind simple", Some("success")),
            (2, "search", Some("success")),
            (3, "bind simple", Some("success"))
        ]
    );
    assert!(l.messages.iter().all(|m| m.version.is_none_or(|v| v == 3)));
    // The password is nowhere in what the inspector kept. It is read from the capture here, so
    // that no byte of it enters the repository.
    let password = first_simple_password(input(f).client);
    assert!(password.len() >= 4);
    let json = serde_json::to_string(l).unwrap();
    let debug = format!("{ev:?}");
    let pw = String::from_utf8_lossy(&password);
    assert!(!json.contains(pw.as_ref()) && !debug.contains(pw.as_ref()));
}

/// The password of the first simple bind in `client`, decoded with ldap-parser.
fn first_simple_password(client: &[u8]) -> Vec<u8> {
    use ldap_parser::FromBer;
    use ldap_parser::ldap::{AuthenticationChoice, LdapMessage, ProtocolOp};
    let (_, m) = LdapMessage::from_ber(client).unwrap();
    match m.protocol_op {
        ProtocolOp::BindRequest(b) => match b.authentication {
            AuthenticationChoice::Simple(pw) => pw.into_owned(),
            AuthenticationChoice::Sasl(_) => panic!("SASL bind"),
        },
        op => panic!("not a bind: {op:?}"),
    }
}

/// README: ExtendedRequest StartTLS (frame 4), success (frame 6), then the ClientHello and a TLS
/// 1.3 ServerHello; Zeek ldap.log `extended`, success, `1.3.6.1.4.1.1466.20037 (StartTLS)`.
#[test]
fn ldap_starttls_upgrades_at_the_right_offsets() {
    let Some(all) = evidence("zeek-ldap-starttls.pcap") else {
        return;
    };
    let (f, ev) = between(&all, "127.0.0.1:45936", "127.0.1.1:389");
    assert_eq!(ev.service, Some(Service::Ldap));
    assert_eq!(ev.protection, Protection::Starttls);
    let up = ev.upgrade.expect("upgrade");
    let i = input(f);
    // The TLS records start where the upgrade says: a ClientHello and the server's answer.
    assert!(exaudit::inspect::tls::looks_like(&i.client[up.client_at..]));
    assert_eq!(&i.server[up.server_at..up.server_at + 2], &[0x16, 0x03]);
    let l = ldap(ev);
    assert_eq!(l.starttls, Some(StartTls::Accepted));
    let m = &l.messages[0];
    assert_eq!((m.message_id, m.opcode), (1, "extended"));
    assert_eq!(m.object.as_deref(), Some("1.3.6.1.4.1.1466.20037"));
    assert_eq!(m.result.as_deref(), Some("success"));
    assert!(!ev.facts.has(Fact::Malformed));
}

/// README: mid-stream searchRequest message 6, base `DC=matrix,DC=local`, an extensible-match
/// filter that Zeek logs as `(departmentNumber:2.16.840.1.113730.3.3.2.46.1:=>=N4709)`, three
/// references and searchResDone success.
#[test]
fn ldap_search_filter_of_a_midstream_flow() {
    let Some(all) = evidence("zeek-ldap-sll.pcapng") else {
        return;
    };
    let (f, ev) = between(&all, "192.168.10.152:38037", "192.168.10.186:389");
    assert!(f.midstream);
    assert_eq!(ev.service, Some(Service::Ldap));
    assert_eq!(ev.protection, Protection::Clear);
    let l = ldap(ev);
    assert_eq!(l.messages.len(), 1);
    let m = &l.messages[0];
    assert_eq!((m.message_id, m.opcode), (6, "search"));
    assert_eq!(m.object.as_deref(), Some("DC=matrix,DC=local"));
    assert_eq!(
        m.filter.as_deref(),
        Some("(departmentNumber:2.16.840.1.113730.3.3.2.46.1:=>=N4709)")
    );
    assert_eq!(m.result.as_deref(), Some("success"));
}

/// README: message 7 SASL GSS-SPNEGO bind (Kerberos), success; message 8 modify success on
/// `CN=DESKTOP-6AJTBQM,CN=Computers,…`; message 9 unbind; frames 12–14 in "SASL GSS-API
/// Integrity", signed, not sealed. The two directions carry different VLAN tags, so the flow
/// table may hold them as two flows: the facts are checked over the capture's LDAP flows.
#[test]
fn ldap_gss_spnego_kerberos_bind_then_signed_not_sealed() {
    let Some(all) = evidence("zeek-ldap-krb-ipv6-vlan-multi-idb.pcapng") else {
        return;
    };
    let flows: Vec<&Evidence> = all
        .iter()
        .filter(|(f, _)| f.resp.1 == 389 || f.orig.1 == 389)
        .map(|(_, ev)| ev)
        .collect();
    assert!(!flows.is_empty());
    for ev in &flows {
        assert_eq!(ev.service, Some(Service::Ldap));
        assert_eq!(ev.protection, Protection::SaslSign);
        assert_eq!(ldap(ev).security_layer, Some(SecurityLayer::Sign));
        assert!(!ev.facts.has(Fact::Malformed));
        assert!(!ev.facts.has(Fact::KerberosWeakEtype));
        for a in &ev.auth {
            assert_eq!(a.mechanism, Mechanism::Kerberos);
            assert_ne!(a.outcome, Outcome::Failure);
        }
    }
    assert!(
        flows
            .iter()
            .any(|ev| ev.auth.iter().any(|a| a.outcome == Outcome::Success))
    );
    let msgs: Vec<_> = flows.iter().flat_map(|ev| &ldap(ev).messages).collect();
    let has = |id: u32, op: &str| {
        msgs.iter()
            .any(|m| m.message_id == id && m.opcode.starts_with(op))
    };
    assert!(has(7, "bind"));
    assert!(
        msgs.iter()
            .any(|m| m.message_id == 7 && m.result.as_deref() == Some("success"))
    );
    assert!(
        flows
            .iter()
            .any(|ev| ldap(ev).sasl_mechanism.as_deref() == Some("GSS-SPNEGO"))
    );
    let modify = msgs
        .iter()
        .find(|m| m.message_id == 8 && m.opcode == "modify" && m.object.is_some())
        .expect("the signed modify request");
    assert!(modify.wrapped);
    assert!(
        modify
            .object
            .as_deref()
            .unwrap()
            .starts_with("CN=DESKTOP-6AJTBQM,CN=Computers,")
    );
    assert!(
        msgs.iter()
            .any(|m| m.message_id == 8 && m.result.as_deref() == Some("success"))
    );
    assert!(has(9, "unbind"));
}

/// README: 182 UDP and 47 TCP frames to the KDC; Zeek kerberos.log has 84 AS rows (51 success,
/// 33 failure) and 1 TGS (failure); failures include CLIENT_NOT_FOUND, PREAUTH_FAILED,
/// CLIENT EXPIRED, CLIENT KEY EXPIRED, LOCKED_OUT, CANT_FIND_CLIENT_KEY. Each UDP flow keeps
/// its first datagram per direction; the exchanges that only reached "pre-authentication
/// required" in those are not Zeek rows and not failures here.
#[test]
fn kerberos_kinit_exchanges_match_zeek() {
    let Some(all) = evidence("zeek-krb-kinit-udp.pcap") else {
        return;
    };
    let kdc: Vec<&(FlowRecord, Evidence)> = all
        .iter()
        .filter(|(f, _)| f.resp.1 == 88 || f.orig.1 == 88)
        .collect();
    assert!(kdc.len() >= 85, "{} flows", kdc.len());
    let mut as_ok = 0;
    let mut as_failed = 0;
    let mut tgs_failed = 0;
    let mut texts = BTreeSet::new();
    for (_, ev) in &kdc {
        assert_eq!(ev.service, Some(Service::Kerberos));
        assert_eq!(ev.protection, Protection::Unknown);
        assert!(!ev.facts.has(Fact::Malformed));
        // Every request lists AES first, and every ticket is AES.
        assert!(!ev.facts.has(Fact::KerberosWeakEtype));
        let k = krb(ev);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Kerberos);
        assert_eq!(a.domain.as_deref(), Some("VLADG.NET"));
        match (k.request_type, k.success) {
            (Some("AS"), Some(true)) => {
                as_ok += 1;
                assert_eq!(k.cipher.as_deref(), Some("aes256-cts-hmac-sha1-96"));
                assert_eq!(a.outcome, Outcome::Success);
            }
            (Some("AS"), Some(false)) => as_failed += 1,
            (Some("TGS"), Some(false)) => tgs_failed += 1,
            (Some("AS"), None) => {
                assert_eq!(k.error_name.as_deref(), Some("KDC_ERR_PREAUTH_REQUIRED"));
                assert!(!ev.facts.has(Fact::KerberosError));
                assert_eq!(a.outcome, Outcome::Unknown);
            }
            other => panic!("unexpected {other:?}"),
        }
        if k.success == Some(false) {
            assert!(ev.facts.has(Fact::KerberosError));
            assert_eq!(a.outcome, Outcome::Failure);
            texts.insert(k.error_msg.clone().unwrap());
        }
    }
    assert_eq!((as_ok, as_failed, tgs_failed), (51, 33, 1));
    for t in [
        "CLIENT_NOT_FOUND",
        "PREAUTH_FAILED",
        "CLIENT EXPIRED",
        "CLIENT KEY EXPIRED",
        "LOCKED_OUT",
        "CANT_FIND_CLIENT_KEY",
        "TICKET NOT RENEWABLE",
    ] {
        assert!(texts.contains(t), "{t} not in {texts:?}");
    }
    // Some of the TCP exchanges are PKINIT.
    assert!(
        kdc.iter()
            .any(|(f, ev)| f.kind == exaudit::flow::Kind::Tcp && krb(ev).pkinit)
    );
}

/// README: AS-REQ (msg type 10) over TCP, KRB-ERROR (30); Zeek kerberos.log: AS, error
/// KRB_ERR_GENERIC.
#[test]
fn kerberos_over_tcp_with_a_generic_error() {
    let Some(all) = evidence("zeek-krb-tcp-vlan.pcap") else {
        return;
    };
    let (_, ev) = between(&all, "192.168.202.110:43792", "192.168.229.251:88");
    assert_eq!(ev.service, Some(Service::Kerberos));
    let k = krb(ev);
    assert_eq!(k.request_type, Some("AS"));
    assert_eq!(k.messages, 2);
    assert_eq!(k.error_code, Some(60));
    assert_eq!(k.error_name.as_deref(), Some("KRB_ERR_GENERIC"));
    assert_eq!(k.success, Some(false));
    assert!(ev.facts.has(Fact::KerberosError));
    assert_eq!(ev.auth[0].outcome, Outcome::Failure);
}

/// README: UDP 200.57.7.195:5060 ↔ 200.57.7.204:5061, INVITE with SDP `c=IN IP4 200.57.7.196`,
/// `m=audio 40376 RTP/AVP …`, then 100 Trying. The 200 OK's SDP answer, the REGISTER and the
/// second INVITE are later datagrams of the same flow, which the payload prefix (first datagram
/// per direction) does not keep.
#[test]
fn sip_invite_with_an_sdp_offer() {
    let Some(all) = evidence("sv-sip-invite-sdp.pcap") else {
        return;
    };
    let (f, ev) = between(&all, "200.57.7.195:5060", "200.57.7.204:5061");
    assert_eq!(f.kind, exaudit::flow::Kind::Udp);
    assert_eq!(ev.service, Some(Service::Sip));
    assert_eq!(ev.protection, Protection::Clear);
    let s = sip(ev);
    let invite = s
        .messages
        .iter()
        .find(|m| m.method.as_deref() == Some("INVITE"))
        .expect("INVITE");
    assert_eq!(invite.uri_host.as_deref(), Some("bestel.com"));
    assert_eq!(invite.via_transport.as_deref(), Some("UDP"));
    let sdp = invite.sdp.as_ref().expect("SDP offer");
    assert_eq!(sdp.connection.as_deref(), Some("200.57.7.196"));
    assert_eq!(sdp.media.len(), 1);
    let m = &sdp.media[0];
    assert_eq!(
        (m.media.as_str(), m.port, m.proto.as_str()),
        ("audio", 40376, "RTP/AVP")
    );
    assert!(!m.is_srtp() && !m.crypto);
    // The offer's media address is not the SIP sender's.
    let eps: Vec<String> = sdp
        .endpoints()
        .map(|(ip, p, _)| format!("{ip}:{p}"))
        .collect();
    assert_eq!(eps, ["200.57.7.196:40376"]);
    let trying = s
        .messages
        .iter()
        .find(|m| m.status_code == Some(100))
        .expect("100 Trying");
    assert_eq!(trying.status_msg.as_deref(), Some("Trying"));
    // One call: both messages carry the same Call-ID, kept only as a hash.
    assert_eq!(trying.call_id, invite.call_id);
    assert!(!serde_json::to_string(s).unwrap().contains("12013223"));
}

/// README: TCP 1.1.1.1:5555 → 2.2.2.2:5062, `REGISTER sip:sip.cybercity.dk`, `401
/// Unauthorized`; clear-text SIP inside Exchange UM's 5060–5068 range.
#[test]
fn sip_register_over_tcp_is_challenged() {
    let Some(all) = evidence("sv-sip-tcp-5062.pcap") else {
        return;
    };
    let (f, ev) = between(&all, "1.1.1.1:5555", "2.2.2.2:5062");
    assert_eq!(f.kind, exaudit::flow::Kind::Tcp);
    assert_eq!(ev.service, Some(Service::Sip));
    assert_eq!(ev.protection, Protection::Clear);
    // A challenge, no credentials yet.
    assert!(ev.auth.is_empty());
    let s = sip(ev);
    assert_eq!(s.messages.len(), 2);
    let (reg, resp) = (&s.messages[0], &s.messages[1]);
    assert_eq!(reg.method.as_deref(), Some("REGISTER"));
    assert_eq!(reg.uri_host.as_deref(), Some("sip.cybercity.dk"));
    assert_eq!(resp.status_code, Some(401));
    assert_eq!(resp.status_msg.as_deref(), Some("Unauthorized"));
    assert_eq!(resp.challenge.as_deref(), Some("Digest"));
    assert_eq!(reg.seq, resp.seq);
}

/// No flow of the other captures is taken for LDAP, Kerberos or SIP by mistake.
#[test]
fn other_captures_are_not_claimed() {
    let Some(dir) = shared() else {
        skipped("other captures");
        return;
    };
    let ours = [
        "zeek-ldap-simple-bind-vlan.pcap",
        "zeek-ldap-starttls.pcap",
        "zeek-ldap-sll.pcapng",
        "zeek-ldap-krb-ipv6-vlan-multi-idb.pcapng",
        "zeek-krb-kinit-udp.pcap",
        "zeek-krb-tcp-vlan.pcap",
        "sv-sip-invite-sdp.pcap",
        "sv-sip-tcp-5062.pcap",
    ];
    let mut names: Vec<String> = std::fs::read_dir(dir.join("pcaps"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| (n.ends_with(".pcap") || n.ends_with(".pcapng")) && !n.contains("broken"))
        .filter(|n| !ours.contains(&n.as_str()))
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(dir.join("pcaps").join(&name)).unwrap();
        let a = super::common::analyse_bytes(bytes, Default::default(), Default::default());
        for f in &a.flows {
            let ev = inspect(&input(f), f.start);
            // Kerberos inside DCE/RPC or SMB is theirs; a flow of its own to 88 is ours.
            let claimed = matches!(
                ev.service,
                Some(Service::Ldap | Service::Kerberos | Service::Sip)
            );
            let krb_port = f.resp.1 == 88 || f.orig.1 == 88;
            assert!(
                !claimed || krb_port,
                "{name}: {}:{} -> {}:{} taken for {:?}",
                f.orig.0,
                f.orig.1,
                f.resp.0,
                f.resp.1,
                ev.service
            );
        }
    }
}
