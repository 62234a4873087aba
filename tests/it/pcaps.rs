//! The real captures of `../shared/pcaps/`, checked against the facts its README states (from
//! Zeek's baselines and tshark). Skipped, with a note, where `../shared` is absent.

use exaudit::decode::DecodeConfig;
use exaudit::flow::{ConnState, EndReason, FlowConfig, Kind};

use super::common::{analyse_bytes, find, flows, flows_with, load};

/// File, originator, responder, conn_state, history, packets each way.
type ConnFact = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (u64, u64),
);

/// The facts the README quotes from Zeek's conn.log baselines.
#[test]
fn zeek_conn_facts_of_the_readme() {
    let cases: &[ConnFact] = &[
        (
            "zeek-imap-starttls.pcap",
            "192.168.17.53:49640",
            "212.227.17.186:143",
            "SF",
            "ShAdDafFr",
            (18, 14),
        ),
        (
            "zeek-ldap-simple-bind-vlan.pcap",
            "10.0.0.1:25936",
            "10.0.0.2:3268",
            "RSTO",
            "ShADdR",
            (8, 4),
        ),
        (
            "zeek-krb-tcp-vlan.pcap",
            "192.168.202.110:43792",
            "192.168.229.251:88",
            "S1",
            "^hADd",
            (2, 2),
        ),
    ];
    for &(file, orig, resp, state, history, pkts) in cases {
        let Some(fs) = flows(file) else { return };
        let f = find(&fs, orig, resp);
        assert_eq!(f.conn_state.as_str(), state, "{file}");
        assert_eq!(f.history.as_str(), history, "{file}");
        assert_eq!((f.orig_counts.pkts, f.resp_counts.pkts), pkts, "{file}");
    }
    let Some(fs) = flows("zeek-pop3-starttls-null.pcap") else {
        return;
    };
    let f = find(&fs, "192.168.4.149:54775", "192.168.4.149:110");
    assert_eq!(
        (f.conn_state, f.history.as_str()),
        (ConnState::SF, "ShAadDfFr")
    );
    let Some(fs) = flows("zeek-ldap-starttls.pcap") else {
        return;
    };
    let f = find(&fs, "127.0.0.1:45936", "127.0.1.1:389");
    assert_eq!(
        (f.conn_state, f.history.as_str()),
        (ConnState::RSTO, "ShADadFR")
    );
}

#[test]
fn vlan_tags_are_kept_on_the_flow() {
    let Some(fs) = flows("zeek-ldap-simple-bind-vlan.pcap") else {
        return;
    };
    assert_eq!(fs[0].vlans.ids(), &[50]);
    let Some(fs) = flows("zeek-qinq-udp.pcap") else {
        return;
    };
    assert_eq!(fs.len(), 2);
    for f in &fs {
        assert_eq!(f.vlans.ids(), &[13, 10]);
        assert_eq!(f.conn_state, ConnState::S0);
    }
    let Some(fs) = flows("zeek-vlan-qinqinq-http.pcap") else {
        return;
    };
    let f = find(&fs, "141.142.228.5:59856", "192.150.187.43:80");
    assert_eq!(f.vlans.depth(), 3);
    assert!(f.history.as_str().starts_with("ShA"), "{}", f.history);
}

/// Client→server frames carry VLAN 81 and server→client VLAN 80 (a routed SPAN): keyed by VLAN
/// they are two one-sided flows; with VLANs left out of the key, one conversation.
#[test]
fn asymmetric_vlans_split_unless_vlans_are_ignored() {
    let name = "zeek-ldap-krb-ipv6-vlan-multi-idb.pcapng";
    let Some(split) = flows(name) else { return };
    assert_eq!(split.len(), 2);
    let cfg = FlowConfig {
        vlan_in_key: false,
        ..FlowConfig::default()
    };
    let Some(one) = flows_with(name, cfg) else {
        return;
    };
    assert_eq!(one.len(), 1);
    let f = &one[0];
    assert_eq!(
        f.orig.0.to_string(),
        "2a00:6020:ad0b:8381:c8c2:18f1:4b9d:7524"
    );
    assert_eq!(f.resp.1, 389);
    assert_eq!(f.orig_counts.pkts + f.resp_counts.pkts, 17);
}

