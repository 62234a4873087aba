//! The `exaudit` binary: exit status, one-line messages for bad inputs, several inputs in one
//! run, standard input, compressed captures, `-o`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use exaudit::testkit::{Capture, addr};

use super::common::{exaudit_bin as exaudit, shared, smtp_capture};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn flows_in(jsonl: &str) -> usize {
    jsonl
        .lines()
        .filter(|l| l.contains("\"type\":\"flow\""))
        .count()
}

/// Each bad input gives exactly one line on stderr, `exaudit: FILE: problem`, and exit status 2.
fn assert_one_line_error(o: &Output, file: &Path, problem: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    let e = stderr(o);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 1, "{e}");
    let want = format!("exaudit: {}: {problem}", file.display());
    assert!(
        lines[0].starts_with(&want),
        "{:?} does not start with {want:?}",
        lines[0]
    );
    assert!(!e.contains("panicked"));
}

#[test]
fn good_capture_exits_zero_with_flows_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "smtp.pcap", &smtp_capture());
    let o = exaudit(&["audit", "--format", "jsonl", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty());
    let out = stdout(&o);
    assert_eq!(flows_in(&out), 1);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("{\"type\":\"summary\"")
    );
}

#[test]
fn bad_inputs_get_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let empty = write(d, "empty.pcap", b"");
    let text = write(d, "notes.txt", b"Exchange 2010 port list\n");
    let short = write(d, "short.pcap", &smtp_capture()[..10]);
    let mut linktype = smtp_capture();
    linktype[20..24].copy_from_slice(&147u32.to_le_bytes());
    let unknown = write(d, "dlt147.pcap", &linktype);
    let missing = d.join("missing.pcap");
    let cases: [(&Path, &str); 6] = [
        (&empty, "empty file (no capture header)"),
        (&text, "not a pcap or pcapng file (first bytes 45786368)"),
        (&short, "file header cut short (10 bytes)"),
        (&unknown, "unsupported link type 147"),
        (&missing, "cannot open: no such file or directory"),
        (d, "is a directory"),
    ];
    for (file, problem) in cases {
        let o = exaudit(&["audit", "--format", "jsonl", file.to_str().unwrap()]);
        assert_one_line_error(&o, file, problem);
    }
}

#[test]
fn unreadable_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "secret.pcap", &smtp_capture());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exaudit"));
    // Root reads any file: run as nobody then (setpriv), which cannot read a mode-000 file.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0");
    if is_root.unwrap_or(false) {
        if Command::new("setpriv").arg("--version").output().is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: permission test (running as root without setpriv)"
            );
            return;
        }
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_exaudit"),
        ]);
    }
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let o = cmd
        .args(["audit", "-F", "jsonl", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_one_line_error(&o, &f, "cannot open: permission denied");
}

/// A bad file among good ones: the good ones are analysed and reported, the run exits 2.
#[test]
fn other_inputs_are_still_analysed_after_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.pcap", &smtp_capture());
    let bad = write(dir.path(), "bad.pcap", b"garbage garbage garbage garbage");
    let out = dir.path().join("report.jsonl");
    let o = exaudit(&[
        "audit",
        "-F",
        "jsonl",
        "-o",
        out.to_str().unwrap(),
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_one_line_error(&o, &bad, "not a pcap or pcapng file");
    let report = std::fs::read_to_string(&out).unwrap();
    assert_eq!(flows_in(&report), 1);
    assert!(report.contains("\"input_errors\":1"));
}

/// A record cut by the end of the file (the capture stopped mid-write) is a warning: the packets
/// before it count, and the exit status is 0.
#[test]
fn record_cut_at_end_of_file_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = smtp_capture();
    bytes.truncate(bytes.len() - 20);
    let f = write(dir.path(), "cut.pcap", &bytes);
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1);
    assert!(e.starts_with(&format!(
        "exaudit: warning: {}: last record cut short (capture stopped mid-write); 7 packets read",
        f.display()
    )));
    assert_eq!(flows_in(&stdout(&o)), 1);
}

