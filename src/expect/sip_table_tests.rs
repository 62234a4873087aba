//! The expectation table fed by the SIP learner, attributing the flows of a capture.

use super::*;
use crate::decode::DecodeConfig;
use crate::flow::FlowConfig;
use crate::testkit::sip as kit;
use crate::testkit::{Capture, addr};
use crate::time::Duration;

const CALL: &str = "4e1f9a2c-0105@10.1.5.1";
const UM: &str = "10.1.0.40:5060";
const PBX: &str = "10.1.5.1:5060";

/// A capture whose SIP a learner reads as it is recorded, and the lessons it gave.
struct Scene {
    cap: Capture,
    learner: Learner,
    lessons: Vec<Lesson>,
}

impl Scene {
    fn new() -> Self {
        Self {
            cap: Capture::new(),
            learner: Learner::default(),
            lessons: Vec::new(),
        }
    }

    /// Records a SIP datagram from the PBX to UM (`to_um`) or back, read at the capture's time.
    /// Returns how many lessons it gave.
    fn sip(&mut self, to_um: bool, msg: &[u8]) -> usize {
        let (from, to) = if to_um {
            (addr(PBX), addr(UM))
        } else {
            (addr(UM), addr(PBX))
        };
        let before = self.lessons.len();
        let (src, dst) = ((from.ip(), from.port()), (to.ip(), to.port()));
        let now = self.cap.now();
        self.learner
            .sip(src, dst, Transport::Udp, msg, now, &mut self.lessons);
        self.cap.udp(from, to, msg);
        self.lessons.len() - before
    }

    /// The PBX calls UM, offering RTP at 10.1.5.1:16500 with `profile`.
    fn invite(&mut self, profile: &str) -> usize {
        let offer = kit::sdp("10.1.5.1", 16500, profile, profile.contains("SAVP"), None);
        let invite = kit::invite(CALL, "pbx01.contoso.com", "um01.contoso.com", Some(&offer));
        self.sip(true, &invite)
    }

    /// The lessons applied to a table, and the records of the capture.
    fn finish(&self) -> (Expectations, Vec<FlowRecord>) {
        let mut table = Expectations::default();
        self.lessons.iter().for_each(|l| table.apply(l));
        let records = crate::analyse(
            "t.pcap",
            Box::new(std::io::Cursor::new(self.cap.to_pcap())),
            DecodeConfig::default(),
            FlowConfig::default(),
        )
        .flows;
        (table, records)
    }
}

#[test]
fn a_calls_media_flows_are_attributed_to_it_until_it_ends() {
    let (um_rtp, pbx_rtp) = (addr("10.1.0.40:20000"), addr("10.1.5.1:16500"));
    let (um_rtcp, pbx_rtcp) = (addr("10.1.0.40:20001"), addr("10.1.5.1:16501"));
    let mut s = Scene::new();
    assert_eq!(s.invite("RTP/SAVP"), 2);
    let answer = kit::sdp("10.1.0.40", 20000, "RTP/SAVP", true, None);
    let ok = kit::response(200, "OK", CALL, "1 INVITE", Some(&answer));
    assert_eq!(s.sip(false, &ok), 2);
    assert_eq!(s.sip(true, &kit::ack(CALL, 1, None)), 0);
    // Media both ways, and RTCP from UM to the PBX.
    for seq in 0..3u16 {
        s.cap
            .udp(pbx_rtp, um_rtp, &kit::rtp(0, seq, 160, 0x1111, 160));
        s.cap
            .udp(um_rtp, pbx_rtp, &kit::rtp(0, seq, 160, 0x2222, 160));
    }
    s.cap
        .udp(um_rtcp, pbx_rtcp, &kit::rtcp_sender_report(0x2222));
    s.cap.wait(Duration::from_secs(5));
    assert_eq!(s.sip(true, &kit::bye(CALL, 2)), 4);
    // After the BYE, a new flow to UM's old RTP port belongs to no call.
    s.cap.wait(Duration::from_secs(1));
    let late = kit::rtp(0, 1, 160, 0x3333, 160);
    s.cap.udp(addr("10.1.9.9:7000"), um_rtp, &late);

    let (mut table, records) = s.finish();
    assert_eq!((table.len(), table.stats.ended_by_call), (4, 4));
    let call = crate::inspect::sip::CallHash::of(CALL.as_bytes());
    let mut seen = Vec::new();
    for rec in &records {
        let found = table.attribute(rec);
        if rec.resp.1 == 5060 || rec.orig.1 == 5060 {
            assert!(found.is_none(), "signalling {rec:?}");
            continue;
        }
        let found = found.map(|a| (a.key.port, a.what));
        seen.push((rec.orig.0.to_string(), rec.resp.1, found));
    }
    let media = |port, rtcp, announcer: &str| {
        Some((
            port,
            What::Media {
                call,
                rtcp,
                srtp: true,
                signalling_tls: false,
                announcer: addr(announcer).ip(),
            },
        ))
    };
    assert_eq!(
        seen,
        [
            // The PBX sent first: the flow's responder is UM's RTP endpoint, from the answer.
            ("10.1.5.1".to_owned(), 20000, media(20000, false, UM)),
            // UM sent first: the responder is the PBX's RTCP endpoint, from the offer.
            ("10.1.0.40".to_owned(), 16501, media(16501, true, PBX)),
            ("10.1.9.9".to_owned(), 20000, None),
        ]
    );
    // The endpoints name the signalling flow that taught them.
    let (pbx, um) = (addr(PBX), addr(UM));
    let sig = crate::report::community_id_bytes(
        0,
        (pbx.ip(), pbx.port()),
        (um.ip(), um.port()),
        crate::flow::proto::UDP,
        None,
    );
    assert!(
        table
            .entries()
            .iter()
            .all(|(_, e)| e.from.community_id == sig)
    );
}

#[test]
fn a_failed_call_teaches_flows_nothing() {
    let mut s = Scene::new();
    assert_eq!(s.invite("RTP/AVP"), 2);
    let busy = kit::response(486, "Busy Here", CALL, "1 INVITE", None);
    assert_eq!(s.sip(false, &busy), 2);
    s.cap.wait(Duration::from_millis(500));
    // A flow to the offered port after the failure is no media of the call.
    let rtp = kit::rtp(0, 1, 160, 1, 160);
    s.cap
        .udp(addr("10.1.0.40:20000"), addr("10.1.5.1:16500"), &rtp);
    let (mut table, records) = s.finish();
    let media: Vec<_> = records.iter().filter(|r| r.resp.1 == 16500).collect();
    assert_eq!(media.len(), 1);
    assert!(table.attribute(media[0]).is_none());
    assert_eq!(table.stats.ended_by_call, 2);
}
