//! No output ever contains a credential: the logins of every protocol the inspectors read, each
//! with a password or token used nowhere else, go through every output format, with and without
//! a site file, and neither the secrets nor their base64 or hex forms may appear anywhere in what
//! exaudit writes. The same run must have recognised each login, or the test would prove nothing:
//! every flow reports its clear-text credential (a CRAM-MD5 digest is not one), names the user
//! the protocol's structure names, and names nobody where the client sent something malformed.
//! A property test does the same for random user names and secrets, with every kind of login.

use base64::Engine as _;
use exaudit::testkit::logins::ALL;
use exaudit::testkit::{Capture, addr};
use std::sync::OnceLock;

use exaudit::{Config, Format, Rules, run_with};
use proptest::prelude::*;
use serde_json::Value;

/// Places the test's two addresses in roles, so that classification with a site file runs too.
const SITE: &str = "[site]\nname = \"t\"\ngenerations = [\"2010\"]\n[roles]\n\
    client = [\"10.9.0.50\"]\ncas = [\"10.9.0.10\"]\nmailbox = [\"10.9.0.10\"]\n\
    hub = [\"10.9.0.10\"]\ndc = [\"10.9.0.10\"]\n";

/// The forms a secret could leak in: as typed, base64 at each of the three alignments it can
/// take inside a longer blob (whole characters only), and hex.
fn forms(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v = vec![secret.to_owned()];
    for pad in 0..3 {
        let mut bytes = vec![b'x'; pad];
        bytes.extend_from_slice(secret.as_bytes());
        let enc = b64.encode(&bytes);
        // Drop the characters that mix in the padding or the end: what remains is the part
        // that any blob containing the secret at this alignment also contains.
        let skip = (pad * 4).div_ceil(3);
        let inner: String = enc.trim_end_matches('=').chars().skip(skip).collect();
        let keep = inner.len().saturating_sub(2);
        v.push(inner[..keep].to_owned());
    }
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    v.push(hex.clone());
    v.push(hex.to_uppercase());
    v
}

/// The built-in catalog, without and with the test's site file, loaded once: loading it costs
/// more than a run over a small capture.
fn rules() -> &'static [(Config, Rules); 2] {
    static RULES: OnceLock<[(Config, Rules); 2]> = OnceLock::new();
    RULES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.toml");
        std::fs::write(&site, SITE).unwrap();
        [None, Some(site)].map(|site| {
            let config = Config {
                site,
                ..Config::default()
            };
            let rules = Rules::load(&config).unwrap();
            (config, rules)
        })
    })
}

/// Runs exaudit over the capture in every format, without and with a site file. Returns what
/// each run wrote to stdout and to stderr, named; the first is JSONL without a site file.
fn outputs(cap: &Capture) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("secrets.pcap");
    std::fs::write(&pcap, cap.to_pcap()).unwrap();
    let mut outputs = Vec::new();
    for format in [Format::Jsonl, Format::Json, Format::Table] {
        for (config, rules) in rules() {
            let with = if config.site.is_some() {
                "with site"
            } else {
                ""
            };
            let config = Config {
                inputs: vec![pcap.clone()],
                format,
                ..config.clone()
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            run_with(&config, rules, &mut out, &mut err).unwrap();
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            outputs.push((format!("{format:?} {with}"), text(&out)));
            outputs.push((format!("{format:?} {with} stderr"), text(&err)));
        }
    }
    outputs
}

/// The flow records of a JSONL report.
fn flows(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "flow")
        .collect()
}

fn observed(flow: &Value) -> &Vec<Value> {
    flow["auth"]["observed"].as_array().unwrap()
}

/// The first form of `secret` that some output holds, with the output's name.
fn leak(outputs: &[(String, String)], secret: &str) -> Option<(String, String)> {
    forms(secret).into_iter().find_map(|form| {
        outputs
            .iter()
            .find(|(_, text)| text.contains(&form))
            .map(|(what, _)| (what.clone(), form))
    })
}

