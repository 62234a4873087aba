//! Connection-oriented DCE/RPC over TCP (C706 chapter 12, MS-RPCE 2.2.2): which interfaces a flow
//! binds, with which authentication type and level, what the server answered, and which
//! operations the client called. Packet privacy (level 6) is the only level that encrypts the
//! stubs; everything below it is reported as such.
//!
//! Own parser: no maintained Rust crate parses connection-oriented DCE/RPC PDUs for inspection
//! (the crates that speak DCE/RPC are clients that build PDUs, not readers of captured ones).
//! What is needed is small and fixed by C706: the 16-byte common header, the presentation
//! context lists of bind / alter_context and their answers, the request header's opnum and the
//! auth verifier at the end of each PDU. [`pdus`] walks the PDUs of one direction and is public,
//! with the bind and request views below, so the endpoint-mapper reader can reuse it.
//!
//! The auth verifier's value (NTLM or Kerberos tokens, signatures) is handed to
//! [`Evidence::security_blob`] and never kept; [`AuthVerifier`]'s `Debug` prints its length only.

#![deny(clippy::indexing_slicing)]

use std::fmt;

use serde::{Serialize, Serializer};

use super::{AuthSeen, Evidence, Fact, Input, Mechanism, Outcome, Protection, Service, auth};

/// C706 12.6.1: the common header of every connection-oriented PDU.
/// ```text
/// 0 rpc_vers (5)  1 rpc_vers_minor (0|1)  2 PTYPE  3 pfc_flags  4..8 packed_drep
/// 8 frag_length u16  10 auth_length u16  12 call_id u32
/// ```
pub const HDR_LEN: usize = 16;
/// C706 13.2.6.1 / MS-RPCE 2.2.2.11: auth_type, auth_level, auth_pad_length, auth_reserved,
/// auth_context_id (u32), then auth_length bytes of credentials.
const SEC_TRAILER_LEN: usize = 8;
/// Most PDUs walked in one direction. A 4 KiB prefix holds at most 256 headers; the cap keeps a
/// larger configured prefix cheap as well.
pub const MAX_PDUS: usize = 512;
/// Presentation contexts kept per flow (a bind offers one to three; DCOM a few more).
pub const MAX_CONTEXTS: usize = 16;
/// Distinct (context, opnum) pairs counted per flow.
pub const MAX_OPERATIONS: usize = 32;
/// bind / alter_context calls remembered while their answers are matched by call_id.
const MAX_BINDS: usize = 8;

/// C706 12.6.3.1 pfc_flags.
const PFC_FIRST_FRAG: u8 = 0x01;
const PFC_OBJECT_UUID: u8 = 0x80;

/// `ncacn_http` (MS-RPCH 2.1.1.1): RPC over HTTP v1 and the RPC proxy's back end (Exchange's
/// 6001–6004) start each direction with this string, then carry ordinary PDUs.
const NCACN_HTTP: &[u8] = b"ncacn_http/1.0";

/// C706 12.6.4 PTYPE values (20 is MS-RPCH's RTS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PduType {
    Request,
    Response,
    Fault,
    Bind,
    BindAck,
    BindNak,
    AlterContext,
    AlterContextResp,
    Auth3,
    Shutdown,
    CoCancel,
    Orphaned,
    Rts,
    /// A connectionless type (1, 4–10) on a connection: kept, never interpreted.
    Other(u8),
}

impl From<u8> for PduType {
    fn from(v: u8) -> Self {
        match v {
            0 => PduType::Request,
            2 => PduType::Response,
            3 => PduType::Fault,
            11 => PduType::Bind,
            12 => PduType::BindAck,
            13 => PduType::BindNak,
            14 => PduType::AlterContext,
            15 => PduType::AlterContextResp,
            16 => PduType::Auth3,
            17 => PduType::Shutdown,
            18 => PduType::CoCancel,
            19 => PduType::Orphaned,
            20 => PduType::Rts,
            other => PduType::Other(other),
        }
    }
}

/// MS-RPCE 2.2.1.1.7 security providers (the sec_trailer's auth_type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthType {
    None,
    /// 9, RPC_C_AUTHN_GSS_NEGOTIATE: SPNEGO.
    Spnego,
    /// 10, RPC_C_AUTHN_WINNT: NTLM.
    Ntlm,
    /// 14, RPC_C_AUTHN_GSS_SCHANNEL.
    Schannel,
    /// 16, RPC_C_AUTHN_GSS_KERBEROS.
    Kerberos,
    /// 68, RPC_C_AUTHN_NETLOGON: the Netlogon secure channel.
    Netlogon,
    Other(u8),
}

impl From<u8> for AuthType {
    fn from(v: u8) -> Self {
        match v {
            0 => AuthType::None,
            9 => AuthType::Spnego,
            10 => AuthType::Ntlm,
            14 => AuthType::Schannel,
            16 => AuthType::Kerberos,
            68 => AuthType::Netlogon,
            other => AuthType::Other(other),
        }
    }
}

impl Serialize for AuthType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AuthType::None => s.serialize_str("none"),
            AuthType::Spnego => s.serialize_str("spnego"),
            AuthType::Ntlm => s.serialize_str("ntlm"),
            AuthType::Schannel => s.serialize_str("schannel"),
            AuthType::Kerberos => s.serialize_str("kerberos"),
            AuthType::Netlogon => s.serialize_str("netlogon"),
            AuthType::Other(v) => s.collect_str(v),
        }
    }
}

/// MS-RPCE 2.2.1.1.8 authentication levels. Only [`AuthLevel::Privacy`] encrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthLevel {
    Default,
    None,
    Connect,
    Call,
    Packet,
    Integrity,
    Privacy,
    Other(u8),
}

impl From<u8> for AuthLevel {
    fn from(v: u8) -> Self {
        match v {
            0 => AuthLevel::Default,
            1 => AuthLevel::None,
            2 => AuthLevel::Connect,
            3 => AuthLevel::Call,
            4 => AuthLevel::Packet,
            5 => AuthLevel::Integrity,
            6 => AuthLevel::Privacy,
            other => AuthLevel::Other(other),
        }
    }
}

impl Serialize for AuthLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AuthLevel::Default => s.serialize_str("default"),
            AuthLevel::None => s.serialize_str("none"),
            AuthLevel::Connect => s.serialize_str("connect"),
            AuthLevel::Call => s.serialize_str("call"),
            AuthLevel::Packet => s.serialize_str("packet"),
            AuthLevel::Integrity => s.serialize_str("integrity"),
            AuthLevel::Privacy => s.serialize_str("privacy"),
            AuthLevel::Other(v) => s.collect_str(v),
        }
    }
}

