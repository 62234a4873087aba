use super::*;
use crate::decode::DecodeConfig;
use crate::flow::FlowConfig;
use crate::inspect::{Evidence, Fact, Protection, Service};
use crate::testkit::{Capture, addr};

const CATALOG: &str = r#"[list]
id = "t2010"
title = "test 2010"
generations = ["2010"]

[[path]]
id = "t.smtp-hub-edge"
name = "Hub to Edge (SMTP)"
from = ["hub"]
to = ["edge"]
ports = ["25/tcp"]
encryption = ["tls", "starttls"]
encrypted_by_default = "yes"
source = "000:59-67"

[[path]]
id = "t.smtp-inbound"
name = "Internet to Edge (SMTP)"
from = ["internet"]
to = ["edge"]
ports = ["25/tcp"]
encrypted_by_default = "unknown"
source = "000:203-209"

[[path]]
id = "t.pop3"
name = "POP3 clients to Client Access"
from = ["client"]
to = ["cas"]
ports = ["110/tcp", "995/tcp", "443/tcp"]
tls_ports = ["995/tcp"]
encryption = ["tls", "starttls"]
encrypted_by_default = "unknown"
source = "000:559-567"

[[path]]
id = "t.rpc"
name = "Client Access to Mailbox (RPC)"
from = ["cas"]
to = ["mailbox"]
ports = ["135/tcp", "rpc-dynamic/tcp"]
encryption = ["rpc"]
encrypted_by_default = "yes"
source = "000:619-629"

[[path]]
id = "t.media"
name = "UM media"
from = ["ippbx"]
to = ["um"]
ports = ["5060/tcp", "rtp-media/udp"]
encrypted_by_default = "unknown"
source = "000:769-777"

[[alternative]]
service = "POP3"
clear = "110/tcp"
secure = "995/tcp"
source = "000:559-567"
"#;

const LEGACY: &str = r#"[list]
id = "t2000"
title = "test 2000"
generations = ["2000", "2003"]

[[path]]
id = "t.nntp"
name = "NNTP clients to Exchange"
from = ["client"]
to = ["exchange"]
ports = ["119/tcp"]
encrypted_by_default = "unknown"
source = "001:625-628"

[[path]]
id = "t.https2000"
name = "Browsers to Exchange 2000"
from = ["client"]
to = ["exchange"]
ports = ["443/tcp"]
encrypted_by_default = "unknown"
source = "001:641-644"
"#;

const SITE: &str = r#"[site]
generations = ["2010"]

[roles]
hub = ["10.1.0.10"]
edge = ["172.16.0.4"]
cas = ["10.1.0.30"]
mailbox = ["10.1.0.20"]
um = ["10.1.0.40"]
ippbx = ["10.1.5.1"]
client = ["10.1.20.0/24"]
"#;

fn catalog() -> Catalog {
    Catalog::from_sources([
        ("t2010.toml".to_owned(), CATALOG.to_owned()),
        ("t2000.toml".to_owned(), LEGACY.to_owned()),
    ])
    .unwrap()
}

fn site(gens: &str) -> Site {
    Site::parse("site.toml", &SITE.replace("\"2010\"", gens)).unwrap()
}

fn flows(cap: &Capture) -> Vec<FlowRecord> {
    crate::analyse(
        "t.pcap",
        Box::new(std::io::Cursor::new(cap.to_pcap())),
        DecodeConfig::default(),
        FlowConfig::default(),
    )
    .flows
}

fn one(cap: &Capture, cat: &Catalog, site: Option<&Site>) -> Classification {
    let f = flows(cap);
    assert_eq!(f.len(), 1, "{f:?}");
    Classifier::new(cat, site).classify(&f[0])
}

fn session(client: &str, server: &str) -> Capture {
    let mut cap = Capture::new();
    cap.tcp(addr(client), addr(server))
        .handshake()
        .client_sends(b"hello\r\n")
        .server_sends(b"hi\r\n")
        .close();
    cap
}

fn refused(client: &str, server: &str) -> Capture {
    let mut cap = Capture::new();
    cap.tcp(addr(client), addr(server)).syn().refuse();
    cap
}

fn unanswered(client: &str, server: &str) -> Capture {
    let mut cap = Capture::new();
    cap.tcp(addr(client), addr(server)).syn();
    cap
}

