//! SIP (RFC 3261) over UDP and TCP: each message's request method and Request-URI host, or
//! status code and reason; the From and To hosts; a short hash of the Call-ID; User-Agent and
//! Server; the transport of the topmost Via; Digest (or Basic) credentials; and the SDP body's
//! media lines (`sdp`). Several messages share a TCP prefix, each bounded by its
//! Content-Length; a UDP datagram holds one. [`messages`] reads those of one payload on its own,
//! for the `expect` stage's call state.
//!
//! Own parser: no maintained Rust crate parses SIP for inspection (the few SIP crates are
//! user-agent stacks or abandoned, and none bounds what it keeps). SIP over TLS (5061 and
//! Exchange UM's TLS ports) is TLS from the first byte and belongs to the TLS inspector. The
//! user part of URIs (phone numbers) is not kept, nor any credential: a Digest `response`, a
//! Basic password or an SDES key never leave their message.

#![deny(clippy::indexing_slicing)]

pub mod sdp;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{AuthSeen, Evidence, Fact, Input, Mechanism, Outcome, Protection, Service, wire_text};

/// Messages read per direction or payload (a TCP prefix of 4 KiB holds a handful).
pub const MAX_MESSAGES: usize = 16;
/// Messages kept in the detail, both directions together.
pub const MAX_KEPT: usize = 8;
/// Header lines read per message (RFC 3261 sets no limit; real messages have 10–30).
const MAX_HEADERS: usize = 64;
/// Leading CRLFs skipped (RFC 5626 §4.4.1 keep-alives are a double CRLF).
const MAX_KEEPALIVE: usize = 16;
/// The start line is looked for in this many bytes.
const MAX_START_LINE: usize = 1024;
/// Requests with credentials remembered for pairing with their responses.
const MAX_PENDING_AUTH: usize = 4;

/// What the SIP conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Sip {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Messages beyond [`MAX_KEPT`].
    #[serde(skip_serializing_if = "is_zero")]
    pub messages_more: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One SIP request or response, with Zeek's sip.log names where it has them.
#[derive(Debug, Default, Serialize)]
pub struct Message {
    /// A request's method: INVITE, REGISTER, OPTIONS, ACK, BYE, CANCEL …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The host of a request's Request-URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_host: Option<String>,
    /// The first 8 bytes of the SHA-256 of the Call-ID, in hex: joins the messages of a call
    /// without keeping the identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallHash>,
    /// The CSeq header: sequence number and method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The transport of the topmost Via (`UDP`, `TCP`, `TLS`, `WS` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_transport: Option<String>,
    /// The scheme of a WWW-Authenticate / Proxy-Authenticate challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// The scheme of the credentials an Authorization / Proxy-Authorization header carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdp: Option<sdp::Sdp>,
    /// The prefix ended inside this message.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Message {
    /// The method of the CSeq header (RFC 3261 §20.16: `CSeq: <number> <method>`): for a
    /// response, the method of the request it answers.
    pub fn cseq_method(&self) -> Option<&str> {
        self.seq.as_deref()?.split_ascii_whitespace().nth(1)
    }

    /// Whether the topmost Via says the message came over TLS at its previous hop.
    pub fn via_tls(&self) -> bool {
        self.via_transport
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("TLS"))
    }
}

/// The first 8 bytes of the SHA-256 of a Call-ID: the messages of a call share it, and the
/// identifier (often a host name or address with a counter) is not kept. Serialised as 16
/// lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallHash(pub [u8; 8]);

impl CallHash {
    /// The hash of a Call-ID header's value.
    pub fn of(call_id: &[u8]) -> Self {
        let digest = Sha256::digest(call_id);
        let mut h = [0u8; 8];
        for (d, s) in h.iter_mut().zip(digest.iter()) {
            *d = *s;
        }
        CallHash(h)
    }

    /// The 16 hex digits.
    pub fn hex(&self) -> [u8; 16] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'0'; 16];
        for (pair, &x) in out.chunks_exact_mut(2).zip(self.0.iter()) {
            if let [hi, lo] = pair {
                *hi = *HEX.get(usize::from(x >> 4)).unwrap_or(&b'0');
                *lo = *HEX.get(usize::from(x & 0x0f)).unwrap_or(&b'0');
            }
        }
        out
    }
}

impl Serialize for CallHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = self.hex();
        s.serialize_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

