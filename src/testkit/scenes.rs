//! The scenarios behind the captures committed in `fixtures/`. `cargo run --example fixtures`
//! writes them; a test checks that the committed files are exactly what these functions make.

use std::net::{IpAddr, SocketAddr};

use super::{Capture, Dir, Encap, TcpConv, addr, flags, ip};
use crate::inspect::dcerpc::Uuid;
use crate::time::{Duration, Timestamp};

/// A small office segment seen from a SPAN port: mail between a Hub Transport and an Edge
/// Transport server, directory and name lookups, a firewall refusing RPC, a port nobody answers,
/// a rejected EdgeSync connection, IPv6 client access, and a fragmented datagram.
pub fn mixed() -> Capture {
    let hub = "10.1.0.10";
    let edge = "172.16.0.4";
    let dc = "10.1.0.2";
    let client = "10.1.20.51";
    let mut cap = Capture::new();
    cap.step(Duration::from_millis(3));

    // Hub → Edge SMTP, a whole session.
    let mut s = cap.tcp(addr(&format!("{hub}:49321")), addr(&format!("{edge}:25")));
    s.handshake()
        .server_sends(b"220 edge.contoso.com Microsoft ESMTP MAIL Service ready\r\n")
        .client_sends(b"EHLO hub01.contoso.com\r\n")
        .server_sends(b"250-edge.contoso.com Hello [10.1.0.10]\r\n250-STARTTLS\r\n250 CHUNKING\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"221 2.0.0 Service closing transmission channel\r\n")
        .close();

    // Client DNS and Kerberos over UDP.
    cap.udp(addr(&format!("{client}:53011")), addr(&format!("{dc}:53")), b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04mail\x07contoso\x03com\x00\x00\x01\x00\x01");
    cap.udp(addr(&format!("{dc}:53")), addr(&format!("{client}:53011")), b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x04mail\x07contoso\x03com\x00\x00\x01\x00\x01");
    cap.udp(
        addr(&format!("{client}:61002")),
        addr(&format!("{dc}:88")),
        &[0x6a; 220],
    );
    cap.udp(
        addr(&format!("{dc}:88")),
        addr(&format!("{client}:61002")),
        &[0x6b; 480],
    );

    // LDAP from the Hub to the domain controller, on VLAN 10.
    cap.vlans(&[10]);
    let mut s = cap.tcp(addr(&format!("{hub}:50112")), addr(&format!("{dc}:389")));
    s.handshake()
        .client_sends(&[
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ])
        .server_sends(&[
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ])
        .rst(Dir::ToServer);
    cap.vlans(&[]);

    // EdgeSync LDAPS from the Hub is refused by the Edge (RST to the SYN).
    cap.tcp(
        addr(&format!("{hub}:50200")),
        addr(&format!("{edge}:50636")),
    )
    .syn()
    .refuse();

    // RPC to the endpoint mapper: a firewall answers "administratively prohibited".
    cap.tcp(
        addr(&format!("{client}:50333")),
        addr(&format!("{hub}:135")),
    )
    .syn();
    let syn = cap.last_ip_packet().unwrap_or_default();
    cap.icmp_unreachable(ip("10.1.20.1"), &syn, 13);

    // A SYN nobody answers, retried once.
    let mut s = cap.tcp(
        addr(&format!("{client}:50400")),
        addr(&format!("{edge}:587")),
    );
    let syn = s.build(Dir::ToServer, flags::SYN, 7000, 0, &[]);
    s.emit(syn.clone());
    s.capture().wait(Duration::from_secs(1));
    s.emit(syn);

    // IPv6 client access over HTTPS, half a session (the capture ends first).
    let mut s = cap.tcp(
        addr("[2001:db8:20::51]:51234"),
        addr("[2001:db8:1::10]:443"),
    );
    s.handshake()
        .client_sends(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])
        .server_sends(&[0x16, 0x03, 0x03, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]);

    // A large SIP datagram fragmented on its way, fragments out of order.
    let mut whole = Capture::new();
    let mut invite = b"INVITE sip:1001@um01.contoso.com SIP/2.0\r\n".to_vec();
    invite.resize(2400, b'x');
    whole.udp(addr("10.1.30.5:5060"), addr("10.1.0.12:5060"), &invite);
    if let Some(p) = whole.last_ip_packet() {
        cap.push_fragmented(&p, 1400, Some(&[1, 0]));
    }
    cap
}

/// The same short session over every link layer and tunnel the decoder reads, one after another.
pub fn encapsulations() -> Vec<(&'static str, Capture)> {
    let outer_a: IpAddr = ip("192.0.2.1");
    let outer_b: IpAddr = ip("192.0.2.2");
    let encaps: Vec<(&'static str, Encap)> = vec![
        ("ethernet", Encap::Ethernet(vec![])),
        ("qinq", Encap::Ethernet(vec![(0x88a8, 100), (0x8100, 20)])),
        ("raw", Encap::Raw(crate::source::LinkType::RAW)),
        ("null", Encap::Null),
        ("sll", Encap::Sll),
        ("sll2", Encap::Sll2),
        ("nflog", Encap::Nflog),
        ("pppoe", Encap::Pppoe),
        ("gre", Encap::GreTeb(outer_a, outer_b)),
        ("erspan2", Encap::Erspan2(outer_a, outer_b)),
        ("erspan3", Encap::Erspan3(outer_a, outer_b)),
    ];
    encaps
        .into_iter()
        .map(|(name, e)| {
            let mut cap = Capture::new();
            cap.encap(e);
            cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:25"))
                .handshake()
                .client_sends(b"EHLO x\r\n")
                .close();
            (name, cap)
        })
        .collect()
}

/// A small Exchange 2010 organisation seen from a SPAN port over about ten seconds, for trying
/// the auditor against a site file (`fixtures/demo/site.toml` names each address's role).
///
/// Hub Transport hub01 10.1.0.10 and hub02 10.1.0.11, Edge Transport edge01 172.16.0.4 behind
/// the perimeter firewall 172.16.0.1, Client Access cas01 10.1.0.30, Mailbox mbx01 10.1.0.20,
/// Unified Messaging um01 10.1.0.40, domain controller dc01 10.1.0.2, IP PBX pbx01 10.1.5.1 and
/// workstations in 10.1.20.0/24. In order:
///
/// 1. internet mail to the Edge with STARTTLS (198.51.100.25);
/// 2. internet mail to the Edge in clear text, STARTTLS offered but not used (192.0.2.77);
/// 3. the Edge relaying to hub01 over SMTP with STARTTLS;
/// 4. hub01 relaying to hub02 the same way;
/// 5. hub02 → Edge SMTP refused by the firewall with ICMP "administratively prohibited",
///    the SYN retried 3 s later and refused again;
/// 6. EdgeSync from hub01 to the Edge's port 50636: a SYN retransmitted after 3 s and 6 s more,
///    never answered (the last SYN comes after the 5 s attempt timeout, so it is a second
///    attempt record);
/// 7. hub01 to the domain controller: DNS, Kerberos, SASL-bound LDAP; mbx01 to the global catalog;
/// 8. cas01 binding to LDAP with a clear-text password (a simple bind);
/// 9. hub01 and cas01 ask the RPC endpoint mapper on mbx01 where the store (EMSMDB) listens:
///    port 59532;
/// 10. workstations to cas01: HTTPS, and HTTP redirected to HTTPS;
/// 11. POP3 in clear text, user and password visible;
/// 12. IMAP over TLS;
/// 13. the PBX calling UM over SIP/TCP (INVITE with SDP … BYE), the caller's message in plain
///     RTP on the ports the SDP named, and RTCP;
/// 14. um01 delivering the voice mail to hub01 over SMTP with STARTTLS;
/// 15. RDP from a workstation to hub01, a path Exchange does not document;
/// 16. an internet host reaching mbx01 on 443 (exposure), aborted by the client;
/// 17. the same host scanning edge01's TCP ports 20–45 (all refused; 25 left out);
/// 18. NNTP to cas01, a legacy protocol;
/// 19. hub01 relaying outbound mail through the Edge in clear text;
/// 20. a client submitting on 587 with AUTH LOGIN before TLS;
/// 21. cas01 binding to the store on the port item 9 taught, at authentication level connect;
/// 22. Outlook Web App over TLS 1.0;
/// 23. Outlook on ws51 asking cas01's endpoint mapper for the store (two towers), then binding
///     there with packet privacy;
/// 24. ws52 told where cas01's address book (NSPI) listens, its SYNs to that port unanswered.
pub fn demo() -> Capture {
    let hub01 = "10.1.0.10";
    let hub02 = "10.1.0.11";
    let edge = "172.16.0.4";
    let firewall = ip("172.16.0.1");
    let cas = "10.1.0.30";
    let mbx = "10.1.0.20";
    let um = "10.1.0.40";
    let dc = "10.1.0.2";
    let pbx = "10.1.5.1";
    let (ws51, ws52, ws53) = ("10.1.20.51", "10.1.20.52", "10.1.20.53");
    let prober = "203.0.113.80";
    let at = |host: &str, port: u16| addr(&format!("{host}:{port}"));

    let mut cap = Capture::new();
    let internet = Duration::from_millis(18);
    let perimeter = Duration::from_millis(2);
    let lan = Duration::from_millis(1);
    let gap = |cap: &mut Capture, ms: u64| {
        cap.wait(Duration::from_millis(ms));
    };

    // 1. Internet mail to the Edge, upgraded to TLS.
    cap.step(internet);
    smtp_starttls(
        &mut cap,
        at("198.51.100.25", 52044),
        at(edge, 25),
        "mail.fabrikam.example",
        "edge01.contoso.com",
        1,
    );
    gap(&mut cap, 140);

    // 2. Internet mail in clear text: STARTTLS is offered, the sender does not take it.
    smtp_clear(&mut cap, at("192.0.2.77", 61877), at(edge, 25));
    gap(&mut cap, 90);

    // 3. The Edge relays inbound mail to hub01.
    cap.step(perimeter);
    smtp_starttls(
        &mut cap,
        at(edge, 50871),
        at(hub01, 25),
        "edge01.contoso.com",
        "hub01.contoso.com",
        3,
    );
    gap(&mut cap, 60);

    // 4. hub01 hands a message to hub02.
    cap.step(lan);
    smtp_starttls(
        &mut cap,
        at(hub01, 53310),
        at(hub02, 25),
        "hub01.contoso.com",
        "hub02.contoso.com",
        4,
    );
    gap(&mut cap, 80);

    // 5. hub02 → Edge SMTP: the perimeter firewall refuses the SYN with ICMP type 3 code 13.
    let refused = (at(hub02, 57102), at(edge, 25));
    let t5 = cap.now();
    refused_syn(&mut cap, refused, firewall);
    gap(&mut cap, 45);

    // 6. EdgeSync (LDAPS on 50636) from hub01: nothing answers; retransmitted below.
    let edgesync = (at(hub01, 50214), at(edge, 50636));
    let t6 = cap.now();
    cap.tcp(edgesync.0, edgesync.1).syn();
    gap(&mut cap, 70);

    // 7. hub01 finds and talks to the domain controller; mbx01 queries the global catalog.
    cap.udp(
        at(hub01, 58341),
        at(dc, 53),
        &dns_query(0x5c1e, "edge01.contoso.com"),
    );
    cap.udp(
        at(dc, 53),
        at(hub01, 58341),
        &dns_answer(0x5c1e, "edge01.contoso.com", [172, 16, 0, 4]),
    );
    gap(&mut cap, 15);
    cap.udp(at(hub01, 60914), at(dc, 88), &kerberos_tgs(7, false));
    cap.udp(at(dc, 88), at(hub01, 60914), &kerberos_tgs(7, true));
    gap(&mut cap, 10);
    ldap_sasl(
        &mut cap,
        at(hub01, 50322),
        at(dc, 389),
        9,
        &[(96, 620), (88, 240)],
    );
    gap(&mut cap, 40);
    ldap_sasl(
        &mut cap,
        at(mbx, 51876),
        at(dc, 3268),
        10,
        &[(140, 1020), (120, 860)],
    );
    gap(&mut cap, 60);

    // 8. cas01 binds with a password in clear text.
    ldap_simple_bind(
        &mut cap,
        at(cas, 52210),
        at(dc, 389),
        "CN=svc-owa,OU=Service,DC=contoso,DC=com",
        "Winter2026!",
    );
    gap(&mut cap, 70);

    // 9. The RPC endpoint mapper on the Mailbox server.
    rpc_epmap(
        &mut cap,
        at(hub01, 50411),
        at(mbx, 135),
        EMSMDB,
        &[(59532, [10, 1, 0, 20])],
    );
    gap(&mut cap, 30);
    rpc_epmap(
        &mut cap,
        at(cas, 52377),
        at(mbx, 135),
        EMSMDB,
        &[(59532, [0, 0, 0, 0])],
    );
    gap(&mut cap, 90);

    // 10. Outlook Web App: HTTPS, and plain HTTP redirected to it.
    let mut s = cap.tcp(at(ws51, 49733), at(cas, 443));
    s.handshake();
    tls_session(&mut s, 13, "mail.contoso.com", &[(610, 1380), (540, 920)]);
    s.client_sends(&close_notify(13)).close();
    gap(&mut cap, 50);
    http_redirect(&mut cap, at(ws52, 50120), at(cas, 80));
    gap(&mut cap, 80);

    // 11. POP3 in clear text.
    pop3(&mut cap, at(ws53, 51502), at(cas, 110));
    gap(&mut cap, 60);

    // 12. IMAP over TLS.
    let mut s = cap.tcp(at(ws51, 49741), at(cas, 993));
    s.handshake();
    tls_session(
        &mut s,
        14,
        "mail.contoso.com",
        &[(48, 160), (64, 420), (40, 90)],
    );
    s.client_sends(&close_notify(14)).close();

    // 5 and 6 again: the refused SYN retried after 3 s, the EdgeSync SYN's first retransmission.
    wait_until(&mut cap, t5.saturating_add(Duration::from_secs(3)));
    refused_syn(&mut cap, refused, firewall);
    wait_until(&mut cap, t6.saturating_add(Duration::from_secs(3)));
    cap.tcp(edgesync.0, edgesync.1).syn();
    gap(&mut cap, 120);

    // 13. The PBX hands a call to Unified Messaging; the caller hangs up after a message.
    sip_call(&mut cap, at(pbx, 50512), at(um, 5060));
    gap(&mut cap, 150);

    // 14. UM delivers the voice mail to hub01.
    smtp_starttls(
        &mut cap,
        at(um, 54120),
        at(hub01, 25),
        "um01.contoso.com",
        "hub01.contoso.com",
        15,
    );
    gap(&mut cap, 110);

    // 15. RDP from a workstation to hub01.
    let mut s = cap.tcp(at(ws52, 50133), at(hub01, 3389));
    s.handshake()
        .client_sends(&rdp_connection_request("alice"))
        .server_sends(&[
            0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08,
            0x00, 0x01, 0x00, 0x00, 0x00,
        ]);
    tls_session(&mut s, 16, "hub01", &[(320, 180), (90, 1200)]);
    s.close();
    gap(&mut cap, 130);

    // 16. An internet host reaches the Mailbox server's HTTPS directly, then aborts.
    cap.step(internet);
    let mut s = cap.tcp(at(prober, 40196), at(mbx, 443));
    s.handshake()
        .client_sends(&client_hello(17, "10.1.0.20"))
        .server_sends(&server_flight(17))
        .rst(Dir::ToServer);
    gap(&mut cap, 200);

    // 17. The same host scans the Edge: every port but 25 refuses.
    cap.step(Duration::from_millis(4));
    for port in (20..=45).filter(|&p| p != 25) {
        cap.tcp(at(prober, 61522), at(edge, port)).syn().refuse();
    }
    gap(&mut cap, 150);

    // 18. NNTP, a protocol Exchange 2010 no longer serves.
    cap.step(lan);
    let mut s = cap.tcp(at(ws53, 51530), at(cas, 119));
    s.handshake()
        .server_sends(b"200 server ready\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"205 closing connection\r\n");
    server_closes(&mut s);

    // 19. hub01 relays outbound mail through the Edge in clear text: the Edge offers no TLS.
    gap(&mut cap, 60);
    smtp_hub_edge_clear(&mut cap, at(hub01, 53377), at(edge, 25));
    gap(&mut cap, 50);

    // 20. A client submits on 587 with AUTH LOGIN before TLS: the password crosses in clear.
    smtp_submission_auth_login(&mut cap, at(ws53, 51544), at(hub01, 587));
    gap(&mut cap, 50);

    // 21. cas01 binds to the store on the Mailbox server at level connect: authenticated, but
    // neither signed nor encrypted.
    rpc_emsmdb(&mut cap, at(cas, 52890), at(mbx, 59532), CONNECT, 21);
    gap(&mut cap, 50);

    // 22. An old client reaches Outlook Web App over TLS 1.0.
    let mut s = cap.tcp(at(ws52, 50170), at(cas, 443));
    s.handshake();
    tls_session_of(TLS10, &mut s, 22, "mail.contoso.com", &[(560, 1200)]);
    s.close();

    gap(&mut cap, 60);

    // 23. Outlook asks cas01's endpoint mapper where the store is (the answer has two towers:
    // the address and the server's other network), then connects there with packet privacy.
    rpc_epmap(
        &mut cap,
        at(ws51, 49760),
        at(cas, 135),
        EMSMDB,
        &[(59540, [10, 1, 0, 30]), (59540, [192, 168, 30, 30])],
    );
    gap(&mut cap, 5);
    rpc_emsmdb(&mut cap, at(ws51, 49761), at(cas, 59540), PRIVACY, 23);
    gap(&mut cap, 40);

    // 24. Another workstation is told where the address book is, but the firewall in front of
    // cas01 drops everything above 135: the SYN is retried and never answered.
    rpc_epmap(
        &mut cap,
        at(ws52, 50180),
        at(cas, 135),
        NSPI,
        &[(59541, [10, 1, 0, 30])],
    );
    gap(&mut cap, 5);
    let blocked = (at(ws52, 50181), at(cas, 59541));
    cap.tcp(blocked.0, blocked.1).syn();
    gap(&mut cap, 1000);
    cap.tcp(blocked.0, blocked.1).syn();

    // 6 again: Windows doubles the timeout, so the last retransmission is 6 s after the first.
    wait_until(&mut cap, t6.saturating_add(Duration::from_secs(9)));
    cap.tcp(edgesync.0, edgesync.1).syn();
    cap
}

/// Moves the clock to `t` unless it is already past it.
fn wait_until(cap: &mut Capture, t: Timestamp) {
    let d = t.since(cap.now());
    cap.wait(d);
}

/// Deterministic bytes that look random, for ciphertext and opaque blobs.
pub fn opaque(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_be_bytes()[0]
        })
        .collect()
}

/// "Mon, 5 Jan 2026 09:MM:SS" for the capture's current time (the capture starts at 09:00).
fn clock(cap: &Capture) -> String {
    let s = cap.now().secs() % 3600;
    format!("Mon, 5 Jan 2026 09:{:02}:{:02}", s / 60, s % 60)
}

/// The server closes first, as after SMTP's, POP3's or NNTP's QUIT.
fn server_closes(s: &mut TcpConv<'_>) {
    s.fin(Dir::ToClient).fin(Dir::ToServer).ack(Dir::ToClient);
}

/// A BER tag-length-value with a definite length.
pub(super) fn ber(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = u16::try_from(content.len()).expect("BER content under 64 KiB");
    let [hi, lo] = n.to_be_bytes();
    let mut v = match (hi, lo) {
        (0, 0..=0x7f) => vec![tag, lo],
        (0, _) => vec![tag, 0x81, lo],
        _ => vec![tag, 0x82, hi, lo],
    };
    v.extend_from_slice(content);
    v
}

fn u16_be(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("length under 64 KiB").to_be_bytes()
}

fn u24_be(n: usize) -> Vec<u8> {
    let n = u32::try_from(n).expect("length under 16 MiB").to_be_bytes();
    n[1..].to_vec()
}

fn tls_record(content_type: u8, minor: u8, body: &[u8]) -> Vec<u8> {
    [&[content_type, 3, minor][..], &u16_be(body.len()), body].concat()
}

fn tls_handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    [&[msg_type][..], &u24_be(body.len()), body].concat()
}