/// A UUID in its canonical (RFC 4122, big-endian) byte order, whatever the PDU's order was.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub const fn from_u128(v: u128) -> Self {
        Uuid(v.to_be_bytes())
    }

    /// C706 appendix A: a uuid_t on the wire is time_low u32, time_mid u16, time_hi u16 in the
    /// PDU's integer order, then eight bytes as they are.
    pub fn parse(b: &[u8], le: bool) -> Option<Uuid> {
        let time_low = u32_at(b, 0, le)?;
        let time_mid = u16_at(b, 4, le)?;
        let time_hi = u16_at(b, 6, le)?;
        let tail: [u8; 8] = b.get(8..16)?.try_into().ok()?;
        let mut out = [0u8; 16];
        let parts = time_low
            .to_be_bytes()
            .into_iter()
            .chain(time_mid.to_be_bytes())
            .chain(time_hi.to_be_bytes())
            .chain(tail);
        for (o, p) in out.iter_mut().zip(parts) {
            *o = p;
        }
        Some(Uuid(out))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Uuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// C706 p_syntax_id_t: an interface (or transfer syntax) UUID and its version. The version is
/// one u32 whose low half is the major number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxId {
    pub uuid: Uuid,
    pub major: u16,
    pub minor: u16,
}

/// Bytes of a p_syntax_id_t.
const SYNTAX_LEN: usize = 20;

impl SyntaxId {
    fn parse(b: &[u8], le: bool) -> Option<SyntaxId> {
        let uuid = Uuid::parse(b, le)?;
        let v = u32_at(b, 16, le)?;
        Some(SyntaxId {
            uuid,
            major: u16::try_from(v & 0xffff).ok()?,
            minor: u16::try_from(v >> 16).ok()?,
        })
    }
}

/// The NDR transfer syntax (C706 14), version 2.
const NDR: Uuid = Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860);
/// NDR64 (MS-RPCE 2.2.5.1.1).
const NDR64: Uuid = Uuid::from_u128(0x71710533_beba_4937_8319_b5dbef9ccc36);
/// MS-RPCE 3.3.1.5.3: bind time feature negotiation: this prefix, then a bit mask.
const BIND_TIME_FEATURE_PREFIX: [u8; 8] = [0x6c, 0xb7, 0x1c, 0x2c, 0x98, 0x12, 0x45, 0x40];

/// Which transfer syntax a presentation context uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Ndr,
    Ndr64,
    /// Not a syntax: the client's offer of bind time features (MS-RPCE 3.3.1.5.3).
    BindTimeFeatures,
    Other(Uuid),
}

impl From<Uuid> for Transfer {
    fn from(u: Uuid) -> Self {
        if u == NDR {
            Transfer::Ndr
        } else if u == NDR64 {
            Transfer::Ndr64
        } else if u.0.starts_with(&BIND_TIME_FEATURE_PREFIX) {
            Transfer::BindTimeFeatures
        } else {
            Transfer::Other(u)
        }
    }
}

impl Serialize for Transfer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Transfer::Ndr => s.serialize_str("ndr"),
            Transfer::Ndr64 => s.serialize_str("ndr64"),
            Transfer::BindTimeFeatures => s.serialize_str("bind-time-features"),
            Transfer::Other(u) => s.collect_str(u),
        }
    }
}

/// What the server said of one offered presentation context (C706 p_cont_def_result_t,
/// MS-RPCE 2.2.2.4 adds negotiate_ack).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextResult {
    /// No answer seen.
    #[default]
    Unknown,
    Accepted,
    UserRejection,
    ProviderRejection,
    /// The answer to a bind-time-feature offer.
    NegotiateAck,
}

impl From<u16> for ContextResult {
    fn from(v: u16) -> Self {
        match v {
            0 => ContextResult::Accepted,
            1 => ContextResult::UserRejection,
            2 => ContextResult::ProviderRejection,
            3 => ContextResult::NegotiateAck,
            _ => ContextResult::Unknown,
        }
    }
}

/// The sec_trailer and credentials at the end of a PDU (C706 13.2.6.1).
#[derive(Clone, Copy)]
pub struct AuthVerifier<'a> {
    pub auth_type: AuthType,
    pub level: AuthLevel,
    pub context_id: u32,
    value: &'a [u8],
}

impl<'a> AuthVerifier<'a> {
    /// The credentials: a token for the security provider. Pass it on; never keep it.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }
}

impl fmt::Debug for AuthVerifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthVerifier")
            .field("auth_type", &self.auth_type)
            .field("level", &self.level)
            .field("context_id", &self.context_id)
            .field("value_len", &self.value.len())
            .finish()
    }
}

/// One PDU, borrowed from a payload prefix.
#[derive(Clone, Copy, Debug)]
pub struct Pdu<'a> {
    pub ptype: PduType,
    pub minor: u8,
    pub flags: u8,
    /// NDR integer representation (drep[0] & 0x10): every multi-byte field follows it.
    pub little_endian: bool,
    pub frag_len: u16,
    pub auth_len: u16,
    pub call_id: u32,
    /// From the end of the common header to the sec_trailer (or to the end of the PDU): the
    /// type's own fields and the stub. Shorter than the PDU says when `cut`.
    pub body: &'a [u8],
    /// Present when `auth_len` is not zero and the whole PDU is in the prefix.
    pub auth: Option<AuthVerifier<'a>>,
    /// The prefix ends inside this PDU.
    pub cut: bool,
}

/// Why a walk stopped before the end of its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The bytes end inside a PDU (the last one yielded is `cut`) or inside a header.
    Cut,
    /// A header that is not a connection-oriented DCE/RPC header, or lengths that contradict
    /// each other.
    Malformed,
    /// [`MAX_PDUS`] were walked.
    Cap,
}

/// Whether `b` starts with a plausible connection-oriented header (C706 12.6.3.1): version 5.0
/// or 5.1, a known PTYPE, a valid data representation and a frag_length that holds the header.
pub fn looks_like(b: &[u8]) -> bool {
    let Some(h) = b.first_chunk::<HDR_LEN>() else {
        return false;
    };
    header_ok(h)
}

fn header_ok(h: &[u8; HDR_LEN]) -> bool {
    let [vers, minor, ptype, _flags, drep0, drep1, ..] = *h;
    let le = drep0 & 0x10 != 0;
    // drep[0]: high nibble integer (0 big, 1 little endian), low nibble character set (0 ASCII,
    // 1 EBCDIC); drep[1]: floating point (0 IEEE … 3 IBM).
    vers == 5
        && minor <= 1
        && ptype <= 20
        && drep0 & 0xee == 0
        && drep1 <= 3
        && u16_at(h, 8, le).is_some_and(|n| usize::from(n) >= HDR_LEN)
}