fn path_id(cat: &Catalog, c: &Classification) -> Option<String> {
    c.path.map(|p| cat.path(p).id.clone())
}

#[test]
fn a_documented_path_that_works_raises_nothing() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(&session("10.1.0.10:50000", "172.16.0.4:25"), &cat, Some(&s));
    assert_eq!(c.verdict, Verdict::Documented);
    assert_eq!(c.reachability, Reachability::Ok);
    assert_eq!(path_id(&cat, &c).as_deref(), Some("t.smtp-hub-edge"));
    assert!(c.findings.is_empty(), "{:?}", c.findings);
}

#[test]
fn a_documented_path_refused_is_path_rejected() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(&refused("10.1.0.10:50000", "172.16.0.4:25"), &cat, Some(&s));
    assert_eq!(c.reachability, Reachability::Rejected);
    assert!(c.has(Code::PathRejected));
    assert!(!c.has(Code::PathUnanswered));
}

#[test]
fn a_documented_path_never_answered_is_path_unanswered() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(
        &unanswered("10.1.0.10:50000", "172.16.0.4:25"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.reachability, Reachability::Unanswered);
    assert!(c.has(Code::PathUnanswered));
    assert!(!c.has(Code::PathRejected));
}

#[test]
fn traffic_between_roles_no_path_connects_is_undocumented() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(
        &session("10.1.20.51:50000", "10.1.0.10:3389"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Undocumented);
    assert!(c.has(Code::UndocumentedFlow));
    // Near miss: the same port refused is only an attempt.
    let c = one(
        &refused("10.1.20.51:50000", "10.1.0.10:3389"),
        &cat,
        Some(&s),
    );
    assert!(c.has(Code::UndocumentedAttempt) && !c.has(Code::UndocumentedFlow));
    // Near miss: the right port between the wrong roles is undocumented too.
    let c = one(
        &session("10.1.20.51:50000", "172.16.0.4:25"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Undocumented);
}

#[test]
fn pop3_on_110_is_a_clear_port_and_995_is_not() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(
        &session("10.1.20.51:50000", "10.1.0.30:110"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Documented);
    assert!(c.has(Code::ClearPort));
    let c = one(
        &session("10.1.20.51:50000", "10.1.0.30:995"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Documented);
    assert!(!c.has(Code::ClearPort));
}

#[test]
fn a_port_only_older_generations_document_is_legacy() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(
        &session("10.1.20.51:50000", "10.1.0.30:119"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Undocumented);
    assert!(c.has(Code::LegacyProtocol));
    assert_eq!(
        c.legacy_path.map(|p| cat.path(p).id.as_str()),
        Some("t.nntp")
    );
    assert!(
        !c.has(Code::UndocumentedFlow),
        "the legacy finding replaces it"
    );
    // Near miss: a site that runs Exchange 2003 has NNTP documented.
    let s2003 = site("\"2003\"");
    let c = one(
        &session("10.1.20.51:50000", "10.1.0.30:119"),
        &cat,
        Some(&s2003),
    );
    assert_eq!(c.verdict, Verdict::Documented);
    assert!(!c.has(Code::LegacyProtocol));
}

#[test]
fn the_internet_reaching_a_role_no_path_exposes_is_exposure() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(
        &session("203.0.113.80:50000", "10.1.0.20:443"),
        &cat,
        Some(&s),
    );
    assert!(c.has(Code::InternetExposure), "{:?}", c.findings);
    assert!(!c.has(Code::UndocumentedFlow));
    assert!(
        !c.has(Code::LegacyProtocol),
        "443 is documented for 2010, between other roles"
    );
    // Near miss: the Edge is exposed to the internet by a documented path.
    let c = one(
        &session("203.0.113.80:50000", "172.16.0.4:25"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Documented);
    assert!(c.findings.is_empty());
    // Near miss: an internet client on a client path is documented (users outside).
    let c = one(
        &session("203.0.113.80:50000", "10.1.0.30:995"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Documented);
}

#[test]
fn rpc_on_the_sites_dynamic_range_is_inferred() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let c = one(
        &session("10.1.0.30:50000", "10.1.0.20:55000"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Documented);
    assert_eq!(c.how, Some(crate::catalog::PortMatch::Inferred));
    // Near miss: below the dynamic range nothing is inferred.
    let c = one(
        &session("10.1.0.30:50000", "10.1.0.20:8080"),
        &cat,
        Some(&s),
    );
    assert_eq!(c.verdict, Verdict::Undocumented);
}

#[test]
fn without_a_site_the_port_decides_and_says_so() {
    let cat = catalog();
    let c = one(&session("10.1.0.10:50000", "172.16.0.4:25"), &cat, None);
    assert_eq!(c.verdict, Verdict::PortOnly);
    assert_eq!(c.roles, None);
    assert_eq!(path_id(&cat, &c).as_deref(), Some("t.smtp-hub-edge"));
    assert_eq!(c.also().len(), 1, "the inbound path matched as well");
    let c = one(&session("10.1.0.10:50000", "172.16.0.4:3389"), &cat, None);
    assert_eq!(c.verdict, Verdict::Unknown);
    assert!(c.findings.is_empty());
}

#[test]
fn a_scan_is_one_finding_and_a_few_probes_are_not() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let clf = Classifier::new(&cat, Some(&s));
    let run = |ports: std::ops::Range<u16>| {
        let mut cap = Capture::new();
        for p in ports {
            cap.tcp(addr("203.0.113.80:40000"), addr(&format!("172.16.0.4:{p}")))
                .syn()
                .refuse();
        }
        let mut agg = Aggregator::default();
        for f in flows(&cap) {
            let c = clf.classify(&f);
            agg.add(&f, &c, crate::report::flow_community_id_bytes(&f));
        }
        agg.findings(&cat)
    };
    let many = run(1000..1040);
    assert_eq!(many.len(), 1, "{many:?}");
    assert_eq!(many[0].code, Code::PortScan);
    assert_eq!(many[0].flows, 40);
    assert!(
        many[0]
            .message
            .contains("40 undocumented connections on 40 tcp ports"),
        "{}",
        many[0].message
    );
    // Exposure from the scanning host stays its own finding.
    let mut cap = Capture::new();
    for p in 1000..1040u16 {
        cap.tcp(addr("203.0.113.80:40000"), addr(&format!("172.16.0.4:{p}")))
            .syn()
            .refuse();
    }
    cap.tcp(addr("203.0.113.80:40001"), addr("10.1.0.20:443"))
        .handshake()
        .close();
    let mut agg = Aggregator::default();
    for f in flows(&cap) {
        agg.add(
            &f,
            &clf.classify(&f),
            crate::report::flow_community_id_bytes(&f),
        );
    }
    let codes: Vec<Code> = agg.findings(&cat).iter().map(|f| f.code).collect();
    assert_eq!(codes, [Code::InternetExposure, Code::PortScan]);
    let few = run(1000..1005);
    assert_eq!(few.len(), 5);
    assert!(few.iter().all(|f| f.code == Code::UndocumentedAttempt));
}

#[test]
fn many_flows_of_one_cause_are_one_finding() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let clf = Classifier::new(&cat, Some(&s));
    let mut cap = Capture::new();
    for i in 0..50u16 {
        cap.tcp(
            addr(&format!("10.1.0.10:{}", 50000 + i)),
            addr("172.16.0.4:25"),
        )
        .syn()
        .refuse();
    }
    let mut agg = Aggregator::default();
    for f in flows(&cap) {
        agg.add(
            &f,
            &clf.classify(&f),
            crate::report::flow_community_id_bytes(&f),
        );
    }
    let found = agg.findings(&cat);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, Code::PathRejected);
    assert_eq!(found[0].flows, 50);
    assert_eq!(found[0].examples.len(), 3);
    assert_eq!(
        found[0].message,
        "documented path Hub to Edge (SMTP) (t.smtp-hub-edge) is refused on 25/tcp: 50 flows from Hub Transport 10.1.0.10 to Edge Transport 172.16.0.4 got a reset or an ICMP refusal"
    );
    let cov = agg.coverage(&cat, Some(&s));
    let hub_edge = cov
        .iter()
        .find(|c| cat.path(c.path).id == "t.smtp-hub-edge")
        .unwrap();
    assert_eq!(hub_edge.status, CoverageStatus::SeenFailing);
    assert_eq!(hub_edge.flows_failing, 50);
    assert!(
        !cov.iter().any(|c| cat.path(c.path).id == "t.nntp"),
        "a 2000 path does not apply to a 2010 site"
    );
}