/// A TLS version as records and hellos carry it (3.`minor`), and the suite the server picks.
#[derive(Clone, Copy)]
struct TlsVersion {
    minor: u8,
    suite: [u8; 2],
}

/// TLS 1.2 with TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384.
const TLS12: TlsVersion = TlsVersion {
    minor: 3,
    suite: [0xc0, 0x30],
};

/// TLS 1.0 with TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA.
const TLS10: TlsVersion = TlsVersion {
    minor: 1,
    suite: [0xc0, 0x14],
};

/// A TLS 1.2 ClientHello with server name indication.
fn client_hello(seed: u32, sni: &str) -> Vec<u8> {
    client_hello_of(TLS12, seed, sni)
}

/// A ClientHello offering nothing newer than `v`, with server name indication.
fn client_hello_of(v: TlsVersion, seed: u32, sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let server_name = [&[0][..], &u16_be(name.len()), name].concat();
    let sni_list = [&u16_be(server_name.len())[..], &server_name].concat();
    let extensions = [
        &[0x00, 0x00][..],
        &u16_be(sni_list.len()),
        &sni_list,
        &[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18],
        &[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00],
        &[0xff, 0x01, 0x00, 0x01, 0x00],
    ]
    .concat();
    let body = [
        &[0x03, v.minor][..],
        &opaque(seed, 32),
        &[0x00],
        &[
            0x00, 0x0c, 0xc0, 0x2c, 0xc0, 0x2b, 0xc0, 0x30, 0xc0, 0x2f, 0x00, 0x9d, 0x00, 0x9c,
        ],
        &[0x01, 0x00],
        &u16_be(extensions.len()),
        &extensions,
    ]
    .concat();
    tls_record(0x16, 1, &tls_handshake(1, &body))
}

