//! LDAP (RFC 4511) over TCP and CLDAP over UDP: the operations of a conversation, how the client
//! bound (anonymous, simple with a password, SASL with its mechanism, Microsoft's "Sicily" NTLM
//! binds), what the server answered, the StartTLS extended operation, and whether a SASL security
//! layer signs or seals the messages that follow a GSSAPI / GSS-SPNEGO bind.
//!
//! ldap-parser decodes the messages. What it does not cover is ours: walking messages back to
//! back in a cut prefix (`ber`), Sicily binds (MS-ADTS 5.1.1.1.3, authentication choices [9],
//! [10] and [11], which the crate rejects), and the SASL buffers after the bind (RFC 4422 §3.7: a
//! four-octet length and a GSS-API wrap token, RFC 4121 §4.2.6.2, RFC 1964 §1.2.2, or an NTLM
//! sealed message, MS-NLMP 3.4.3). LDAPS is TLS from the first byte and belongs to the TLS
//! inspector. Passwords are never copied out of a bind: only that one crossed, and the name.

#![deny(clippy::indexing_slicing)]

pub(super) mod ber;

use std::borrow::Cow;

use ldap_parser::FromBer;
use ldap_parser::filter::{Filter, Substring};
use ldap_parser::ldap::{AuthenticationChoice, LdapMessage, ProtocolOp};
use serde::Serialize;

use super::{AuthSeen, Evidence, Fact, Input, Mechanism, Outcome, Protection, Service, Upgrade};
use super::{MAX_TEXT, wire_text};

/// RFC 4511 §4.14.1: the StartTLS extended operation's request name.
const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// Messages read from each direction; a 4 KiB prefix rarely holds more than a dozen.
const MAX_MESSAGES: usize = 64;
/// Operations kept in the detail; the rest are counted.
pub const MAX_KEPT: usize = 16;
/// Bind exchanges tracked per flow (a SASL exchange of several binds counts once).
const MAX_BINDS: usize = 8;
/// Message IDs remembered per bind exchange (SPNEGO takes two or three round trips).
const MAX_BIND_STEPS: usize = 8;
/// RFC 4422 §3.7 leaves the SASL buffer size to the mechanism; Windows' default maximum is
/// 10 MB (MaxReceiveBuffer). A length above 16 MiB is not a SASL buffer.
const MAX_SASL_BUFFER: u32 = 1 << 24;
/// The smallest wrap token (RFC 4121 §4.2.6.2 header) or NTLM signature (MS-NLMP 2.2.2.9).
const MIN_SASL_TOKEN: u32 = 16;

/// What the LDAP conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Ldap {
    /// LDAP over UDP (connectionless LDAP, the domain controller "LDAP ping").
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cldap: bool,
    /// The operations, each request paired with its response by message ID, in the order seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Operations beyond [`MAX_KEPT`].
    #[serde(skip_serializing_if = "is_zero")]
    pub messages_more: u32,
    /// The SASL mechanism the client bound with, as it named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_mechanism: Option<String>,
    /// The SASL security layer on the messages after the bind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_layer: Option<SecurityLayer>,
    /// The StartTLS extended operation, if the client asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<StartTls>,
    /// The server's root DSE listed the StartTLS extension (supportedExtension).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub starttls_offered: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One LDAP operation, with Zeek's ldap.log names.
#[derive(Debug, Serialize)]
pub struct Message {
    pub message_id: u32,
    /// `bind simple`, `bind SASL`, `bind sicily`, `search`, `modify`, `extended` …
    pub opcode: &'static str,
    /// The protocol version a bind asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    /// The response's result code, by its RFC 4511 name (the number when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic_message: Option<String>,
    /// The bind name, search base, entry or extended operation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// A search filter in RFC 4515 form, cut to [`MAX_TEXT`]. Values of attributes that hold
    /// passwords are not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Read from inside a signed (not sealed) SASL buffer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wrapped: bool,
}

/// A SASL security layer (RFC 4422 §3.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityLayer {
    /// Integrity only: the messages are readable.
    Sign,
    /// Confidentiality.
    Seal,
    /// SASL buffers whose kind could not be told.
    Unknown,
}

/// What happened to a StartTLS request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartTls {
    /// Asked for; the answer was not seen.
    Requested,
    Accepted,
    Refused,
}

/// Which way a message travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Client,
    Server,
}

/// How a bind exchange authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BindKind {
    /// Simple bind, empty name and password (RFC 4513 §5.1.1).
    Anonymous,
    /// Simple bind, a name and an empty password (RFC 4513 §5.1.2).
    Unauthenticated,
    /// Simple bind with a password (RFC 4513 §5.1.3).
    Password,
    Sasl,
    Sicily,
}

/// One bind exchange: a simple bind, or the consecutive SASL (or Sicily) binds of one mechanism.
#[derive(Debug)]
struct Bind {
    ids: Vec<u32>,
    kind: BindKind,
    mechanism: Option<Mechanism>,
    sasl: Option<String>,
    user: Option<String>,
    domain: Option<String>,
    clear: bool,
    outcome: Outcome,
    /// A mechanism that can set up a SASL security layer.
    layer_possible: bool,
}

/// What the walk over both directions gathered.
#[derive(Debug, Default)]
struct State {
    ldap: Ldap,
    binds: Vec<Bind>,
    /// Message ID of the client's StartTLS request and the offset right after it.
    starttls_request: Option<(u32, usize)>,
    /// The offset right after the server's successful StartTLS response.
    starttls_accepted_at: Option<usize>,
    starttls_refused: bool,
    /// LDAP messages read in clear (outside SASL buffers), both directions.
    clear_messages: usize,
    /// The client's root DSE search (empty base, base scope): where StartTLS would be offered.
    root_dse_id: Option<u32>,
    /// Whether the client's first clear message after its root DSE search was StartTLS.
    next_after_root_dse: Option<bool>,
    /// SASL buffers seen, by what they showed.
    sign: bool,
    seal: bool,
    unknown_layer: bool,
    /// RFC 4752 §3.1: the security-layer bit mask the client chose in the last step of a GSSAPI
    /// bind (1 none, 2 integrity, 4 confidentiality), when that step was readable.
    gssapi_choice: Option<u8>,
    /// Messages (clear or wrapped) after the last bind request or response, per direction.
    after_bind: [usize; 2],
    malformed: bool,
}

/// Whether `b` starts like an LDAPMessage: a SEQUENCE, an INTEGER message ID of one to four
/// octets, then an [APPLICATION n] tag for one of the RFC 4511 operations. A few comparisons,
/// before any allocation; SNMP (a SEQUENCE, an INTEGER, then an OCTET STRING) does not pass.
pub fn looks_like(b: &[u8]) -> bool {
    let Some(&[tag, len]) = b.first_chunk::<2>() else {
        return false;
    };
    if tag != 0x30 {
        return false;
    }
    let at = match len {
        0..=0x7f => 2,
        0x81..=0x84 => 2 + usize::from(len & 0x7f),
        _ => return false,
    };
    let Some(&[int, int_len]) = b.get(at..).and_then(|r| r.first_chunk::<2>()) else {
        return false;
    };
    if int != 0x02 || !(1..=4).contains(&int_len) {
        return false;
    }
    let Some(&op) = b.get(at + 2 + usize::from(int_len)) else {
        return false;
    };
    // RFC 4511 §4.2–§4.14: APPLICATION 0–16, 19, 23–25; UnbindRequest (2), DelRequest (10) and
    // AbandonRequest (16) are primitive, the rest constructed.
    match op {
        0x42 | 0x4a | 0x50 => true,
        0x60..=0x7f => matches!(op & 0x1f, 0..=1 | 3..=9 | 11..=15 | 19 | 23..=25),
        _ => false,
    }
}

/// Whether the flow carries LDAP and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if !looks_like(input.client) && !looks_like(input.server) {
        return false;
    }
    let mut st = State::default();
    st.ldap.cldap = input.udp;
    walk(Dir::Client, input.client, &mut st, ev);
    walk(Dir::Server, input.server, &mut st, ev);
    finish(input, st, ev);
    true
}

/// Reads the messages of one direction, back to back, until the bytes end, a message is cut,
/// TLS starts, or [`MAX_MESSAGES`].
fn walk(dir: Dir, bytes: &[u8], st: &mut State, ev: &mut Evidence) {
    let mut off = 0usize;
    for _ in 0..MAX_MESSAGES {
        let Some(rest) = bytes.get(off..) else {
            return;
        };
        let Some(&first) = rest.first() else {
            return;
        };
        if first == 0x30 {
            let total = match ber::header(rest) {
                Ok(h) => h.total(),
                Err(ber::BerError::Invalid) => None,
                Err(ber::BerError::Truncated) => return,
            };
            let Some(total) = total else {
                st.malformed = true;
                return;
            };
            let Some(msg) = rest.get(..total) else {
                return; // cut by the prefix: what follows was not seen
            };
            off += total;
            if message(dir, msg, off, false, st, ev) == Next::TlsFollows {
                return;
            }
        } else if rest.len() < 5 {
            // Too short to tell a SASL buffer's length from a TLS record header: cut.
            return;
        } else if let Some((token, complete)) = sasl_buffer(rest) {
            let kind = sasl_token(dir, token, st, ev);
            if kind == Wrap::Unknown && !st.binds.iter().any(|b| b.layer_possible) {
                // Four octets that look like a length, after no bind that could set up a
                // security layer: not a SASL buffer.
                st.malformed = true;
                return;
            }
            if !complete {
                return;
            }
            off += 4 + token.len();
        } else {
            // TLS after a StartTLS request (the client sends its ClientHello without waiting
            // for anything else), or bytes that are not LDAP.
            if !(is_tls_record(rest) && st.starttls_request.is_some()) {
                st.malformed = true;
            }
            return;
        }
    }
}

/// A TLS handshake record header (RFC 8446 §5.1): content type 22, legacy version 3.x.
fn is_tls_record(b: &[u8]) -> bool {
    matches!(b.first_chunk::<2>(), Some(&[0x16, 0x03]))
}

/// What comes after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Ldap,
    /// The server accepted StartTLS: its next bytes are TLS.
    TlsFollows,
}