/// Whether `b` starts with a SIP start line: `SIP/2.0 ` (a status line), or a method token, a
/// space, and a line ending in ` SIP/2.0` (a request line, RFC 3261 §7.1). Leading keep-alive
/// CRLFs are skipped.
pub fn looks_like(b: &[u8]) -> bool {
    let b = skip_keepalive(b);
    if b.starts_with(b"SIP/2.0 ") {
        return true;
    }
    match b.first() {
        Some(c) if c.is_ascii_uppercase() => {}
        _ => return false,
    }
    let head = b.get(..b.len().min(MAX_START_LINE)).unwrap_or(b);
    let Some(eol) = head.iter().position(|&c| c == b'\n') else {
        return false;
    };
    let line = head.get(..eol).unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(sp) = line.iter().position(|&c| c == b' ') else {
        return false;
    };
    line.get(..sp)
        .is_some_and(|m| m.iter().all(|&c| is_token(c)))
        && line.ends_with(b" SIP/2.0")
}

/// RFC 3261 §25.1 `token` characters.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

fn skip_keepalive(mut b: &[u8]) -> &[u8] {
    for _ in 0..MAX_KEEPALIVE {
        match b.first() {
            Some(b'\r' | b'\n') => b = b.get(1..).unwrap_or(&[]),
            _ => break,
        }
    }
    b
}

/// Whether the flow carries SIP and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if !looks_like(input.client) && !looks_like(input.server) {
        return false;
    }
    let mut st = State::default();
    for bytes in [input.client, input.server] {
        let not_sip = walk(bytes, input.udp, |r| take(r, &mut st, ev));
        st.malformed |= not_sip;
    }
    ev.service = Some(Service::Sip);
    // The signalling was read: it crossed in clear, whatever protects the media.
    ev.protection = Protection::Clear;
    if st.malformed {
        ev.facts.add(Fact::Malformed);
    }
    for a in st.auth {
        ev.push_auth(a.seen);
    }
    ev.detail = super::Detail::Sip(Box::new(st.sip));
    true
}

