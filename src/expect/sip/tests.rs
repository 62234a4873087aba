use super::*;
use crate::inspect::sip::CallHash;
use crate::inspect::sip::sdp::MAX_MEDIA;
use crate::testkit::sip as kit;
use proptest::prelude::*;

const CALL: &str = "a84b4c76e66710@um01.contoso.com";
const UM: (&str, u16) = ("10.1.0.40", 5060);
const PBX: (&str, u16) = ("10.1.5.1", 5060);
const CID: [u8; 30] = *b"1:signallingflowcommunityid00=";

fn at(ms: u64) -> Timestamp {
    Timestamp::from_parts(1_767_603_600, ms, 1000)
}

fn hash(call: &str) -> CallId {
    CallHash::of(call.as_bytes())
}

fn ep(a: (&str, u16)) -> (IpAddr, u16) {
    (a.0.parse().unwrap(), a.1)
}

/// Feeds one payload from UM to the PBX (`udp` or TCP) at `ms` and returns what it taught.
fn feed(calls: &mut Calls, payload: &[u8], udp: bool, ms: u64) -> Vec<Lesson> {
    let mut out = Vec::new();
    let transport = if udp { Transport::Udp } else { Transport::Tcp };
    calls.on_payload(ep(UM), ep(PBX), transport, payload, at(ms), CID, &mut out);
    out
}

/// The endpoints a batch of lessons taught: (address, port, rtcp, srtp, signalling over TLS).
fn learned(lessons: &[Lesson]) -> Vec<(String, u16, bool, bool, bool)> {
    lessons
        .iter()
        .filter_map(|l| match l {
            Lesson::Learn {
                key,
                what:
                    What::Media {
                        rtcp,
                        srtp,
                        signalling_tls,
                        ..
                    },
                ..
            } => Some((key.ip.to_string(), key.port, *rtcp, *srtp, *signalling_tls)),
            _ => None,
        })
        .collect()
}

/// The endpoints a batch of lessons ended.
fn ended(lessons: &[Lesson]) -> Vec<(String, u16)> {
    lessons
        .iter()
        .filter_map(|l| match l {
            Lesson::EndCall { key, .. } => Some((key.ip.to_string(), key.port)),
            _ => None,
        })
        .collect()
}

/// Feeds an INVITE of `call` with the offer `sdp`, at `ms`.
fn invite(calls: &mut Calls, call: &str, sdp: &str, ms: u64) -> Vec<Lesson> {
    let msg = kit::invite(call, "um01.contoso.com", "pbx01.contoso.com", Some(sdp));
    feed(calls, &msg, true, ms)
}

fn rtp_avp(addr: &str, port: u16) -> String {
    kit::sdp(addr, port, "RTP/AVP", false, None)
}

fn plain(addr: &str, port: u16, rtcp: bool) -> (String, u16, bool, bool, bool) {
    (addr.to_owned(), port, rtcp, false, false)
}

/// An INVITE offering 10.1.0.40:20000 and its 200 answering 10.1.5.1:16500, both taught.
fn established(calls: &mut Calls) {
    let offer = rtp_avp("10.1.0.40", 20000);
    let answer = rtp_avp("10.1.5.1", 16500);
    assert_eq!(learned(&invite(calls, CALL, &offer, 0)).len(), 2);
    let ok = kit::response(200, "OK", CALL, "1 INVITE", Some(&answer));
    assert_eq!(learned(&feed(calls, &ok, true, 10)).len(), 2);
    assert!(feed(calls, &kit::ack(CALL, 1, None), true, 20).is_empty());
}

