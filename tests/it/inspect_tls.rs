//! The TLS inspector on the real captures of `../shared/pcaps/`, checked against the facts its
//! README states (tshark, openssl and Zeek's ssl.log / x509.log baselines). Skipped, with a
//! note, where `../shared` is absent.

use exaudit::flow::{FlowConfig, FlowRecord};
use exaudit::inspect::tls::{Sender, Tls, Validity, Version};
use exaudit::inspect::{Evidence, Fact, Protection, Service, input, inspect, tls};

use super::common::{find, flows, flows_with};

/// The same capture with a payload prefix large enough for a whole certificate chain.
fn flows_with_long_prefix(name: &str) -> Option<Vec<FlowRecord>> {
    let cfg = FlowConfig {
        payload_prefix_bytes: 16_384,
        ..FlowConfig::default()
    };
    flows_with(name, cfg)
}

fn evidence(rec: &FlowRecord) -> Evidence {
    inspect(&input(rec), rec.start)
}

fn tls_of(ev: &Evidence) -> &Tls {
    ev.tls.as_deref().expect("TLS evidence")
}

fn facts(ev: &Evidence) -> Vec<Fact> {
    ev.facts.iter().collect()
}

/// `zeek-tls10.pcap`: ServerHello 0x0301, cipher 0xc013; leaf `*.google.com` issued by Google
/// Internet Authority, a chain of 3.
#[test]
fn tls10_capture() {
    let name = "zeek-tls10.pcap";
    let Some(fs) = flows(name) else { return };
    let ev = evidence(find(&fs, "192.168.4.195:55726", "172.217.6.78:443"));
    assert_eq!(ev.service, Some(Service::Tls));
    assert_eq!(ev.protection, Protection::Tls);
    assert_eq!(facts(&ev), [Fact::TlsOldVersion]);
    let t = tls_of(&ev);
    assert_eq!(t.version, Some(Version::Tls10));
    assert_eq!(t.cipher_id, Some(0xc013));
    assert_eq!(t.cipher, Some("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"));
    // The default 4 KiB prefix holds the leaf, not the whole chain.
    let c = t.cert.as_ref().expect("leaf certificate");
    assert!(
        c.subject
            .as_deref()
            .unwrap()
            .starts_with("CN=*.google.com,")
    );
    assert!(
        c.issuer
            .as_deref()
            .unwrap()
            .starts_with("CN=Google Internet Authority")
    );
    assert!(t.server_cut);
    let Some(fs) = flows_with_long_prefix(name) else {
        return;
    };
    let t = evidence(find(&fs, "192.168.4.195:55726", "172.217.6.78:443"));
    assert_eq!(tls_of(&t).cert_chain_len, 3);
}

/// `zeek-tls12.pcap`: Zeek ssl.log TLSv12, TLS_RSA_WITH_RC4_128_MD5, established T.
#[test]
fn tls12_rc4_capture() {
    let Some(fs) = flows("zeek-tls12.pcap") else {
        return;
    };
    let ev = evidence(find(&fs, "10.0.0.80:56637", "68.233.76.12:443"));
    assert_eq!(facts(&ev), [Fact::TlsWeakCipher]);
    let t = tls_of(&ev);
    assert_eq!(t.version, Some(Version::Tls12));
    assert_eq!(
        (t.cipher, t.cipher_id),
        (Some("TLS_RSA_WITH_RC4_128_MD5"), Some(0x0004))
    );
    assert_eq!(t.established, Some(true));
}

/// `zeek-tls13-wolfssl-9090.pcap`: supported_versions 0x0304, cipher 0x1302; Zeek: TLSv13,
/// TLS_AES_256_GCM_SHA384, established T. Non-standard port: decided by content.
#[test]
fn tls13_wolfssl_capture() {
    let Some(fs) = flows("zeek-tls13-wolfssl-9090.pcap") else {
        return;
    };
    let ev = evidence(find(&fs, "192.168.186.133:43056", "192.168.186.134:9090"));
    assert_eq!(ev.service, Some(Service::Tls));
    assert_eq!(ev.protection, Protection::Tls);
    assert!(ev.facts.is_empty(), "{:?}", facts(&ev));
    let t = tls_of(&ev);
    assert_eq!(t.version, Some(Version::Tls13));
    assert_eq!(
        (t.cipher, t.cipher_id),
        (Some("TLS_AES_256_GCM_SHA384"), Some(0x1302))
    );
    assert_eq!(t.established, Some(true));
    assert!(t.cert_encrypted && t.cert.is_none());
}