/// A TLS 1.2 ServerHello, an opaque certificate and ServerHelloDone in one record.
fn server_flight(seed: u32) -> Vec<u8> {
    server_flight_of(TLS12, seed)
}

/// The server's first flight agreeing to `v`.
fn server_flight_of(v: TlsVersion, seed: u32) -> Vec<u8> {
    let hello = [
        &[0x03, v.minor][..],
        &opaque(seed ^ 0x100, 32),
        &[0x20],
        &opaque(seed ^ 0x200, 32),
        &v.suite,
        &[0x00],
        &[0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00],
    ]
    .concat();
    let cert = ber(0x30, &opaque(seed ^ 0x300, 860));
    let chain = [u24_be(cert.len()), cert].concat();
    let certificate = [u24_be(chain.len()), chain].concat();
    let flight = [
        tls_handshake(2, &hello),
        tls_handshake(0x0b, &certificate),
        tls_handshake(0x0e, &[]),
    ]
    .concat();
    tls_record(0x16, v.minor, &flight)
}

/// A TLS 1.2 handshake after the TCP one: hello, server flight, key exchange, finished both
/// ways, then application data, `(client bytes, server bytes)` per exchange.
fn tls_session(s: &mut TcpConv<'_>, seed: u32, sni: &str, exchanges: &[(usize, usize)]) {
    tls_session_of(TLS12, s, seed, sni, exchanges);
}

