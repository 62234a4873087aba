//! Any bytes as a capture file: source → decode → flow, then every record and the summary
//! through the JSONL and table reports, so their formatting runs too.
#![no_main]

use exaudit::flow::FlowConfig;
use exaudit::report::{JsonlReport, Report, Summary, TableReport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
