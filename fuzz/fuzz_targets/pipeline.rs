//! Any bytes as a capture file through the whole run: learning from endpoint-mapper answers
//! and SIP, attribution to learned endpoints, classification and a report.
//! The body is `exaudit::testkit::fuzzing::pipeline`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exaudit::testkit::fuzzing::pipeline(data);
});