/// `zeek-tls12-selfsigned.pcap`: TLS 1.2, cipher 0xc028, a chain of one certificate whose subject
/// and issuer are both `C=NL, O=Bro, CN=bro-generalizedtime-test` (written here in RFC 4514
/// order, most specific first).
#[test]
fn tls12_self_signed_capture() {
    let Some(fs) = flows("zeek-tls12-selfsigned.pcap") else {
        return;
    };
    let ev = evidence(find(&fs, "192.168.219.1:56822", "192.168.219.183:443"));
    assert_eq!(facts(&ev), [Fact::CertSelfSigned]);
    let t = tls_of(&ev);
    assert_eq!(t.version, Some(Version::Tls12));
    assert_eq!(t.cipher_id, Some(0xc028));
    assert_eq!(t.cert_chain_len, 1);
    let c = t.cert.as_ref().unwrap();
    let name = Some("CN=bro-generalizedtime-test,O=Bro,C=NL");
    assert_eq!((c.subject.as_deref(), c.issuer.as_deref()), (name, name));
    assert!(c.self_signed);
    // The trace's name: its certificate uses GeneralizedTime.
    assert_eq!(c.not_valid_after.as_deref(), Some("2025-09-01T13:33:37Z"));
    assert_eq!(c.validity, Some(Validity::Valid));
}

/// `zeek-tls12-handshake-failure.pcap`: a ClientHello answered by a fatal handshake_failure alert;
/// Zeek: version `-`, established F.
#[test]
fn handshake_failure_capture() {
    let Some(fs) = flows("zeek-tls12-handshake-failure.pcap") else {
        return;
    };
    let ev = evidence(find(&fs, "192.168.4.149:53525", "74.125.239.37:443"));
    assert_eq!(facts(&ev), [Fact::TlsHandshakeFailed]);
    let t = tls_of(&ev);
    assert_eq!(t.version, None);
    assert_eq!(t.established, Some(false));
    let a = t.alerts.first().unwrap();
    assert_eq!(a.from, Sender::Server);
    assert_eq!(
        (a.level, a.description, a.code, a.ended_handshake),
        (Some("fatal"), Some("handshake_failure"), Some(40), true)
    );
}

/// `zeek-tls13-sll2.pcap`: SNI zeek.org; supported_versions 0x0304, cipher 0x1302.
#[test]
fn tls13_sll2_capture() {
    let Some(fs) = flows("zeek-tls13-sll2.pcap") else {
        return;
    };
    let ev = evidence(find(&fs, "192.168.64.6:55058", "192.0.78.150:443"));
    let t = tls_of(&ev);
    assert_eq!(t.server_name.as_deref(), Some("zeek.org"));
    assert_eq!(t.version, Some(Version::Tls13));
    assert_eq!(t.cipher_id, Some(0x1302));
    assert!(t.ja4.as_deref().unwrap().starts_with("t13d"));
}

/// `sv-tls12-rawip-dlt101.pcap`: SNI p130-contacts.icloud.com; the client offers TLS 1.3 to 1.0,
/// the server picks TLS 1.2 without supported_versions, cipher 0xc02c; Suricata: client ALPNs
/// h2, http/1.1, server ALPN http/1.1.
#[test]
fn tls12_alpn_raw_ip_capture() {
    let Some(fs) = flows("sv-tls12-rawip-dlt101.pcap") else {
        return;
    };
    let ev = evidence(find(&fs, "10.84.1.49:55349", "17.248.236.64:443"));
    let t = tls_of(&ev);
    assert_eq!(t.server_name.as_deref(), Some("p130-contacts.icloud.com"));
    assert_eq!(t.client_version, Some(Version::Tls13));
    assert_eq!(t.version, Some(Version::Tls12));
    assert_eq!(t.cipher_id, Some(0xc02c));
    assert_eq!(t.client_alpns, ["h2", "http/1.1"]);
    assert_eq!(t.next_protocol.as_deref(), Some("http/1.1"));
    // The client is Apple's TLS stack: its JA4 is the value published for Safari 16 / iOS
    // (uTLS's `safari-16` preset and several fingerprint lists give the same string).
    assert_eq!(
        t.ja4.as_deref(),
        Some("t13d2014h2_a09f3c656075_14788d8d241b")
    );
}