#[test]
fn offer_and_answer_teach_rtp_and_rtcp_at_both_ends() {
    let mut calls = Calls::default();
    let offer = rtp_avp("10.1.0.40", 20000);
    let l = invite(&mut calls, CALL, &offer, 0);
    assert_eq!(
        learned(&l),
        [
            plain("10.1.0.40", 20000, false),
            plain("10.1.0.40", 20001, true)
        ]
    );
    // Each lesson names the call, the signalling flow and the time of the message.
    for lesson in &l {
        let Lesson::Learn { key, what, from } = lesson else {
            panic!("{lesson:?}");
        };
        assert_eq!(key.transport, Transport::Udp);
        assert!(matches!(what, What::Media { call, .. } if *call == hash(CALL)));
        assert_eq!((from.community_id, from.at), (CID, at(0)));
    }
    let trying = kit::response(100, "Trying", CALL, "1 INVITE", None);
    assert!(feed(&mut calls, &trying, true, 5).is_empty());
    let answer = rtp_avp("10.1.5.1", 16500);
    let ok = kit::response(200, "OK", CALL, "1 INVITE", Some(&answer));
    let l = feed(&mut calls, &ok, true, 10);
    assert_eq!(
        learned(&l),
        [
            plain("10.1.5.1", 16500, false),
            plain("10.1.5.1", 16501, true)
        ]
    );
    assert!(matches!(l[0], Lesson::Learn { from, .. } if from.at == at(10)));
    assert!(feed(&mut calls, &kit::ack(CALL, 1, None), true, 20).is_empty());
    assert_eq!(calls.len(), 1);
    assert_eq!((calls.stats.calls, calls.stats.taught), (1, 4));
}

#[test]
fn an_rtcp_attribute_moves_rtcp_and_a_port_0_stream_teaches_nothing() {
    let mut calls = Calls::default();
    let offer = kit::sdp("10.1.0.40", 20000, "RTP/AVP", false, Some(30001));
    let l = invite(&mut calls, CALL, &offer, 0);
    assert_eq!(
        learned(&l),
        [
            plain("10.1.0.40", 20000, false),
            plain("10.1.0.40", 30001, true)
        ]
    );
    // RFC 3605 with an address: RTCP goes elsewhere.
    let answer = "v=0\r\nc=IN IP4 10.1.5.1\r\nm=audio 16500 RTP/AVP 0\r\n\
                  a=rtcp:16999 IN IP4 10.1.5.9\r\nm=video 0 RTP/AVP 96\r\n";
    let ok = kit::response(200, "OK", CALL, "1 INVITE", Some(answer));
    assert_eq!(
        learned(&feed(&mut calls, &ok, true, 10)),
        [
            plain("10.1.5.1", 16500, false),
            plain("10.1.5.9", 16999, true)
        ]
    );
    // A stream on hold (0.0.0.0) or rejected teaches nothing, and makes no call.
    let hold = "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 5004 RTP/AVP 0\r\n";
    assert!(invite(&mut calls, "other@x", hold, 20).is_empty());
    assert_eq!(calls.len(), 1);
}

#[test]
fn srtp_follows_the_profile_and_tls_the_top_via() {
    let mut calls = Calls::default();
    let savp = kit::sdp("10.1.0.40", 20000, "RTP/SAVP", true, None);
    let invite = kit::with_via(&kit::invite(CALL, "a", "b", Some(&savp)), "TLS");
    let l = learned(&feed(&mut calls, &invite, true, 0));
    assert_eq!(
        l,
        [
            ("10.1.0.40".to_owned(), 20000, false, true, true),
            ("10.1.0.40".to_owned(), 20001, true, true, true),
        ]
    );
    // An SDES key with plain RTP/AVP is not SRTP; a TCP Via is not TLS.
    let avp_key = kit::sdp("10.1.5.1", 16500, "RTP/AVP", true, None);
    let ok = kit::with_via(
        &kit::response(200, "OK", CALL, "1 INVITE", Some(&avp_key)),
        "TCP",
    );
    let l = learned(&feed(&mut calls, &ok, true, 10));
    assert!(l.iter().all(|(_, _, _, srtp, tls)| !srtp && !tls), "{l:?}");
}

