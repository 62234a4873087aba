//! Helpers shared by the integration tests.

use std::path::PathBuf;

use exaudit::decode::DecodeConfig;
use exaudit::flow::{FlowConfig, FlowRecord};
use exaudit::{Analysis, analyse};

/// `../shared` beside the repository, where the real captures live (CI has it).
pub fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    p.is_dir().then_some(p)
}

/// Says why a test that needs `../shared` did nothing. Written to the stderr handle directly:
/// the test harness captures `eprintln!` of passing tests, and this must be seen.
pub fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {what} (../shared is not present)"
    );
}

/// Runs the pipeline over capture bytes.
pub fn analyse_bytes(bytes: Vec<u8>, decode: DecodeConfig, flow: FlowConfig) -> Analysis {
    analyse("test", Box::new(std::io::Cursor::new(bytes)), decode, flow)
}

/// Runs the pipeline over capture bytes with the default settings.
pub fn flows_of(bytes: Vec<u8>) -> Vec<FlowRecord> {
    let a = analyse_bytes(bytes, DecodeConfig::default(), FlowConfig::default());
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    a.flows
}
