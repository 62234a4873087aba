//! Property tests: any bytes decode without panic, every prefix of a valid capture is read
//! safely, building a packet and decoding it gives the original back, and any sequence of TCP
//! segments keeps the flow table consistent.

use exaudit::decode::{DecodeConfig, Decoder, Transport};
use exaudit::flow::{FlowConfig, FlowTable};
use exaudit::source::{LinkType, RawPacket, SourceWarning};
use exaudit::stats::FlowStats;
use exaudit::testkit::{Capture, Dir, addr};
use exaudit::time::Timestamp;
use proptest::prelude::*;

use super::common::analyse_bytes;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_on_any_link_type_decode_without_panic(
        link in 0..LinkType::SUPPORTED.len(),
        data in proptest::collection::vec(any::<u8>(), 0..1600),
        verify in any::<bool>(),
    ) {
        let mut d = Decoder::new(DecodeConfig { verify_checksums: verify, ..DecodeConfig::default() });
        let mut table = FlowTable::new(FlowConfig::default());
        let mut st = FlowStats::default();
        let mut out = Vec::new();
        let pkt = RawPacket {
            ts: Timestamp::from_nanos(1),
            link: LinkType::SUPPORTED[link],
            data: &data,
            orig_len: u32::try_from(data.len()).unwrap(),
        };
        if let Some(dec) = d.decode(&pkt) {
            table.observe(pkt.ts, &dec, false, &mut st, &mut out);
        }
        table.finish(&mut st, &mut out);
        prop_assert!(out.len() <= 3);
    }

    /// testkit builds a packet; the decoder reads back its addresses, ports, flags and payload.
    #[test]
    fn built_packets_decode_to_what_was_built(
        sport in 1u16.., dport in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..1400),
        v6 in any::<bool>(),
        vlans in proptest::collection::vec(1u16..4095, 0..3),
    ) {
        let (c, s) = if v6 {
            (format!("[2001:db8::5]:{sport}"), format!("[2001:db8::9]:{dport}"))
        } else {
            (format!("10.0.0.5:{sport}"), format!("10.0.0.9:{dport}"))
        };
        let mut cap = Capture::new();
        cap.vlans(&vlans);
        cap.tcp(addr(&c), addr(&s)).client_sends(&payload);
        let frame = &cap.frames()[0];
        let mut d = Decoder::new(DecodeConfig { verify_checksums: true, ..DecodeConfig::default() });
        let pkt = RawPacket { ts: frame.ts, link: frame.link, data: &frame.data, orig_len: frame.orig_len };
        let dec = d.decode(&pkt).expect("decodes");
        prop_assert_eq!(dec.src, addr(&c).ip());
        prop_assert_eq!(dec.dst, addr(&s).ip());
        prop_assert_eq!(dec.vlans.ids(), &vlans[..vlans.len().min(2)]);
        let Transport::Tcp(t) = dec.transport else { panic!("not tcp") };
        prop_assert_eq!((t.src_port, t.dst_port), (sport, dport));
        prop_assert_eq!(t.payload, &payload[..]);
        prop_assert_eq!(t.payload_len as usize, payload.len());
        prop_assert_eq!(t.checksum, exaudit::decode::Checksum::Good);
        prop_assert!(t.flags.ack() && t.flags.psh());
    }

    /// Any sequence of segments, in any direction and order, with any flags.
    #[test]
    fn any_segment_sequence_keeps_the_table_consistent(
        segs in proptest::collection::vec((any::<bool>(), any::<u8>(), 0u32..5000, 0usize..300), 1..60),
        max_flows in 1usize..4,
    ) {
        let mut cap = Capture::new();
        let mut conv = cap.tcp(addr("10.0.0.5:40000"), addr("10.0.0.9:25"));
        for (to_server, flags, seq, len) in &segs {
            let dir = if *to_server { Dir::ToServer } else { Dir::ToClient };
            conv.raw(dir, *flags, *seq, seq.wrapping_mul(7), &vec![b'x'; *len]);
        }
        let cfg = FlowConfig { max_flows, ..FlowConfig::default() };
        let a = analyse_bytes(cap.to_pcap(), DecodeConfig::default(), cfg);
        let counted: u64 = a.flows.iter().map(|f| f.orig_counts.pkts + f.resp_counts.pkts).sum();
        prop_assert!(counted <= segs.len() as u64);
        for f in &a.flows {
            prop_assert!(f.history.as_bytes().len() <= exaudit::flow::History::default().as_bytes().len() + 40);
            prop_assert!(f.last >= f.start);
        }
    }
}

fn session() -> Capture {
    let mut cap = Capture::new();
    cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:25"))
        .handshake()
        .server_sends(b"220 ready\r\n")
        .client_sends(b"EHLO x\r\n")
        .close();
    cap.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"query");
    cap
}

/// Every prefix of a valid capture is read without panic: either nothing (header cut), or the
/// whole packets it holds with at most a warning that the last record was cut.
#[test]
fn every_prefix_of_a_capture_is_read_safely() {
    let cap = session();
    for bytes in [cap.to_pcap(), cap.to_pcapng()] {
        let full = analyse_bytes(
            bytes.clone(),
            DecodeConfig::default(),
            FlowConfig::default(),
        );
        let total = full.stats.capture.packets;
        assert_eq!(total, 9);
        let mut last = 0;
        for cut in 0..bytes.len() {
            let a = analyse_bytes(
                bytes[..cut].to_vec(),
                DecodeConfig::default(),
                FlowConfig::default(),
            );
            let n = a.stats.capture.packets;
            assert!(n <= total && n >= last, "cut {cut}: {n} packets");
            last = n;
            let cut_record = a
                .warnings
                .iter()
                .any(|w| matches!(w, SourceWarning::LastRecordCut { .. }));
            assert!(
                a.errors.len() + usize::from(cut_record) <= 1,
                "cut {cut}: {:?} {:?}",
                a.errors,
                a.warnings
            );
        }
    }
}