/// The PDUs in `bytes`, in order, up to [`MAX_PDUS`]. Each step is bounded by the PDU's
/// frag_length, which is checked against the bytes held; a PDU the bytes end inside is yielded
/// once with `cut` set and ends the walk. `stop` says why the walk ended early.
pub fn pdus(bytes: &[u8]) -> Pdus<'_> {
    Pdus {
        rest: bytes,
        walked: 0,
        stop: None,
    }
}

/// The iterator [`pdus`] returns.
#[derive(Clone, Debug)]
pub struct Pdus<'a> {
    rest: &'a [u8],
    walked: usize,
    pub stop: Option<Stop>,
}

impl<'a> Iterator for Pdus<'a> {
    type Item = Pdu<'a>;

    fn next(&mut self) -> Option<Pdu<'a>> {
        if self.stop.is_some() || self.rest.is_empty() {
            return None;
        }
        if self.walked >= MAX_PDUS {
            self.stop = Some(Stop::Cap);
            return None;
        }
        match parse_pdu(self.rest) {
            Ok((pdu, rest)) => {
                self.walked += 1;
                self.rest = rest;
                if pdu.cut {
                    self.stop = Some(Stop::Cut);
                }
                Some(pdu)
            }
            Err(stop) => {
                self.stop = Some(stop);
                None
            }
        }
    }
}

fn parse_pdu(input: &[u8]) -> Result<(Pdu<'_>, &[u8]), Stop> {
    let Some(h) = input.first_chunk::<HDR_LEN>() else {
        // A few bytes of a header: cut if what is there can start one.
        return match input.first() {
            Some(&5) | None => Err(Stop::Cut),
            Some(_) => Err(Stop::Malformed),
        };
    };
    if !header_ok(h) {
        return Err(Stop::Malformed);
    }
    let [_, minor, ptype, flags, drep0, ..] = *h;
    let le = drep0 & 0x10 != 0;
    let frag_len = u16_at(h, 8, le).ok_or(Stop::Malformed)?;
    let auth_len = u16_at(h, 10, le).ok_or(Stop::Malformed)?;
    let call_id = u32_at(h, 12, le).ok_or(Stop::Malformed)?;
    let frag = usize::from(frag_len);
    // The sec_trailer and the credentials sit at the end of the fragment, after the body.
    let body_end = if auth_len == 0 {
        frag
    } else {
        frag.checked_sub(usize::from(auth_len) + SEC_TRAILER_LEN)
            .filter(|&e| e >= HDR_LEN)
            .ok_or(Stop::Malformed)?
    };
    let (pdu_bytes, rest, cut) = match input.split_at_checked(frag) {
        Some((p, r)) => (p, r, false),
        None => (input, &[][..], true),
    };
    let body = pdu_bytes
        .get(HDR_LEN..body_end.min(pdu_bytes.len()))
        .unwrap_or(&[]);
    let auth = if auth_len == 0 || cut {
        None
    } else {
        let t = pdu_bytes
            .get(body_end..body_end + SEC_TRAILER_LEN)
            .ok_or(Stop::Malformed)?;
        let (&[auth_type, level, _pad, _reserved], ctx) =
            t.split_first_chunk::<4>().ok_or(Stop::Malformed)?;
        Some(AuthVerifier {
            auth_type: AuthType::from(auth_type),
            level: AuthLevel::from(level),
            context_id: u32_at(ctx, 0, le).ok_or(Stop::Malformed)?,
            value: pdu_bytes.get(body_end + SEC_TRAILER_LEN..).unwrap_or(&[]),
        })
    };
    Ok((
        Pdu {
            ptype: PduType::from(ptype),
            minor,
            flags,
            little_endian: le,
            frag_len,
            auth_len,
            call_id,
            body,
            auth,
            cut,
        },
        rest,
    ))
}

/// One presentation context offered in a bind or alter_context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferedContext {
    pub id: u16,
    pub abstract_syntax: SyntaxId,
    /// The first transfer syntax offered.
    pub transfer: Option<SyntaxId>,
    pub transfer_count: u8,
}

/// One entry of a bind_ack / alter_context_resp result list, in the order of the offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextAnswer {
    pub result: ContextResult,
    pub reason: u16,
    pub transfer: Option<SyntaxId>,
}

/// The fields of a request PDU (C706 12.6.4.9).
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub context_id: u16,
    pub opnum: u16,
    pub object: Option<Uuid>,
    /// The stub as far as the prefix holds it (encrypted at packet privacy).
    pub stub: &'a [u8],
}