/// Classifies the one flow of `cap` and judges its payload's evidence.
fn judged(cap: &Capture, cat: &Catalog, site: Option<&Site>) -> Classification {
    let f = flows(cap);
    assert_eq!(f.len(), 1, "{f:?}");
    let ev = crate::inspect::inspect(&crate::inspect::input(&f[0]), f[0].start);
    let clf = Classifier::new(cat, site);
    let mut c = clf.classify(&f[0]);
    clf.judge_evidence(&f[0], &ev, &mut c);
    c
}

/// Classifies `cap`'s one flow with evidence made by hand.
fn judged_with(cap: &Capture, cat: &Catalog, site: Option<&Site>, ev: &Evidence) -> Classification {
    let f = flows(cap);
    let clf = Classifier::new(cat, site);
    let mut c = clf.classify(&f[0]);
    clf.judge_evidence(&f[0], ev, &mut c);
    c
}

fn smtp(client: &str, server: &str, ehlo: &[u8], rest: &[(&[u8], &[u8])]) -> Capture {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(client), addr(server));
    s.handshake()
        .server_sends(b"220 edge01 Microsoft ESMTP MAIL Service ready\r\n")
        .client_sends(b"EHLO hub01\r\n")
        .server_sends(ehlo);
    for (c, sv) in rest {
        s.client_sends(c).server_sends(sv);
    }
    s.close();
    cap
}

