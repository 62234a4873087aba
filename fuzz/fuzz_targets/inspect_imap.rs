//! Any bytes as both directions of a flow, through the IMAP inspector.
//! The body is `exaudit::testkit::fuzzing::inspect_imap`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::inspect_imap(data);
});
