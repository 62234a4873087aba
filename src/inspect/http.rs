//! HTTP/1.x in clear (RFC 9112): the requests (method, path, Host, User-Agent), the answers'
//! status codes, the Exchange service a path belongs to, the authentication schemes the server
//! offered and the client used (Basic, Digest, NTLM, Negotiate, Bearer), and Outlook Anywhere's
//! `RPC_IN_DATA` / `RPC_OUT_DATA` and proxy `CONNECT` tunnels.
//!
//! Our own parser rather than a crate: a request line and header lines are all that is read, and
//! what matters is staying in step across keep-alive requests on a prefix that may stop
//! anywhere, which needs the message framing (Content-Length, chunked) more than a header
//! parser. A query string is never kept (it can carry tokens), nor any credential: only the
//! user name of a Basic or Digest header, of the user information in a request URL, or of a
//! login form (Outlook on the web's forms-based authentication) posted in clear. An Exchange
//! forms-authentication session cookie is reported as crossing, never with its value.

#![deny(clippy::indexing_slicing)]

use serde::Serialize;

use super::line::{Lines, b64, param, push_capped, starts_ci, trim, word};
use super::{AuthSeen, Detail, Evidence, Input, Mechanism, Outcome, Protection, Service};
use super::{Upgrade, auth, wire_text};

/// Requests kept in the detail; later ones are counted. Outlook and browsers send a few per
/// connection; the first ones carry the authentication handshake.
const MAX_REQUESTS: usize = 8;
/// Requests read at most from one prefix.
const MAX_PARSED: usize = 64;
/// Schemes kept from WWW-Authenticate headers.
const MAX_SCHEMES: usize = 8;
/// Longest method name looked for: `RPC_OUT_DATA` is 12.
const MAX_METHOD: usize = 16;
/// Most chunks followed in one chunked body.
const MAX_CHUNKS: usize = 256;
/// Most fields read from a form body: Outlook on the web's logon form posts seven.
const MAX_FORM_FIELDS: usize = 64;
/// Most cookies read from one Cookie header: RFC 6265 §6.1 asks user agents to support at least
/// 50 per domain.
const MAX_COOKIES: usize = 64;

/// Request paths that receive Outlook on the web's logon form: `/owa/auth.owa` (Exchange 2010 and
/// later), `/owa/auth/owaauth.dll` (Exchange 2007) and `/exchweb/bin/auth/owaauth.dll`
/// (Exchange 2003). Case is ignored.
const OWA_LOGON_PATHS: &[&[u8]] = &[
    b"/owa/auth.owa",
    b"/owa/auth/owaauth.dll",
    b"/exchweb/bin/auth/owaauth.dll",
];

/// Methods that start a request (RFC 9110 §9, WebDAV RFC 4918, Outlook Anywhere MS-RPCH).
const METHODS: &[&[u8]] = &[
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"DELETE",
    b"CONNECT",
    b"OPTIONS",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"RPC_IN_DATA",
    b"RPC_OUT_DATA",
];

/// The Exchange service a request path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExchangeService {
    /// Outlook on the web, `/owa`.
    Owa,
    /// Exchange Web Services, `/ews`.
    Ews,
    /// Exchange ActiveSync, `/Microsoft-Server-ActiveSync`.
    #[serde(rename = "activesync")]
    ActiveSync,
    /// Outlook Anywhere (RPC over HTTP), `/rpc/rpcproxy.dll`.
    #[serde(rename = "rpc-over-http")]
    RpcOverHttp,
    /// MAPI over HTTP, `/mapi`.
    Mapi,
    /// `/autodiscover`.
    Autodiscover,
    /// Offline address book, `/oab`.
    Oab,
    /// Exchange admin center / control panel, `/ecp`.
    Ecp,
    /// Remote PowerShell, `/powershell`.
    #[serde(rename = "powershell")]
    PowerShell,
}

impl ExchangeService {
    /// The service of a path, from its first segment, case ignored.
    pub fn of_path(path: &[u8]) -> Option<Self> {
        const SEGMENTS: &[(&[u8], ExchangeService)] = &[
            (b"owa", ExchangeService::Owa),
            (b"ews", ExchangeService::Ews),
            (b"microsoft-server-activesync", ExchangeService::ActiveSync),
            (b"rpc", ExchangeService::RpcOverHttp),
            (b"mapi", ExchangeService::Mapi),
            (b"autodiscover", ExchangeService::Autodiscover),
            (b"oab", ExchangeService::Oab),
            (b"ecp", ExchangeService::Ecp),
            (b"powershell", ExchangeService::PowerShell),
        ];
        let p = path.strip_prefix(b"/")?;
        let end = p
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#' | b';'))
            .unwrap_or(p.len());
        let seg = p.get(..end)?;
        SEGMENTS
            .iter()
            .find(|(s, _)| seg.eq_ignore_ascii_case(s))
            .map(|&(_, e)| e)
    }
}

/// One request and the status of its answer. Field names are Zeek's http.log ones.
#[derive(Debug, Default, Serialize)]
pub struct Request {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path, without its query string or fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The scheme of the request's Authorization (or Proxy-Authorization) header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Mechanism>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeService>,
}

/// What the HTTP conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Http {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<Request>,
    /// Requests read beyond the ones kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub requests_more: u32,
    /// Schemes the server offered in WWW-Authenticate (and Proxy-Authenticate) headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub www_authenticate: Vec<String>,
    /// The Exchange service of the first request that named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeService>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The request line (RFC 9112 §3): `method SP request-target SP HTTP-version`.
fn request_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let (method, rest) = word(line);
    let (target, version) = word(rest);
    let known = METHODS.contains(&method);
    (known && !target.is_empty() && version.starts_with(b"HTTP/")).then_some((method, target))
}

/// The status line (RFC 9112 §4): `HTTP-version SP 3DIGIT SP [reason]`.
fn status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let (_, rest) = word(rest);
    match rest {
        [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// Whether the flow is HTTP: the client's first line is a request line, or the server's a
/// status line.
fn claims(input: &Input<'_>) -> bool {
    let c = input.client;
    if c.first().is_some_and(u8::is_ascii_uppercase) {
        let sp = c.iter().take(MAX_METHOD).position(|&b| b == b' ');
        let method = sp.and_then(|n| c.get(..n)).unwrap_or(&[]);
        if METHODS.contains(&method) {
            let line = Lines::new(c).next().map_or(&[][..], |l| l.text);
            if request_line(line).is_some() {
                return true;
            }
        }
    }
    let s = input.server;
    s.starts_with(b"HTTP/1.")
        && Lines::new(s)
            .next()
            .is_some_and(|l| status_line(l.text).is_some())
}

/// How a message's body is framed (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    None,
    Length(usize),
    Chunked,
    /// Up to the end of the connection (a response without framing), or a stream this parser
    /// does not follow (Outlook Anywhere's channels, a tunnel).
    Rest,
}

/// Headers of one message, as far as this inspector cares.
#[derive(Debug, Default)]
struct Headers<'a> {
    host: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    authorization: Option<&'a [u8]>,
    /// A Cookie header carried an Exchange forms-authentication session cookie.
    session_cookie: bool,
    /// The body is an HTML form (`application/x-www-form-urlencoded`).
    form: bool,
    length: Option<usize>,
    chunked: bool,
    /// The header block ended with its empty line inside the prefix.
    complete: bool,
}

