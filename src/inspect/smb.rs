//! SMB over TCP (445, or 139 after a NetBIOS session request): the dialects offered and chosen,
//! signing and encryption, how each session authenticated, and which shares the client
//! connected to. SMB 2/3 per MS-SMB2; SMB 1 (MS-CIFS, MS-SMB) only as far as its negotiation
//! and session setup, to record that the old dialect ran and how it authenticated.
//!
//! Own parser: no maintained Rust crate parses SMB2/3 messages for inspection (the SMB crates are
//! clients that build messages, not readers of captured ones), and what is needed is a handful
//! of fixed offsets in the NEGOTIATE, SESSION_SETUP and TREE_CONNECT messages plus the 64-byte
//! header's flags. Security buffers go to [`Evidence::security_blob`] and are never kept.

#![deny(clippy::indexing_slicing)]

use serde::{Serialize, Serializer};

use super::{AuthSeen, Evidence, Fact, Input, Mechanism, Outcome, Protection, Service, auth};

/// MS-SMB2 2.1: each message is framed by a 4-byte Direct TCP / NetBIOS session header: a type
/// byte (0 = session message) and a 24-bit big-endian length.
const NBSS_LEN: usize = 4;
/// RFC 1002 4.3 session packet types other than a message.
const NBSS_SESSION_REQUEST: u8 = 0x81;
const NBSS_POSITIVE_RESPONSE: u8 = 0x82;
const NBSS_NEGATIVE_RESPONSE: u8 = 0x83;
const NBSS_RETARGET: u8 = 0x84;
const NBSS_KEEPALIVE: u8 = 0x85;
/// RFC 1002 4.3.2: a session request holds two encoded NetBIOS names of 34 bytes.
const NBSS_SESSION_REQUEST_LEN: u8 = 68;

const SMB1_MAGIC: [u8; 4] = [0xff, b'S', b'M', b'B'];
const SMB2_MAGIC: [u8; 4] = [0xfe, b'S', b'M', b'B'];
/// MS-SMB2 2.2.41: an encrypted message.
const TRANSFORM_MAGIC: [u8; 4] = [0xfd, b'S', b'M', b'B'];
/// MS-SMB2 2.2.42: a compressed message.
const COMPRESSED_MAGIC: [u8; 4] = [0xfc, b'S', b'M', b'B'];

/// MS-SMB2 2.2.1: the SYNC/ASYNC header is 64 bytes.
const SMB2_HDR_LEN: usize = 64;
/// MS-SMB2 2.2.1.2 header fields.
const H_STATUS: usize = 8;
const H_COMMAND: usize = 12;
const H_FLAGS: usize = 16;
const H_NEXT_COMMAND: usize = 20;
const H_MESSAGE_ID: usize = 24;
const H_SESSION_ID: usize = 40;
const FLAG_RESPONSE: u32 = 0x0000_0001;
const FLAG_SIGNED: u32 = 0x0000_0008;

/// MS-SMB2 2.2.1 commands.
const NEGOTIATE: u16 = 0x0000;
const SESSION_SETUP: u16 = 0x0001;
const TREE_CONNECT: u16 = 0x0003;

/// MS-ERREF 2.3.
const STATUS_SUCCESS: u32 = 0;
const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;

/// MS-SMB2 2.2.6 session flags.
const SESSION_FLAG_IS_GUEST: u16 = 0x0001;
const SESSION_FLAG_IS_NULL: u16 = 0x0002;
const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x0004;
/// MS-SMB2 2.2.4 capabilities.
const CAP_ENCRYPTION: u32 = 0x0000_0040;
/// MS-SMB2 2.2.10 share flags.
const SHAREFLAG_ENCRYPT_DATA: u32 = 0x0000_8000;
/// MS-SMB2 2.2.9: the path sits in a tree connect extension, not at PathOffset.
const TREE_CONNECT_FLAG_EXTENSION_PRESENT: u16 = 0x0004;
/// MS-SMB2 2.2.3.1.2: the negotiate context that lists ciphers.
const ENCRYPTION_CAPABILITIES: u16 = 0x0002;

