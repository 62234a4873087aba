//! ClientHello and ServerHello (RFC 8446 §4.1.2–4.1.3, RFC 5246 §7.4.1), their extensions, and
//! SSL 2.0's CLIENT-HELLO and SERVER-HELLO (draft-hickman-netscape-ssl-00, RFC 6101 Appendix E).
//!
//! tls-parser reads the hello bodies and the extensions whose content we use (server_name,
//! ALPN, supported_versions, signature_algorithms). The extension list itself is walked here:
//! JA4 needs every extension's type in wire order, including ones tls-parser does not know,
//! and one odd extension must not hide the others.

use tls_parser::{
    SNIType, TlsExtension, parse_tls_client_hello_extension, parse_tls_handshake_client_hello,
    parse_tls_handshake_server_hello, parse_tls_server_hello_extension,
};

use super::ja4::{Ja4Input, ja4};
use crate::inspect::wire_text;

/// Extensions read from one hello. Browsers send about twenty; past this JA4 is not computed.
const MAX_EXTENSIONS: usize = 256;

/// ALPN protocol names kept from a ClientHello (browsers offer two or three).
pub(super) const MAX_ALPN: usize = 8;

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_PRE_SHARED_KEY: u16 = 0x0029;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello whose random is SHA-256 of
/// "HelloRetryRequest".
pub(super) const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// RFC 8701: GREASE values are 0x?a?a with both bytes equal.
pub(super) fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// One extension: its type, and its bytes with the 4-byte header (tls-parser's extension
/// parsers read it whole).
struct Ext<'a> {
    kind: u16,
    whole: &'a [u8],
}

/// Walks an extension block (`Extension extensions<0..2^16-1>`: type u16, length u16, data).
/// `Ok((list, false))` when the cap stopped the walk.
fn extensions(block: &[u8]) -> Result<(Vec<Ext<'_>>, bool), &'static str> {
    let mut out = Vec::new();
    let mut rest = block;
    while !rest.is_empty() {
        if out.len() == MAX_EXTENSIONS {
            return Ok((out, false));
        }
        let Some(&[t0, t1, l0, l1]) = rest.first_chunk::<4>() else {
            return Err("an extension header cut short inside its hello");
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some((whole, tail)) = rest.split_at_checked(4 + len) else {
            return Err("an extension longer than its hello");
        };
        out.push(Ext {
            kind: u16::from_be_bytes([t0, t1]),
            whole,
        });
        rest = tail;
    }
    Ok((out, true))
}

/// What a ClientHello says.
#[derive(Debug, Default)]
pub(super) struct ClientHello {
    pub legacy_version: u16,
    /// The highest version offered: supported_versions' highest non-GREASE entry, else the
    /// legacy version.
    pub highest_version: u16,
    /// Compared with the ServerHello's to see a resumed session; never output.
    pub session_id: Vec<u8>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub ja4: Option<String>,
    /// An extension whose content does not parse; the rest was still read.
    pub malformed: Option<&'static str>,
}

/// Reads a ClientHello body.
pub(super) fn client_hello(body: &[u8]) -> Result<ClientHello, &'static str> {
    let (rest, ch) =
        parse_tls_handshake_client_hello(body).map_err(|_| "a ClientHello that does not parse")?;
    if !rest.is_empty() {
        return Err("bytes after a ClientHello's extensions");
    }
    let (exts, whole) = match ch.ext {
        Some(block) => extensions(block)?,
        None => (Vec::new(), true),
    };
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        ..ClientHello::default()
    };
    let (mut versions, mut sig_algs, mut alpn_first) = (Vec::new(), Vec::new(), None);
    let mut sni = false;
    for e in &exts {
        if !matches!(
            e.kind,
            EXT_SERVER_NAME | EXT_ALPN | EXT_SUPPORTED_VERSIONS | EXT_SIGNATURE_ALGORITHMS
        ) {
            continue;
        }
        match parse_tls_client_hello_extension(e.whole) {
            Ok((_, TlsExtension::SNI(names))) if !sni => {
                sni = true;
                out.sni = names
                    .iter()
                    .find(|(t, _)| *t == SNIType::HostName)
                    .map(|(_, n)| wire_text(n));
            }
            Ok((_, TlsExtension::ALPN(protocols))) if alpn_first.is_none() => {
                alpn_first = Some(protocols.first().copied().unwrap_or_default());
                out.alpn = protocols
                    .iter()
                    .take(MAX_ALPN)
                    .map(|p| wire_text(p))
                    .collect();
            }
            Ok((_, TlsExtension::SupportedVersions(list))) if versions.is_empty() => {
                versions = list.iter().map(|v| v.0).collect();
            }
            Ok((_, TlsExtension::SignatureAlgorithms(list))) if sig_algs.is_empty() => {
                sig_algs = list;
            }
            Ok(_) => {}
            Err(_) => {
                sni |= e.kind == EXT_SERVER_NAME;
                out.malformed = Some("a ClientHello extension that does not parse");
            }
        }
    }
    out.highest_version = versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(out.legacy_version);
    if whole {
        let ciphers: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
        let kinds: Vec<u16> = exts.iter().map(|e| e.kind).collect();
        out.ja4 = Some(ja4(&Ja4Input {
            versions: &versions,
            legacy_version: out.legacy_version,
            sni,
            ciphers: &ciphers,
            extensions: &kinds,
            alpn_first: alpn_first.filter(|p: &&[u8]| !p.is_empty()),
            sig_algs: &sig_algs,
        }));
    }
    Ok(out)
}

