//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) and the minimised crash inputs
//! (`fuzz/regressions/<target>/`) through the same calls the cargo-fuzz targets make, so plain
//! `cargo test` on stable Rust keeps every input the fuzzers found handled.
//!
//! The targets and this file call the same functions, `exaudit::testkit::fuzzing::*`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use exaudit::testkit::fuzzing::flow_sequence as run_flow_sequence;
use exaudit::testkit::fuzzing::rules as run_rules;
use exaudit::testkit::fuzzing::{capture as run_capture, decode as run_decode};

fn fuzz_dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target)
}

/// Feeds every file of `fuzz/<kind>/<target>/` to `run`. Returns how many files were replayed,
/// or `None` when the directory does not exist. Fails with the names of the inputs that panicked.
fn replay(kind: &str, target: &str, mut run: impl FnMut(&[u8])) -> Option<usize> {
    let dir = fuzz_dir(kind, target);
    if !dir.is_dir() {
        return None;
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            // README files and dotfiles document the directory; they are not inputs.
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && !name.eq_ignore_ascii_case("README.md")
        })
        .collect();
    paths.sort();
    let mut panicked = Vec::new();
    for p in &paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            panicked.push(p.display().to_string());
        }
    }
    assert!(
        panicked.is_empty(),
        "{} of {} inputs in {} panicked: {panicked:#?}",
        panicked.len(),
        paths.len(),
        dir.display()
    );
    Some(paths.len())
}

/// A corpus directory that exists must hold inputs: an empty one means the replay tests nothing.
fn assert_replayed(kind: &str, target: &str, n: Option<usize>) {
    if let Some(n) = n {
        assert!(n > 0, "fuzz/{kind}/{target}/ exists but holds no inputs");
    }
}

fn capture_returns(data: &[u8]) {
    // `analyse` returns for any bytes; errors in the analysis are expected for broken inputs.
    let a = run_capture(data);
    let _ = (a.flows.len(), a.errors.len(), a.warnings.len());
}

#[test]
fn fuzz_corpus_capture_replays_without_panic() {
    let n = replay("corpus", "capture", capture_returns);
    assert_replayed("corpus", "capture", n);
}

/// The whole run over each corpus input: the seeds made from endpoint-mapper scenes must still
/// teach (a `learned` object), so the corpus keeps exercising the expectation table.
#[test]
fn fuzz_corpus_pipeline_replays_without_panic() {
    let mut learned = 0;
    let n = replay("corpus", "pipeline", |d| {
        let out = exaudit::testkit::fuzzing::pipeline(d);
        learned += usize::from(String::from_utf8_lossy(&out).contains("\"type\":\"learned\""));
    });
    assert_replayed("corpus", "pipeline", n);
    assert!(learned >= 2, "{learned}");
}

#[test]
fn fuzz_regressions_capture_replay_without_panic() {
    let n = replay("regressions", "capture", capture_returns);
    assert_replayed("regressions", "capture", n);
}

#[test]
fn fuzz_corpus_decode_replays_without_panic() {
    let n = replay("corpus", "decode", run_decode);
    assert_replayed("corpus", "decode", n);
}

#[test]
fn fuzz_regressions_decode_replay_without_panic() {
    let n = replay("regressions", "decode", run_decode);
    assert_replayed("regressions", "decode", n);
}

#[test]
fn fuzz_corpus_flow_sequence_replays_without_panic() {
    let n = replay("corpus", "flow_sequence", run_flow_sequence);
    assert_replayed("corpus", "flow_sequence", n);
}

#[test]
fn fuzz_regressions_flow_sequence_replay_without_panic() {
    let n = replay("regressions", "flow_sequence", run_flow_sequence);
    assert_replayed("regressions", "flow_sequence", n);
}

#[test]
fn fuzz_corpus_rules_replays_without_panic() {
    let n = replay("corpus", "rules", run_rules);
    assert_replayed("corpus", "rules", n);
}

/// The committed seeds are valid captures: most of them give flows, so the corpus exercises more
/// than the file-header checks.
#[test]
fn fuzz_corpus_capture_seeds_produce_flows() {
    let dir = fuzz_dir("corpus", "capture");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut with_flows = 0usize;
    for e in entries {
        let p = e.expect("directory entry").path();
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if !run_capture(&data).flows.is_empty() {
            with_flows += 1;
        }
    }
    assert!(with_flows > 0, "no input in {} gave a flow", dir.display());
}

#[test]
fn fuzz_corpus_inspect_dcerpc_replays_without_panic() {
    let n = replay(
        "corpus",
        "inspect_dcerpc",
        exaudit::testkit::fuzzing::inspect_dcerpc,
    );
    assert_replayed("corpus", "inspect_dcerpc", n);
}

#[test]
fn fuzz_regressions_inspect_dcerpc_replay_without_panic() {
    let n = replay(
        "regressions",
        "inspect_dcerpc",
        exaudit::testkit::fuzzing::inspect_dcerpc,
    );
    assert_replayed("regressions", "inspect_dcerpc", n);
}

#[test]
fn fuzz_corpus_inspect_smb_replays_without_panic() {
    let n = replay(
        "corpus",
        "inspect_smb",
        exaudit::testkit::fuzzing::inspect_smb,
    );
    assert_replayed("corpus", "inspect_smb", n);
}