/// MS-CIFS 2.2.3.1: the SMB1 header is 32 bytes; the words follow.
const SMB1_HDR_LEN: usize = 32;
const SMB1_COM_NEGOTIATE: u8 = 0x72;
const SMB1_COM_SESSION_SETUP_ANDX: u8 = 0x73;
/// MS-CIFS 2.2.3.1 Flags: the message is a reply.
const SMB1_FLAGS_REPLY: u8 = 0x80;
/// MS-CIFS 2.2.3.1 Flags2.
const SMB1_FLAGS2_SECURITY_SIGNATURE: u16 = 0x0004;
const SMB1_FLAGS2_UNICODE: u16 = 0x8000;
/// MS-CIFS 2.2.4.52.2 SecurityMode: challenge/response rather than plaintext passwords.
const SMB1_ENCRYPT_PASSWORDS: u8 = 0x02;
const SMB1_SIGNATURES_ENABLED: u8 = 0x04;
const SMB1_SIGNATURES_REQUIRED: u8 = 0x08;
/// MS-CIFS 2.2.4.53.2 Action: the session is the guest account.
const SMB1_SETUP_GUEST: u16 = 0x0001;

/// NetBIOS frames walked per direction; a 4 KiB prefix holds at most a few dozen.
const MAX_FRAMES: usize = 512;
/// SMB2 messages compounded in one frame (MS-SMB2 3.2.4.1.4) that are followed.
const MAX_COMPOUND: usize = 32;
/// Dialects kept from a NEGOTIATE request (Windows offers five).
pub const MAX_DIALECTS: usize = 16;
/// Tree connects kept.
pub const MAX_TREES: usize = 8;
/// Sessions followed per connection; each becomes one authentication.
const MAX_SESSIONS: usize = 4;
/// Requests remembered while their responses are matched by message id.
const MAX_PENDING: usize = 32;

/// An SMB 2/3 dialect revision (MS-SMB2 2.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect(pub u16);

impl Serialize for Dialect {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            0x0202 => s.serialize_str("2.0.2"),
            0x0210 => s.serialize_str("2.1"),
            0x0300 => s.serialize_str("3.0"),
            0x0302 => s.serialize_str("3.0.2"),
            0x0311 => s.serialize_str("3.1.1"),
            // MS-SMB2 3.3.5.3.1: the answer to an SMB1 negotiate that offered "SMB 2.???".
            0x02ff => s.serialize_str("2.???"),
            other => s.collect_str(&format_args!("0x{other:04x}")),
        }
    }
}

/// A side's signing setting from its SecurityMode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signing {
    Disabled,
    Enabled,
    Required,
}

impl Signing {
    fn of(enabled: bool, required: bool) -> Self {
        if required {
            Signing::Required
        } else if enabled {
            Signing::Enabled
        } else {
            Signing::Disabled
        }
    }
}

/// The cipher a 3.1.1 server chose (MS-SMB2 2.2.3.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cipher(pub u16);

impl Serialize for Cipher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            0 => s.serialize_str("none"),
            1 => s.serialize_str("aes-128-ccm"),
            2 => s.serialize_str("aes-128-gcm"),
            3 => s.serialize_str("aes-256-ccm"),
            4 => s.serialize_str("aes-256-gcm"),
            other => s.collect_str(&other),
        }
    }
}

/// MS-SMB2 2.2.10 share types, named as Zeek's smb_mapping.log names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ShareType {
    #[serde(rename = "DISK")]
    Disk,
    #[serde(rename = "PIPE")]
    Pipe,
    #[serde(rename = "PRINT")]
    Print,
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