/// `zeek-imaps-993.pcap`: TLS from the first byte, ServerHello 0x0303 cipher 0xc030, no SNI;
/// Zeek x509.log: leaf `CN=imap.gmx.net, … O=1&1 Mail & Media GmbH`, issued by
/// `CN=TeleSec ServerPass DE-1`, chain of 3 to `CN=Deutsche Telekom Root CA 2`.
#[test]
fn imaps_capture() {
    let name = "zeek-imaps-993.pcap";
    let Some(fs) = flows(name) else { return };
    let ev = evidence(find(&fs, "192.168.6.82:65343", "212.227.17.186:993"));
    assert_eq!(ev.service, Some(Service::Tls));
    assert_eq!(ev.protection, Protection::Tls);
    let t = tls_of(&ev);
    assert_eq!(t.version, Some(Version::Tls12));
    assert_eq!(t.cipher_id, Some(0xc030));
    assert_eq!(t.server_name, None);
    assert!(t.ja4.as_deref().unwrap().starts_with("t12i"));
    let c = t.cert.as_ref().unwrap();
    let subject = c.subject.as_deref().unwrap();
    assert!(subject.starts_with("CN=imap.gmx.net,"), "{subject}");
    assert!(subject.contains("O=1&1 Mail & Media GmbH"), "{subject}");
    assert!(
        c.issuer
            .as_deref()
            .unwrap()
            .starts_with("CN=TeleSec ServerPass DE-1,")
    );
    let Some(fs) = flows_with_long_prefix(name) else {
        return;
    };
    let ev = evidence(find(&fs, "192.168.6.82:65343", "212.227.17.186:993"));
    let t = tls_of(&ev);
    assert_eq!(t.cert_chain_len, 3);
    assert!(t.cert_chain[0].starts_with("CN=TeleSec ServerPass DE-1,"));
    assert!(
        t.cert_chain[1].starts_with("CN=Deutsche Telekom Root CA 2,"),
        "{:?}",
        t.cert_chain
    );
}

/// `sv-smtp-465-tls-vs-plain-banner.pcap`: a ClientHello (0x0303, no SNI) answered by the clear
/// banner `220 poczta.home-whs.pl ESMTP`; no TLS ever established.
#[test]
fn clear_banner_answer_to_client_hello_capture() {
    let Some(fs) = flows("sv-smtp-465-tls-vs-plain-banner.pcap") else {
        return;
    };
    let ev = evidence(find(&fs, "10.11.21.101:62353", "46.41.156.4:465"));
    assert_eq!(facts(&ev), [Fact::ClearAnswerToClientHello]);
    assert_eq!(ev.protection, Protection::Unknown);
    let t = tls_of(&ev);
    assert_eq!(t.client_version, Some(Version::Tls12));
    assert_eq!(t.server_name, None);
    assert_eq!(
        t.clear_answer.as_deref(),
        Some("220 poczta.home-whs.pl ESMTP")
    );
    assert_eq!((t.version, t.established), (None, Some(false)));
}

/// Where TLS starts after a STARTTLS-style upgrade: the client's ClientHello record and the
/// server's ServerHello record (the upgrade offsets are the clear-text inspectors' business).
fn after_upgrade(rec: &FlowRecord) -> (&[u8], &[u8]) {
    let find = |bytes: &'static [u8], kind: u8| {
        move |w: &[u8]| w.len() == 6 && w[..3] == bytes[..3] && w[5] == kind
    };
    let c = rec.orig_payload.bytes();
    let s = rec.resp_payload.bytes();
    let at_c = c
        .windows(6)
        .position(find(&[22, 3, 1], 1))
        .or_else(|| c.windows(6).position(find(&[22, 3, 3], 1)));
    let at_s = s.windows(6).position(find(&[22, 3, 3], 2));
    (&c[at_c.unwrap()..], &s[at_s.unwrap()..])
}

/// File, originator, responder, version, cipher suite, SNI.
type UpgradeCase = (
    &'static str,
    &'static str,
    &'static str,
    Version,
    u16,
    Option<&'static str>,
);

/// The upgraded captures, parsed from the first TLS record: SMTP (TLS 1.2, 0xc02f), IMAP
/// (TLS 1.2, 0xc030), POP3 over loopback (TLS 1.2, 0x009f), LDAP StartTLS (SNI
/// ubuntu-01.example.com, TLS 1.3, 0x1302).
#[test]
fn tls_after_starttls_captures() {
    let cases: &[UpgradeCase] = &[
        (
            "zeek-smtp-starttls.pcap",
            "192.168.4.149:54170",
            "74.125.142.26:25",
            Version::Tls12,
            0xc02f,
            None,
        ),
        (
            "zeek-imap-starttls.pcap",
            "192.168.17.53:49640",
            "212.227.17.186:143",
            Version::Tls12,
            0xc030,
            None,
        ),
        (
            "zeek-pop3-starttls-null.pcap",
            "192.168.4.149:54775",
            "192.168.4.149:110",
            Version::Tls12,
            0x009f,
            None,
        ),
        (
            "zeek-ldap-starttls.pcap",
            "127.0.0.1:45936",
            "127.0.1.1:389",
            Version::Tls13,
            0x1302,
            Some("ubuntu-01.example.com"),
        ),
    ];
    for &(name, orig, resp, version, cipher, sni) in cases {
        let Some(fs) = flows(name) else { return };
        let rec = find(&fs, orig, resp);
        let (c, s) = after_upgrade(rec);
        let t = tls::parse(c, s, rec.start).unwrap();
        assert_eq!(t.version, Some(version), "{name}");
        assert_eq!(t.cipher_id, Some(cipher), "{name}");
        assert_eq!(t.malformed, None, "{name}");
        if sni.is_some() {
            assert_eq!(t.server_name.as_deref(), sni, "{name}");
        }
    }
}
