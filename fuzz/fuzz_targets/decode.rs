//! One packet: the first byte picks the link type (low 4 bits, modulo the supported list),
//! checksum verification (bit 4) and whether the snaplen cut it (bit 5); the rest is the frame.
//! The decoded packet goes through a flow table, which is then drained.
#![no_main]

use exaudit::decode::{DecodeConfig, Decoder};
use exaudit::flow::{FlowConfig, FlowTable};
use exaudit::source::{LinkType, RawPacket};
use exaudit::stats::FlowStats;
use exaudit::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let link = LinkType::SUPPORTED[usize::from(sel & 0x0f) % LinkType::SUPPORTED.len()];
    let mut decoder = Decoder::new(DecodeConfig {
        verify_checksums: sel & 0x10 != 0,
        ..Default::default()
    });
    let mut table = FlowTable::new(FlowConfig {
        max_flows: 4,
        ..Default::default()
    });
    let (mut st, mut out) = (FlowStats::default(), Vec::new());
    let ts = Timestamp::from_parts(1_767_603_600, 0, 1);
    let cut = u32::from(sel & 0x20 != 0) * 100;
    let orig_len = u32::try_from(frame.len())
        .unwrap_or(u32::MAX)
        .saturating_add(cut);
    if let Some(d) = decoder.decode(&RawPacket {
        ts,
        link,
        data: frame,
        orig_len,
    }) {
        table.observe(ts, &d, cut > 0, &mut st, &mut out);
    }
    table.finish(&mut st, &mut out);
});
