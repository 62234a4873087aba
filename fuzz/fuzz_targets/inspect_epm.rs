//! One flow's payload prefixes through the endpoint-mapper and DCOM reader. Byte 0 holds flags
//! (UDP, mid-stream, client cut, server cut), bytes 1–2 the client length, then come the client
//! and server bytes. The body is `exaudit::testkit::fuzzing::inspect_epm`, which the normal
//! tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::inspect_epm(data);
});