/// One tree connect.
#[derive(Debug, Serialize)]
pub struct Tree {
    /// `\\server\share`, as the client sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_type: Option<ShareType>,
    /// The share requires encryption (SMB2_SHAREFLAG_ENCRYPT_DATA).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encrypt: bool,
    /// The server's refusal, when it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u32>,
    #[serde(skip)]
    message_id: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the SMB conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Smb {
    /// SMB1 dialect strings the client offered, at most [`MAX_DIALECTS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub smb1_dialects: Vec<String>,
    /// The SMB1 dialect the server chose: the conversation stayed on SMB1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb1_dialect: Option<String>,
    /// SMB2/3 dialects the client offered, at most [`MAX_DIALECTS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dialects: Vec<Dialect>,
    /// The dialect the server chose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<Dialect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_signing: Option<Signing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_signing: Option<Signing>,
    /// The server can encrypt (SMB2_GLOBAL_CAP_ENCRYPTION, or a 3.1.1 cipher).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encryption_capable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<Cipher>,
    /// A session was the guest account / anonymous / required encryption.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub guest: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub null_session: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encrypt_data: bool,
    /// Tree connects, at most [`MAX_TREES`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trees: Vec<Tree>,
    #[serde(skip_serializing_if = "is_zero")]
    pub trees_more: u32,
    /// Messages seen: SMB2/3 in clear, signed among them, encrypted (transform headers),
    /// compressed, and SMB1.
    #[serde(skip_serializing_if = "is_zero")]
    pub messages: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub signed: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub encrypted: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub compressed: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub smb1_messages: u32,
}

/// One session as its setup exchanges show it.
#[derive(Default)]
struct Session {
    id: Option<u64>,
    mechanism: Option<Mechanism>,
    clear_credentials: bool,
    user: Option<String>,
    domain: Option<String>,
    outcome: Outcome,
    anonymous: bool,
    /// An SMB1 setup without extended security: its OEM and Unicode password lengths, judged
    /// once the server's SecurityMode is known.
    legacy: Option<(usize, usize)>,
}

#[derive(Default)]
struct Walk {
    sessions: Vec<Session>,
    /// Session setup requests: message id → index in `sessions`.
    setups: Vec<(u64, usize)>,
    /// SMB1 session setup requests by MID, with the index of their session.
    smb1_setups: Vec<(u16, usize)>,
    /// The SMB1 server said passwords go in clear (no ENCRYPT_PASSWORDS in SecurityMode).
    smb1_plaintext: bool,
    /// Sessions that carried a message (other than a session setup) neither signed nor
    /// encrypted; matched against the established sessions at the end.
    unsigned: Vec<u64>,
    malformed: bool,
}

/// Whether `b` starts with an SMB message in a session frame, or a NetBIOS session request
/// (port 139), or the server's positive answer to one.
pub fn looks_like(b: &[u8]) -> bool {
    match b.first_chunk::<8>() {
        Some(&[0, _, _, _, m0, m1, m2, m3]) => {
            let m = [m0, m1, m2, m3];
            m == SMB2_MAGIC || m == SMB1_MAGIC || m == TRANSFORM_MAGIC || m == COMPRESSED_MAGIC
        }
        Some(&[NBSS_SESSION_REQUEST, 0, 0, NBSS_SESSION_REQUEST_LEN, ..]) => true,
        _ => matches!(
            b.first_chunk::<4>(),
            Some(&[NBSS_POSITIVE_RESPONSE, 0, 0, 0])
        ),
    }
}

/// The NetBIOS frames of one direction: (type, payload, whether the prefix cut it), or `Err`
/// for a frame type that RFC 1002 does not define.
fn frames(bytes: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8], bool), ()>> {
    let mut rest = bytes;
    let mut done = false;
    std::iter::from_fn(move || {
        if done || rest.is_empty() {
            return None;
        }
        let Some((&[kind, a, b, c], tail)) = rest.split_first_chunk::<NBSS_LEN>() else {
            // A few bytes of a frame header: the prefix ends here.
            done = true;
            return None;
        };
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        if !matches!(
            kind,
            0 | NBSS_SESSION_REQUEST
                | NBSS_POSITIVE_RESPONSE
                | NBSS_NEGATIVE_RESPONSE
                | NBSS_RETARGET
                | NBSS_KEEPALIVE
        ) {
            done = true;
            return Some(Err(()));
        }
        let (frame, after, cut) = match tail.split_at_checked(len) {
            Some((f, a)) => (f, a, false),
            None => (tail, &[][..], true),
        };
        rest = after;
        Some(Ok((kind, frame, cut)))
    })
    .take(MAX_FRAMES)
}

/// The fields of an SMB2 header the inspector uses.
#[derive(Clone, Copy, Debug)]
struct Header {
    status: u32,
    command: u16,
    flags: u32,
    message_id: u64,
    session_id: u64,
}

fn header(m: &[u8]) -> Option<Header> {
    if m.get(..4)? != SMB2_MAGIC || le16(m, 4)? != 64 {
        return None;
    }
    Some(Header {
        status: le32(m, H_STATUS)?,
        command: le16(m, H_COMMAND)?,
        flags: le32(m, H_FLAGS)?,
        message_id: le64(m, H_MESSAGE_ID)?,
        session_id: le64(m, H_SESSION_ID)?,
    })
}