impl<'a> Pdu<'a> {
    /// The presentation contexts of a bind or alter_context (C706 12.6.4.3):
    /// ```text
    /// max_xmit_frag u16, max_recv_frag u16, assoc_group_id u32,
    /// n_context_elem u8, reserved u8, reserved2 u16,
    /// { p_cont_id u16, n_transfer_syn u8, reserved u8, abstract_syntax, transfer_syntaxes[n] }*
    /// ```
    /// Stops at the end of the body (a cut offer gives the contexts it holds).
    pub fn contexts(&self) -> impl Iterator<Item = OfferedContext> + 'a {
        let le = self.little_endian;
        let is_bind = matches!(self.ptype, PduType::Bind | PduType::AlterContext);
        let count = if is_bind {
            self.body.get(8).copied().unwrap_or(0)
        } else {
            0
        };
        let mut rest = self.body.get(12..).unwrap_or(&[]);
        (0..count).map_while(move |_| {
            let id = u16_at(rest, 0, le)?;
            let n = *rest.get(2)?;
            let abstract_syntax = SyntaxId::parse(rest.get(4..)?, le)?;
            let transfer = rest.get(24..).and_then(|t| SyntaxId::parse(t, le));
            let len = 24 + SYNTAX_LEN * usize::from(n);
            rest = rest.get(len..).unwrap_or(&[]);
            Some(OfferedContext {
                id,
                abstract_syntax,
                transfer: transfer.filter(|_| n > 0),
                transfer_count: n,
            })
        })
    }

    /// The result list of a bind_ack or alter_context_resp (C706 12.6.4.4):
    /// ```text
    /// max_xmit_frag u16, max_recv_frag u16, assoc_group_id u32,
    /// sec_addr { length u16, port_spec[length] }, pad to 4 (from the PDU's start),
    /// n_results u8, reserved u8, reserved2 u16, { result u16, reason u16, transfer_syntax }*
    /// ```
    pub fn answers(&self) -> impl Iterator<Item = ContextAnswer> + 'a {
        let le = self.little_endian;
        let is_ack = matches!(self.ptype, PduType::BindAck | PduType::AlterContextResp);
        let list = u16_at(self.body, 8, le)
            .filter(|_| is_ack)
            .and_then(|addr_len| {
                // Offsets in the PDU: header 16 + 10 bytes + the address, then 4-byte alignment.
                let after = HDR_LEN + 10 + usize::from(addr_len);
                let aligned = after.div_ceil(4) * 4;
                self.body.get(aligned - HDR_LEN..)
            })
            .unwrap_or(&[]);
        let count = list.first().copied().unwrap_or(0);
        let mut rest = list.get(4..).unwrap_or(&[]);
        (0..count).map_while(move |_| {
            let result = u16_at(rest, 0, le)?;
            let reason = u16_at(rest, 2, le)?;
            let transfer = rest.get(4..).and_then(|t| SyntaxId::parse(t, le));
            rest = rest.get(4 + SYNTAX_LEN..).unwrap_or(&[]);
            Some(ContextAnswer {
                result: ContextResult::from(result),
                reason,
                transfer,
            })
        })
    }

    /// A bind_ack's secondary address (port_any_t: length u16, then that many bytes, which
    /// should end in a NUL but need not), without trailing NULs; `None` when empty.
    pub fn secondary_address(&self) -> Option<&'a [u8]> {
        if self.ptype != PduType::BindAck {
            return None;
        }
        let len = usize::from(u16_at(self.body, 8, self.little_endian)?);
        let mut addr = self.body.get(10..10 + len)?;
        while let Some((0, head)) = addr.split_last() {
            addr = head;
        }
        (!addr.is_empty()).then_some(addr)
    }

    /// A request's context, opnum and stub (C706 12.6.4.9): alloc_hint u32, p_cont_id u16,
    /// opnum u16, the object UUID when PFC_OBJECT_UUID is set, then the stub.
    pub fn request(&self) -> Option<Request<'a>> {
        if self.ptype != PduType::Request {
            return None;
        }
        let le = self.little_endian;
        let context_id = u16_at(self.body, 4, le)?;
        let opnum = u16_at(self.body, 6, le)?;
        let (object, stub_at) = if self.flags & PFC_OBJECT_UUID != 0 {
            (self.body.get(8..).and_then(|b| Uuid::parse(b, le)), 24)
        } else {
            (None, 8)
        };
        Some(Request {
            context_id,
            opnum,
            object,
            stub: self.body.get(stub_at..).unwrap_or(&[]),
        })
    }

    /// A response's context and stub (C706 12.6.4.10): alloc_hint u32, p_cont_id u16,
    /// cancel_count u8, reserved u8, stub.
    pub fn response(&self) -> Option<(u16, &'a [u8])> {
        if self.ptype != PduType::Response {
            return None;
        }
        let context_id = u16_at(self.body, 4, self.little_endian)?;
        Some((context_id, self.body.get(8..).unwrap_or(&[])))
    }

    /// A fault's status (C706 12.6.4.7): alloc_hint u32, p_cont_id u16, cancel_count u8,
    /// reserved u8, status u32.
    pub fn fault_status(&self) -> Option<u32> {
        if self.ptype != PduType::Fault {
            return None;
        }
        u32_at(self.body, 8, self.little_endian)
    }

    /// A bind_nak's provider_reject_reason (C706 12.6.4.5).
    pub fn nak_reason(&self) -> Option<u16> {
        if self.ptype != PduType::BindNak {
            return None;
        }
        u16_at(self.body, 0, self.little_endian)
    }
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    })
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

/// A known RPC interface: its UUID, the name Zeek's dce_rpc.log uses where it has one, and the
/// names of its common operations by opnum.
#[derive(Debug)]
pub struct Interface {
    pub uuid: Uuid,
    pub name: &'static str,
    ops: &'static [(u16, &'static str)],
}

impl Interface {
    /// The operation's name, where the table has it.
    pub fn operation(&self, opnum: u16) -> Option<&'static str> {
        self.ops.iter().find(|(n, _)| *n == opnum).map(|(_, s)| *s)
    }
}

/// The interface a UUID names, if it is one we know.
pub fn interface(uuid: &Uuid) -> Option<&'static Interface> {
    INTERFACES.iter().find(|i| i.uuid == *uuid)
}

/// The interface of this name (as [`Interface::name`] spells it).
pub fn interface_named(name: &str) -> Option<&'static Interface> {
    INTERFACES.iter().find(|i| i.name == name)
}

