//! Any bytes as a catalog rules file and as a site file.
//! The body is `exaudit::testkit::fuzzing::rules`, which the normal tests replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exaudit::testkit::fuzzing::rules(data);
});
