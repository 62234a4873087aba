//! Media endpoints learned from SIP/SDP: a Unified Messaging call's RTP and RTCP are classified
//! as the UM media path of their call, SRTP or not, and failed calls teach nothing that
//! outlives them. Scenes built in code with the SIP builders of the fixture kit; the real SIP
//! capture's facts come from `../shared/pcaps/README.md`.

use std::path::PathBuf;

use exaudit::testkit::sip::{ack, bye, invite, response, rtcp_sender_report, rtp, sdp, with_via};
use exaudit::testkit::{Capture, addr};
use exaudit::time::Duration;
use exaudit::{Config, Format, Rules};
use serde_json::Value;

use crate::common;

const SITE: &str = "fixtures/demo/site.toml";
/// The demo site's IP PBX and Unified Messaging server.
const PBX: &str = "10.1.5.1";
const UM: &str = "10.1.0.40";
/// The gateway's media address in the calls judged with the demo site: the PBX itself (the
/// site file places no other address of it).
const PBX_MEDIA: &str = "10.1.5.1";
/// A media address that is not the address the SIP comes from.
const OTHER_MEDIA: &str = "10.1.5.9";

fn run(bytes: Vec<u8>, site: bool) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("call.pcap");
    std::fs::write(&file, bytes).unwrap();
    let config = Config {
        inputs: vec![file],
        format: Format::Jsonl,
        site: site.then(|| PathBuf::from(SITE)),
        fail_on: None,
        ..Config::default()
    };
    let rules = Rules::load(&config).unwrap();
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    exaudit::run_with(&config, &rules, &mut out, &mut diag).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn at(host: &str, port: u16) -> std::net::SocketAddr {
    addr(&format!("{host}:{port}"))
}

fn flow<'a>(objs: &'a [Value], a: (&str, u16), b: (&str, u16)) -> &'a Value {
    let is = |o: &Value, x: (&str, u16), y: (&str, u16)| {
        o["src_ip"] == x.0 && o["src_port"] == x.1 && o["dest_ip"] == y.0 && o["dest_port"] == y.1
    };
    objs.iter()
        .find(|o| o["type"] == "flow" && (is(o, a, b) || is(o, b, a)))
        .unwrap_or_else(|| panic!("no flow {a:?} {b:?}"))
}