/// A request that carried credentials, waiting for its response.
#[derive(Debug)]
struct PendingAuth {
    seen: AuthSeen,
    /// The CSeq value (`<number> <method>`) that pairs the response with it.
    seq: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
struct State {
    sip: Sip,
    auth: Vec<PendingAuth>,
    malformed: bool,
}

/// The SIP messages of one payload, appended to `out`: a UDP datagram holds one; a TCP segment
/// (or a TCP flow's prefix) holds them back to back, each bounded by its Content-Length. At most
/// [`MAX_MESSAGES`]; a message the payload cuts is the last one and is marked `truncated`.
/// Bytes that are not SIP give nothing, without allocating.
pub fn messages(b: &[u8], udp: bool, out: &mut Vec<Message>) {
    if !looks_like(b) {
        return;
    }
    walk(b, udp, |r| out.push(r.message));
}

/// The messages of one direction: one per UDP datagram, back to back over TCP. Returns whether
/// they were followed by something that is not SIP.
fn walk(bytes: &[u8], udp: bool, mut each: impl FnMut(Read<'_>)) -> bool {
    let mut rest = bytes;
    for _ in 0..MAX_MESSAGES {
        rest = skip_keepalive(rest);
        if rest.is_empty() {
            return false;
        }
        if !looks_like(rest) {
            // A start line the prefix cut cannot be judged; a whole one that is not SIP can.
            return rest.contains(&b'\n') || !rest.first().is_some_and(u8::is_ascii_uppercase);
        }
        let r = read(rest, udp);
        let used = r.used;
        each(r);
        let Some(used) = used else {
            return false;
        };
        if udp {
            return false;
        }
        rest = rest.get(used..).unwrap_or(&[]);
    }
    false
}

/// The header lines of a message and where its body starts (`None` when the prefix ends in
/// the headers).
fn split_head(b: &[u8]) -> (&[u8], Option<usize>) {
    match super::auth::find(b, b"\r\n\r\n") {
        Some(at) => (b.get(..at).unwrap_or(b), Some(at + 4)),
        None => match super::auth::find(b, b"\n\n") {
            Some(at) => (b.get(..at).unwrap_or(b), Some(at + 2)),
            None => (b, None),
        },
    }
}

/// One message as read, with what pairing credentials with their outcome needs.
struct Read<'a> {
    message: Message,
    /// How many bytes it took, or `None` when it ran to the end of the input.
    used: Option<usize>,
    /// The CSeq value.
    seq: Option<&'a [u8]>,
    /// What its Authorization header said.
    creds: Option<AuthSeen>,
}

/// Reads the message at the start of `b`.
fn read(b: &[u8], udp: bool) -> Read<'_> {
    let (head, body_at) = split_head(b);
    let mut lines = head
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next().unwrap_or(&[]);
    let mut m = Message::default();
    if let Some(status) = start.strip_prefix(b"SIP/2.0 ") {
        let (code, reason) = split_once(status, b' ');
        m.status_code = std::str::from_utf8(code).ok().and_then(|c| c.parse().ok());
        m.status_msg = nonempty(reason);
    } else {
        let (method, rest) = split_once(start, b' ');
        let (uri, _version) = split_once(rest, b' ');
        m.method = nonempty(method);
        m.uri_host = uri_host(uri);
    }
    let mut content_length: Option<usize> = None;
    let mut seq: Option<&[u8]> = None;
    let mut creds: Option<AuthSeen> = None;
    let mut via_seen = false;
    for line in lines.take(MAX_HEADERS) {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue; // a folded continuation line, or noise
        };
        let name = trim(line.get(..colon).unwrap_or(&[]));
        let value = trim(line.get(colon + 1..).unwrap_or(&[]));
        // RFC 3261 §7.3.3 compact forms.
        match canonical(name) {
            Header::From => m.from_host = name_addr_host(value),
            Header::To => m.to_host = name_addr_host(value),
            Header::CallId => m.call_id = Some(CallHash::of(value)),
            Header::CSeq => {
                seq = Some(value);
                m.seq = nonempty(value);
            }
            Header::UserAgent => m.user_agent = nonempty(value),
            Header::Server => m.server = nonempty(value),
            Header::Via if !via_seen => {
                via_seen = true;
                m.via_transport = via_transport(value);
            }
            Header::ContentLength => {
                content_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            Header::ContentType => m.content_type = nonempty(value),
            Header::Challenge => m.challenge = nonempty(split_once(value, b' ').0),
            Header::Authorization => {
                let scheme = split_once(value, b' ').0;
                m.credentials = nonempty(scheme);
                creds = credentials(value);
            }
            Header::Via | Header::Other => {}
        }
    }
    // RFC 3261 §18.3: over a stream the Content-Length is mandatory (absent means no body); in a
    // datagram the body runs to its end.
    let (body, used, whole) = match body_at {
        None => (&[][..], None, false),
        Some(at) => {
            let avail = b.get(at..).unwrap_or(&[]);
            let len = match content_length {
                Some(n) => n,
                None if udp => avail.len(),
                None => 0,
            };
            match avail.get(..len) {
                Some(body) => (body, Some(at + len), true),
                None => (avail, None, false),
            }
        }
    };
    m.truncated = !whole;
    let is_sdp = m
        .content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/sdp"));
    if is_sdp || (m.content_type.is_none() && body.starts_with(b"v=0")) {
        m.sdp = sdp::parse(body);
    }
    Read {
        message: m,
        used,
        seq,
        creds,
    }
}

/// The inspector's bookkeeping for one message: credentials wait for their response, a final
/// response settles them, and the message is kept in the detail up to [`MAX_KEPT`].
fn take(r: Read<'_>, st: &mut State, ev: &mut Evidence) {
    let Read {
        message: m,
        seq,
        creds,
        ..
    } = r;
    if let Some(mut a) = creds {
        if st.auth.len() < MAX_PENDING_AUTH {
            a.outcome = Outcome::Unknown;
            st.auth.push(PendingAuth {
                seen: a,
                seq: seq.map(<[u8]>::to_vec),
            });
        } else {
            ev.auth_more = ev.auth_more.saturating_add(1);
        }
    } else if let (Some(code), Some(seq)) = (m.status_code, seq) {
        // A final response to a request that carried credentials tells how they fared.
        let outcome = match code {
            200..=299 => Some(Outcome::Success),
            401 | 403 | 407 => Some(Outcome::Failure),
            _ => None,
        };
        if let Some(o) = outcome {
            for a in st.auth.iter_mut().filter(|a| a.seq.as_deref() == Some(seq)) {
                a.seen.outcome = o;
            }
        }
    }
    if st.sip.messages.len() < MAX_KEPT {
        st.sip.messages.push(m);
    } else {
        st.sip.messages_more = st.sip.messages_more.saturating_add(1);
    }
}

/// The headers read, by their full or compact names (RFC 3261 §7.3.3, §20).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Header {
    From,
    To,
    CallId,
    CSeq,
    UserAgent,
    Server,
    Via,
    ContentLength,
    ContentType,
    /// WWW-Authenticate or Proxy-Authenticate.
    Challenge,
    /// Authorization or Proxy-Authorization.
    Authorization,
    Other,
}

