//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) and the minimised crash inputs
//! (`fuzz/regressions/<target>/`) through the same calls the cargo-fuzz targets make, so plain
//! `cargo test` on stable Rust keeps every input the fuzzers found handled.
//!
//! Each `run_*` function repeats its target in `fuzz/fuzz_targets/` line for line; change both
//! together.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use exaudit::decode::{DecodeConfig, Decoder};
use exaudit::flow::{FlowConfig, FlowTable, Timeouts};
use exaudit::report::{JsonlReport, Report, Summary, TableReport};
use exaudit::source::{LinkType, RawPacket};
use exaudit::stats::FlowStats;
use exaudit::time::{Duration, Timestamp};

/// `fuzz/fuzz_targets/capture.rs`. Returns the analysis so the caller can look at it.
fn run_capture(data: &[u8]) -> exaudit::Analysis {
    let flow = FlowConfig {
        max_flows: 64,
        payload_prefix_bytes: 256,
        payload_memory_bytes: 1 << 16,
        ..Default::default()
    };
    let a = exaudit::analyse(
        "fuzz",
        Box::new(std::io::Cursor::new(data.to_vec())),
        Default::default(),
        flow,
    );
    let (mut jsonl, mut table, mut out) =
        (JsonlReport::default(), TableReport::new(false), Vec::new());
    for rec in &a.flows {
        let _ = jsonl.flow(&mut out, rec);
        let _ = table.flow(&mut out, rec);
    }
    let first_ts = a.flows.iter().map(|f| f.start).min();
    let last_ts = a.flows.iter().map(|f| f.last).max();
    let input_errors = u64::try_from(a.errors.len()).unwrap_or(u64::MAX);
    let summary = Summary {
        inputs: vec!["fuzz".into()],
        input_errors,
        first_ts,
        last_ts,
        stats: &a.stats,
    };
    let _ = jsonl.finish(&mut out, &summary);
    let _ = table.finish(&mut out, &summary);
    a.errors.iter().for_each(|e| drop(e.to_string()));
    a.warnings.iter().for_each(|w| drop(w.to_string()));
    a
}

/// `fuzz/fuzz_targets/decode.rs`.
fn run_decode(data: &[u8]) {
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
}

/// `fuzz/fuzz_targets/flow_sequence.rs`.
fn run_flow_sequence(data: &[u8]) {
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
}

fn fuzz_dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target)
}

/// Feeds every file of `fuzz/<kind>/<target>/` to `run`. Returns how many files were replayed,
/// or `None` when the directory does not exist. Fails with the names of the inputs that panicked.
fn replay(kind: &str, target: &str, run: impl Fn(&[u8])) -> Option<usize> {
    let dir = fuzz_dir(kind, target);
    if !dir.is_dir() {
        return None;
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            // README files and dotfiles document the directory; they are not inputs.
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && !name.eq_ignore_ascii_case("README.md")
        })
        .collect();
    paths.sort();
    let mut panicked = Vec::new();
    for p in &paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            panicked.push(p.display().to_string());
        }
    }
    assert!(
        panicked.is_empty(),
        "{} of {} inputs in {} panicked: {panicked:#?}",
        panicked.len(),
        paths.len(),
        dir.display()
    );
    Some(paths.len())
}

/// A corpus directory that exists must hold inputs: an empty one means the replay tests nothing.
fn assert_replayed(kind: &str, target: &str, n: Option<usize>) {
    if let Some(n) = n {
        assert!(n > 0, "fuzz/{kind}/{target}/ exists but holds no inputs");
    }
}

fn capture_returns(data: &[u8]) {
    // `analyse` returns for any bytes; errors in the analysis are expected for broken inputs.
    let a = run_capture(data);
    let _ = (a.flows.len(), a.errors.len(), a.warnings.len());
}

#[test]
fn fuzz_corpus_capture_replays_without_panic() {
    let n = replay("corpus", "capture", capture_returns);
    assert_replayed("corpus", "capture", n);
}

#[test]
fn fuzz_regressions_capture_replay_without_panic() {
    let n = replay("regressions", "capture", capture_returns);
    assert_replayed("regressions", "capture", n);
}

#[test]
fn fuzz_corpus_decode_replays_without_panic() {
    let n = replay("corpus", "decode", run_decode);
    assert_replayed("corpus", "decode", n);
}

#[test]
fn fuzz_regressions_decode_replay_without_panic() {
    let n = replay("regressions", "decode", run_decode);
    assert_replayed("regressions", "decode", n);
}

#[test]
fn fuzz_corpus_flow_sequence_replays_without_panic() {
    let n = replay("corpus", "flow_sequence", run_flow_sequence);
    assert_replayed("corpus", "flow_sequence", n);
}

#[test]
fn fuzz_regressions_flow_sequence_replay_without_panic() {
    let n = replay("regressions", "flow_sequence", run_flow_sequence);
    assert_replayed("regressions", "flow_sequence", n);
}

/// The committed seeds are valid captures: most of them give flows, so the corpus exercises more
/// than the file-header checks.
#[test]
fn fuzz_corpus_capture_seeds_produce_flows() {
    let dir = fuzz_dir("corpus", "capture");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut with_flows = 0usize;
    for e in entries {
        let p = e.expect("directory entry").path();
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if !run_capture(&data).flows.is_empty() {
            with_flows += 1;
        }
    }
    assert!(with_flows > 0, "no input in {} gave a flow", dir.display());
}
