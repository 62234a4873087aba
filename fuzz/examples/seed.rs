//! Writes the seed corpora of the fuzz targets into `fuzz/corpus/<target>/`, built with
//! `exaudit::testkit` so every seed is a small valid input:
//!
//! ```text
//! cd fuzz && cargo run --example seed              # into corpus/<target>/
//! cd fuzz && cargo run --example seed -- /tmp/seeds # into /tmp/seeds/<target>/
//! ```
//!
//! The committed corpus is the output of fuzzing, minimised; these seeds are where it started.
//!
//! `capture` gets whole pcap and pcapng files; `decode` gets `[selector, frame…]` with the
//! selector naming the link type's index in `LinkType::SUPPORTED`; `flow_sequence` gets raw IP
//! packets as `[dt, len_hi, len_lo, packet…]` (dt in 50 ms units), as the targets read them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use exaudit::source::LinkType;
use exaudit::testkit::{Capture, Dir, Encap, NgBlock, PcapOptions, PcapngOptions, addr, ip};
use exaudit::testkit::{Endian, Frame, flags};
use exaudit::time::Duration;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        PathBuf::from,
    );
    capture_seeds(&root.join("capture"))?;
    decode_seeds(&root.join("decode"))?;
    flow_sequence_seeds(&root.join("flow_sequence"))?;
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)
}

/// An SMTP-like session: handshake, a request and an answer, FIN from both sides.
fn session(cap: &mut Capture, client: &str, server: &str) {
    let mut s = cap.tcp(addr(client), addr(server));
    s.handshake();
    s.client_sends(b"EHLO client.example\r\n");
    s.server_sends(b"250 mail.example\r\n");
    s.close();
}

/// One TCP session in the given encapsulation.
fn tcp_in(encap: Encap, v6: bool) -> Capture {
    let mut cap = Capture::new();
    cap.encap(encap);
    if v6 {
        session(&mut cap, "[2001:db8::9]:40000", "[2001:db8::1]:25");
    } else {
        session(&mut cap, "10.0.0.9:40000", "10.0.0.1:25");
    }
    cap
}

