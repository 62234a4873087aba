//! A sequence of raw IP packets into one small flow table, so eviction, expiry, reuse, the
//! payload pool and fragment reassembly run. Each packet is `[dt, len_hi, len_lo, bytes…]`:
//! the clock moves forward dt × 50 ms, then `len` bytes (or what is left) are one packet.
#![no_main]

use exaudit::decode::{DecodeConfig, Decoder};
use exaudit::flow::{FlowConfig, FlowTable, Timeouts};
use exaudit::source::{LinkType, RawPacket};
use exaudit::stats::FlowStats;
use exaudit::time::{Duration, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = Duration::from_secs;
    let timeouts = Timeouts {
        tcp_handshake: s(4),
        tcp_established: s(8),
        udp: s(2),
        icmp: s(2),
        other: s(2),
        close_delay: s(1),
        attempt: s(2),
    };
    let mut table = FlowTable::new(FlowConfig {
        max_flows: 4,
        payload_prefix_bytes: 32,
        payload_memory_bytes: 128,
        timeouts,
        ..Default::default()
    });
    let mut decoder = Decoder::new(DecodeConfig {
        max_fragmented_datagrams: 4,
        fragment_timeout: s(3),
        ..Default::default()
    });
    let (mut st, mut out) = (FlowStats::default(), Vec::new());
    let (mut now, mut rest) = (Timestamp::from_parts(1_767_603_600, 0, 1), data);
    while let Some((&[dt, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let (pkt, tail) = tail.split_at(usize::from(u16::from_be_bytes([hi, lo])).min(tail.len()));
        rest = tail;
        now = now.saturating_add(Duration::from_millis(u64::from(dt) * 50));
        let orig_len = u32::try_from(pkt.len()).unwrap_or(u32::MAX);
        if let Some(d) = decoder.decode(&RawPacket {
            ts: now,
            link: LinkType::RAW,
            data: pkt,
            orig_len,
        }) {
            table.observe(now, &d, false, &mut st, &mut out);
        }
        out.drain(..).for_each(|rec| table.recycle(rec));
    }
    table.finish(&mut st, &mut out);
});
