//! The fixed header of an RTP or RTCP packet (RFC 3550), as UDP media flows carry them: whether
//! it is RTCP, its payload type (RTCP: packet type) and its SSRC. SRTP and SRTCP (RFC 3711)
//! leave these headers in clear, so the same reading serves encrypted media.
//!
//! Own code: a dozen bytes at fixed offsets. The Rust RTP crates (`rtp`, `webrtc-rtp`) are
//! media-stack packet models that parse and keep the payload; nothing of that is needed here.

#![deny(clippy::indexing_slicing)]

use serde::Serialize;

/// RFC 3550 §5.1: the RTP fixed header is 12 bytes.
const RTP_HEADER_LEN: usize = 12;
/// RFC 3550 §6.4.1: an RTCP packet starts with 4 header bytes and the sender's SSRC.
const RTCP_HEADER_LEN: usize = 8;
/// RFC 3550 §5.1: the version field (the top 2 bits of the first byte) is 2.
const VERSION: u8 = 2;
/// RFC 5761 §4: a second byte in 192–223 is an RTCP packet type (SR 200, RR 201, SDES 202,
/// BYE 203, APP 204, and the feedback and XR types 205–207), never the marker bit and an RTP
/// payload type, because payload types 64–95 are not used where RTP and RTCP share a port.
const RTCP_TYPES: std::ops::RangeInclusive<u8> = 192..=223;

/// What an RTP or RTCP header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rtp {
    /// The packet is RTCP (RFC 5761 §4), not RTP.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rtcp: bool,
    /// RTP: the 7-bit payload type (RFC 3550 §5.1). RTCP: the packet type (200 SR …).
    pub payload_type: u8,
    /// The synchronisation source: the RTP sender, or the RTCP packet's sender.
    pub ssrc: u32,
}

/// Reads the header at the start of a UDP payload. `None` when it cannot be RTP or RTCP:
/// shorter than its fixed header, a version other than 2, CSRCs or an extension header that
/// run past the end, or an RTCP length longer than the datagram.
///
/// ```text
///  0                   1                   2                   3
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |   RTP (RFC 3550 §5.1)
/// |                           timestamp                           |
/// |                             SSRC                              |
/// |V=2|P|    RC   |   PT=200..    |             length            |   RTCP (§6.4.1)
/// |                         SSRC of sender                        |
/// ```
pub fn header(b: &[u8]) -> Option<Rtp> {
    let (&[first, second, l0, l1], _) = b.split_first_chunk::<4>()?;
    if first >> 6 != VERSION {
        return None;
    }
    if RTCP_TYPES.contains(&second) {
        let (&[_, _, _, _, s0, s1, s2, s3], _) = b.split_first_chunk::<RTCP_HEADER_LEN>()?;
        // The length is in 32-bit words minus one (§6.4.1); SRTCP adds its index and tag
        // after the packet, so the datagram may be longer, never shorter.
        let len = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
        if len > b.len() {
            return None;
        }
        return Some(Rtp {
            rtcp: true,
            payload_type: second,
            ssrc: u32::from_be_bytes([s0, s1, s2, s3]),
        });
    }
    let (fixed, rest) = b.split_first_chunk::<RTP_HEADER_LEN>()?;
    let [.., s0, s1, s2, s3] = *fixed;
    // CSRC identifiers (CC, the low 4 bits), then an extension header (X, bit 4) of
    // 4 bytes plus its length in 32-bit words (§5.3.1). The padding count (P) sits in the last
    // byte of the payload, which SRTP encrypts, so it is not checked.
    let csrc = usize::from(first & 0x0f) * 4;
    let rest = rest.get(csrc..)?;
    if first & 0x10 != 0 {
        let (&[_, _, w0, w1], ext) = rest.split_first_chunk::<4>()?;
        ext.get(..usize::from(u16::from_be_bytes([w0, w1])) * 4)?;
    }
    Some(Rtp {
        rtcp: false,
        payload_type: second & 0x7f,
        ssrc: u32::from_be_bytes([s0, s1, s2, s3]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::sip::{rtcp_sender_report, rtp};
    use proptest::prelude::*;

    #[test]
    fn rtp_and_rtcp_headers() {
        let p = rtp(8, 1, 160, 0x1234_5678, 160);
        assert_eq!(
            header(&p),
            Some(Rtp {
                rtcp: false,
                payload_type: 8,
                ssrc: 0x1234_5678
            })
        );
        // The marker bit is not part of the payload type.
        let mut marked = rtp(101, 2, 320, 7, 4);
        marked[1] |= 0x80;
        assert_eq!(
            header(&marked).map(|h| (h.rtcp, h.payload_type)),
            Some((false, 101))
        );
        let sr = rtcp_sender_report(0xdead_beef);
        assert_eq!(
            header(&sr),
            Some(Rtp {
                rtcp: true,
                payload_type: 200,
                ssrc: 0xdead_beef
            })
        );
        // SRTCP: the index and authentication tag follow the packet.
        let srtcp = [sr.clone(), vec![0x80, 0, 0, 1], vec![0xaa; 10]].concat();
        assert_eq!(header(&srtcp).map(|h| h.rtcp), Some(true));
        let json = serde_json::to_string(&header(&sr).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"rtcp":true,"payload_type":200,"ssrc":3735928559}"#
        );
        let json = serde_json::to_string(&header(&p).unwrap()).unwrap();
        assert_eq!(json, r#"{"payload_type":8,"ssrc":305419896}"#);
    }

    #[test]
    fn csrcs_and_extension_are_bounded_by_the_packet() {
        // Two CSRCs and a one-word extension, then the payload.
        let mut p = rtp(0, 1, 0, 9, 0);
        p[0] |= 0x12;
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
        assert_eq!(header(&p).map(|h| h.ssrc), Some(9));
        // The extension claims more words than there are.
        let short = &p[..p.len() - 1];
        assert_eq!(header(short), None);
        // CSRCs past the end.
        let mut c = rtp(0, 1, 0, 9, 0);
        c[0] |= 0x0f;
        assert_eq!(header(&c), None);
    }

    #[test]
    fn near_misses_are_not_rtp() {
        let p = rtp(0, 1, 0, 9, 20);
        // Version 1, version 0 (STUN's first bits, RFC 8489 §5), version 3.
        for v in [0x40, 0x00, 0xc0] {
            let mut q = p.clone();
            q[0] = v;
            assert_eq!(header(&q), None, "{v:#x}");
        }
        assert_eq!(header(b"INVITE sip:x SIP/2.0\r\n"), None);
        // An RTCP length beyond the datagram.
        let mut sr = rtcp_sender_report(1);
        sr[3] = 7;
        assert_eq!(header(&sr), None);
        // Every cut of a valid packet below its fixed header.
        let sr = rtcp_sender_report(1);
        for cut in 0..RTP_HEADER_LEN {
            assert_eq!(header(&p[..cut]), None, "rtp cut {cut}");
        }
        for cut in 0..sr.len() {
            assert_eq!(header(&sr[..cut]), None, "rtcp cut {cut}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(h) = header(&b) {
                prop_assert_eq!(b[0] >> 6, VERSION);
                prop_assert!(h.rtcp || h.payload_type < 128);
                prop_assert!(b.len() >= RTCP_HEADER_LEN);
            }
        }
    }
}