/// UDP query and answer, then an ICMP port unreachable quoting a second datagram.
fn udp_and_icmp(encap: Encap, v6: bool) -> Capture {
    let mut cap = Capture::new();
    cap.encap(encap);
    let (c, s, syslog, router) = if v6 {
        (
            "[2001:db8::9]:53000",
            "[2001:db8::53]:53",
            "[2001:db8::77]:514",
            "2001:db8::fe",
        )
    } else {
        (
            "10.0.0.9:53000",
            "10.0.0.53:53",
            "10.0.0.77:514",
            "10.0.0.254",
        )
    };
    let (c, s) = (addr(c), addr(s));
    cap.udp(c, s, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00");
    cap.udp(s, c, b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00");
    cap.udp(c, addr(syslog), b"<13>hello");
    if let Some(orig) = cap.last_ip_packet() {
        cap.icmp_unreachable(ip(router), &orig, 3);
    }
    cap.ping(c.ip(), s.ip(), 7, 1, false);
    cap.ping(s.ip(), c.ip(), 7, 1, true);
    cap
}

/// A UDP datagram of 600 bytes sent as 4 IPv4 fragments, out of order.
fn fragments() -> Capture {
    let mut cap = Capture::new();
    let mut probe = Capture::new();
    probe.encap(Encap::Raw(LinkType::RAW));
    probe.udp(addr("10.0.0.9:40001"), addr("10.0.0.2:4789"), &[0x5a; 600]);
    if let Some(p) = probe.last_ip_packet() {
        cap.push_fragmented(&p, 160, Some(&[1, 0, 3, 2]));
    }
    cap
}

/// Refused SYN, a reset session, a retransmission and a loss, all over Ethernet.
fn odd_tcp() -> Capture {
    let mut cap = Capture::new();
    cap.tcp(addr("10.0.0.9:40010"), addr("10.0.0.1:135"))
        .syn()
        .refuse();
    let mut s = cap.tcp(addr("10.0.0.9:40011"), addr("10.0.0.1:443"));
    s.handshake().client_sends(b"\x16\x03\x01\x00\x05hello");
    s.retransmit_last();
    s.lose(Dir::ToClient, 100)
        .server_sends(b"later")
        .rst(Dir::ToServer);
    let mut s = cap.tcp(addr("10.0.0.9:40012"), addr("10.0.0.1:25"));
    s.syn();
    cap.wait(Duration::from_secs(10));
    // A mid-stream flow from the server's side.
    let mut s = cap.tcp(addr("10.0.0.9:40013"), addr("10.0.0.1:389"));
    s.raw(
        Dir::ToClient,
        flags::ACK | flags::PSH,
        5000,
        7000,
        b"0\x0c\x02\x01\x01",
    );
    cap
}

/// Nine short flows, to overflow a small table; the 5-tuple of the first is then reused.
fn many_flows() -> Capture {
    let mut cap = Capture::new();
    for i in 0..9u16 {
        let mut s = cap.tcp(
            addr(&format!("10.0.1.{}:{}", i + 1, 41000 + i)),
            addr("10.0.0.1:443"),
        );
        s.handshake().client_sends(b"x");
    }
    cap.wait(Duration::from_secs(3));
    session(&mut cap, "10.0.1.1:41000", "10.0.0.1:443");
    cap
}

fn capture_seeds(dir: &Path) -> std::io::Result<()> {
    let gre: (IpAddr, IpAddr) = (ip("192.0.2.1"), ip("192.0.2.2"));
    let raw = |l| Encap::Raw(l);
    let cases: Vec<(&str, Capture)> = vec![
        ("tcp-eth", tcp_in(Encap::Ethernet(vec![]), false)),
        (
            "tcp-vlan",
            tcp_in(Encap::Ethernet(vec![(0x8100, 10)]), false),
        ),
        (
            "tcp-qinq-v6",
            tcp_in(Encap::Ethernet(vec![(0x88a8, 100), (0x8100, 20)]), true),
        ),
        ("tcp-eth-v6", tcp_in(Encap::Ethernet(vec![]), true)),
        ("tcp-sll", tcp_in(Encap::Sll, false)),
        ("tcp-sll2-v6", tcp_in(Encap::Sll2, true)),
        ("tcp-null", tcp_in(Encap::Null, false)),
        ("tcp-nflog", tcp_in(Encap::Nflog, false)),
        ("tcp-pppoe", tcp_in(Encap::Pppoe, false)),
        ("tcp-raw101", tcp_in(raw(LinkType::RAW), false)),
        ("tcp-raw12-v6", tcp_in(raw(LinkType::RAW_12), true)),
        ("tcp-ipv4-228", tcp_in(raw(LinkType::IPV4), false)),
        ("tcp-ipv6-229", tcp_in(raw(LinkType::IPV6), true)),
        ("tcp-gre-teb", tcp_in(Encap::GreTeb(gre.0, gre.1), false)),
        ("tcp-erspan2", tcp_in(Encap::Erspan2(gre.0, gre.1), false)),
        ("tcp-erspan3-v6", tcp_in(Encap::Erspan3(gre.0, gre.1), true)),
        ("udp-icmp", udp_and_icmp(Encap::Ethernet(vec![]), false)),
        ("udp-icmp-v6", udp_and_icmp(Encap::Ethernet(vec![]), true)),
        ("frag-v4", fragments()),
        ("tcp-odd", odd_tcp()),
        ("many-flows", many_flows()),
    ];
    for (name, cap) in &cases {
        write(dir, &format!("{name}.pcap"), &cap.to_pcap())?;
    }
    // The reader's variations, on one scenario each.
    let tcp = tcp_in(Encap::Ethernet(vec![]), false);
    let be = PcapOptions {
        endian: Endian::Big,
        nanos: true,
    };
    write(dir, "tcp-eth-be-nanos.pcap", &tcp.to_pcap_with(&be))?;
    write(dir, "tcp-eth.pcapng", &tcp.to_pcapng())?;
    let ng = |endian, nanos, block, section_every, decoy_interface| PcapngOptions {
        endian,
        nanos,
        block,
        section_every,
        decoy_interface,
        ..PcapngOptions::default()
    };
    let be_ng = ng(Endian::Big, true, NgBlock::Enhanced, 0, true);
    write(
        dir,
        "tcp-eth-be-nanos-decoy.pcapng",
        &tcp.to_pcapng_with(&be_ng),
    )?;
    let simple = ng(Endian::Little, false, NgBlock::Simple, 0, false);
    write(dir, "tcp-eth-simple.pcapng", &tcp.to_pcapng_with(&simple))?;
    let obsolete = ng(Endian::Little, false, NgBlock::Obsolete, 3, false);
    write(
        dir,
        "tcp-eth-obsolete-sections.pcapng",
        &tcp.to_pcapng_with(&obsolete),
    )?;
    // Several link types in one pcapng (one interface each).
    let mut mixed = tcp_in(Encap::Sll, false);
    mixed.encap(Encap::Null);
    session(&mut mixed, "10.0.0.9:40001", "10.0.0.1:143");
    mixed.encap(Encap::Raw(LinkType::RAW));
    session(&mut mixed, "[2001:db8::9]:40002", "[2001:db8::1]:993");
    write(dir, "mixed-links.pcapng", &mixed.to_pcapng())?;
    // Cut by a snaplen: headers only.
    let mut cut = Capture::new();
    cut.snaplen(60);
    session(&mut cut, "10.0.0.9:40003", "10.0.0.1:25");
    write(dir, "tcp-snaplen60.pcap", &cut.to_pcap())?;
    Ok(())
}

/// The index of a link type in `LinkType::SUPPORTED`, as the decode target's selector.
fn selector(l: LinkType) -> u8 {
    let i = LinkType::SUPPORTED
        .iter()
        .position(|s| *s == l)
        .unwrap_or(0);
    u8::try_from(i).unwrap_or(0)
}

fn decode_input(f: &Frame, extra: u8) -> Vec<u8> {
    let mut v = vec![selector(f.link) | extra];
    v.extend_from_slice(&f.data);
    v
}

fn decode_seeds(dir: &Path) -> std::io::Result<()> {
    let gre: (IpAddr, IpAddr) = (ip("192.0.2.1"), ip("192.0.2.2"));
    // (name, capture, frame index, selector bits): SYN is frame 0, the first data segment 3.
    let cases: Vec<(&str, Capture, usize, u8)> = vec![
        ("eth-syn", tcp_in(Encap::Ethernet(vec![]), false), 0, 0),
        (
            "eth-data-verify",
            tcp_in(Encap::Ethernet(vec![]), false),
            3,
            0x10,
        ),
        (
            "eth-data-cut",
            tcp_in(Encap::Ethernet(vec![]), false),
            3,
            0x20,
        ),
        (
            "vlan-syn",
            tcp_in(Encap::Ethernet(vec![(0x8100, 10)]), false),
            0,
            0,
        ),
        (
            "qinq-v6-data",
            tcp_in(Encap::Ethernet(vec![(0x88a8, 100), (0x8100, 20)]), true),
            3,
            0x10,
        ),
        ("sll-data", tcp_in(Encap::Sll, false), 3, 0),
        ("sll2-v6-syn", tcp_in(Encap::Sll2, true), 0, 0),
        ("null-fin", tcp_in(Encap::Null, false), 5, 0),
        ("nflog-data", tcp_in(Encap::Nflog, false), 3, 0),
        ("pppoe-data", tcp_in(Encap::Pppoe, false), 3, 0),
        (
            "raw101-syn",
            tcp_in(Encap::Raw(LinkType::RAW), false),
            0,
            0x10,
        ),
        (
            "raw14-v6-data",
            tcp_in(Encap::Raw(LinkType::RAW_14), true),
            3,
            0,
        ),
        (
            "ipv4-228-data",
            tcp_in(Encap::Raw(LinkType::IPV4), false),
            3,
            0,
        ),
        (
            "ipv6-229-syn",
            tcp_in(Encap::Raw(LinkType::IPV6), true),
            0,
            0x10,
        ),
        (
            "gre-teb-data",
            tcp_in(Encap::GreTeb(gre.0, gre.1), false),
            3,
            0,
        ),
        (
            "erspan2-syn",
            tcp_in(Encap::Erspan2(gre.0, gre.1), false),
            0,
            0,
        ),
        (
            "erspan3-v6-data",
            tcp_in(Encap::Erspan3(gre.0, gre.1), true),
            3,
            0,
        ),
        (
            "udp-query-verify",
            udp_and_icmp(Encap::Ethernet(vec![]), false),
            0,
            0x10,
        ),
        (
            "icmp-unreach",
            udp_and_icmp(Encap::Ethernet(vec![]), false),
            3,
            0,
        ),
        (
            "icmp6-unreach",
            udp_and_icmp(Encap::Ethernet(vec![]), true),
            3,
            0,
        ),
        (
            "icmp-echo",
            udp_and_icmp(Encap::Ethernet(vec![]), false),
            4,
            0,
        ),
        ("frag-first", fragments(), 1, 0),
    ];
    for (name, cap, i, extra) in &cases {
        if let Some(f) = cap.frames().get(*i) {
            write(dir, name, &decode_input(f, *extra))?;
        }
    }
    // BSD loopback with big-endian address family (DLT_LOOP), built by hand.
    if let Some(f) = tcp_in(Encap::Raw(LinkType::RAW), false).frames().get(3) {
        let mut v = vec![selector(LinkType::LOOP), 0, 0, 0, 2];
        v.extend_from_slice(&f.data);
        write(dir, "loop-data", &v)?;
    }
    Ok(())
}

/// Raw IP frames as the flow_sequence target reads them.
fn sequence(cap: &Capture) -> Vec<u8> {
    let mut v = Vec::new();
    let mut prev = cap.frames().first().map(|f| f.ts);
    for f in cap.frames() {
        let dt = prev.map_or(0, |p| f.ts.since(p).nanos() / 50_000_000);
        prev = Some(f.ts);
        v.push(u8::try_from(dt).unwrap_or(u8::MAX));
        v.extend_from_slice(
            &u16::try_from(f.data.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        v.extend_from_slice(&f.data);
    }
    v
}

fn raw_capture() -> Capture {
    let mut cap = Capture::new();
    cap.encap(Encap::Raw(LinkType::RAW))
        .step(Duration::from_millis(100));
    cap
}

fn flow_sequence_seeds(dir: &Path) -> std::io::Result<()> {
    let mut cap = raw_capture();
    session(&mut cap, "10.0.0.9:40000", "10.0.0.1:25");
    write(dir, "session-v4", &sequence(&cap))?;

    let mut cap = raw_capture();
    session(&mut cap, "[2001:db8::9]:40000", "[2001:db8::1]:443");
    write(dir, "session-v6", &sequence(&cap))?;

    // Six flows into a table of four, then a pause past every timeout.
    let mut cap = raw_capture();
    for i in 0..6u16 {
        let mut s = cap.tcp(
            addr(&format!("10.0.1.{}:{}", i + 1, 41000 + i)),
            addr("10.0.0.1:443"),
        );
        s.handshake()
            .client_sends(b"0123456789abcdef0123456789abcdef0123");
    }
    cap.wait(Duration::from_secs(12));
    cap.udp(addr("10.0.0.9:53000"), addr("10.0.0.53:53"), b"q");
    write(dir, "evict-expire", &sequence(&cap))?;

    // The same 5-tuple twice: the second SYN starts a new flow.
    let mut cap = raw_capture();
    session(&mut cap, "10.0.0.9:40000", "10.0.0.1:25");
    cap.wait(Duration::from_millis(1500));
    session(&mut cap, "10.0.0.9:40000", "10.0.0.1:25");
    write(dir, "reuse", &sequence(&cap))?;

    // An unanswered SYN, a refused one, and a reset.
    let mut cap = raw_capture();
    cap.tcp(addr("10.0.0.9:40001"), addr("10.0.0.1:25")).syn();
    cap.tcp(addr("10.0.0.9:40002"), addr("10.0.0.1:135"))
        .syn()
        .refuse();
    let mut s = cap.tcp(addr("10.0.0.9:40003"), addr("10.0.0.1:443"));
    s.handshake().client_sends(b"hello").retransmit_last();
    s.lose(Dir::ToClient, 10)
        .server_sends(b"gap")
        .rst(Dir::ToClient);
    cap.wait(Duration::from_secs(3));
    cap.ping(ip("10.0.0.9"), ip("10.0.0.1"), 1, 1, false);
    write(dir, "attempt-refused-reset", &sequence(&cap))?;

    // UDP, then an ICMP error that quotes it.
    let mut cap = raw_capture();
    cap.udp(addr("10.0.0.9:53000"), addr("10.0.0.53:53"), b"query");
    if let Some(orig) = cap.last_ip_packet() {
        cap.icmp_unreachable(ip("10.0.0.254"), &orig, 3);
    }
    cap.udp(
        addr("[2001:db8::9]:53000"),
        addr("[2001:db8::53]:53"),
        b"query",
    );
    if let Some(orig) = cap.last_ip_packet() {
        cap.icmp_unreachable(ip("2001:db8::fe"), &orig, 4);
    }
    write(dir, "udp-icmp-error", &sequence(&cap))?;

    // A datagram in fragments, out of order.
    let mut cap = raw_capture();
    let mut probe = raw_capture();
    probe.udp(addr("10.0.0.9:40001"), addr("10.0.0.2:4789"), &[0x5a; 300]);
    if let Some(p) = probe.last_ip_packet() {
        cap.push_fragmented(&p, 96, Some(&[2, 0, 3, 1]));
    }
    write(dir, "fragments", &sequence(&cap))?;
    Ok(())
}