/// One complete LDAPMessage, `end` bytes into its direction's prefix.
fn message(
    dir: Dir,
    msg: &[u8],
    end: usize,
    wrapped: bool,
    st: &mut State,
    ev: &mut Evidence,
) -> Next {
    if !wrapped {
        st.clear_messages += 1;
    }
    let d = dir as usize;
    if let Some(n) = st.after_bind.get_mut(d) {
        *n += 1;
    }
    let Ok((_, parsed)) = LdapMessage::from_ber(msg) else {
        if !sicily(msg, wrapped, st, ev) {
            st.malformed = true;
        }
        return Next::Ldap;
    };
    let id = parsed.message_id.0;
    if dir == Dir::Client
        && !wrapped
        && st.next_after_root_dse.is_none()
        && st.root_dse_id.is_some_and(|r| r != id)
    {
        st.next_after_root_dse = Some(matches!(
            &parsed.protocol_op,
            ProtocolOp::ExtendedRequest(r) if r.request_name.0 == STARTTLS_OID
        ));
    }
    match parsed.protocol_op {
        ProtocolOp::BindRequest(req) => {
            if let Some(n) = st.after_bind.get_mut(d) {
                *n = 0;
            }
            let object = nonempty(req.name.0.as_bytes());
            let opcode = match &req.authentication {
                AuthenticationChoice::Simple(pw) => {
                    simple_bind(id, object.clone(), pw.is_empty(), st);
                    "bind simple"
                }
                AuthenticationChoice::Sasl(sasl) => {
                    let creds = sasl.credentials.as_deref().unwrap_or(&[]);
                    sasl_bind(id, &sasl.mechanism.0, creds, st, ev);
                    "bind SASL"
                }
            };
            if let Some(m) = push(st, id, opcode, wrapped) {
                m.version = Some(req.version);
                m.object = object;
            }
        }
        ProtocolOp::BindResponse(resp) => {
            if let Some(n) = st.after_bind.get_mut(d) {
                *n = 0;
            }
            let r = &resp.result;
            // A Sicily negotiate answer carries the NTLM CHALLENGE in matchedDN.
            let matched = r.matched_dn.0.as_bytes();
            if super::auth::find(matched, b"NTLMSSP\0").is_some() {
                ev.security_blob(matched);
            }
            let creds = resp.server_sasl_creds.as_deref();
            bind_response(id, r.result_code.0, creds, st, ev);
            respond(
                st,
                id,
                "bind",
                r.result_code.0,
                r.diagnostic_message.0.as_bytes(),
                wrapped,
            );
        }
        ProtocolOp::UnbindRequest => {
            push(st, id, "unbind", wrapped);
        }
        ProtocolOp::SearchRequest(req) => {
            let base = req.base_object.0;
            if base.is_empty() && req.scope.0 == 0 && dir == Dir::Client && !wrapped {
                st.root_dse_id.get_or_insert(id);
            }
            if let Some(m) = push(st, id, "search", wrapped) {
                m.object = nonempty(base.as_bytes());
                let mut f = String::new();
                render_filter(&req.filter, &mut f, 0);
                m.filter = Some(wire_text(f.as_bytes()));
            }
        }
        ProtocolOp::SearchResultEntry(entry) => {
            if entry.object_name.0.is_empty() && lists_starttls(&entry.attributes) {
                st.ldap.starttls_offered = true;
            }
        }
        ProtocolOp::SearchResultDone(r) => {
            let diag = r.diagnostic_message.0.as_bytes();
            respond(st, id, "search", r.result_code.0, diag, wrapped);
        }
        ProtocolOp::SearchResultReference(_) | ProtocolOp::IntermediateResponse(_) => {}
        ProtocolOp::ModifyRequest(req) => entry_op(st, id, "modify", &req.object.0, wrapped),
        ProtocolOp::AddRequest(req) => entry_op(st, id, "add", &req.entry.0, wrapped),
        ProtocolOp::DelRequest(dn) => entry_op(st, id, "delete", &dn.0, wrapped),
        ProtocolOp::ModDnRequest(req) => entry_op(st, id, "modDN", &req.entry.0, wrapped),
        ProtocolOp::CompareRequest(req) => entry_op(st, id, "compare", &req.entry.0, wrapped),
        ProtocolOp::AbandonRequest(_) => {
            push(st, id, "abandon", wrapped);
        }
        ProtocolOp::ModifyResponse(r) => {
            let r = r.result;
            let diag = r.diagnostic_message.0.as_bytes();
            respond(st, id, "modify", r.result_code.0, diag, wrapped);
        }
        ProtocolOp::AddResponse(r)
        | ProtocolOp::DelResponse(r)
        | ProtocolOp::ModDnResponse(r)
        | ProtocolOp::CompareResponse(r) => {
            // The response's own tag names the family; the request it answers has it too.
            let family = st
                .ldap
                .messages
                .iter()
                .rev()
                .find(|m| m.message_id == id && m.result.is_none())
                .map_or("response", |m| m.opcode);
            let diag = r.diagnostic_message.0.as_bytes();
            respond(st, id, family, r.result_code.0, diag, wrapped);
        }
        ProtocolOp::ExtendedRequest(req) => {
            let name = req.request_name.0;
            if let Some(m) = push(st, id, "extended", wrapped) {
                m.object = nonempty(name.as_bytes());
            }
            if name == STARTTLS_OID
                && dir == Dir::Client
                && !wrapped
                && st.starttls_request.is_none()
            {
                st.starttls_request = Some((id, end));
                st.ldap.starttls = Some(StartTls::Requested);
            }
        }
        ProtocolOp::ExtendedResponse(resp) => {
            let code = resp.result.result_code.0;
            let diag = resp.result.diagnostic_message.0.as_bytes();
            respond(st, id, "extended", code, diag, wrapped);
            // RFC 4511 §4.14.2 asks for the responseName, but servers leave it out (OpenLDAP
            // does): the request's message ID pairs them.
            let named = resp
                .response_name
                .as_ref()
                .is_some_and(|n| n.0 == STARTTLS_OID);
            let paired = st.starttls_request.is_some_and(|(rid, _)| rid == id);
            if dir == Dir::Server && !wrapped && (paired || named) {
                if code == 0 {
                    st.starttls_accepted_at = Some(end);
                    st.ldap.starttls = Some(StartTls::Accepted);
                    return Next::TlsFollows;
                }
                st.starttls_refused = true;
                st.ldap.starttls = Some(StartTls::Refused);
            }
        }
    }
    Next::Ldap
}

/// Records a request (or an unpaired response); returns it to fill in, or `None` past
/// [`MAX_KEPT`].
fn push<'s>(
    st: &'s mut State,
    id: u32,
    opcode: &'static str,
    wrapped: bool,
) -> Option<&'s mut Message> {
    if st.ldap.messages.len() >= MAX_KEPT {
        st.ldap.messages_more = st.ldap.messages_more.saturating_add(1);
        return None;
    }
    st.ldap.messages.push(Message {
        message_id: id,
        opcode,
        version: None,
        result: None,
        diagnostic_message: None,
        object: None,
        filter: None,
        wrapped,
    });
    st.ldap.messages.last_mut()
}

/// An operation on one entry: keeps its DN, never the attribute values (a modify may set
/// unicodePwd).
fn entry_op(st: &mut State, id: u32, opcode: &'static str, dn: &str, wrapped: bool) {
    if let Some(m) = push(st, id, opcode, wrapped) {
        m.object = nonempty(dn.as_bytes());
    }
}

/// Pairs a response with the request of the same message ID and family (the last one still
/// without a result), or records it alone when the request was not seen.
fn respond(st: &mut State, id: u32, family: &'static str, code: u32, diag: &[u8], wrapped: bool) {
    let at =
        st.ldap.messages.iter().rposition(|m| {
            m.message_id == id && m.result.is_none() && m.opcode.starts_with(family)
        });
    let m = match at {
        Some(i) => st.ldap.messages.get_mut(i),
        None => push(st, id, family, wrapped),
    };
    if let Some(m) = m {
        m.result = Some(result_name(code));
        m.diagnostic_message = nonempty(diag);
    }
}

/// A string from the wire, or `None` when empty.
fn nonempty(b: &[u8]) -> Option<String> {
    (!b.is_empty()).then(|| wire_text(b))
}

/// Starts a bind exchange, unless [`MAX_BINDS`] are tracked already.
fn new_bind(
    st: &mut State,
    id: u32,
    kind: BindKind,
    mechanism: Option<Mechanism>,
) -> Option<&mut Bind> {
    if st.binds.len() >= MAX_BINDS {
        return None;
    }
    st.binds.push(Bind {
        ids: vec![id],
        kind,
        mechanism,
        sasl: None,
        user: None,
        domain: None,
        clear: false,
        outcome: Outcome::Unknown,
        layer_possible: false,
    });
    st.binds.last_mut()
}

/// RFC 4513 §5.1: anonymous (no name, no password), unauthenticated (a name, no password), or
/// name/password authentication, whose password crossed in clear since we read it.
fn simple_bind(id: u32, name: Option<String>, empty_password: bool, st: &mut State) {
    let kind = match (name.is_some(), empty_password) {
        (false, true) => BindKind::Anonymous,
        (true, true) => BindKind::Unauthenticated,
        (_, false) => BindKind::Password,
    };
    let mech = if kind == BindKind::Password {
        Mechanism::Password
    } else {
        Mechanism::Anonymous
    };
    if let Some(b) = new_bind(st, id, kind, Some(mech)) {
        b.user = name;
        b.clear = kind == BindKind::Password;
    }
}

/// The bind exchange a further SASL (or Sicily) step belongs to: the last one, if it is of the
/// same kind and mechanism and not finished.
fn continuing<'s>(st: &'s mut State, kind: BindKind, sasl: Option<&str>) -> Option<&'s mut Bind> {
    st.binds.last_mut().filter(|b| {
        b.kind == kind
            && b.sasl.as_deref() == sasl
            && b.outcome == Outcome::Unknown
            && b.ids.len() < MAX_BIND_STEPS
    })
}

