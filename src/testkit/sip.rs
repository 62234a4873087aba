//! SIP messages, SDP bodies and RTP/RTCP packets, as the payloads of datagrams and segments a
//! scene records (`Capture::udp`, `TcpConv::client_sends`) or an inspector's unit test reads.
//!
//! The messages are those of a call between Exchange UM (`um.contoso.com`) and a gateway
//! (`gw.contoso.com`); what a test needs to vary is a parameter, anything else is fixed. Every
//! message carries a Content-Length, so several can share a TCP segment.

/// The SDES key `sdp` writes for `crypto`: tests check that it is never kept.
pub const SDES_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VuZGlu";

/// An SDP body offering one audio stream at `addr` (an IPv4 or IPv6 literal) and `port`, with
/// `profile` (`RTP/AVP`, `RTP/SAVP` …) and payload types 0, 8 and 101 (telephone-event); an
/// `a=crypto` line with [`SDES_KEY`] when `crypto`, and `a=rtcp:<port>` when `rtcp` is given.
pub fn sdp(addr: &str, port: u16, profile: &str, crypto: bool, rtcp: Option<u16>) -> String {
    let family = if addr.contains(':') { "IP6" } else { "IP4" };
    let mut s = format!(
        "v=0\r\no=- 20260105 1 IN {family} {addr}\r\ns=-\r\nc=IN {family} {addr}\r\nt=0 0\r\n\
         m=audio {port} {profile} 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    if let Some(p) = rtcp {
        s.push_str(&format!("a=rtcp:{p}\r\n"));
    }
    if crypto {
        s.push_str(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{SDES_KEY}\r\n"
        ));
    }
    s
}

/// Headers and body after the start line and the dialog's headers.
fn finish(mut head: String, sdp: Option<&str>) -> Vec<u8> {
    if let Some(body) = sdp {
        head.push_str("Content-Type: application/sdp\r\n");
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        head.push_str("Content-Length: 0\r\n\r\n");
    }
    head.into_bytes()
}

/// An INVITE (CSeq 1) from `from_host` to a telephone number at `to_host`, over UDP, with an
/// SDP offer when `sdp` is given.
pub fn invite(call_id: &str, from_host: &str, to_host: &str, sdp: Option<&str>) -> Vec<u8> {
    finish(
        format!(
            "INVITE sip:+15551234@{to_host}:5060;transport=udp SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from_host}:5060;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice\" <sip:alice@{from_host}>;tag=1\r\n\
             To: <sip:+15551234@{to_host}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:alice@{from_host}:5060>\r\n\
             User-Agent: Exchange UM\r\n"
        ),
        sdp,
    )
}

/// A request of the call `call_id` with CSeq `seq`: ACK, BYE, CANCEL, a re-INVITE, UPDATE,
/// PRACK …, from UM to the gateway, with an SDP body when `sdp` is given.
pub fn in_dialog(method: &str, call_id: &str, seq: u32, sdp: Option<&str>) -> Vec<u8> {
    finish(
        format!(
            "{method} sip:+15551234@gw.contoso.com:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP um.contoso.com:5060;branch=z9hG4bK{seq}{method}\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice\" <sip:alice@um.contoso.com>;tag=1\r\n\
             To: <sip:+15551234@gw.contoso.com>;tag=2\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {seq} {method}\r\n"
        ),
        sdp,
    )
}

/// The ACK of the INVITE with CSeq `seq` (with the answer when the offer came in the 200).
pub fn ack(call_id: &str, seq: u32, sdp: Option<&str>) -> Vec<u8> {
    in_dialog("ACK", call_id, seq, sdp)
}

/// A BYE with CSeq `seq`.
pub fn bye(call_id: &str, seq: u32) -> Vec<u8> {
    in_dialog("BYE", call_id, seq, None)
}

/// The CANCEL of the INVITE with CSeq `seq` (RFC 3261 §9.1: the same number).
pub fn cancel(call_id: &str, seq: u32) -> Vec<u8> {
    in_dialog("CANCEL", call_id, seq, None)
}

/// A REGISTER of bob at contoso.com with CSeq `seq`, over TCP.
pub fn register(call_id: &str, seq: u32) -> Vec<u8> {
    finish(
        format!(
            "REGISTER sip:contoso.com SIP/2.0\r\n\
             Via: SIP/2.0/TCP 192.0.2.5;branch=z9hG4bK{seq}\r\n\
             From: <sip:bob@contoso.com>;tag=1\r\n\
             To: <sip:bob@contoso.com>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {seq} REGISTER\r\n"
        ),
        None,
    )
}

/// A response `code reason` to the request whose CSeq was `cseq` (`"1 INVITE"`), from a server
/// that says `Server: PBX 1.0`, with an SDP body when `sdp` is given.
pub fn response(code: u16, reason: &str, call_id: &str, cseq: &str, sdp: Option<&str>) -> Vec<u8> {
    finish(
        format!(
            "SIP/2.0 {code} {reason}\r\n\
             Via: SIP/2.0/UDP um.contoso.com:5060;branch=z9hG4bK1\r\n\
             From: \"Alice\" <sip:alice@um.contoso.com>;tag=1\r\n\
             To: <sip:+15551234@gw.contoso.com>;tag=2\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq}\r\n\
             Server: PBX 1.0\r\n"
        ),
        sdp,
    )
}

/// `msg` with the header line `line` (without its CRLF) added after the start line.
pub fn with_header(msg: &[u8], line: &str) -> Vec<u8> {
    let at = msg
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(msg.len(), |i| i + 2);
    let (start, rest) = msg.split_at(at);
    [start, line.as_bytes(), b"\r\n", rest].concat()
}

/// `msg` with the transport of its first Via replaced by `transport` (`TLS`, `TCP` …).
pub fn with_via(msg: &[u8], transport: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(msg);
    let Some(at) = text.find("Via: SIP/2.0/") else {
        return msg.to_vec();
    };
    let from = at + "Via: SIP/2.0/".len();
    let to = from + text[from..].find(' ').unwrap_or(0);
    format!("{}{transport}{}", &text[..from], &text[to..]).into_bytes()
}

/// An RTP packet (RFC 3550 §5.1: version 2, no padding, extension or CSRC) with `payload_len`
/// bytes of A-law silence.
pub fn rtp(payload_type: u8, seq: u16, ts: u32, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut v = vec![0x80, payload_type & 0x7f];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.resize(12 + payload_len, 0xd5);
    v
}

/// An RTCP sender report without reception reports (RFC 3550 §6.4.1): 28 bytes, length 6.
pub fn rtcp_sender_report(ssrc: u32) -> Vec<u8> {
    let mut v = vec![0x80, 200, 0, 6];
    v.extend_from_slice(&ssrc.to_be_bytes());
    // NTP timestamp, RTP timestamp, packet and octet counts.
    v.extend_from_slice(&0xed0c_5a00_u32.to_be_bytes());
    v.extend_from_slice(&0x8000_0000_u32.to_be_bytes());
    v.extend_from_slice(&16_000_u32.to_be_bytes());
    v.extend_from_slice(&100_u32.to_be_bytes());
    v.extend_from_slice(&16_000_u32.to_be_bytes());
    v
}
