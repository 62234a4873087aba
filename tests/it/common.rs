//! Helpers shared by the integration tests.

use std::path::PathBuf;

use exaudit::decode::DecodeConfig;
use exaudit::flow::{FlowConfig, FlowRecord};
use exaudit::inspect::{Evidence, input, inspect};
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

/// Runs the `exaudit` binary with `args`, standard input closed.
pub fn exaudit_bin<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A small SMTP session (handshake, greeting, EHLO, close) as pcap bytes.
pub fn smtp_capture() -> Vec<u8> {
    let mut cap = exaudit::testkit::Capture::new();
    cap.tcp(
        exaudit::testkit::addr("10.1.0.50:49200"),
        exaudit::testkit::addr("10.1.0.10:25"),
    )
    .handshake()
    .server_sends(b"220 mail.example ESMTP\r\n")
    .client_sends(b"EHLO client\r\n")
    .close();
    cap.to_pcap()
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

/// The bytes of a capture in `../shared/pcaps/`, or `None` (after saying it was skipped).
pub fn load(name: &str) -> Option<Vec<u8>> {
    let Some(dir) = shared() else {
        skipped(name);
        return None;
    };
    Some(std::fs::read(dir.join("pcaps").join(name)).unwrap())
}

/// The flows of a shared capture with the default settings.
pub fn flows(name: &str) -> Option<Vec<FlowRecord>> {
    flows_with(name, FlowConfig::default())
}

/// The flows of a shared capture with `cfg`; the capture must read without errors.
pub fn flows_with(name: &str, cfg: FlowConfig) -> Option<Vec<FlowRecord>> {
    let a = analyse_bytes(load(name)?, DecodeConfig::default(), cfg);
    assert!(a.errors.is_empty(), "{name}: {:?}", a.errors);
    Some(a.flows)
}

/// The flows of a shared capture, each with the inspectors' evidence.
pub fn evidence(name: &str) -> Option<Vec<(FlowRecord, Evidence)>> {
    Some(
        flows(name)?
            .into_iter()
            .map(|f| {
                let ev = inspect(&input(&f), f.start);
                (f, ev)
            })
            .collect(),
    )
}

/// Whether a flow goes from `orig` to `resp` (each `address:port`).
pub fn goes(f: &FlowRecord, orig: &str, resp: &str) -> bool {
    format!("{}:{}", f.orig.0, f.orig.1) == orig && format!("{}:{}", f.resp.0, f.resp.1) == resp
}

/// The flow from `orig` to `resp`; fails listing the flows there are.
pub fn find<'a>(fs: &'a [FlowRecord], orig: &str, resp: &str) -> &'a FlowRecord {
    fs.iter().find(|f| goes(f, orig, resp)).unwrap_or_else(|| {
        let all: Vec<String> = fs
            .iter()
            .map(|f| format!("{}:{} -> {}:{}", f.orig.0, f.orig.1, f.resp.0, f.resp.1))
            .collect();
        panic!("no flow {orig} -> {resp}; flows: {all:#?}")
    })
}