#[test]
fn the_media_address_is_the_sdps_not_the_packets() {
    let mut calls = Calls::default();
    // Signalling between 10.1.0.40 and 10.1.5.1; media at a relay, IPv4 and IPv6.
    let offer = rtp_avp("192.0.2.77", 40000);
    let l = invite(&mut calls, CALL, &offer, 0);
    assert_eq!(learned(&l)[0].0, "192.0.2.77");
    let answer = rtp_avp("2001:db8::5", 50000);
    let ok = kit::response(200, "OK", CALL, "1 INVITE", Some(&answer));
    let l = learned(&feed(&mut calls, &ok, true, 1));
    assert_eq!(
        l,
        [
            plain("2001:db8::5", 50000, false),
            plain("2001:db8::5", 50001, true)
        ]
    );
    // A media-level address beats the session's.
    let both = "v=0\r\nc=IN IP4 10.1.0.40\r\nm=audio 6000 RTP/AVP 0\r\nc=IN IP4 192.0.2.99\r\n";
    let l = invite(&mut calls, "c2@x", both, 2);
    assert_eq!(learned(&l)[0].0, "192.0.2.99");
}

#[test]
fn busy_ends_the_calls_endpoints() {
    let mut calls = Calls::default();
    let offer = rtp_avp("10.1.0.40", 20000);
    invite(&mut calls, CALL, &offer, 0);
    let ringing = kit::response(180, "Ringing", CALL, "1 INVITE", None);
    assert!(feed(&mut calls, &ringing, true, 5).is_empty());
    let busy = kit::response(486, "Busy Here", CALL, "1 INVITE", None);
    let l = feed(&mut calls, &busy, true, 900);
    assert_eq!(
        ended(&l),
        [
            ("10.1.0.40".to_owned(), 20000),
            ("10.1.0.40".to_owned(), 20001)
        ]
    );
    for lesson in &l {
        assert!(
            matches!(lesson, Lesson::EndCall { call, at: t, .. } if *call == hash(CALL) && *t == at(900))
        );
    }
    assert!(calls.is_empty());
    assert_eq!(calls.stats.ended, 1);
    // The ACK of the failure and a stray BYE find no call.
    assert!(feed(&mut calls, &kit::ack(CALL, 1, None), true, 910).is_empty());
    assert!(feed(&mut calls, &kit::bye(CALL, 2), true, 920).is_empty());
    // A failure answering something other than the INVITE ends nothing.
    invite(&mut calls, CALL, &offer, 1000);
    let other = kit::response(486, "Busy Here", CALL, "1 OPTIONS", None);
    assert!(feed(&mut calls, &other, true, 1010).is_empty());
    assert_eq!(calls.len(), 1);
}

#[test]
fn cancel_ends_an_unanswered_call_including_early_media() {
    let mut calls = Calls::default();
    let offer = rtp_avp("10.1.0.40", 20000);
    invite(&mut calls, CALL, &offer, 0);
    // Early media: the 183 carries the answer.
    let answer = rtp_avp("10.1.5.1", 16500);
    let progress = kit::response(183, "Session Progress", CALL, "1 INVITE", Some(&answer));
    assert_eq!(learned(&feed(&mut calls, &progress, true, 5)).len(), 2);
    let l = feed(&mut calls, &kit::cancel(CALL, 1), true, 3000);
    assert_eq!(ended(&l).len(), 4);
    assert!(calls.is_empty());
    let terminated = kit::response(487, "Request Terminated", CALL, "1 INVITE", None);
    assert!(feed(&mut calls, &terminated, true, 3010).is_empty());
}

#[test]
fn an_auth_challenge_is_not_a_failure() {
    for (code, reason) in [
        (401, "Unauthorized"),
        (407, "Proxy Authentication Required"),
    ] {
        let mut calls = Calls::default();
        let offer = rtp_avp("10.1.0.40", 20000);
        invite(&mut calls, CALL, &offer, 0);
        let challenge = kit::response(code, reason, CALL, "1 INVITE", None);
        assert!(feed(&mut calls, &challenge, true, 5).is_empty(), "{code}");
        assert_eq!(calls.len(), 1);
        // The INVITE again, with credentials and the same offer: the same endpoints again.
        let again = kit::in_dialog("INVITE", CALL, 2, Some(&offer));
        assert_eq!(learned(&feed(&mut calls, &again, true, 10)).len(), 2);
        let answer = rtp_avp("10.1.5.1", 16500);
        let ok = kit::response(200, "OK", CALL, "2 INVITE", Some(&answer));
        feed(&mut calls, &ok, true, 20);
        let l = feed(&mut calls, &kit::bye(CALL, 3), true, 30);
        // Each endpoint is ended once, however often it was taught.
        assert_eq!(ended(&l).len(), 4, "{code}");
    }
}

