//! TLS: what the first records of each direction say about a TLS session. The negotiated version
//! (TLS 1.3 through the ServerHello's supported_versions) and cipher suite, the server name, ALPN
//! offered and chosen, the client's JA4 fingerprint, the server's certificate where it crosses in
//! clear (TLS 1.2 and older), a client certificate, alerts and whether one ended the handshake,
//! and a server that answered a ClientHello in clear text. SSL 2.0 compatible hellos are read too.
//!
//! tls-parser reads record headers, hello bodies, extensions and Certificate messages;
//! x509-parser reads certificates. The rest is ours because no crate does it for a payload
//! prefix: joining handshake messages split across records, telling a record cut by the prefix
//! end (what follows is unknown) from bytes that are not TLS (malformed), following the
//! negotiated version to know which records are still readable, judging certificate validity at
//! capture time, and JA4, computed from FoxIO's specification.
//!
//! Nothing secret is kept: key exchange values, session ids, tickets, Finished messages and
//! encrypted records are read past, never copied.

#![deny(clippy::indexing_slicing)]

mod cert;
mod hello;
mod ja4;
mod record;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Serialize, Serializer};
use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherSuite, TlsMessageHandshake};

pub use cert::{Cert, Validity};

use super::{AuthSeen, Evidence, Fact, MAX_TEXT, Mechanism, Outcome, Protection, wire_text};
use record::End;

/// Certificates of a chain whose subjects are kept after the leaf's (a server sends two or three).
const MAX_CHAIN: usize = 4;

/// RFC 8446 §4 HandshakeType values read here.
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;
const CERTIFICATE_REQUEST: u8 = 13;

/// A TLS or SSL version, written as Zeek's ssl.log writes it (`TLSv12`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Ssl2,
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
    Other(u16),
}

impl From<u16> for Version {
    fn from(v: u16) -> Self {
        match v {
            0x0002 => Version::Ssl2,
            0x0300 => Version::Ssl3,
            0x0301 => Version::Tls10,
            0x0302 => Version::Tls11,
            0x0303 => Version::Tls12,
            0x0304 => Version::Tls13,
            v => Version::Other(v),
        }
    }
}

impl Version {
    /// TLS 1.1 and older.
    pub fn is_old(self) -> bool {
        matches!(
            self,
            Version::Ssl2 | Version::Ssl3 | Version::Tls10 | Version::Tls11
        )
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Ssl2 => f.write_str("SSLv2"),
            Version::Ssl3 => f.write_str("SSLv3"),
            Version::Tls10 => f.write_str("TLSv10"),
            Version::Tls11 => f.write_str("TLSv11"),
            Version::Tls12 => f.write_str("TLSv12"),
            Version::Tls13 => f.write_str("TLSv13"),
            // RFC 8446 drafts were numbered 0x7f00 + n.
            Version::Other(v @ 0x7f00..=0x7fff) => write!(f, "TLSv13-draft{}", v & 0xff),
            Version::Other(v) => write!(f, "unknown-0x{v:04x}"),
        }
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which side sent something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    Client,
    Server,
}

/// An alert record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub from: Sender,
    /// `warning`, `fatal`, or `unknown` for another value (absent when encrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<&'static str>,
    /// RFC 8446 §6 name, e.g. `handshake_failure` (absent when encrypted or unassigned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u8>,
    /// Sent after the sender's keys were in use: level and description cannot be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// A fatal alert in clear: the handshake ended with it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ended_handshake: bool,
}

