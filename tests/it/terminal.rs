//! What reaches a person's terminal: file names, values from site and rules files and strings
//! from the wire are escaped, each message is one line, usage errors are one line with exit 2,
//! `-o` never overwrites an input, and the table report never calls an incomplete run clean.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use exaudit::testkit::{Capture, addr};

use super::common::{exaudit_bin as exaudit, smtp_capture};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// No byte a terminal acts on: C0 controls other than the line feed, DEL, and the C1 controls
/// in their UTF-8 form.
fn assert_terminal_safe(what: &str, b: &[u8]) {
    for (i, &c) in b.iter().enumerate() {
        assert!(
            c == b'\n' || (c >= 0x20 && c != 0x7f),
            "{what}: byte {c:#04x} at {i}: {}",
            text(b)
        );
        if c == 0xc2 {
            let next = b.get(i + 1).copied().unwrap_or(0);
            assert!(!(0x80..=0x9f).contains(&next), "{what}: C1 control at {i}");
        }
    }
}

/// A name with a line feed, an escape sequence that would clear the screen, a C1 control, a
/// right-to-left override and a byte that is not UTF-8.
fn hostile_name(dir: &Path, ext: &str) -> PathBuf {
    let mut name = b"day\n2\x1b[2J\xc2\x9b\xe2\x80\xae\xff".to_vec();
    name.extend_from_slice(ext.as_bytes());
    dir.join(std::ffi::OsStr::from_bytes(&name))
}

const ESCAPED_NAME: &str = "day\\x0a2\\x1b[2J\\x9b\\u{202e}\\xff";