/// [`tls_session`] at version `v`.
fn tls_session_of(
    v: TlsVersion,
    s: &mut TcpConv<'_>,
    seed: u32,
    sni: &str,
    exchanges: &[(usize, usize)],
) {
    let m = v.minor;
    let key_exchange = [&[0x41, 0x04][..], &opaque(seed ^ 0x400, 64)].concat();
    let client_finish = [
        tls_record(0x16, m, &tls_handshake(0x10, &key_exchange)),
        tls_record(0x14, m, &[1]),
        tls_record(0x16, m, &opaque(seed ^ 0x500, 40)),
    ]
    .concat();
    let server_finish = [
        tls_record(0x14, m, &[1]),
        tls_record(0x16, m, &opaque(seed ^ 0x600, 40)),
    ]
    .concat();
    s.client_sends(&client_hello_of(v, seed, sni))
        .server_sends(&server_flight_of(v, seed))
        .client_sends(&client_finish)
        .server_sends(&server_finish);
    for (i, &(up, down)) in (0u32..).zip(exchanges) {
        s.client_sends(&tls_record(0x17, m, &opaque(seed ^ (0x1000 + i), up)))
            .server_sends(&tls_record(0x17, m, &opaque(seed ^ (0x2000 + i), down)));
    }
}

/// An encrypted close_notify alert.
fn close_notify(seed: u32) -> Vec<u8> {
    tls_record(0x15, 3, &opaque(seed ^ 0x700, 26))
}

fn ehlo_reply(server_name: &str, client: SocketAddr) -> String {
    format!(
        "250-{server_name} Hello [{}]\r\n250-SIZE 10485760\r\n250-PIPELINING\r\n250-DSN\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-AUTH NTLM\r\n250-8BITMIME\r\n\
         250-BINARYMIME\r\n250 CHUNKING\r\n",
        client.ip()
    )
}

fn smtp_banner(cap: &Capture, server_name: &str) -> String {
    format!(
        "220 {server_name} Microsoft ESMTP MAIL Service ready at {} +0000\r\n",
        clock(cap)
    )
}

/// An SMTP session that turns to TLS after EHLO and carries the mail encrypted.
fn smtp_starttls(
    cap: &mut Capture,
    client: SocketAddr,
    server: SocketAddr,
    client_name: &str,
    server_name: &str,
    seed: u32,
) {
    let banner = smtp_banner(cap, server_name);
    let mut s = cap.tcp(client, server);
    s.handshake()
        .server_sends(banner.as_bytes())
        .client_sends(format!("EHLO {client_name}\r\n").as_bytes())
        .server_sends(ehlo_reply(server_name, client).as_bytes())
        .client_sends(b"STARTTLS\r\n")
        .server_sends(b"220 2.0.0 Ready to start TLS\r\n");
    // EHLO again, MAIL, RCPT, BDAT with the message, QUIT: all inside TLS.
    tls_session(
        &mut s,
        seed,
        server_name,
        &[(60, 250), (90, 60), (1180, 120), (30, 70)],
    );
    s.client_sends(&close_notify(seed)).close();
}

/// An SMTP session in clear text, STARTTLS offered but not used.
fn smtp_clear(cap: &mut Capture, client: SocketAddr, server: SocketAddr) {
    let banner = smtp_banner(cap, "edge01.contoso.com");
    let date = clock(cap);
    let message = format!(
        "From: Fabrikam Orders <orders@example.org>\r\nTo: Alice <alice@contoso.com>\r\n\
         Subject: Your order 48213 has shipped\r\nDate: {date} +0000\r\n\
         Message-ID: <20260105090001.48213@mail.example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n\
         Hello Alice,\r\n\r\nYour order 48213 left our warehouse this morning.\r\n\r\n\
         Fabrikam Orders\r\n.\r\n"
    );
    let mut s = cap.tcp(client, server);
    s.handshake()
        .server_sends(banner.as_bytes())
        .client_sends(b"EHLO mail.example.org\r\n")
        .server_sends(ehlo_reply("edge01.contoso.com", client).as_bytes())
        .client_sends(b"MAIL FROM:<orders@example.org> SIZE=412\r\n")
        .server_sends(b"250 2.1.0 Sender OK\r\n")
        .client_sends(b"RCPT TO:<alice@contoso.com>\r\n")
        .server_sends(b"250 2.1.5 Recipient OK\r\n")
        .client_sends(b"DATA\r\n")
        .server_sends(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
        .client_sends(message.as_bytes())
        .server_sends(
            b"250 2.6.0 <20260105090001.48213@mail.example.org> [InternalId=4827] \
              Queued mail for delivery\r\n",
        )
        .client_sends(b"QUIT\r\n")
        .server_sends(b"221 2.0.0 Service closing transmission channel\r\n");
    server_closes(&mut s);
}

/// A refused SYN: the firewall answers with ICMP destination unreachable, code 13.
fn refused_syn(cap: &mut Capture, (client, server): (SocketAddr, SocketAddr), firewall: IpAddr) {
    cap.tcp(client, server).syn();
    let syn = cap.last_ip_packet().unwrap_or_default();
    cap.icmp_unreachable(firewall, &syn, 13);
}

fn dns_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.') {
        v.push(u8::try_from(label.len()).expect("DNS label"));
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

/// A recursive query for the A record of `name`.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    [
        &id.to_be_bytes()[..],
        &[0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &dns_name(name),
        &[0x00, 0x01, 0x00, 0x01],
    ]
    .concat()
}