/// A captured length beyond the snaplen is an error, but the framing is intact: the packets are
/// still analysed and the message names the first such packet.
#[test]
fn caplen_over_snaplen_is_an_error_that_keeps_the_packets() {
    let mut cap = Capture::new();
    cap.snaplen(200);
    cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:25"))
        .handshake();
    let mut bytes = cap.to_pcap();
    bytes[16..20].copy_from_slice(&40u32.to_le_bytes()); // snaplen 40 < 54-byte frames
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "snap.pcap", &bytes);
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &f,
        "packet 1 (byte 24): captured length 54 exceeds the snaplen of 40",
    );
    assert_eq!(flows_in(&stdout(&o)), 1);
    assert!(stdout(&o).contains("\"records_over_snaplen\":3"));
}

/// A record that claims megabytes is refused before any buffer grows for it.
#[test]
fn absurd_record_length_is_refused() {
    let mut bytes = smtp_capture();
    // Record 2 starts after the 24-byte header and the first record (16 + 54 bytes).
    let at = 24 + 16 + 54 + 8;
    bytes[at..at + 4].copy_from_slice(&0x0100_0000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "huge.pcap", &bytes);
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &f,
        "byte 94: packet 2 claims a captured length of 16777216 bytes (snaplen 65535, at most 262144 accepted)",
    );
    // The packet before the bad record is still reported.
    assert_eq!(flows_in(&stdout(&o)), 1);
}

/// A header claiming a 4 GiB snaplen cannot make the reader grow its buffer past 16 MiB (found
/// by fuzzing: a 600-byte file made the reader allocate 3 GB).
#[test]
fn huge_snaplen_does_not_raise_the_record_limit_unbounded() {
    let mut bytes = smtp_capture();
    bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let at = 24 + 16 + 54 + 8;
    bytes[at..at + 4].copy_from_slice(&0xC000_0000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "snaplen4g.pcap", &bytes);
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &f,
        "byte 94: packet 2 claims a captured length of 3221225472 bytes (snaplen 4294967295, at most 16777216 accepted)",
    );
}

#[test]
fn pcapng_block_length_below_minimum() {
    let mut cap = Capture::new();
    cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:25")).syn();
    let mut bytes = cap.to_pcapng();
    let shb_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    bytes[shb_len + 4..shb_len + 8].copy_from_slice(&8u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bad.pcapng", &bytes);
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &f,
        &format!("byte {shb_len}: block length 8 is below the minimum of 12"),
    );
}