const MAIL: &[(&[u8], &[u8])] = &[
    (b"MAIL FROM:<a@contoso.com>\r\n", b"250 OK\r\n"),
    (b"RCPT TO:<b@example.org>\r\n", b"250 OK\r\n"),
    (b"QUIT\r\n", b"221 Bye\r\n"),
];

#[test]
fn hub_to_edge_smtp_in_clear_is_smtp_without_tls() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let no_tls = smtp(
        "10.1.0.10:50000",
        "172.16.0.4:25",
        b"250-edge01 Hello\r\n250 SIZE 1000\r\n",
        MAIL,
    );
    let c = judged(&no_tls, &cat, Some(&s));
    assert_eq!(path_id(&cat, &c).as_deref(), Some("t.smtp-hub-edge"));
    assert!(c.has(Code::SmtpWithoutTls), "{c:?}");
    // Near miss: the session upgrades.
    let upgraded = smtp(
        "10.1.0.10:50001",
        "172.16.0.4:25",
        b"250-edge01 Hello\r\n250 STARTTLS\r\n",
        &[(b"STARTTLS\r\n", b"220 2.0.0 Ready to start TLS\r\n")],
    );
    let c = judged(&upgraded, &cat, Some(&s));
    assert!(!c.has(Code::SmtpWithoutTls), "{c:?}");
    // Near miss: the inbound path does not document encryption by default.
    let inbound = smtp(
        "198.51.100.9:50002",
        "172.16.0.4:25",
        b"250-edge01 Hello\r\n250 SIZE 1000\r\n",
        MAIL,
    );
    let c = judged(&inbound, &cat, Some(&s));
    assert_eq!(path_id(&cat, &c).as_deref(), Some("t.smtp-inbound"));
    assert!(!c.has(Code::SmtpWithoutTls), "{c:?}");
}

#[test]
fn a_masked_or_ignored_starttls_offer_is_its_own_finding() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let masked = smtp(
        "198.51.100.9:50003",
        "172.16.0.4:25",
        b"250-edge01 Hello\r\n250-XXXXXXXA\r\n250 SIZE 1000\r\n",
        MAIL,
    );
    let c = judged(&masked, &cat, Some(&s));
    assert!(c.has(Code::StarttlsStripped), "{c:?}");
    assert!(!c.has(Code::StarttlsNotUsed), "{c:?}");
    let ignored = smtp(
        "198.51.100.9:50004",
        "172.16.0.4:25",
        b"250-edge01 Hello\r\n250-STARTTLS\r\n250 SIZE 1000\r\n",
        MAIL,
    );
    let c = judged(&ignored, &cat, Some(&s));
    assert!(c.has(Code::StarttlsNotUsed), "{c:?}");
    assert!(!c.has(Code::StarttlsStripped), "{c:?}");
}