/// Reads header lines up to the empty line. `each_auth` gets WWW-Authenticate and
/// Proxy-Authenticate values.
fn headers<'a>(lines: &mut Lines<'a>, mut each_auth: impl FnMut(&'a [u8])) -> Headers<'a> {
    let mut h = Headers::default();
    for l in lines.by_ref() {
        if l.text.is_empty() {
            h.complete = true;
            break;
        }
        let Some(colon) = l.text.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = l.text.split_at(colon);
        let value = trim(value.get(1..).unwrap_or(&[]));
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        if is(b"Host") {
            h.host = Some(value);
        } else if is(b"User-Agent") {
            h.user_agent = Some(value);
        } else if is(b"Authorization") || (is(b"Proxy-Authorization") && h.authorization.is_none())
        {
            h.authorization = Some(value);
        } else if is(b"WWW-Authenticate") || is(b"Proxy-Authenticate") {
            each_auth(value);
        } else if is(b"Cookie") {
            h.session_cookie |= has_session_cookie(value);
        } else if is(b"Content-Type") {
            let (media, _) = split_at_byte(value, b';');
            h.form = trim(media).eq_ignore_ascii_case(b"application/x-www-form-urlencoded");
        } else if is(b"Content-Length") {
            h.length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
        } else if is(b"Transfer-Encoding") {
            h.chunked = value
                .split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(b"chunked"));
        }
    }
    h
}

/// Skips a body. Returns whether the next message starts after it inside the prefix.
fn skip_body(lines: &mut Lines<'_>, body: Body) -> bool {
    match body {
        Body::None => true,
        Body::Length(n) => lines.skip_bytes(n),
        Body::Rest => false,
        Body::Chunked => {
            // RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF … 0 CRLF trailers CRLF.
            for _ in 0..MAX_CHUNKS {
                let Some(size_line) = lines.next() else {
                    return false;
                };
                let hex = size_line
                    .text
                    .iter()
                    .take_while(|b| b.is_ascii_hexdigit())
                    .count();
                let Some(size) = size_line
                    .text
                    .get(..hex)
                    .filter(|h| !h.is_empty() && h.len() <= 8)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| usize::from_str_radix(h, 16).ok())
                else {
                    return false;
                };
                if size == 0 {
                    return headers(lines, |_| ()).complete;
                }
                if !lines.skip_bytes(size) || lines.next().is_none() {
                    return false;
                }
            }
            false
        }
    }
}

/// What a request's method means for the rest of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    /// No body in the answer.
    Head,
    /// A tunnel after a 2xx answer.
    Connect,
    /// Outlook Anywhere's channels: the rest of each direction is a DCE/RPC stream.
    Rpc,
}

/// An Authorization header's meaning, kept until the answer's status is known.
#[derive(Debug)]
struct Credentials {
    seen: AuthSeen,
    ntlm: Option<auth::NtlmMessage>,
}

/// Reads an Authorization value: `scheme [token68 / params]` (RFC 9110 §11.6.2).
fn credentials(value: &[u8], ev: &mut Evidence) -> Credentials {
    let (scheme, rest) = word(value);
    let is = |n: &[u8]| scheme.eq_ignore_ascii_case(n);
    let mut buf = [0u8; super::line::MAX_BLOB];
    let mut ntlm = None;
    let seen = if is(b"Basic") {
        // RFC 7617 §2: base64 of user-id ":" password, and a user-id holds no colon. The user
        // name is what comes before the first colon; without a colon the value is not a
        // user-pass, and may be the password alone: it names nobody.
        let mut a = AuthSeen::new(Mechanism::Basic);
        if let Some((user, _)) = b64(rest, &mut buf).and_then(|d| split_once(d, b':')) {
            a.user = Some(user).filter(|u| !u.is_empty()).map(wire_text);
        }
        a.clear_credentials = true;
        a
    } else if is(b"Bearer") {
        let mut a = AuthSeen::new(Mechanism::Bearer);
        a.clear_credentials = !rest.is_empty();
        a
    } else if is(b"Digest") {
        let mut a = AuthSeen::new(Mechanism::Digest);
        a.user = param(rest, b"username").map(wire_text);
        a
    } else if is(b"NTLM") || is(b"Negotiate") {
        let fallback = if is(b"NTLM") {
            Mechanism::Ntlm
        } else {
            Mechanism::Negotiate
        };
        let mut a = AuthSeen::new(fallback);
        if let Some(blob) = b64(rest, &mut buf) {
            a.mechanism = ev.security_blob(blob).unwrap_or(fallback);
            if let Some(n) = auth::ntlm(blob) {
                ntlm = Some(n.message);
                a.user = n.user;
                a.domain = n
                    .domain
                    .filter(|_| n.message == auth::NtlmMessage::Authenticate);
            }
        }
        a
    } else {
        AuthSeen::new(Mechanism::Other)
    };
    Credentials { seen, ntlm }
}

/// `s` split at the first `sep`, which is in neither part.
fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = s.iter().position(|&b| b == sep)?;
    let (head, tail) = s.split_at(at);
    Some((head, tail.get(1..).unwrap_or(&[])))
}

/// `s` split at the first `sep`; all of `s` when there is none.
fn split_at_byte(s: &[u8], sep: u8) -> (&[u8], &[u8]) {
    split_once(s, sep).unwrap_or((s, &[]))
}

/// What a request target (RFC 9112 §3.2) says, without what must not be kept.
#[derive(Debug, Default, PartialEq, Eq)]
struct Target<'a> {
    /// The path without query or fragment; the whole `host:port` of a CONNECT. `None` when the
    /// target cannot be read well enough to know which part is which.
    path: Option<&'a [u8]>,
    /// The host (and port) of an absolute-form or authority-form target.
    host: Option<&'a [u8]>,
    /// The target carried user information (RFC 3986 §3.2.1), or may have.
    userinfo: Option<UserInfo<'a>>,
}

/// User information in a URL (RFC 3986 §3.2.1: `userinfo = *( unreserved / pct-encoded /
/// sub-delims / ":" )`, before an `@`), whose "user:password" form the RFC deprecates because it
/// puts a password in the clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct UserInfo<'a> {
    /// The part before the first colon, still percent-encoded; `None` without a colon, where
    /// the whole may be a token.
    user: Option<&'a [u8]>,
}

