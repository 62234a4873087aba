//! The TLS inspector on one flow: `[flags, len_hi, len_lo, bytes…]`, the first `len` bytes are
//! the client's and the rest the server's; the flags pick the dispatcher or `tls::parse` and
//! `tls::apply`, an upgrade, and the capture time.
//! The body is `exaudit::testkit::fuzzing::inspect_tls`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::inspect_tls(data);
});
