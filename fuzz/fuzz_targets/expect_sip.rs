//! SIP payloads through the expect stage's call state, and its lessons into an expectation
//! table. The input is a sequence of `[flags, len_hi, len_lo, payload…]`: flag bit 0 UDP (else
//! TCP), bit 1 the direction, bits 2–7 seconds to move the clock forward. The body is
//! `exaudit::testkit::fuzzing::expect_sip`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::expect_sip(data);
});