/// The SMB2 messages of one frame, following NextCommand (MS-SMB2 2.2.1.2) within the frame.
/// Each item is the header and the message from its header to the next one (or the frame's end).
fn messages(frame: &[u8]) -> impl Iterator<Item = Option<(Header, &[u8])>> {
    let mut rest = Some(frame);
    std::iter::from_fn(move || {
        let m = rest.take()?;
        let Some(h) = header(m) else {
            return Some(None);
        };
        let next = le32(m, H_NEXT_COMMAND)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let (this, after) = if next == 0 {
            (m, None)
        } else if next >= SMB2_HDR_LEN && next % 8 == 0 {
            match m.split_at_checked(next) {
                Some((t, a)) => (t, Some(a)),
                None => (m, None),
            }
        } else {
            return Some(None);
        };
        rest = after;
        Some(Some((h, this)))
    })
    .take(MAX_COMPOUND)
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// `len` bytes at `off` (both from 16-bit fields, offsets from the header's start), when inside.
fn buffer(m: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    m.get(off..off.checked_add(len)?)
}

/// A UTF-16LE string from the wire, bounded like every wire string.
fn utf16(b: &[u8]) -> String {
    let units = b.chunks_exact(2).take(super::MAX_TEXT).map(|c| {
        u16::from_le_bytes([
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ])
    });
    let s: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .take_while(|c| *c != '\0')
        .collect();
    super::wire_text(s.as_bytes())
}

/// Whether the flow carries SMB and, if it does, the evidence it gives. Answers `false` in a few
/// comparisons for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if input.udp {
        return false;
    }
    let mine = looks_like(input.client) || (input.client.len() < 8 && looks_like(input.server));
    if !mine {
        return false;
    }
    ev.service = Some(Service::Smb);
    let mut d = Smb::default();
    let mut w = Walk::default();
    // Requests first, from whichever direction carries them, so that responses find them.
    for pass in [Pass::Requests, Pass::Responses] {
        for side in [input.client, input.server] {
            walk(side, pass, &mut d, &mut w, ev);
        }
    }
    conclude(input, &mut d, &mut w, ev);
    ev.detail = super::Detail::Smb(Box::new(d));
    true
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Requests,
    Responses,
}

fn walk(bytes: &[u8], pass: Pass, d: &mut Smb, w: &mut Walk, ev: &mut Evidence) {
    for f in frames(bytes) {
        let Ok((kind, frame, cut)) = f else {
            w.malformed = true;
            return;
        };
        if kind != 0 {
            continue;
        }
        match frame.first_chunk::<4>() {
            Some(&SMB2_MAGIC) => {
                for m in messages(frame) {
                    let Some((h, msg)) = m else {
                        // A header the prefix cut is not a broken one.
                        w.malformed |= !cut;
                        break;
                    };
                    let response = h.flags & FLAG_RESPONSE != 0;
                    if response != (pass == Pass::Responses) {
                        continue;
                    }
                    smb2(&h, msg, d, w, ev);
                }
            }
            Some(&SMB1_MAGIC) => smb1(frame, pass, d, w, ev),
            Some(&TRANSFORM_MAGIC) if pass == Pass::Requests => {
                d.encrypted = d.encrypted.saturating_add(1);
            }
            Some(&COMPRESSED_MAGIC) if pass == Pass::Requests => {
                d.compressed = d.compressed.saturating_add(1);
            }
            Some(&(TRANSFORM_MAGIC | COMPRESSED_MAGIC)) => {}
            // A frame the prefix cut before its magic says nothing.
            _ if cut && frame.len() < 4 => {}
            _ => w.malformed = true,
        }
    }
}

fn smb2(h: &Header, m: &[u8], d: &mut Smb, w: &mut Walk, ev: &mut Evidence) {
    let response = h.flags & FLAG_RESPONSE != 0;
    d.messages = d.messages.saturating_add(1);
    if h.flags & FLAG_SIGNED != 0 {
        d.signed = d.signed.saturating_add(1);
    } else if h.command != SESSION_SETUP {
        unsigned_in(w, h.session_id);
    }
    let body = m.get(SMB2_HDR_LEN..).unwrap_or(&[]);
    match (h.command, response) {
        (NEGOTIATE, false) => negotiate_request(body, d),
        (NEGOTIATE, true) => negotiate_response(m, body, d),
        (SESSION_SETUP, false) => setup_request(h, m, body, w, ev),
        (SESSION_SETUP, true) => setup_response(h, m, body, d, w, ev),
        (TREE_CONNECT, false) => tree_request(h, m, body, d),
        (TREE_CONNECT, true) => tree_response(h, body, d),
        _ => {}
    }
}

