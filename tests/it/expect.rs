//! The `expect` stage end to end: endpoints the endpoint mapper hands out are learned while the
//! capture is read, and later flows to them are classified as the dynamic-RPC path of the
//! interface, with `rpc_interface` and `learned_from`; the site's RPC range alone gives only
//! `inferred`. Captures are scenes built in code; the real capture's facts come from
//! `../shared/pcaps/README.md`.

use std::path::PathBuf;

use exaudit::testkit::scenes::{
    CONNECT, EMSMDB, NSPI, PRIVACY, dcerpc, opaque, rpc_emsmdb, rpc_epmap, rpc_request_body,
    rpc_response_body,
};
use exaudit::testkit::{Capture, Dir, addr, flags};
use exaudit::time::Duration;
use exaudit::{Config, Format, Rules};
use serde_json::Value;

use crate::common;

const SITE: &str = "fixtures/demo/site.toml";
const CAS: &str = "10.1.0.30";

/// Runs the whole pipeline over `cap` (JSON lines), with the demo's site file or without one.
fn audit_with(cap: &Capture, site: bool, config: Config) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scene.pcap");
    std::fs::write(&file, cap.to_pcap()).unwrap();
    let config = Config {
        inputs: vec![file],
        format: Format::Jsonl,
        site: site.then(|| PathBuf::from(SITE)),
        fail_on: None,
        ..config
    };
    let rules = Rules::load(&config).unwrap();
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    exaudit::run_with(&config, &rules, &mut out, &mut diag).unwrap();
    assert!(diag.is_empty(), "{}", String::from_utf8_lossy(&diag));
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn audit(cap: &Capture, site: bool) -> Vec<Value> {
    audit_with(cap, site, Config::default())
}

fn flows_to(objs: &[Value], port: u16) -> Vec<&Value> {
    objs.iter()
        .filter(|o| o["type"] == "flow" && (o["dest_port"] == port || o["src_port"] == port))
        .collect()
}

fn one_flow_to(objs: &[Value], port: u16) -> &Value {
    let v = flows_to(objs, port);
    assert_eq!(v.len(), 1, "{v:#?}");
    v[0]
}

fn learned(objs: &[Value]) -> Vec<&Value> {
    objs.iter().filter(|o| o["type"] == "learned").collect()
}

fn summary(objs: &[Value]) -> &Value {
    objs.iter().find(|o| o["type"] == "summary").unwrap()
}

fn at(host: &str, port: u16) -> std::net::SocketAddr {
    addr(&format!("{host}:{port}"))
}

/// Outlook asks cas01's endpoint mapper for the store and connects to the port it is given.
fn outlook(cap: &mut Capture, ws: &str, port: u16, level: u8) {
    rpc_epmap(
        cap,
        at(ws, 49760),
        at(CAS, 135),
        EMSMDB,
        &[(port, [10, 1, 0, 30])],
    );
    cap.wait(Duration::from_millis(3));
    rpc_emsmdb(cap, at(ws, 49761), at(CAS, port), level, 7);
}

