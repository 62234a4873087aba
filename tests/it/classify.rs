//! The classification stage through the binary: `--site`, `--rules`, `--fail-on`, `exaudit
//! catalog`, `exaudit site check`, and one-line errors for bad rules and site files.

use std::path::{Path, PathBuf};
use std::process::Output;

use exaudit::testkit::{Capture, addr};

use super::common::exaudit_bin as exaudit;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

const SITE: &str = "fixtures/demo/site.toml";

/// One flow: a client to the Hub on RDP (undocumented, medium), or Edge to Hub SMTP (documented).
fn capture(rdp: bool) -> Vec<u8> {
    let mut cap = Capture::new();
    let (c, s) = if rdp {
        ("10.1.20.52:50000", "10.1.0.10:3389")
    } else {
        ("172.16.0.4:50000", "10.1.0.10:25")
    };
    cap.tcp(addr(c), addr(s))
        .handshake()
        .client_sends(b"x")
        .server_sends(b"y")
        .close();
    cap.to_pcap()
}

fn flow_lines(o: &Output) -> Vec<serde_json::Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "flow")
        .collect()
}

#[test]
fn exit_status_follows_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(dir.path(), "ok.pcap", &capture(false));
    let rdp = write(dir.path(), "rdp.pcap", &capture(true));
    let run = |f: &Path, extra: &[&str]| {
        let mut args = vec!["audit", "-F", "jsonl", "--site", SITE, f.to_str().unwrap()];
        args.extend_from_slice(extra);
        exaudit(&args)
    };
    let o = run(&ok, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(flow_lines(&o)[0]["verdict"], "documented");
    assert_eq!(flow_lines(&o)[0]["path"], "e2010.hub.smtp-edge-hub");
    // A medium finding: below the default threshold (high), at or above --fail-on medium.
    assert_eq!(run(&rdp, &[]).status.code(), Some(0));
    assert_eq!(run(&rdp, &["--fail-on", "medium"]).status.code(), Some(1));
    assert_eq!(run(&rdp, &["--fail-on", "low"]).status.code(), Some(1));
    assert_eq!(run(&rdp, &["--fail-on", "never"]).status.code(), Some(0));
    // The bundled demo has high findings.
    let o = exaudit(&["audit", "--site", SITE, "fixtures/demo/demo.pcapng"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn user_rules_document_a_path_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let rdp = write(dir.path(), "rdp.pcap", &capture(true));
    let rules = write(
        dir.path(),
        "local.toml",
        br#"[list]
id = "local"
title = "Our own paths"
generations = ["2010"]

[[path]]
id = "local.admin-rdp"
name = "Administrators' workstations to Exchange servers (RDP)"
from = ["client"]
to = ["exchange"]
ports = ["3389/tcp"]
encryption = ["tls"]
encrypted_by_default = "yes"
source = "change CHG-0042"
"#,
    );
    let o = exaudit(&[
        "audit",
        "-F",
        "jsonl",
        "--site",
        SITE,
        "--rules",
        rules.to_str().unwrap(),
        "--fail-on",
        "low",
        rdp.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let f = &flow_lines(&o)[0];
    assert_eq!(f["verdict"], "documented");
    assert_eq!(f["path"], "local.admin-rdp");
    assert_eq!(f["roles"]["src"], serde_json::json!(["client"]));
    assert_eq!(f["roles"]["dest"], serde_json::json!(["hub"]));
}

#[test]
fn a_bad_rules_or_site_file_is_one_line_and_exit_2_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write(dir.path(), "ok.pcap", &capture(false));
    let rules = write(
        dir.path(),
        "local.toml",
        b"[list]\nid = \"local\"\ntitle = \"t\"\ngenerations = [\"2010\"]\n\n[[path]]\nid = \"relay-smtp\"\nname = \"n\"\nfrom = [\"hubtransport\"]\nto = [\"edge\"]\nports = [\"25/tcp\"]\nencrypted_by_default = \"no\"\nsource = \"s\"\n",
    );
    let out = dir.path().join("report.jsonl");
    let o = exaudit(&[
        "audit",
        "--rules",
        rules.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(
        err,
        format!(
            "exaudit: {}:9: path \"relay-smtp\": unknown role \"hubtransport\" (known: hub, edge, mailbox, cas, um, dc, dns, adrms, ippbx, ocs, client, internet, exchange, any, loopback)\n",
            rules.display()
        )
    );
    assert!(!out.exists(), "nothing is written when the rules are bad");

    let site = write(
        dir.path(),
        "site.toml",
        b"[site]\ngenerations = [\"2010\"]\n\n[roles]\nhub = [\"10.1.0.300\"]\n",
    );
    let o = exaudit(&[
        "audit",
        "--site",
        site.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        format!(
            "exaudit: {}:5: role hub: \"10.1.0.300\" is not an IPv4 or IPv6 address or prefix\n",
            site.display()
        )
    );
    let o = exaudit(&["site", "check", site.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stderr).lines().count(), 1);
    let missing = dir.path().join("nope.toml");
    let o = exaudit(&[
        "audit",
        "--site",
        missing.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        format!(
            "exaudit: {}: no such file or directory\n",
            missing.display()
        )
    );
}

#[test]
fn site_check_prints_what_the_file_assigns() {
    let o = exaudit(&["site", "check", SITE]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("fixtures/demo/site.toml (Contoso demo (Exchange 2010)): valid\n"),
        "{out}"
    );
    assert!(
        out.contains("  hub          2 addresses and networks\n"),
        "{out}"
    );
    assert!(out.contains("  client       1 address\n"), "{out}");
    assert!(
        out.contains("  internet     every address not listed\n"),
        "{out}"
    );
}

#[test]
fn catalog_lists_and_filters() {
    let o = exaudit(&["catalog", "--port", "50636"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    assert!(out.contains("e2010.hub.ldaps-edgesync"), "{out}");
    assert!(out.contains("e2016.edge.edgesync-50636"), "{out}");
    assert!(!out.contains("e2010.hub.smtp-hub-hub"), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 100));
    let o = exaudit(&[
        "catalog",
        "-F",
        "json",
        "--generation",
        "2013",
        "--role",
        "mailbox",
    ]);
    let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    let ids: Vec<&str> = v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"e2013.fet.client-proxy-send-465"), "{ids:?}");
    assert!(
        ids.iter()
            .all(|i| i.starts_with("e2013.") || i.starts_with("client.")),
        "{ids:?}"
    );
    let o = exaudit(&["catalog", "--role", "hubtransport"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).starts_with("exaudit: catalog: unknown role \"hubtransport\""));
    let all = exaudit(&["catalog", "-F", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text(&all.stdout)).unwrap();
    assert_eq!(v["paths"].as_array().unwrap().len(), 204);
    insta::assert_snapshot!("catalog_table", text(&exaudit(&["catalog"]).stdout));
}