/// Notes a message of session `id` that was neither signed nor encrypted.
fn unsigned_in(w: &mut Walk, id: u64) {
    if id != 0 && !w.unsigned.contains(&id) && w.unsigned.len() < MAX_SESSIONS {
        w.unsigned.push(id);
    }
}

/// MS-SMB2 2.2.3: StructureSize (36), DialectCount, SecurityMode, Reserved, Capabilities,
/// ClientGuid (16), 8 bytes of negotiate-context fields, then Dialects[DialectCount].
fn negotiate_request(body: &[u8], d: &mut Smb) {
    let count = le16(body, 2).unwrap_or(0);
    if let Some(mode) = le16(body, 4) {
        d.client_signing = Some(Signing::of(mode & 1 != 0, mode & 2 != 0));
    }
    let dialects = body.get(36..).unwrap_or(&[]);
    for c in dialects.chunks_exact(2).take(usize::from(count)) {
        if d.dialects.len() >= MAX_DIALECTS {
            break;
        }
        if let Ok(a) = <[u8; 2]>::try_from(c) {
            d.dialects.push(Dialect(u16::from_le_bytes(a)));
        }
    }
}

/// MS-SMB2 2.2.4: StructureSize (65), SecurityMode, DialectRevision, NegotiateContextCount,
/// ServerGuid (16), Capabilities @24, … SecurityBufferOffset @56, SecurityBufferLength @58,
/// NegotiateContextOffset @60 (offsets from the header).
fn negotiate_response(m: &[u8], body: &[u8], d: &mut Smb) {
    if let Some(mode) = le16(body, 2) {
        d.server_signing = Some(Signing::of(mode & 1 != 0, mode & 2 != 0));
    }
    let Some(dialect) = le16(body, 4) else {
        return;
    };
    d.dialect = Some(Dialect(dialect));
    if le32(body, 24).is_some_and(|c| c & CAP_ENCRYPTION != 0) {
        d.encryption_capable = true;
    }
    if dialect != 0x0311 {
        return;
    }
    // MS-SMB2 2.2.3.1: contexts start 8-aligned; each is ContextType, DataLength, Reserved (4),
    // then the data, padded to 8.
    let count = le16(body, 6).unwrap_or(0);
    let Some(mut at) = le32(body, 60).and_then(|o| usize::try_from(o).ok()) else {
        return;
    };
    for _ in 0..count.min(16) {
        let (Some(ty), Some(len)) = (le16(m, at), le16(m, at + 2)) else {
            return;
        };
        let data = at + 8;
        if ty == ENCRYPTION_CAPABILITIES {
            // CipherCount, Ciphers[]: the response carries the one chosen (0: none in common).
            if let Some(c) = le16(m, data + 2) {
                d.cipher = Some(Cipher(c));
                if c != 0 {
                    d.encryption_capable = true;
                }
            }
        }
        at = (data + usize::from(len)).div_ceil(8) * 8;
    }
}

/// The session a setup request belongs to: a zero SessionId starts one; a later leg carries the
/// id the server gave, which the first leg's response (matched later) has not told us yet.
fn session_for(w: &mut Walk, id: u64) -> Option<usize> {
    if id != 0 {
        if let Some(i) = w.sessions.iter().position(|s| s.id == Some(id)) {
            return Some(i);
        }
        if let Some(last) = w.sessions.last_mut() {
            if last.id.is_none() {
                last.id = Some(id);
                return Some(w.sessions.len() - 1);
            }
        }
    }
    if w.sessions.len() >= MAX_SESSIONS {
        return None;
    }
    w.sessions.push(Session {
        id: (id != 0).then_some(id),
        ..Session::default()
    });
    Some(w.sessions.len() - 1)
}

/// Records what a security buffer says about its session.
fn blob(s: &mut Session, blob: &[u8], ev: &mut Evidence) {
    let found = ev.security_blob(blob);
    if let Some(n) = auth::ntlm(blob) {
        s.mechanism = Some(Mechanism::Ntlm);
        if n.version == Some(auth::NtlmVersion::Anonymous) {
            s.anonymous = true;
        }
        if n.user.is_some() {
            s.user = n.user;
            s.domain = n.domain;
        }
        return;
    }
    if s.mechanism == Some(Mechanism::Ntlm) {
        return;
    }
    match (s.mechanism, found) {
        (None, m) => s.mechanism = m,
        (Some(Mechanism::Negotiate), Some(m)) => s.mechanism = Some(m),
        _ => {}
    }
}