#[test]
fn outlook_through_the_endpoint_mapper_is_the_documented_mapi_path() {
    let mut cap = Capture::new();
    outlook(&mut cap, "10.1.20.51", 59540, PRIVACY);
    let objs = audit(&cap, true);
    let epm = one_flow_to(&objs, 135);
    let f = one_flow_to(&objs, 59540);
    assert_eq!(f["path"], "e2010.static.rpc-client-access");
    assert_eq!(f["path_match"], "learned");
    assert_eq!(f["verdict"], "documented");
    assert_eq!(f["rpc_interface"]["endpoint"], "emsmdb");
    assert_eq!(
        f["rpc_interface"]["uuid"],
        "a4f1db00-ca47-1067-b31f-00dd010662da"
    );
    assert_eq!(f["learned_from"]["community_id"], epm["community_id"]);
    assert_eq!(f["learned_from"]["via"], "epm");
    // The answer's time: inside the endpoint-mapper flow, before the MAPI flow began.
    let t = f["learned_from"]["ts"].as_str().unwrap();
    assert!(t > epm["ts"].as_str().unwrap() && t < f["ts"].as_str().unwrap());
    assert_eq!(f["findings"], serde_json::json!([]));
    // The endpoint-mapper flow shows what it asked and answered.
    assert_eq!(epm["epm"]["maps"], 1);
    assert_eq!(epm["epm"]["towers"][0]["port"], 59540);
    let l = learned(&objs);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["ip"], CAS);
    assert_eq!(l[0]["port"], 59540);
    assert_eq!(l[0]["interfaces"][0]["endpoint"], "emsmdb");
    assert_eq!(l[0]["flows"], 1);
    let s = summary(&objs);
    assert_eq!(s["expectations"]["learned"], 1);
    assert_eq!(s["expectations"]["attributed"], 1);

    // Without a site file: a path that serves the store, by what was learned alone.
    let objs = audit(&cap, false);
    let f = one_flow_to(&objs, 59540);
    assert_eq!(f["path_match"], "learned");
    assert_eq!(f["verdict"], "port-only");
    let catalog = exaudit::catalog::Catalog::builtin().unwrap();
    let p = catalog.path(catalog.find(f["path"].as_str().unwrap()).unwrap());
    assert!(p.rpc_interfaces.contains(&"emsmdb"), "{}", p.id);
}

#[test]
fn without_the_answer_the_same_flow_is_only_inferred_and_the_bind_names_the_interface() {
    let mut cap = Capture::new();
    rpc_emsmdb(
        &mut cap,
        at("10.1.20.51", 49761),
        at(CAS, 59540),
        PRIVACY,
        7,
    );
    let objs = audit(&cap, true);
    let f = one_flow_to(&objs, 59540);
    assert_eq!(f["path_match"], "inferred");
    assert_eq!(f["path"], "e2010.static.rpc-client-access");
    assert_eq!(f["rpc_interface"]["endpoint"], "emsmdb");
    assert!(f.get("learned_from").is_none());
    assert!(learned(&objs).is_empty());

    // An address-book bind picks the address-book path among the inferred ones.
    let mut cap = Capture::new();
    let mut s = cap.tcp(at("10.1.20.51", 49770), at(CAS, 59541));
    s.handshake()
        .client_sends(&dcerpc(
            0x0b,
            1,
            &exaudit::testkit::scenes::rpc_bind_body(NSPI, 56, 0),
        ))
        .server_sends(&dcerpc(
            0x0c,
            1,
            &exaudit::testkit::scenes::rpc_bind_ack_body(59541),
        ))
        .close();
    let objs = audit(&cap, true);
    let f = one_flow_to(&objs, 59541);
    assert_eq!(f["path_match"], "inferred");
    assert_eq!(f["path"], "e2010.static.address-book");
    assert_eq!(f["rpc_interface"]["endpoint"], "nspi");

    // Outside the site's dynamic range and without an answer: no RPC path at all.
    let mut cap = Capture::new();
    rpc_emsmdb(&mut cap, at("10.1.20.51", 49761), at(CAS, 6100), PRIVACY, 7);
    let objs = audit(&cap, true);
    let f = one_flow_to(&objs, 6100);
    assert_ne!(f["path_match"], "inferred");
    assert_ne!(f["path_match"], "learned");
}