/// A SASL bind step (RFC 4513 §5.2).
fn sasl_bind(id: u32, mechanism: &str, creds: &[u8], st: &mut State, ev: &mut Evidence) {
    let name = wire_text(mechanism.as_bytes()).to_ascii_uppercase();
    let (mut mech, layer_possible) = match name.as_str() {
        "GSSAPI" => (Mechanism::Gssapi, true),
        "GSS-SPNEGO" => (Mechanism::Negotiate, true),
        "NTLM" => (Mechanism::Ntlm, true),
        "DIGEST-MD5" => (Mechanism::DigestMd5, true),
        "EXTERNAL" => (Mechanism::External, false),
        "CRAM-MD5" => (Mechanism::CramMd5, false),
        "PLAIN" => (Mechanism::Plain, false),
        "LOGIN" => (Mechanism::Login, false),
        "OAUTHBEARER" | "XOAUTH2" => (Mechanism::Bearer, false),
        _ => (Mechanism::Other, false),
    };
    let mut user = None;
    let mut domain = None;
    let mut clear = false;
    if layer_possible && name != "DIGEST-MD5" && !creds.is_empty() {
        let inner = ev.security_blob(creds);
        if mech == Mechanism::Negotiate
            && let Some(m @ (Mechanism::Kerberos | Mechanism::Ntlm)) = inner
        {
            mech = m;
        }
        if let Some(n) = ev.ntlm.as_ref().filter(|n| {
            n.message == super::auth::NtlmMessage::Authenticate
                && super::auth::find(creds, b"NTLMSSP\0").is_some()
        }) {
            user.clone_from(&n.user);
            domain.clone_from(&n.domain);
        }
        if super::kerberos::ap_req_etype(creds).is_some_and(super::kerberos::is_weak_etype) {
            ev.facts.add(Fact::KerberosWeakEtype);
        }
        if name == "GSSAPI"
            && let Wrap::Sign(Some(plain)) = wrap_kind(creds)
            && plain.len() >= 4
        {
            // RFC 4752 §3.1: the client's last step is a wrapped four octets, the first of
            // which is the security layer it chose.
            st.gssapi_choice = plain.first().copied();
        }
    }
    match name.as_str() {
        // RFC 4616 §2, read as the clear-text inspectors read it: three fields name the authcid,
        // any other count nobody.
        "PLAIN" if !creds.is_empty() => {
            let m = super::line::PlainMessage::parse(creds);
            user = m.authcid.and_then(nonempty);
            clear = m.secret;
        }
        // RFC 2195 §2: "user SP digest"; a digest alone names nobody.
        "CRAM-MD5" if !creds.is_empty() => {
            user = super::line::cram_md5_user(creds).and_then(nonempty);
        }
        // draft-murchison-sasl-login-00 §2: the user name, then the password, each in its own
        // bind step. The server's prompts ride in the responses' serverSaslCreds, which this walk
        // reads after the requests, so a step cannot be told from the other: every non-empty one
        // counts as the password, and none names the user.
        "LOGIN" if !creds.is_empty() => {
            clear = true;
        }
        // RFC 2831 §2.1.2: the digest-response names the user as username="…".
        "DIGEST-MD5" => {
            if let Some(u) = quoted_after(creds, b"username=\"") {
                user = nonempty(u);
            }
        }
        // RFC 7628 §3.1 and Google's XOAUTH2: the name in the header, and the token crosses too.
        "OAUTHBEARER" | "XOAUTH2" if !creds.is_empty() => {
            clear = true;
            user = super::line::bearer_user(creds).and_then(nonempty);
        }
        _ => {}
    }
    if st.ldap.sasl_mechanism.is_none() {
        st.ldap.sasl_mechanism = Some(name.clone());
    }
    let b = match continuing(st, BindKind::Sasl, Some(&name)) {
        Some(b) => {
            if b.ids.len() < MAX_BIND_STEPS {
                b.ids.push(id);
            }
            Some(b)
        }
        None => match new_bind(st, id, BindKind::Sasl, Some(mech)) {
            Some(b) => {
                b.sasl = Some(name.clone());
                b.layer_possible = layer_possible;
                Some(b)
            }
            None => None,
        },
    };
    if let Some(b) = b {
        if matches!(b.mechanism, Some(Mechanism::Negotiate)) && mech != Mechanism::Negotiate {
            b.mechanism = Some(mech);
        }
        if user.is_some() {
            b.user = user;
            b.domain = domain;
        }
        b.clear |= clear;
    }
}

/// The bytes between `key` and the next `"` in `b`, if both are there.
fn quoted_after<'a>(b: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = super::auth::find(b, key)? + key.len();
    let rest = b.get(start..)?;
    let end = rest.iter().position(|&c| c == b'"')?;
    rest.get(..end)
}

/// A BindResponse: the outcome of the exchange it answers, and the server's SASL credentials.
fn bind_response(id: u32, code: u32, creds: Option<&[u8]>, st: &mut State, ev: &mut Evidence) {
    let mech = creds
        .filter(|c| !c.is_empty())
        .and_then(|c| ev.security_blob(c));
    // RFC 4511 §4.2.2: saslBindInProgress (14) asks for another step.
    let outcome = match code {
        0 => Outcome::Success,
        14 => Outcome::Unknown,
        _ => Outcome::Failure,
    };
    let at = st.binds.iter().rposition(|b| b.ids.contains(&id));
    let b = match at {
        Some(i) => st.binds.get_mut(i),
        // The request was not seen: a further step of the last unanswered exchange, or a new
        // one whose mechanism only the server's credentials tell.
        None => {
            let open = st.binds.iter().rposition(|b| {
                b.kind == BindKind::Sasl && b.outcome == Outcome::Unknown && b.sasl.is_none()
            });
            match open {
                Some(i) => st.binds.get_mut(i),
                None => match new_bind(st, id, BindKind::Sasl, mech) {
                    Some(b) => {
                        b.layer_possible = mech.is_some();
                        Some(b)
                    }
                    None => None,
                },
            }
        }
    };
    if let Some(b) = b {
        b.outcome = outcome;
        if let Some(m @ (Mechanism::Kerberos | Mechanism::Ntlm)) = mech
            && matches!(b.mechanism, None | Some(Mechanism::Negotiate))
        {
            b.mechanism = Some(m);
        }
        if b.mechanism.is_none() {
            b.mechanism = mech;
        }
    }
}

/// MS-ADTS 5.1.1.1.3: a bind whose authentication is Sicily ([9] package discovery, [10] NTLM
/// NEGOTIATE, [11] NTLM AUTHENTICATE), or its response with the NTLM CHALLENGE in matchedDN as
/// bytes that are not UTF-8. ldap-parser refuses both; the layout is read here. Returns whether
/// the message was one of them.
fn sicily(msg: &[u8], wrapped: bool, st: &mut State, ev: &mut Evidence) -> bool {
    let Some((id, op)) = sicily_parts(msg) else {
        return false;
    };
    match op.tag {
        // BindRequest ::= [APPLICATION 0] SEQUENCE { version, name, authentication }
        0x60 => {
            let Ok((ver, rest)) = ber::tlv(op.content) else {
                return false;
            };
            let Ok((name, rest)) = ber::tlv(rest) else {
                return false;
            };
            let Ok((auth, _)) = ber::tlv(rest) else {
                return false;
            };
            if ver.tag != 0x02 || name.tag != 0x04 || !matches!(auth.tag, 0x89..=0x8b) {
                return false;
            }
            let object = nonempty(name.content);
            if auth.tag != 0x89 {
                ev.security_blob(auth.content);
                let user = ev
                    .ntlm
                    .as_ref()
                    .filter(|n| {
                        n.message == super::auth::NtlmMessage::Authenticate && auth.tag == 0x8b
                    })
                    .map(|n| (n.user.clone(), n.domain.clone()));
                let b = match continuing(st, BindKind::Sicily, None) {
                    Some(b) => {
                        b.ids.push(id);
                        Some(b)
                    }
                    None => new_bind(st, id, BindKind::Sicily, Some(Mechanism::Ntlm)),
                };
                if let (Some(b), Some((u, d))) = (b, user) {
                    b.user = u;
                    b.domain = d;
                }
            }
            if let Some(m) = push(st, id, "bind sicily", wrapped) {
                m.version = ber::integer(ver.content).and_then(|v| u8::try_from(v).ok());
                m.object = object;
            }
            true
        }
        // BindResponse ::= [APPLICATION 1] SEQUENCE { resultCode, matchedDN, diagnosticMessage … }
        0x61 => {
            let Ok((code, rest)) = ber::tlv(op.content) else {
                return false;
            };
            let Ok((matched, rest)) = ber::tlv(rest) else {
                return false;
            };
            let diag = ber::tlv(rest).map(|(d, _)| d.content).unwrap_or(&[]);
            let Some(code) = ber::integer(code.content).and_then(|c| u32::try_from(c).ok()) else {
                return false;
            };
            if matched.tag != 0x04 {
                return false;
            }
            ev.security_blob(matched.content);
            bind_response(id, code, None, st, ev);
            respond(st, id, "bind", code, diag, wrapped);
            true
        }
        _ => false,
    }
}

/// The message ID and the protocol operation element of an LDAPMessage.
fn sicily_parts(msg: &[u8]) -> Option<(u32, ber::Tlv<'_>)> {
    let (seq, _) = ber::tlv(msg).ok()?;
    let (mid, rest) = ber::tlv(seq.content).ok()?;
    if seq.tag != 0x30 || mid.tag != 0x02 {
        return None;
    }
    let id = u32::try_from(ber::integer(mid.content)?).ok()?;
    let (op, _) = ber::tlv(rest).ok()?;
    Some((id, op))
}

/// A SASL buffer (RFC 4422 §3.7, RFC 4511 §5.1): its token, whole or as far as the prefix
/// holds it, and whether it is whole. `None` when the length is not one a SASL buffer has.
fn sasl_buffer(b: &[u8]) -> Option<(&[u8], bool)> {
    let (len, body) = b.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len);
    if !(MIN_SASL_TOKEN..=MAX_SASL_BUFFER).contains(&len) || body.is_empty() {
        return None;
    }
    let len = usize::try_from(len).ok()?;
    match body.get(..len) {
        Some(t) => Some((t, true)),
        None => Some((body, false)),
    }
}

/// What a SASL buffer's token shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wrap<'a> {
    /// Confidentiality: the content is encrypted.
    Seal,
    /// Integrity only, with the plaintext when it could be located.
    Sign(Option<&'a [u8]>),
    Unknown,
}

/// The DER encodings of the Kerberos V5 mechanism OIDs (RFC 1964 §1; Microsoft's variant).
const KRB5_OIDS: [&[u8]; 2] = [
    &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ],
    &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ],
];