#[test]
fn fuzz_regressions_inspect_smb_replay_without_panic() {
    let n = replay(
        "regressions",
        "inspect_smb",
        exaudit::testkit::fuzzing::inspect_smb,
    );
    assert_replayed("regressions", "inspect_smb", n);
}

#[test]
fn fuzz_corpus_inspect_smtp_replays_without_panic() {
    let run = exaudit::testkit::fuzzing::inspect_smtp;
    let n = replay("corpus", "inspect_smtp", run);
    assert_replayed("corpus", "inspect_smtp", n);
    let n = replay("regressions", "inspect_smtp", run);
    assert_replayed("regressions", "inspect_smtp", n);
}

#[test]
fn fuzz_corpus_inspect_imap_replays_without_panic() {
    let run = exaudit::testkit::fuzzing::inspect_imap;
    let n = replay("corpus", "inspect_imap", run);
    assert_replayed("corpus", "inspect_imap", n);
    let n = replay("regressions", "inspect_imap", run);
    assert_replayed("regressions", "inspect_imap", n);
}

#[test]
fn fuzz_corpus_inspect_pop3_replays_without_panic() {
    let run = exaudit::testkit::fuzzing::inspect_pop3;
    let n = replay("corpus", "inspect_pop3", run);
    assert_replayed("corpus", "inspect_pop3", n);
    let n = replay("regressions", "inspect_pop3", run);
    assert_replayed("regressions", "inspect_pop3", n);
}

#[test]
fn fuzz_corpus_inspect_http_replays_without_panic() {
    let run = exaudit::testkit::fuzzing::inspect_http;
    let n = replay("corpus", "inspect_http", run);
    assert_replayed("corpus", "inspect_http", n);
    let n = replay("regressions", "inspect_http", run);
    assert_replayed("regressions", "inspect_http", n);
}

#[test]
fn fuzz_corpus_inspect_tls_replays_without_panic() {
    let n = replay(
        "corpus",
        "inspect_tls",
        exaudit::testkit::fuzzing::inspect_tls,
    );
    assert_replayed("corpus", "inspect_tls", n);
}

#[test]
fn fuzz_regressions_inspect_tls_replay_without_panic() {
    let n = replay(
        "regressions",
        "inspect_tls",
        exaudit::testkit::fuzzing::inspect_tls,
    );
    assert_replayed("regressions", "inspect_tls", n);
}

#[test]
fn fuzz_corpus_inspect_ldap_replays_without_panic() {
    let n = replay(
        "corpus",
        "inspect_ldap",
        exaudit::testkit::fuzzing::inspect_ldap,
    );
    assert_replayed("corpus", "inspect_ldap", n);
}

#[test]
fn fuzz_regressions_inspect_ldap_replay_without_panic() {
    let n = replay(
        "regressions",
        "inspect_ldap",
        exaudit::testkit::fuzzing::inspect_ldap,
    );
    assert_replayed("regressions", "inspect_ldap", n);
}

#[test]
fn fuzz_corpus_inspect_kerberos_replays_without_panic() {
    let n = replay(
        "corpus",
        "inspect_kerberos",
        exaudit::testkit::fuzzing::inspect_kerberos,
    );
    assert_replayed("corpus", "inspect_kerberos", n);
}

#[test]
fn fuzz_regressions_inspect_kerberos_replay_without_panic() {
    let n = replay(
        "regressions",
        "inspect_kerberos",
        exaudit::testkit::fuzzing::inspect_kerberos,
    );
    assert_replayed("regressions", "inspect_kerberos", n);
}

#[test]
fn fuzz_corpus_inspect_sip_replays_without_panic() {
    let n = replay(
        "corpus",
        "inspect_sip",
        exaudit::testkit::fuzzing::inspect_sip,
    );
    assert_replayed("corpus", "inspect_sip", n);
}

#[test]
fn fuzz_regressions_inspect_sip_replay_without_panic() {
    let n = replay(
        "regressions",
        "inspect_sip",
        exaudit::testkit::fuzzing::inspect_sip,
    );
    assert_replayed("regressions", "inspect_sip", n);
}

#[test]
fn fuzz_corpus_inspect_epm_replays_without_panic() {
    let n = replay(
        "corpus",
        "inspect_epm",
        exaudit::testkit::fuzzing::inspect_epm,
    );
    assert_replayed("corpus", "inspect_epm", n);
}

#[test]
fn fuzz_regressions_inspect_epm_replay_without_panic() {
    let n = replay(
        "regressions",
        "inspect_epm",
        exaudit::testkit::fuzzing::inspect_epm,
    );
    assert_replayed("regressions", "inspect_epm", n);
}

#[test]
fn fuzz_corpus_expect_sip_replays_without_panic() {
    let n = replay(
        "corpus",
        "expect_sip",
        exaudit::testkit::fuzzing::expect_sip,
    );
    assert_replayed("corpus", "expect_sip", n);
}

#[test]
fn fuzz_regressions_expect_sip_replay_without_panic() {
    let n = replay(
        "regressions",
        "expect_sip",
        exaudit::testkit::fuzzing::expect_sip,
    );
    assert_replayed("regressions", "expect_sip", n);
}
