//! Every capture format variation and every link layer the fixture builder can write gives back
//! the same conversation.

use exaudit::flow::ConnState;
use exaudit::testkit::scenes::encapsulations;
use exaudit::testkit::{Capture, Endian, NgBlock, PcapOptions, PcapngOptions, addr};
use exaudit::time::Duration;

use super::common::{analyse_bytes, flows_of};

fn session() -> Capture {
    let mut cap = Capture::new();
    cap.step(Duration::from_nanos(1_234_567));
    cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:25"))
        .handshake()
        .client_sends(b"EHLO x\r\n")
        .close();
    cap
}

fn summary(bytes: Vec<u8>) -> (usize, ConnState, String, u64, u64) {
    let fs = flows_of(bytes);
    let f = &fs[0];
    (
        fs.len(),
        f.conn_state,
        f.history.as_str().to_owned(),
        f.start.nanos(),
        f.last.nanos(),
    )
}

#[test]
fn pcap_variants_read_alike() {
    let cap = session();
    let base = summary(cap.to_pcap());
    assert_eq!(
        (base.0, base.1, base.2.as_str()),
        (1, ConnState::SF, "ShADFf")
    );
    for endian in [Endian::Little, Endian::Big] {
        // Microsecond files lose the sub-microsecond part; nanosecond ones keep it.
        let micro = summary(cap.to_pcap_with(&PcapOptions {
            endian,
            nanos: false,
        }));
        assert_eq!(micro, base);
        let nano = summary(cap.to_pcap_with(&PcapOptions {
            endian,
            nanos: true,
        }));
        assert_eq!(&nano.2, &base.2);
        assert_eq!(nano.4 - nano.3, 5 * 1_234_567);
    }
}

#[test]
fn pcapng_variants_read_alike() {
    let cap = session();
    let base = summary(cap.to_pcap());
    for endian in [Endian::Little, Endian::Big] {
        for block in [NgBlock::Enhanced, NgBlock::Obsolete] {
            for section_every in [0, 3] {
                for decoy_interface in [false, true] {
                    let o = PcapngOptions {
                        endian,
                        nanos: false,
                        block,
                        section_every,
                        decoy_interface,
                    };
                    assert_eq!(summary(cap.to_pcapng_with(&o)), base, "{o:?}");
                }
            }
        }
        let o = PcapngOptions {
            endian,
            nanos: true,
            ..PcapngOptions::default()
        };
        let nano = summary(cap.to_pcapng_with(&o));
        assert_eq!(nano.4 - nano.3, 5 * 1_234_567);
    }
    // Simple packet blocks carry no timestamp: same conversation, all at time zero.
    let o = PcapngOptions {
        block: NgBlock::Simple,
        ..PcapngOptions::default()
    };
    let simple = summary(cap.to_pcapng_with(&o));
    assert_eq!((simple.0, simple.1, simple.3), (1, ConnState::SF, 0));
}

/// Link types written through one pcapng file with an interface per link type.
#[test]
fn every_encapsulation_gives_the_same_flow() {
    for (name, cap) in encapsulations() {
        let a = analyse_bytes(cap.to_pcap(), Default::default(), Default::default());
        assert!(a.errors.is_empty(), "{name}: {:?}", a.errors);
        assert_eq!(a.flows.len(), 1, "{name}: {:#?}", a.flows);
        let f = &a.flows[0];
        assert_eq!(f.conn_state, ConnState::SF, "{name}");
        assert_eq!(f.history.as_str(), "ShADFf", "{name}");
        assert_eq!((f.orig.1, f.resp.1), (49200, 25), "{name}");
        assert_eq!(f.orig_payload.bytes(), b"EHLO x\r\n", "{name}");
        assert_eq!(a.stats.decode.total(), 0, "{name}: {:?}", a.stats.decode);
        let vlans: &[u16] = match name {
            "qinq" => &[100, 20],
            "erspan3" => &[10],
            _ => &[],
        };
        assert_eq!(f.vlans.ids(), vlans, "{name}");
    }
    // All of them in one pcapng file, one interface per link type, one session each.
    let mut cap = Capture::new();
    let n = encapsulations().len();
    for i in 0..n {
        cap.encap(encap_of(i));
        let port = 49200 + u16::try_from(i).unwrap();
        cap.tcp(addr(&format!("10.1.0.50:{port}")), addr("10.1.0.10:25"))
            .handshake()
            .close();
    }
    let a = analyse_bytes(cap.to_pcapng(), Default::default(), Default::default());
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.flows.len(), n);
    assert!(a.flows.iter().all(|f| f.conn_state == ConnState::SF));
}

fn encap_of(i: usize) -> exaudit::testkit::Encap {
    use exaudit::testkit::{Encap, ip};
    let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
    match i % 6 {
        0 => Encap::Ethernet(vec![]),
        1 => Encap::Raw(exaudit::source::LinkType::IPV4),
        2 => Encap::Null,
        3 => Encap::Sll2,
        4 => Encap::Nflog,
        _ => Encap::Erspan2(a, b),
    }
}

/// MPLS (a label stack, bottom-of-stack bit on the last) and VN-Tag between Ethernet and IP.
#[test]
fn mpls_and_vntag_frames() {
    let mut ip_only = Capture::new();
    ip_only.encap(exaudit::testkit::Encap::Raw(exaudit::source::LinkType::RAW));
    ip_only.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"query");
    let ip = ip_only.frames()[0].data.clone();
    let eth = |ethertype: u16, shim: &[u8]| {
        let mut f = vec![2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(shim);
        f.extend_from_slice(&ip);
        f
    };
    let mut cap = Capture::new();
    // Two labels: 100 (not bottom), 200 (bottom of stack).
    cap.push_frame(
        exaudit::source::LinkType::ETHERNET,
        eth(0x8847, &[0x00, 0x06, 0x40, 0x40, 0x00, 0x0c, 0x81, 0x40]),
    );
    // VN-Tag: 4 bytes of tag, then the IPv4 type.
    cap.push_frame(
        exaudit::source::LinkType::ETHERNET,
        eth(0x8926, &[0x80, 0x01, 0x00, 0x02, 0x08, 0x00]),
    );
    let a = analyse_bytes(cap.to_pcap(), Default::default(), Default::default());
    assert_eq!(a.stats.decode.total(), 0, "{:?}", a.stats.decode);
    assert_eq!(a.flows.len(), 1);
    assert_eq!(a.flows[0].orig_counts.pkts, 2);
}
