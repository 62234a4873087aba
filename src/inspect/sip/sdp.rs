//! SDP session descriptions (RFC 8866, which replaced RFC 4566) as SIP offers and answers carry
//! them: the connection address, and per media line its port, transport protocol and whether an
//! SDES key (`a=crypto`, RFC 4568) was attached. The key itself is a secret and is never kept.
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
}

impl Sdp {
    /// Where each media stream will be received: its address (own `c=`, else the session's)
    /// and port. Streams with port 0 or an address that is not an IP literal are left out.
    pub fn endpoints(&self) -> impl Iterator<Item = (IpAddr, u16, &Media)> + '_ {
        self.media.iter().filter_map(move |m| {
            let addr = m.connection.as_deref().or(self.connection.as_deref())?;
            let ip = addr.parse::<IpAddr>().ok()?;
            (m.port != 0).then_some((ip, m.port, m))
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
            b'a' if in_media && kept && value.starts_with(b"crypto:") => {
                if let Some(m) = sdp.media.last_mut() {
                    m.crypto = true;
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
    let mut parts = value.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let _nettype = parts.next()?;
    let _addrtype = parts.next()?;
    let addr = parts.next()?;
    let addr = addr.split(|&b| b == b'/').next()?;
    (!addr.is_empty()).then(|| wire_text(addr))
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> …` (RFC 8866 §5.14).
fn media_line(value: &[u8]) -> Option<Media> {
    let mut parts = value.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let media = parts.next()?;
    let port = parts.next()?;
    let proto = parts.next()?;
    let port = port.split(|&b| b == b'/').next()?;
    let port = std::str::from_utf8(port).ok()?.parse::<u16>().ok()?;
    Some(Media {
        media: wire_text(media),
        port,
        proto: wire_text(proto),
        connection: None,
        crypto: false,
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
    fn every_prefix_parses_without_panic() {
        for cut in 0..OFFER.len() {
            let _ = parse(&OFFER[..cut]);
        }
    }
}
