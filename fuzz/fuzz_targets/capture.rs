//! Any bytes as a capture file: source → decode → flow, then every record and the summary
//! through the JSONL and table reports, so their formatting runs too.
//! The body is `exaudit::testkit::fuzzing::capture`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exaudit::testkit::fuzzing::capture(data);
});