const fn iface(uuid: u128, name: &'static str, ops: &'static [(u16, &'static str)]) -> Interface {
    Interface {
        uuid: Uuid::from_u128(uuid),
        name,
        ops,
    }
}

/// Interfaces by UUID. Each UUID was checked against the specification named beside it (and
/// against impacket's constants for the same specification); the opnums come from the
/// specifications' "Methods in RPC Opnum Order" tables.
pub static INTERFACES: &[Interface] = &[
    // MS-OXCRPC 1.9 / 3.1.4: the Exchange store (Outlook's MAPI over RPC).
    iface(0xa4f1db00_ca47_1067_b31f_00dd010662da, "emsmdb", EMSMDB_OPS),
    // MS-OXCRPC 1.9 / 3.3.4.
    iface(
        0x5261574a_4572_206e_b268_6b199213b4e4,
        "asyncemsmdb",
        &[(0, "EcDoAsyncWaitEx")],
    ),
    // MS-NSPI 1.9: the address book.
    iface(0xf5cc5a18_4264_101a_8c59_08002b2f8426, "nspi", NSPI_OPS),
    // MS-OXABREF 1.9: address book referral.
    iface(
        0x1544f5e0_613c_11d1_93df_00c04fd7bd09,
        "rfr",
        &[(0, "RfrGetNewDSA"), (1, "RfrGetFQDNFromServerDN")],
    ),
    // MS-DRSR 7 (IDL): directory replication.
    iface(
        0xe3514235_4b06_11d1_ab04_00c04fc2dcd2,
        "drsuapi",
        DRSUAPI_OPS,
    ),
    // MS-NRPC 1.9.
    iface(
        0x12345678_1234_abcd_ef00_01234567cffb,
        "netlogon",
        NETLOGON_OPS,
    ),
    // MS-LSAD / MS-LSAT 1.9 (one interface).
    iface(0x12345778_1234_abcd_ef00_0123456789ab, "lsarpc", LSARPC_OPS),
    // MS-SAMR 1.9.
    iface(0x12345778_1234_abcd_ef00_0123456789ac, "samr", SAMR_OPS),
    // MS-SCMR 1.9: the service control manager.
    iface(0x367abb81_9844_35f1_ad32_98f038001003, "svcctl", SVCCTL_OPS),
    // C706 appendix O / MS-RPCE 2.2.1.2.5: the endpoint mapper.
    iface(
        0xe1af8308_5d1f_11c9_91a4_08002b14a0fa,
        "epmapper",
        &[
            (0, "ept_insert"),
            (1, "ept_delete"),
            (2, "ept_lookup"),
            (3, "ept_map"),
            (4, "ept_lookup_handle_free"),
            (5, "ept_inq_object"),
            (6, "ept_mgmt_delete"),
        ],
    ),
    // MS-RPRN 1.9: the print spooler.
    iface(
        0x12345678_1234_abcd_ef00_0123456789ab,
        "spoolss",
        &[
            (0, "RpcEnumPrinters"),
            (1, "RpcOpenPrinter"),
            (10, "RpcEnumPrinterDrivers"),
            (12, "RpcGetPrinterDriverDirectory"),
            (29, "RpcClosePrinter"),
            (65, "RpcRemoteFindFirstPrinterChangeNotificationEx"),
            (69, "RpcOpenPrinterEx"),
            (89, "RpcAddPrinterDriverEx"),
        ],
    ),
    // MS-DCOM 1.9: the object resolver, activation and remote IUnknown.
    iface(
        0x99fcfec4_5260_101b_bbcb_00aa0021347a,
        "IObjectExporter",
        &[
            (0, "ResolveOxid"),
            (1, "SimplePing"),
            (2, "ComplexPing"),
            (3, "ServerAlive"),
            (4, "ResolveOxid2"),
            (5, "ServerAlive2"),
        ],
    ),
    iface(
        0x000001a0_0000_0000_c000_000000000046,
        "ISystemActivator",
        &[(3, "RemoteGetClassObject"), (4, "RemoteCreateInstance")],
    ),
    iface(
        0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57,
        "IActivation",
        &[(0, "RemoteActivation")],
    ),
    iface(
        0x00000131_0000_0000_c000_000000000046,
        "IRemUnknown",
        &[
            (3, "RemQueryInterface"),
            (4, "RemAddRef"),
            (5, "RemRelease"),
        ],
    ),
    iface(
        0x00000143_0000_0000_c000_000000000046,
        "IRemUnknown2",
        &[
            (3, "RemQueryInterface"),
            (4, "RemAddRef"),
            (5, "RemRelease"),
            (6, "RemQueryInterface2"),
        ],
    ),
    // MS-SRVS, MS-WKST, MS-RRP, MS-DSSP, MS-RPCE (mgmt), MS-TSCH, MS-EVEN, MS-BKRP, MS-WMI:
    // named only.
    iface(0x4b324fc8_1670_01d3_1278_5a47bf6ee188, "srvsvc", &[]),
    iface(0x6bffd098_a112_3610_9833_46c3f87e345a, "wkssvc", &[]),
    iface(0x338cd001_2244_31f1_aaaa_900038001003, "winreg", &[]),
    iface(
        0x3919286a_b10c_11d0_9ba8_00c04fd92ef5,
        "dssetup",
        &[(0, "DsRolerGetPrimaryDomainInformation")],
    ),
    iface(0xafa8bd80_7d8a_11c9_bef4_08002b102989, "mgmt", &[]),
    iface(0x1ff70682_0a51_30e8_076d_740be8cee98b, "atsvc", &[]),
    iface(
        0x86d35949_83c9_4044_b424_db363231fd0c,
        "ITaskSchedulerService",
        &[],
    ),
    iface(0x82273fdc_e32a_18c3_3f78_827929dc23ea, "eventlog", &[]),
    iface(0x3dde7c30_165d_11d1_ab8f_00805f14db40, "backupkey", &[]),
    iface(
        0xf309ad18_d86a_11d0_a075_00c04fb68820,
        "IWbemLevel1Login",
        &[],
    ),
    iface(0x9556dc99_828c_11cf_a37e_00aa003240c7, "IWbemServices", &[]),
];

/// MS-OXCRPC 3.1.4 (the other opnums are reserved, never sent).
const EMSMDB_OPS: &[(u16, &str)] = &[
    (1, "EcDoDisconnect"),
    (4, "EcRRegisterPushNotification"),
    (6, "EcDummyRpc"),
    (10, "EcDoConnectEx"),
    (11, "EcDoRpcExt2"),
    (14, "EcDoAsyncConnectEx"),
];

/// MS-NSPI 3.1.4.
const NSPI_OPS: &[(u16, &str)] = &[
    (0, "NspiBind"),
    (1, "NspiUnbind"),
    (2, "NspiUpdateStat"),
    (3, "NspiQueryRows"),
    (4, "NspiSeekEntries"),
    (5, "NspiGetMatches"),
    (6, "NspiResortRestriction"),
    (7, "NspiDNToMId"),
    (8, "NspiGetPropList"),
    (9, "NspiGetProps"),
    (10, "NspiCompareMIds"),
    (11, "NspiModProps"),
    (12, "NspiGetSpecialTable"),
    (13, "NspiGetTemplateInfo"),
    (14, "NspiModLinkAtt"),
    (16, "NspiQueryColumns"),
    (17, "NspiGetNamesFromIDs"),
    (18, "NspiGetIDsFromNames"),
    (19, "NspiResolveNames"),
    (20, "NspiResolveNamesW"),
];

/// MS-DRSR 4.1, without the IDL_ prefix, as Zeek names them.
const DRSUAPI_OPS: &[(u16, &str)] = &[
    (0, "DRSBind"),
    (1, "DRSUnbind"),
    (2, "DRSReplicaSync"),
    (3, "DRSGetNCChanges"),
    (4, "DRSUpdateRefs"),
    (5, "DRSReplicaAdd"),
    (6, "DRSReplicaDel"),
    (7, "DRSReplicaModify"),
    (8, "DRSVerifyNames"),
    (9, "DRSGetMemberships"),
    (10, "DRSInterDomainMove"),
    (11, "DRSGetNT4ChangeLog"),
    (12, "DRSCrackNames"),
    (13, "DRSWriteSPN"),
    (16, "DRSDomainControllerInfo"),
];

/// MS-NRPC 3.5.4.
const NETLOGON_OPS: &[(u16, &str)] = &[
    (0, "NetrLogonUasLogon"),
    (1, "NetrLogonUasLogoff"),
    (2, "NetrLogonSamLogon"),
    (3, "NetrLogonSamLogoff"),
    (4, "NetrServerReqChallenge"),
    (5, "NetrServerAuthenticate"),
    (7, "NetrDatabaseDeltas"),
    (8, "NetrDatabaseSync"),
    (11, "NetrGetDCName"),
    (12, "NetrLogonControl"),
    (13, "NetrGetAnyDCName"),
    (14, "NetrLogonControl2"),
    (15, "NetrServerAuthenticate2"),
    (16, "NetrDatabaseSync2"),
    (17, "NetrDatabaseRedo"),
    (18, "NetrLogonControl2Ex"),
    (19, "NetrEnumerateTrustedDomains"),
    (20, "DsrGetDcName"),
    (21, "NetrLogonGetCapabilities"),
    (22, "NetrLogonSetServiceBits"),
    (23, "NetrLogonGetTrustRid"),
    (24, "NetrLogonComputeServerDigest"),
    (25, "NetrLogonComputeClientDigest"),
    (26, "NetrServerAuthenticate3"),
    (27, "DsrGetDcNameEx"),
    (28, "DsrGetSiteName"),
    (29, "NetrLogonGetDomainInfo"),
    (30, "NetrServerPasswordSet2"),
    (31, "NetrServerPasswordGet"),
    (32, "NetrLogonSendToSam"),
    (33, "DsrAddressToSiteNamesW"),
    (34, "DsrGetDcNameEx2"),
    (35, "NetrLogonGetTimeServiceParentDomain"),
    (36, "NetrEnumerateTrustedDomainsEx"),
    (37, "DsrAddressToSiteNamesExW"),
    (38, "DsrGetDcSiteCoverageW"),
    (39, "NetrLogonSamLogonEx"),
    (40, "DsrEnumerateDomainTrusts"),
    (41, "DsrDeregisterDnsHostRecords"),
    (42, "NetrServerTrustPasswordsGet"),
    (43, "DsrGetForestTrustInformation"),
    (44, "NetrGetForestTrustInformation"),
    (45, "NetrLogonSamLogonWithFlags"),
    (46, "NetrServerGetTrustInfo"),
];

/// MS-LSAD 3.1.4 and MS-LSAT 3.1.4 (common ones).
const LSARPC_OPS: &[(u16, &str)] = &[
    (0, "LsarClose"),
    (2, "LsarEnumeratePrivileges"),
    (3, "LsarQuerySecurityObject"),
    (6, "LsarOpenPolicy"),
    (7, "LsarQueryInformationPolicy"),
    (8, "LsarSetInformationPolicy"),
    (11, "LsarEnumerateAccounts"),
    (13, "LsarEnumerateTrustedDomains"),
    (14, "LsarLookupNames"),
    (15, "LsarLookupSids"),
    (16, "LsarCreateSecret"),
    (28, "LsarOpenSecret"),
    (30, "LsarQuerySecret"),
    (35, "LsarEnumerateAccountsWithUserRight"),
    (36, "LsarEnumerateAccountRights"),
    (43, "LsarRetrievePrivateData"),
    (44, "LsarOpenPolicy2"),
    (45, "LsarGetUserName"),
    (46, "LsarQueryInformationPolicy2"),
    (50, "LsarEnumerateTrustedDomainsEx"),
    (57, "LsarLookupSids2"),
    (58, "LsarLookupNames2"),
    (68, "LsarLookupNames3"),
    (73, "LsarQueryForestTrustInformation"),
    (76, "LsarLookupSids3"),
    (77, "LsarLookupNames4"),
];

/// MS-SAMR 3.1.5 (common ones).
const SAMR_OPS: &[(u16, &str)] = &[
    (0, "SamrConnect"),
    (1, "SamrCloseHandle"),
    (3, "SamrQuerySecurityObject"),
    (5, "SamrLookupDomainInSamServer"),
    (6, "SamrEnumerateDomainsInSamServer"),
    (7, "SamrOpenDomain"),
    (8, "SamrQueryInformationDomain"),
    (11, "SamrEnumerateGroupsInDomain"),
    (12, "SamrCreateUserInDomain"),
    (13, "SamrEnumerateUsersInDomain"),
    (15, "SamrEnumerateAliasesInDomain"),
    (16, "SamrGetAliasMembership"),
    (17, "SamrLookupNamesInDomain"),
    (18, "SamrLookupIdsInDomain"),
    (19, "SamrOpenGroup"),
    (25, "SamrGetMembersInGroup"),
    (27, "SamrOpenAlias"),
    (33, "SamrGetMembersInAlias"),
    (34, "SamrOpenUser"),
    (36, "SamrQueryInformationUser"),
    (37, "SamrSetInformationUser"),
    (38, "SamrChangePasswordUser"),
    (39, "SamrGetGroupsForUser"),
    (40, "SamrQueryDisplayInformation"),
    (44, "SamrGetUserDomainPasswordInformation"),
    (47, "SamrQueryInformationUser2"),
    (50, "SamrCreateUser2InDomain"),
    (55, "SamrUnicodeChangePasswordUser2"),
    (56, "SamrGetDomainPasswordInformation"),
    (57, "SamrConnect2"),
    (58, "SamrSetInformationUser2"),
    (62, "SamrConnect4"),
    (64, "SamrConnect5"),
    (65, "SamrRidToSid"),
    (67, "SamrValidatePassword"),
];

/// MS-SCMR 3.1.4.
const SVCCTL_OPS: &[(u16, &str)] = &[
    (0, "RCloseServiceHandle"),
    (1, "RControlService"),
    (2, "RDeleteService"),
    (3, "RLockServiceDatabase"),
    (4, "RQueryServiceObjectSecurity"),
    (5, "RSetServiceObjectSecurity"),
    (6, "RQueryServiceStatus"),
    (7, "RSetServiceStatus"),
    (8, "RUnlockServiceDatabase"),
    (9, "RNotifyBootConfigStatus"),
    (11, "RChangeServiceConfigW"),
    (12, "RCreateServiceW"),
    (13, "REnumDependentServicesW"),
    (14, "REnumServicesStatusW"),
    (15, "ROpenSCManagerW"),
    (16, "ROpenServiceW"),
    (17, "RQueryServiceConfigW"),
    (18, "RQueryServiceLockStatusW"),
    (19, "RStartServiceW"),
    (20, "RGetServiceDisplayNameW"),
    (21, "RGetServiceKeyNameW"),
    (23, "RChangeServiceConfigA"),
    (24, "RCreateServiceA"),
    (25, "REnumDependentServicesA"),
    (26, "REnumServicesStatusA"),
    (27, "ROpenSCManagerA"),
    (28, "ROpenServiceA"),
    (29, "RQueryServiceConfigA"),
    (30, "RQueryServiceLockStatusA"),
    (31, "RStartServiceA"),
    (32, "RGetServiceDisplayNameA"),
    (33, "RGetServiceKeyNameA"),
    (35, "REnumServiceGroupW"),
    (37, "RChangeServiceConfig2W"),
    (39, "RQueryServiceConfig2W"),
    (40, "RQueryServiceStatusEx"),
    (42, "REnumServicesStatusExW"),
    (45, "RCreateServiceWOW64W"),
    (47, "RNotifyServiceStatusChange"),
    (48, "RGetNotifyResults"),
    (49, "RCloseNotifyHandle"),
    (51, "RControlServiceExW"),
    (56, "RQueryServiceConfigEx"),
];

/// One presentation context of the flow, as offered and answered.
#[derive(Debug, Serialize)]
pub struct Context {
    pub id: u16,
    pub uuid: Uuid,
    #[serde(serialize_with = "version")]
    pub version: (u16, u16),
    /// The interface's name, where [`INTERFACES`] knows it (Zeek's `endpoint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<&'static str>,
    /// The transfer syntax the server accepted, or else the first one offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    #[serde(skip_serializing_if = "is_unknown")]
    pub result: ContextResult,
}

fn version<S: Serializer>(v: &(u16, u16), s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{}.{}", v.0, v.1))
}

fn is_unknown(r: &ContextResult) -> bool {
    *r == ContextResult::Unknown
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Requests of one operation.
#[derive(Debug, Serialize)]
pub struct Operation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<&'static str>,
    pub opnum: u16,
    /// The operation's name, where the interface's table has it (Zeek's `operation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<&'static str>,
    pub count: u32,
    #[serde(skip)]
    context_id: u16,
}

/// What the DCE/RPC conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct DceRpc {
    /// Presentation contexts from binds and alter_contexts, in order, at most [`MAX_CONTEXTS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<Context>,
    #[serde(skip_serializing_if = "is_zero")]
    pub contexts_more: u32,
    /// The security provider and level of the association (the bind's auth verifier, or a
    /// request's when no bind was seen). Absent: no verifier, or none seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<AuthType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_level: Option<AuthLevel>,
    /// Requests by operation, at most [`MAX_OPERATIONS`]; the rest are counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    #[serde(skip_serializing_if = "is_zero")]
    pub operations_more: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub binds: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub alter_contexts: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub bind_naks: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub requests: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub responses: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub faults: u32,
    /// The first fault's status (nca_s_* or a Win32 / NTSTATUS code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_status: Option<u32>,
    /// The first bind_ack's secondary address (the server's port or pipe, C706 12.6.4.4),
    /// without its terminating NUL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sec_addr: Option<String>,
    /// RPC over HTTP v1 (`ncacn_http/1.0` before the PDUs).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ncacn_http: bool,
}

/// What the walk of both directions learnt about the association.
#[derive(Default)]
struct Walk {
    /// bind / alter_context calls: call_id and, in offer order, the index in `contexts`.
    binds: Vec<(u32, Vec<Option<usize>>)>,
    /// The first complete bind (or alter_context): its verifier, or `None` for no verifier.
    bind_auth: Option<Option<(AuthType, AuthLevel)>>,
    /// The first request verifier, for flows whose bind was not seen.
    request_auth: Option<(AuthType, AuthLevel)>,
    mechanism: Option<Mechanism>,
    user: Option<String>,
    domain: Option<String>,
    accepted: bool,
    denied: bool,
}

/// Protection by authentication level (MS-RPCE 3.3.1.5.2: only packet privacy seals).
fn protection_of(level: AuthLevel) -> Protection {
    match level {
        AuthLevel::Privacy => Protection::RpcPrivacy,
        AuthLevel::Integrity => Protection::RpcIntegrity,
        _ => Protection::RpcClear,
    }
}

fn strip_http(b: &[u8]) -> (&[u8], bool) {
    match b.strip_prefix(NCACN_HTTP) {
        Some(rest) => (rest, true),
        None => (b, false),
    }
}

/// Whether the flow carries connection-oriented DCE/RPC and, if it does, the evidence it gives.
/// Answers `false` in a few comparisons for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if input.udp {
        return false;
    }
    let (client, http_c) = strip_http(input.client);
    let (server, http_s) = strip_http(input.server);
    // The client's first PDU decides; a client side too short to hold a header leaves it to
    // the server's (a capture that missed the client, or a prefix cut very early).
    let mine = looks_like(client) || (client.len() < HDR_LEN && looks_like(server));
    if !mine {
        return false;
    }
    ev.service = Some(Service::DceRpc);
    let mut d = DceRpc {
        ncacn_http: http_c || http_s,
        ..DceRpc::default()
    };
    let mut w = Walk::default();

    let mut it = pdus(client);
    for pdu in it.by_ref() {
        on_client(&pdu, &mut d, &mut w, ev);
    }
    let mut malformed = it.stop == Some(Stop::Malformed);
    let mut it = pdus(server);
    for pdu in it.by_ref() {
        on_server(&pdu, &mut d, &mut w, ev);
    }
    malformed |= it.stop == Some(Stop::Malformed);
    if malformed {
        ev.facts.add(Fact::Malformed);
    }
    conclude(&mut d, &w, ev);
    ev.detail = super::Detail::DceRpc(Box::new(d));
    true
}