#[test]
fn an_answer_with_two_towers_teaches_two_endpoints() {
    let mut cap = Capture::new();
    rpc_epmap(
        &mut cap,
        at("10.1.20.51", 49760),
        at(CAS, 135),
        EMSMDB,
        &[(59540, [0, 0, 0, 0]), (59544, [192, 168, 30, 30])],
    );
    cap.wait(Duration::from_millis(3));
    rpc_emsmdb(
        &mut cap,
        at("10.1.20.51", 49761),
        at("192.168.30.30", 59544),
        PRIVACY,
        7,
    );
    let objs = audit(&cap, true);
    let l = learned(&objs);
    let got: Vec<(String, u64)> = l
        .iter()
        .map(|o| {
            (
                o["ip"].as_str().unwrap().to_owned(),
                o["port"].as_u64().unwrap(),
            )
        })
        .collect();
    // 0.0.0.0 in a tower means the server that answered.
    assert_eq!(
        got,
        [(CAS.to_owned(), 59540), ("192.168.30.30".to_owned(), 59544)]
    );
    let f = one_flow_to(&objs, 59544);
    assert_eq!(f["path_match"], "learned");
    assert_eq!(f["rpc_interface"]["endpoint"], "emsmdb");
}

/// A MAPI connection the SPAN port joins in the middle: requests and answers, no handshake.
fn midstream_mapi(cap: &mut Capture, client: &str, cport: u16, port: u16, server_first: bool) {
    let mut s = cap.tcp(at(client, cport), at(CAS, port));
    let req = dcerpc(0x00, 40, &rpc_request_body(11, &opaque(40, 120)));
    let resp = dcerpc(0x02, 40, &rpc_response_body(&opaque(41, 300)));
    let (c0, s0) = (1_000_000u32, 2_000_000u32);
    let from_client = |s: &mut exaudit::testkit::TcpConv<'_>, seq: u32, ack: u32| {
        let p = s.build(Dir::ToServer, flags::ACK | flags::PSH, seq, ack, &req);
        s.emit(p);
    };
    let from_server = |s: &mut exaudit::testkit::TcpConv<'_>, seq: u32, ack: u32| {
        let p = s.build(Dir::ToClient, flags::ACK | flags::PSH, seq, ack, &resp);
        s.emit(p);
    };
    if server_first {
        from_server(&mut s, s0, c0);
        from_client(&mut s, c0, s0 + 300);
    } else {
        from_client(&mut s, c0, s0);
        from_server(&mut s, s0, c0 + 136);
    }
}

#[test]
fn a_flow_joined_midstream_before_the_answer_is_attributed() {
    for server_first in [false, true] {
        let mut cap = Capture::new();
        // Workstation .60 has been connected since before the capture started.
        midstream_mapi(&mut cap, "10.1.20.60", 50500, 59540, server_first);
        cap.wait(Duration::from_millis(20));
        // Another workstation asks the endpoint mapper, and is told the same port.
        rpc_epmap(
            &mut cap,
            at("10.1.20.61", 49800),
            at(CAS, 135),
            EMSMDB,
            &[(59540, [10, 1, 0, 30])],
        );
        let objs = audit(&cap, true);
        let f = one_flow_to(&objs, 59540);
        assert_eq!(f["midstream"], true);
        assert_eq!(f["path_match"], "learned", "server first: {server_first}");
        assert_eq!(f["path"], "e2010.static.rpc-client-access");
        assert_eq!(f["rpc_interface"]["endpoint"], "emsmdb");
        // The server is the responder, whichever packet came first.
        assert_eq!(f["dest_ip"], CAS);
        assert_eq!(f["dest_port"], 59540);
        assert_eq!(f["src_ip"], "10.1.20.60");
        if server_first {
            assert!(f["history"].as_str().unwrap().ends_with('^'), "{f}");
        }
    }
}

#[test]
fn a_client_port_equal_to_a_learned_port_is_not_attributed() {
    let mut cap = Capture::new();
    rpc_epmap(
        &mut cap,
        at("10.1.20.61", 49800),
        at(CAS, 135),
        EMSMDB,
        &[(59540, [10, 1, 0, 30])],
    );
    // cas01 itself connects out from source port 59540 to the Mailbox server's HTTPS.
    cap.tcp(at(CAS, 59540), at("10.1.0.20", 443))
        .handshake()
        .close();
    let objs = audit(&cap, true);
    let f = one_flow_to(&objs, 443);
    assert_eq!(f["src_port"], 59540);
    assert_ne!(f["path_match"], "learned");
    assert!(f.get("learned_from").is_none());
    assert_eq!(summary(&objs)["expectations"]["attributed"], 0);
}

