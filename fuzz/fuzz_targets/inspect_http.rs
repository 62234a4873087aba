//! Any bytes as both directions of a flow, through the HTTP inspector.
//! The body is `exaudit::testkit::fuzzing::inspect_http`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::inspect_http(data);
});
