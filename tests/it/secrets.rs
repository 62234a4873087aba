//! No output ever contains a credential: the logins of every protocol the inspectors read, each
//! with a password or token used nowhere else, go through every output format, with and without
//! a site file, and neither the secrets nor their base64 or hex forms may appear anywhere in what
//! exaudit writes. The same run must have recognised each login, or the test would prove nothing.

use base64::Engine as _;
use exaudit::{Config, Format, run};
use serde_json::Value;

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

#[test]
fn no_output_contains_a_password_or_token() {
    let (cap, secrets) = exaudit::testkit::scenes::secrets();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("secrets.pcap");
    std::fs::write(&pcap, cap.to_pcap()).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "[site]\nname = \"t\"\ngenerations = [\"2010\"]\n[roles]\nclient = [\"10.9.0.50\"]\n\
         cas = [\"10.9.0.10\"]\nmailbox = [\"10.9.0.10\"]\nhub = [\"10.9.0.10\"]\n\
         dc = [\"10.9.0.10\"]\n",
    )
    .unwrap();
    let mut outputs = Vec::new();
    for format in [Format::Jsonl, Format::Json, Format::Table] {
        for site in [None, Some(site.clone())] {
            let config = Config {
                inputs: vec![pcap.clone()],
                format,
                site,
                ..Config::default()
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            run(&config, &mut out, &mut err).unwrap();
            outputs.push((
                format!("{format:?}"),
                String::from_utf8_lossy(&out).into_owned(),
            ));
            outputs.push((
                format!("{format:?} stderr"),
                String::from_utf8_lossy(&err).into_owned(),
            ));
        }
    }
    // The forms are the ones the wire uses: each secret is found in the capture itself through
    // one of them (in clear, or inside a base64 blob), so the search below can find a leak.
    let wire = String::from_utf8_lossy(&cap.to_pcap()).into_owned();
    for secret in &secrets {
        assert!(
            forms(secret).iter().any(|f| wire.contains(f.as_str())),
            "{secret:?} is not in the capture in any form the test looks for"
        );
    }
    for secret in &secrets {
        for form in forms(secret) {
            for (what, text) in &outputs {
                assert!(
                    !text.contains(&form),
                    "{what} contains {form:?} (a form of the secret {secret:?})"
                );
            }
        }
    }

    // The logins were seen: every flow of the capture shows a clear-text credential.
    let jsonl = &outputs[0].1;
    let flows: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "flow")
        .collect();
    assert_eq!(flows.len(), 8);
    for f in &flows {
        let clear = f["auth"]["observed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["clear_credentials"] == true);
        assert!(clear, "no clear-text credential recognised on {f}");
    }
    let users: Vec<&str> = flows
        .iter()
        .flat_map(|f| f["auth"]["observed"].as_array().unwrap())
        .filter_map(|a| a["user"].as_str())
        .collect();
    for user in ["alice", "bob", "carol", "erin", "heidi"] {
        assert!(
            users.iter().any(|u| u.contains(user)),
            "user {user} not named: {users:?}"
        );
    }
}
