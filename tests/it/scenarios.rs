//! Fixture scenarios for every row of Zeek's `conn_state` table and for the history letters, each
//! citing the Zeek behaviour it reproduces (`scripts/base/protocols/conn/main.zeek` documents the
//! states and letters; the TCP session adapter decides them). Also the flow table's own duties:
//! reuse, timeouts, eviction, ICMP refusals, reassembly, payload order.

use exaudit::decode::DecodeConfig;
use exaudit::flow::{ConnState, EndReason, FlowConfig, FlowRecord, Kind, Timeouts};
use exaudit::testkit::{Capture, Dir, addr, flags, ip};
use exaudit::time::Duration;

use super::common::{analyse_bytes, flows_of};

const CLIENT: &str = "10.1.0.50:49200";
const SERVER: &str = "10.1.0.10:25";

fn one(cap: &Capture) -> FlowRecord {
    let mut fs = flows_of(cap.to_pcap());
    assert_eq!(fs.len(), 1, "{fs:#?}");
    fs.remove(0)
}

fn state_and_history(build: impl FnOnce(&mut Capture)) -> (ConnState, String) {
    let mut cap = Capture::new();
    build(&mut cap);
    let f = one(&cap);
    (f.conn_state, f.history.as_str().to_owned())
}

/// Zeek S0: "Connection attempt seen, no reply."
#[test]
fn s0_unanswered_syn() {
    let r = state_and_history(|c| {
        c.tcp(addr(CLIENT), addr(SERVER)).syn();
    });
    assert_eq!(r, (ConnState::S0, "S".into()));
}

/// Zeek REJ: "Connection attempt rejected" — the SYN is answered by a RST.
#[test]
fn rej_syn_answered_by_rst() {
    let r = state_and_history(|c| {
        c.tcp(addr(CLIENT), addr(SERVER)).syn().refuse();
    });
    assert_eq!(r, (ConnState::REJ, "Sr".into()));
}

/// Zeek S1: "Connection established, not terminated."
#[test]
fn s1_established_not_closed() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake()
            .server_sends(b"220 ready\r\n")
            .client_sends(b"EHLO x\r\n");
    });
    assert_eq!(r, (ConnState::S1, "ShAdD".into()));
}

/// Zeek SF: "Normal establishment and termination."
#[test]
fn sf_normal_close() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake()
            .client_sends(b"QUIT\r\n")
            .server_sends(b"221 bye\r\n")
            .close();
    });
    assert_eq!(r, (ConnState::SF, "ShADdFf".into()));
}

/// Zeek S2: "established and close attempt by originator seen (but no reply from responder)".
#[test]
fn s2_originator_closed_alone() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake().client_sends(b"QUIT\r\n").fin(Dir::ToServer);
    });
    assert_eq!(r, (ConnState::S2, "ShADF".into()));
}

/// Zeek S3: "established and close attempt by responder seen (but no reply from originator)".
#[test]
fn s3_responder_closed_alone() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake()
            .server_sends(b"421 busy\r\n")
            .fin(Dir::ToClient);
    });
    assert_eq!(r, (ConnState::S3, "ShAdf".into()));
}

/// Zeek RSTO: "Connection established, originator aborted (sent a RST)."
#[test]
fn rsto_originator_reset() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake().server_sends(b"220\r\n").rst(Dir::ToServer);
    });
    assert_eq!(r, (ConnState::RSTO, "ShAdR".into()));
}

/// Zeek RSTR: "Responder sent a RST."
#[test]
fn rstr_responder_reset() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake().client_sends(b"EHLO\r\n").rst(Dir::ToClient);
    });
    assert_eq!(r, (ConnState::RSTR, "ShADr".into()));
}

/// Zeek RSTOS0: "Originator sent a SYN followed by a RST, we never saw a SYN-ACK."
#[test]
fn rstos0_syn_then_rst_from_originator() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.syn().rst(Dir::ToServer);
    });
    assert_eq!(r, (ConnState::RSTOS0, "SR".into()));
}

/// Zeek RSTRH: "Responder sent a SYN ACK followed by a RST, we never saw a SYN from the
/// originator." The SYN-ACK comes from a server port, so the roles are flipped (`^`).
#[test]
fn rstrh_synack_then_rst_from_responder() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.syn_ack().rst(Dir::ToClient);
    });
    assert_eq!(r, (ConnState::RSTRH, "^hr".into()));
}

/// Zeek SH: "Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder
/// (hence the connection was 'half' open)."
#[test]
fn sh_syn_then_fin() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.syn().fin(Dir::ToServer);
    });
    assert_eq!(r, (ConnState::SH, "SF".into()));
}

/// Zeek SHR: "Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator."
#[test]
fn shr_synack_then_fin() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.syn_ack().fin(Dir::ToClient);
    });
    assert_eq!(r, (ConnState::SHR, "^hf".into()));
}