impl<'a> UserInfo<'a> {
    /// Splits an authority (`[userinfo "@"] host [":" port]`) at its last `@`: a client that does
    /// not percent-encode an `@` in the user name or the password puts more than one there, and
    /// the host is after the last. `None` for the user information when there is no `@`.
    fn split(authority: &'a [u8]) -> (Option<UserInfo<'a>>, &'a [u8]) {
        match authority.iter().rposition(|&b| b == b'@') {
            Some(at) => {
                let (info, host) = authority.split_at(at);
                let user = split_once(info, b':').map(|(u, _)| u);
                (Some(UserInfo { user }), host.get(1..).unwrap_or(&[]))
            }
            None => (None, authority),
        }
    }

    /// What crossing it means: a clear-text credential, with the user named when there was a
    /// colon to tell the user from the password.
    fn seen(self) -> AuthSeen {
        let mut a = AuthSeen::new(Mechanism::UrlUserinfo);
        a.clear_credentials = true;
        a.user = self
            .user
            .filter(|u| !u.is_empty())
            .map(|u| wire_text(&percent_decode(u, Plus::Keep)));
        a
    }
}

/// Whether `hostport` is `host [":" port]` as RFC 3986 §3.2.2–3.2.3 write it: an IP literal in
/// brackets or a reg-name, then digits. A password cut short by an unencoded `/`, `?` or `#`
/// leaves something else here.
fn is_host_port(hostport: &[u8]) -> bool {
    let (host, port) = if hostport.first() == Some(&b'[') {
        match hostport.iter().position(|&b| b == b']') {
            Some(close) => {
                let (h, p) = hostport.split_at(close + 1);
                (h, p)
            }
            None => return false,
        }
    } else {
        match hostport.iter().rposition(|&b| b == b':') {
            Some(colon) => hostport.split_at(colon),
            None => (hostport, &[][..]),
        }
    };
    let reg_name = |h: &[u8]| {
        h.first() == Some(&b'[')
            || (!h.is_empty()
                && h.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'%')))
    };
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    reg_name(host) && port_ok
}

/// Reads a request target (RFC 9112 §3.2): origin-form `/path?query`, absolute-form
/// `scheme "://" authority path` (to a proxy), or authority-form `host:port` (CONNECT). The
/// authority ends at the first `/`, `?` or `#` (RFC 3986 §3.2); what precedes its last `@` is
/// user information. When the authority that is left is not a host and port, which part of the
/// target is the password is not known: nothing of it is kept.
fn target_parts(target: &[u8], connect: bool) -> Target<'_> {
    let cut = |p: &'_ [u8]| -> usize {
        p.iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(p.len())
    };
    let authority_and_path = if connect {
        Some((target, &[][..]))
    } else {
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
        let scheme_len = target
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            .count();
        let scheme_ok = target.first().is_some_and(u8::is_ascii_alphabetic);
        target
            .get(scheme_len..)
            .and_then(|r| r.strip_prefix(b"://"))
            .filter(|_| scheme_ok)
            .map(|rest| {
                let end = rest
                    .iter()
                    .position(|&b| matches!(b, b'/' | b'?' | b'#'))
                    .unwrap_or(rest.len());
                rest.split_at(end)
            })
    };
    let Some((authority, path)) = authority_and_path else {
        return Target {
            path: target.get(..cut(target)),
            host: None,
            userinfo: None,
        };
    };
    let (userinfo, host) = UserInfo::split(authority);
    if !is_host_port(host) {
        // An `@` anywhere may be the end of user information whose password held a `/`, `?`
        // or `#` the client did not encode.
        let userinfo =
            userinfo.or_else(|| target.contains(&b'@').then_some(UserInfo { user: None }));
        return Target {
            path: None,
            host: None,
            userinfo: userinfo.map(|_| UserInfo { user: None }),
        };
    }
    let path = if connect {
        host
    } else {
        let p = path.get(..cut(path)).unwrap_or(&[]);
        if p.is_empty() { b"/" } else { p }
    };
    Target {
        path: Some(path),
        host: Some(host).filter(|h| !h.is_empty()),
        userinfo,
    }
}

/// How `+` reads in a percent-encoded string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plus {
    /// A space, as in a form body (HTML `application/x-www-form-urlencoded`).
    Space,
    /// Itself, as in a URL.
    Keep,
}

/// Decodes `%XX` escapes (RFC 3986 §2.1); a `%` not followed by two hex digits stays as it is.
fn percent_decode(s: &[u8], plus: Plus) -> Vec<u8> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(s.len().min(super::MAX_TEXT));
    let mut i = 0usize;
    while let Some(&b) = s.get(i) {
        let escaped = (b == b'%')
            .then(|| Some((hex(*s.get(i + 1)?)?, hex(*s.get(i + 2)?)?)))
            .flatten();
        match escaped {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(if b == b'+' && plus == Plus::Space {
                    b' '
                } else {
                    b
                });
                i += 1;
            }
        }
    }
    out
}

/// Whether a Cookie header (RFC 6265 §4.2.1: `cookie-pair *( ";" SP cookie-pair )`) carries
/// Exchange's forms-authentication session: `cadata`, with `cadataKey`, `cadataIV`, `cadataSig`
/// and `cadataTTL` beside it. Whoever holds them holds the mailbox session until it expires.
fn has_session_cookie(value: &[u8]) -> bool {
    value.split(|&b| b == b';').take(MAX_COOKIES).any(|pair| {
        let (name, value) = split_at_byte(trim(pair), b'=');
        starts_ci(trim(name), b"cadata") && !trim(value).is_empty()
    })
}

/// Whether a request posts Outlook on the web's logon form: POST to one of
/// [`OWA_LOGON_PATHS`].
fn is_owa_logon(method: &[u8], path: &[u8]) -> bool {
    method == b"POST" && OWA_LOGON_PATHS.iter().any(|p| path.eq_ignore_ascii_case(p))
}

/// A login form in a request body (HTML's `application/x-www-form-urlencoded`: `name=value`
/// pairs joined by `&`). Outlook on the web's logon form posts `destination`, `flags`,
/// `forcedownlevel`, `username`, `password`, `passwordText` and `isUtf8`. A non-empty `password`
/// or `passwordText` is a password in clear; the user is the one `username` field, and nobody
/// when there are several. `None` when the body holds no password.
fn login_form(body: &[u8]) -> Option<AuthSeen> {
    let mut secret = false;
    let mut users = 0usize;
    let mut user: &[u8] = &[];
    for field in body.split(|&b| b == b'&').take(MAX_FORM_FIELDS) {
        let (name, value) = split_at_byte(field, b'=');
        if name.eq_ignore_ascii_case(b"password") || name.eq_ignore_ascii_case(b"passwordText") {
            secret |= !value.is_empty();
        } else if name.eq_ignore_ascii_case(b"username") {
            users += 1;
            user = value;
        }
    }
    if !secret {
        return None;
    }
    let mut a = AuthSeen::new(Mechanism::Form);
    a.clear_credentials = true;
    a.user = Some(user)
        .filter(|u| users == 1 && !u.is_empty())
        .map(|u| wire_text(&percent_decode(u, Plus::Space)));
    Some(a)
}

