//! A sequence of raw IP packets into one small flow table, so eviction, expiry, reuse, the
//! payload pool and fragment reassembly run. Each packet is `[dt, len_hi, len_lo, bytes…]`:
//! the clock moves forward dt × 50 ms, then `len` bytes (or what is left) are one packet.
//! The body is `exaudit::testkit::fuzzing::flow_sequence`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::flow_sequence(data);
});