#[test]
fn a_learned_port_that_nobody_answers_is_a_blocked_dynamic_port() {
    let mut cap = Capture::new();
    rpc_epmap(
        &mut cap,
        at("10.1.20.52", 50180),
        at(CAS, 135),
        NSPI,
        &[(59541, [10, 1, 0, 30])],
    );
    cap.tcp(at("10.1.20.52", 50181), at(CAS, 59541)).syn();
    // And another client is refused outright.
    cap.tcp(at("10.1.20.53", 50190), at(CAS, 59541))
        .syn()
        .refuse();
    let objs = audit(&cap, true);
    let fs = flows_to(&objs, 59541);
    assert_eq!(fs.len(), 2);
    for f in fs {
        assert_eq!(f["path"], "e2010.static.address-book");
        assert_eq!(f["path_match"], "learned");
        assert_eq!(f["findings"], serde_json::json!(["dynamic-port-blocked"]));
    }
    let finding = objs
        .iter()
        .find(|o| o["type"] == "finding" && o["code"] == "dynamic-port-blocked")
        .unwrap();
    assert_eq!(finding["severity"], "high");
    assert_eq!(finding["flows"], 2);
    let msg = finding["message"].as_str().unwrap();
    assert!(msg.contains("59541/tcp") && msg.contains("135"), "{msg}");
    let l = learned(&objs);
    assert_eq!(
        (l[0]["flows"].as_u64(), l[0]["failed"].as_u64()),
        (Some(2), Some(2))
    );
}

#[test]
fn a_bind_that_disagrees_with_the_answer_wins_and_is_reported() {
    let mut cap = Capture::new();
    rpc_epmap(
        &mut cap,
        at("10.1.20.51", 49760),
        at(CAS, 135),
        NSPI,
        &[(59540, [10, 1, 0, 30])],
    );
    // The port was handed out for the address book; the client binds the store there.
    rpc_emsmdb(
        &mut cap,
        at("10.1.20.51", 49761),
        at(CAS, 59540),
        PRIVACY,
        7,
    );
    let objs = audit(&cap, true);
    let f = one_flow_to(&objs, 59540);
    assert_eq!(f["rpc_interface"]["endpoint"], "emsmdb");
    assert_eq!(f["path"], "e2010.static.rpc-client-access");
    assert_eq!(f["learned_from"]["interface"]["endpoint"], "nspi");
    assert_eq!(f["findings"], serde_json::json!(["rpc-interface-mismatch"]));

    // AsyncEMSMDB on a port learned for EMSMDB is the same process: no disagreement.
    let mut cap = Capture::new();
    outlook(&mut cap, "10.1.20.51", 59540, CONNECT);
    let objs = audit(&cap, true);
    let f = one_flow_to(&objs, 59540);
    assert!(
        !f["findings"]
            .as_array()
            .unwrap()
            .contains(&Value::from("rpc-interface-mismatch"))
    );
    // (This path documents no RPC encryption, so level connect raises nothing either.)
    assert_eq!(f["findings"], serde_json::json!([]));
}

#[test]
fn the_table_is_bounded_and_says_what_it_dropped() {
    let mut cap = Capture::new();
    for i in 0..5u16 {
        rpc_epmap(
            &mut cap,
            at("10.1.20.51", 49760 + i),
            at(CAS, 135),
            EMSMDB,
            &[(59540 + i, [10, 1, 0, 30])],
        );
    }
    // The first port learned was dropped to make room: a flow to it is not attributed.
    rpc_emsmdb(
        &mut cap,
        at("10.1.20.51", 49900),
        at(CAS, 59540),
        PRIVACY,
        7,
    );
    rpc_emsmdb(
        &mut cap,
        at("10.1.20.51", 49901),
        at(CAS, 59544),
        PRIVACY,
        7,
    );
    let mut config = Config::default();
    config.expect.max_entries = 3;
    let objs = audit_with(&cap, true, config);
    let e = &summary(&objs)["expectations"];
    assert_eq!(e["learned"], 5);
    assert_eq!(e["dropped"], 2);
    assert_eq!(e["held"], 3);
    assert_eq!(one_flow_to(&objs, 59540)["path_match"], "inferred");
    assert_eq!(one_flow_to(&objs, 59544)["path_match"], "learned");
}

