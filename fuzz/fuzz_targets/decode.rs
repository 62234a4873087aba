//! One packet: the first byte picks the link type (low 4 bits, modulo the supported list),
//! checksum verification (bit 4) and whether the snaplen cut it (bit 5); the rest is the frame.
//! The decoded packet goes through a flow table, which is then drained.
//! The body is `exaudit::testkit::fuzzing::decode`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::decode(data);
});