/// Zeek OTH: "No SYN seen, just midstream traffic."
#[test]
fn oth_midstream() {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    s.client_sends(b"DATA\r\n").server_sends(b"354 go\r\n");
    let f = one(&cap);
    assert_eq!((f.conn_state, f.history.as_str()), (ConnState::OTH, "Dd"));
    assert!(f.midstream);
}

/// Zeek `^`: a SYN-ACK seen first from a likely server port flips the roles at creation, so the
/// client is the originator (Zeek's `WantConnection`).
#[test]
fn flip_when_synack_comes_first() {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    s.syn_ack().ack(Dir::ToServer).client_sends(b"EHLO\r\n");
    let f = one(&cap);
    assert_eq!(f.history.as_str(), "^hAD");
    assert_eq!(f.orig.1, 49200);
}

/// Zeek's "H" rule: a SYN-ACK from a port that is not a likely server port is taken as sent by
/// the originator until the other side's first ACK or data, which turns the flow around.
#[test]
fn late_flip_from_an_unknown_port() {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:40001"));
    s.syn_ack().ack(Dir::ToServer);
    let f = one(&cap);
    assert_eq!(f.history.as_str(), "^hA");
    assert_eq!(f.orig.1, 49200);
    // The client never sent a SYN: Zeek calls it PARTIAL, and the conversation OTH.
    assert_eq!(f.conn_state, ConnState::OTH);
}

/// Zeek `T`: a segment whose data ends at or before data already seen; `t` for the responder.
#[test]
fn retransmission_letter() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake()
            .client_sends(b"MAIL FROM:<a@b>\r\n")
            .retransmit_last();
        s.server_sends(b"250 ok\r\n").retransmit_last();
    });
    assert_eq!(r.1, "ShADTdt");
}

/// Zeek `W`: a zero window advertisement (here from the responder).
#[test]
fn zero_window_letter() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake().client_sends(b"DATA\r\n");
        s.window(0).ack(Dir::ToClient);
    });
    assert_eq!(r.1, "ShADaw");
}

/// Zeek `G`: the responder acknowledges client data the capture never carried.
#[test]
fn gap_letter_and_missed_bytes() {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    s.handshake().client_sends(b"first ");
    s.lose(Dir::ToServer, 100);
    s.client_sends(b"third").ack(Dir::ToClient);
    let f = one(&cap);
    assert_eq!(f.history.as_str(), "ShADaG");
    assert_eq!(f.orig_counts.missed_bytes, 100);
    // The prefix stops at the hole.
    assert_eq!(f.orig_payload.bytes(), b"first ");
}

/// Zeek `C`: with checksums verified, a bad one is recorded and the packet otherwise ignored.
#[test]
fn bad_checksum_letter_when_verifying() {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    s.handshake();
    let mut bad = s.next_segment(Dir::ToServer, flags::ACK | flags::PSH, b"EHLO\r\n");
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    s.emit(bad);
    let verify = DecodeConfig {
        verify_checksums: true,
        ..DecodeConfig::default()
    };
    let a = analyse_bytes(cap.to_pcap(), verify, FlowConfig::default());
    let f = &a.flows[0];
    assert_eq!(f.history.as_str(), "ShAC");
    assert_eq!(f.orig_counts.pkts, 2);
    assert_eq!(a.stats.decode.bad_tcp_checksum, 1);
    // Without verification the same packet is simply data.
    assert_eq!(flows_of(cap.to_pcap())[0].history.as_str(), "ShAD");
}

/// Zeek `I` (FIN and RST together) and `Q` (SYN with FIN or RST).
#[test]
fn odd_flag_combinations() {
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        s.handshake();
        let p = s.next_segment(Dir::ToClient, flags::FIN | flags::RST | flags::ACK, &[]);
        s.emit(p);
    });
    assert_eq!(r.1, "ShAi");
    let r = state_and_history(|c| {
        let mut s = c.tcp(addr(CLIENT), addr(SERVER));
        let p = s.next_segment(Dir::ToServer, flags::SYN | flags::FIN, &[]);
        s.emit(p);
    });
    assert_eq!(r, (ConnState::SH, "Q".into()));
}

/// Zeek `IsReuse`: a new SYN with another initial sequence number after the close starts a new
/// connection on the same 5-tuple.
#[test]
fn new_syn_after_close_is_a_new_flow() {
    let mut cap = Capture::new();
    cap.tcp(addr(CLIENT), addr(SERVER)).handshake().close();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    s.lose(Dir::ToServer, 5000);
    s.handshake().client_sends(b"x");
    let fs = flows_of(cap.to_pcap());
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[0].conn_state, ConnState::SF);
    assert_eq!(fs[0].end, EndReason::Reused);
    assert_eq!(fs[1].conn_state, ConnState::S1);
}