/// What the TLS handshake showed. Absent fields were not seen (cut, encrypted, or not sent).
#[derive(Debug, Default, Serialize)]
pub struct Tls {
    /// Negotiated: the ServerHello's supported_versions, else its version field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// IANA name of the negotiated cipher suite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_id: Option<u16>,
    /// The highest version the client offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<Version>,
    /// SNI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// ALPN protocols the client offered, in its order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_alpns: Vec<String>,
    /// The ALPN protocol the server chose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    /// true: both sides finished the handshake (TLS ≤ 1.2: both ChangeCipherSpecs; TLS 1.3:
    /// encrypted records from both after the ServerHello). false: an alert or a clear-text
    /// answer ended it. Absent: the bytes do not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub established: Option<bool>,
    /// An abbreviated handshake: the server took the client's session id (TLS ≤ 1.2) or a
    /// pre-shared key (TLS 1.3).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// The server sent a HelloRetryRequest first (TLS 1.3).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hello_retry: bool,
    /// The client opened with an SSL 2.0 CLIENT-HELLO (no extensions, no JA4).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sslv2_hello: bool,
    /// The client's bytes start after its ClientHello (the flow was picked up midstream).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub midstream: bool,
    /// The server's certificate (the chain's first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<Cert>,
    /// Certificates in the server's chain.
    #[serde(skip_serializing_if = "is_zero")]
    pub cert_chain_len: u32,
    /// Subjects of the chain's other certificates, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cert_chain: Vec<String>,
    /// TLS 1.3 sends the certificates encrypted: none of them can be read here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cert_encrypted: bool,
    /// The server asked for a client certificate (TLS ≤ 1.2).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cert_requested: bool,
    /// The client's certificate (TLS ≤ 1.2; TLS 1.3 encrypts it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<Cert>,
    /// Client's alerts first, then the server's; at most four each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
    /// The first line of a clear-text answer to the ClientHello (`220 mail.example.com ESMTP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear_answer: Option<String>,
    /// A direction's bytes stop inside a record or handshake message: what follows is unknown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_cut: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub server_cut: bool,
    /// What was not TLS where TLS was expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<&'static str>,
    /// The client certificate's common name, for the authentication record.
    #[serde(skip)]
    client_user: Option<String>,
    /// The server answered with bytes that are not TLS (clear text or garbage).
    #[serde(skip)]
    server_not_tls: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Whether `client` starts like TLS: a handshake record (a ClientHello), an SSL 2.0 compatible
/// CLIENT-HELLO, or, for flows picked up midstream, a complete application data, alert or
/// ChangeCipherSpec record header.
pub fn looks_like(client: &[u8]) -> bool {
    match client {
        [0x16, 0x03, 0x00..=0x04, ..] => true,
        [0x14 | 0x15 | 0x17, 0x03, 0x00..=0x04, hi, lo, ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            len > 0 && len <= record::MAX_RECORD_LEN
        }
        [b, ..] if b & 0x80 != 0 => hello::looks_like_v2(client),
        _ => false,
    }
}

/// RFC 8446 §6 and RFC 5246 §7.2 alert descriptions.
fn alert_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

/// RFC 5246 §7.2: AlertLevel warning(1), fatal(2).
const FATAL: u8 = 2;

fn alert(from: Sender, raw: record::RawAlert, tls13: bool) -> Alert {
    // Up to TLS 1.2 an alert after the sender's ChangeCipherSpec is encrypted; TLS 1.3 sends
    // encrypted alerts as application data, so every alert record there is in clear.
    let body = raw.body.filter(|_| tls13 || !raw.after_ccs);
    match body {
        Some([level, code]) => Alert {
            from,
            level: Some(match level {
                1 => "warning",
                FATAL => "fatal",
                _ => "unknown",
            }),
            description: alert_name(code),
            code: Some(code),
            encrypted: false,
            ended_handshake: level == FATAL,
        },
        None => Alert {
            from,
            level: None,
            description: None,
            code: None,
            encrypted: true,
            ended_handshake: false,
        },
    }
}

/// A NULL, anonymous, export, RC2, RC4, DES or 3DES suite (or one below 112-bit keys).
fn weak_cipher(id: u16) -> bool {
    let Some(c) = TlsCipherSuite::from_id(id) else {
        return false;
    };
    matches!(
        c.enc,
        TlsCipherEnc::Null
            | TlsCipherEnc::Des
            | TlsCipherEnc::TripleDes
            | TlsCipherEnc::Rc2
            | TlsCipherEnc::Rc4
    ) || c.au == TlsCipherAu::Null
        || c.name.contains("_EXPORT")
        || c.enc_size < 112
}

/// The first line of a clear-text answer: the first bytes are printable ASCII (or line ends).
fn clear_line(server: &[u8]) -> Option<String> {
    let text = |c: &u8| (0x20..0x7f).contains(c) || matches!(c, b'\r' | b'\n' | b'\t');
    if server.is_empty() || !server.iter().take(16).all(text) {
        return None;
    }
    let line = server
        .split(|c| *c == b'\r' || *c == b'\n')
        .find(|l| !l.is_empty())?;
    Some(wire_text(line.get(..MAX_TEXT).unwrap_or(line)))
}

/// The certificates of a complete Certificate message (TLS ≤ 1.2 layout), or `None` when it
/// does not parse.
fn chain(body: &[u8]) -> Option<Vec<&[u8]>> {
    match tls_parser::parse_tls_handshake_msg_certificate(body) {
        Ok((_, TlsMessageHandshake::Certificate(c))) => {
            Some(c.cert_chain.iter().map(|c| c.data).collect())
        }
        _ => None,
    }
}

/// The certificates that are whole in a Certificate message cut by the prefix end, at most
/// `1 + MAX_CHAIN` (tls-parser needs the whole message):
///
/// ```text
/// opaque ASN.1Cert<1..2^24-1>;
/// struct { ASN.1Cert certificate_list<0..2^24-1>; } Certificate;   (RFC 5246 §7.4.2)
/// ```
fn chain_start(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = body.get(3..).unwrap_or_default();
    while out.len() <= MAX_CHAIN {
        let Some((&[a, b, c], tail)) = rest.split_first_chunk::<3>() else {
            break;
        };
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        let Some((der, tail)) = tail.split_at_checked(len) else {
            break;
        };
        out.push(der);
        rest = tail;
    }
    out
}

/// Fills the server's certificate fields from the chain's certificates. `whole`: the message
/// was complete, so the count is known.
fn server_chain(t: &mut Tls, certs: &[&[u8]], whole: bool, at: crate::time::Timestamp) {
    if whole {
        t.cert_chain_len = u32::try_from(certs.len()).unwrap_or(u32::MAX);
    }
    t.cert = certs.first().map(|d| cert::summarize(d, at));
    t.cert_chain = certs
        .iter()
        .skip(1)
        .take(MAX_CHAIN)
        .filter_map(|d| cert::subject(d))
        .collect();
}

/// Keeps the first reason a flow's TLS is malformed.
fn bad(t: &mut Tls, why: &'static str) {
    t.malformed.get_or_insert(why);
}

/// Parses a TLS handshake from both directions' bytes, starting at their first TLS record.
/// `None` when the client bytes do not start like TLS (see [`looks_like`]).
pub fn parse(client: &[u8], server: &[u8], at: crate::time::Timestamp) -> Option<Tls> {
    if !looks_like(client) {
        return None;
    }
    let mut t = Tls::default();

    // Client: an SSL 2.0 hello, or records from the first byte.
    let mut client_records = client;
    if let Some((version, used, cut)) = hello::v2_client_hello(client) {
        t.sslv2_hello = true;
        t.client_version = Some(Version::from(version));
        t.client_cut |= cut;
        client_records = client.get(used..).unwrap_or_default();
    }
    let c = record::read(client_records);
    let c_split = record::messages(&c.hs);
    let c_msgs = &c_split.complete;
    t.client_cut |= c.end == End::Cut || c_split.cut;
    if let End::Malformed(why) = c.end {
        bad(&mut t, why);
    }
    let mut client_hello = None;
    if !t.sslv2_hello {
        // No hello first: encrypted renegotiation or application data, the middle of a session.
        t.midstream = match c.hs.first() {
            Some(&kind) => kind != CLIENT_HELLO,
            None => c.records > 0 && client_records.first() != Some(&record::HANDSHAKE),
        };
        if let Some(m) = c_msgs.first().filter(|m| m.kind == CLIENT_HELLO) {
            match hello::client_hello(m.body) {
                Ok(h) => client_hello = Some(h),
                Err(why) => bad(&mut t, why),
            }
        }
    }
    if let Some(h) = &client_hello {
        t.client_version = Some(Version::from(h.highest_version));
        t.server_name = h.sni.clone();
        t.client_alpns = h.alpn.clone();
        t.ja4 = h.ja4.clone();
        if let Some(why) = h.malformed {
            bad(&mut t, why);
        }
    }
    let said_hello = client_hello.is_some() || t.sslv2_hello;

    // Server: records, an SSL 2.0 SERVER-HELLO, or something in clear.
    let s = record::read(server);
    let server_tls = !(s.records == 0 && matches!(s.end, End::Malformed(_)));
    let mut server_hello = None;
    let mut retry = None;
    if server_tls {
        let s_split = record::messages(&s.hs);
        let s_msgs = &s_split.complete;
        t.server_cut |= s.end == End::Cut || s_split.cut;
        if let End::Malformed(why) = s.end {
            bad(&mut t, why);
        }
        for m in s_msgs {
            match m.kind {
                SERVER_HELLO if server_hello.is_none() => match hello::server_hello(m.body) {
                    Ok(h) if h.retry => retry = Some(h),
                    Ok(h) => server_hello = Some(h),
                    Err(why) => bad(&mut t, why),
                },
                CERTIFICATE if t.cert.is_none() && t.cert_chain_len == 0 => match chain(m.body) {
                    Some(certs) => server_chain(&mut t, &certs, true, at),
                    None => bad(&mut t, "a server Certificate message that does not parse"),
                },
                CERTIFICATE_REQUEST => t.cert_requested = true,
                _ => {}
            }
        }
        // A certificate chain cut by the prefix end: the certificates that are whole.
        if let Some(m) = s_split.partial.filter(|m| m.kind == CERTIFICATE) {
            if t.cert.is_none() {
                server_chain(&mut t, &chain_start(m.body), false, at);
            }
        }
        // After a HelloRetryRequest the real ServerHello may follow TLS 1.3's no-op
        // ChangeCipherSpec.
        if retry.is_some() && server_hello.is_none() {
            server_hello = record::messages(&s.hs_after)
                .complete
                .iter()
                .filter(|m| m.kind == SERVER_HELLO)
                .find_map(|m| hello::server_hello(m.body).ok().filter(|h| !h.retry));
        }
    } else if let Some((version, der)) = hello::v2_server_hello(server) {
        t.version = Some(Version::from(version));
        t.cert = der.map(|d| cert::summarize(d, at));
        t.cert_chain_len = u32::from(der.is_some());
    } else if let Some(line) = clear_line(server) {
        t.server_not_tls = true;
        t.clear_answer = Some(line);
        if !said_hello {
            bad(&mut t, "a clear-text answer to bytes that were not a hello");
        }
    } else {
        t.server_not_tls = true;
        bad(&mut t, "server bytes that are not TLS");
    }
    t.hello_retry = retry.is_some();

    let negotiated = server_hello.as_ref().or(retry.as_ref());
    if let Some(h) = negotiated {
        t.version = Some(Version::from(h.version));
        if let Some(why) = h.malformed {
            bad(&mut t, why);
        }
    }
    let tls13 = t.version == Some(Version::Tls13);
    if let Some(h) = &server_hello {
        t.cipher_id = Some(h.cipher);
        t.cipher = TlsCipherSuite::from_id(h.cipher).map(|c| c.name);
        t.next_protocol = h.alpn.clone();
        t.resumed = if tls13 {
            h.psk
        } else {
            client_hello
                .as_ref()
                .is_some_and(|c| !c.session_id.is_empty() && c.session_id == h.session_id)
        };
        t.cert_encrypted = tls13 && !h.psk;
    }

    // A client certificate crosses in clear up to TLS 1.2.
    if !tls13 {
        let certs = match c_msgs.iter().skip(1).find(|m| m.kind == CERTIFICATE) {
            Some(m) => chain(m.body),
            None => c_split
                .partial
                .filter(|m| m.kind == CERTIFICATE && !c_msgs.is_empty())
                .map(|m| chain_start(m.body)),
        };
        match (certs, c_msgs.iter().skip(1).any(|m| m.kind == CERTIFICATE)) {
            (Some(certs), _) => {
                if let Some(der) = certs.first() {
                    t.client_cert = Some(cert::summarize(der, at));
                    t.client_user = cert::common_name(der);
                }
            }
            (None, true) => bad(&mut t, "a client Certificate message that does not parse"),
            (None, false) => {}
        }
    }

    t.alerts = c
        .alerts
        .iter()
        .map(|a| alert(Sender::Client, *a, tls13))
        .chain(s.alerts.iter().map(|a| alert(Sender::Server, *a, tls13)))
        .collect();
    let failed = t.alerts.iter().any(|a| a.ended_handshake);
    t.established = if failed || t.clear_answer.is_some() {
        Some(false)
    } else if server_hello.is_none() {
        None
    } else if tls13 {
        (s.app_data > 0 && c.app_data > 0).then_some(true)
    } else {
        (s.ccs && c.ccs).then_some(true)
    };
    Some(t)
}

/// Records what a parsed handshake means for the flow: protection, facts, authentication.
///
/// Protection: TLS from the first byte; after an upgrade, the upgrade's own name once the
/// server answered with a ServerHello (else what the upgrade's inspector decided stays). When
/// the server's bytes are not TLS (a clear-text answer, garbage) nothing was seen protected and
/// the protection is unknown.
pub fn apply(tls: &Tls, ev: &mut Evidence) {
    let answered = tls.version.is_some();
    if tls.clear_answer.is_some() && tls.client_version.is_some() {
        ev.facts.add(Fact::ClearAnswerToClientHello);
    }
    if tls.server_not_tls {
        if ev.upgrade.is_none() {
            ev.protection = Protection::Unknown;
        }
    } else if let Some(up) = ev.upgrade {
        if answered {
            ev.protection = if up.anonymous {
                Protection::AnonymousTls
            } else {
                Protection::Starttls
            };
        }
    } else {
        ev.protection = Protection::Tls;
    }
    if tls.version.is_some_and(Version::is_old) {
        ev.facts.add(Fact::TlsOldVersion);
    }
    if tls.cipher_id.is_some_and(weak_cipher) {
        ev.facts.add(Fact::TlsWeakCipher);
    }
    if let Some(c) = &tls.cert {
        if c.self_signed {
            ev.facts.add(Fact::CertSelfSigned);
        }
        if matches!(c.validity, Some(Validity::Expired | Validity::NotYetValid)) {
            ev.facts.add(Fact::CertExpired);
        }
    }
    if tls.alerts.iter().any(|a| a.ended_handshake) {
        ev.facts.add(Fact::TlsHandshakeFailed);
    }
    if tls.malformed.is_some() {
        ev.facts.add(Fact::Malformed);
    }
    if tls.client_cert.is_some() {
        let server_failed = tls
            .alerts
            .iter()
            .any(|a| a.from == Sender::Server && a.ended_handshake);
        let mut a = AuthSeen::new(Mechanism::ClientCertificate);
        a.user = tls.client_user.clone();
        a.outcome = if server_failed {
            Outcome::Failure
        } else if tls.established == Some(true) {
            Outcome::Success
        } else {
            Outcome::Unknown
        };
        ev.push_auth(a);
    }
}
