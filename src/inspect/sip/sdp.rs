//! SDP session descriptions (RFC 8866, which replaced RFC 4566) as SIP offers and answers carry
//! them: the connection address, and per media line its port, transport protocol, RTP payload
//! types, where its RTCP goes (`a=rtcp`, RFC 3605; `a=rtcp-mux`, RFC 5761) and whether an SDES
//! key (`a=crypto`, RFC 4568) was attached. The key itself is a secret and is never kept.
//! Reusable on its own: the media endpoints an offer names are where RTP (or SRTP) will flow.
//!
//! Own code: SDP is a line format of `<type>=<value>` and only three line types matter here;
//! the Rust SDP crates (webrtc-sdp, sdp) build full session models for WebRTC, keep every
//! attribute (keys included) and are far more than this needs.

use std::net::IpAddr;

use serde::Serialize;

use crate::inspect::wire_text;

/// Media lines kept; a call offers one to three (audio, video, a data channel).
pub const MAX_MEDIA: usize = 8;
/// Lines read from a body; a 4 KiB prefix holds far fewer.
const MAX_LINES: usize = 256;
/// RTP payload types kept per media line: enough to check an RTP header against the offer
/// (phones offer three to ten codecs and telephone-event).
pub const MAX_PAYLOAD_TYPES: usize = 16;

/// What an SDP body says about its media.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sdp {
    /// The session-level connection address (`c=`), for media lines without their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
    /// Media lines beyond [`MAX_MEDIA`].
    #[serde(skip_serializing_if = "is_zero")]
    pub media_more: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One `m=` line and what belongs to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Media {
    /// `audio`, `video`, `application` …
    pub media: String,
    /// Port 0 rejects or disables the stream (RFC 3264 §5.1).
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVP` …
    pub proto: String,
    /// The media-level connection address, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The RTP payload types listed after the profile (for RTP profiles only; at most
    /// [`MAX_PAYLOAD_TYPES`], values 0–127).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payload_types: Vec<u8>,
    /// `a=rtcp:<port>` (RFC 3605): RTCP is not on the RTP port + 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtcp_port: Option<u16>,
    /// The address `a=rtcp` gave, when RTCP is not at the stream's connection address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtcp_address: Option<String>,
    /// `a=rtcp-mux` (RFC 5761): RTP and RTCP may share the RTP port, if the answer agrees.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rtcp_mux: bool,
    /// An `a=crypto` line (SDES, RFC 4568) came with it: the SRTP key crossed inside this SDP.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub crypto: bool,
}

impl Media {
    /// Whether the profile is secure RTP (RFC 3711 `RTP/SAVP`, `RTP/SAVPF`, and their DTLS
    /// forms, RFC 5764).
    pub fn is_srtp(&self) -> bool {
        let p = self.proto.to_ascii_uppercase();
        p.contains("/SAVP")
    }

    /// Where RTCP for this stream is received when its RTP arrives at `rtp`: the `a=rtcp` port
    /// and address, else the RTP port + 1 at the same address (RFC 3550 §11). `None` when
    /// `a=rtcp` names a host that is not an IP literal, or the RTP port is 65535.
    pub fn rtcp_endpoint(&self, rtp: IpAddr) -> Option<(IpAddr, u16)> {
        let ip = match &self.rtcp_address {
            Some(a) => a.parse::<IpAddr>().ok()?,
            None => rtp,
        };
        let port = match self.rtcp_port {
            Some(p) => p,
            None => self.port.checked_add(1)?,
        };
        (port != 0).then_some((ip, port))
    }
}

impl Sdp {
    /// Where each media stream will be received: its address (own `c=`, else the session's)
    /// and port. Streams with port 0, an address that is not an IP literal, or the unspecified
    /// address (`0.0.0.0` puts a stream on hold, RFC 3264 §8.4) are left out.
    pub fn endpoints(&self) -> impl Iterator<Item = (IpAddr, u16, &Media)> + '_ {
        self.media.iter().filter_map(move |m| {
            let addr = m.connection.as_deref().or(self.connection.as_deref())?;
            let ip = addr.parse::<IpAddr>().ok()?;
            (m.port != 0 && !ip.is_unspecified()).then_some((ip, m.port, m))
        })
    }
}

/// Parses an SDP body. `None` when it does not start with `v=` (RFC 8866 §5: the first line).
pub fn parse(body: &[u8]) -> Option<Sdp> {
    let body = body.strip_prefix(b"\r\n").unwrap_or(body);
    if !body.starts_with(b"v=") {
        return None;
    }
    let mut sdp = Sdp::default();
    // Whether the current media line was kept (attributes after a dropped one go nowhere).
    let mut in_media = false;
    let mut kept = false;
    for line in body.split(|&b| b == b'\n').take(MAX_LINES) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some((&kind, value)) = line.split_first() else {
            continue;
        };
        let Some(value) = value.strip_prefix(b"=") else {
            continue;
        };
        match kind {
            b'c' => {
                let addr = connection_address(value);
                if !in_media {
                    sdp.connection = addr;
                } else if kept && let Some(m) = sdp.media.last_mut() {
                    m.connection = addr;
                }
            }
            b'm' => {
                in_media = true;
                kept = false;
                let Some(m) = media_line(value) else {
                    continue;
                };
                if sdp.media.len() < MAX_MEDIA {
                    sdp.media.push(m);
                    kept = true;
                } else {
                    sdp.media_more = sdp.media_more.saturating_add(1);
                }
            }
            b'a' if in_media && kept => {
                if let Some(m) = sdp.media.last_mut() {
                    attribute(m, value);
                }
            }
            _ => {}
        }
    }
    Some(sdp)
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7); a multicast address may carry
/// `/ttl` and `/count`, which are dropped.
fn connection_address(value: &[u8]) -> Option<String> {
    address(words(value))
}

/// `<nettype> <addrtype> <connection-address>`, as `c=` and `a=rtcp` give them.
fn address<'a>(mut parts: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    let _nettype = parts.next()?;
    let _addrtype = parts.next()?;
    let addr = parts.next()?;
    let addr = addr.split(|&b| b == b'/').next()?;
    (!addr.is_empty()).then(|| wire_text(addr))
}

/// The media-level attributes that matter here (RFC 8866 §5.13 `a=<attribute>[:<value>]`):
/// - `a=crypto:<tag> <suite> <key-params>` (RFC 4568 §9.1): only its presence is kept;
/// - `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1);
/// - `a=rtcp-mux` (RFC 5761 §5.1.1).
fn attribute(m: &mut Media, value: &[u8]) {
    if value.starts_with(b"crypto:") {
        m.crypto = true;
    } else if let Some(rtcp) = value.strip_prefix(b"rtcp:") {
        let mut parts = words(rtcp);
        let Some(port) = parts.next().and_then(number::<u16>) else {
            return;
        };
        m.rtcp_port = Some(port);
        m.rtcp_address = address(parts);
    } else if value.trim_ascii_end() == b"rtcp-mux" {
        m.rtcp_mux = true;
    }
}