fn canonical(name: &[u8]) -> Header {
    let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    if is("from") || is("f") {
        Header::From
    } else if is("to") || is("t") {
        Header::To
    } else if is("call-id") || is("i") {
        Header::CallId
    } else if is("cseq") {
        Header::CSeq
    } else if is("user-agent") {
        Header::UserAgent
    } else if is("server") {
        Header::Server
    } else if is("via") || is("v") {
        Header::Via
    } else if is("content-length") || is("l") {
        Header::ContentLength
    } else if is("content-type") || is("c") {
        Header::ContentType
    } else if is("www-authenticate") || is("proxy-authenticate") {
        Header::Challenge
    } else if is("authorization") || is("proxy-authorization") {
        Header::Authorization
    } else {
        Header::Other
    }
}

/// What an Authorization header says about who authenticated (RFC 3261 §22.4, RFC 2617 §3.2.2):
/// Digest with its `username` and `realm`; Basic (forbidden by RFC 3261 §22.1, still met) with
/// its password readable on the wire. The Digest `response` and the Basic password are not
/// kept.
fn credentials(value: &[u8]) -> Option<AuthSeen> {
    let (scheme, params) = split_once(value, b' ');
    if scheme.eq_ignore_ascii_case(b"Digest") {
        let mut a = AuthSeen::new(Mechanism::Digest);
        a.user = param(params, b"username").and_then(nonempty);
        a.domain = param(params, b"realm").and_then(nonempty);
        return Some(a);
    }
    if scheme.eq_ignore_ascii_case(b"Basic") {
        let mut a = AuthSeen::new(Mechanism::Basic);
        a.clear_credentials = true;
        // RFC 7617: base64 of `user:password`. The user is kept; the decoded buffer, password
        // and all, is dropped here.
        use base64::Engine;
        let token = split_once(trim(params), b' ').0;
        if let Ok(plain) = base64::engine::general_purpose::STANDARD.decode(token) {
            a.user = nonempty(split_once(&plain, b':').0);
        }
        return Some(a);
    }
    (!scheme.is_empty()).then(|| AuthSeen::new(Mechanism::Other))
}

/// The value of `name=value` or `name="value"` in a comma-separated parameter list. Tolerates
/// the backslash-escaped quotes some stacks send.
fn param<'a>(params: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    for p in params.split(|&c| c == b',') {
        let p = trim(p);
        let (k, v) = split_once(p, b'=');
        if trim(k).eq_ignore_ascii_case(name) {
            let v = trim(v);
            let v = v.strip_prefix(b"\\").unwrap_or(v);
            let v = v.strip_prefix(b"\"").unwrap_or(v);
            let v = v.strip_suffix(b"\"").unwrap_or(v);
            let v = v.strip_suffix(b"\\").unwrap_or(v);
            return Some(v);
        }
    }
    None
}

/// The host of a From / To value: `"Name" <sip:user@host:port;uri-params>;tag=…`, or an
/// addr-spec without angle brackets, whose parameters are the header's (RFC 3261 §20.20).
fn name_addr_host(value: &[u8]) -> Option<String> {
    // A quoted display-name may hold '<' and ';' of its own (RFC 3261 §25.1 quoted-string).
    let value = match value.strip_prefix(b"\"") {
        Some(quoted) => {
            let mut escaped = false;
            let end = quoted.iter().position(|&c| {
                let close = c == b'"' && !escaped;
                escaped = c == b'\\' && !escaped;
                close
            })?;
            quoted.get(end + 1..)?
        }
        None => value,
    };
    let uri = match value.iter().position(|&c| c == b'<') {
        Some(lt) => {
            let inner = value.get(lt + 1..).unwrap_or(&[]);
            let end = inner.iter().position(|&c| c == b'>').unwrap_or(inner.len());
            inner.get(..end).unwrap_or(&[])
        }
        None => split_once(value, b';').0,
    };
    uri_host(uri)
}

