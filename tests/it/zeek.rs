//! Agreement with Zeek's conn.log, row for row, on the traces of `../shared/zeek-conn/` (49 traces
//! from Zeek's own test suite with the rows Zeek wrote for them) and on the Zeek facts of
//! `../shared/pcaps/README.md`. Every remaining difference is listed in `KNOWN` with its reason,
//! and explained for users in `docs/zeek-differences.md`; a difference not listed fails the test,
//! and so does a listed one that has gone away (so the list stays true).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use exaudit::decode::DecodeConfig;
use exaudit::flow::{FlowConfig, FlowRecord, ServerPorts};
use exaudit::report::proto_name;
use serde_json::Value;

use super::common::{analyse_bytes, shared, skipped};

/// Zeek's likely_server_ports without `-b`: the ports its default analyzers register
/// (`scripts/base/protocols/*/main.zeek`), plus the packet-protocol UDP tunnel ports.
fn zeek_default_ports() -> ServerPorts {
    let tcp = [
        21, 2811, 22, 25, 587, 53, 79, 80, 81, 631, 1080, 3128, 8000, 8080, 8888, 88, 135, 139,
        445, 143, 389, 3268, 443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223, 502, 514,
        1434, 3306, 1883, 3389, 5222, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 20000,
    ];
    let udp = [
        53, 137, 5353, 5355, 67, 4011, 88, 123, 161, 162, 389, 443, 514, 1812, 3389, 5060, 20000,
        2123, 2152, 3544, 4754, 4789, 5072, 6081,
    ];
    ServerPorts::with(&tcp, &udp)
}

/// Zeek's likely_server_ports with `-b`: only the UDP tunnels of base/packet-protocols, plus the
/// ports of the protocol scripts the btest loads itself (named by the test's directory).
fn zeek_bare_ports(test: &str) -> ServerPorts {
    let mut s = ServerPorts::with(&[], &[2123, 2152, 3544, 4754, 4789, 5072, 6081]);
    let add: (&[u16], &[u16]) = if test.contains("/protocols/dhcp/") {
        (&[], &[67, 4011])
    } else if test.contains("/protocols/ftp/") {
        (&[21, 2811], &[])
    } else if test.contains("/protocols/http/") {
        (&[80, 81, 631, 1080, 3128, 8000, 8080, 8888], &[])
    } else if test.contains("/protocols/krb/") {
        (&[88], &[88])
    } else if test.contains("/protocols/ldap/") {
        (&[389, 3268], &[389])
    } else if test.contains("/protocols/mysql/") {
        (&[1434, 3306], &[])
    } else if test.contains("/protocols/ntp/") {
        (&[], &[123])
    } else if test.contains("/protocols/rdp/") {
        (&[3389], &[3389])
    } else if test.contains("/protocols/ssh/") {
        (&[22], &[])
    } else if test.contains("/protocols/ssl/") || test.contains("/protocols/imap/") {
        (
            &[
                443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223, 143,
            ],
            &[443],
        )
    } else if test.contains("/protocols/xmpp/") {
        (&[5222, 5269], &[])
    } else {
        // POP3 registers no server port (it is found by content only), nor do the others.
        (&[], &[])
    };
    for &p in add.0 {
        s.add_tcp(p);
    }
    for &p in add.1 {
        s.add_udp(p);
    }
    s
}

/// One conn.log row, reduced to what we compare.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    orig: String,
    orig_p: u16,
    resp: String,
    resp_p: u16,
    proto: String,
    conn_state: String,
    history: String,
    orig_pkts: u64,
    resp_pkts: u64,
    orig_ip_bytes: u64,
    resp_ip_bytes: u64,
    /// Zeek logs byte counts only when the duration is positive.
    bytes: Option<(u64, u64)>,
}

impl Row {
    fn tuple(&self) -> (String, u16, String, u16, String) {
        (
            self.orig.clone(),
            self.orig_p,
            self.resp.clone(),
            self.resp_p,
            self.proto.clone(),
        )
    }
}

fn row_from_zeek(v: &Value) -> Row {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let bytes = match (v["orig_bytes"].as_u64(), v["resp_bytes"].as_u64()) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    Row {
        orig: s("id.orig_h"),
        orig_p: u16::try_from(n("id.orig_p")).unwrap(),
        resp: s("id.resp_h"),
        resp_p: u16::try_from(n("id.resp_p")).unwrap(),
        proto: s("proto"),
        conn_state: s("conn_state"),
        history: s("history"),
        orig_pkts: n("orig_pkts"),
        resp_pkts: n("resp_pkts"),
        orig_ip_bytes: n("orig_ip_bytes"),
        resp_ip_bytes: n("resp_ip_bytes"),
        bytes,
    }
}

fn row_from_flow(f: &FlowRecord) -> Row {
    let positive = f.last > f.start;
    Row {
        orig: f.orig.0.to_string(),
        orig_p: f.orig.1,
        resp: f.resp.0.to_string(),
        resp_p: f.resp.1,
        proto: proto_name(f).to_owned(),
        conn_state: f.conn_state.as_str().to_owned(),
        history: f.history.as_str().to_owned(),
        orig_pkts: f.orig_counts.pkts,
        resp_pkts: f.resp_counts.pkts,
        orig_ip_bytes: f.orig_counts.ip_bytes,
        resp_ip_bytes: f.resp_counts.ip_bytes,
        bytes: positive.then_some((f.orig_counts.bytes, f.resp_counts.bytes)),
    }
}