fn on_client(pdu: &Pdu<'_>, d: &mut DceRpc, w: &mut Walk, ev: &mut Evidence) {
    match pdu.ptype {
        PduType::Bind | PduType::AlterContext => {
            if pdu.ptype == PduType::Bind {
                d.binds = d.binds.saturating_add(1);
            } else {
                d.alter_contexts = d.alter_contexts.saturating_add(1);
            }
            let mut slots = Vec::new();
            for c in pdu.contexts() {
                let slot = add_context(d, &c);
                if slots.len() < MAX_CONTEXTS {
                    slots.push(slot);
                }
            }
            if w.binds.len() < MAX_BINDS {
                w.binds.push((pdu.call_id, slots));
            }
            // The first bind decides the association's level; a cut bind only when its header
            // already says there is no verifier.
            if w.bind_auth.is_none() && (!pdu.cut || pdu.auth_len == 0) {
                w.bind_auth = Some(pdu.auth.map(|a| (a.auth_type, a.level)));
            }
        }
        PduType::Request => {
            d.requests = d.requests.saturating_add(1);
            if let Some(r) = pdu.request().filter(|_| pdu.flags & PFC_FIRST_FRAG != 0) {
                count_operation(d, r.context_id, r.opnum);
            }
            if w.request_auth.is_none() {
                w.request_auth = pdu.auth.map(|a| (a.auth_type, a.level));
                if w.mechanism.is_none() {
                    w.mechanism = pdu.auth.and_then(|a| mechanism_of_type(a.auth_type));
                }
            }
            // Request verifiers are signatures, not tokens: nothing to hand on.
            return;
        }
        _ => {}
    }
    security(pdu, w, ev);
}