#[test]
fn the_terminal_report_lists_learned_endpoints() {
    let mut cap = Capture::new();
    outlook(&mut cap, "10.1.20.51", 59540, PRIVACY);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scene.pcap");
    std::fs::write(&file, cap.to_pcap()).unwrap();
    let config = Config {
        inputs: vec![file],
        format: Format::Table,
        site: Some(PathBuf::from(SITE)),
        ..Config::default()
    };
    let rules = Rules::load(&config).unwrap();
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    exaudit::run_with(&config, &rules, &mut out, &mut diag).unwrap();
    let text = String::from_utf8(out).unwrap();
    let i = text
        .find("Learned endpoints (1: 1 from the endpoint mapper")
        .unwrap();
    let section = &text[i..];
    assert!(section.contains("10.1.0.30:59540/tcp"), "{section}");
    assert!(section.contains("epm emsmdb"), "{section}");
    assert!(section.contains("1 flow"), "{section}");
    let objs = audit(&cap, true);
    let epm = one_flow_to(&objs, 135)["community_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(section.contains(&format!("from flow {epm}")), "{section}");
}

#[test]
fn the_real_endpoint_mapper_capture_teaches_the_svcctl_port() {
    let Some(bytes) = common::load("sv-dcerpc-epm-svcctl-privacy.pcap") else {
        common::skipped("sv-dcerpc-epm-svcctl-privacy.pcap");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("epm.pcap");
    std::fs::write(&file, bytes).unwrap();
    let config = Config {
        inputs: vec![file],
        format: Format::Jsonl,
        fail_on: None,
        ..Config::default()
    };
    let rules = Rules::load(&config).unwrap();
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    exaudit::run_with(&config, &rules, &mut out, &mut diag).unwrap();
    let objs: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // README: the Map response (frame 4) gives ncacn_ip_tcp port 49683 at 172.16.66.36.
    let l = learned(&objs);
    assert_eq!(l.len(), 1, "{l:#?}");
    assert_eq!(l[0]["ip"], "172.16.66.36");
    assert_eq!(l[0]["port"], 49683);
    assert_eq!(l[0]["interfaces"][0]["endpoint"], "svcctl");
    let epm = one_flow_to(&objs, 135);
    assert_eq!(epm["src_ip"], "172.16.66.1");
    assert_eq!(epm["src_port"], 50058);
    // README: 1.3 ms later 172.16.66.1:50059 → 172.16.66.36:49683 binds SVCCTL with NTLMSSP at
    // packet privacy; the slice has no SYN, so the flow is mid-stream.
    let f = one_flow_to(&objs, 49683);
    assert_eq!(f["src_ip"], "172.16.66.1");
    assert_eq!(f["src_port"], 50059);
    assert_eq!(f["midstream"], true);
    assert_eq!(f["path_match"], "learned");
    assert_eq!(f["rpc_interface"]["endpoint"], "svcctl");
    assert_eq!(
        f["rpc_interface"]["uuid"],
        "367abb81-9844-35f1-ad32-98f038001003"
    );
    assert_eq!(f["learned_from"]["community_id"], epm["community_id"]);
    assert_eq!(f["encryption"]["observed"], "rpc-privacy");
    // svcctl is no Exchange interface: a path that names its interfaces does not claim it.
    assert_ne!(f["path"], "e2010.static.rpc-client-access");
}