/// The authoritative answer to [`dns_query`]: one A record, TTL one hour.
fn dns_answer(id: u16, name: &str, a: [u8; 4]) -> Vec<u8> {
    [
        &id.to_be_bytes()[..],
        &[0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
        &dns_name(name),
        &[0x00, 0x01, 0x00, 0x01],
        &[
            0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04,
        ],
        &a,
    ]
    .concat()
}

/// A Kerberos service ticket exchange for LDAP on the domain controller: the TGS-REQ (AES256
/// and AES128 asked for) or the TGS-REP (AES256), with opaque ciphertext.
fn kerberos_tgs(seed: u32, reply: bool) -> Vec<u8> {
    let int = |n: u8| ber(0x02, &[n]);
    let string = |s: &str| ber(0x1b, s.as_bytes());
    let principal = |ty: u8, names: &[&str]| {
        ber(
            0x30,
            &[
                ber(0xa0, &int(ty)),
                ber(
                    0xa1,
                    &ber(
                        0x30,
                        &names.iter().map(|n| string(n)).collect::<Vec<_>>().concat(),
                    ),
                ),
            ]
            .concat(),
        )
    };
    let encrypted = |etype: u8, seed: u32, len: usize| {
        ber(
            0x30,
            &[
                ber(0xa0, &int(etype)),
                ber(0xa1, &int(2)),
                ber(0xa2, &ber(0x04, &opaque(seed, len))),
            ]
            .concat(),
        )
    };
    let realm = "CONTOSO.COM";
    let service = principal(2, &["ldap", "dc01.contoso.com"]);
    if reply {
        // TGS-REP [APPLICATION 13]: the ticket and the reply both AES256 (etype 18).
        let ticket = ber(
            0x61,
            &ber(
                0x30,
                &[
                    ber(0xa0, &int(5)),
                    ber(0xa1, &string(realm)),
                    ber(0xa2, &service),
                    ber(0xa3, &encrypted(18, seed, 900)),
                ]
                .concat(),
            ),
        );
        ber(
            0x6d,
            &ber(
                0x30,
                &[
                    ber(0xa0, &int(5)),
                    ber(0xa1, &int(13)),
                    ber(0xa3, &string(realm)),
                    ber(0xa4, &principal(1, &["HUB01$"])),
                    ber(0xa5, &ticket),
                    ber(0xa6, &encrypted(18, seed ^ 1, 180)),
                ]
                .concat(),
            ),
        )
    } else {
        // TGS-REQ [APPLICATION 12]: the AP-REQ in the pre-authentication data is opaque.
        let padata = ber(
            0x30,
            &ber(
                0x30,
                &[
                    ber(0xa1, &int(1)),
                    ber(0xa2, &ber(0x04, &ber(0x6e, &opaque(seed, 200)))),
                ]
                .concat(),
            ),
        );
        let etypes = ber(0x30, &[int(18), int(17)].concat());
        let body = ber(
            0x30,
            &[
                ber(0xa0, &ber(0x03, &[0x00, 0x40, 0x81, 0x00, 0x00])),
                ber(0xa2, &string(realm)),
                ber(0xa3, &service),
                ber(0xa5, &ber(0x18, b"20370913024805Z")),
                ber(0xa7, &ber(0x02, &[0x12, 0x34, 0x56, 0x78])),
                ber(0xa8, &etypes),
            ]
            .concat(),
        );
        ber(
            0x6c,
            &ber(
                0x30,
                &[
                    ber(0xa1, &int(5)),
                    ber(0xa2, &int(12)),
                    ber(0xa3, &padata),
                    ber(0xa4, &body),
                ]
                .concat(),
            ),
        )
    }
}

/// An LDAP message: `SEQUENCE { messageID, protocolOp }`.
pub(super) fn ldap_message(id: u8, op: &[u8]) -> Vec<u8> {
    ber(0x30, &[&[0x02, 0x01, id][..], op].concat())
}

/// An LDAP session bound with GSS-SPNEGO carrying Kerberos, then sealed requests and answers:
/// each SASL buffer holds an RFC 4121 wrap token whose "sealed" flag is set.
fn ldap_sasl(
    cap: &mut Capture,
    client: SocketAddr,
    server: SocketAddr,
    seed: u32,
    exchanges: &[(usize, usize)],
) {
    const KRB5: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ];
    // The Kerberos GSS-API token: the krb5 OID, AP-REQ token id, an opaque AP-REQ.
    let krb_token = ber(
        0x60,
        &[KRB5, &[0x01, 0x00], &ber(0x6e, &opaque(seed, 160))].concat(),
    );
    // SPNEGO negTokenInit listing Kerberos, with the Kerberos token as its mechToken.
    let neg_token_init = ber(
        0xa0,
        &ber(
            0x30,
            &[
                ber(0xa0, &ber(0x30, KRB5)),
                ber(0xa2, &ber(0x04, &krb_token)),
            ]
            .concat(),
        ),
    );
    let token = ber(
        0x60,
        &[
            &[0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02][..],
            &neg_token_init,
        ]
        .concat(),
    );
    let sasl = ber(
        0xa3,
        &[ber(0x04, b"GSS-SPNEGO"), ber(0x04, &token)].concat(),
    );
    let bind = ber(0x60, &[&[0x02, 0x01, 0x03, 0x04, 0x00][..], &sasl].concat());
    let bound = ber(
        0x61,
        &[
            &[0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00][..],
            &ber(0x87, &opaque(seed ^ 0x10, 150)),
        ]
        .concat(),
    );
    // A SASL buffer: its length, then a wrap token (RFC 4121 4.2.6.2): token id 05 04, flags
    // (bit 0 sent by the acceptor, bit 1 sealed, bit 2 acceptor subkey), filler, EC, RRC, the
    // sequence number, then the encrypted data.
    let wrapped = |seed: u32, n: usize, from_server: bool| {
        let flags = if from_server { 0x07 } else { 0x06 };
        let token = [
            &[0x05, 0x04, flags, 0xff, 0x00, 0x00, 0x00, 0x1c][..],
            &u64::from(seed).to_be_bytes(),
            &opaque(seed, n),
        ]
        .concat();
        let n32 = u32::try_from(token.len())
            .expect("SASL buffer")
            .to_be_bytes();
        [&n32[..], &token].concat()
    };
    let mut s = cap.tcp(client, server);
    s.handshake()
        .client_sends(&ldap_message(1, &bind))
        .server_sends(&ldap_message(1, &bound));
    for (i, &(up, down)) in (0u32..).zip(exchanges) {
        s.client_sends(&wrapped(seed ^ (0x100 + i), up, false))
            .server_sends(&wrapped(seed ^ (0x200 + i), down, true));
    }
    s.close();
}

