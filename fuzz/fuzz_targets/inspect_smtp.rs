//! Any bytes as both directions of a flow, through the SMTP inspector.
//! The body is `exaudit::testkit::fuzzing::inspect_smtp`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::inspect_smtp(data);
});