#[test]
fn no_output_contains_a_password_or_token() {
    let scene = exaudit::testkit::scenes::secrets();
    let outputs = outputs(&scene.capture);
    // The forms are the ones the wire uses: each secret is found in the capture itself through
    // one of them (in clear, or inside a base64 blob), so the search below can find a leak.
    let wire = String::from_utf8_lossy(&scene.capture.to_pcap()).into_owned();
    for secret in &scene.secrets {
        assert!(
            forms(secret).iter().any(|f| wire.contains(f.as_str())),
            "{secret:?} is not in the capture in any form the test looks for"
        );
    }
    for secret in &scene.secrets {
        if let Some((what, form)) = leak(&outputs, secret) {
            panic!("{what} contains {form:?} (a form of the secret {secret:?})");
        }
    }

    // The logins were seen, each as its protocol's structure says.
    let flows = flows(&outputs[0].1);
    assert_eq!(flows.len(), scene.flows.len());
    for want in &scene.flows {
        let f = flows
            .iter()
            .find(|f| f["src_port"] == want.client_port)
            .unwrap_or_else(|| panic!("no flow from port {}", want.client_port));
        let auth = observed(f);
        assert!(!auth.is_empty(), "no authentication recognised on {f}");
        let clear = auth.iter().any(|a| a["clear_credentials"] == true);
        assert_eq!(clear, want.clear, "clear_credentials on {f}");
        let findings = f["findings"].as_array().unwrap();
        assert_eq!(
            findings.iter().any(|c| c == "clear-credentials"),
            want.clear,
            "clear-credentials finding on {f}"
        );
        let users: Vec<&str> = auth.iter().filter_map(|a| a["user"].as_str()).collect();
        match want.user {
            Some(user) => assert!(
                users.iter().any(|u| u.contains(user)),
                "user {user} not named on {f}"
            ),
            None => assert!(users.is_empty(), "{users:?} named where nobody is, on {f}"),
        }
    }
}

/// A user name and a secret that cannot be mistaken for each other or for protocol text: the
/// secret starts with an upper-case `Q`, which no user name holds; it is at least eight
/// characters, so its hex form is longer than any user name; it is made of characters that every
/// protocol carries as they are.
fn user_and_secret() -> impl Strategy<Value = (String, String)> {
    ("[a-z][a-z0-9.]{0,11}", "Q[A-Za-z0-9._~-]{7,23}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// For random user names and secrets and every kind of login, no output holds the secret in
    /// any form; each login is still recognised, and names its user exactly where it should.
    #[test]
    fn no_login_of_any_kind_leaks_its_secret((user, secret) in user_and_secret()) {
        let mut cap = Capture::new();
        for (login, port) in ALL.iter().zip(51000u16..) {
            let client = addr(&format!("10.9.0.50:{port}"));
            login.add(&mut cap, client, addr("10.9.0.10:1"), &user, &secret);
        }
        let outputs = outputs(&cap);
        prop_assert_eq!(leak(&outputs, &secret), None);
        let flows = flows(&outputs[0].1);
        prop_assert_eq!(flows.len(), ALL.len());
        for (login, port) in ALL.iter().zip(51000u16..) {
            let f = flows.iter().find(|f| f["src_port"] == port).unwrap();
            let auth = observed(f);
            let clear = auth.iter().any(|a| a["clear_credentials"] == true);
            prop_assert_eq!(clear, login.expect.clear, "{}: {}", login.name, f);
            let named = auth
                .iter()
                .filter_map(|a| a["user"].as_str())
                .any(|u| u.contains(user.as_str()));
            let anyone = auth.iter().any(|a| a.get("user").is_some());
            prop_assert_eq!(named, login.expect.named, "{}: {}", login.name, f);
            prop_assert_eq!(anyone, login.expect.named, "{}: {}", login.name, f);
        }
    }
}