/// The credentials one request carried, each reported apart.
#[derive(Debug, Default)]
struct Sent {
    /// The Authorization (or Proxy-Authorization) header.
    authorization: Option<Credentials>,
    /// User information in the request target or the Host header.
    userinfo: Option<AuthSeen>,
    /// A login form in the body.
    form: Option<AuthSeen>,
    /// An Exchange forms-authentication session cookie.
    session_cookie: bool,
}

/// What the client side gave: requests (at most [`MAX_PARSED`]), their kinds and credentials,
/// and where a tunnel starts.
struct ClientSide {
    requests: Vec<(Request, Kind, Sent)>,
    /// Offset just past the CONNECT request, when a tunnel may start there.
    tunnel_at: Option<usize>,
}

fn client_side(c: &[u8], ev: &mut Evidence) -> ClientSide {
    let mut lines = Lines::new(c);
    let mut out = ClientSide {
        requests: Vec::new(),
        tunnel_at: None,
    };
    for _ in 0..MAX_PARSED {
        let Some(first) = lines.next() else { break };
        let Some((method, target)) = request_line(first.text) else {
            break;
        };
        let h = headers(&mut lines, |_| ());
        let kind = match method {
            b"HEAD" => Kind::Head,
            b"CONNECT" => Kind::Connect,
            b"RPC_IN_DATA" | b"RPC_OUT_DATA" => Kind::Rpc,
            _ => Kind::Plain,
        };
        let t = target_parts(target, kind == Kind::Connect);
        // RFC 9110 §7.2: Host is uri-host [":" port], with no user information; a client that
        // puts some there anyway sends it in clear all the same.
        let (host_info, host) = match h.host {
            Some(v) => {
                let (info, host) = UserInfo::split(v);
                (info, Some(host))
            }
            None => (None, None),
        };
        let path = t.path.unwrap_or(&[]);
        let body = match (kind, h.chunked, h.length) {
            (Kind::Rpc, ..) => Body::Rest,
            (_, true, _) => Body::Chunked,
            (_, false, Some(n)) => Body::Length(n),
            (_, false, None) => Body::None,
        };
        // A form is read from the body the prefix holds; a chunked one is not read.
        // TODO: a login form sent with chunked transfer coding.
        let form = match body {
            Body::Length(n) if h.complete && (h.form || is_owa_logon(method, path)) => {
                let rest = lines.rest();
                login_form(rest.get(..n).unwrap_or(rest))
            }
            _ => None,
        };
        let sent = Sent {
            authorization: h.authorization.map(|v| credentials(v, ev)),
            userinfo: t.userinfo.or(host_info).map(UserInfo::seen),
            form,
            session_cookie: h.session_cookie,
        };
        let req = Request {
            method: Some(wire_text(method)),
            uri: t.path.map(wire_text),
            host: host.or(t.host).map(wire_text),
            user_agent: h.user_agent.map(wire_text),
            status_code: None,
            auth: sent.authorization.as_ref().map(|c| c.seen.mechanism),
            exchange: ExchangeService::of_path(path),
        };
        out.requests.push((req, kind, sent));
        if !h.complete {
            break;
        }
        if kind == Kind::Connect {
            out.tunnel_at = Some(lines.pos());
            break;
        }
        if !skip_body(&mut lines, body) {
            break;
        }
    }
    out
}

/// Reads the answers in order, giving each request its final status (1xx answers are interim,
/// RFC 9110 §15.2). Returns whether a CONNECT tunnel was accepted, and where its server side
/// starts.
fn server_side(
    s: &[u8],
    client: &mut ClientSide,
    http: &mut Http,
    ev: &mut Evidence,
) -> Option<usize> {
    let mut lines = Lines::new(s);
    let mut i = 0usize;
    for _ in 0..MAX_PARSED.saturating_mul(2) {
        let first = lines.next()?;
        let code = status_line(first.text)?;
        let h = headers(&mut lines, |v| {
            for item in v.split(|&b| b == b',') {
                let (scheme, rest) = word(trim(item));
                if scheme.is_empty() || scheme.contains(&b'=') {
                    continue;
                }
                push_capped(&mut http.www_authenticate, wire_text(scheme), MAX_SCHEMES);
                let mut buf = [0u8; super::line::MAX_BLOB];
                if scheme.eq_ignore_ascii_case(b"NTLM") || scheme.eq_ignore_ascii_case(b"Negotiate")
                {
                    if let Some(blob) = b64(rest, &mut buf) {
                        ev.security_blob(blob);
                    }
                }
            }
        });
        if (100..200).contains(&code) && code != 101 {
            if !h.complete {
                return None;
            }
            continue;
        }
        let kind = client.requests.get(i).map_or(Kind::Plain, |r| r.1);
        if let Some(r) = client.requests.get_mut(i) {
            r.0.status_code = Some(code);
        } else if http.requests.len() < MAX_REQUESTS {
            // An answer whose request is not in the prefix (a capture that starts mid-flow).
            http.requests.push(Request {
                status_code: Some(code),
                ..Request::default()
            });
        }
        i += 1;
        if !h.complete || code == 101 {
            return None;
        }
        if kind == Kind::Connect && (200..300).contains(&code) {
            return Some(lines.pos());
        }
        let body = if kind == Kind::Head || code == 204 || code == 304 {
            Body::None
        } else if kind == Kind::Rpc {
            Body::Rest
        } else if h.chunked {
            Body::Chunked
        } else if let Some(n) = h.length {
            Body::Length(n)
        } else {
            Body::Rest
        };
        if !skip_body(&mut lines, body) {
            return None;
        }
    }
    None
}

/// The outcome a final status gives the credentials its request carried.
fn outcome(status: Option<u16>) -> Outcome {
    match status {
        Some(401 | 407) => Outcome::Failure,
        Some(200..=399) => Outcome::Success,
        _ => Outcome::Unknown,
    }
}