/// Zeek's attempt timer (`tcp_attempt_delay`, 5 s): SYN retries spread over more than 5 s give
/// several S0 rows (zeek/zeek#863); a retry inside the window stays in the same row.
#[test]
fn syn_retries_and_the_attempt_timer() {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    let syn = s.build(Dir::ToServer, flags::SYN, 1000, 0, &[]);
    s.emit(syn.clone());
    s.capture().wait(Duration::from_secs(1));
    s.emit(syn.clone());
    s.capture().wait(Duration::from_secs(6));
    s.emit(syn);
    let fs = flows_of(cap.to_pcap());
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[0].end, EndReason::Attempt);
    assert_eq!(fs[0].orig_counts.pkts, 2);
    assert!(fs.iter().all(|f| f.conn_state == ConnState::S0));
}

#[test]
fn udp_request_response_and_flip() {
    let mut cap = Capture::new();
    cap.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"query");
    cap.udp(addr("10.1.0.2:53"), addr("10.1.0.50:53000"), b"answer!");
    // A response seen alone, from a server port: flipped, as Zeek does.
    cap.udp(addr("10.1.0.2:53"), addr("10.1.0.51:53001"), b"late answer");
    let fs = flows_of(cap.to_pcap());
    assert_eq!(fs.len(), 2);
    assert_eq!(
        (fs[0].conn_state, fs[0].history.as_str()),
        (ConnState::SF, "Dd")
    );
    assert_eq!((fs[0].orig_counts.bytes, fs[0].resp_counts.bytes), (5, 7));
    assert_eq!(
        (fs[1].conn_state, fs[1].history.as_str()),
        (ConnState::SHR, "^d")
    );
    assert_eq!(fs[1].orig.0, ip("10.1.0.51"));
}

/// Zeek's `udp_inactivity_timeout` (60 s): a pause longer than that starts a new flow.
#[test]
fn udp_inactivity_splits_flows() {
    let mut cap = Capture::new();
    cap.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"q1");
    cap.wait(Duration::from_secs(61));
    cap.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"q2");
    let fs = flows_of(cap.to_pcap());
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[0].end, EndReason::Timeout);
}

/// Past `--max-flows`, the flow nearest its deadline is written early and counted.
#[test]
fn eviction_under_the_flow_cap() {
    let mut cap = Capture::new();
    for port in [50001, 50002, 50003] {
        cap.tcp(addr(&format!("10.1.0.50:{port}")), addr(SERVER))
            .handshake();
    }
    let cfg = FlowConfig {
        max_flows: 2,
        ..FlowConfig::default()
    };
    let a = analyse_bytes(cap.to_pcap(), DecodeConfig::default(), cfg);
    assert_eq!(a.flows.len(), 3);
    assert_eq!(a.stats.flow.evicted, 1);
    assert_eq!(a.flows[0].end, EndReason::Evicted);
    assert_eq!(a.flows[0].orig.1, 50001);
}

/// A firewall's ICMP "administratively prohibited" answer to a SYN is tied to that flow.
#[test]
fn icmp_refusal_is_tied_to_the_tcp_flow() {
    let mut cap = Capture::new();
    cap.tcp(addr(CLIENT), addr("10.9.0.4:25")).syn();
    let syn = cap.last_ip_packet().unwrap();
    cap.icmp_unreachable(ip("10.1.0.1"), &syn, 13);
    let fs = flows_of(cap.to_pcap());
    let tcp = fs.iter().find(|f| f.kind == Kind::Tcp).unwrap();
    let r: Vec<_> = tcp.icmp_refusals.iter().collect();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].ty, r[0].code, r[0].from), (3, 13, ip("10.1.0.1")));
    // The ICMP message is a flow of its own too (Zeek keys it by type and code).
    let icmp = fs
        .iter()
        .find(|f| matches!(f.kind, Kind::Icmp { .. }))
        .unwrap();
    assert_eq!((icmp.orig.1, icmp.resp.1), (3, 13));
}

#[test]
fn icmpv6_refusal_and_echo_pairs() {
    let mut cap = Capture::new();
    cap.udp(addr("[2001:db8::50]:53000"), addr("[2001:db8::2]:53"), b"q");
    let q = cap.last_ip_packet().unwrap();
    cap.icmp_unreachable(ip("2001:db8::2"), &q, 4);
    cap.ping(ip("2001:db8::50"), ip("2001:db8::2"), 7, 1, false);
    cap.ping(ip("2001:db8::2"), ip("2001:db8::50"), 7, 1, true);
    let fs = flows_of(cap.to_pcap());
    let udp = fs.iter().find(|f| f.kind == Kind::Udp).unwrap();
    assert_eq!(udp.icmp_refusals.iter().next().unwrap().code, 4);
    let echo = fs
        .iter()
        .find(|f| f.kind == Kind::Icmp { v6: true } && f.orig.1 == 128)
        .unwrap();
    assert_eq!((echo.orig_counts.pkts, echo.resp_counts.pkts), (1, 1));
    assert_eq!(echo.resp.1, 129);
}