/// What a ServerHello says.
#[derive(Debug, Default)]
pub(super) struct ServerHello {
    /// The version chosen: supported_versions when present (TLS 1.3), else the legacy field.
    pub version: u16,
    pub cipher: u16,
    pub session_id: Vec<u8>,
    pub alpn: Option<String>,
    /// A pre_shared_key extension: TLS 1.3 resumption.
    pub psk: bool,
    /// A HelloRetryRequest, not the real ServerHello.
    pub retry: bool,
    pub malformed: Option<&'static str>,
}

/// Reads a ServerHello body.
pub(super) fn server_hello(body: &[u8]) -> Result<ServerHello, &'static str> {
    let (rest, sh) =
        parse_tls_handshake_server_hello(body).map_err(|_| "a ServerHello that does not parse")?;
    // SSL 3.0 hellos are read without extensions; anything after them is ignored.
    if !rest.is_empty() && sh.version.0 != 0x0300 {
        return Err("bytes after a ServerHello's extensions");
    }
    let mut out = ServerHello {
        version: sh.version.0,
        cipher: sh.cipher.0,
        session_id: sh.session_id.unwrap_or_default().to_vec(),
        retry: sh.random == HELLO_RETRY_RANDOM.as_slice(),
        ..ServerHello::default()
    };
    let exts = match sh.ext {
        Some(block) => extensions(block)?.0,
        None => Vec::new(),
    };
    for e in &exts {
        match e.kind {
            EXT_PRE_SHARED_KEY => out.psk = true,
            EXT_ALPN | EXT_SUPPORTED_VERSIONS => match parse_tls_server_hello_extension(e.whole) {
                Ok((_, TlsExtension::ALPN(p))) => out.alpn = p.first().map(|p| wire_text(p)),
                Ok((_, TlsExtension::SupportedVersions(v))) => {
                    if let [one] = v.as_slice() {
                        out.version = one.0;
                    } else {
                        out.malformed =
                            Some("a ServerHello supported_versions without one version");
                    }
                }
                _ => out.malformed = Some("a ServerHello extension that does not parse"),
            },
            _ => {}
        }
    }
    Ok(out)
}

/// SSL 2.0 message types.
const V2_CLIENT_HELLO: u8 = 1;
const V2_SERVER_HELLO: u8 = 4;

/// An SSL 2.0 record with a two-byte header (high bit set, no padding): its message bytes and
/// whether they were cut. Three-byte headers (with padding) only carry encrypted records.
fn v2_record(b: &[u8]) -> Option<(&[u8], usize, bool)> {
    let (&[h, l], rest) = b.split_first_chunk::<2>()?;
    if h & 0x80 == 0 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([h & 0x7f, l]));
    Some(match rest.get(..len) {
        Some(msg) => (msg, 2 + len, false),
        None => (rest, b.len(), true),
    })
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*b.get(at..)?.first_chunk::<2>()?))
}

/// Whether `b` starts like an SSL 2.0 CLIENT-HELLO, as clients that still accepted SSL 2.0 sent
/// their first hello (RFC 6101 Appendix E.2), checked as far as the bytes go:
///
/// ```text
/// [0x80 | len_hi, len_lo] msg_type=1, version (0x0002, 0x0300 … 0x0304),
/// cipher_specs_length (n × 3, n > 0), session_id_length (0 or 16), challenge_length (16 … 32),
/// and the record length is 9 + the three lengths.
/// ```
pub(super) fn looks_like_v2(b: &[u8]) -> bool {
    let Some((msg, _, _)) = v2_record(b) else {
        return false;
    };
    let version_ok = matches!(
        msg,
        [V2_CLIENT_HELLO, 0x00, 0x02, ..] | [V2_CLIENT_HELLO, 0x03, 0x00..=0x04, ..]
    );
    if !version_ok {
        return false;
    }
    let declared = b
        .first_chunk::<2>()
        .map(|&[h, l]| usize::from(u16::from_be_bytes([h & 0x7f, l])))
        .unwrap_or_default();
    let specs = u16_at(msg, 3).map(usize::from);
    let sid = u16_at(msg, 5).map(usize::from);
    let challenge = u16_at(msg, 7).map(usize::from);
    specs.is_none_or(|n| n > 0 && n % 3 == 0)
        && sid.is_none_or(|n| n == 0 || n == 16)
        && challenge.is_none_or(|n| (16..=32).contains(&n))
        && match (specs, sid, challenge) {
            (Some(a), Some(b), Some(c)) => declared == 9 + a + b + c,
            _ => declared >= 9,
        }
}

/// An SSL 2.0 CLIENT-HELLO: the version offered, how many bytes it took, and whether it was cut.
pub(super) fn v2_client_hello(b: &[u8]) -> Option<(u16, usize, bool)> {
    if !looks_like_v2(b) {
        return None;
    }
    let (msg, used, cut) = v2_record(b)?;
    Some((u16_at(msg, 1)?, used, cut))
}

/// An SSL 2.0 SERVER-HELLO:
///
/// ```text
/// msg_type=4, session_id_hit, certificate_type (1 = X.509), version, certificate_length,
/// cipher_specs_length, connection_id_length, certificate, cipher specs, connection id
/// ```
///
/// Gives the version and the certificate when it is all there.
pub(super) fn v2_server_hello(b: &[u8]) -> Option<(u16, Option<&[u8]>)> {
    let (msg, _, _) = v2_record(b)?;
    let [V2_SERVER_HELLO, _hit, cert_type, ..] = msg else {
        return None;
    };
    let version = u16_at(msg, 3)?;
    if !(version == 0x0002 || (0x0300..=0x0304).contains(&version)) {
        return None;
    }
    let cert_len = usize::from(u16_at(msg, 5).unwrap_or_default());
    let cert = (*cert_type == 1)
        .then(|| msg.get(11..11 + cert_len))
        .flatten()
        .filter(|c| !c.is_empty());
    Some((version, cert))
}