#[test]
fn bye_ends_an_established_call_and_nothing_else_does() {
    let mut calls = Calls::default();
    established(&mut calls);
    // After the 2xx, a CANCEL has no effect and a failed re-INVITE keeps the session.
    assert!(feed(&mut calls, &kit::cancel(CALL, 1), true, 30).is_empty());
    let pending = kit::response(491, "Request Pending", CALL, "2 INVITE", None);
    assert!(feed(&mut calls, &pending, true, 40).is_empty());
    assert_eq!(calls.len(), 1);
    let l = feed(&mut calls, &kit::bye(CALL, 3), true, 60_000);
    assert_eq!(
        ended(&l),
        [
            ("10.1.0.40".to_owned(), 20000),
            ("10.1.0.40".to_owned(), 20001),
            ("10.1.5.1".to_owned(), 16500),
            ("10.1.5.1".to_owned(), 16501),
        ]
    );
    assert!(calls.is_empty());
    let ok = kit::response(200, "OK", CALL, "3 BYE", None);
    assert!(feed(&mut calls, &ok, true, 60_010).is_empty());
    // A BYE of another call ends nothing.
    established(&mut calls);
    assert!(feed(&mut calls, &kit::bye("other@x", 2), true, 70_000).is_empty());
    assert_eq!(calls.len(), 1);
}

#[test]
fn a_reinvite_teaches_more_and_bye_ends_them_all() {
    let mut calls = Calls::default();
    established(&mut calls);
    // The media moves (a transfer to another media server); UPDATE and PRACK may carry SDP too.
    let moved = rtp_avp("10.1.0.41", 22000);
    let reinvite = kit::in_dialog("INVITE", CALL, 2, Some(&moved));
    assert_eq!(
        learned(&feed(&mut calls, &reinvite, true, 100)),
        [
            plain("10.1.0.41", 22000, false),
            plain("10.1.0.41", 22001, true)
        ]
    );
    let update = kit::in_dialog("UPDATE", CALL, 3, Some(&rtp_avp("10.1.0.42", 24000)));
    assert_eq!(learned(&feed(&mut calls, &update, true, 110)).len(), 2);
    let l = feed(&mut calls, &kit::bye(CALL, 4), true, 200);
    assert_eq!(ended(&l).len(), 8);
}

#[test]
fn a_tcp_segment_may_hold_several_messages() {
    let mut calls = Calls::default();
    // A late offer: the 200 carries the offer and the ACK the answer, in one segment.
    let offer = rtp_avp("10.1.5.1", 16500);
    let answer = rtp_avp("10.1.0.40", 20000);
    let segment = [
        kit::response(200, "OK", CALL, "1 INVITE", Some(&offer)),
        kit::ack(CALL, 1, Some(&answer)),
    ]
    .concat();
    assert_eq!(learned(&feed(&mut calls, &segment, false, 0)).len(), 4);
    assert_eq!(calls.stats.messages, 2);
    // A datagram holds one message: the rest of it is the first one's body.
    let mut calls = Calls::default();
    assert_eq!(learned(&feed(&mut calls, &segment, true, 0)).len(), 2);
    // A segment that ends inside an SDP body teaches nothing from it.
    let mut calls = Calls::default();
    let cut = &segment[..segment.len() - 30];
    assert_eq!(learned(&feed(&mut calls, cut, false, 0)).len(), 2);
    assert_eq!(calls.stats.sdp_truncated, 1);
}

