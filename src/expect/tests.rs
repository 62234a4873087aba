//! The expectation table on its own: lifetime, call ends, retention, eviction, which end of a
//! flow is looked up, and repeated lessons.

use std::net::IpAddr;

use super::*;
use crate::decode::DecodeConfig;
use crate::flow::FlowConfig;
use crate::testkit::{Capture, addr};

const SERVER: &str = "10.1.0.30";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `n` seconds into a capture (the fixture builder's captures start at the same time).
fn secs(n: u64) -> Timestamp {
    Capture::new().now().saturating_add(Duration::from_secs(n))
}

fn rpc_key(port: u16) -> Key {
    Key {
        ip: ip(SERVER),
        port,
        transport: Transport::Tcp,
    }
}

fn from(at: Timestamp) -> Source {
    Source {
        community_id: *b"1:AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        at,
    }
}

fn rpc(port: u16, at: Timestamp) -> Lesson {
    Lesson::Learn {
        key: rpc_key(port),
        what: What::Rpc {
            interface: None,
            dcom: false,
        },
        from: from(at),
    }
}

/// The records of a capture, through the real flow table.
fn records(cap: &Capture) -> Vec<FlowRecord> {
    crate::analyse(
        "t.pcap",
        Box::new(std::io::Cursor::new(cap.to_pcap())),
        DecodeConfig::default(),
        FlowConfig::default(),
    )
    .flows
}

/// One TCP connection from a workstation to `SERVER:port`, starting at `start` seconds.
fn tcp_flow(start: u64, cport: u16, port: u16) -> FlowRecord {
    let mut cap = Capture::new();
    cap.wait(Duration::from_secs(start));
    cap.tcp(
        addr(&format!("10.1.20.51:{cport}")),
        addr(&format!("{SERVER}:{port}")),
    )
    .handshake()
    .close();
    records(&cap).remove(0)
}

#[test]
fn a_flow_that_starts_after_the_endpoint_expired_is_not_attributed() {
    let t0 = secs(0);
    let mut x = Expectations::new(ExpectConfig {
        rpc_lifetime: Duration::from_secs(10),
        ..ExpectConfig::default()
    });
    x.apply(&rpc(59540, t0));
    let early = tcp_flow(5, 50000, 59540);
    let late = tcp_flow(20, 50001, 59540);
    assert!(x.attribute(&early).is_some());
    assert!(x.attribute(&late).is_none());
    assert_eq!(x.stats.attributed, 1);
    // Retained for a while after it expired, then swept out (and still listed as learned).
    x.tick(t0.saturating_add(Duration::from_secs(30)));
    assert_eq!(x.len(), 1);
    x.tick(t0.saturating_add(Duration::from_secs(10 + 601 + 60)));
    assert_eq!(x.len(), 0);
    assert_eq!(x.stats.expired, 1);
    assert_eq!(x.entries().len(), 1);
}

#[test]
fn a_repeated_answer_refreshes_and_adds_interfaces() {
    let mut x = Expectations::default();
    let emsmdb = IfId {
        uuid: crate::inspect::dcerpc::Uuid::from_u128(0xa4f1db00_ca47_1067_b31f_00dd010662da),
        major: 4,
        minor: 811,
    };
    let nspi = IfId {
        uuid: crate::inspect::dcerpc::Uuid::from_u128(0xf5cc5a18_4264_101a_8c59_08002b2f8426),
        major: 56,
        minor: 0,
    };
    for (i, at) in [(emsmdb, secs(1)), (nspi, secs(2)), (emsmdb, secs(3))] {
        x.apply(&Lesson::Learn {
            key: rpc_key(59540),
            what: What::Rpc {
                interface: Some(i),
                dcom: false,
            },
            from: from(at),
        });
    }
    assert_eq!(x.stats.learned, 1);
    assert_eq!(x.stats.repeated, 2);
    let all = x.entries();
    let (_, e) = &all[0];
    // The first answer is the one shown; the lifetime counts from the last.
    assert_eq!(e.from.at, secs(1));
    assert_eq!(
        e.until,
        secs(3).saturating_add(ExpectConfig::default().rpc_lifetime)
    );
    assert_eq!(e.interfaces().collect::<Vec<_>>(), [emsmdb, nspi]);
}

#[test]
fn the_oldest_learned_endpoint_makes_room() {
    let mut x = Expectations::new(ExpectConfig {
        max_entries: 2,
        ..ExpectConfig::default()
    });
    for (i, port) in [59540u16, 59541, 59542, 59543].into_iter().enumerate() {
        x.apply(&rpc(port, secs(i as u64)));
    }
    assert_eq!(x.len(), 2);
    assert_eq!(x.stats.dropped, 2);
    let held: Vec<u16> = x.map.keys().map(|k| k.port).collect::<Vec<_>>();
    assert!(held.contains(&59542) && held.contains(&59543), "{held:?}");
    // The queue of learned keys stays bounded however often keys come and go.
    for i in 0..100u64 {
        x.apply(&rpc(60000 + (i % 7) as u16, secs(10 + i)));
    }
    assert!(x.order.len() <= 4, "{}", x.order.len());
}

#[test]
fn tcp_is_looked_up_by_its_server_only_and_reversed_only_midstream() {
    let mut x = Expectations::default();
    x.apply(&rpc(59540, secs(0)));
    // The learned port is the client's source port: not this endpoint.
    let mut cap = Capture::new();
    cap.wait(Duration::from_secs(1));
    cap.tcp(addr(&format!("{SERVER}:59540")), addr("10.1.0.20:443"))
        .handshake()
        .close();
    let rec = records(&cap).remove(0);
    assert!(x.attribute(&rec).is_none());
    // A UDP flow to the port is not the RPC endpoint either.
    let mut cap = Capture::new();
    cap.wait(Duration::from_secs(1));
    cap.udp(
        addr("10.1.20.51:50000"),
        addr(&format!("{SERVER}:59540")),
        b"x",
    );
    let rec = records(&cap).remove(0);
    assert!(x.attribute(&rec).is_none());
    assert_eq!(x.stats.attributed, 0);
    // A connection to it is.
    assert!(x.attribute(&tcp_flow(1, 50001, 59540)).is_some());
}

#[test]
fn media_is_looked_up_at_either_end_and_ends_with_its_call() {
    let call = crate::inspect::sip::CallHash([7u8; 8]);
    let media = |port: u16, ip_: &str| Lesson::Learn {
        key: Key {
            ip: ip(ip_),
            port,
            transport: Transport::Udp,
        },
        what: What::Media {
            call,
            rtcp: false,
            srtp: false,
            signalling_tls: false,
            announcer: ip("10.1.5.1"),
        },
        from: from(secs(0)),
    };
    let mut x = Expectations::default();
    x.apply(&media(40376, "10.1.5.1"));
    // RTP from the learned address (the PBX) to UM: the originator end matches.
    let mut cap = Capture::new();
    cap.wait(Duration::from_secs(1));
    cap.udp(addr("10.1.5.1:40376"), addr("10.1.0.40:8000"), &[0x80; 172]);
    let rec = records(&cap).remove(0);
    let a = x.attribute(&rec).unwrap();
    assert!(!a.reversed);
    assert_eq!(a.key.port, 40376);
    // The call ends; a stream that starts later belongs to nothing.
    x.apply(&Lesson::EndCall {
        key: Key {
            ip: ip("10.1.5.1"),
            port: 40376,
            transport: Transport::Udp,
        },
        call,
        at: secs(2),
    });
    assert_eq!(x.stats.ended_by_call, 1);
    let mut cap = Capture::new();
    cap.wait(Duration::from_secs(3));
    cap.udp(addr("10.1.5.1:40376"), addr("10.1.0.40:8000"), &[0x80; 172]);
    let rec = records(&cap).remove(0);
    assert!(x.attribute(&rec).is_none());
    // A late copy of the call's offer (a retransmission) does not revive it.
    x.apply(&media(40376, "10.1.5.1"));
    assert_eq!((x.stats.learned, x.stats.repeated), (1, 1));
    assert!(x.attribute(&rec).is_none());
    // A new call on the same port replaces it.
    x.apply(&Lesson::Learn {
        key: Key {
            ip: ip("10.1.5.1"),
            port: 40376,
            transport: Transport::Udp,
        },
        what: What::Media {
            call: crate::inspect::sip::CallHash([8; 8]),
            rtcp: false,
            srtp: true,
            signalling_tls: false,
            announcer: ip("10.1.5.1"),
        },
        from: from(secs(3)),
    });
    assert_eq!(x.stats.learned, 2);
    assert!(x.attribute(&rec).is_some());
}

/// Seeds of the `pipeline` fuzz target: small captures with endpoint-mapper answers and the
/// flows that follow them (a learned port, a blocked one, a mid-stream connection).
#[test]
#[ignore = "writes fuzz/corpus/pipeline; run by hand"]
fn write_fuzz_seeds() {
    use crate::testkit::scenes::{EMSMDB, NSPI, PRIVACY, rpc_emsmdb, rpc_epmap};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/pipeline");
    std::fs::create_dir_all(&dir).unwrap();
    let at = |s: &str| addr(s);
    let mut cap = Capture::new();
    rpc_epmap(
        &mut cap,
        at("10.1.20.51:49760"),
        at("10.1.0.30:135"),
        EMSMDB,
        &[(59540, [10, 1, 0, 30]), (59544, [0, 0, 0, 0])],
    );
    rpc_emsmdb(
        &mut cap,
        at("10.1.20.51:49761"),
        at("10.1.0.30:59540"),
        PRIVACY,
        1,
    );
    std::fs::write(dir.join("epm-then-mapi.pcap"), cap.to_pcap()).unwrap();
    let mut cap = Capture::new();
    rpc_epmap(
        &mut cap,
        at("10.1.20.52:50180"),
        at("10.1.0.30:135"),
        NSPI,
        &[(59541, [10, 1, 0, 30])],
    );
    cap.tcp(at("10.1.20.52:50181"), at("10.1.0.30:59541")).syn();
    std::fs::write(dir.join("epm-then-blocked.pcap"), cap.to_pcap()).unwrap();
    // A UM call: offer, answer, RTP both ways, BYE.
    use crate::testkit::sip as kit;
    let (pbx, um) = (at("10.1.5.1:5060"), at("10.1.0.40:5060"));
    let mut cap = Capture::new();
    let offer = kit::sdp("10.1.5.9", 40000, "RTP/AVP", false, None);
    cap.udp(
        pbx,
        um,
        &kit::invite("c1@pbx", "10.1.5.1", "10.1.0.40", Some(&offer)),
    );
    let answer = kit::sdp("10.1.0.40", 16500, "RTP/SAVP", true, Some(16600));
    cap.udp(
        um,
        pbx,
        &kit::response(200, "OK", "c1@pbx", "1 INVITE", Some(&answer)),
    );
    cap.udp(
        at("10.1.5.9:40000"),
        at("10.1.0.40:16500"),
        &kit::rtp(0, 1, 160, 7, 40),
    );
    cap.udp(
        at("10.1.0.40:16500"),
        at("10.1.5.9:40000"),
        &kit::rtp(0, 1, 160, 8, 40),
    );
    cap.udp(
        at("10.1.0.40:16600"),
        at("10.1.5.9:40001"),
        &kit::rtcp_sender_report(8),
    );
    cap.udp(pbx, um, &kit::bye("c1@pbx", 2));
    std::fs::write(dir.join("sip-call-rtp.pcap"), cap.to_pcap()).unwrap();
}