fn learned(objs: &[Value]) -> Vec<(String, u64, String)> {
    objs.iter()
        .filter(|o| o["type"] == "learned")
        .map(|o| {
            (
                o["ip"].as_str().unwrap().to_owned(),
                o["port"].as_u64().unwrap(),
                o["stream"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn has(f: &Value, code: &str) -> bool {
    f["findings"]
        .as_array()
        .unwrap()
        .contains(&Value::from(code))
}

/// A call from the PBX to UM over UDP: offer from the PBX (media at `PBX_MEDIA`:40000), answer
/// from UM (16500), ten packets of RTP each way and an RTCP report each way, then BYE.
fn call(profile: &str, crypto: bool) -> Capture {
    let id = "a84b4c76e66710@pbx01.contoso.com";
    let (pbx, um) = (at(PBX, 5060), at(UM, 5060));
    let mut cap = Capture::new();
    cap.udp(
        pbx,
        um,
        &invite(
            id,
            PBX,
            UM,
            Some(&sdp(PBX_MEDIA, 40000, profile, crypto, None)),
        ),
    );
    cap.wait(Duration::from_millis(20));
    cap.udp(um, pbx, &response(180, "Ringing", id, "1 INVITE", None));
    cap.wait(Duration::from_millis(300));
    cap.udp(
        um,
        pbx,
        &response(
            200,
            "OK",
            id,
            "1 INVITE",
            Some(&sdp(UM, 16500, profile, crypto, None)),
        ),
    );
    cap.udp(pbx, um, &ack(id, 1, None));
    for i in 0..10u16 {
        cap.wait(Duration::from_millis(20));
        cap.udp(
            at(PBX_MEDIA, 40000),
            at(UM, 16500),
            &rtp(8, i, u32::from(i) * 160, 0x1111, 160),
        );
        cap.udp(
            at(UM, 16500),
            at(PBX_MEDIA, 40000),
            &rtp(8, 100 + i, u32::from(i) * 160, 0x2222, 160),
        );
    }
    cap.udp(
        at(PBX_MEDIA, 40001),
        at(UM, 16501),
        &rtcp_sender_report(0x1111),
    );
    cap.udp(
        at(UM, 16501),
        at(PBX_MEDIA, 40001),
        &rtcp_sender_report(0x2222),
    );
    cap.wait(Duration::from_millis(50));
    cap.udp(pbx, um, &bye(id, 2));
    cap.udp(um, pbx, &response(200, "OK", id, "2 BYE", None));
    cap
}

#[test]
fn a_um_call_teaches_its_rtp_and_rtcp_in_both_directions() {
    let objs = run(call("RTP/AVP", false).to_pcap(), true);
    let mut got = learned(&objs);
    got.sort();
    assert_eq!(
        got,
        [
            (UM.to_owned(), 16500, "rtp".to_owned()),
            (UM.to_owned(), 16501, "rtcp".to_owned()),
            (PBX_MEDIA.to_owned(), 40000, "rtp".to_owned()),
            (PBX_MEDIA.to_owned(), 40001, "rtcp".to_owned()),
        ]
    );
    let sig = flow(&objs, (PBX, 5060), (UM, 5060));
    let call_id = sig["sip"]["messages"][0]["call_id"].as_str().unwrap();
    let media = flow(&objs, (PBX_MEDIA, 40000), (UM, 16500));
    assert_eq!(media["path"], "e2010.um.sip-rtp-telephony");
    assert_eq!(media["path_match"], "learned");
    assert_eq!(media["verdict"], "documented");
    assert_eq!(media["learned_from"]["via"], "sdp");
    assert_eq!(media["learned_from"]["community_id"], sig["community_id"]);
    assert_eq!(media["media"]["call_id"], call_id);
    assert_eq!(media["media"]["stream"], "rtp");
    assert_eq!(media["media"]["srtp"], false);
    assert_eq!(media["media"]["header"], "rtp");
    assert_eq!(media["media"]["payload_type"], 8);
    // Both directions in one flow, answered: no unanswered path.
    assert_eq!(media["pkts_toserver"], 10);
    assert_eq!(media["pkts_toclient"], 10);
    assert!(has(media, "rtp-without-srtp"), "{media}");
    assert!(!has(media, "path-unanswered"));
    let rtcp = flow(&objs, (PBX_MEDIA, 40001), (UM, 16501));
    assert_eq!(rtcp["media"]["stream"], "rtcp");
    assert_eq!(rtcp["media"]["header"], "rtcp");
    assert_eq!(rtcp["media"]["payload_type"], 200);
    assert_eq!(rtcp["path_match"], "learned");
    let finding = objs
        .iter()
        .find(|o| o["type"] == "finding" && o["code"] == "rtp-without-srtp")
        .unwrap();
    assert_eq!(finding["severity"], "medium");
    assert_eq!(finding["flows"], 2);
    // The BYE ended the call: the endpoints hold for flows that started before it only.
    let s = objs.iter().find(|o| o["type"] == "summary").unwrap();
    assert_eq!(s["expectations"]["ended_by_call"], 4);
    assert_eq!(s["expectations"]["attributed"], 2);
}

#[test]
fn media_at_an_address_the_site_does_not_list_belongs_to_who_announced_it() {
    // The gateway's media processor has its own address, which the site file does not list:
    // it answers for the IP PBX that named it in its SDP.
    let id = "gw-media@pbx01";
    let mut cap = Capture::new();
    let offer = sdp(OTHER_MEDIA, 40030, "RTP/AVP", false, None);
    cap.udp(
        at(PBX, 5060),
        at(UM, 5060),
        &invite(id, PBX, UM, Some(&offer)),
    );
    cap.wait(Duration::from_millis(10));
    cap.udp(
        at(UM, 5060),
        at(PBX, 5060),
        &response(
            200,
            "OK",
            id,
            "1 INVITE",
            Some(&sdp(UM, 16530, "RTP/AVP", false, None)),
        ),
    );
    cap.wait(Duration::from_millis(10));
    cap.udp(
        at(OTHER_MEDIA, 40030),
        at(UM, 16530),
        &rtp(0, 1, 160, 0x5555, 160),
    );
    cap.udp(
        at(UM, 16530),
        at(OTHER_MEDIA, 40030),
        &rtp(0, 1, 160, 0x6666, 160),
    );
    let objs = run(cap.to_pcap(), true);
    let media = flow(&objs, (OTHER_MEDIA, 40030), (UM, 16530));
    assert_eq!(media["path_match"], "learned");
    assert_eq!(media["verdict"], "documented");
    assert_eq!(media["path"], "e2010.um.sip-rtp-telephony");
    // A flow between the same addresses that no SDP named is judged by the site alone.
    let mut cap = Capture::new();
    cap.udp(
        at(OTHER_MEDIA, 40040),
        at(UM, 16540),
        &rtp(0, 1, 160, 0x7777, 160),
    );
    let objs = run(cap.to_pcap(), true);
    let f = flow(&objs, (OTHER_MEDIA, 40040), (UM, 16540));
    assert_ne!(f["verdict"], "documented");
}

#[test]
fn an_srtp_call_is_srtp_and_raises_nothing() {
    let objs = run(call("RTP/SAVP", true).to_pcap(), true);
    let media = flow(&objs, (PBX_MEDIA, 40000), (UM, 16500));
    assert_eq!(media["path_match"], "learned");
    assert_eq!(media["media"]["srtp"], true);
    assert!(!has(media, "rtp-without-srtp"), "{media}");
    // The SDES key never leaves its message.
    let all: String = objs.iter().map(Value::to_string).collect();
    assert!(!all.contains(exaudit::testkit::sip::SDES_KEY));
}

#[test]
fn plain_rtp_after_tls_signalling_is_reported_even_without_a_site() {
    let id = "tls-call@pbx01";
    let mut cap = Capture::new();
    let offer = sdp(OTHER_MEDIA, 40010, "RTP/AVP", false, None);
    cap.udp(
        at(PBX, 5060),
        at(UM, 5060),
        &with_via(&invite(id, PBX, UM, Some(&offer)), "TLS"),
    );
    cap.wait(Duration::from_millis(10));
    cap.udp(
        at(UM, 16510),
        at(OTHER_MEDIA, 40010),
        &rtp(0, 1, 160, 0x3333, 160),
    );
    let objs = run(cap.to_pcap(), false);
    let media = flow(&objs, (UM, 16510), (OTHER_MEDIA, 40010));
    assert_eq!(media["path_match"], "learned");
    assert_eq!(media["media"]["signalling_tls"], true);
    assert!(has(media, "rtp-without-srtp"), "{media}");
}

#[test]
fn a_failed_call_teaches_nothing_that_outlives_it() {
    let id = "busy@pbx01";
    let mut cap = Capture::new();
    let offer = sdp(PBX_MEDIA, 40020, "RTP/AVP", false, None);
    cap.udp(
        at(PBX, 5060),
        at(UM, 5060),
        &invite(id, PBX, UM, Some(&offer)),
    );
    cap.wait(Duration::from_millis(30));
    cap.udp(
        at(UM, 5060),
        at(PBX, 5060),
        &response(486, "Busy Here", id, "1 INVITE", None),
    );
    cap.wait(Duration::from_millis(500));
    // Later traffic to the port the failed offer named is nobody's media.
    cap.udp(
        at(UM, 16520),
        at(PBX_MEDIA, 40020),
        &rtp(0, 1, 160, 0x4444, 160),
    );
    let objs = run(cap.to_pcap(), true);
    let f = flow(&objs, (UM, 16520), (PBX_MEDIA, 40020));
    assert_ne!(f["path_match"], "learned");
    assert!(f.get("media").is_none());
    let s = objs.iter().find(|o| o["type"] == "summary").unwrap();
    assert_eq!(s["expectations"]["ended_by_call"], 2);
    assert_eq!(s["expectations"]["attributed"], 0);
    // The learned endpoints are listed with the time the call failed as their end.
    let l: Vec<&Value> = objs.iter().filter(|o| o["type"] == "learned").collect();
    assert_eq!(l.len(), 2);
    assert!(l.iter().all(|o| o["until"].as_str() < f["ts"].as_str()));
}

#[test]
fn the_real_sip_capture_teaches_the_offer_and_the_answer() {
    let Some(bytes) = common::load("sv-sip-invite-sdp.pcap") else {
        common::skipped("sv-sip-invite-sdp.pcap");
        return;
    };
    let objs = run(bytes, false);
    let got = learned(&objs);
    // README: INVITE (frame 1) SDP c=IN IP4 200.57.7.196, m=audio 40376; 200 OK (frame 4)
    // c=IN IP4 200.57.7.204, m=audio 8000 — the offer's media address is not the SIP sender's.
    for want in [
        ("200.57.7.196", 40376, "rtp"),
        ("200.57.7.196", 40377, "rtcp"),
        ("200.57.7.204", 8000, "rtp"),
        ("200.57.7.204", 8001, "rtcp"),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1, want.2.to_owned())),
            "{want:?} not in {got:?}"
        );
    }
    // README: a second INVITE with SDP audio 40360 only gets 100/180: still an offer.
    assert!(got.contains(&("200.57.7.196".to_owned(), 40360, "rtp".to_owned())));
    // README: no RTP is in the file, so nothing was attributed.
    let s = objs.iter().find(|o| o["type"] == "summary").unwrap();
    assert_eq!(s["expectations"]["attributed"], 0);
}