#[test]
fn what_is_not_sip_is_answered_without_allocating() {
    let mut calls = Calls::default();
    for b in [
        &kit::rtp(0, 1, 160, 7, 160)[..],
        &kit::rtcp_sender_report(7),
        b"GET / HTTP/1.1\r\n\r\n",
        b"",
        b"\r\n\r\n",
    ] {
        assert!(feed(&mut calls, b, true, 0).is_empty());
    }
    assert_eq!(calls.scratch.capacity(), 0);
    assert_eq!((calls.stats.messages, calls.order.len()), (0, 0));
    // SIP without a Call-ID teaches nothing.
    let no_id = b"INVITE sip:x SIP/2.0\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\r\n\
v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert!(feed(&mut calls, no_id, true, 0).is_empty());
    assert!(calls.is_empty());
}

#[test]
fn caps_hold_with_many_calls_and_many_media_lines() {
    let mut calls = Calls::default();
    let offer = rtp_avp("10.1.0.40", 20000);
    let n = MAX_CALLS + 10;
    for i in 0..n {
        let id = format!("call-{i}");
        let ms = u64::try_from(i).unwrap();
        invite(&mut calls, &id, &offer, ms);
    }
    assert_eq!(calls.len(), MAX_CALLS);
    assert_eq!(calls.stats.dropped, 10);
    assert!(calls.order.len() <= 2 * MAX_CALLS);
    // The first calls were dropped: their BYE ends nothing; the last call's does.
    assert!(feed(&mut calls, &kit::bye("call-0", 2), true, 10_000).is_empty());
    let last = format!("call-{}", n - 1);
    assert_eq!(
        ended(&feed(&mut calls, &kit::bye(&last, 2), true, 10_001)).len(),
        2
    );
    // A call heard from again is not the next to go.
    let mut calls = Calls::default();
    for i in 0..MAX_CALLS {
        let id = format!("call-{i}");
        invite(&mut calls, &id, &offer, 0);
    }
    feed(
        &mut calls,
        &kit::response(180, "Ringing", "call-0", "1 INVITE", None),
        true,
        1,
    );
    invite(&mut calls, "new", &offer, 2);
    assert_eq!(
        ended(&feed(&mut calls, &kit::bye("call-0", 2), true, 3)).len(),
        2
    );
    assert!(feed(&mut calls, &kit::bye("call-1", 2), true, 3).is_empty());

    // Many media lines: one SDP teaches at most MAX_MEDIA streams, a call MAX_CALL_KEYS keys.
    let mut calls = Calls::default();
    let lines = |base: u16| -> String {
        let mut s = "v=0\r\nc=IN IP4 10.1.0.40\r\n".to_owned();
        for i in 0..12 {
            s.push_str(&format!("m=audio {} RTP/AVP 0\r\n", base + 2 * i));
        }
        s
    };
    let offer = lines(20000);
    let l = invite(&mut calls, CALL, &offer, 0);
    assert_eq!(learned(&l).len(), 2 * MAX_MEDIA);
    let answer = lines(30000);
    let ok = kit::response(200, "OK", CALL, "1 INVITE", Some(&answer));
    let l = feed(&mut calls, &ok, true, 1);
    assert_eq!(learned(&l).len(), MAX_CALL_KEYS - 2 * MAX_MEDIA);
    assert_eq!(calls.stats.keys_dropped, 2 * MAX_MEDIA as u64);
    let l = feed(&mut calls, &kit::bye(CALL, 2), true, 2);
    assert_eq!(ended(&l).len(), MAX_CALL_KEYS);
}