/// Fragments arriving out of order are reassembled before the transport is read.
#[test]
fn fragmented_udp_datagram_out_of_order() {
    let mut whole = Capture::new();
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    whole.udp(addr("10.1.0.50:5060"), addr("10.1.0.9:5060"), &payload);
    let packet = whole.last_ip_packet().unwrap();
    let mut cap = Capture::new();
    cap.push_fragmented(&packet, 1200, Some(&[2, 0, 1]));
    let a = analyse_bytes(
        cap.to_pcap(),
        DecodeConfig::default(),
        FlowConfig::default(),
    );
    assert_eq!(a.stats.fragments.fragments, 3);
    assert_eq!(a.stats.fragments.reassembled, 1);
    assert_eq!(a.flows.len(), 1);
    let f = &a.flows[0];
    assert_eq!(f.orig_counts.pkts, 1);
    assert_eq!(f.orig_counts.bytes, 3000);
    assert_eq!(f.orig_counts.ip_bytes, 3028);
    assert_eq!(f.orig_payload.bytes(), &payload[..4096.min(payload.len())]);
}

/// IPv6 fragments (Fragment extension header) are reassembled as well, in any order.
#[test]
fn fragmented_ipv6_datagram() {
    let mut whole = Capture::new();
    let payload: Vec<u8> = (0..2500u32).map(|i| (i % 241) as u8).collect();
    whole.udp(
        addr("[2001:db8::30]:5060"),
        addr("[2001:db8::12]:5060"),
        &payload,
    );
    let packet = whole.last_ip_packet().unwrap();
    let frags = exaudit::testkit::fragment_ipv6(&packet, 1000, 77);
    assert_eq!(frags.len(), 3);
    let mut cap = Capture::new();
    for i in [1, 2, 0] {
        cap.push_ip(frags[i].clone());
    }
    let a = analyse_bytes(
        cap.to_pcap(),
        DecodeConfig::default(),
        FlowConfig::default(),
    );
    assert_eq!(a.stats.fragments.reassembled, 1);
    assert_eq!(a.flows.len(), 1);
    assert_eq!(a.flows[0].orig_counts.bytes, 2500);
    assert_eq!(a.flows[0].orig_payload.bytes(), &payload[..]);
}

/// Segments arriving out of order land in the payload prefix in sequence order.
#[test]
fn payload_prefix_is_in_sequence_order() {
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    s.handshake();
    let a = s.next_segment(Dir::ToServer, flags::ACK | flags::PSH, b"EHLO ");
    let b = s.next_segment(
        Dir::ToServer,
        flags::ACK | flags::PSH,
        b"client.example\r\n",
    );
    s.emit(b).emit(a);
    let f = one(&cap);
    assert_eq!(f.orig_payload.bytes(), b"EHLO client.example\r\n");
    // A late (reordered) segment is a retransmission in Zeek's accounting.
    assert_eq!(f.history.as_str(), "ShADT");
}

#[test]
fn vlans_are_part_of_the_key_unless_ignored() {
    let mut cap = Capture::new();
    cap.vlans(&[100]);
    cap.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"q");
    cap.vlans(&[200]);
    cap.udp(addr("10.1.0.2:53"), addr("10.1.0.50:53000"), b"a");
    let fs = flows_of(cap.to_pcap());
    assert_eq!(fs.len(), 2);
    let cfg = FlowConfig {
        vlan_in_key: false,
        ..FlowConfig::default()
    };
    let a = analyse_bytes(cap.to_pcap(), DecodeConfig::default(), cfg);
    assert_eq!(a.flows.len(), 1);
    assert_eq!(a.flows[0].conn_state, ConnState::SF);
}

#[test]
fn tcp_timeouts_follow_the_handshake() {
    // Before the handshake completes Zeek uses 60 s; once established, 5 min.
    let t = Timeouts::default();
    assert_eq!(t.tcp_handshake, Duration::from_secs(60));
    assert_eq!(t.tcp_established, Duration::from_secs(300));
    let mut cap = Capture::new();
    let mut s = cap.tcp(addr(CLIENT), addr(SERVER));
    s.handshake();
    s.capture().wait(Duration::from_secs(200));
    s.client_sends(b"NOOP\r\n");
    s.capture().wait(Duration::from_secs(301));
    s.client_sends(b"NOOP\r\n");
    let fs = flows_of(cap.to_pcap());
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[0].end, EndReason::Timeout);
    assert_eq!(fs[0].history.as_str(), "ShAD");
    assert!(fs[1].midstream);
}