fn on_server(pdu: &Pdu<'_>, d: &mut DceRpc, w: &mut Walk, ev: &mut Evidence) {
    match pdu.ptype {
        PduType::BindAck | PduType::AlterContextResp => {
            if pdu.ptype == PduType::BindAck && d.sec_addr.is_none() {
                d.sec_addr = pdu.secondary_address().map(super::wire_text);
            }
            let slots = w
                .binds
                .iter()
                .find(|(id, _)| *id == pdu.call_id)
                .map(|(_, s)| s.as_slice())
                .unwrap_or(&[]);
            for (slot, answer) in slots.iter().zip(pdu.answers()) {
                let Some(c) = slot.and_then(|i| d.contexts.get_mut(i)) else {
                    continue;
                };
                c.result = answer.result;
                if answer.result == ContextResult::Accepted {
                    w.accepted = true;
                    if let Some(t) = answer.transfer {
                        c.transfer = Some(Transfer::from(t.uuid));
                    }
                }
            }
        }
        PduType::BindNak => {
            d.bind_naks = d.bind_naks.saturating_add(1);
            w.denied = true;
        }
        PduType::Response => {
            d.responses = d.responses.saturating_add(1);
            return;
        }
        PduType::Fault => {
            d.faults = d.faults.saturating_add(1);
            let status = pdu.fault_status();
            if d.fault_status.is_none() {
                d.fault_status = status;
            }
            // ERROR_ACCESS_DENIED, as Windows faults a call it refuses (MS-RPCE 3.1.1.5.1.1),
            // and STATUS_ACCESS_DENIED (MS-ERREF 2.3).
            if matches!(status, Some(5 | 0xc000_0022)) {
                w.denied = true;
            }
            return;
        }
        _ => {}
    }
    security(pdu, w, ev);
}