fn pop3(client: &str, lines: &[(&[u8], &[u8])]) -> Capture {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(client), addr("10.1.0.30:110"));
    s.handshake().server_sends(b"+OK ready\r\n");
    for (c, sv) in lines {
        s.client_sends(c).server_sends(sv);
    }
    s.close();
    cap
}

#[test]
fn a_password_in_clear_is_clear_credentials_and_an_upgrade_clears_the_clear_port() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let clear = pop3(
        "10.1.20.5:50005",
        &[
            (b"USER alice\r\n", b"+OK\r\n"),
            (b"PASS Spring2026\r\n", b"+OK logged on\r\n"),
        ],
    );
    let c = judged(&clear, &cat, Some(&s));
    assert!(c.has(Code::ClearCredentials), "{c:?}");
    assert!(c.has(Code::ClearPort), "{c:?}");
    // Near miss: STLS first, then the login inside TLS (not visible): no credentials, and the
    // port's clear-text warning goes away because the session was encrypted.
    let upgraded = pop3(
        "10.1.20.5:50006",
        &[(b"STLS\r\n", b"+OK Begin TLS negotiation\r\n")],
    );
    let c = judged(&upgraded, &cat, Some(&s));
    assert!(!c.has(Code::ClearCredentials), "{c:?}");
    assert!(!c.has(Code::ClearPort), "{c:?}");
    assert!(c.alternative.is_none());
}

#[test]
fn tls_where_smtp_expects_clear_text_is_a_protocol_mismatch() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let mut cap = Capture::new();
    // A ClientHello straight away on 25.
    let hello = [
        &[
            0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
        ][..],
        &[0x11; 32],
        &[0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00],
    ]
    .concat();
    cap.tcp(addr("198.51.100.9:50007"), addr("172.16.0.4:25"))
        .handshake()
        .client_sends(&hello)
        .server_sends(b"220 edge01 Microsoft ESMTP MAIL Service ready\r\n")
        .close();
    let c = judged(&cap, &cat, Some(&s));
    assert!(c.has(Code::ProtocolMismatch), "{c:?}");
    let (seen, expected) = c.mismatch.map(|m| (m >> 8, m & 0xff)).unwrap();
    assert_eq!(Service::from_index(seen), Some(Service::Tls));
    assert_eq!(Service::from_index(expected), Some(Service::Smtp));
    // Near miss: SMTP on 25.
    let c = judged(
        &smtp(
            "198.51.100.9:50008",
            "172.16.0.4:25",
            b"250 edge01\r\n",
            MAIL,
        ),
        &cat,
        Some(&s),
    );
    assert!(!c.has(Code::ProtocolMismatch), "{c:?}");
}

#[test]
fn rpc_below_privacy_counts_only_where_the_path_documents_rpc_encryption() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let mut ev = Evidence {
        service: Some(Service::DceRpc),
        protection: Protection::RpcClear,
        ..Evidence::default()
    };
    ev.facts.add(Fact::RpcWithoutPrivacy);
    // Client Access to Mailbox documents RPC encryption.
    let c = judged_with(
        &session("10.1.0.30:50009", "10.1.0.20:135"),
        &cat,
        Some(&s),
        &ev,
    );
    assert!(c.has(Code::RpcWithoutPrivacy), "{c:?}");
    // The same bind at privacy: nothing.
    let private = Evidence {
        service: Some(Service::DceRpc),
        protection: Protection::RpcPrivacy,
        ..Evidence::default()
    };
    let c = judged_with(
        &session("10.1.0.30:50010", "10.1.0.20:135"),
        &cat,
        Some(&s),
        &private,
    );
    assert!(!c.has(Code::RpcWithoutPrivacy), "{c:?}");
    // A path that documents no RPC encryption (SMTP's, say) does not raise it.
    let c = judged_with(
        &session("10.1.0.10:50011", "172.16.0.4:25"),
        &cat,
        Some(&s),
        &ev,
    );
    assert!(!c.has(Code::RpcWithoutPrivacy), "{c:?}");
}

