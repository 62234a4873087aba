//! The DCE/RPC inspector on one conversation: `[flags, len_hi, len_lo, client…, server…]`
//! (flags: bit 0 mid-stream, bit 1 client cut, bit 2 server cut), then its detail through
//! serde_json. The body is `exaudit::testkit::fuzzing::inspect_dcerpc`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::inspect_dcerpc(data);
});