#[test]
fn a_call_not_heard_from_for_the_lifetime_is_forgotten() {
    let lifetime = Duration::from_secs(60);
    let mut calls = Calls::new(lifetime);
    let offer = rtp_avp("10.1.0.40", 20000);
    invite(&mut calls, CALL, &offer, 0);
    invite(&mut calls, "quiet", &offer, 0);
    // A message within the lifetime keeps the call.
    let ringing = kit::response(180, "Ringing", CALL, "1 INVITE", None);
    feed(&mut calls, &ringing, true, 50_000);
    feed(
        &mut calls,
        &kit::response(100, "Trying", "x", "1 INVITE", None),
        true,
        100_000,
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(calls.stats.expired, 1);
    assert!(feed(&mut calls, &kit::bye("quiet", 2), true, 100_001).is_empty());
    assert_eq!(
        ended(&feed(&mut calls, &kit::bye(CALL, 2), true, 100_002)).len(),
        2
    );
}

/// Conversations the unit tests use, as payload sequences for the `expect_sip` fuzz target.
/// Each is (name, over UDP, payloads).
fn seeds() -> Vec<(&'static str, bool, Vec<Vec<u8>>)> {
    let offer = rtp_avp("10.1.0.40", 20000);
    let answer = kit::sdp("10.1.5.1", 16500, "RTP/SAVP", true, Some(16999));
    let invite = kit::invite(CALL, "um01.contoso.com", "pbx01.contoso.com", Some(&offer));
    let ok = kit::response(200, "OK", CALL, "1 INVITE", Some(&answer));
    vec![
        (
            "call-bye",
            true,
            vec![
                invite.clone(),
                ok.clone(),
                kit::ack(CALL, 1, None),
                kit::bye(CALL, 2),
            ],
        ),
        (
            "busy",
            true,
            vec![
                invite.clone(),
                kit::response(486, "Busy Here", CALL, "1 INVITE", None),
            ],
        ),
        (
            "challenge-cancel",
            true,
            vec![
                invite.clone(),
                kit::response(407, "Proxy Authentication Required", CALL, "1 INVITE", None),
                kit::in_dialog("INVITE", CALL, 2, Some(&offer)),
                kit::cancel(CALL, 2),
            ],
        ),
        (
            "tcp-late-offer",
            false,
            vec![[ok.clone(), kit::ack(CALL, 1, Some(&offer))].concat()],
        ),
        (
            "reinvite-tls",
            true,
            vec![
                invite,
                ok,
                kit::with_via(&kit::in_dialog("INVITE", CALL, 2, Some(&offer)), "TLS"),
                kit::bye(CALL, 3),
            ],
        ),
    ]
}

#[test]
fn expect_sip_seeds_run() {
    for (name, udp, payloads) in seeds() {
        let data = crate::testkit::fuzzing::expect_sip_seed(udp, &payloads);
        crate::testkit::fuzzing::expect_sip(&data);
        let mut calls = Calls::default();
        let taught: usize = payloads
            .iter()
            .map(|p| learned(&feed(&mut calls, p, udp, 0)).len())
            .sum();
        assert!(taught > 0, "{name}");
    }
}

/// Writes the seeds as the corpus of the `expect_sip` fuzz target.
#[test]
#[ignore = "writes fuzz/corpus/expect_sip: cargo test --lib -- --ignored write_fuzz_seeds"]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/expect_sip");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, udp, payloads) in seeds() {
        let data = crate::testkit::fuzzing::expect_sip_seed(udp, &payloads);
        std::fs::write(dir.join(name), data).unwrap();
    }
}

proptest! {
    #[test]
    fn any_payloads_stay_bounded(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..8),
        lead in proptest::collection::vec(any::<bool>(), 8),
        udp: bool,
    ) {
        let mut calls = Calls::default();
        let offer = rtp_avp("10.1.0.40", 20000);
        let head = kit::invite(CALL, "a", "b", Some(&offer));
        for (i, p) in payloads.iter().enumerate() {
            let p = if lead[i] { [&head[..head.len() - 20], p].concat() } else { p.clone() };
            let ms = u64::try_from(i).unwrap();
            let l = feed(&mut calls, &p, udp, ms);
            prop_assert!(l.len() <= sip::MAX_MESSAGES * MAX_CALL_KEYS.max(2 * MAX_MEDIA));
            prop_assert!(calls.len() <= MAX_CALLS);
            prop_assert!(calls.map.values().all(|c| c.keys.len() <= MAX_CALL_KEYS));
        }
    }
}