#[test]
fn each_fact_raises_its_code_and_certificates_count_where_the_internet_is() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let cases = [
        (Fact::TlsOldVersion, Code::TlsOldVersion),
        (Fact::TlsWeakCipher, Code::TlsWeakCipher),
        (Fact::CertExpired, Code::CertExpired),
        (Fact::TlsHandshakeFailed, Code::TlsHandshakeFailed),
        (Fact::NtlmV1, Code::NtlmV1),
        (Fact::KerberosWeakEtype, Code::KerberosWeakEtype),
        (Fact::StarttlsRefused, Code::StarttlsRefused),
    ];
    for (fact, code) in cases {
        let mut ev = Evidence {
            service: Some(Service::Tls),
            protection: Protection::Tls,
            ..Evidence::default()
        };
        ev.facts.add(fact);
        let c = judged_with(
            &session("10.1.20.5:50012", "10.1.0.30:995"),
            &cat,
            Some(&s),
            &ev,
        );
        assert!(c.has(code), "{fact:?}: {c:?}");
        let quiet = Evidence {
            service: Some(Service::Tls),
            protection: Protection::Tls,
            ..Evidence::default()
        };
        let c = judged_with(
            &session("10.1.20.5:50013", "10.1.0.30:995"),
            &cat,
            Some(&s),
            &quiet,
        );
        assert!(!c.has(code), "{fact:?} without the fact: {c:?}");
    }
    let mut ev = Evidence {
        service: Some(Service::Tls),
        protection: Protection::Tls,
        ..Evidence::default()
    };
    ev.facts.add(Fact::CertSelfSigned);
    // A workstation inside: not a finding. The same server from the internet: a finding.
    let c = judged_with(
        &session("10.1.20.5:50014", "10.1.0.30:995"),
        &cat,
        Some(&s),
        &ev,
    );
    assert!(!c.has(Code::CertSelfSigned), "{c:?}");
    let c = judged_with(
        &session("198.51.100.9:50015", "10.1.0.30:995"),
        &cat,
        Some(&s),
        &ev,
    );
    assert!(c.has(Code::CertSelfSigned), "{c:?}");
}

#[test]
fn anonymous_access_counts_only_where_the_path_documents_authentication() {
    let cat = Catalog::from_sources([(
        "a.toml".to_owned(),
        CATALOG.replace(
            "encryption = [\"rpc\"]\n",
            "encryption = [\"rpc\"]\nauth_default = [\"kerberos\", \"ntlm\"]\n",
        ),
    )])
    .unwrap();
    let s = site("\"2010\"");
    let mut ev = Evidence {
        service: Some(Service::DceRpc),
        protection: Protection::RpcClear,
        ..Evidence::default()
    };
    ev.facts.add(Fact::AnonymousAccess);
    let c = judged_with(
        &session("10.1.0.30:50016", "10.1.0.20:135"),
        &cat,
        Some(&s),
        &ev,
    );
    assert!(c.has(Code::AnonymousAccess), "{c:?}");
    // POP3's path names no default authentication here.
    let c = judged_with(
        &session("10.1.20.5:50017", "10.1.0.30:110"),
        &cat,
        Some(&s),
        &ev,
    );
    assert!(!c.has(Code::AnonymousAccess), "{c:?}");
}

#[test]
fn hub_to_edge_with_x_anonymoustls_is_encrypted_and_raises_nothing() {
    let (cat, s) = (catalog(), site("\"2010\""));
    let cap = smtp(
        "10.1.0.10:50018",
        "172.16.0.4:25",
        b"250-edge01 Hello\r\n250-X-ANONYMOUSTLS\r\n250 SIZE 1000\r\n",
        &[(b"X-ANONYMOUSTLS\r\n", b"220 2.0.0 SMTP server ready\r\n")],
    );
    let f = flows(&cap);
    let ev = crate::inspect::inspect(&crate::inspect::input(&f[0]), f[0].start);
    assert_eq!(ev.protection, Protection::AnonymousTls);
    assert!(ev.upgrade.is_some_and(|u| u.anonymous));
    let c = judged(&cap, &cat, Some(&s));
    assert_eq!(path_id(&cat, &c).as_deref(), Some("t.smtp-hub-edge"));
    assert!(c.findings.is_empty(), "{c:?}");
    // Near miss: X-ANONYMOUSTLS offered and not taken: the mail crosses in clear.
    let cap = smtp(
        "10.1.0.10:50019",
        "172.16.0.4:25",
        b"250-edge01 Hello\r\n250-X-ANONYMOUSTLS\r\n250 SIZE 1000\r\n",
        MAIL,
    );
    let c = judged(&cap, &cat, Some(&s));
    assert!(c.has(Code::SmtpWithoutTls), "{c:?}");
}
