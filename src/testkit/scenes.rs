//! The scenarios behind the captures committed in `fixtures/`. `cargo run --example fixtures`
//! writes them; a test checks that the committed files are exactly what these functions make.

use std::net::IpAddr;

use super::{Capture, Dir, Encap, addr, flags, ip};
use crate::time::Duration;

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
