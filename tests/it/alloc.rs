//! Nothing on the per-packet path allocates once the tables have warmed up: reading, decoding,
//! tracking flows, writing their records and returning their buffers. (The report makes strings
//! once per flow; that is outside this path.) Counted with a counting global allocator.

use std::io::Cursor;
use std::path::Path;

use exaudit::decode::{DecodeConfig, Decoder};
use exaudit::flow::{FlowConfig, FlowTable};
use exaudit::source::{CaptureFile, Merged};
use exaudit::stats::Stats;
use exaudit::testkit::{Capture, addr};
use exaudit::time::Duration;

/// Rounds of traffic: each opens, uses and closes sessions, answers DNS, and rebuilds a
/// fragmented datagram; rounds are 10 s apart so the previous round's flows expire meanwhile.
fn traffic(rounds: u16) -> Vec<u8> {
    let mut cap = Capture::new();
    let mut whole = Capture::new();
    whole.udp(
        addr("10.1.0.60:5060"),
        addr("10.1.0.12:5060"),
        &[b's'; 3000],
    );
    let big = whole.last_ip_packet().unwrap();
    for r in 0..rounds {
        for i in 0..40u16 {
            let client = format!("10.1.{}.{}:{}", r % 200, i + 1, 40_000 + i);
            cap.tcp(addr(&client), addr("10.1.0.10:25"))
                .handshake()
                .server_sends(b"220 mail.example ESMTP\r\n")
                .client_sends(b"EHLO client.example\r\n")
                .close();
            cap.udp(
                addr(&format!("10.2.{}.{}:53000", r % 200, i + 1)),
                addr("10.1.0.2:53"),
                b"q",
            );
            cap.udp(
                addr("10.1.0.2:53"),
                addr(&format!("10.2.{}.{}:53000", r % 200, i + 1)),
                b"a",
            );
        }
        cap.push_fragmented(&big, 1200, Some(&[1, 0, 2]));
        cap.wait(Duration::from_secs(10));
    }
    cap.to_pcap()
}

#[test]
fn steady_state_packet_path_does_not_allocate() {
    let bytes = traffic(16);
    let file = CaptureFile::from_reader(Path::new("alloc"), Box::new(Cursor::new(bytes))).unwrap();
    let mut src = Merged::new(vec![file]);
    let mut decoder = Decoder::new(DecodeConfig::default());
    let mut table = FlowTable::new(FlowConfig::default());
    let mut stats = Stats::default();
    let mut done = Vec::new();
    let mut step = |src: &mut Merged, n: usize| -> usize {
        let mut flows = 0;
        for _ in 0..n {
            let Some(pkt) = src.next_packet(&mut stats.capture) else {
                break;
            };
            let ts = pkt.ts;
            if let Some(d) = decoder.decode(&pkt) {
                table.observe(ts, &d, false, &mut stats.flow, &mut done);
            }
            for rec in &mut done {
                flows += 1;
                table.recycle(rec);
            }
            done.clear();
        }
        flows
    };
    // Warm-up: UDP flows live 60 s, so after six rounds as many end as begin. Eight rounds grow the slab, the index, the pools and the buffers to their size.
    let packets_per_round = 40 * 10 + 3;
    step(&mut src, 8 * packets_per_round);
    let mut flows = 0;
    let info = allocation_counter::measure(|| {
        flows = step(&mut src, 6 * packets_per_round);
    });
    assert!(
        flows >= 300,
        "only {flows} flows were written while measuring"
    );
    assert_eq!(info.count_total, 0, "{info:?}");
}
