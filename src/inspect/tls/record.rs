//! The record layer of one direction (RFC 8446 §5.1, RFC 5246 §6.2): walks the records of a
//! payload prefix, reassembles the handshake messages they carry (a message may span several
//! records) and notes what else crossed: ChangeCipherSpec, alerts, application data. It tells a
//! record cut by the prefix end (what is missing is unknown) from bytes that are not records.
//!
//! ```text
//! struct {
//!     ContentType type;                  /* 20 ccs, 21 alert, 22 handshake, 23 data, 24 heartbeat */
//!     ProtocolVersion legacy_record_version;   /* 0x0300 … 0x0304 */
//!     uint16 length;
//!     opaque fragment[length];
//! } TLSPlaintext;
//! struct { HandshakeType msg_type; uint24 length; opaque body[length]; } Handshake;
//! ```

use tls_parser::{TlsRecordHeader, parse_tls_record_header};

/// RFC 5246 §6.2.3: a TLSCiphertext fragment is at most 2^14 + 2048 bytes. tls-parser's own
/// limit (2^14 + 256) is TLS 1.3's and would call a valid TLS 1.2 record malformed.
pub(super) const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Records walked per direction. A payload prefix of a few KiB holds far fewer; past this the
/// rest of the direction is left unread, as if the prefix had ended there.
const MAX_RECORDS: usize = 512;

/// Handshake bytes kept per direction for reassembly: above any payload prefix we are configured
/// with in practice; past it the rest is treated as cut.
const MAX_HANDSHAKE_BYTES: usize = 1 << 16;

/// Alert records kept per direction (a session sends one or two).
pub(super) const MAX_ALERTS: usize = 4;

/// Handshake messages read from one direction's reassembled bytes. A TLS 1.2 server's first
/// flight has at most seven (ServerHello … ServerHelloDone).
pub(super) const MAX_MESSAGES: usize = 32;

pub(super) const CHANGE_CIPHER_SPEC: u8 = 20;
pub(super) const ALERT: u8 = 21;
pub(super) const HANDSHAKE: u8 = 22;
pub(super) const APPLICATION_DATA: u8 = 23;
pub(super) const HEARTBEAT: u8 = 24;

/// Where one direction's records stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum End {
    /// At a record boundary: the bytes end there (more may have followed, unseen).
    #[default]
    Boundary,
    /// Inside a record header or body: the rest of that record was not seen.
    Cut,
    /// At bytes that are not a TLS record.
    Malformed(&'static str),
}

/// An alert record as it crossed: its two bytes when it had exactly two, and whether it came
/// after the sender's ChangeCipherSpec (encrypted unless TLS 1.3, which decides later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RawAlert {
    pub after_ccs: bool,
    pub body: Option<[u8; 2]>,
}

/// What one direction's records carried.
#[derive(Debug, Default)]
pub(super) struct Records {
    /// Handshake bytes up to the sender's first ChangeCipherSpec, records joined.
    pub hs: Vec<u8>,
    /// Handshake record bytes after it: encrypted (Finished) up to TLS 1.2; in TLS 1.3, where
    /// ChangeCipherSpec is a no-op, a second ClientHello or ServerHello after a HelloRetryRequest.
    pub hs_after: Vec<u8>,
    pub ccs: bool,
    pub app_data: u32,
    pub alerts: Vec<RawAlert>,
    /// Valid records read.
    pub records: u32,
    pub end: End,
}

/// A record header we accept: a known content type, version 3.x with x ≤ 4 (SSL 3.0 to
/// TLS 1.3's legacy value), and a length within RFC 5246's bound.
pub(super) fn valid_header(h: &TlsRecordHeader) -> bool {
    let ty = u8::from(h.record_type);
    let version = u16::from(h.version);
    (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&ty)
        && (0x0300..=0x0304).contains(&version)
        && usize::from(h.len) <= MAX_RECORD_LEN
}

/// Whether fewer than five bytes could be the start of a record header.
fn partial_header(b: &[u8]) -> bool {
    match b {
        [] => true,
        [t] => (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(t),
        [t, 3, rest @ ..] => {
            (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(t) && rest.first().is_none_or(|m| *m <= 4)
        }
        _ => false,
    }
}

/// Appends `bytes` to `buf` up to [`MAX_HANDSHAKE_BYTES`]; false when something was left out.
fn append(buf: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let room = MAX_HANDSHAKE_BYTES.saturating_sub(buf.len());
    let take = bytes.get(..room).unwrap_or(bytes);
    buf.extend_from_slice(take);
    take.len() == bytes.len()
}

/// Walks the records of one direction, from its first byte.
pub(super) fn read(bytes: &[u8]) -> Records {
    let mut r = Records::default();
    let mut rest = bytes;
    for _ in 0..MAX_RECORDS {
        if rest.is_empty() {
            return r;
        }
        let hdr = match parse_tls_record_header(rest) {
            Ok((_, h)) => h,
            Err(_) => {
                r.end = if partial_header(rest) {
                    End::Cut
                } else {
                    End::Malformed("bytes that are not a TLS record")
                };
                return r;
            }
        };
        if !valid_header(&hdr) {
            r.end = End::Malformed("bytes that are not a TLS record");
            return r;
        }
        let after = rest.get(5..).unwrap_or_default();
        let (body, tail, cut) = match after.split_at_checked(usize::from(hdr.len)) {
            Some((b, t)) => (b, t, false),
            None => (after, &[][..], true),
        };
        r.records = r.records.saturating_add(1);
        let mut kept = true;
        match u8::from(hdr.record_type) {
            HANDSHAKE if r.ccs => kept = append(&mut r.hs_after, body),
            HANDSHAKE => kept = append(&mut r.hs, body),
            CHANGE_CIPHER_SPEC if !cut => r.ccs = true,
            ALERT if !cut && r.alerts.len() < MAX_ALERTS => r.alerts.push(RawAlert {
                after_ccs: r.ccs,
                body: <[u8; 2]>::try_from(body).ok(),
            }),
            APPLICATION_DATA => r.app_data = r.app_data.saturating_add(1),
            _ => {}
        }
        if cut || !kept {
            r.end = End::Cut;
            return r;
        }
        rest = tail;
    }
    if !rest.is_empty() {
        // Record cap reached: the rest is unread, like bytes past the prefix.
        r.end = End::Cut;
    }
    r
}

/// One handshake message.
#[derive(Clone, Copy, Debug)]
pub(super) struct Message<'a> {
    pub kind: u8,
    pub body: &'a [u8],
}

/// Reassembled handshake bytes split into messages.
#[derive(Debug, Default)]
pub(super) struct Split<'a> {
    pub complete: Vec<Message<'a>>,
    /// A message whose header was read and whose body stops early: the bytes there are.
    pub partial: Option<Message<'a>>,
    /// The bytes end inside a message (or the message cap was reached): the rest is unknown.
    pub cut: bool,
}

/// Splits reassembled handshake bytes into messages.
pub(super) fn messages(bytes: &[u8]) -> Split<'_> {
    let mut out = Split::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.complete.len() == MAX_MESSAGES {
            out.cut = true;
            break;
        }
        let Some((&[kind, a, b, c], tail)) = rest.split_first_chunk::<4>() else {
            out.cut = true;
            break;
        };
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        let Some((body, tail)) = tail.split_at_checked(len) else {
            out.partial = Some(Message { kind, body: tail });
            out.cut = true;
            break;
        };
        out.complete.push(Message { kind, body });
        rest = tail;
    }
    out
}