/// Zeek writes `::` style IPv6 and dotted IPv4, as Rust's Display does; ICMP ports are type/code.
fn configure(flags: &str, test: &str) -> (DecodeConfig, FlowConfig) {
    let decode = DecodeConfig {
        verify_checksums: !flags.contains("-C"),
        ..DecodeConfig::default()
    };
    let flow = FlowConfig {
        vlan_in_key: false,
        server_ports: if flags.contains("-b") {
            zeek_bare_ports(test)
        } else {
            zeek_default_ports()
        },
        ..FlowConfig::default()
    };
    (decode, flow)
}

/// Pairs expected and actual rows by 5-tuple (in time order within a tuple) and lists every
/// disagreement as text.
fn compare(expected: &[Row], actual: &[Row]) -> Vec<String> {
    let mut by_tuple: BTreeMap<_, Vec<&Row>> = BTreeMap::new();
    for r in actual {
        by_tuple.entry(r.tuple()).or_default().push(r);
    }
    let mut problems = Vec::new();
    let mut used: BTreeMap<_, usize> = BTreeMap::new();
    for e in expected {
        let k = e.tuple();
        let i = used.entry(k.clone()).or_insert(0);
        match by_tuple.get(&k).and_then(|v| v.get(*i)) {
            None => problems.push(format!("missing {:?}", k)),
            Some(a) => {
                let mut d = Vec::new();
                if a.conn_state != e.conn_state {
                    d.push(format!(
                        "conn_state {} (zeek {})",
                        a.conn_state, e.conn_state
                    ));
                }
                if a.history != e.history {
                    d.push(format!("history {} (zeek {})", a.history, e.history));
                }
                if (a.orig_pkts, a.resp_pkts) != (e.orig_pkts, e.resp_pkts) {
                    d.push(format!(
                        "pkts {}/{} (zeek {}/{})",
                        a.orig_pkts, a.resp_pkts, e.orig_pkts, e.resp_pkts
                    ));
                }
                if (a.orig_ip_bytes, a.resp_ip_bytes) != (e.orig_ip_bytes, e.resp_ip_bytes) {
                    d.push(format!(
                        "ip_bytes {}/{} (zeek {}/{})",
                        a.orig_ip_bytes, a.resp_ip_bytes, e.orig_ip_bytes, e.resp_ip_bytes
                    ));
                }
                if e.bytes.is_some() && a.bytes != e.bytes {
                    d.push(format!("bytes {:?} (zeek {:?})", a.bytes, e.bytes));
                }
                if !d.is_empty() {
                    problems.push(format!("{:?}: {}", k, d.join(", ")));
                }
            }
        }
        *i += 1;
    }
    for (k, v) in &by_tuple {
        let n = used.get(k).copied().unwrap_or(0);
        for extra in v.iter().skip(n) {
            problems.push(format!(
                "extra {:?} {} {}",
                k, extra.conn_state, extra.history
            ));
        }
    }
    problems
}

fn load_expected(path: &Path) -> Vec<Row> {
    let v: Value = serde_json::from_reader(BufReader::new(File::open(path).unwrap())).unwrap();
    v.as_array().unwrap().iter().map(row_from_zeek).collect()
}

/// Traces whose rows differ from Zeek's for a reason we accept, with the reason. Each is
/// explained in docs/zeek-differences.md.
const KNOWN: &[(&str, &str)] = &[
    (
        "ntp__misordered-ntp",
        "Zeek's NTP analyzer swaps the roles after the first message; exaudit has no NTP analyzer",
    ),
    (
        "tunnels__gre-aruba-amsdu",
        "Aruba's GRE carrying 802.11 frames is not decapsulated",
    ),
    (
        "tunnels__teredo_bubble_with_payload",
        "Teredo (UDP 3544, and other ports by content) is not decapsulated",
    ),
];

#[test]
fn flow_table_agrees_with_zeek_conn_log() {
    let Some(shared) = shared() else {
        return skipped("Zeek conn.log agreement");
    };
    let dir = shared.join("zeek-conn");
    let index = std::fs::read_to_string(dir.join("index.tsv")).unwrap();
    let mut report = Vec::new();
    let mut rows_total = 0;
    let mut rows_ok = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, test, flags) = (cols[0], cols[1], cols[3]);
        let trace = ["pcap", "pcapng"]
            .iter()
            .map(|e| dir.join("traces").join(format!("{name}.{e}")))
            .find(|p| p.exists())
            .unwrap();
        let expected = load_expected(&dir.join("expected").join(format!("{name}.json")));
        let (decode, flow) = configure(flags, test);
        let a = analyse_bytes(std::fs::read(&trace).unwrap(), decode, flow);
        let actual: Vec<Row> = a.flows.iter().map(row_from_flow).collect();
        let problems = compare(&expected, &actual);
        rows_total += expected.len();
        rows_ok += expected.len()
            - problems
                .iter()
                .filter(|p| !p.starts_with("extra"))
                .count()
                .min(expected.len());
        let known = KNOWN.iter().find(|(n, _)| *n == name);
        match (problems.is_empty(), known) {
            (true, None) => {}
            (true, Some(_)) => report.push(format!(
                "{name}: now agrees with Zeek; remove it from KNOWN"
            )),
            (false, Some((_, why))) => {
                // An undecoded tunnel may only hide inner rows; the outer ones must still agree.
                if why.contains("not decapsulated")
                    && let Some(p) = problems.iter().find(|p| !p.starts_with("missing"))
                {
                    report.push(format!("{name}: {p}"));
                }
            }
            (false, None) => report.push(format!(
                "{name} ({flags}):\n    {}",
                problems.join("\n    ")
            )),
        }
    }
    // Written past the harness's capture, so the figure shows in every run's log.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("zeek agreement: {rows_ok} of {rows_total} rows identical\n").as_bytes(),
    );
    assert!(
        report.is_empty(),
        "differences from Zeek:\n{}",
        report.join("\n")
    );
}