/// MS-SMB2 2.2.5: StructureSize (25), Flags, SecurityMode, Capabilities, Channel,
/// SecurityBufferOffset @12, SecurityBufferLength @14, PreviousSessionId.
fn setup_request(h: &Header, m: &[u8], body: &[u8], w: &mut Walk, ev: &mut Evidence) {
    let Some(i) = session_for(w, h.session_id) else {
        return;
    };
    if w.setups.len() < MAX_PENDING {
        w.setups.push((h.message_id, i));
    }
    let (Some(off), Some(len)) = (le16(body, 12), le16(body, 14)) else {
        return;
    };
    if let (Some(s), Some(b)) = (
        w.sessions.get_mut(i),
        buffer(m, usize::from(off), usize::from(len)),
    ) {
        blob(s, b, ev);
    }
}

/// MS-SMB2 2.2.6: StructureSize (9), SessionFlags @2, SecurityBufferOffset @4, Length @6.
fn setup_response(h: &Header, m: &[u8], body: &[u8], d: &mut Smb, w: &mut Walk, ev: &mut Evidence) {
    let Some(i) = w
        .setups
        .iter()
        .find(|(id, _)| *id == h.message_id)
        .map(|(_, i)| *i)
    else {
        return;
    };
    let Some(s) = w.sessions.get_mut(i) else {
        return;
    };
    if h.session_id != 0 {
        s.id = Some(h.session_id);
    }
    if let (Some(off), Some(len)) = (le16(body, 4), le16(body, 6)) {
        if let Some(b) = buffer(m, usize::from(off), usize::from(len)) {
            blob(s, b, ev);
        }
    }
    match h.status {
        STATUS_MORE_PROCESSING_REQUIRED => {}
        STATUS_SUCCESS => {
            s.outcome = Outcome::Success;
            let flags = le16(body, 2).unwrap_or(0);
            if flags & (SESSION_FLAG_IS_GUEST | SESSION_FLAG_IS_NULL) != 0 {
                s.anonymous = true;
            }
            d.guest |= flags & SESSION_FLAG_IS_GUEST != 0;
            d.null_session |= flags & SESSION_FLAG_IS_NULL != 0;
            d.encrypt_data |= flags & SESSION_FLAG_ENCRYPT_DATA != 0;
        }
        _ => s.outcome = Outcome::Failure,
    }
}

/// MS-SMB2 2.2.9: StructureSize (9), Flags, PathOffset @4, PathLength @6 (UTF-16LE).
fn tree_request(h: &Header, m: &[u8], body: &[u8], d: &mut Smb) {
    if d.trees.len() >= MAX_TREES {
        d.trees_more = d.trees_more.saturating_add(1);
        return;
    }
    let flags = le16(body, 2).unwrap_or(0);
    let path = if flags & TREE_CONNECT_FLAG_EXTENSION_PRESENT != 0 {
        None
    } else {
        le16(body, 4)
            .zip(le16(body, 6))
            .and_then(|(off, len)| buffer(m, usize::from(off), usize::from(len)))
            .map(utf16)
    };
    d.trees.push(Tree {
        path,
        share_type: None,
        encrypt: false,
        status: None,
        message_id: h.message_id,
    });
}

/// MS-SMB2 2.2.10: StructureSize (16), ShareType @2, Reserved, ShareFlags @4, Capabilities,
/// MaximalAccess.
fn tree_response(h: &Header, body: &[u8], d: &mut Smb) {
    let Some(t) = d.trees.iter_mut().find(|t| t.message_id == h.message_id) else {
        return;
    };
    if h.status != STATUS_SUCCESS {
        t.status = Some(h.status);
        return;
    }
    t.share_type = body.get(2).map(|ty| match ty {
        1 => ShareType::Disk,
        2 => ShareType::Pipe,
        3 => ShareType::Print,
        _ => ShareType::Unknown,
    });
    t.encrypt = le32(body, 4).is_some_and(|f| f & SHAREFLAG_ENCRYPT_DATA != 0);
}