/// Hands a bind-phase verifier's token to the shared recogniser and keeps the names it gives.
fn security(pdu: &Pdu<'_>, w: &mut Walk, ev: &mut Evidence) {
    let Some(a) = pdu.auth else {
        return;
    };
    let blob = a.value();
    let found = ev.security_blob(blob);
    if let Some(n) = auth::ntlm(blob) {
        // An NTLM message is proof of what ran: SPNEGO may have listed (or even tried)
        // Kerberos first and fallen back.
        w.mechanism = Some(Mechanism::Ntlm);
        if n.user.is_some() {
            w.user = n.user;
            w.domain = n.domain;
        }
        return;
    }
    if w.mechanism == Some(Mechanism::Ntlm) {
        return;
    }
    // The token says more than the type (SPNEGO → Kerberos); a later token that names the
    // mechanism replaces a vaguer one.
    let better = found
        .filter(|m| *m != Mechanism::Negotiate)
        .or(mechanism_of_type(a.auth_type));
    match (w.mechanism, better) {
        (None, m) => w.mechanism = m,
        (Some(Mechanism::Negotiate), Some(m)) => w.mechanism = Some(m),
        _ => {}
    }
}

/// The mechanism an auth_type names by itself (MS-RPCE 2.2.1.1.7).
fn mechanism_of_type(t: AuthType) -> Option<Mechanism> {
    match t {
        AuthType::Ntlm => Some(Mechanism::Ntlm),
        AuthType::Kerberos => Some(Mechanism::Kerberos),
        AuthType::Spnego => Some(Mechanism::Negotiate),
        AuthType::Netlogon => Some(Mechanism::Netlogon),
        AuthType::None => None,
        AuthType::Schannel | AuthType::Other(_) => Some(Mechanism::Other),
    }
}

fn add_context(d: &mut DceRpc, c: &OfferedContext) -> Option<usize> {
    let version = (c.abstract_syntax.major, c.abstract_syntax.minor);
    if let Some(i) = d
        .contexts
        .iter()
        .position(|k| k.id == c.id && k.uuid == c.abstract_syntax.uuid && k.version == version)
    {
        return Some(i);
    }
    if d.contexts.len() >= MAX_CONTEXTS {
        d.contexts_more = d.contexts_more.saturating_add(1);
        return None;
    }
    d.contexts.push(Context {
        id: c.id,
        uuid: c.abstract_syntax.uuid,
        version,
        endpoint: interface(&c.abstract_syntax.uuid).map(|i| i.name),
        transfer: c.transfer.map(|t| Transfer::from(t.uuid)),
        result: ContextResult::Unknown,
    });
    Some(d.contexts.len() - 1)
}

fn count_operation(d: &mut DceRpc, context_id: u16, opnum: u16) {
    if let Some(op) = d
        .operations
        .iter_mut()
        .find(|o| o.context_id == context_id && o.opnum == opnum)
    {
        op.count = op.count.saturating_add(1);
        return;
    }
    if d.operations.len() >= MAX_OPERATIONS {
        d.operations_more = d.operations_more.saturating_add(1);
        return;
    }
    // The latest context with this id names the interface (an alter_context may replace one).
    let iface = d
        .contexts
        .iter()
        .rev()
        .find(|c| c.id == context_id)
        .and_then(|c| interface(&c.uuid));
    d.operations.push(Operation {
        endpoint: iface.map(|i| i.name),
        opnum,
        operation: iface.and_then(|i| i.operation(opnum)),
        count: 1,
        context_id,
    });
}

fn conclude(d: &mut DceRpc, w: &Walk, ev: &mut Evidence) {
    let outcome = if w.denied {
        Outcome::Failure
    } else if d.responses > 0 {
        Outcome::Success
    } else {
        Outcome::Unknown
    };
    // The level: the bind's verifier; without a bind, a request's (requests carry one only at
    // packet level and above, so a request without one says nothing).
    let level = match w.bind_auth {
        Some(Some((t, l))) if t != AuthType::None => Some((t, l)),
        Some(_) => None,
        None => w.request_auth,
    };
    if let Some((t, l)) = level {
        d.auth_type = Some(t);
        d.auth_level = Some(l);
        ev.protection = protection_of(l);
        if l < AuthLevel::Privacy || matches!(l, AuthLevel::Other(_)) {
            ev.facts.add(Fact::RpcWithoutPrivacy);
        }
        let mut a = AuthSeen::new(w.mechanism.unwrap_or(Mechanism::Other));
        a.outcome = outcome;
        a.user.clone_from(&w.user);
        a.domain.clone_from(&w.domain);
        if ev.ntlm.as_ref().is_some_and(|n| {
            n.version == Some(auth::NtlmVersion::Anonymous)
                && n.message == auth::NtlmMessage::Authenticate
        }) {
            a.mechanism = Mechanism::Anonymous;
        }
        ev.push_auth(a);
    } else if w.bind_auth.is_some() {
        // A bind without credentials: clear and anonymous (C706 auth level none).
        ev.protection = Protection::RpcClear;
        ev.facts.add(Fact::RpcWithoutPrivacy);
        ev.facts.add(Fact::AnonymousAccess);
        let mut a = AuthSeen::new(Mechanism::Anonymous);
        a.outcome = if w.denied {
            Outcome::Failure
        } else if w.accepted || d.responses > 0 {
            Outcome::Success
        } else {
            Outcome::Unknown
        };
        ev.push_auth(a);
    }
}

#[cfg(test)]
pub(crate) mod tests;