/// Tells a sealed token from a signed one:
/// - RFC 4121 §4.2.6.2 Wrap token: `05 04`, Flags (0x02 Sealed), Filler `FF`, EC (2), RRC (2),
///   SND_SEQ (8), then the data, rotated right by RRC; unsealed, it is the plaintext followed by
///   an EC-octet checksum.
/// - RFC 1964 §1.2.2 / RFC 4757 §7.3 Wrap token inside the GSS-API framing: TOK_ID `02 01`,
///   SGN_ALG (2), SEAL_ALG (2): `FF FF` is "none", anything else encrypts.
/// - MS-NLMP 2.2.2.9.1: an NTLM signature (version 1, 16 octets) before the message. NTLM
///   signs and seals with the same framing, so the message after the signature decides: an
///   LDAPMessage in clear is signed only; anything else is sealed, since what it carries is not
///   readable. A sealed message starts like an LDAPMessage by chance with a probability of the
///   order of 2^-24.
fn wrap_kind(t: &[u8]) -> Wrap<'_> {
    if let Some(&[0x05, 0x04, flags, 0xff, ec0, ec1, rrc0, rrc1]) = t.first_chunk::<8>() {
        if flags & 0x02 != 0 {
            return Wrap::Seal;
        }
        let ec = usize::from(u16::from_be_bytes([ec0, ec1]));
        let rrc = usize::from(u16::from_be_bytes([rrc0, rrc1]));
        let body = t.get(16..).unwrap_or(&[]);
        let plain = if rrc == 0 {
            body.len().checked_sub(ec).and_then(|n| body.get(..n))
        } else if rrc == ec {
            body.get(ec..)
        } else {
            None
        };
        return Wrap::Sign(plain);
    }
    if t.first() == Some(&0x60) {
        let Ok(h) = ber::header(t) else {
            return Wrap::Unknown;
        };
        let inner = t.get(h.header_len..).unwrap_or(&[]);
        let Some(oid) = KRB5_OIDS.iter().find(|o| inner.starts_with(o)) else {
            return Wrap::Unknown;
        };
        return match inner.get(oid.len()..oid.len() + 6) {
            Some(&[0x02, 0x01, _, _, 0xff, 0xff]) => Wrap::Sign(None),
            Some(&[0x02, 0x01, _, _, _, _]) => Wrap::Seal,
            _ => Wrap::Unknown,
        };
    }
    if let Some((&[1, 0, 0, 0], _)) = t.split_first_chunk::<4>() {
        let payload = t.get(16..).unwrap_or(&[]);
        if payload.is_empty() {
            return Wrap::Unknown;
        }
        return if looks_like(payload) {
            Wrap::Sign(Some(payload))
        } else {
            Wrap::Seal
        };
    }
    Wrap::Unknown
}

/// Records what one SASL buffer's token showed; reads the LDAP message inside a signed one.
fn sasl_token<'a>(dir: Dir, token: &'a [u8], st: &mut State, ev: &mut Evidence) -> Wrap<'a> {
    if let Some(n) = st.after_bind.get_mut(dir as usize) {
        *n += 1;
    }
    let kind = wrap_kind(token);
    match kind {
        Wrap::Seal => st.seal = true,
        Wrap::Sign(plain) => {
            st.sign = true;
            if let Some(plain) = plain
                && let Ok(h) = ber::header(plain)
                && h.tag == 0x30
                && let Some(msg) = h.total().and_then(|n| plain.get(..n))
            {
                message(dir, msg, 0, true, st, ev);
            }
        }
        Wrap::Unknown => st.unknown_layer = true,
    }
    kind
}

/// Whether a root DSE entry lists the StartTLS extension (RFC 4512 §5.1.6 supportedExtension).
fn lists_starttls(attrs: &[ldap_parser::filter::PartialAttribute<'_>]) -> bool {
    attrs.iter().any(|a| {
        a.attr_type.0.eq_ignore_ascii_case("supportedExtension")
            && a.attr_vals
                .iter()
                .any(|v| v.0.as_ref() == STARTTLS_OID.as_bytes())
    })
}

/// Filters nest at most this deep when rendered (ldap-parser stops parsing at 32 too).
const MAX_FILTER_DEPTH: usize = ldap_parser::ldap::MAX_FILTER_DEPTH;

/// Writes a filter in the string form of RFC 4515 §3, stopping once [`MAX_TEXT`] is passed.
fn render_filter(f: &Filter<'_>, out: &mut String, depth: usize) {
    if out.len() > MAX_TEXT || depth > MAX_FILTER_DEPTH {
        return;
    }
    let set = |op: char, items: &[Filter<'_>], out: &mut String| {
        out.push('(');
        out.push(op);
        for x in items {
            if out.len() > MAX_TEXT {
                break;
            }
            render_filter(x, out, depth + 1);
        }
        out.push(')');
    };
    let item = |attr: &str, op: &str, v: &[u8], out: &mut String| {
        out.push('(');
        push_text(out, attr);
        out.push_str(op);
        push_value(out, attr, v);
        out.push(')');
    };
    match f {
        Filter::And(v) => set('&', v, out),
        Filter::Or(v) => set('|', v, out),
        Filter::Not(x) => set('!', std::slice::from_ref(x.as_ref()), out),
        Filter::EqualityMatch(a) => item(&a.attribute_desc.0, "=", &a.assertion_value, out),
        Filter::GreaterOrEqual(a) => item(&a.attribute_desc.0, ">=", &a.assertion_value, out),
        Filter::LessOrEqual(a) => item(&a.attribute_desc.0, "<=", &a.assertion_value, out),
        Filter::ApproxMatch(a) => item(&a.attribute_desc.0, "~=", &a.assertion_value, out),
        Filter::Present(attr) => {
            out.push('(');
            push_text(out, &attr.0);
            out.push_str("=*)");
        }
        Filter::Substrings(s) => {
            let attr = &s.filter_type.0;
            out.push('(');
            push_text(out, attr);
            out.push('=');
            let mut star = false;
            for part in &s.substrings {
                match part {
                    Substring::Initial(v) => push_value(out, attr, &v.0),
                    Substring::Any(v) => {
                        if !star {
                            out.push('*');
                        }
                        push_value(out, attr, &v.0);
                        out.push('*');
                        star = true;
                        continue;
                    }
                    Substring::Final(v) => {
                        if !star {
                            out.push('*');
                        }
                        push_value(out, attr, &v.0);
                        star = true;
                        continue;
                    }
                }
                star = false;
            }
            if !star {
                out.push('*');
            }
            out.push(')');
        }
        Filter::ExtensibleMatch(m) => {
            let attr = m.rule_type.as_ref().map_or("", |t| t.0.as_ref());
            out.push('(');
            push_text(out, attr);
            if m.dn_attributes == Some(true) {
                out.push_str(":dn");
            }
            if let Some(rule) = &m.matching_rule {
                out.push(':');
                push_text(out, &rule.0);
            }
            out.push_str(":=");
            push_value(out, attr, &m.assertion_value.0);
            out.push(')');
        }
    }
}

/// Appends a name from the wire, at most [`MAX_TEXT`] bytes of it.
fn push_text(out: &mut String, s: &str) {
    out.push_str(&wire_text(s.as_bytes()));
}

/// Attributes whose values are passwords or keys (userPassword, unicodePwd, ms-Mcs-AdmPwd,
/// msDS-ManagedPassword, supplementalCredentials …): a filter or compare on them is a
/// password check, so their values are not kept.
fn holds_secret(attr: &str) -> bool {
    let a = attr.as_bytes();
    [&b"pass"[..], b"pwd", b"secret", b"credential"]
        .iter()
        .any(|k| a.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k)))
}

/// Appends an assertion value escaped as RFC 4515 §3 asks (`*`, `(`, `)`, `\` and NUL as `\xx`),
/// with control and non-ASCII octets escaped too so the text stays printable.
fn push_value(out: &mut String, attr: &str, v: &[u8]) {
    if holds_secret(attr) {
        out.push_str("REDACTED");
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in v.iter().take(MAX_TEXT) {
        match b {
            b'*' | b'(' | b')' | b'\\' | 0..=0x1f | 0x7f..=0xff => {
                out.push('\\');
                out.push(char::from(*HEX.get(usize::from(b >> 4)).unwrap_or(&b'0')));
                out.push(char::from(*HEX.get(usize::from(b & 0x0f)).unwrap_or(&b'0')));
            }
            _ => out.push(char::from(b)),
        }
    }
}

/// RFC 4511 §4.1.9 result code names; other codes as their number.
fn result_name(code: u32) -> Cow<'static, str> {
    let name = match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        _ => return Cow::Owned(itoa::Buffer::new().format(code).to_owned()),
    };
    Cow::Borrowed(name)
}