/// An LDAP simple bind (password in clear text), its success, and an unbind.
fn ldap_simple_bind(
    cap: &mut Capture,
    client: SocketAddr,
    server: SocketAddr,
    dn: &str,
    password: &str,
) {
    let bind = ber(
        0x60,
        &[
            &[0x02, 0x01, 0x03][..],
            &ber(0x04, dn.as_bytes()),
            &ber(0x80, password.as_bytes()),
        ]
        .concat(),
    );
    let success = [0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
    let unbind = [0x42, 0x00];
    let mut s = cap.tcp(client, server);
    s.handshake()
        .client_sends(&ldap_message(1, &bind))
        .server_sends(&ldap_message(1, &success))
        .client_sends(&ldap_message(2, &unbind))
        .close();
}

/// A DCE/RPC PDU: the 16-byte common header, then `body`.
pub fn dcerpc(ptype: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let frag_len = u16::try_from(16 + body.len()).expect("PDU length");
    [
        &[0x05, 0x00, ptype, 0x03, 0x10, 0x00, 0x00, 0x00][..],
        &frag_len.to_le_bytes(),
        &[0x00, 0x00],
        &call_id.to_le_bytes(),
        body,
    ]
    .concat()
}

/// The store (EMSMDB, MS-OXCRPC) and the address book (NSPI, MS-OXNSPI) interfaces.
pub const EMSMDB: u128 = 0xa4f1_db00_ca47_1067_b31f_00dd_0106_62da;
pub const NSPI: u128 = 0xf5cc_5a18_4264_101a_8c59_0800_2b2f_8426;

/// Bind to the endpoint mapper (no authentication, as Windows does), one ept_map request for
/// `interface` and its answer with one ncacn_ip_tcp tower per `(port, address)` (0.0.0.0: the
/// answering server), close.
pub fn rpc_epmap(
    cap: &mut Capture,
    client: SocketAddr,
    server: SocketAddr,
    interface: u128,
    towers: &[(u16, [u8; 4])],
) {
    use super::epm::{map_request, map_response, tcp_tower};
    const EPM: u128 = 0xe1af_8308_5d1f_11c9_91a4_0800_2b14_a0fa;
    let iface = Uuid::from_u128(interface);
    let towers: Vec<Vec<u8>> = towers
        .iter()
        .map(|(port, ip)| tcp_tower(iface, 4, *port, *ip))
        .collect();
    let mut s = cap.tcp(client, server);
    s.handshake()
        .client_sends(&dcerpc(0x0b, 1, &rpc_bind_body(EPM, 3, 0)))
        .server_sends(&dcerpc(0x0c, 1, &rpc_bind_ack_body(135)))
        .client_sends(&dcerpc(
            0x00,
            2,
            &rpc_request_body(3, &map_request(iface, 4, false)),
        ))
        .server_sends(&dcerpc(
            0x02,
            2,
            &rpc_response_body(&map_response(&towers, false, 0)),
        ))
        .close();
}

/// A response: alloc hint, context 0, cancel count, then the stub.
pub fn rpc_response_body(stub: &[u8]) -> Vec<u8> {
    [
        &u32::try_from(stub.len()).expect("stub").to_le_bytes()[..],
        &0u16.to_le_bytes(),
        &[0, 0],
        stub,
    ]
    .concat()
}

/// `GET /owa/` over plain HTTP, redirected to HTTPS.
fn http_redirect(cap: &mut Capture, client: SocketAddr, server: SocketAddr) {
    let body = "<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>\
                This document may be found <a HREF=\"https://mail.contoso.com/owa/\">here</a></body>";
    let date = clock(cap).replacen(" 5 ", " 05 ", 1);
    let response = format!(
        "HTTP/1.1 301 Moved Permanently\r\nContent-Type: text/html; charset=UTF-8\r\n\
         Location: https://mail.contoso.com/owa/\r\nServer: Microsoft-IIS/7.5\r\n\
         X-Powered-By: ASP.NET\r\nDate: {date} GMT\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = cap.tcp(client, server);
    s.handshake()
        .client_sends(
            b"GET /owa/ HTTP/1.1\r\nAccept: text/html, application/xhtml+xml, */*\r\n\
              Accept-Language: en-US\r\nUser-Agent: Mozilla/5.0 (Windows NT 6.1; WOW64; \
              Trident/7.0; rv:11.0) like Gecko\r\nAccept-Encoding: gzip, deflate\r\n\
              Host: mail.contoso.com\r\nConnection: Keep-Alive\r\n\r\n",
        )
        .server_sends(response.as_bytes())
        .close();
}

/// POP3 in clear text: login, STAT, QUIT.
fn pop3(cap: &mut Capture, client: SocketAddr, server: SocketAddr) {
    let mut s = cap.tcp(client, server);
    s.handshake()
        .server_sends(b"+OK The Microsoft Exchange POP3 service is ready.\r\n")
        .client_sends(b"USER alice\r\n")
        .server_sends(b"+OK\r\n")
        .client_sends(b"PASS Spring2026\r\n")
        .server_sends(b"+OK User successfully logged on.\r\n")
        .client_sends(b"STAT\r\n")
        .server_sends(b"+OK 2 5321\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"+OK Microsoft Exchange Server 2010 POP3 server signing off.\r\n");
    server_closes(&mut s);
}

/// The PBX forwards a call to UM over SIP/TCP; the caller hangs up after leaving a message.
fn sip_call(cap: &mut Capture, pbx: SocketAddr, um: SocketAddr) {
    let (p, u) = (pbx.ip(), um.ip());
    let via = format!("Via: SIP/2.0/TCP {pbx};branch=z9hG4bK-7d1a");
    let dialog = format!(
        "From: \"Reception\" <sip:1001@{p}>;tag=8f3c21\r\n\
         To: <sip:8000@um01.contoso.com>"
    );
    let call_id = format!("Call-ID: 4e1f9a2c-0105@{p}");
    let offer = super::sip::sdp(&p.to_string(), 20000, "RTP/AVP", false, None);
    let invite = format!(
        "INVITE sip:8000@um01.contoso.com;transport=tcp SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
         {dialog}\r\n{call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@{pbx};transport=tcp>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
        offer.len()
    );
    let trying = format!(
        "SIP/2.0 100 Trying\r\n{via}\r\n{dialog}\r\n{call_id}\r\nCSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let answer = super::sip::sdp(&u.to_string(), 16500, "RTP/AVP", false, None);
    let ok = format!(
        "SIP/2.0 200 OK\r\n{via}\r\n{dialog};tag=a71b09\r\n{call_id}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:8000@{um};transport=tcp>\r\nServer: RTCC/3.5.0.0 MSExchangeUM/14.3.123.4\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer}",
        answer.len()
    );
    let ack = format!(
        "ACK sip:8000@{um};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {pbx};branch=z9hG4bK-7d1b\r\n\
         Max-Forwards: 70\r\n{dialog};tag=a71b09\r\n{call_id}\r\nCSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let bye = format!(
        "BYE sip:8000@{um};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {pbx};branch=z9hG4bK-7d1c\r\n\
         Max-Forwards: 70\r\n{dialog};tag=a71b09\r\n{call_id}\r\nCSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let bye_ok = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP {pbx};branch=z9hG4bK-7d1c\r\n{dialog};tag=a71b09\r\n\
         {call_id}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    let mut s = cap.tcp(pbx, um);
    s.handshake()
        .client_sends(invite.as_bytes())
        .server_sends(trying.as_bytes())
        .server_sends(ok.as_bytes())
        .client_sends(ack.as_bytes());
    // The caller's message: G.711 RTP both ways every 100 ms (thinned out from 20 ms), and an
    // RTCP report each way, on the ports the offer and the answer named.
    let cap = s.capture();
    let (rtp_p, rtp_u) = (SocketAddr::new(p, 20000), SocketAddr::new(u, 16500));
    for i in 0..25u16 {
        cap.wait(Duration::from_millis(100));
        let ts = u32::from(i) * 800;
        cap.udp(rtp_p, rtp_u, &super::sip::rtp(0, i, ts, 0x5eed_0001, 160));
        cap.udp(
            rtp_u,
            rtp_p,
            &super::sip::rtp(0, 900 + i, ts, 0x5eed_0002, 160),
        );
    }
    let (rtcp_p, rtcp_u) = (SocketAddr::new(p, 20001), SocketAddr::new(u, 16501));
    cap.udp(rtcp_p, rtcp_u, &super::sip::rtcp_sender_report(0x5eed_0001));
    cap.udp(rtcp_u, rtcp_p, &super::sip::rtcp_sender_report(0x5eed_0002));
    cap.wait(Duration::from_millis(100));
    s.client_sends(bye.as_bytes())
        .server_sends(bye_ok.as_bytes())
        .close();
}

/// An RDP X.224 Connection Request with a cookie, asking for TLS.
fn rdp_connection_request(user: &str) -> Vec<u8> {
    let cookie = format!("Cookie: mstshash={user}\r\n");
    let x224_len = u8::try_from(6 + cookie.len() + 8).expect("X.224 length");
    let tpkt_len = u16::try_from(4 + 1 + usize::from(x224_len)).expect("TPKT length");
    [
        &[0x03, 0x00][..],
        &tpkt_len.to_be_bytes(),
        &[x224_len, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00],
        cookie.as_bytes(),
        &[0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00],
    ]
    .concat()
}

/// What [`secrets`] recorded: the capture, every secret in it as it was typed, and what each
/// flow must show.
#[derive(Debug)]
pub struct Secrets {
    pub capture: Capture,
    pub secrets: Vec<&'static str>,
    pub flows: Vec<SecretFlow>,
}

/// What one flow of [`secrets`] must show.
#[derive(Clone, Copy, Debug)]
pub struct SecretFlow {
    /// The flow's client port, which tells it apart.
    pub client_port: u16,
    /// A user some authentication names; `None`: no authentication may name anyone.
    pub user: Option<&'static str>,
    /// A clear-text credential is reported.
    pub clear: bool,
}

/// The clear-text logins of every protocol the inspectors read, each with a password (or token)
/// that appears nowhere else, for the test that no output ever contains one. The malformed logins
/// whose user cannot be told from the password are among them.
pub fn secrets() -> Secrets {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let client = "10.9.0.50";
    let server = "10.9.0.10";
    let at = |host: &str, port: u16| addr(&format!("{host}:{port}"));
    let mut cap = Capture::new();
    let mut secrets = vec![
        "Plain-Smtp-Secret-1",
        "Login-Smtp-Secret-2",
        "Imap-Login-Secret-3",
        "Pop3-Pass-Secret-4",
        "Ldap-Bind-Secret-5",
        "Http-Basic-Secret-6",
        "eyJhbGciOiJub25lIn0.Bearer-Secret-7",
        "Imap-Plain-Secret-8",
        "Pop3-Plain-Secret-9",
        "Query-Token-Secret-10",
    ];
    let named = |client_port: u16, user: &'static str| SecretFlow {
        client_port,
        user: Some(user),
        clear: true,
    };
    let mut flows = vec![
        named(50001, "alice"),
        named(50002, "bob"),
        named(50003, "carol"),
        named(50004, "dave"),
        named(50005, "erin"),
        named(50006, "frank"),
        named(50007, "grace"),
        named(50008, "heidi"),
    ];

    // SMTP AUTH PLAIN on 587, no STARTTLS.
    let mut s = cap.tcp(at(client, 50001), at(server, 587));
    s.handshake()
        .server_sends(b"220 mail.contoso.com Microsoft ESMTP MAIL Service ready\r\n")
        .client_sends(b"EHLO ws50\r\n")
        .server_sends(b"250-mail.contoso.com Hello\r\n250-AUTH LOGIN PLAIN\r\n250 OK\r\n")
        .client_sends(format!("AUTH PLAIN {}\r\n", b64(b"\0alice\0Plain-Smtp-Secret-1")).as_bytes())
        .server_sends(b"235 2.7.0 Authentication successful\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"221 2.0.0 Bye\r\n")
        .close();
    cap.wait(Duration::from_millis(20));

    // SMTP AUTH LOGIN.
    let mut s = cap.tcp(at(client, 50002), at(server, 587));
    s.handshake()
        .server_sends(b"220 mail.contoso.com Microsoft ESMTP MAIL Service ready\r\n")
        .client_sends(b"EHLO ws50\r\n")
        .server_sends(b"250-mail.contoso.com Hello\r\n250-AUTH LOGIN\r\n250 OK\r\n")
        .client_sends(b"AUTH LOGIN\r\n")
        .server_sends(b"334 VXNlcm5hbWU6\r\n")
        .client_sends(format!("{}\r\n", b64(b"bob")).as_bytes())
        .server_sends(b"334 UGFzc3dvcmQ6\r\n")
        .client_sends(format!("{}\r\n", b64(b"Login-Smtp-Secret-2")).as_bytes())
        .server_sends(b"235 2.7.0 Authentication successful\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"221 2.0.0 Bye\r\n")
        .close();
    cap.wait(Duration::from_millis(20));

    // IMAP LOGIN and AUTHENTICATE PLAIN.
    let mut s = cap.tcp(at(client, 50003), at(server, 143));
    s.handshake()
        .server_sends(b"* OK The Microsoft Exchange IMAP4 service is ready.\r\n")
        .client_sends(b"a1 LOGIN carol \"Imap-Login-Secret-3\"\r\n")
        .server_sends(b"a1 OK LOGIN completed.\r\n")
        .client_sends(b"a2 LOGOUT\r\n")
        .server_sends(b"* BYE\r\na2 OK LOGOUT completed.\r\n")
        .close();
    cap.wait(Duration::from_millis(20));
    let mut s = cap.tcp(at(client, 50004), at(server, 143));
    s.handshake()
        .server_sends(b"* OK The Microsoft Exchange IMAP4 service is ready.\r\n")
        .client_sends(b"a1 AUTHENTICATE PLAIN\r\n")
        .server_sends(b"+ \r\n")
        .client_sends(format!("{}\r\n", b64(b"\0dave\0Imap-Plain-Secret-8")).as_bytes())
        .server_sends(b"a1 OK AUTHENTICATE completed.\r\n")
        .close();
    cap.wait(Duration::from_millis(20));

    // POP3 USER/PASS and AUTH PLAIN.
    let mut s = cap.tcp(at(client, 50005), at(server, 110));
    s.handshake()
        .server_sends(b"+OK The Microsoft Exchange POP3 service is ready.\r\n")
        .client_sends(b"USER erin\r\n")
        .server_sends(b"+OK\r\n")
        .client_sends(b"PASS Pop3-Pass-Secret-4\r\n")
        .server_sends(b"+OK User successfully logged on.\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"+OK Bye\r\n")
        .close();
    cap.wait(Duration::from_millis(20));
    let mut s = cap.tcp(at(client, 50006), at(server, 110));
    s.handshake()
        .server_sends(b"+OK The Microsoft Exchange POP3 service is ready.\r\n")
        .client_sends(format!("AUTH PLAIN {}\r\n", b64(b"\0frank\0Pop3-Plain-Secret-9")).as_bytes())
        .server_sends(b"+OK User successfully authenticated.\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"+OK Bye\r\n")
        .close();
    cap.wait(Duration::from_millis(20));

    // LDAP simple bind.
    ldap_simple_bind(
        &mut cap,
        at(client, 50007),
        at(server, 389),
        "CN=grace,CN=Users,DC=contoso,DC=com",
        "Ldap-Bind-Secret-5",
    );
    cap.wait(Duration::from_millis(20));

    // HTTP Basic, a bearer token, and a token in a query string.
    let mut s = cap.tcp(at(client, 50008), at(server, 80));
    s.handshake()
        .client_sends(
            format!(
                "GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\n\
                 Authorization: Basic {}\r\n\r\n",
                b64(b"heidi:Http-Basic-Secret-6")
            )
            .as_bytes(),
        )
        .server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .client_sends(
            b"GET /Microsoft-Server-ActiveSync?Cmd=Ping HTTP/1.1\r\nHost: mail.contoso.com\r\n\
              Authorization: Bearer eyJhbGciOiJub25lIn0.Bearer-Secret-7\r\n\r\n",
        )
        .server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .client_sends(
            b"GET /owa/?access_token=Query-Token-Secret-10 HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n",
        )
        .server_sends(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n")
        .close();

    // Logins whose user can only be told from the protocol's structure, malformed ones among
    // them, and the clear-text credentials of Outlook on the web.
    let more: [(&str, &str, &str); 11] = [
        ("smtp-plain-two-fields", "ivan", "Plain-Two-Fields-Smtp-11"),
        (
            "imap-authenticate-plain-two-fields",
            "judy",
            "Plain-Two-Fields-Imap-12",
        ),
        (
            "pop3-auth-plain-two-fields",
            "kim",
            "Plain-Two-Fields-Pop3-13",
        ),
        (
            "ldap-sasl-plain-two-fields",
            "leo",
            "Plain-Two-Fields-Ldap-14",
        ),
        (
            "smtp-login-password-first",
            "mallory",
            "Login-Password-First-15",
        ),
        ("imap-login-one-argument", "nina", "Imap-One-Argument-16"),
        (
            "http-basic-without-colon",
            "oscar",
            "Basic-Without-Colon-17",
        ),
        (
            "smtp-cram-md5-digest-alone",
            "peggy",
            "b913a602c7eda7a495b4e6e7334d3890",
        ),
        ("http-owa-form", "quentin", "Owa-Form-Password-19"),
        ("http-url-userinfo", "rupert", "Url-Userinfo-Password-20"),
        ("http-owa-session-cookie", "sybil", "Owa-Cadata-Cookie-21"),
    ];
    for ((name, user, secret), port) in more.into_iter().zip(50011u16..) {
        cap.wait(Duration::from_millis(20));
        let login = super::logins::Login::named(name);
        login.add(
            &mut cap,
            at(client, port),
            at(server, login.port),
            user,
            secret,
        );
        secrets.push(secret);
        flows.push(SecretFlow {
            client_port: port,
            user: login.expect.named.then_some(user),
            clear: login.expect.clear,
        });
    }
    Secrets {
        capture: cap,
        secrets,
        flows,
    }
}

/// NDR transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860 version 2.
fn ndr() -> Vec<u8> {
    [
        super::epm::uuid_le(Uuid::from_u128(0x8a88_5d04_1ceb_11c9_9fe8_0800_2b10_4860)),
        2u32.to_le_bytes().to_vec(),
    ]
    .concat()
}

/// A DCE/RPC PDU with an auth verifier (`auth`: type, level, value) after 4-byte padding.
pub fn dcerpc_auth(ptype: u8, call_id: u32, body: &[u8], auth: Option<(u8, u8, &[u8])>) -> Vec<u8> {
    let mut body = body.to_vec();
    let mut auth_len = 0u16;
    if let Some((ty, level, value)) = auth {
        let pad = (4 - (16 + body.len()) % 4) % 4;
        body.extend(std::iter::repeat_n(0u8, pad));
        body.extend_from_slice(&[ty, level, u8::try_from(pad).expect("pad"), 0]);
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(value);
        auth_len = u16::try_from(value.len()).expect("auth value");
    }
    let mut pdu = dcerpc(ptype, call_id, &body);
    pdu[10..12].copy_from_slice(&auth_len.to_le_bytes());
    pdu
}

/// A bind offering one interface over NDR.
pub fn rpc_bind_body(interface: u128, major: u16, minor: u16) -> Vec<u8> {
    [
        &5840u16.to_le_bytes()[..],
        &5840u16.to_le_bytes(),
        &0u32.to_le_bytes(),
        &[1, 0, 0, 0],
        &0u16.to_le_bytes(),
        &[1, 0],
        &super::epm::uuid_le(Uuid::from_u128(interface)),
        &major.to_le_bytes(),
        &minor.to_le_bytes(),
        &ndr(),
    ]
    .concat()
}

/// A bind_ack accepting the one context, with the server's port as secondary address.
pub fn rpc_bind_ack_body(port: u16) -> Vec<u8> {
    let addr = format!("{port}\0");
    let mut v = [
        &5840u16.to_le_bytes()[..],
        &5840u16.to_le_bytes(),
        &0x0001_2a4bu32.to_le_bytes(),
        &u16::try_from(addr.len()).expect("address").to_le_bytes(),
        addr.as_bytes(),
    ]
    .concat();
    while (16 + v.len()) % 4 != 0 {
        v.push(0);
    }
    v.extend_from_slice(&[1, 0, 0, 0]);
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&ndr());
    v
}

/// A request: alloc hint, context 0, the opnum, then the stub.
pub fn rpc_request_body(opnum: u16, stub: &[u8]) -> Vec<u8> {
    [
        &u32::try_from(stub.len()).expect("stub").to_le_bytes()[..],
        &0u16.to_le_bytes(),
        &opnum.to_le_bytes(),
        stub,
    ]
    .concat()
}

/// DCE/RPC authentication levels: connect (authenticated, nothing signed or encrypted) and
/// packet privacy (encrypted).
pub const CONNECT: u8 = 2;
pub const PRIVACY: u8 = 6;

/// A bind to the Exchange store (EMSMDB) with NTLM at authentication level `level`, then
/// EcDoConnectEx.
pub fn rpc_emsmdb(cap: &mut Capture, client: SocketAddr, server: SocketAddr, level: u8, seed: u32) {
    const NTLM: u8 = 10;
    let mut s = cap.tcp(client, server);
    s.handshake()
        .client_sends(&dcerpc_auth(
            0x0b,
            1,
            &rpc_bind_body(EMSMDB, 0, 81),
            Some((NTLM, level, &super::ntlm::negotiate())),
        ))
        .server_sends(&dcerpc_auth(
            0x0c,
            1,
            &rpc_bind_ack_body(server.port()),
            Some((
                NTLM,
                level,
                &super::ntlm::challenge("CONTOSO", &opaque(seed, 8).try_into().expect("8 bytes")),
            )),
        ))
        .client_sends(&dcerpc_auth(
            0x10,
            1,
            &[0u8; 4],
            Some((
                NTLM,
                level,
                &super::ntlm::authenticate(&opaque(seed ^ 1, 64), "CONTOSO", "CAS01$", "CAS01"),
            )),
        ))
        .client_sends(&dcerpc(
            0x00,
            2,
            &rpc_request_body(10, &opaque(seed ^ 2, 180)),
        ))
        .server_sends(&dcerpc(0x02, 2, &opaque(seed ^ 3, 220)))
        .close();
}

/// Hub to Edge SMTP in clear text: the Edge offers no STARTTLS (its certificate is gone), so the
/// message crosses the perimeter readable.
fn smtp_hub_edge_clear(cap: &mut Capture, client: SocketAddr, server: SocketAddr) {
    let banner = smtp_banner(cap, "edge01.contoso.com");
    let ehlo = format!(
        "250-edge01.contoso.com Hello [{}]\r\n250-SIZE 10485760\r\n250-PIPELINING\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-X-ANONYMOUSTLS\r\n250-AUTH\r\n250-8BITMIME\r\n\
         250 XEXCH50\r\n",
        client.ip()
    );
    let message = "From: Alice <alice@contoso.com>\r\nTo: orders@example.org\r\n\
                   Subject: Re: Your order 48213 has shipped\r\n\r\nThank you.\r\n.\r\n";
    let mut s = cap.tcp(client, server);
    s.handshake()
        .server_sends(banner.as_bytes())
        .client_sends(b"EHLO hub01.contoso.com\r\n")
        .server_sends(ehlo.as_bytes())
        .client_sends(b"MAIL FROM:<alice@contoso.com> SIZE=240\r\n")
        .server_sends(b"250 2.1.0 Sender OK\r\n")
        .client_sends(b"RCPT TO:<orders@example.org>\r\n")
        .server_sends(b"250 2.1.5 Recipient OK\r\n")
        .client_sends(b"DATA\r\n")
        .server_sends(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
        .client_sends(message.as_bytes())
        .server_sends(b"250 2.6.0 Queued mail for delivery\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"221 2.0.0 Service closing transmission channel\r\n");
    server_closes(&mut s);
}

/// A client submits mail on 587 and authenticates with AUTH LOGIN before any TLS.
fn smtp_submission_auth_login(cap: &mut Capture, client: SocketAddr, server: SocketAddr) {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let banner = smtp_banner(cap, "hub01.contoso.com");
    let ehlo = format!(
        "250-hub01.contoso.com Hello [{}]\r\n250-SIZE 10485760\r\n250-PIPELINING\r\n\
         250-STARTTLS\r\n250-AUTH NTLM LOGIN\r\n250 8BITMIME\r\n",
        client.ip()
    );
    let mut s = cap.tcp(client, server);
    s.handshake()
        .server_sends(banner.as_bytes())
        .client_sends(b"EHLO ws53\r\n")
        .server_sends(ehlo.as_bytes())
        .client_sends(b"AUTH LOGIN\r\n")
        .server_sends(b"334 VXNlcm5hbWU6\r\n")
        .client_sends(format!("{}\r\n", b64("bob@contoso.com")).as_bytes())
        .server_sends(b"334 UGFzc3dvcmQ6\r\n")
        .client_sends(format!("{}\r\n", b64("Autumn2025")).as_bytes())
        .server_sends(b"235 2.7.0 Authentication successful\r\n")
        .client_sends(b"QUIT\r\n")
        .server_sends(b"221 2.0.0 Service closing transmission channel\r\n");
    server_closes(&mut s);
}