#[test]
fn pcapng_with_two_interfaces_gives_zeeks_three_dns_rows() {
    let Some(fs) = flows("zeek-dns-multi-if.pcapng") else {
        return;
    };
    assert_eq!(fs.len(), 3);
    for f in &fs {
        assert_eq!((f.conn_state, f.history.as_str()), (ConnState::SF, "Dd"));
        assert_eq!(f.resp.1, 53);
    }
}

/// 34 connections: 14 SF (DNS), 10 S0, 8 S1 `ShADad`, 2 OTH (`DdA` and `^h`).
#[test]
fn wikipedia_conn_states_match_zeek() {
    let Some(fs) = flows("zeek-wikipedia-conn-states.pcap") else {
        return;
    };
    assert_eq!(fs.len(), 34);
    let count = |s: ConnState| fs.iter().filter(|f| f.conn_state == s).count();
    assert_eq!(count(ConnState::SF), 14);
    assert_eq!(count(ConnState::S0), 10);
    assert_eq!(count(ConnState::S1), 8);
    assert_eq!(count(ConnState::OTH), 2);
    assert!(
        fs.iter()
            .filter(|f| f.conn_state == ConnState::S1)
            .all(|f| f.history.as_str() == "ShADad")
    );
    let f = find(&fs, "141.142.220.118:35634", "208.80.152.2:80");
    assert_eq!(f.history.as_str(), "DdA");
    let f = find(&fs, "141.142.220.235:6705", "173.192.163.128:80");
    assert_eq!(f.history.as_str(), "^h");
}

/// The ICMP "fragmentation needed" messages quote the SMTP connection and are tied to it.
#[test]
fn icmp_frag_needed_is_tied_to_the_smtp_flow() {
    let Some(fs) = flows("zeek-smtp-auth-login.pcap") else {
        return;
    };
    let f = find(&fs, "10.10.1.4:1470", "74.53.140.153:25");
    let r: Vec<_> = f.icmp_refusals.iter().collect();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].ty, r[0].code, r[0].from.to_string().as_str()),
        (3, 4, "192.168.1.1")
    );
    assert_eq!(r[0].count, 4);
    // The server's banner heads the responder's payload prefix.
    assert!(
        f.resp_payload.bytes().starts_with(b"220-"),
        "{:?}",
        &f.resp_payload.bytes()[..8]
    );
}

#[test]
fn icmp_unreachable_without_its_flow_is_counted() {
    let Some(bytes) = load("zeek-icmp-unreach-udp.pcap") else {
        return;
    };
    let a = analyse_bytes(bytes, DecodeConfig::default(), FlowConfig::default());
    assert_eq!(a.flows.len(), 1);
    let f = &a.flows[0];
    assert_eq!(f.kind, Kind::Icmp { v6: false });
    assert_eq!((f.orig.1, f.resp.1), (3, 3));
    assert_eq!(a.stats.flow.icmp_errors_unmatched, 1);
}

#[test]
fn erspan_type_iii_with_inner_vlan() {
    let Some(fs) = flows("zeek-erspan3-dot1q.pcap") else {
        return;
    };
    assert_eq!(fs.len(), 1);
    let f = &fs[0];
    assert_eq!(f.orig.0.to_string(), "172.31.10.31");
    assert_eq!(f.resp.0.to_string(), "172.31.10.2");
    assert_eq!(f.vlans.ids(), &[10]);
    assert_eq!((f.orig_counts.pkts, f.resp_counts.pkts), (1, 1));
}

/// GRE transparent bridging whose outer IPv4 packets are fragmented: reassembly first.
#[test]
fn gre_bridged_mirror_with_outer_fragments() {
    let Some(bytes) = load("zeek-http-ntlm-gre-teb.pcap") else {
        return;
    };
    let a = analyse_bytes(bytes, DecodeConfig::default(), FlowConfig::default());
    assert!(a.stats.fragments.reassembled > 0);
    for port in 49162..=49166 {
        find(
            &a.flows,
            &format!("192.168.69.10:{port}"),
            "192.168.69.2:80",
        );
    }
    // The outer GRE conversation is a carrier, not a flow of its own (as in Zeek).
    assert!(a.flows.iter().all(|f| f.orig.0.to_string() != "10.200.0.3"));
}