/// SMB1 (MS-CIFS 2.2.3.1): Protocol, Command @4, Status @5, Flags @9, Flags2 @10,
/// SecurityFeatures @14 (the signature), Reserved, TID @24, PIDLow, UID @28, MID @30; then
/// WordCount, Words, ByteCount, Bytes. Only negotiation and session setup are read.
fn smb1(frame: &[u8], pass: Pass, d: &mut Smb, w: &mut Walk, ev: &mut Evidence) {
    let (Some(&command), Some(&flags), Some(flags2)) =
        (frame.get(4), frame.get(9), le16(frame, 10))
    else {
        return;
    };
    let reply = flags & SMB1_FLAGS_REPLY != 0;
    if reply != (pass == Pass::Responses) {
        return;
    }
    d.smb1_messages = d.smb1_messages.saturating_add(1);
    let signed = flags2 & SMB1_FLAGS2_SECURITY_SIGNATURE != 0
        && frame.get(14..22).is_some_and(|s| s.iter().any(|&b| b != 0));
    if signed {
        d.signed = d.signed.saturating_add(1);
    }
    let status = le32(frame, 5).unwrap_or(0);
    let mid = le16(frame, 30).unwrap_or(0);
    let uid = le16(frame, 28).unwrap_or(0);
    let word_count = usize::from(frame.get(SMB1_HDR_LEN).copied().unwrap_or(0));
    let words = frame
        .get(SMB1_HDR_LEN + 1..SMB1_HDR_LEN + 1 + 2 * word_count)
        .unwrap_or(&[]);
    let bytes_at = SMB1_HDR_LEN + 1 + 2 * word_count + 2;
    let byte_count = usize::from(le16(frame, bytes_at - 2).unwrap_or(0));
    let bytes = frame
        .get(bytes_at..)
        .map(|b| b.get(..byte_count).unwrap_or(b))
        .unwrap_or(&[]);
    if !signed && command != SMB1_COM_SESSION_SETUP_ANDX {
        unsigned_in(w, u64::from(uid));
    }
    match (command, reply) {
        (SMB1_COM_NEGOTIATE, false) => {
            // MS-CIFS 2.2.4.52.1: Dialects are 0x02 and a NUL-terminated string, repeated.
            for s in bytes.split(|&b| b == 0).filter(|s| !s.is_empty()) {
                if d.smb1_dialects.len() >= MAX_DIALECTS {
                    break;
                }
                let name = s.strip_prefix(&[0x02]).unwrap_or(s);
                d.smb1_dialects.push(super::wire_text(name));
            }
        }
        (SMB1_COM_NEGOTIATE, true) => {
            // MS-CIFS 2.2.4.52.2 (NT LM 0.12): DialectIndex, SecurityMode, …
            let Some(index) = le16(words, 0) else {
                return;
            };
            d.smb1_dialect = Some(
                d.smb1_dialects
                    .get(usize::from(index))
                    .cloned()
                    .unwrap_or_else(|| index.to_string()),
            );
            if let Some(&mode) = words.get(2) {
                d.server_signing = Some(Signing::of(
                    mode & SMB1_SIGNATURES_ENABLED != 0,
                    mode & SMB1_SIGNATURES_REQUIRED != 0,
                ));
                w.smb1_plaintext = word_count >= 13 && mode & SMB1_ENCRYPT_PASSWORDS == 0;
            }
        }
        (SMB1_COM_SESSION_SETUP_ANDX, false) => {
            let Some(i) = session_for(w, u64::from(uid)) else {
                return;
            };
            if w.smb1_setups.len() < MAX_PENDING {
                w.smb1_setups.push((mid, i));
            }
            if let Some(s) = w.sessions.get_mut(i) {
                smb1_setup(s, word_count, words, bytes, flags2, ev);
            }
        }
        (SMB1_COM_SESSION_SETUP_ANDX, true) => {
            let Some(i) = w
                .smb1_setups
                .iter()
                .find(|(m, _)| *m == mid)
                .map(|(_, i)| *i)
            else {
                return;
            };
            let Some(s) = w.sessions.get_mut(i) else {
                return;
            };
            if uid != 0 {
                s.id = Some(u64::from(uid));
            }
            // MS-SMB 2.2.4.6.2: with extended security the blob follows the words.
            if word_count == 4 {
                let len = usize::from(le16(words, 6).unwrap_or(0));
                if let Some(b) = bytes.get(..len) {
                    blob(s, b, ev);
                }
            }
            match status {
                STATUS_MORE_PROCESSING_REQUIRED => {}
                STATUS_SUCCESS => {
                    s.outcome = Outcome::Success;
                    if le16(words, 4).is_some_and(|a| a & SMB1_SETUP_GUEST != 0) {
                        s.anonymous = true;
                        d.guest = true;
                    }
                }
                _ => s.outcome = Outcome::Failure,
            }
        }
        _ => {}
    }
}