/// The broken captures of `../shared/pcaps`.
#[test]
fn shared_broken_captures() {
    let Some(s) = shared() else {
        return super::common::skipped("broken captures");
    };
    let p = |n: &str| s.join("pcaps").join(n);
    // A header and no packets: zero packets, not an error.
    let o = exaudit(&[
        "audit",
        "-F",
        "jsonl",
        p("zeek-broken-empty.pcap").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("\"packets\":0"));
    // Snaplen 1, one record of 8 bytes: over the snaplen, and too short for Ethernet (counted).
    let f = p("zeek-broken-snaplen1.pcap");
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &f,
        "packet 1 (byte 24): captured length 8 exceeds the snaplen of 1",
    );
    assert!(stdout(&o).contains("\"truncated_link\":1"));
    // Fuzzer output and a damaged file: readable records first, then a record claiming megabytes.
    // (tshark counts two readable records in the fuzzer's file; read as libpcap frames them, the
    // first record's length already runs into the garbage, so its second header is the bad one.)
    for (name, packets) in [
        ("sv-broken-fuzz-caplen.pcap", 1),
        ("sv-broken-bad-record.pcap", 6),
    ] {
        let f = p(name);
        let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
        assert_one_line_error(&o, &f, "byte ");
        assert!(
            stderr(&o).contains("claims a captured length of"),
            "{}",
            stderr(&o)
        );
        assert!(
            stdout(&o).contains(&format!("\"packets\":{packets},")),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn standard_input_read_option_and_compression() {
    let bytes = smtp_capture();
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "a.pcap", &bytes);
    // -r as tcpdump users type it.
    let o = exaudit(&["audit", "-F", "jsonl", "-r", plain.to_str().unwrap()]);
    assert_eq!(flows_in(&stdout(&o)), 1);
    // gzip and zstd, recognised by their content.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gzf = write(dir.path(), "a.pcap.gz", &gz.finish().unwrap());
    let zst =
        ruzstd::encoding::compress_to_vec(&bytes[..], ruzstd::encoding::CompressionLevel::Fastest);
    let zf = write(dir.path(), "a.pcap.zst", &zst);
    for f in [&gzf, &zf] {
        let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(flows_in(&stdout(&o)), 1, "{}", f.display());
        assert!(stdout(&o).contains("\"packets\":8,"), "{}", f.display());
    }
    // Standard input.
    let mut child = Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .args(["audit", "-F", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(flows_in(&stdout(&o)), 1);
}

/// A damaged compressed capture: every packet that decompressed is analysed, then one warning
/// line, and the exit status is that of an intact file (as for an uncompressed file whose last
/// record is cut). Zero padding after the stream is read without a word. Damage that leaves data
/// unread, or a file that decompresses to less than a capture header, is an error: exit 2.
#[test]
fn damaged_compressed_captures_keep_their_packets() {
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};
    let bytes = smtp_capture();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&bytes).unwrap();
    let gz = e.finish().unwrap();
    let zst = compress_to_vec(&bytes[..], CompressionLevel::Fastest);
    let (n, z) = (gz.len(), zst.len());
    let flip = |mut v: Vec<u8>, at: usize| {
        v[at] ^= 1;
        v
    };
    let mut pzstd = 0x184D_2A50u32.to_le_bytes().to_vec();
    pzstd.extend(4u32.to_le_bytes());
    pzstd.extend(u32::try_from(z).unwrap().to_le_bytes());
    pzstd.extend(&zst);
    let cases: [(&str, Vec<u8>, Option<String>); 9] = [
        ("intact.pcap.gz", gz.clone(), None),
        ("padded.pcap.gz", [gz.clone(), vec![0; 100]].concat(), None),
        (
            "cut.pcap.gz",
            gz[..n - 4].to_vec(),
            Some("compressed stream ends early (gzip trailer missing)".into()),
        ),
        (
            "crc.pcap.gz",
            flip(gz.clone(), n - 8),
            Some("gzip CRC-32 does not match the decompressed data (the file is damaged)".into()),
        ),
        (
            "trailing.pcap.gz",
            [gz.clone(), b"garbage".to_vec()].concat(),
            Some(format!(
                "data after the end of the gzip stream at byte {n} ignored \
                 (neither a gzip member nor zero padding)"
            )),
        ),
        ("intact.pcap.zst", zst.clone(), None),
        ("pzstd.pcap.zst", pzstd, None),
        (
            "cut.pcap.zst",
            zst[..z - 2].to_vec(),
            Some("compressed stream ends early (zstd checksum missing)".into()),
        ),
        (
            "checksum.pcap.zst",
            flip(zst.clone(), z - 1),
            Some(
                "zstd content checksum does not match the decompressed data (the file is damaged)"
                    .into(),
            ),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, content, warning) in cases {
        let f = write(dir.path(), name, &content);
        let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let want = match warning {
            Some(w) => format!("exaudit: warning: {}: {w}; 8 packets read\n", f.display()),
            None => String::new(),
        };
        assert_eq!(stderr(&o), want, "{name}");
        assert_eq!(flows_in(&stdout(&o)), 1, "{name}");
        assert!(stdout(&o).contains("\"packets\":8,"), "{name}");
    }
    // Nothing decompressed, not even the capture header.
    let f = write(dir.path(), "stub.pcap.gz", &gz[..15]);
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &f,
        "compressed stream ends early (deflate data cut short)",
    );
    // A second member that does not inflate: the first member's packets, then an error.
    let mut bad = [gz.clone(), gz.clone()].concat();
    bad[n + 10] |= 0b110;
    let f = write(dir.path(), "bad.pcap.gz", &bad);
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &f,
        &format!("gzip member at byte {n}: invalid deflate data"),
    );
    assert!(stdout(&o).contains("\"packets\":8,"), "{}", stdout(&o));
}

/// A zstd frame holding `data` (at most 128 KiB) in one raw block, declaring the window
/// `2^(10 + exponent)` bytes (RFC 8878 §3.1.1.1.2: Window_Descriptor, mantissa 0).
fn zstd_with_window(data: &[u8], exponent: u8) -> Vec<u8> {
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    // Frame_Header_Descriptor 0: no content size, a window descriptor, no checksum, no dictionary.
    f.extend([0, exponent << 3]);
    let header = (u32::try_from(data.len()).unwrap() << 3) | 1;
    f.extend(&header.to_le_bytes()[..3]);
    f.extend(data);
    f
}

/// The zstd window (the memory a decoder holds while it reads the file) is bounded by
/// `--max-zstd-window-mib`, 128 MiB by default as in zstd(1).
#[test]
fn zstd_window_is_bounded_by_an_option() {
    let bytes = smtp_capture();
    let dir = tempfile::tempdir().unwrap();
    let w2 = write(dir.path(), "w2mib.pcap.zst", &zstd_with_window(&bytes, 11));
    let w256 = write(
        dir.path(),
        "w256mib.pcap.zst",
        &zstd_with_window(&bytes, 18),
    );
    let run = |extra: &[&str], f: &Path| {
        let mut args = vec!["audit", "-F", "jsonl"];
        args.extend(extra);
        args.push(f.to_str().unwrap());
        exaudit(&args)
    };
    // Within the limit: read as any capture.
    for (extra, f) in [
        (&[][..], &w2),
        (&["--max-zstd-window-mib", "256"][..], &w256),
    ] {
        let o = run(extra, f);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).is_empty(), "{}", stderr(&o));
        assert_eq!(flows_in(&stdout(&o)), 1);
    }
    // Above it: one line naming the file, the window, the limit and the option.
    let o = run(&[], &w256);
    assert_one_line_error(
        &o,
        &w256,
        "zstd frame at byte 0 needs a window of 256 MiB, above the limit of 128 MiB \
         (raise it with --max-zstd-window-mib)",
    );
    let o = run(&["--max-zstd-window-mib", "1"], &w2);
    assert_one_line_error(
        &o,
        &w2,
        "zstd frame at byte 0 needs a window of 2 MiB, above the limit of 1 MiB \
         (raise it with --max-zstd-window-mib)",
    );
    for bad in ["0", "2049"] {
        let o = run(&["--max-zstd-window-mib", bad], &w2);
        assert_eq!(o.status.code(), Some(2));
    }
}