/// Turns what the walk gathered into evidence.
fn finish(input: &Input<'_>, mut st: State, ev: &mut Evidence) {
    ev.service = Some(Service::Ldap);
    if st.malformed {
        ev.facts.add(Fact::Malformed);
    }
    for b in &st.binds {
        let Some(mechanism) = b.mechanism else {
            continue;
        };
        let anonymous = matches!(b.kind, BindKind::Anonymous | BindKind::Unauthenticated);
        if anonymous && b.outcome != Outcome::Failure {
            ev.facts.add(Fact::AnonymousAccess);
        }
        ev.push_auth(AuthSeen {
            mechanism,
            clear_credentials: b.clear,
            outcome: b.outcome,
            user: b.user.clone(),
            domain: b.domain.clone(),
        });
    }
    let layer = if st.seal {
        Some(SecurityLayer::Seal)
    } else if st.sign {
        Some(SecurityLayer::Sign)
    } else if st.unknown_layer {
        Some(SecurityLayer::Unknown)
    } else {
        match st.gssapi_choice {
            Some(c) if c & 0x04 != 0 => Some(SecurityLayer::Seal),
            Some(c) if c & 0x02 != 0 => Some(SecurityLayer::Sign),
            _ => None,
        }
    };
    st.ldap.security_layer = layer;
    ev.protection = match (st.ldap.starttls, layer) {
        (Some(StartTls::Accepted), _) => {
            if let (Some((_, client_at)), Some(server_at)) =
                (st.starttls_request, st.starttls_accepted_at)
            {
                ev.upgrade = Some(Upgrade {
                    client_at,
                    server_at,
                    anonymous: false,
                });
            }
            Protection::Starttls
        }
        (Some(StartTls::Requested), _) => Protection::UpgradeUnconfirmed,
        (_, Some(SecurityLayer::Seal)) => Protection::SaslSeal,
        (_, Some(SecurityLayer::Sign)) => Protection::SaslSign,
        (_, Some(SecurityLayer::Unknown)) => Protection::Unknown,
        _ if st.clear_messages == 0 => Protection::Unknown,
        _ => {
            // A bind that could have set up a security layer, and nothing seen after it in
            // either direction while the prefix was cut: what followed is unknown.
            let pending = st
                .binds
                .iter()
                .any(|b| b.layer_possible && b.outcome != Outcome::Failure)
                && st.after_bind == [0, 0]
                && (input.client_cut || input.server_cut);
            if pending {
                Protection::Unknown
            } else {
                Protection::Clear
            }
        }
    };
    if st.starttls_refused {
        ev.facts.add(Fact::StarttlsRefused);
    }
    if st.ldap.starttls_offered
        && st.next_after_root_dse == Some(false)
        && ev.protection == Protection::Clear
    {
        ev.facts.add(Fact::StarttlsOfferedNotUsed);
    }
    ev.detail = super::Detail::Ldap(Box::new(st.ldap));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::line::testdata::assert_no_secret;
    use crate::inspect::{Detail, MAX_AUTH};
    use ber::build::{ctx, int, int_tagged, seq, tlv};
    use proptest::prelude::*;

    fn msg(id: i64, op: Vec<u8>) -> Vec<u8> {
        seq(&[int(id), op])
    }

    fn enumerated(n: i64) -> Vec<u8> {
        int_tagged(0x0a, n)
    }

    fn octets(b: &[u8]) -> Vec<u8> {
        tlv(0x04, b)
    }

    fn bind_simple(id: i64, name: &str, pw: &[u8]) -> Vec<u8> {
        msg(
            id,
            tlv(
                0x60,
                &[int(3), octets(name.as_bytes()), tlv(0x80, pw)].concat(),
            ),
        )
    }

    fn bind_sasl(id: i64, mech: &str, creds: Option<&[u8]>) -> Vec<u8> {
        let mut sasl = octets(mech.as_bytes());
        if let Some(c) = creds {
            sasl.extend_from_slice(&octets(c));
        }
        msg(
            id,
            tlv(0x60, &[int(3), octets(b""), tlv(0xa3, &sasl)].concat()),
        )
    }

    fn bind_resp(id: i64, code: i64, creds: Option<&[u8]>) -> Vec<u8> {
        let mut body = [enumerated(code), octets(b""), octets(b"")].concat();
        if let Some(c) = creds {
            body.extend_from_slice(&tlv(0x87, c));
        }
        msg(id, tlv(0x61, &body))
    }

    fn result(id: i64, app: u8, code: i64) -> Vec<u8> {
        msg(
            id,
            tlv(app, &[enumerated(code), octets(b""), octets(b"")].concat()),
        )
    }

    fn search(id: i64, base: &str, scope: i64, filter: Vec<u8>) -> Vec<u8> {
        msg(
            id,
            tlv(
                0x63,
                &[
                    octets(base.as_bytes()),
                    enumerated(scope),
                    enumerated(0),
                    int(0),
                    int(0),
                    tlv(0x01, &[0]),
                    filter,
                    seq(&[]),
                ]
                .concat(),
            ),
        )
    }

    fn present(attr: &str) -> Vec<u8> {
        tlv(0x87, attr.as_bytes())
    }

    fn entry(id: i64, dn: &str, attr: &str, vals: &[&str]) -> Vec<u8> {
        let vals: Vec<u8> = vals.iter().flat_map(|v| octets(v.as_bytes())).collect();
        let attrs = seq(&[seq(&[octets(attr.as_bytes()), tlv(0x31, &vals)])]);
        msg(id, tlv(0x64, &[octets(dn.as_bytes()), attrs].concat()))
    }

    fn extended(id: i64, oid: &str) -> Vec<u8> {
        msg(id, tlv(0x77, &tlv(0x80, oid.as_bytes())))
    }

    fn modify(id: i64, dn: &str) -> Vec<u8> {
        let change = seq(&[
            enumerated(2),
            seq(&[
                octets(b"unicodePwd"),
                tlv(0x31, &octets(b"\"Sup3rSecret\"")),
            ]),
        ]);
        msg(
            id,
            tlv(0x66, &[octets(dn.as_bytes()), seq(&[change])].concat()),
        )
    }

    const CLIENT_HELLO: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00];
    const SERVER_HELLO: &[u8] = &[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00];

    /// A GSS-API token naming Kerberos, with an AP-REQ whose ticket has `etype`.
    fn krb_token(etype: i64) -> Vec<u8> {
        let enc = seq(&[ctx(0, &int(etype)), ctx(2, &octets(&[0x33; 16]))]);
        let ticket = tlv(
            0x61,
            &seq(&[
                ctx(0, &int(5)),
                ctx(1, &tlv(0x1b, b"CONTOSO.COM")),
                ctx(
                    2,
                    &seq(&[ctx(0, &int(2)), ctx(1, &seq(&[tlv(0x1b, b"ldap")]))]),
                ),
                ctx(3, &enc),
            ]),
        );
        let ap = tlv(
            0x6e,
            &seq(&[
                ctx(0, &int(5)),
                ctx(1, &int(14)),
                ctx(2, &tlv(0x03, &[0, 0, 0, 0, 0])),
                ctx(3, &ticket),
                ctx(4, &enc),
            ]),
        );
        let mut inner = KRB5_OIDS[0].to_vec();
        inner.extend_from_slice(&[0x01, 0x00]);
        inner.extend_from_slice(&ap);
        tlv(0x60, &inner)
    }

    fn ntlm_negotiate() -> Vec<u8> {
        crate::testkit::ntlm::negotiate()
    }

    /// A CHALLENGE message; its server challenge makes it invalid UTF-8, as real ones are.
    fn ntlm_challenge() -> Vec<u8> {
        crate::testkit::ntlm::challenge("", &[0xfe, 0xed, 0xfa, 0xce, 0xc0, 0xff, 0xee, 0x99])
    }

    /// An NTLMv2 AUTHENTICATE for `domain\user`.
    fn ntlm_authenticate(domain: &str, user: &str) -> Vec<u8> {
        crate::testkit::ntlm::authenticate(&[0x42; 48], domain, user, "WS1")
    }

    /// A SASL buffer: four-octet length, then the token.
    fn sasl(token: &[u8]) -> Vec<u8> {
        let mut v = u32::try_from(token.len()).unwrap().to_be_bytes().to_vec();
        v.extend_from_slice(token);
        v
    }

    /// An RFC 4121 Wrap token around `plain`: sealed, or signed with RRC = EC = 12 as Windows
    /// sends them.
    fn wrap4121(plain: &[u8], sealed: bool) -> Vec<u8> {
        let flags = if sealed { 0x06 } else { 0x04 };
        let mut t = vec![0x05, 0x04, flags, 0xff, 0x00, 0x0c, 0x00, 0x0c];
        t.extend_from_slice(&[0, 0, 0, 0, 0x5c, 0xd0, 0xf0, 0xc9]);
        t.extend_from_slice(&[0xa2; 12]); // the rotated checksum
        if sealed {
            t.extend_from_slice(&[0x9c; 40]);
        } else {
            t.extend_from_slice(plain);
        }
        t
    }

    fn run_with(client: &[u8], server: &[u8], udp: bool, cut: bool) -> (bool, Evidence) {
        let mut ev = Evidence::default();
        let input = Input {
            client,
            server,
            udp,
            client_port: 50000,
            server_port: 389,
            client_cut: cut,
            server_cut: cut,
            ..Default::default()
        };
        let mine = inspect(&input, &mut ev);
        (mine, ev)
    }

    fn run(client: &[u8], server: &[u8]) -> Evidence {
        let (mine, ev) = run_with(client, server, false, false);
        assert!(mine);
        ev
    }

    fn detail(ev: &Evidence) -> &Ldap {
        match &ev.detail {
            Detail::Ldap(l) => l,
            d => panic!("not LDAP: {d:?}"),
        }
    }

    fn json(ev: &Evidence) -> String {
        serde_json::to_string(detail(ev)).unwrap()
    }

    #[test]
    fn simple_bind_with_a_password_crosses_in_clear() {
        let c = bind_simple(1, "CN=svc,DC=contoso,DC=com", b"Pa55w0rd!");
        let s = bind_resp(1, 0, None);
        let ev = run(&c, &s);
        assert_eq!(ev.service, Some(Service::Ldap));
        assert_eq!(ev.protection, Protection::Clear);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Password);
        assert!(a.clear_credentials);
        assert_eq!(a.outcome, Outcome::Success);
        assert_eq!(a.user.as_deref(), Some("CN=svc,DC=contoso,DC=com"));
        assert!(!ev.facts.has(Fact::AnonymousAccess));
        let m = &detail(&ev).messages[0];
        assert_eq!(
            (m.message_id, m.opcode, m.version),
            (1, "bind simple", Some(3))
        );
        assert_eq!(m.result.as_deref(), Some("success"));
        assert!(!json(&ev).contains("Pa55"));
        assert!(!format!("{ev:?}").contains("Pa55"));
    }

    #[test]
    fn a_rejected_password_is_a_failure() {
        let ev = run(
            &bind_simple(1, "alice@contoso.com", b"x"),
            &bind_resp(1, 49, None),
        );
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        assert_eq!(
            detail(&ev).messages[0].result.as_deref(),
            Some("invalidCredentials")
        );
        assert_eq!(result_name(4000), "4000");
    }

    #[test]
    fn anonymous_and_unauthenticated_binds() {
        let ev = run(&bind_simple(1, "", b""), &bind_resp(1, 0, None));
        assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
        assert!(!ev.auth[0].clear_credentials);
        assert!(ev.facts.has(Fact::AnonymousAccess));
        let ev = run(&bind_simple(1, "guest", b""), &bind_resp(1, 0, None));
        assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
        assert_eq!(ev.auth[0].user.as_deref(), Some("guest"));
        assert!(ev.facts.has(Fact::AnonymousAccess));
        // Near miss: the server refused the anonymous bind.
        let ev = run(&bind_simple(1, "", b""), &bind_resp(1, 53, None));
        assert!(!ev.facts.has(Fact::AnonymousAccess));
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
    }

    #[test]
    fn starttls_accepted_gives_the_upgrade_offsets() {
        let req = extended(1, STARTTLS_OID);
        let resp = result(1, 0x78, 0);
        let c = [req.clone(), CLIENT_HELLO.to_vec()].concat();
        let s = [resp.clone(), SERVER_HELLO.to_vec()].concat();
        let ev = run(&c, &s);
        assert_eq!(ev.protection, Protection::Starttls);
        assert_eq!(
            ev.upgrade,
            Some(Upgrade {
                client_at: req.len(),
                server_at: resp.len(),
                anonymous: false
            })
        );
        assert!(ev.facts.is_empty(), "{:?}", ev.facts);
        assert_eq!(detail(&ev).starttls, Some(StartTls::Accepted));
        assert_eq!(
            detail(&ev).messages[0].object.as_deref(),
            Some(STARTTLS_OID)
        );
    }

    #[test]
    fn starttls_refused_or_unanswered() {
        let c = [extended(1, STARTTLS_OID), bind_simple(2, "bob", b"pw")].concat();
        let s = [result(1, 0x78, 2), bind_resp(2, 0, None)].concat();
        let ev = run(&c, &s);
        assert!(ev.facts.has(Fact::StarttlsRefused));
        assert_eq!(ev.protection, Protection::Clear);
        assert!(ev.upgrade.is_none());
        assert!(ev.auth[0].clear_credentials);
        let ev = run(
            &[extended(1, STARTTLS_OID), CLIENT_HELLO.to_vec()].concat(),
            &[],
        );
        assert_eq!(ev.protection, Protection::UpgradeUnconfirmed);
        assert!(!ev.facts.has(Fact::Malformed));
        // Near miss: another extended operation (Who am I?) is no StartTLS.
        let ev = run(&extended(1, "1.3.6.1.4.1.4203.1.11.3"), &result(1, 0x78, 0));
        assert_eq!(ev.protection, Protection::Clear);
        assert_eq!(detail(&ev).starttls, None);
    }

    #[test]
    fn starttls_offered_in_the_root_dse_and_not_used() {
        let root = search(1, "", 0, present("objectClass"));
        let offer = [
            entry(
                1,
                "",
                "supportedExtension",
                &["1.3.6.1.4.1.4203.1.11.1", STARTTLS_OID],
            ),
            result(1, 0x65, 0),
        ]
        .concat();
        let c = [root.clone(), bind_simple(2, "bob", b"pw")].concat();
        let ev = run(&c, &offer);
        assert!(detail(&ev).starttls_offered);
        assert!(ev.facts.has(Fact::StarttlsOfferedNotUsed));
        // Near misses: the client takes the offer; the client's next step was not seen; the
        // server did not offer it.
        let c = [
            root.clone(),
            extended(2, STARTTLS_OID),
            CLIENT_HELLO.to_vec(),
        ]
        .concat();
        let ev = run(&c, &offer);
        assert!(!ev.facts.has(Fact::StarttlsOfferedNotUsed));
        let ev = run(&root, &offer);
        assert!(!ev.facts.has(Fact::StarttlsOfferedNotUsed));
        let plain = [
            entry(1, "", "supportedExtension", &["1.2.3"]),
            result(1, 0x65, 0),
        ]
        .concat();
        let ev = run(&[root, bind_simple(2, "bob", b"pw")].concat(), &plain);
        assert!(!ev.facts.has(Fact::StarttlsOfferedNotUsed));
    }

    #[test]
    fn gss_spnego_kerberos_then_signed_buffers_are_sasl_sign() {
        let c = [
            bind_sasl(7, "GSS-SPNEGO", Some(&krb_token(18))),
            sasl(&wrap4121(
                &modify(8, "CN=PC1,CN=Computers,DC=contoso,DC=com"),
                false,
            )),
        ]
        .concat();
        let s = [
            bind_resp(7, 0, Some(&ctx(1, &seq(&[ctx(1, KRB5_OIDS[1])])))),
            sasl(&wrap4121(&result(8, 0x67, 0), false)),
        ]
        .concat();
        let ev = run(&c, &s);
        assert_eq!(ev.protection, Protection::SaslSign);
        assert_eq!(ev.auth.len(), 1);
        assert_eq!(ev.auth[0].mechanism, Mechanism::Kerberos);
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
        assert!(!ev.facts.has(Fact::KerberosWeakEtype));
        let l = detail(&ev);
        assert_eq!(l.sasl_mechanism.as_deref(), Some("GSS-SPNEGO"));
        assert_eq!(l.security_layer, Some(SecurityLayer::Sign));
        let m = l.messages.iter().find(|m| m.opcode == "modify").unwrap();
        assert!(m.wrapped);
        assert_eq!(m.result.as_deref(), Some("success"));
        assert_eq!(
            m.object.as_deref(),
            Some("CN=PC1,CN=Computers,DC=contoso,DC=com")
        );
        assert!(!json(&ev).contains("Sup3r"));
    }

    #[test]
    fn sealed_buffers_are_sasl_seal() {
        let c = [
            bind_sasl(1, "GSSAPI", Some(&krb_token(23))),
            sasl(&wrap4121(&[], true)),
        ]
        .concat();
        let ev = run(&c, &bind_resp(1, 0, None));
        assert_eq!(ev.protection, Protection::SaslSeal);
        assert_eq!(ev.auth[0].mechanism, Mechanism::Gssapi);
        // The ticket in the bind is RC4.
        assert!(ev.facts.has(Fact::KerberosWeakEtype));
        // RFC 1964 / 4757 tokens: SEAL_ALG FFFF is none, anything else encrypts.
        for (seal_alg, want) in [
            ([0xff, 0xff], Protection::SaslSign),
            ([0x10, 0x00], Protection::SaslSeal),
        ] {
            let mut inner = KRB5_OIDS[1].to_vec();
            inner.extend_from_slice(&[0x02, 0x01, 0x11, 0x00]);
            inner.extend_from_slice(&seal_alg);
            inner.extend_from_slice(&[0xff; 2 + 8 + 8 + 8 + 20]);
            let c = [
                bind_sasl(1, "GSSAPI", Some(&krb_token(18))),
                sasl(&tlv(0x60, &inner)),
            ]
            .concat();
            assert_eq!(run(&c, &[]).protection, want);
        }
    }

    #[test]
    fn gssapi_security_layer_choice_is_read_from_the_last_step() {
        let choice = wrap4121(&[0x04, 0x00, 0x10, 0x00], false);
        let c = [
            bind_sasl(1, "GSSAPI", Some(&krb_token(18))),
            bind_sasl(2, "GSSAPI", Some(&[])),
            bind_sasl(3, "GSSAPI", Some(&choice)),
        ]
        .concat();
        let s = [
            bind_resp(1, 14, None),
            bind_resp(2, 14, None),
            bind_resp(3, 0, None),
        ]
        .concat();
        let ev = run(&c, &s);
        assert_eq!(ev.protection, Protection::SaslSeal);
        assert_eq!(ev.auth.len(), 1, "{:?}", ev.auth);
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
        let none = wrap4121(&[0x01, 0, 0, 0], false);
        let c = [
            bind_sasl(1, "GSSAPI", Some(&krb_token(18))),
            bind_sasl(2, "GSSAPI", Some(&none)),
        ]
        .concat();
        let ev = run(
            &c,
            &[bind_resp(1, 14, None), bind_resp(2, 0, None)].concat(),
        );
        assert_eq!(ev.protection, Protection::Clear);
    }

    #[test]
    fn ntlm_under_spnego_names_the_user_and_its_layer() {
        let signed_payload = result(3, 0x65, 0);
        let mut signed = vec![1, 0, 0, 0];
        signed.extend_from_slice(&[0x77; 12]);
        let sealed = signed.clone();
        signed.extend_from_slice(&search(3, "DC=contoso,DC=com", 2, present("cn")));
        let c = [
            bind_sasl(1, "GSS-SPNEGO", Some(&ntlm_negotiate())),
            bind_sasl(
                2,
                "GSS-SPNEGO",
                Some(&ntlm_authenticate("CONTOSO", "alice")),
            ),
            sasl(&signed),
        ]
        .concat();
        let s = [
            bind_resp(1, 14, Some(&ntlm_challenge())),
            bind_resp(2, 0, None),
            sasl(&[&sealed[..], &signed_payload].concat()),
        ]
        .concat();
        let ev = run(&c, &s);
        assert_eq!(ev.auth.len(), 1, "{:?}", ev.auth);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Ntlm);
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert_eq!(a.domain.as_deref(), Some("CONTOSO"));
        assert_eq!(a.outcome, Outcome::Success);
        assert_eq!(ev.protection, Protection::SaslSign);
        assert!(ev.ntlm.is_some());
        // The same with a payload that is not an LDAPMessage: sealed.
        let mut enc = sealed.clone();
        enc.extend_from_slice(&[0xd3, 0x11, 0x8a, 0x40, 0x02, 0x99, 0x17]);
        let c = [
            bind_sasl(1, "GSS-SPNEGO", Some(&ntlm_negotiate())),
            bind_sasl(
                2,
                "GSS-SPNEGO",
                Some(&ntlm_authenticate("CONTOSO", "alice")),
            ),
            sasl(&enc),
        ]
        .concat();
        assert_eq!(run(&c, &[]).protection, Protection::SaslSeal);
    }

    #[test]
    fn sicily_ntlm_binds() {
        let sicily = |id: i64, tag: u8, blob: &[u8]| {
            msg(
                id,
                tlv(0x60, &[int(3), octets(b""), tlv(tag, blob)].concat()),
            )
        };
        let c = [
            sicily(1, 0x89, b""),
            sicily(2, 0x8a, &ntlm_negotiate()),
            sicily(3, 0x8b, &ntlm_authenticate("CORP", "svc-exch")),
        ]
        .concat();
        let challenge = msg(
            2,
            tlv(
                0x61,
                &[enumerated(0), octets(&ntlm_challenge()), octets(b"")].concat(),
            ),
        );
        let discovery = msg(
            1,
            tlv(
                0x61,
                &[enumerated(0), octets(b"NTLM"), octets(b"")].concat(),
            ),
        );
        let s = [discovery, challenge, bind_resp(3, 0, None)].concat();
        let ev = run(&c, &s);
        assert!(!ev.facts.has(Fact::Malformed), "{:?}", ev.facts);
        assert_eq!(ev.auth.len(), 1, "{:?}", ev.auth);
        assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
        assert_eq!(ev.auth[0].user.as_deref(), Some("svc-exch"));
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
        let l = detail(&ev);
        assert_eq!(
            l.messages
                .iter()
                .filter(|m| m.opcode == "bind sicily")
                .count(),
            3
        );
        assert!(
            l.messages
                .iter()
                .all(|m| m.result.as_deref() == Some("success"))
        );
        // Near miss: an authentication choice no one defines.
        let ev = run(&sicily(1, 0x8f, b"x"), &[]);
        assert!(ev.facts.has(Fact::Malformed));
        assert!(ev.auth.is_empty());
    }

    #[test]
    fn other_sasl_mechanisms() {
        let ev = run(
            &bind_sasl(1, "PLAIN", Some(b"\0carol\0Secr3t")),
            &bind_resp(1, 0, None),
        );
        assert_eq!(ev.auth[0].mechanism, Mechanism::Plain);
        assert_eq!(ev.auth[0].user.as_deref(), Some("carol"));
        assert!(ev.auth[0].clear_credentials);
        assert!(!format!("{ev:?}").contains("Secr3t"));
        let ev = run(&bind_sasl(1, "EXTERNAL", None), &bind_resp(1, 0, None));
        assert_eq!(ev.auth[0].mechanism, Mechanism::External);
        assert!(!ev.auth[0].clear_credentials);
        let digest = b"username=\"dave\",realm=\"contoso.com\",nonce=\"abc\",response=0123abcd";
        let c = [
            bind_sasl(1, "DIGEST-MD5", None),
            bind_sasl(2, "DIGEST-MD5", Some(digest)),
        ]
        .concat();
        let ev = run(
            &c,
            &[
                bind_resp(1, 14, Some(b"nonce=\"abc\"")),
                bind_resp(2, 0, None),
            ]
            .concat(),
        );
        assert_eq!(ev.auth.len(), 1);
        assert_eq!(ev.auth[0].mechanism, Mechanism::DigestMd5);
        assert_eq!(ev.auth[0].user.as_deref(), Some("dave"));
        assert!(!format!("{ev:?}").contains("0123abcd"));
        let ev = run(
            &bind_sasl(
                1,
                "CRAM-MD5",
                Some(b"erin 0123456789abcdef0123456789abcdef"),
            ),
            &[],
        );
        assert_eq!(ev.auth[0].user.as_deref(), Some("erin"));
        let ev = run(
            &bind_sasl(
                1,
                "OAUTHBEARER",
                Some(b"n,a=frank@contoso.com,\x01auth=Bearer tok\x01\x01"),
            ),
            &[],
        );
        assert_eq!(ev.auth[0].mechanism, Mechanism::Bearer);
        assert_eq!(ev.auth[0].user.as_deref(), Some("frank@contoso.com"));
        assert!(ev.auth[0].clear_credentials);
        let ev = run(&bind_sasl(1, "X-UNKNOWN", None), &[]);
        assert_eq!(ev.auth[0].mechanism, Mechanism::Other);
    }

    #[test]
    fn sasl_plain_with_two_fields_names_nobody_and_is_clear() {
        let three = run(
            &bind_sasl(1, "PLAIN", Some(b"\0carol\0Ldap-Tw0-F1elds")),
            &bind_resp(1, 0, None),
        );
        assert_eq!(three.auth[0].user.as_deref(), Some("carol"));
        assert!(three.auth[0].clear_credentials);
        for creds in [
            &b"carol\0Ldap-Tw0-F1elds"[..],
            b"Ldap-Tw0-F1elds",
            b"\0\0Ldap-Tw0-F1elds",
            b"a\0carol\0Ldap-Tw0-F1elds\0b",
        ] {
            let ev = run(&bind_sasl(1, "PLAIN", Some(creds)), &bind_resp(1, 0, None));
            let a = &ev.auth[0];
            assert_eq!(a.mechanism, Mechanism::Plain);
            assert_eq!(a.user, None, "{creds:?}");
            assert!(a.clear_credentials, "{creds:?}");
            let out = format!(
                "{ev:?}\n{}\n{}",
                json(&ev),
                serde_json::to_string(&ev.auth).unwrap()
            );
            assert_no_secret(&out, "carol", "Ldap-Tw0-F1elds");
        }
    }

    #[test]
    fn sasl_digests_and_tokens_never_name_a_user() {
        // CRAM-MD5 with the digest alone.
        let digest = b"b913a602c7eda7a495b4e6e7334d3890";
        let ev = run(&bind_sasl(1, "CRAM-MD5", Some(digest)), &[]);
        assert_eq!(ev.auth[0].user, None);
        assert!(!ev.auth[0].clear_credentials);
        assert!(!format!("{ev:?}").contains("b913a602"));
        // OAUTHBEARER without a name in its header, and a token that looks like one.
        let ev = run(
            &bind_sasl(
                1,
                "OAUTHBEARER",
                Some(b"n,,\x01auth=Bearer dGVzdGa=T0ken-Tail\x01\x01"),
            ),
            &[],
        );
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert!(!format!("{ev:?}").contains("T0ken-Tail"));
        // LOGIN: the password crosses in a bind step.
        let c = [
            bind_sasl(1, "LOGIN", None),
            bind_sasl(2, "LOGIN", Some(b"carol")),
            bind_sasl(3, "LOGIN", Some(b"L0gin-Step")),
        ]
        .concat();
        let ev = run(&c, &[]);
        assert_eq!(ev.auth.len(), 1, "{:?}", ev.auth);
        assert_eq!(ev.auth[0].mechanism, Mechanism::Login);
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert!(!format!("{ev:?}").contains("L0gin-Step"));
        let ev = run(&bind_sasl(1, "LOGIN", None), &[]);
        assert!(!ev.auth[0].clear_credentials, "nothing sent yet");
    }

    #[test]
    fn a_security_layer_that_the_prefix_hides_is_unknown() {
        let c = bind_sasl(1, "GSS-SPNEGO", Some(&krb_token(18)));
        let s = bind_resp(1, 0, None);
        let (_, ev) = run_with(&c, &s, false, true);
        assert_eq!(ev.protection, Protection::Unknown);
        // Not cut: the connection ended after the bind, and nothing encrypted followed.
        let (_, ev) = run_with(&c, &s, false, false);
        assert_eq!(ev.protection, Protection::Clear);
        // Clear LDAP after the bind decides it even when cut.
        let c2 = [c.clone(), search(2, "DC=x", 2, present("cn"))].concat();
        let (_, ev) = run_with(&c2, &s, false, true);
        assert_eq!(ev.protection, Protection::Clear);
    }

    #[test]
    fn search_filters_render_as_rfc4515_and_keep_no_password() {
        let eq = |a: &str, v: &[u8]| tlv(0xa3, &[octets(a.as_bytes()), octets(v)].concat());
        let subs = tlv(
            0xa4,
            &[
                octets(b"cn"),
                seq(&[tlv(0x80, b"Jo"), tlv(0x81, b"h"), tlv(0x82, b"n")]),
            ]
            .concat(),
        );
        let ext = tlv(
            0xa9,
            &[
                tlv(0x81, b"1.2.3"),
                tlv(0x82, b"ou"),
                tlv(0x83, b"x(y)*"),
                tlv(0x84, &[0xff]),
            ]
            .concat(),
        );
        let filter = tlv(
            0xa0,
            &[
                eq("objectClass", b"user"),
                tlv(0xa2, &eq("uid", b"a\\b")),
                tlv(
                    0xa1,
                    &[
                        present("mail"),
                        tlv(0xa5, &[octets(b"n"), octets(b"5")].concat()),
                    ]
                    .concat(),
                ),
                subs,
                ext,
                eq("userPassword", b"hunter2"),
                tlv(0xa6, &[octets(b"n"), octets(b"9")].concat()),
            ]
            .concat(),
        );
        let ev = run(
            &search(2, "DC=contoso,DC=com", 2, filter),
            &result(2, 0x65, 0),
        );
        let m = &detail(&ev).messages[0];
        assert_eq!(m.opcode, "search");
        assert_eq!(m.object.as_deref(), Some("DC=contoso,DC=com"));
        assert_eq!(
            m.filter.as_deref(),
            Some(
                "(&(objectClass=user)(!(uid=a\\5cb))(|(mail=*)(n>=5))(cn=Jo*h*n)\
(ou:dn:1.2.3:=x\\28y\\29\\2a)(userPassword=REDACTED)(n<=9))"
            )
        );
        assert!(!json(&ev).contains("hunter2"));
        let approx = tlv(0xa8, &[octets(b"sn"), octets(b"smyth")].concat());
        let ev = run(&search(3, "", 2, approx), &[]);
        assert_eq!(
            detail(&ev).messages[0].filter.as_deref(),
            Some("(sn~=smyth)")
        );
    }

    #[test]
    fn long_filters_are_cut() {
        let items: Vec<Vec<u8>> = (0..40)
            .map(|_| {
                tlv(
                    0xa3,
                    &[octets(b"department"), octets(b"engineering")].concat(),
                )
            })
            .collect();
        let ev = run(&search(2, "", 2, tlv(0xa1, &items.concat())), &[]);
        let f = detail(&ev).messages[0].filter.clone().unwrap();
        assert!(
            f.len() <= MAX_TEXT && f.starts_with("(|(department=engineering)"),
            "{f}"
        );
    }

    #[test]
    fn cldap_ping_over_udp() {
        let c = search(3, "", 0, tlv(0xa0, &present("DnsDomain")));
        let s = [
            entry(3, "", "Netlogon", &["\u{17}\u{0}"]),
            result(3, 0x65, 0),
        ]
        .concat();
        let (mine, ev) = run_with(&c, &s, true, false);
        assert!(mine);
        assert!(detail(&ev).cldap);
        assert_eq!(ev.protection, Protection::Clear);
        assert_eq!(detail(&ev).messages[0].result.as_deref(), Some("success"));
    }

    #[test]
    fn other_operations_are_recorded() {
        let del = msg(4, tlv(0x4a, b"CN=old,DC=x"));
        let add = msg(5, tlv(0x68, &[octets(b"CN=new,DC=x"), seq(&[])].concat()));
        let c = [
            modify(3, "CN=a,DC=x"),
            del,
            add,
            msg(6, tlv(0x42, b"")),
            msg(7, tlv(0x50, &[2])),
        ]
        .concat();
        let s = [result(3, 0x67, 0), result(4, 0x6b, 32), result(5, 0x69, 68)].concat();
        let ev = run(&c, &s);
        let ops: Vec<(&str, Option<&str>)> = detail(&ev)
            .messages
            .iter()
            .map(|m| (m.opcode, m.result.as_deref()))
            .collect();
        assert_eq!(
            ops,
            [
                ("modify", Some("success")),
                ("delete", Some("noSuchObject")),
                ("add", Some("entryAlreadyExists")),
                ("unbind", None),
                ("abandon", None)
            ]
        );
        assert!(!json(&ev).contains("Sup3r"));
    }

    #[test]
    fn messages_beyond_the_cap_are_counted() {
        let c: Vec<u8> = (1..=20)
            .flat_map(|i| search(i, "DC=x", 2, present("cn")))
            .collect();
        let ev = run(&c, &[]);
        assert_eq!(detail(&ev).messages.len(), MAX_KEPT);
        assert_eq!(detail(&ev).messages_more, 4);
    }

    #[test]
    fn not_ldap_is_answered_fast() {
        let snmp = [
            0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',
        ];
        for b in [
            &snmp[..],
            &[0x16, 0x03, 0x01, 0x00, 0x05, 0x01],
            b"EHLO mail.contoso.com\r\n",
            &[0x00, 0x00, 0x00, 0x10, 0x6a, 0x0e, 0x30],
            &[0x30, 0x80, 0x02, 0x01, 0x01, 0x60],
            &[0x30, 0x05, 0x02, 0x05, 1, 1, 1, 1, 1, 0x60],
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x71],
            &[0x30],
            &[],
        ] {
            let (mine, ev) = run_with(b, b, false, false);
            assert!(!mine, "{b:02x?}");
            assert!(ev.service.is_none());
        }
        assert!(looks_like(&bind_simple(1, "", b"")));
        assert!(looks_like(&msg(1, tlv(0x42, b""))));
    }

    #[test]
    fn garbage_after_ldap_is_malformed() {
        let c = [bind_simple(1, "", b""), b"\xde\xad\xbe\xef junk".to_vec()].concat();
        let ev = run(&c, &[]);
        assert!(ev.facts.has(Fact::Malformed));
        assert_eq!(ev.auth.len(), 1);
    }

    #[test]
    fn every_truncation_of_a_conversation_is_handled() {
        let c = [
            search(1, "", 0, present("objectClass")),
            bind_sasl(2, "GSS-SPNEGO", Some(&ntlm_negotiate())),
            bind_sasl(3, "GSS-SPNEGO", Some(&ntlm_authenticate("D", "u"))),
            sasl(&wrap4121(&modify(4, "CN=a"), false)),
        ]
        .concat();
        let s = [
            entry(1, "", "supportedExtension", &[STARTTLS_OID]),
            bind_resp(2, 14, Some(&ntlm_challenge())),
            bind_resp(3, 0, None),
            sasl(&wrap4121(&result(4, 0x67, 0), false)),
        ]
        .concat();
        for cut in 0..c.len() {
            let (mine, ev) = run_with(&c[..cut], &s, false, true);
            assert!(mine, "cut {cut}");
            assert!(ev.auth.len() <= MAX_AUTH);
            assert!(!ev.facts.has(Fact::Malformed), "client cut {cut}");
        }
        for cut in 0..s.len() {
            let (_, ev) = run_with(&c, &s[..cut], false, true);
            assert!(!ev.facts.has(Fact::Malformed), "server cut {cut}");
            assert_eq!(ev.protection, Protection::SaslSign);
        }
        let st = [extended(1, STARTTLS_OID), CLIENT_HELLO.to_vec()].concat();
        for cut in 0..st.len() {
            let _ = run_with(&st[..cut], &result(1, 0x78, 0), false, true);
        }
    }

    type Seed = (&'static str, u8, Vec<u8>, Vec<u8>);

    fn seeds() -> Vec<Seed> {
        let root = search(1, "", 0, present("objectClass"));
        let offer = [
            entry(1, "", "supportedExtension", &[STARTTLS_OID]),
            result(1, 0x65, 0),
        ]
        .concat();
        let mut ntlm_signed = vec![1, 0, 0, 0];
        ntlm_signed.extend_from_slice(&[0x77; 12]);
        ntlm_signed.extend_from_slice(&search(3, "DC=contoso,DC=com", 2, present("cn")));
        let sicily = |id: i64, tag: u8, blob: &[u8]| {
            msg(
                id,
                tlv(0x60, &[int(3), octets(b""), tlv(tag, blob)].concat()),
            )
        };
        vec![
            (
                "simple-bind",
                0,
                bind_simple(1, "CN=svc,DC=contoso,DC=com", b"pw"),
                bind_resp(1, 0, None),
            ),
            (
                "anonymous-bind",
                0,
                bind_simple(1, "", b""),
                bind_resp(1, 53, None),
            ),
            (
                "starttls",
                0,
                [extended(1, STARTTLS_OID), CLIENT_HELLO.to_vec()].concat(),
                [result(1, 0x78, 0), SERVER_HELLO.to_vec()].concat(),
            ),
            (
                "starttls-refused",
                0,
                [extended(1, STARTTLS_OID), bind_simple(2, "bob", b"pw")].concat(),
                [result(1, 0x78, 2), bind_resp(2, 49, None)].concat(),
            ),
            (
                "root-dse-offer",
                0,
                [root, bind_simple(2, "bob", b"pw")].concat(),
                offer,
            ),
            (
                "gss-spnego-sign",
                0,
                [
                    bind_sasl(7, "GSS-SPNEGO", Some(&krb_token(18))),
                    sasl(&wrap4121(&modify(8, "CN=PC1,DC=contoso,DC=com"), false)),
                ]
                .concat(),
                [
                    bind_resp(7, 0, None),
                    sasl(&wrap4121(&result(8, 0x67, 0), false)),
                ]
                .concat(),
            ),
            (
                "gssapi-seal",
                4,
                [
                    bind_sasl(1, "GSSAPI", Some(&krb_token(23))),
                    sasl(&wrap4121(&[], true)),
                ]
                .concat(),
                bind_resp(1, 0, None),
            ),
            (
                "ntlm-spnego",
                0,
                [
                    bind_sasl(1, "GSS-SPNEGO", Some(&ntlm_negotiate())),
                    bind_sasl(
                        2,
                        "GSS-SPNEGO",
                        Some(&ntlm_authenticate("CONTOSO", "alice")),
                    ),
                    sasl(&ntlm_signed),
                ]
                .concat(),
                [
                    bind_resp(1, 14, Some(&ntlm_challenge())),
                    bind_resp(2, 0, None),
                ]
                .concat(),
            ),
            (
                "sicily",
                0,
                [
                    sicily(1, 0x8a, &ntlm_negotiate()),
                    sicily(2, 0x8b, &ntlm_authenticate("D", "u")),
                ]
                .concat(),
                [
                    msg(
                        1,
                        tlv(
                            0x61,
                            &[enumerated(0), octets(&ntlm_challenge()), octets(b"")].concat(),
                        ),
                    ),
                    bind_resp(2, 0, None),
                ]
                .concat(),
            ),
            (
                "sasl-digest",
                0,
                bind_sasl(1, "DIGEST-MD5", Some(b"username=\"dave\",realm=\"r\"")),
                bind_resp(1, 0, None),
            ),
            (
                "sasl-plain-two-fields",
                0,
                [
                    bind_sasl(1, "PLAIN", Some(b"carol\0pw")),
                    bind_sasl(2, "OAUTHBEARER", Some(b"n,a=u,\x01auth=Bearer t\x01\x01")),
                ]
                .concat(),
                bind_resp(1, 49, None),
            ),
            (
                "search-filter",
                8,
                search(
                    2,
                    "DC=x",
                    2,
                    tlv(0xa0, &[present("mail"), tlv(0xa2, &present("cn"))].concat()),
                ),
                result(2, 0x65, 0),
            ),
            (
                "cldap",
                1,
                search(3, "", 0, tlv(0xa0, &present("DnsDomain"))),
                [entry(3, "", "Netlogon", &["x"]), result(3, 0x65, 0)].concat(),
            ),
            (
                "near-miss-snmp",
                1,
                vec![0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p'],
                vec![],
            ),
        ]
    }

    /// Writes this module's test conversations as the seed corpus of the `inspect_ldap` fuzz target.
    #[test]
    #[ignore = "writes fuzz/corpus/inspect_ldap: cargo test --lib -- --ignored write_fuzz_seeds"]
    fn write_fuzz_seeds() {
        crate::testkit::fuzzing::write_seeds("inspect_ldap", &seeds()).unwrap();
    }

    /// The seeds also run here, so a change that breaks one is seen at once.
    #[test]
    fn inspect_ldap_seeds_are_recognised() {
        for (name, flags, c, s) in seeds() {
            let (mine, _) = run_with(&c, &s, flags & 1 != 0, flags & 12 != 0);
            assert!(mine || name.starts_with("near-miss"), "{name}");
            crate::testkit::fuzzing::inspect_ldap(&crate::testkit::fuzzing::seed(flags, &c, &s));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_stay_bounded(c in proptest::collection::vec(any::<u8>(), 0..800),
                                  s in proptest::collection::vec(any::<u8>(), 0..800),
                                  udp: bool, lead: bool) {
            // Half the cases start with a real message so that the walk goes on into noise.
            let c = if lead { [bind_sasl(1, "GSS-SPNEGO", Some(&ntlm_negotiate())), c].concat() } else { c };
            let s = if lead { [bind_resp(1, 0, None), s].concat() } else { s };
            let (mine, ev) = run_with(&c, &s, udp, false);
            prop_assert!(ev.auth.len() <= MAX_AUTH);
            if mine {
                let l = detail(&ev);
                prop_assert!(l.messages.len() <= MAX_KEPT);
                for m in &l.messages {
                    prop_assert!(m.filter.as_ref().is_none_or(|f| f.len() <= MAX_TEXT));
                    prop_assert!(m.object.as_ref().is_none_or(|f| f.len() <= MAX_TEXT));
                }
                let _ = serde_json::to_vec(l).unwrap();
            }
        }
    }
}