/// The space-separated fields of a line.
fn words(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b' ').filter(|p| !p.is_empty())
}

fn number<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> …` (RFC 8866 §5.14). Under an RTP
/// profile each `<fmt>` is a payload type (RFC 3551 §6; 7 bits, RFC 3550 §5.1).
fn media_line(value: &[u8]) -> Option<Media> {
    let mut parts = words(value);
    let media = parts.next()?;
    let port = parts.next()?;
    let proto = parts.next()?;
    let port = number::<u16>(port.split(|&b| b == b'/').next()?)?;
    let rtp = proto.windows(3).any(|w| w.eq_ignore_ascii_case(b"RTP"));
    let payload_types = if rtp {
        parts
            .filter_map(number::<u8>)
            .filter(|&pt| pt <= 127)
            .take(MAX_PAYLOAD_TYPES)
            .collect()
    } else {
        Vec::new()
    };
    Some(Media {
        media: wire_text(media),
        port,
        proto: wire_text(proto),
        payload_types,
        ..Media::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &[u8] =
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 40376 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n\
m=video 0 RTP/AVP 31\r\n";

    #[test]
    fn session_connection_and_media_lines() {
        let s = parse(OFFER).unwrap();
        assert_eq!(s.connection.as_deref(), Some("192.0.2.10"));
        assert_eq!(s.media.len(), 2);
        let audio = &s.media[0];
        assert_eq!((audio.media.as_str(), audio.port), ("audio", 40376));
        assert_eq!(audio.proto, "RTP/AVP");
        assert!(!audio.is_srtp() && !audio.crypto);
        // The disabled video stream (port 0) is no endpoint.
        let eps: Vec<_> = s
            .endpoints()
            .map(|(ip, p, _)| (ip.to_string(), p))
            .collect();
        assert_eq!(eps, vec![("192.0.2.10".to_owned(), 40376)]);
    }

    #[test]
    fn srtp_with_sdes_key_keeps_no_key() {
        let body = b"v=0\r\nc=IN IP6 2001:db8::1\r\nm=audio 5004 RTP/SAVP 0\r\n\
c=IN IP4 198.51.100.7/127\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VuZGlu\r\n";
        let s = parse(body).unwrap();
        let m = &s.media[0];
        assert!(m.is_srtp() && m.crypto);
        assert_eq!(m.connection.as_deref(), Some("198.51.100.7"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("inline") && !json.contains("WVNf"), "{json}");
        assert!(!format!("{s:?}").contains("WVNf"));
    }

    #[test]
    fn near_misses_and_caps() {
        assert_eq!(parse(b"hello"), None);
        assert_eq!(parse(b""), None);
        // A crypto attribute before any media line belongs to no stream.
        let s = parse(b"v=0\na=crypto:1 X inline:KEY\nm=audio 1 RTP/AVP 0\n").unwrap();
        assert!(!s.media[0].crypto);
        // A bad port drops the line, not the body.
        let s = parse(b"v=0\nm=audio x RTP/AVP 0\nm=audio 7/2 RTP/AVP 0\n").unwrap();
        assert_eq!(s.media.len(), 1);
        assert_eq!(s.media[0].port, 7);
        let mut many = b"v=0\n".to_vec();
        for _ in 0..20 {
            many.extend_from_slice(b"m=audio 9 RTP/AVP 0\n");
        }
        let s = parse(&many).unwrap();
        assert_eq!((s.media.len(), s.media_more), (MAX_MEDIA, 12));
    }

    #[test]
    fn payload_types_are_kept_for_rtp_profiles_only() {
        let s = parse(
            b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 5004 RTP/AVP 0 8 101 x 300 127\r\n\
m=image 5006 udptl t38\r\nm=application 9 UDP/DTLS/SCTP 5000\r\n\
m=video 5008 UDP/TLS/RTP/SAVPF 96 97\r\n",
        )
        .unwrap();
        let pts: Vec<&[u8]> = s.media.iter().map(|m| &m.payload_types[..]).collect();
        // Not numbers, and numbers above 7 bits, are no payload types.
        assert_eq!(pts, [&[0, 8, 101, 127][..], &[], &[], &[96, 97]]);
        let mut long = b"v=0\nm=audio 1 RTP/AVP".to_vec();
        for pt in 0..40 {
            long.extend_from_slice(format!(" {pt}").as_bytes());
        }
        let s = parse(&long).unwrap();
        assert_eq!(s.media[0].payload_types.len(), MAX_PAYLOAD_TYPES);
    }

    #[test]
    fn rtcp_attribute_gives_the_rtcp_endpoint() {
        let s = parse(
            b"v=0\r\nc=IN IP4 192.0.2.1\r\n\
m=audio 49170 RTP/AVP 0\r\na=rtcp:53020\r\n\
m=audio 49172 RTP/AVP 0\r\na=rtcp:53021 IN IP6 2001:db8::9\r\na=rtcp-mux\r\n\
m=audio 49174 RTP/AVP 0\r\na=rtcp:53022 IN IP4 rtcp.example\r\n\
m=audio 65535 RTP/AVP 0\r\na=rtcp:x\r\n\
m=audio 49176 RTP/AVP 0\r\na=rtcp-muxed\r\n",
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let rtp = ip("192.0.2.1");
        let rtcp: Vec<_> = s.media.iter().map(|m| m.rtcp_endpoint(rtp)).collect();
        assert_eq!(
            rtcp,
            [
                Some((rtp, 53020)),
                Some((ip("2001:db8::9"), 53021)),
                // A host name gives no address to expect.
                None,
                // No valid a=rtcp, and no port after 65535.
                None,
                Some((rtp, 49177)),
            ]
        );
        assert_eq!(s.media[2].rtcp_address.as_deref(), Some("rtcp.example"));
        assert_eq!(s.media[3].rtcp_port, None);
        assert!(s.media[1].rtcp_mux && !s.media[0].rtcp_mux && !s.media[4].rtcp_mux);
        let json = serde_json::to_string(&s.media[1]).unwrap();
        assert_eq!(
            json,
            r#"{"media":"audio","port":49172,"proto":"RTP/AVP","payload_types":[0],"rtcp_port":53021,"rtcp_address":"2001:db8::9","rtcp_mux":true}"#
        );
        // An attribute before the first media line belongs to none.
        let s = parse(b"v=0\na=rtcp:9\nm=audio 1 RTP/AVP 0\n").unwrap();
        assert_eq!(s.media[0].rtcp_port, None);
    }

    #[test]
    fn a_stream_on_hold_or_rejected_is_no_endpoint() {
        let s = parse(b"v=0\nc=IN IP4 0.0.0.0\nm=audio 5004 RTP/AVP 0\nm=audio 5006 RTP/AVP 0\nc=IN IP4 192.0.2.3\nm=audio 0 RTP/AVP 0\nc=IN IP4 192.0.2.3\n").unwrap();
        let eps: Vec<_> = s
            .endpoints()
            .map(|(ip, p, _)| (ip.to_string(), p))
            .collect();
        assert_eq!(eps, [("192.0.2.3".to_owned(), 5006)]);
    }

    #[test]
    fn every_prefix_parses_without_panic() {
        for cut in 0..OFFER.len() {
            let _ = parse(&OFFER[..cut]);
        }
    }
}