/// A malformed decryption secrets block is skipped and counted in the summary; nothing of the
/// secrets it holds, nor of a well-formed one, reaches the report or standard error.
#[test]
fn decryption_secrets_are_skipped_and_never_shown() {
    let mut cap = Capture::new();
    cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:25"))
        .handshake()
        .close();
    let ng = cap.to_pcapng();
    // pcapng §4.7: secrets type "TLSK", a length, the secrets (here running past the block in
    // the first one), then the block's trailing length.
    let dsb = |len: u32, secrets: &[u8]| {
        let total = u32::try_from(20 + secrets.len().div_ceil(4) * 4).unwrap();
        let mut b = 10u32.to_le_bytes().to_vec();
        b.extend(total.to_le_bytes());
        b.extend(0x544c_534bu32.to_le_bytes());
        b.extend(len.to_le_bytes());
        b.extend(secrets);
        b.resize(total as usize - 4, 0);
        b.extend(total.to_le_bytes());
        b
    };
    let secret = b"CLIENT_RANDOM 00112233 44556677\n";
    // After the section header and the interface description.
    let block_len = |at: usize| u32::from_le_bytes(ng[at + 4..at + 8].try_into().unwrap()) as usize;
    let shb_idb = block_len(0) + block_len(block_len(0));
    let file = [
        &ng[..shb_idb],
        &dsb(4000, secret)[..],
        &dsb(u32::try_from(secret.len()).unwrap(), secret),
        &ng[shb_idb..],
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "secrets.pcapng", &file);
    for format in ["jsonl", "table"] {
        let o = exaudit(&["audit", "-F", format, f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).is_empty(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(!out.contains("CLIENT_RANDOM") && !out.contains("00112233"));
        if format == "jsonl" {
            assert_eq!(flows_in(&out), 1);
            assert!(
                out.contains("\"blocks_skipped\":1,\"blocks_malformed\":1,"),
                "{out}"
            );
        } else {
            assert!(out.contains("blocks malformed"), "{out}");
        }
    }
}

/// Two files are merged in timestamp order: their flows interleave as the packets did.
#[test]
fn several_files_merge_in_time_order() {
    let mut a = Capture::new();
    let mut b = Capture::new();
    b.wait(exaudit::time::Duration::from_millis(1));
    for i in 0..3u16 {
        a.udp(
            addr(&format!("10.1.0.50:{}", 50000 + i)),
            addr("10.1.0.2:53"),
            b"q",
        );
        a.wait(exaudit::time::Duration::from_millis(10));
        b.udp(
            addr(&format!("10.1.0.60:{}", 50000 + i)),
            addr("10.1.0.2:53"),
            b"q",
        );
        b.wait(exaudit::time::Duration::from_millis(10));
    }
    let dir = tempfile::tempdir().unwrap();
    let fa = write(dir.path(), "a.pcap", &a.to_pcap());
    let fb = write(dir.path(), "b.pcapng", &b.to_pcapng());
    let o = exaudit(&[
        "audit",
        "-F",
        "jsonl",
        fb.to_str().unwrap(),
        fa.to_str().unwrap(),
    ]);
    // Unanswered DNS queries on a documented port are a high finding: exit status 1.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let hosts: Vec<String> = stdout(&o)
        .lines()
        .filter(|l| l.contains("\"type\":\"flow\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["src_ip"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        hosts,
        [
            "10.1.0.50",
            "10.1.0.60",
            "10.1.0.50",
            "10.1.0.60",
            "10.1.0.50",
            "10.1.0.60"
        ]
    );
}

#[test]
fn idle_timeouts_are_settable() {
    let mut cap = Capture::new();
    cap.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"q1");
    cap.wait(exaudit::time::Duration::from_secs(20));
    cap.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"q2");
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "udp.pcap", &cap.to_pcap());
    let o = exaudit(&["audit", "-F", "jsonl", f.to_str().unwrap()]);
    assert_eq!(flows_in(&stdout(&o)), 1);
    let o = exaudit(&[
        "audit",
        "-F",
        "jsonl",
        "--udp-idle-timeout",
        "10",
        f.to_str().unwrap(),
    ]);
    assert_eq!(flows_in(&stdout(&o)), 2);
}

#[test]
fn usage_errors_exit_2() {
    let o = exaudit(&["audit"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("exaudit: audit: no capture file given"));
    let o = exaudit(&["audit", "--format", "xml", "x.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    let o = exaudit(&["audit", "--max-flows", "0", "x.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    let o = exaudit(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A reader that stops early (`| head`) ends the run quietly with 0.
#[test]
fn broken_pipe_is_quiet() {
    let mut cap = Capture::new();
    for i in 0..2000u16 {
        cap.udp(
            addr(&format!("10.1.{}.{}:5000", i / 250, i % 250 + 1)),
            addr("10.2.0.2:53"),
            b"q",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "many.pcap", &cap.to_pcap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .args(["audit", "-F", "jsonl", f.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}