/// The host part of a SIP or SIPS URI (RFC 3261 §19.1.1): after the scheme and any
/// `user[:password]@`, up to the port, parameters or headers. `tel:` URIs have no host.
fn uri_host(uri: &[u8]) -> Option<String> {
    let lower_starts = |p: &[u8]| {
        uri.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let rest = if lower_starts(b"sip:") {
        uri.get(4..)?
    } else if lower_starts(b"sips:") {
        uri.get(5..)?
    } else {
        return None;
    };
    // The hostport ends at the first ';' or '?'; the userinfo, if any, ends at the last '@'
    // before it.
    let end = rest
        .iter()
        .position(|&c| c == b';' || c == b'?')
        .unwrap_or(rest.len());
    let hostport = rest.get(..end)?;
    let hostport = match hostport.iter().rposition(|&c| c == b'@') {
        Some(at) => hostport.get(at + 1..)?,
        None => hostport,
    };
    let host = if hostport.first() == Some(&b'[') {
        let close = hostport.iter().position(|&c| c == b']')?;
        hostport.get(..=close)?
    } else {
        split_once(hostport, b':').0
    };
    nonempty(host)
}

/// `SIP/2.0/UDP host;params` → `UDP` (RFC 3261 §20.42).
fn via_transport(value: &[u8]) -> Option<String> {
    let (proto, _) = split_once(value, b' ');
    let transport = proto.rsplit(|&c| c == b'/').next()?;
    nonempty(trim(transport))
}

/// Splits at the first `sep`; the second part is empty when there is none.
fn split_once(b: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == sep) {
        Some(at) => (b.get(..at).unwrap_or(b), b.get(at + 1..).unwrap_or(&[])),
        None => (b, &[]),
    }
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn nonempty(b: &[u8]) -> Option<String> {
    let b = trim(b);
    (!b.is_empty()).then(|| wire_text(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Detail, MAX_AUTH, MAX_TEXT};
    use proptest::prelude::*;

    use crate::testkit::sip::{self as kit, with_header};

    const CALL: &str = "12013223@192.0.2.5";

    fn sdp_offer() -> String {
        kit::sdp("192.0.2.5", 40376, "RTP/AVP", false, None)
    }

    fn invite(body: &str) -> Vec<u8> {
        kit::invite(CALL, "um.contoso.com", "gw.contoso.com", Some(body))
    }

    /// A response with an extra header line (none when `extra` is empty).
    fn response(code: u16, reason: &str, seq: &str, extra: &str) -> Vec<u8> {
        let r = kit::response(code, reason, "abc@host", seq, None);
        if extra.is_empty() {
            r
        } else {
            with_header(&r, extra)
        }
    }

    /// A REGISTER with an Authorization header line (none when `auth` is empty).
    fn register(auth: &str, seq: u32) -> Vec<u8> {
        let r = kit::register("abc@host", seq);
        if auth.is_empty() {
            r
        } else {
            with_header(&r, auth)
        }
    }

    const DIGEST: &str = "Authorization: Digest username=\"bob\", realm=\"contoso.com\", \
nonce=\"n1\", uri=\"sip:contoso.com\", response=\"6629fae49393a05397450978507c4ef1\"";

    fn run_with(client: &[u8], server: &[u8], udp: bool) -> (bool, Evidence) {
        let mut ev = Evidence::default();
        let input = Input {
            client,
            server,
            udp,
            client_port: 5060,
            server_port: 5060,
            ..Default::default()
        };
        let mine = inspect(&input, &mut ev);
        (mine, ev)
    }

    fn run(client: &[u8], server: &[u8], udp: bool) -> Evidence {
        let (mine, ev) = run_with(client, server, udp);
        assert!(mine);
        ev
    }

    fn detail(ev: &Evidence) -> &Sip {
        match &ev.detail {
            Detail::Sip(s) => s,
            d => panic!("not SIP: {d:?}"),
        }
    }

    #[test]
    fn invite_with_sdp_over_udp() {
        let ev = run(
            &invite(&sdp_offer()),
            &response(100, "Trying", "1 INVITE", ""),
            true,
        );
        assert_eq!(ev.service, Some(Service::Sip));
        assert_eq!(ev.protection, Protection::Clear);
        assert!(ev.auth.is_empty() && ev.facts.is_empty());
        let s = detail(&ev);
        let m = &s.messages[0];
        assert_eq!(m.method.as_deref(), Some("INVITE"));
        assert_eq!(m.uri_host.as_deref(), Some("gw.contoso.com"));
        assert_eq!(m.from_host.as_deref(), Some("um.contoso.com"));
        assert_eq!(m.to_host.as_deref(), Some("gw.contoso.com"));
        assert_eq!(m.via_transport.as_deref(), Some("UDP"));
        assert_eq!(m.user_agent.as_deref(), Some("Exchange UM"));
        assert_eq!(m.seq.as_deref(), Some("1 INVITE"));
        let hash = m.call_id.unwrap();
        assert_eq!(hash, CallHash::of(CALL.as_bytes()));
        assert_eq!(m.cseq_method(), Some("INVITE"));
        assert!(!m.via_tls());
        let sdp = m.sdp.as_ref().unwrap();
        assert_eq!(sdp.connection.as_deref(), Some("192.0.2.5"));
        assert_eq!(sdp.media[0].port, 40376);
        let r = &s.messages[1];
        assert_eq!(
            (r.status_code, r.status_msg.as_deref()),
            (Some(100), Some("Trying"))
        );
        assert_eq!(r.server.as_deref(), Some("PBX 1.0"));
        let json = serde_json::to_string(s).unwrap();
        // The Call-ID's hash as 16 hex digits, the first 8 bytes of its SHA-256.
        let hex = format!(
            "\"call_id\":\"{}\"",
            std::str::from_utf8(&hash.hex()).unwrap()
        );
        assert!(json.contains(&hex), "{json}");
        let digest = Sha256::digest(CALL.as_bytes());
        assert_eq!(hash.0[..], digest[..8]);
        // Neither the Call-ID nor the dialled number is kept.
        assert!(
            !json.contains("12013223") && !json.contains("5551234"),
            "{json}"
        );
    }

    #[test]
    fn digest_credentials_and_their_outcome() {
        let c = [register("", 1), register(DIGEST, 2)].concat();
        let s = [
            response(
                401,
                "Unauthorized",
                "1 REGISTER",
                "WWW-Authenticate: Digest realm=\"contoso.com\", nonce=\"n1\"",
            ),
            response(200, "OK", "2 REGISTER", ""),
        ]
        .concat();
        let ev = run(&c, &s, false);
        assert_eq!(ev.auth.len(), 1);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Digest);
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert_eq!(a.domain.as_deref(), Some("contoso.com"));
        assert_eq!(a.outcome, Outcome::Success);
        assert!(!a.clear_credentials);
        let sip = detail(&ev);
        assert_eq!(sip.messages.len(), 4);
        assert_eq!(sip.messages[1].credentials.as_deref(), Some("Digest"));
        assert_eq!(sip.messages[2].challenge.as_deref(), Some("Digest"));
        let json = serde_json::to_string(sip).unwrap();
        assert!(!json.contains("6629fae4") && !format!("{ev:?}").contains("6629fae4"));
        // Refused credentials.
        let ev = run(
            &register(DIGEST, 2),
            &response(403, "Forbidden", "2 REGISTER", ""),
            false,
        );
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        // A response to another CSeq says nothing about them.
        let ev = run(
            &register(DIGEST, 2),
            &response(200, "OK", "3 REGISTER", ""),
            false,
        );
        assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
        // A challenge alone is no authentication.
        let ev = run(
            &register("", 1),
            &response(
                401,
                "Unauthorized",
                "1 REGISTER",
                "WWW-Authenticate: Digest realm=x",
            ),
            false,
        );
        assert!(ev.auth.is_empty());
    }

    #[test]
    fn escaped_quotes_and_basic_credentials() {
        let esc =
            "Authorization: Digest username=\\\"carol\\\",realm=\\\"pbx\\\",response=\\\"ff\\\"";
        let ev = run(&register(esc, 1), &[], false);
        assert_eq!(ev.auth[0].user.as_deref(), Some("carol"));
        assert_eq!(ev.auth[0].domain.as_deref(), Some("pbx"));
        let ev = run(
            &register("Proxy-Authorization: Basic Ym9iOnNlY3JldA==", 1),
            &[],
            false,
        );
        assert_eq!(ev.auth[0].mechanism, Mechanism::Basic);
        assert!(ev.auth[0].clear_credentials);
        assert!(!format!("{ev:?}").contains("Ym9i"));
    }

    #[test]
    fn tcp_messages_back_to_back_with_compact_headers() {
        let options = b"OPTIONS sips:[2001:db8::5]:5061 SIP/2.0\r\nv: SIP/2.0/TLS h;branch=z9hG4bK9\r\n\
f: sip:alice@contoso.com;tag=9\r\nt: sip:[2001:db8::5]\r\ni: zz@h\r\nCSeq: 7 OPTIONS\r\nl: 4\r\n\r\nabcd";
        let c = [
            b"\r\n\r\n".to_vec(),
            invite(&sdp_offer()),
            options.to_vec(),
            register("", 8),
        ]
        .concat();
        let ev = run(&c, &[], false);
        let s = detail(&ev);
        assert_eq!(s.messages.len(), 3);
        let o = &s.messages[1];
        assert_eq!(o.method.as_deref(), Some("OPTIONS"));
        assert_eq!(o.uri_host.as_deref(), Some("[2001:db8::5]"));
        assert_eq!(o.from_host.as_deref(), Some("contoso.com"));
        assert_eq!(o.to_host.as_deref(), Some("[2001:db8::5]"));
        assert_eq!(o.via_transport.as_deref(), Some("TLS"));
        assert!(o.call_id.is_some());
        assert_eq!(s.messages[2].method.as_deref(), Some("REGISTER"));
        assert!(!ev.facts.has(Fact::Malformed));
    }

    #[test]
    fn srtp_offer_keeps_no_key() {
        let body = kit::sdp("192.0.2.5", 5004, "RTP/SAVP", true, None);
        let ev = run(&invite(&body), &[], true);
        let m = &detail(&ev).messages[0].sdp.as_ref().unwrap().media[0];
        assert!(m.crypto && m.is_srtp());
        let json = serde_json::to_string(detail(&ev)).unwrap();
        assert!(!format!("{ev:?}").contains(kit::SDES_KEY) && !json.contains(kit::SDES_KEY));
    }

    #[test]
    fn messages_of_one_payload() {
        let two = [
            kit::response(180, "Ringing", CALL, "1 INVITE", None),
            kit::response(200, "OK", CALL, "1 INVITE", Some(&sdp_offer())),
        ]
        .concat();
        let mut out = Vec::new();
        // A TCP segment holds both; a datagram only its first.
        messages(&two, false, &mut out);
        let codes: Vec<_> = out.iter().map(|m| m.status_code).collect();
        assert_eq!(codes, [Some(180), Some(200)]);
        assert_eq!(out[1].cseq_method(), Some("INVITE"));
        assert_eq!(out[1].call_id, Some(CallHash::of(CALL.as_bytes())));
        assert!(out[1].sdp.is_some() && !out[1].truncated);
        out.clear();
        messages(&two, true, &mut out);
        assert_eq!(out.len(), 1);
        // A segment that ends inside a message gives it, marked truncated.
        out.clear();
        messages(&two[..two.len() - 5], false, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[1].truncated && !out[0].truncated);
        // What is not SIP gives nothing, and allocates nothing.
        let mut none: Vec<Message> = Vec::new();
        for b in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0x80, 0, 0, 1], b""] {
            messages(b, true, &mut none);
        }
        assert!(none.is_empty() && none.capacity() == 0);
        // A flood of messages in one segment stops at the cap.
        let many: Vec<u8> = (0..40).flat_map(|i| register("", i)).collect();
        out.clear();
        messages(&many, false, &mut out);
        assert_eq!(out.len(), MAX_MESSAGES);
        // TLS in the top Via, and a CSeq without a method.
        let tls = kit::with_via(&kit::bye(CALL, 2), "TLS");
        out.clear();
        messages(&tls, true, &mut out);
        assert!(out[0].via_tls());
        assert_eq!(out[0].cseq_method(), Some("BYE"));
        out.clear();
        messages(b"BYE sip:x SIP/2.0\r\nCSeq: 7\r\n\r\n", true, &mut out);
        assert_eq!(out[0].cseq_method(), None);
    }

    #[test]
    fn uri_hosts() {
        assert_eq!(
            uri_host(b"sip:a@b.example:5060;x=y").as_deref(),
            Some("b.example")
        );
        assert_eq!(uri_host(b"SIPS:host").as_deref(), Some("host"));
        assert_eq!(uri_host(b"sip:u:pw@h?subject=x").as_deref(), Some("h"));
        assert_eq!(uri_host(b"sip:[::1]:5060").as_deref(), Some("[::1]"));
        assert_eq!(uri_host(b"tel:+15551234"), None);
        assert_eq!(uri_host(b"sip:"), None);
        assert_eq!(uri_host(b"sip:[::1"), None);
        assert_eq!(
            name_addr_host(b"\"A <b>;\\\"\" <sip:x@y>").as_deref(),
            Some("y")
        );
        assert_eq!(name_addr_host(b"\"unterminated <sip:x@y>"), None);
        assert_eq!(name_addr_host(b"sip:x@y;tag=1").as_deref(), Some("y"));
    }

    #[test]
    fn not_sip_is_answered_fast() {
        for b in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"OPTIONS * HTTP/1.1\r\n\r\n",
            b"EHLO contoso.com\r\n",
            b"INVITE sip:x@y\r\n",
            b"invite sip:x@y SIP/2.0\r\n",
            b"SIP/2.0",
            &[0x16, 0x03, 0x01],
            &[0x30, 0x0c, 0x02, 0x01],
            b"",
        ] {
            assert!(!run_with(b, b, true).0, "{:?}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn garbage_after_a_message_is_malformed_and_caps_hold() {
        let c = [register("", 1), b"\x00\x01binary".to_vec()].concat();
        let ev = run(&c, &[], false);
        assert!(ev.facts.has(Fact::Malformed));
        let many: Vec<u8> = (0..12).flat_map(|i| register("", i)).collect();
        let ev = run(&many, &[], false);
        assert_eq!(detail(&ev).messages.len(), MAX_KEPT);
        assert_eq!(detail(&ev).messages_more, 4);
        let many: Vec<u8> = (0..6).flat_map(|i| register(DIGEST, i)).collect();
        let ev = run(&many, &[], false);
        assert_eq!(ev.auth.len(), MAX_PENDING_AUTH);
        assert_eq!(ev.auth_more, 2);
    }

    #[test]
    fn every_truncation_is_handled() {
        let c = [invite(&sdp_offer()), register(DIGEST, 2)].concat();
        let s = response(200, "OK", "2 REGISTER", "");
        for cut in 0..c.len() {
            let (_, ev) = run_with(&c[..cut], &s, false);
            assert!(!ev.facts.has(Fact::Malformed), "cut {cut}");
            if let Detail::Sip(sip) = &ev.detail {
                let last = sip.messages.last().unwrap();
                assert!(
                    last.truncated
                        || last.status_code.is_some()
                        || cut >= invite(&sdp_offer()).len()
                );
            }
        }
        for cut in 0..s.len() {
            let _ = run_with(&c, &s[..cut], true);
        }
    }

    type Seed = (&'static str, u8, Vec<u8>, Vec<u8>);

    fn seeds() -> Vec<Seed> {
        vec![
            ("invite-udp", 1, invite(&sdp_offer()), response(100, "Trying", "1 INVITE", "")),
            (
                "register-digest-tcp",
                0,
                [register("", 1), register(DIGEST, 2)].concat(),
                [
                    response(401, "Unauthorized", "1 REGISTER", "WWW-Authenticate: Digest realm=\"r\""),
                    response(200, "OK", "2 REGISTER", ""),
                ]
                .concat(),
            ),
            (
                "srtp-invite",
                1,
                invite(&kit::sdp("192.0.2.5", 5004, "RTP/SAVP", true, None)),
                sdp_offer().into_bytes(),
            ),
            (
                "compact-options",
                0,
                b"OPTIONS sip:[2001:db8::5]:5061 SIP/2.0\r\nv: SIP/2.0/TLS h\r\nf: sip:a@b;tag=9\r\ni: z@h\r\nl: 4\r\n\r\nabcd".to_vec(),
                response(200, "OK", "7 OPTIONS", ""),
            ),
        ]
    }

    /// Writes this module's test conversations as the seed corpus of the `inspect_sip` fuzz target.
    #[test]
    #[ignore = "writes fuzz/corpus/inspect_sip: cargo test --lib -- --ignored write_fuzz_seeds"]
    fn write_fuzz_seeds() {
        crate::testkit::fuzzing::write_seeds("inspect_sip", &seeds()).unwrap();
    }

    /// The seeds also run here, so a change that breaks one is seen at once.
    #[test]
    fn inspect_sip_seeds_are_recognised() {
        for (name, flags, c, s) in seeds() {
            let (mine, _) = run_with(&c, &s, flags & 1 != 0);
            assert!(mine || name.starts_with("near-miss"), "{name}");
            crate::testkit::fuzzing::inspect_sip(&crate::testkit::fuzzing::seed(flags, &c, &s));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_stay_bounded(c in proptest::collection::vec(any::<u8>(), 0..800),
                                  s in proptest::collection::vec(any::<u8>(), 0..800),
                                  udp: bool, lead: bool) {
            let c = if lead { [register(DIGEST, 1), c].concat() } else { c };
            let s = if lead { [b"SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\n".to_vec(), s].concat() } else { s };
            let (mine, ev) = run_with(&c, &s, udp);
            prop_assert!(ev.auth.len() <= MAX_AUTH);
            if mine {
                let sip = detail(&ev);
                prop_assert!(sip.messages.len() <= MAX_KEPT);
                for m in &sip.messages {
                    prop_assert!(m.user_agent.as_ref().is_none_or(|u| u.len() <= MAX_TEXT));
                    prop_assert!(m.sdp.as_ref().is_none_or(|d| d.media.len() <= sdp::MAX_MEDIA));
                }
                let _ = serde_json::to_vec(sip).unwrap();
            }
        }
    }
}