/// Whether the flow carries HTTP and, if it does, the evidence it gives. Answers `false` in a
/// few byte comparisons for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if !claims(input) {
        return false;
    }
    ev.service = Some(Service::Http);
    let mut http = Http::default();
    let mut client = client_side(input.client, ev);
    let tunnel_server = server_side(input.server, &mut client, &mut http, ev);
    let mut pending: Option<AuthSeen> = None;
    let mut rpc = false;
    let mut session_cookie = false;
    let parsed = client.requests.len();
    let mut kept = Vec::with_capacity(parsed.min(MAX_REQUESTS));
    for (req, kind, sent) in client.requests {
        rpc |= kind == Kind::Rpc;
        if let Some(c) = sent.authorization {
            // An NTLM NEGOTIATE draws a 401 carrying the CHALLENGE: that is the handshake's
            // middle, not a failure. The AUTHENTICATE's answer decides.
            match c.ntlm {
                Some(auth::NtlmMessage::Negotiate) => pending = Some(c.seen),
                _ => {
                    let mut seen = c.seen;
                    seen.outcome = outcome(req.status_code);
                    pending = None;
                    ev.push_auth(seen);
                }
            }
        }
        // The answer does not tell whether these were accepted: Outlook on the web answers a
        // logon form with a redirect either way, and a proxy may ignore user information.
        for seen in [sent.userinfo, sent.form].into_iter().flatten() {
            ev.push_auth(seen);
        }
        // The session cookie rides on every request of a session: it is reported once.
        if sent.session_cookie && !session_cookie {
            session_cookie = true;
            let mut seen = AuthSeen::new(Mechanism::SessionCookie);
            seen.clear_credentials = true;
            ev.push_auth(seen);
        }
        if kept.len() < MAX_REQUESTS {
            kept.push(req);
        }
    }
    if let Some(p) = pending {
        ev.push_auth(p);
    }
    // Answers without their request (a capture that starts mid-flow) come after.
    kept.append(&mut http.requests);
    kept.truncate(MAX_REQUESTS);
    http.exchange = kept.iter().find_map(|r| r.exchange);
    http.requests = kept;
    http.requests_more = u32::try_from(parsed.saturating_sub(MAX_REQUESTS)).unwrap_or(u32::MAX);
    ev.protection = match (client.tunnel_at, tunnel_server) {
        (Some(client_at), Some(server_at)) => {
            // A proxy tunnel: TLS inside it, if any, is read from these offsets.
            if input.client.get(client_at) == Some(&0x16) {
                ev.upgrade = Some(Upgrade {
                    client_at,
                    server_at,
                    anonymous: false,
                });
            }
            Protection::Unknown
        }
        (Some(_), None) => Protection::Unknown,
        // The channels carry DCE/RPC, whose own authentication level decides.
        _ if rpc => Protection::Unknown,
        _ => Protection::Clear,
    };
    ev.detail = Detail::Http(Box::new(http));
    true
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::line::testdata::{
        assert_no_secret, b64, input, kerberos_token, ntlm_authenticate, ntlm_challenge,
        ntlm_negotiate, render, write_seeds,
    };
    use super::*;
    use crate::inspect::{Fact, MAX_AUTH};

    fn run(client: &[u8], server: &[u8]) -> Option<Evidence> {
        let mut ev = Evidence::default();
        inspect(&input(client, server), &mut ev).then_some(ev)
    }

    fn http(ev: &Evidence) -> &Http {
        match &ev.detail {
            Detail::Http(d) => d,
            d => panic!("not HTTP: {d:?}"),
        }
    }

    /// Two keep-alive requests to OWA, the second with Basic credentials.
    fn basic() -> (Vec<u8>, Vec<u8>) {
        let creds = b64(b"contoso\\alice:B4sic:Pw");
        let c = format!(
            "GET /owa/?token=SECRETQUERY HTTP/1.1\r\nHost: mail.contoso.com\r\n\
             User-Agent: Mozilla/5.0\r\n\r\n\
             POST /owa/auth.owa HTTP/1.1\r\nHost: mail.contoso.com\r\nAuthorization: Basic {creds}\r\n\
             Content-Length: 11\r\n\r\nGET /x HTTPHEAD /ecp HTTP/1.1\r\n\r\n"
        );
        let s = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n\
                 WWW-Authenticate: NTLM\r\nWWW-Authenticate: Basic realm=\"mail\", charset=\"UTF-8\"\r\n\
                 Content-Length: 5\r\n\r\nnope!\
                 HTTP/1.1 100 Continue\r\n\r\n\
                 HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        (c.into_bytes(), s.as_bytes().to_vec())
    }

    #[test]
    fn basic_in_clear_keeps_the_user_and_never_the_password_or_query() {
        let (c, s) = basic();
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.service, Some(Service::Http));
        assert_eq!(ev.protection, Protection::Clear);
        assert_eq!(ev.auth.len(), 1);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Basic);
        assert!(a.clear_credentials);
        assert_eq!(a.user.as_deref(), Some("contoso\\alice"));
        assert_eq!(a.outcome, Outcome::Success);
        let d = http(&ev);
        assert_eq!(d.requests.len(), 3, "{d:?}");
        assert_eq!(d.requests[0].uri.as_deref(), Some("/owa/"));
        assert_eq!(d.requests[0].status_code, Some(401));
        assert_eq!(d.requests[0].host.as_deref(), Some("mail.contoso.com"));
        assert_eq!(d.requests[0].user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(d.requests[1].status_code, Some(200));
        assert_eq!(d.requests[1].auth, Some(Mechanism::Basic));
        assert_eq!(d.requests[1].method.as_deref(), Some("POST"));
        // The body's bytes are skipped, whatever they look like.
        assert_eq!(d.requests[2].method.as_deref(), Some("HEAD"));
        assert_eq!(d.requests[2].exchange, Some(ExchangeService::Ecp));
        assert_eq!(d.exchange, Some(ExchangeService::Owa));
        assert_eq!(d.www_authenticate, ["Negotiate", "NTLM", "Basic"]);
        let out = render(&ev);
        assert!(!out.contains("SECRETQUERY"));
        assert_no_secret(&out, "contoso\\alice", "B4sic:Pw");
    }

    #[test]
    fn ntlm_handshake_over_keep_alive() {
        let c = format!(
            "GET /ews/exchange.asmx HTTP/1.1\r\nHost: m\r\nAuthorization: NTLM {}\r\n\r\n\
             GET /ews/exchange.asmx HTTP/1.1\r\nHost: m\r\nAuthorization: NTLM {}\r\n\r\n",
            b64(&ntlm_negotiate()),
            b64(&ntlm_authenticate("CONTOSO", "svc-ews", "APP01", 120))
        );
        let s = format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM {}\r\nContent-Length: 0\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            b64(&ntlm_challenge("CONTOSO"))
        );
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth.len(), 1, "{:?}", ev.auth);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Ntlm);
        assert_eq!(a.user.as_deref(), Some("svc-ews"));
        assert_eq!(a.domain.as_deref(), Some("CONTOSO"));
        assert_eq!(a.outcome, Outcome::Success);
        assert!(!a.clear_credentials);
        assert!(!ev.facts.has(Fact::NtlmV1));
        assert_eq!(http(&ev).exchange, Some(ExchangeService::Ews));
        // The AUTHENTICATE refused: a failure. A NEGOTIATE alone: unknown.
        let s401 = s.replace("200 OK", "401 Unauthorized");
        let ev = run(c.as_bytes(), s401.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        let first = c.split("\r\n\r\n").next().unwrap().to_owned() + "\r\n\r\n";
        let ev = run(first.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
        assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
    }

    #[test]
    fn negotiate_bearer_digest_and_others() {
        let cases: [(String, Mechanism, bool, Option<&str>); 5] = [
            (
                format!("Negotiate {}", b64(&kerberos_token())),
                Mechanism::Kerberos,
                false,
                None,
            ),
            (
                "Bearer eyJ0eXAi.SECRETJWT.sig".into(),
                Mechanism::Bearer,
                true,
                None,
            ),
            (
                "Digest username=\"gina\", realm=\"r\", response=\"0123abcd\"".into(),
                Mechanism::Digest,
                false,
                Some("gina"),
            ),
            (
                "Negotiate oXcwdaADCgEB".into(),
                Mechanism::Negotiate,
                false,
                None,
            ),
            ("Weird abc".into(), Mechanism::Other, false, None),
        ];
        for (value, mech, clear, user) in cases {
            let c = format!("GET /mapi/emsmdb/ HTTP/1.1\r\nAuthorization: {value}\r\n\r\n");
            let ev = run(
                c.as_bytes(),
                b"HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n",
            )
            .unwrap();
            let a = &ev.auth[0];
            assert_eq!(a.mechanism, mech, "{value}");
            assert_eq!(a.clear_credentials, clear, "{value}");
            assert_eq!(a.user.as_deref(), user, "{value}");
            assert_eq!(a.outcome, Outcome::Failure, "{value}");
            assert!(!render(&ev).contains("SECRETJWT"));
            assert_eq!(http(&ev).exchange, Some(ExchangeService::Mapi));
        }
    }

    #[test]
    fn outlook_anywhere_and_connect() {
        let c = "RPC_IN_DATA /rpc/rpcproxy.dll?exch01:6001 HTTP/1.1\r\nHost: mail\r\n\
                 Content-Length: 1073741824\r\nAuthorization: Basic dTpw\r\n\r\n\x05\x00\x0b\x03";
        let ev = run(c.as_bytes(), b"").unwrap();
        let d = http(&ev);
        assert_eq!(d.requests[0].method.as_deref(), Some("RPC_IN_DATA"));
        assert_eq!(d.requests[0].uri.as_deref(), Some("/rpc/rpcproxy.dll"));
        assert_eq!(d.exchange, Some(ExchangeService::RpcOverHttp));
        // The channel carries DCE/RPC, whose own level decides.
        assert_eq!(ev.protection, Protection::Unknown);
        assert!(ev.auth[0].clear_credentials);
        // CONNECT, accepted, then TLS in the tunnel.
        let c = b"CONNECT mail.contoso.com:443 HTTP/1.1\r\nHost: mail.contoso.com:443\r\n\r\n\x16\x03\x01";
        let s = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03";
        let ev = run(c, s).unwrap();
        let up = ev.upgrade.unwrap();
        assert_eq!(c.get(up.client_at), Some(&0x16));
        assert_eq!(s.get(up.server_at), Some(&0x16));
        assert_eq!(ev.protection, Protection::Unknown);
        assert_eq!(
            http(&ev).requests[0].uri.as_deref(),
            Some("mail.contoso.com:443")
        );
        // Refused by the proxy: no tunnel.
        let ev = run(c, b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(ev.upgrade, None);
    }

    #[test]
    fn exchange_services_by_path() {
        let paths = [
            ("/OWA/", Some(ExchangeService::Owa)),
            ("/EWS/Exchange.asmx", Some(ExchangeService::Ews)),
            (
                "/Microsoft-Server-ActiveSync?Cmd=Sync",
                Some(ExchangeService::ActiveSync),
            ),
            (
                "/autodiscover/autodiscover.xml",
                Some(ExchangeService::Autodiscover),
            ),
            ("/oab/x/oab.xml", Some(ExchangeService::Oab)),
            ("/ecp", Some(ExchangeService::Ecp)),
            ("/PowerShell/", Some(ExchangeService::PowerShell)),
            ("/owanot", None),
            ("/", None),
            ("owa", None),
        ];
        for (p, want) in paths {
            assert_eq!(ExchangeService::of_path(p.as_bytes()), want, "{p}");
        }
    }

    #[test]
    fn absolute_targets_lose_their_user_info_and_query() {
        let c = b"GET http://user:Url-Pw@proxy.example/owa/x?a=b HTTP/1.1\r\n\r\n";
        let ev = run(c, b"").unwrap();
        let r = &http(&ev).requests[0];
        assert_eq!(r.host.as_deref(), Some("proxy.example"));
        assert_eq!(r.uri.as_deref(), Some("/owa/x"));
        assert!(!render(&ev).contains("Url-Pw"));
    }

    #[test]
    fn user_information_in_a_url_is_a_clear_credential() {
        // The request, then the user, uri and host reported.
        type Case<'a> = (&'a [u8], Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let cases: [Case<'_>; 7] = [
            (
                b"GET http://alice:Url-Pw-9@proxy.example/owa/ HTTP/1.1\r\n\r\n",
                Some("alice"),
                Some("/owa/"),
                Some("proxy.example"),
            ),
            (
                b"GET http://contoso%5Calice:Url-Pw-9@proxy.example:8080/ HTTP/1.1\r\n\r\n",
                Some("contoso\\alice"),
                Some("/"),
                Some("proxy.example:8080"),
            ),
            // No colon: the whole may be a token.
            (
                b"GET https://Url-Pw-9@proxy.example/x HTTP/1.1\r\n\r\n",
                None,
                Some("/x"),
                Some("proxy.example"),
            ),
            // Any scheme.
            (
                b"GET ftp://alice:Url-Pw-9@files.example/a HTTP/1.1\r\n\r\n",
                Some("alice"),
                Some("/a"),
                Some("files.example"),
            ),
            // An `@` the client did not encode: the host is after the last one.
            (
                b"GET http://alice@contoso.com:Url-Pw-9@proxy.example/ HTTP/1.1\r\n\r\n",
                Some("alice@contoso.com"),
                Some("/"),
                Some("proxy.example"),
            ),
            // A `/` the client did not encode: which part is the password is not known.
            (
                b"GET http://alice:Url/Pw-9@proxy.example/ HTTP/1.1\r\n\r\n",
                None,
                None,
                None,
            ),
            (
                b"CONNECT alice:Url-Pw-9@mail.contoso.com:443 HTTP/1.1\r\n\r\n",
                Some("alice"),
                Some("mail.contoso.com:443"),
                Some("mail.contoso.com:443"),
            ),
        ];
        for (c, user, uri, host) in cases {
            let what = String::from_utf8_lossy(c);
            let ev = run(c, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
            assert_eq!(ev.auth.len(), 1, "{what}");
            let a = &ev.auth[0];
            assert_eq!(a.mechanism, Mechanism::UrlUserinfo, "{what}");
            assert!(a.clear_credentials, "{what}");
            assert_eq!(a.user.as_deref(), user, "{what}");
            assert_eq!(a.outcome, Outcome::Unknown, "{what}");
            let r = &http(&ev).requests[0];
            assert_eq!(r.uri.as_deref(), uri, "{what}");
            assert_eq!(r.host.as_deref(), host, "{what}");
            let out = render(&ev);
            assert_no_secret(&out, "alice", "Url-Pw-9");
            assert!(!out.contains("Pw-9"), "{what}: {out}");
        }
        // A Host header with user information in it.
        let c = b"GET / HTTP/1.1\r\nHost: alice:Url-Pw-9@mail.contoso.com\r\n\r\n";
        let ev = run(c, b"").unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::UrlUserinfo);
        assert_eq!(ev.auth[0].user.as_deref(), Some("alice"));
        assert_eq!(
            http(&ev).requests[0].host.as_deref(),
            Some("mail.contoso.com")
        );
        assert_no_secret(&render(&ev), "alice", "Url-Pw-9");
        // Near misses: an `@` in the path or the query, a port, an origin-form path.
        for c in [
            &b"GET http://proxy.example/owa/alice@contoso.com/ HTTP/1.1\r\n\r\n"[..],
            b"GET http://proxy.example:8080/?to=a@b HTTP/1.1\r\n\r\n",
            b"GET /owa/alice@contoso.com/ HTTP/1.1\r\nHost: mail\r\n\r\n",
            b"CONNECT mail.contoso.com:443 HTTP/1.1\r\n\r\n",
        ] {
            let ev = run(c, b"").unwrap();
            assert!(ev.auth.is_empty(), "{}", String::from_utf8_lossy(c));
            assert!(http(&ev).requests[0].uri.is_some());
        }
    }

    #[test]
    fn basic_without_a_colon_names_nobody_and_is_clear() {
        let value = |d: &[u8]| {
            format!(
                "GET /ews/ HTTP/1.1\r\nAuthorization: Basic {}\r\n\r\n",
                b64(d)
            )
        };
        let ev = run(value(b"B4sic-N0-C0lon").as_bytes(), b"").unwrap();
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Basic);
        assert_eq!(a.user, None);
        assert!(a.clear_credentials);
        assert_no_secret(&render(&ev), "ivy", "B4sic-N0-C0lon");
        // The near miss: the colon separates the user.
        let ev = run(value(b"ivy:B4sic-N0-C0lon").as_bytes(), b"").unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("ivy"));
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "ivy", "B4sic-N0-C0lon");
    }

    /// Outlook on the web's logon form, as the browser posts it.
    fn owa_logon(body: &str) -> Vec<u8> {
        format!(
            "POST /owa/auth.owa HTTP/1.1\r\nHost: mail.contoso.com\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn owa_forms_logon_in_clear_is_a_clear_credential() {
        let body = "destination=http%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0\
                    &username=contoso%5Cjudy&password=Owa-F0rm%2BPw&passwordText=&isUtf8=1";
        let s = b"HTTP/1.1 302 Found\r\nLocation: /owa/\r\nContent-Length: 0\r\n\r\n";
        let ev = run(&owa_logon(body), s).unwrap();
        assert_eq!(ev.auth.len(), 1);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Form);
        assert!(a.clear_credentials);
        assert_eq!(a.user.as_deref(), Some("contoso\\judy"));
        assert_eq!(a.outcome, Outcome::Unknown);
        assert_eq!(http(&ev).requests[0].uri.as_deref(), Some("/owa/auth.owa"));
        let out = render(&ev);
        assert_no_secret(&out, "contoso\\judy", "Owa-F0rm+Pw");
        assert_no_secret(&out, "contoso\\judy", "Owa-F0rm%2BPw");
        // Exchange 2007's path, without a Content-Type, and a body cut after the password.
        let c = "POST /OWA/auth/owaauth.dll HTTP/1.1\r\nContent-Length: 400\r\n\r\n\
                 username=judy&password=Owa-F0rm%2BPw&pass";
        let ev = run(c.as_bytes(), b"").unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Form);
        assert_eq!(ev.auth[0].user.as_deref(), Some("judy"));
        // Any form with a password, and two user names: nobody.
        let c = "POST /adfs/ls/ HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded; \
                 charset=UTF-8\r\nContent-Length: 45\r\n\r\n\
                 UserName=a&username=b&Password=Owa-F0rm%2BPw";
        let ev = run(c.as_bytes(), b"").unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Form);
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "b", "Owa-F0rm%2BPw");
        // Near misses: no password field, an empty one, a form that is not urlencoded to
        // another path, a GET.
        for c in [
            owa_logon("username=judy&passwordText=&isUtf8=1"),
            owa_logon("username=judy&password=&isUtf8=1"),
            b"POST /ews/ HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 20\r\n\r\n\
              <password>x</passwo"
                .to_vec(),
            b"GET /owa/auth.owa?password=x HTTP/1.1\r\n\r\n".to_vec(),
        ] {
            let ev = run(&c, b"").unwrap();
            assert!(ev.auth.is_empty(), "{}", String::from_utf8_lossy(&c));
        }
    }

    #[test]
    fn owa_session_cookie_in_clear_is_a_clear_credential_once() {
        let req = |cookie: &str| {
            format!("GET /owa/ HTTP/1.1\r\nHost: mail.contoso.com\r\nCookie: {cookie}\r\n\r\n")
        };
        let cookie = "X-OWA-CANARY=abc; cadataKey=Ca-K3y-Val; cadata=\"Ca-D4ta-Val\"; \
                      cadataIV=Ca-IV-Val; cadataSig=Ca-S1g-Val";
        let c = [req(cookie), req(cookie)].concat();
        let s = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(2);
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth.len(), 1, "{:?}", ev.auth);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::SessionCookie);
        assert!(a.clear_credentials);
        assert_eq!(a.user, None);
        assert_eq!(http(&ev).requests.len(), 2);
        let out = render(&ev);
        for v in ["Ca-K3y-Val", "Ca-D4ta-Val", "Ca-IV-Val", "Ca-S1g-Val"] {
            assert_no_secret(&out, "", v);
        }
        // Near misses: an emptied cadata (logoff), other cookies.
        for cookie in [
            "cadata=; X-OWA-CANARY=abc",
            "ASP.NET_SessionId=x; notcadata=1",
        ] {
            let ev = run(req(cookie).as_bytes(), b"").unwrap();
            assert!(ev.auth.is_empty(), "{cookie}");
        }
    }

    #[test]
    fn answers_without_their_requests() {
        let ev = run(b"", b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(http(&ev).requests[0].status_code, Some(404));
        assert_eq!(http(&ev).requests[0].method, None);
    }

    #[test]
    fn requests_are_capped_and_counted() {
        let c = "GET /a HTTP/1.1\r\n\r\n".repeat(MAX_REQUESTS + 3);
        let ev = run(c.as_bytes(), b"").unwrap();
        assert_eq!(http(&ev).requests.len(), MAX_REQUESTS);
        assert_eq!(http(&ev).requests_more, 3);
    }

    #[test]
    fn not_http() {
        assert!(run(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n", b"SIP/2.0 200 OK\r\n").is_none());
        assert!(run(b"INVITE sip:a@b SIP/2.0\r\n", b"").is_none());
        assert!(run(b"GETX / HTTP/1.1\r\n", b"").is_none());
        assert!(run(b"GET / RTSP/1.0\r\n", b"").is_none());
        assert!(run(b"get / HTTP/1.1\r\n", b"").is_none());
        assert!(run(b"", b"HTTP/1.1 abc\r\n").is_none());
        assert!(run(b"EHLO x\r\n", b"220 x ESMTP\r\n").is_none());
        assert!(run(b"GET / HTTP/1.1", b"").is_none(), "an unfinished line");
    }

    #[test]
    fn every_cut_gives_a_sensible_answer() {
        let (c, s) = basic();
        let auth_end = c
            .windows(16)
            .position(|w| w == b"Content-Length: ")
            .unwrap();
        for cut in 0..=c.len() {
            let mut inp = input(&c[..cut], &s);
            inp.client_cut = cut < c.len();
            let mut ev = Evidence::default();
            assert!(inspect(&inp, &mut ev));
            let clear = ev.auth.first().is_some_and(|a| a.clear_credentials);
            assert_eq!(clear, cut >= auth_end, "cut {cut}");
            assert_no_secret(&render(&ev), "contoso\\alice", "B4sic:Pw");
        }
        for cut in 0..=s.len() {
            let mut inp = input(&c, &s[..cut]);
            inp.server_cut = cut < s.len();
            let mut ev = Evidence::default();
            assert!(inspect(&inp, &mut ev));
            assert_ne!(ev.auth[0].outcome, Outcome::Failure, "cut {cut}");
        }
    }

    #[test]
    #[ignore = "writes fuzz/corpus/inspect_http: cargo test --lib -- --ignored write_fuzz_seeds"]
    fn write_fuzz_seeds() {
        let (basic_c, basic_s) = basic();
        let ntlm = format!(
            "GET /ews/ HTTP/1.1\r\nAuthorization: NTLM {}\r\n\r\n\
             GET /ews/ HTTP/1.1\r\nAuthorization: NTLM {}\r\n\r\n",
            b64(&ntlm_negotiate()),
            b64(&ntlm_authenticate("CONTOSO", "svc", "APP01", 120))
        );
        let ntlm_s = format!(
            "HTTP/1.1 401 No\r\nWWW-Authenticate: NTLM {}\r\nContent-Length: 0\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            b64(&ntlm_challenge("CONTOSO"))
        );
        let negotiate = format!(
            "POST /mapi/emsmdb/ HTTP/1.1\r\nAuthorization: Negotiate {}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b64(&kerberos_token())
        );
        let connect = b"CONNECT m:443 HTTP/1.1\r\n\r\n\x16\x03\x01".to_vec();
        let rpc =
            b"RPC_OUT_DATA /rpc/rpcproxy.dll?h:6001 HTTP/1.1\r\nContent-Length: 76\r\n\r\n\x05\x00"
                .to_vec();
        write_seeds(
            "inspect_http",
            &[
                ("basic", 0, basic_c, basic_s),
                ("ntlm", 0, ntlm.into_bytes(), ntlm_s.into_bytes()),
                (
                    "negotiate-chunked",
                    0,
                    negotiate.into_bytes(),
                    b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
                ),
                (
                    "connect",
                    0,
                    connect,
                    b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03".to_vec(),
                ),
                ("rpc", 0, rpc, Vec::new()),
                (
                    "owa-form-cookie-userinfo",
                    0,
                    [
                        owa_logon("username=contoso%5Cu&password=p%2B&passwordText=&isUtf8=1"),
                        b"GET http://u:p@mail/owa/ HTTP/1.1\r\nHost: a@mail\r\n\
                          Cookie: cadata=\"x\"; cadataKey=y\r\n\r\n"
                            .to_vec(),
                        b"CONNECT u:p@mail:443 HTTP/1.1\r\n\r\n".to_vec(),
                    ]
                    .concat(),
                    b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n\
                      HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                        .to_vec(),
                ),
            ],
        );
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_stay_bounded(
            client in proptest::collection::vec(any::<u8>(), 0..600),
            server in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut ev = Evidence::default();
            let _ = inspect(&input(&client, &server), &mut ev);
            let client = [b"GET / HTTP/1.1\r\n".as_slice(), &client].concat();
            let server = [b"HTTP/1.1 200 OK\r\n".as_slice(), &server].concat();
            let mut ev = Evidence::default();
            prop_assert!(inspect(&input(&client, &server), &mut ev));
            prop_assert!(ev.auth.len() <= MAX_AUTH);
            let d = http(&ev);
            prop_assert!(d.requests.len() <= MAX_REQUESTS);
            prop_assert!(d.www_authenticate.len() <= MAX_SCHEMES);
        }

        #[test]
        fn http_lines_of_any_kind_never_panic(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("GET /owa HTTP/1.1".to_owned()), Just("HTTP/1.1 401 x".to_owned()),
                    Just("HTTP/1.1 100 x".to_owned()), Just("Content-Length: 99999999999".to_owned()),
                    Just("Transfer-Encoding: chunked".to_owned()), Just("ffffffff".to_owned()),
                    Just("0".to_owned()), Just("Authorization: NTLM TlRMTVNTUAADAAAA".to_owned()),
                    Just("WWW-Authenticate: Negotiate YIIB".to_owned()), Just(String::new()),
                    Just("CONNECT a:1 HTTP/1.1".to_owned()), "[ -~]{0,20}",
                ],
                0..30,
            ),
            split in 0usize..30,
        ) {
            let (c, s) = lines.split_at(split.min(lines.len()));
            let c = format!("GET / HTTP/1.1\r\n{}", c.join("\r\n"));
            let s = s.join("\r\n");
            let mut ev = Evidence::default();
            prop_assert!(inspect(&input(c.as_bytes(), s.as_bytes()), &mut ev));
            prop_assert!(ev.auth.len() <= MAX_AUTH);
        }
    }
}