#[test]
fn link_types_sll2_raw_and_sll_in_pcapng() {
    let Some(fs) = flows("zeek-tls13-sll2.pcap") else {
        return;
    };
    let f = find(&fs, "192.168.64.6:55058", "192.0.78.150:443");
    assert_eq!(f.orig_counts.pkts + f.resp_counts.pkts, 6);
    let Some(fs) = flows("sv-tls12-rawip-dlt101.pcap") else {
        return;
    };
    find(&fs, "10.84.1.49:55349", "17.248.236.64:443");
    let Some(fs) = flows("zeek-http-basic-auth-rawip4.pcap") else {
        return;
    };
    find(&fs, "172.24.133.205:43090", "172.24.133.205:8000");
    let Some(fs) = flows("zeek-ldap-sll.pcapng") else {
        return;
    };
    let f = find(&fs, "192.168.10.152:38037", "192.168.10.186:389");
    assert!(f.midstream);
    assert_eq!(f.resp_tcp_state, exaudit::flow::TcpState::Reset);
}

/// A slice of a longer capture: no SYN, FIN or RST anywhere, so every flow joined mid-stream.
#[test]
fn capture_slice_without_handshakes_is_midstream() {
    let Some(fs) = flows("sv-dcerpc-epm-svcctl-privacy.pcap") else {
        return;
    };
    assert_eq!(fs.len(), 3);
    for f in &fs {
        assert!(f.midstream);
        assert_eq!(f.conn_state, ConnState::OTH);
        assert_eq!(f.end, EndReason::EndOfInput);
    }
    let epm = find(&fs, "172.16.66.1:50058", "172.16.66.36:135");
    // The bind request (DCE/RPC version 5) heads the client's payload prefix.
    assert_eq!(epm.orig_payload.bytes().first(), Some(&5));
    find(&fs, "172.16.66.1:50059", "172.16.66.36:49683");
}

/// Snaplen 68: the first SYN lost its options, every later frame kept headers only. As in Zeek,
/// the cut SYN names a connection it cannot join (an empty record, ended when the SYN-ACK starts
/// the real one); the conversation itself is rebuilt, marked as cut, with its missing payload
/// counted as gaps.
#[test]
fn headers_only_capture_still_gives_the_flow() {
    let Some(fs) = flows("zeek-smtp-snaplen68.pcap") else {
        return;
    };
    assert_eq!(fs.len(), 2);
    let (cut, real) = (&fs[0], &fs[1]);
    assert_eq!(cut.orig_counts.pkts + cut.resp_counts.pkts, 0);
    assert_eq!(cut.end, EndReason::Reused);
    assert!(cut.truncated);
    assert_eq!(real.resp.1, 25);
    assert!(real.truncated);
    assert_eq!(real.conn_state, ConnState::SF);
    assert_eq!(real.orig_counts.pkts + real.resp_counts.pkts, 23);
    assert!(real.orig_payload.bytes().is_empty());
    assert!(real.orig_counts.missed_bytes + real.resp_counts.missed_bytes > 0);
}

/// The client's IMAP commands arrive in order in its payload prefix.
#[test]
fn payload_prefix_holds_the_client_commands() {
    let Some(fs) = flows("sv-imap-login-plain.pcap") else {
        return;
    };
    let f = find(&fs, "131.151.32.21:4167", "131.151.37.122:143");
    assert_eq!(f.conn_state, ConnState::SF);
    assert!(f.orig_payload.bytes().starts_with(b"a0000 CAPABILITY"));
    let text = String::from_utf8_lossy(f.orig_payload.bytes());
    assert!(text.contains("a0001 LOGIN"), "{text}");
}

#[test]
fn tpkt_on_port_102_three_way_handshake() {
    let Some(fs) = flows("zeek-tpkt-cotp-port102.pcap") else {
        return;
    };
    let f = find(&fs, "10.101.1.2:1089", "10.101.1.3:102");
    assert_eq!(f.history.as_str(), "ShAD");
    // The TPKT header arrived split over two segments and is whole in the prefix.
    assert_eq!(f.orig_payload.bytes().len(), 22);
    assert_eq!(f.orig_payload.bytes()[0], 3);
}