/// An SMB1 SESSION_SETUP_ANDX request: with extended security (MS-SMB 2.2.4.6.1, 12 words) the
/// blob; without (MS-CIFS 2.2.4.53.1, 13 words) the passwords' lengths and the account name.
fn smb1_setup(
    s: &mut Session,
    word_count: usize,
    words: &[u8],
    bytes: &[u8],
    flags2: u16,
    ev: &mut Evidence,
) {
    match word_count {
        12 => {
            let len = usize::from(le16(words, 14).unwrap_or(0));
            if let Some(b) = bytes.get(..len) {
                blob(s, b, ev);
            }
        }
        13 => {
            let oem = usize::from(le16(words, 14).unwrap_or(0));
            let unicode = usize::from(le16(words, 16).unwrap_or(0));
            s.legacy = Some((oem, unicode));
            // AccountName follows the passwords; in Unicode it is aligned to 2 bytes from the
            // SMB header, which starts 33 + 2 × 13 + 2 = 61 bytes before `bytes`.
            let mut at = oem.saturating_add(unicode);
            let unicode_names = flags2 & SMB1_FLAGS2_UNICODE != 0;
            if unicode_names && (61 + at) % 2 != 0 {
                at += 1;
            }
            let name = bytes.get(at..).map(|b| {
                if unicode_names {
                    utf16(b)
                } else {
                    super::wire_text(b.split(|&c| c == 0).next().unwrap_or(&[]))
                }
            });
            s.user = name.filter(|n| !n.is_empty());
        }
        _ => {}
    }
}

/// How an SMB1 session without extended security authenticated, now that the server's
/// SecurityMode is known.
fn legacy_mechanism(s: &mut Session, plaintext: bool, ev: &mut Evidence) {
    let Some((oem, unicode)) = s.legacy else {
        return;
    };
    if oem <= 1 && unicode <= 1 {
        s.mechanism = Some(Mechanism::Anonymous);
        s.anonymous = true;
    } else if plaintext {
        // MS-CIFS 3.2.4.2.4: the server asked for plaintext, so the fields hold the password.
        s.mechanism = Some(Mechanism::Password);
        s.clear_credentials = true;
    } else {
        s.mechanism = Some(Mechanism::Ntlm);
        // 24-byte responses are LM / NTLMv1 (MS-NLMP 3.3.1).
        if unicode == 24 || (unicode == 0 && oem == 24) {
            ev.facts.add(Fact::NtlmV1);
        }
    }
}

fn conclude(input: &Input<'_>, d: &mut Smb, w: &mut Walk, ev: &mut Evidence) {
    let plaintext = w.smb1_plaintext;
    for s in &mut w.sessions {
        legacy_mechanism(s, plaintext, ev);
    }
    for s in &w.sessions {
        let Some(mech) = s.mechanism else {
            if !s.anonymous {
                continue;
            }
            ev.facts.add(Fact::AnonymousAccess);
            let mut a = AuthSeen::new(Mechanism::Anonymous);
            a.outcome = s.outcome;
            ev.push_auth(a);
            continue;
        };
        if s.anonymous {
            ev.facts.add(Fact::AnonymousAccess);
        }
        let mut a = AuthSeen::new(if s.anonymous {
            Mechanism::Anonymous
        } else {
            mech
        });
        a.clear_credentials = s.clear_credentials;
        a.outcome = s.outcome;
        a.user.clone_from(&s.user);
        a.domain.clone_from(&s.domain);
        ev.push_auth(a);
    }
    if w.malformed {
        ev.facts.add(Fact::Malformed);
    }
    let share_encrypt = d.trees.iter().any(|t| t.encrypt);
    let clear_in_session = w
        .sessions
        .iter()
        .any(|s| s.outcome == Outcome::Success && s.id.is_some_and(|id| w.unsigned.contains(&id)));
    ev.protection = if d.encrypted > 0 || d.encrypt_data || share_encrypt {
        Protection::SmbEncrypted
    } else if d.signed > 0 {
        Protection::SmbSigned
    } else if clear_in_session || !(input.client_cut || input.server_cut) {
        // An established session spoke in clear, or the whole conversation was seen and
        // nothing in it was signed or encrypted.
        Protection::Clear
    } else {
        Protection::Unknown
    };
}

#[cfg(test)]
mod tests;