#[test]
fn a_hostile_file_name_is_escaped_in_errors_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let bad = hostile_name(dir.path(), ".pcap");
    std::fs::write(&bad, b"not a capture at all").unwrap();
    let o = exaudit(&[
        std::ffi::OsStr::new("audit"),
        "-F".as_ref(),
        "jsonl".as_ref(),
        bad.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_terminal_safe("stderr", &o.stderr);
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{ESCAPED_NAME}.pcap: not a pcap or pcapng file")),
        "{err}"
    );

    // A good capture under such a name: the table and JSON reports show it escaped.
    let good = hostile_name(dir.path(), ".ok.pcap");
    std::fs::write(&good, smtp_capture()).unwrap();
    for format in ["table", "jsonl", "json"] {
        let o = exaudit(&[
            std::ffi::OsStr::new("audit"),
            "-F".as_ref(),
            format.as_ref(),
            good.as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_terminal_safe(format, &o.stdout);
        let out = text(&o.stdout);
        let shown = if format == "table" {
            format!("{ESCAPED_NAME}.ok.pcap")
        } else {
            format!("{}.ok.pcap", ESCAPED_NAME.replace('\\', "\\\\"))
        };
        assert!(out.contains(&shown), "{format}: {out}");
    }
}

#[test]
fn values_from_site_and_rules_files_are_escaped_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(10_000);
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[site]\nname = \"t\"\ngenerations = [\"2010\"]\n[roles]\n\"hub\\u001b[2J{long}\" = [\"10.0.0.1\"]\n"
        ),
    )
    .unwrap();
    let o = exaudit(&["site".as_ref(), "check".as_ref(), site.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert_terminal_safe("site check", &o.stderr);
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("site.toml:5: unknown role \"hub\\x1b[2Jxxx"),
        "{err}"
    );
    assert!(err.contains("xxx…\" (known:"), "{err}");
    assert!(err.len() < 400, "{} bytes: {err}", err.len());

    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            "[list]\nid = \"l\"\ntitle = \"t\"\ngenerations = [\"2010\"]\n\n[[path]]\nid = \"p\"\n\
             name = \"n\"\nfrom = [\"client\"]\nto = [\"{long}\\u009b\"]\nports = [\"25/tcp\"]\n\
             encrypted_by_default = \"no\"\nsource = \"s\"\n"
        ),
    )
    .unwrap();
    let o = exaudit(&["catalog".as_ref(), "--rules".as_ref(), rules.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert_terminal_safe("catalog", &o.stderr);
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("rules.toml:10: path \"p\": unknown role \"xxx"),
        "{err}"
    );
    assert!(err.len() < 400, "{} bytes: {err}", err.len());

    // A site name with control characters is shown escaped by `site check`.
    std::fs::write(
        &site,
        "[site]\nname = \"Contoso\\u001b]0;owned\\u0007\"\ngenerations = [\"2010\"]\n[roles]\nhub = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    let o = exaudit(&["site".as_ref(), "check".as_ref(), site.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_terminal_safe("site check", &o.stdout);
    assert!(text(&o.stdout).contains("(Contoso\\x1b]0;owned\\x07): valid"));
}

#[test]
fn the_size_limit_names_the_site_file() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("huge-site.toml");
    let f = std::fs::File::create(&site).unwrap();
    f.set_len((16 << 20) + 1).unwrap();
    let o = exaudit(&["site".as_ref(), "check".as_ref(), site.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(
        err.trim_end(),
        format!(
            "exaudit: {}: 16777217 bytes is too large for a site file (at most 16 MiB)",
            site.display()
        )
    );
    let o = exaudit(&["catalog".as_ref(), "--rules".as_ref(), site.as_os_str()]);
    assert!(text(&o.stderr).contains("too large for a rules file"));
}

#[test]
fn wire_strings_with_del_and_c1_controls_are_escaped_in_json() {
    let mut cap = Capture::new();
    cap.tcp(addr("10.1.20.50:50000"), addr("10.1.0.30:80"))
        .handshake()
        .client_sends(
            "GET /owa/ HTTP/1.1\r\nHost: mail\u{7f}.contoso.com\r\nUser-Agent: x\u{9b}2Jy\u{85}\r\n\r\n"
                .as_bytes(),
        )
        .server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .close();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c1.pcap");
    std::fs::write(&f, cap.to_pcap()).unwrap();
    for format in ["jsonl", "json"] {
        let o = exaudit(&[
            "audit".as_ref(),
            "-F".as_ref(),
            format.as_ref(),
            f.as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_terminal_safe(format, &o.stdout);
        let out = text(&o.stdout);
        assert!(out.contains(r#""host":"mail\u007f.contoso.com""#), "{out}");
        assert!(out.contains(r#""user_agent":"x\u009b2Jy\u0085""#), "{out}");
    }
}

#[test]
fn usage_errors_are_one_line_with_exit_2() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["audit", "--format", "xml", "x.pcap"],
            "exaudit: invalid value 'xml' for '--format <FORMAT>' (possible values: table, jsonl, json)",
        ),
        (
            &["frobnicate"],
            "exaudit: unrecognized subcommand 'frobnicate'",
        ),
        (
            &["audit", "--max-flows", "0", "x.pcap"],
            "exaudit: invalid value '0' for '--max-flows <N>': 0 is not in 1..=4294967295",
        ),
        (
            &["audit", "--site"],
            "exaudit: a value is required for '--site <FILE>' but none was supplied",
        ),
    ];
    for (args, want) in cases {
        let o = exaudit(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(text(&o.stderr), format!("{want}\n"), "{args:?}");
        assert!(o.stdout.is_empty());
    }
    // Help and version are not errors.
    let o = exaudit(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("exaudit "));
    let o = exaudit(&["audit", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("Exit status:"));
}

#[test]
fn output_naming_an_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cap = d.join("a.pcap");
    let bytes = smtp_capture();
    std::fs::write(&cap, &bytes).unwrap();
    let site = d.join("site.toml");
    let site_text =
        "[site]\nname = \"t\"\ngenerations = [\"2010\"]\n[roles]\nhub = [\"10.1.0.10\"]\n";
    std::fs::write(&site, site_text).unwrap();
    let link = d.join("link.pcap");
    std::os::unix::fs::symlink(&cap, &link).unwrap();
    let hard = d.join("hard.pcap");
    std::fs::hard_link(&cap, &hard).unwrap();
    let dotted = d.join(".").join("a.pcap");
    for (out, named) in [
        (&cap, &cap),
        (&link, &cap),
        (&hard, &cap),
        (&dotted, &cap),
        (&site, &site),
    ] {
        let o = exaudit(&[
            "audit".as_ref(),
            "--site".as_ref(),
            site.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            cap.as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", out.display());
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "exaudit: {}: -o names a file this run reads ({})",
                out.display(),
                named.display()
            )),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&cap).unwrap(),
            bytes,
            "the capture was harmed"
        );
        assert_eq!(std::fs::read_to_string(&site).unwrap(), site_text);
    }
    // The near miss: another file is written as asked.
    let report = d.join("report.jsonl");
    let o = exaudit(&[
        "audit".as_ref(),
        "-F".as_ref(),
        "jsonl".as_ref(),
        "-o".as_ref(),
        report.as_os_str(),
        cap.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("\"type\":\"summary\"")
    );
}

#[test]
fn a_table_report_with_an_unreadable_input_is_not_called_clean() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.pcap");
    std::fs::write(&good, smtp_capture()).unwrap();
    let o = exaudit(&["audit".as_ref(), good.as_os_str()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("nothing malformed, truncated or dropped"));

    let missing = dir.path().join("missing.pcap");
    let o = exaudit(&["audit".as_ref(), good.as_os_str(), missing.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    let out = text(&o.stdout);
    assert!(!out.contains("nothing malformed"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("inputs not read to their end"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.trim_end().ends_with(" 1"), "{line}");
}
