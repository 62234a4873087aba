//! Kerberos V5 KDC exchanges (RFC 4120): AS-REQ / AS-REP, TGS-REQ / TGS-REP and KRB-ERROR, over
//! UDP (a message per datagram) and TCP (a four-octet record marker before each message, RFC 4120
//! §7.2.2). What is kept: the realm, the client principal (a user name), the service principal,
//! the encryption types the client asked for and those of the reply's ticket and enc-part, and
//! the error code and text. Nothing encrypted is kept, and no ticket or pre-authentication data.
//!
//! kerberos-parser decodes whole messages. A message the payload prefix cut is walked leniently
//! (`ldap::ber`) for what lies before the cut: a TGS-REQ's pre-authentication carries a whole
//! ticket and can run past a 4 KiB prefix. [`ap_req_etype`] finds the ticket's encryption type
//! in an AP-REQ wherever it is carried (bare, in a GSS-API token, inside SPNEGO) for the
//! inspectors of the protocols that carry one.

#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;

use kerberos_parser::krb5::{ApReq, KdcRep, KdcReq, KrbError, PrincipalName};
use kerberos_parser::krb5_parser::{parse_as_rep, parse_as_req, parse_tgs_rep, parse_tgs_req};
use serde::Serialize;
use x509_parser::der_parser::asn1_rs::FromDer;

use super::ldap::ber;
use super::{AuthSeen, Evidence, Fact, Input, Mechanism, Outcome, Protection, Service, wire_text};

/// Messages read per direction over TCP; a KDC connection carries one exchange.
const MAX_RECORDS: usize = 8;
/// Encryption types kept from a request; clients list half a dozen.
pub const MAX_ETYPES: usize = 16;
/// RFC 4120 §7.2.2 leaves the record length open; a KDC message above 1 MiB is not one.
const MAX_RECORD_LEN: u32 = 1 << 20;
/// Occurrences of the Kerberos OID tried when looking for an AP-REQ in a blob.
const MAX_OID_HITS: usize = 16;

/// What the Kerberos conversation showed, with Zeek's kerberos.log names where it has one.
#[derive(Debug, Default, Serialize)]
pub struct Kerberos {
    /// `AS` or `TGS`, from the first request (or reply) seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_type: Option<&'static str>,
    /// The client principal's name components joined with `/` (realm apart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// The service principal asked for (or the reply's ticket names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The encryption types the client asked for, in its order of preference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub etypes: Vec<Cow<'static, str>>,
    /// The reply's ticket encryption type (Zeek's `cipher`): the service key's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<Cow<'static, str>>,
    /// The reply's enc-part encryption type: the client's key in an AS-REP, the TGT session
    /// key (or sub-key) in a TGS-REP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_cipher: Option<Cow<'static, str>>,
    /// A reply came back (`true`), or an error that ends the exchange (`false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
    /// The error's RFC 4120 §7.5.9 name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_name: Option<Cow<'static, str>>,
    /// The KDC's e-text (MIT puts its reason there: `CANT_FIND_CLIENT_KEY`, `LOCKED_OUT` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    /// The request used PKINIT (RFC 4556 PA-PK-AS-REQ): a certificate, not a password.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pkinit: bool,
    /// KDC messages read, both directions.
    pub messages: u32,
    /// A message was cut by the payload prefix; what it held after the cut is unknown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// RFC 8062 §3: the client name of anonymous PKINIT.
const ANONYMOUS_PRINCIPAL: &str = "WELLKNOWN/ANONYMOUS";

/// `[APPLICATION n]` identifiers of the KDC messages (RFC 4120 §5.4.1, §5.4.2, §5.9.1).
const AS_REQ: u8 = 0x6a;
const AS_REP: u8 = 0x6b;
const TGS_REQ: u8 = 0x6c;
const TGS_REP: u8 = 0x6d;
const KRB_ERROR: u8 = 0x7e;

/// Whether `b` starts with a KDC message: an identifier above, a BER length, then a SEQUENCE.
fn kdc_message_start(b: &[u8]) -> bool {
    let Some(&[tag, len]) = b.first_chunk::<2>() else {
        return false;
    };
    if !matches!(tag, AS_REQ | AS_REP | TGS_REQ | TGS_REP | KRB_ERROR) {
        return false;
    }
    let at = match len {
        0..=0x7f => 2,
        0x81..=0x84 => 2 + usize::from(len & 0x7f),
        _ => return false,
    };
    b.get(at) == Some(&0x30)
}

/// Over TCP, the record marker: the high bit is reserved (RFC 4120 §7.2.2) and the length must
/// be plausible. Returns the length.
fn record_len(b: &[u8]) -> Option<u32> {
    let len = u32::from_be_bytes(*b.first_chunk::<4>()?);
    (len != 0 && len <= MAX_RECORD_LEN).then_some(len)
}

/// Whether one direction's first bytes are a KDC message (UDP) or a record holding one (TCP).
pub fn looks_like(b: &[u8], udp: bool) -> bool {
    if udp {
        kdc_message_start(b)
    } else {
        record_len(b).is_some() && kdc_message_start(b.get(4..).unwrap_or(&[]))
    }
}

/// Whether the flow carries Kerberos and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if !looks_like(input.client, input.udp) && !looks_like(input.server, input.udp) {
        return false;
    }
    let mut st = State::default();
    for bytes in [input.client, input.server] {
        if input.udp {
            if kdc_message_start(bytes) {
                message(bytes, &mut st, ev);
            }
            continue;
        }
        let mut rest = bytes;
        for _ in 0..MAX_RECORDS {
            let Some(len) = record_len(rest) else {
                break;
            };
            let body = rest.get(4..).unwrap_or(&[]);
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if !kdc_message_start(body) {
                // Seven octets hold any identifier, length and SEQUENCE tag; fewer may be a
                // message the prefix cut.
                if body.len() >= 7 {
                    ev.facts.add(Fact::Malformed);
                }
                break;
            }
            match body.get(..len) {
                Some(msg) => {
                    message(msg, &mut st, ev);
                    rest = body.get(len..).unwrap_or(&[]);
                }
                None => {
                    message(body, &mut st, ev);
                    break;
                }
            }
        }
    }
    finish(st, ev);
    true
}

/// What the messages of a flow gathered.
#[derive(Debug, Default)]
struct State {
    krb: Kerberos,
    outcome: Outcome,
    any: bool,
}

/// One KDC message (whole, or cut by the prefix).
fn message(msg: &[u8], st: &mut State, ev: &mut Evidence) {
    let Some(&tag) = msg.first() else {
        return;
    };
    st.any = true;
    st.krb.messages = st.krb.messages.saturating_add(1);
    let complete = ber::header(msg)
        .ok()
        .and_then(|h| h.total())
        .is_some_and(|n| n <= msg.len());
    let parsed = match tag {
        AS_REQ => parse_as_req(msg).map(|(_, r)| request(&r, st, ev)).is_ok(),
        TGS_REQ => parse_tgs_req(msg).map(|(_, r)| request(&r, st, ev)).is_ok(),
        AS_REP => parse_as_rep(msg).map(|(_, r)| reply(&r, st, ev)).is_ok(),
        TGS_REP => parse_tgs_rep(msg).map(|(_, r)| reply(&r, st, ev)).is_ok(),
        KRB_ERROR => KrbError::from_der(msg)
            .map(|(_, e)| error(&e, st, ev))
            .is_ok(),
        _ => false,
    };
    if parsed {
        return;
    }
    if complete {
        ev.facts.add(Fact::Malformed);
        return;
    }
    st.krb.truncated = true;
    cut_message(tag, msg, st, ev);
}

/// Sets a field once: the first message that names it wins.
fn first<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// AS-REQ or TGS-REQ (RFC 4120 §5.4.1).
fn request(r: &KdcReq<'_>, st: &mut State, ev: &mut Evidence) {
    let k = &mut st.krb;
    let kind = if r.msg_type.0 == 12 { "TGS" } else { "AS" };
    first(&mut k.request_type, Some(kind));
    let body = &r.req_body;
    first(&mut k.client, body.cname.as_ref().map(principal));
    first(&mut k.realm, Some(wire_text(body.realm.0.as_bytes())));
    first(&mut k.service, body.sname.as_ref().map(principal));
    // RFC 4556 §3.2.1: PA_PK_AS_REQ (16) and its draft predecessor PA_PK_AS_REQ_OLD (14).
    if r.padata.iter().any(|p| matches!(p.padata_type.0, 14 | 16)) {
        k.pkinit = true;
    }
    let etypes: Vec<i32> = body.etype.iter().map(|e| e.0).take(MAX_ETYPES).collect();
    requested(&etypes, st, ev);
}

/// The etype list of a request: kept, and a finding when it offers nothing but weak types.
fn requested(etypes: &[i32], st: &mut State, ev: &mut Evidence) {
    if st.krb.etypes.is_empty() {
        st.krb.etypes = etypes.iter().map(|&e| etype_name(e)).collect();
    }
    // A client listing RC4 among AES types is ordinary (Windows does for compatibility); one
    // that offers only RC4 or DES can only get a weak ticket.
    if !etypes.is_empty() && etypes.iter().all(|&e| is_weak_etype(e)) {
        ev.facts.add(Fact::KerberosWeakEtype);
    }
}

/// AS-REP or TGS-REP (RFC 4120 §5.4.2).
fn reply(r: &KdcRep<'_>, st: &mut State, ev: &mut Evidence) {
    let k = &mut st.krb;
    let kind = if r.msg_type.0 == 13 { "TGS" } else { "AS" };
    first(&mut k.request_type, Some(kind));
    // A TGS-REQ does not name its client; the reply does.
    first(&mut k.client, Some(principal(&r.cname)));
    first(&mut k.realm, Some(wire_text(r.crealm.0.as_bytes())));
    first(&mut k.service, Some(principal(&r.ticket.sname)));
    replied(
        Some(r.ticket.enc_part.etype.0),
        Some(r.enc_part.etype.0),
        st,
        ev,
    );
}

/// The etypes of a reply (either may be missing from a cut one), and success.
fn replied(ticket: Option<i32>, enc_part: Option<i32>, st: &mut State, ev: &mut Evidence) {
    let k = &mut st.krb;
    first(&mut k.cipher, ticket.map(etype_name));
    first(&mut k.reply_cipher, enc_part.map(etype_name));
    if ticket.is_some_and(is_weak_etype) || enc_part.is_some_and(is_weak_etype) {
        ev.facts.add(Fact::KerberosWeakEtype);
    }
    k.success = Some(true);
    st.outcome = Outcome::Success;
}

/// KRB-ERROR (RFC 4120 §5.9.1).
fn error(e: &KrbError<'_>, st: &mut State, ev: &mut Evidence) {
    let k = &mut st.krb;
    first(&mut k.client, e.cname.as_ref().map(principal));
    first(
        &mut k.realm,
        Some(wire_text(
            e.crealm.as_ref().unwrap_or(&e.realm).0.as_bytes(),
        )),
    );
    first(&mut k.service, Some(principal(&e.sname)));
    if let Some(t) = e.etext.as_deref().filter(|t| !t.is_empty()) {
        k.error_msg = Some(wire_text(t.as_bytes()));
    }
    failed(e.error_code.0, st, ev);
}

/// An error code: kept, and whether it ends the exchange.
fn failed(code: i32, st: &mut State, ev: &mut Evidence) {
    let k = &mut st.krb;
    k.error_code = Some(code);
    k.error_name = Some(error_name(code));
    // KDC_ERR_PREAUTH_REQUIRED (25) is the KDC's normal first answer to an AS-REQ without
    // pre-authentication, and KRB_ERR_RESPONSE_TOO_BIG (52) tells a UDP client to retry over
    // TCP (RFC 4120 §7.2.1): both are steps of a working exchange, not failures.
    if matches!(code, 25 | 52) {
        return;
    }
    ev.facts.add(Fact::KerberosError);
    if k.success != Some(true) {
        k.success = Some(false);
        st.outcome = Outcome::Failure;
    }
}

/// What a message cut by the prefix still shows, walked leniently: the fields before the cut.
fn cut_message(tag: u8, msg: &[u8], st: &mut State, ev: &mut Evidence) {
    let Some(seq) = ber::enter(msg, tag).and_then(|c| ber::enter(c, 0x30)) else {
        return;
    };
    let ctx = |n: u8| ber::field(seq, 0xa0 | n);
    match tag {
        AS_REQ | TGS_REQ => {
            first(
                &mut st.krb.request_type,
                Some(if tag == TGS_REQ { "TGS" } else { "AS" }),
            );
            // KDC-REQ-BODY: [0] kdc-options, [1] cname, [2] realm, [3] sname, … [8] etype.
            let Some(body) = ctx(4).and_then(|c| ber::enter(c, 0x30)) else {
                return;
            };
            let f = |n: u8| ber::field(body, 0xa0 | n);
            first(&mut st.krb.client, f(1).and_then(lenient_principal));
            first(&mut st.krb.realm, f(2).and_then(lenient_string));
            first(&mut st.krb.service, f(3).and_then(lenient_principal));
            // Only a complete etype list says "nothing but weak types".
            if let Some(list) = f(8).and_then(|c| ber::tlv(c).ok()).map(|(t, _)| t.content) {
                let mut etypes = Vec::new();
                let mut rest = list;
                while let Ok((t, r)) = ber::tlv(rest) {
                    if etypes.len() >= MAX_ETYPES {
                        break;
                    }
                    if let Some(e) = ber::integer(t.content).and_then(|e| i32::try_from(e).ok()) {
                        etypes.push(e);
                    }
                    rest = r;
                }
                requested(&etypes, st, ev);
            }
        }
        AS_REP | TGS_REP => {
            first(
                &mut st.krb.request_type,
                Some(if tag == TGS_REP { "TGS" } else { "AS" }),
            );
            // KDC-REP: [3] crealm, [4] cname, [5] ticket, [6] enc-part.
            first(&mut st.krb.realm, ctx(3).and_then(lenient_string));
            first(&mut st.krb.client, ctx(4).and_then(lenient_principal));
            let ticket = ctx(5).and_then(ticket_etype);
            let enc = ctx(6)
                .and_then(|c| ber::enter(c, 0x30))
                .and_then(encrypted_etype);
            replied(ticket, enc, st, ev);
        }
        KRB_ERROR => {
            // KRB-ERROR: [6] error-code.
            if let Some(code) = ctx(6)
                .and_then(|c| ber::enter(c, 0x02))
                .and_then(ber::integer)
                .and_then(|c| i32::try_from(c).ok())
            {
                failed(code, st, ev);
            }
        }
        _ => {}
    }
}

/// A KerberosString (GeneralString, RFC 4120 §5.2.1) read leniently.
fn lenient_string(c: &[u8]) -> Option<String> {
    let s = ber::enter(c, 0x1b)?;
    (!s.is_empty()).then(|| wire_text(s))
}

/// A PrincipalName (RFC 4120 §5.2.2) read leniently: name-string components joined with `/`.
fn lenient_principal(c: &[u8]) -> Option<String> {
    let seq = ber::enter(c, 0x30)?;
    let mut rest = ber::field(seq, 0xa1).and_then(|c| ber::enter(c, 0x30))?;
    let mut out = String::new();
    while let Ok((t, r, _)) = ber::tlv_clipped(rest) {
        if out.len() > super::MAX_TEXT {
            break;
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&wire_text(t.content));
        rest = r;
    }
    (!out.is_empty()).then(|| wire_text(out.as_bytes()))
}

/// `Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0], realm [1], sname [2], enc-part [3] }`:
/// the enc-part's etype, from a context-tagged ticket field.
fn ticket_etype(field: &[u8]) -> Option<i32> {
    let tkt = ber::enter(field, 0x61).and_then(|c| ber::enter(c, 0x30))?;
    let enc = ber::field(tkt, 0xa3).and_then(|c| ber::enter(c, 0x30))?;
    encrypted_etype(enc)
}

/// `EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] OPTIONAL, cipher [2] }`.
fn encrypted_etype(seq: &[u8]) -> Option<i32> {
    let et = ber::field(seq, 0xa0).and_then(|c| ber::enter(c, 0x02))?;
    i32::try_from(ber::integer(et)?).ok()
}

/// A principal's name components joined with `/`, bounded.
fn principal(p: &PrincipalName) -> String {
    let mut out = String::new();
    for (i, part) in p.name_string.iter().enumerate() {
        if out.len() > super::MAX_TEXT {
            break;
        }
        if i > 0 {
            out.push('/');
        }
        out.push_str(&wire_text(part.as_bytes()));
    }
    wire_text(out.as_bytes())
}

fn finish(st: State, ev: &mut Evidence) {
    ev.service = Some(Service::Kerberos);
    // Kerberos messages protect their own secrets; they say nothing of a channel's protection.
    ev.protection = Protection::Unknown;
    // RFC 8062 §3: the anonymous principal asks for a ticket that names nobody.
    let anonymous = st
        .krb
        .client
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case(ANONYMOUS_PRINCIPAL));
    if anonymous && st.outcome != Outcome::Failure {
        ev.facts.add(Fact::AnonymousAccess);
    }
    if st.any {
        ev.push_auth(AuthSeen {
            mechanism: Mechanism::Kerberos,
            clear_credentials: false,
            outcome: st.outcome,
            user: st.krb.client.clone(),
            domain: st.krb.realm.clone(),
        });
    }
    ev.detail = super::Detail::Kerberos(Box::new(st.krb));
}

/// RC4 (23, 24, and the pre-standard negative RC4 types of Windows 2000) and single DES (1, 2,
/// 3): the types RFC 6649 and RFC 8429 deprecate. Triple DES (5, 7, 16) is deprecated as well
/// but is not counted here: the fact names RC4 and DES.
pub fn is_weak_etype(e: i32) -> bool {
    matches!(e, 1..=3 | 23 | 24 | -141..=-128)
}

/// IANA "Kerberos Encryption Type Numbers" names for the types met in practice; others as their
/// number.
pub fn etype_name(e: i32) -> Cow<'static, str> {
    let name = match e {
        1 => "des-cbc-crc",
        2 => "des-cbc-md4",
        3 => "des-cbc-md5",
        5 => "des3-cbc-md5",
        7 => "des3-cbc-sha1",
        16 => "des3-cbc-sha1-kd",
        17 => "aes128-cts-hmac-sha1-96",
        18 => "aes256-cts-hmac-sha1-96",
        19 => "aes128-cts-hmac-sha256-128",
        20 => "aes256-cts-hmac-sha384-192",
        23 => "rc4-hmac",
        24 => "rc4-hmac-exp",
        25 => "camellia128-cts-cmac",
        26 => "camellia256-cts-cmac",
        -128 => "rc4-md4",
        -133 => "rc4-hmac-old",
        -135 => "rc4-hmac-old-exp",
        _ => return Cow::Owned(itoa::Buffer::new().format(e).to_owned()),
    };
    Cow::Borrowed(name)
}

/// RFC 4120 §7.5.9 (and RFC 4556, RFC 6113) error code names; others as their number.
pub fn error_name(code: i32) -> Cow<'static, str> {
    let name = match code {
        0 => "KDC_ERR_NONE",
        1 => "KDC_ERR_NAME_EXP",
        2 => "KDC_ERR_SERVICE_EXP",
        3 => "KDC_ERR_BAD_PVNO",
        4 => "KDC_ERR_C_OLD_MAST_KVNO",
        5 => "KDC_ERR_S_OLD_MAST_KVNO",
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        8 => "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        9 => "KDC_ERR_NULL_KEY",
        10 => "KDC_ERR_CANNOT_POSTDATE",
        11 => "KDC_ERR_NEVER_VALID",
        12 => "KDC_ERR_POLICY",
        13 => "KDC_ERR_BADOPTION",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        15 => "KDC_ERR_SUMTYPE_NOSUPP",
        16 => "KDC_ERR_PADATA_TYPE_NOSUPP",
        17 => "KDC_ERR_TRTYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        19 => "KDC_ERR_SERVICE_REVOKED",
        20 => "KDC_ERR_TGT_REVOKED",
        21 => "KDC_ERR_CLIENT_NOTYET",
        22 => "KDC_ERR_SERVICE_NOTYET",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        26 => "KDC_ERR_SERVER_NOMATCH",
        27 => "KDC_ERR_MUST_USE_USER2USER",
        28 => "KDC_ERR_PATH_NOT_ACCEPTED",
        29 => "KDC_ERR_SVC_UNAVAILABLE",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        33 => "KRB_AP_ERR_TKT_NYV",
        34 => "KRB_AP_ERR_REPEAT",
        35 => "KRB_AP_ERR_NOT_US",
        36 => "KRB_AP_ERR_BADMATCH",
        37 => "KRB_AP_ERR_SKEW",
        38 => "KRB_AP_ERR_BADADDR",
        39 => "KRB_AP_ERR_BADVERSION",
        40 => "KRB_AP_ERR_MSG_TYPE",
        41 => "KRB_AP_ERR_MODIFIED",
        42 => "KRB_AP_ERR_BADORDER",
        44 => "KRB_AP_ERR_BADKEYVER",
        45 => "KRB_AP_ERR_NOKEY",
        46 => "KRB_AP_ERR_MUT_FAIL",
        47 => "KRB_AP_ERR_BADDIRECTION",
        48 => "KRB_AP_ERR_METHOD",
        49 => "KRB_AP_ERR_BADSEQ",
        50 => "KRB_AP_ERR_INAPP_CKSUM",
        51 => "KRB_AP_PATH_NOT_ACCEPTED",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        61 => "KRB_ERR_FIELD_TOOLONG",
        62 => "KDC_ERR_CLIENT_NOT_TRUSTED",
        63 => "KDC_ERR_KDC_NOT_TRUSTED",
        64 => "KDC_ERR_INVALID_SIG",
        65 => "KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED",
        66 => "KDC_ERR_CERTIFICATE_MISMATCH",
        67 => "KRB_AP_ERR_NO_TGT",
        68 => "KDC_ERR_WRONG_REALM",
        69 => "KRB_AP_ERR_USER_TO_USER_REQUIRED",
        70 => "KDC_ERR_CANT_VERIFY_CERTIFICATE",
        71 => "KDC_ERR_INVALID_CERTIFICATE",
        72 => "KDC_ERR_REVOKED_CERTIFICATE",
        73 => "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
        74 => "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
        75 => "KDC_ERR_CLIENT_NAME_MISMATCH",
        76 => "KDC_ERR_KDC_NAME_MISMATCH",
        77 => "KDC_ERR_INCONSISTENT_KEY_PURPOSE",
        78 => "KDC_ERR_DIGEST_IN_CERT_NOT_ACCEPTED",
        79 => "KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED",
        80 => "KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED",
        81 => "KDC_ERR_PUBLIC_KEY_ENCRYPTION_NOT_SUPPORTED",
        90 => "KDC_ERR_PREAUTH_EXPIRED",
        91 => "KDC_ERR_MORE_PREAUTH_DATA_REQUIRED",
        93 => "KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS",
        _ => return Cow::Owned(itoa::Buffer::new().format(code).to_owned()),
    };
    Cow::Borrowed(name)
}

/// The DER encodings of the Kerberos V5 mechanism OIDs (RFC 1964 §1.1, and Microsoft's
/// 1.2.840.48018.1.2.2).
const KRB5_OIDS: [&[u8]; 2] = [
    &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ],
    &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ],
];

/// The encryption type of the ticket inside an AP-REQ (RFC 4120 §5.5.1), wherever the blob
/// carries it: a bare AP-REQ (`[APPLICATION 14]`), or a GSS-API token whose Kerberos OID is
/// followed by TOK_ID `01 00` (RFC 4121 §4.1) and the AP-REQ, on its own or inside SPNEGO
/// (RFC 4178 mechToken). A ticket cut after its etype still gives it.
pub fn ap_req_etype(blob: &[u8]) -> Option<i32> {
    if blob.first() == Some(&0x6e) {
        return ticket_of_ap_req(blob);
    }
    let mut rest = blob;
    for _ in 0..MAX_OID_HITS {
        let (at, len) = KRB5_OIDS
            .iter()
            .filter_map(|o| super::auth::find(rest, o).map(|at| (at, o.len())))
            .min()?;
        let after = rest.get(at + len..)?;
        if let Some(ap) = after.strip_prefix(&[0x01, 0x00][..])
            && let Some(e) = ticket_of_ap_req(ap)
        {
            return Some(e);
        }
        rest = after;
    }
    None
}

/// The ticket etype of an AP-REQ: kerberos-parser when it is whole, a lenient walk when cut.
fn ticket_of_ap_req(b: &[u8]) -> Option<i32> {
    if let Ok((_, req)) = ApReq::from_der(b) {
        return Some(req.ticket.enc_part.etype.0);
    }
    // AP-REQ ::= [APPLICATION 14] SEQUENCE { pvno [0], msg-type [1], ap-options [2], ticket [3], … }
    let seq = ber::enter(b, 0x6e).and_then(|c| ber::enter(c, 0x30))?;
    ber::field(seq, 0xa3).and_then(ticket_etype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::ldap::ber::build::{ctx, int, seq, tlv};
    use proptest::prelude::*;

    fn kstr(s: &str) -> Vec<u8> {
        tlv(0x1b, s.as_bytes())
    }

    fn principal(parts: &[&str]) -> Vec<u8> {
        let names: Vec<Vec<u8>> = parts.iter().map(|p| kstr(p)).collect();
        seq(&[ctx(0, &int(1)), ctx(1, &seq(&names))])
    }

    fn time() -> Vec<u8> {
        tlv(0x18, b"20370913024805Z")
    }

    fn encrypted(etype: i64, cipher_len: usize) -> Vec<u8> {
        seq(&[
            ctx(0, &int(etype)),
            ctx(2, &tlv(0x04, &vec![0x5a; cipher_len])),
        ])
    }

    fn ticket(realm: &str, sname: &[&str], etype: i64) -> Vec<u8> {
        tlv(
            0x61,
            &seq(&[
                ctx(0, &int(5)),
                ctx(1, &kstr(realm)),
                ctx(2, &principal(sname)),
                ctx(3, &encrypted(etype, 40)),
            ]),
        )
    }

    /// An AS-REQ (or TGS-REQ) with the given names, etypes and padata types.
    fn kdc_req(tgs: bool, cname: Option<&str>, etypes: &[i64], padata: &[i64]) -> Vec<u8> {
        let mut body = vec![ctx(0, &tlv(0x03, &[0, 0x40, 0, 0, 0x10]))];
        if let Some(c) = cname {
            body.push(ctx(1, &principal(&[c])));
        }
        body.push(ctx(2, &kstr("CONTOSO.COM")));
        body.push(ctx(3, &principal(&["krbtgt", "CONTOSO.COM"])));
        body.push(ctx(5, &time()));
        body.push(ctx(7, &int(12345)));
        let list: Vec<Vec<u8>> = etypes.iter().map(|&e| int(e)).collect();
        body.push(ctx(8, &seq(&list)));
        let mut fields = vec![ctx(1, &int(5)), ctx(2, &int(if tgs { 12 } else { 10 }))];
        if !padata.is_empty() {
            let pas: Vec<Vec<u8>> = padata
                .iter()
                .map(|&t| seq(&[ctx(1, &int(t)), ctx(2, &tlv(0x04, &[0x11; 24]))]))
                .collect();
            fields.push(ctx(3, &seq(&pas)));
        }
        fields.push(ctx(4, &seq(&body)));
        tlv(if tgs { TGS_REQ } else { AS_REQ }, &seq(&fields))
    }

    fn kdc_rep(tgs: bool, cname: &str, ticket_etype: i64, enc_etype: i64) -> Vec<u8> {
        tlv(
            if tgs { TGS_REP } else { AS_REP },
            &seq(&[
                ctx(0, &int(5)),
                ctx(1, &int(if tgs { 13 } else { 11 })),
                ctx(3, &kstr("CONTOSO.COM")),
                ctx(4, &principal(&[cname])),
                ctx(
                    5,
                    &ticket("CONTOSO.COM", &["krbtgt", "CONTOSO.COM"], ticket_etype),
                ),
                ctx(6, &encrypted(enc_etype, 60)),
            ]),
        )
    }

    fn krb_error(code: i64, etext: Option<&str>) -> Vec<u8> {
        let mut f = vec![
            ctx(0, &int(5)),
            ctx(1, &int(30)),
            ctx(4, &time()),
            ctx(5, &int(0)),
            ctx(6, &int(code)),
            ctx(9, &kstr("CONTOSO.COM")),
            ctx(10, &principal(&["krbtgt", "CONTOSO.COM"])),
        ];
        if let Some(t) = etext {
            f.push(ctx(11, &kstr(t)));
        }
        tlv(KRB_ERROR, &seq(&f))
    }

    fn ap_req(etype: i64) -> Vec<u8> {
        tlv(
            0x6e,
            &seq(&[
                ctx(0, &int(5)),
                ctx(1, &int(14)),
                ctx(2, &tlv(0x03, &[0, 0x20, 0, 0, 0])),
                ctx(
                    3,
                    &ticket("CONTOSO.COM", &["ldap", "dc1.contoso.com"], etype),
                ),
                ctx(4, &encrypted(etype, 30)),
            ]),
        )
    }

    fn record(msg: &[u8]) -> Vec<u8> {
        let mut v = u32::try_from(msg.len()).unwrap().to_be_bytes().to_vec();
        v.extend_from_slice(msg);
        v
    }

    fn run(client: &[u8], server: &[u8], udp: bool) -> (bool, Evidence) {
        let mut ev = Evidence::default();
        let input = Input {
            client,
            server,
            udp,
            client_port: 50000,
            server_port: 88,
            ..Default::default()
        };
        let mine = inspect(&input, &mut ev);
        (mine, ev)
    }

    fn detail(ev: &Evidence) -> &Kerberos {
        match &ev.detail {
            crate::inspect::Detail::Kerberos(k) => k,
            d => panic!("not Kerberos: {d:?}"),
        }
    }

    #[test]
    fn as_exchange_over_udp_names_client_realm_and_etypes() {
        let req = kdc_req(false, Some("alice"), &[18, 17, 23], &[2]);
        let rep = kdc_rep(false, "alice", 18, 18);
        let (mine, ev) = run(&req, &rep, true);
        assert!(mine);
        assert_eq!(ev.service, Some(Service::Kerberos));
        assert_eq!(ev.protection, Protection::Unknown);
        assert!(ev.facts.is_empty(), "{:?}", ev.facts);
        assert_eq!(ev.auth.len(), 1);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Kerberos);
        assert_eq!(a.outcome, Outcome::Success);
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert_eq!(a.domain.as_deref(), Some("CONTOSO.COM"));
        assert!(!a.clear_credentials);
        let k = detail(&ev);
        assert_eq!(k.request_type, Some("AS"));
        assert_eq!(k.service.as_deref(), Some("krbtgt/CONTOSO.COM"));
        assert_eq!(
            k.etypes,
            [
                "aes256-cts-hmac-sha1-96",
                "aes128-cts-hmac-sha1-96",
                "rc4-hmac"
            ]
        );
        assert_eq!(k.cipher.as_deref(), Some("aes256-cts-hmac-sha1-96"));
        assert_eq!(k.success, Some(true));
        assert_eq!(k.messages, 2);
        let json = serde_json::to_string(k).unwrap();
        assert!(json.contains("\"request_type\":\"AS\""), "{json}");
    }

    #[test]
    fn tcp_records_carry_the_same_exchange() {
        let (mine, ev) = run(
            &record(&kdc_req(false, Some("bob"), &[18], &[])),
            &record(&kdc_rep(false, "bob", 18, 17)),
            false,
        );
        assert!(mine);
        assert_eq!(ev.auth[0].user.as_deref(), Some("bob"));
        assert_eq!(
            detail(&ev).reply_cipher.as_deref(),
            Some("aes128-cts-hmac-sha1-96")
        );
        // A TCP flow is not read as datagrams, nor the other way round.
        let (mine, _) = run(&kdc_req(false, Some("bob"), &[18], &[]), &[], false);
        assert!(!mine);
        let (mine, _) = run(&record(&kdc_req(false, Some("bob"), &[18], &[])), &[], true);
        assert!(!mine);
    }

    #[test]
    fn rc4_ticket_or_reply_key_is_weak() {
        for (t, e) in [(23, 18), (18, 23), (3, 3), (-128, 18)] {
            let (_, ev) = run(
                &kdc_req(false, Some("a"), &[18, 23], &[]),
                &kdc_rep(false, "a", t, e),
                true,
            );
            assert!(ev.facts.has(Fact::KerberosWeakEtype), "{t}/{e}");
        }
        // Near miss: RC4 offered among AES types, AES granted.
        let (_, ev) = run(
            &kdc_req(false, Some("a"), &[18, 17, 23, 24], &[]),
            &kdc_rep(false, "a", 18, 18),
            true,
        );
        assert!(!ev.facts.has(Fact::KerberosWeakEtype));
        // Triple DES is deprecated but is not RC4 or DES.
        let (_, ev) = run(&kdc_req(false, Some("a"), &[16], &[]), &[], true);
        assert!(!ev.facts.has(Fact::KerberosWeakEtype));
    }

    #[test]
    fn a_request_offering_only_weak_types_is_weak() {
        let (_, ev) = run(&kdc_req(false, Some("a"), &[23, 3, 1], &[]), &[], true);
        assert!(ev.facts.has(Fact::KerberosWeakEtype));
        assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
    }

    #[test]
    fn preauth_required_is_a_normal_step() {
        let (_, ev) = run(
            &kdc_req(false, Some("carol"), &[18], &[]),
            &krb_error(25, None),
            true,
        );
        assert!(!ev.facts.has(Fact::KerberosError));
        assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
        let k = detail(&ev);
        assert_eq!(k.error_name.as_deref(), Some("KDC_ERR_PREAUTH_REQUIRED"));
        assert_eq!(k.success, None);
        // So is "response too big, use TCP".
        let (_, ev) = run(&[], &krb_error(52, None), true);
        assert!(!ev.facts.has(Fact::KerberosError));
    }

    #[test]
    fn other_errors_fail_the_exchange() {
        let (_, ev) = run(
            &kdc_req(false, Some("mallory"), &[18], &[]),
            &krb_error(6, Some("CLIENT_NOT_FOUND")),
            true,
        );
        assert!(ev.facts.has(Fact::KerberosError));
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        assert_eq!(ev.auth[0].user.as_deref(), Some("mallory"));
        let k = detail(&ev);
        assert_eq!(k.error_code, Some(6));
        assert_eq!(k.error_name.as_deref(), Some("KDC_ERR_C_PRINCIPAL_UNKNOWN"));
        assert_eq!(k.error_msg.as_deref(), Some("CLIENT_NOT_FOUND"));
        assert_eq!(k.success, Some(false));
        for (code, name) in [(14, "KDC_ERR_ETYPE_NOSUPP"), (24, "KDC_ERR_PREAUTH_FAILED")] {
            let (_, ev) = run(&[], &krb_error(code, None), true);
            assert!(ev.facts.has(Fact::KerberosError));
            assert_eq!(detail(&ev).error_name.as_deref(), Some(name));
        }
        assert_eq!(error_name(4242), "4242");
        assert_eq!(etype_name(99), "99");
    }

    #[test]
    fn tgs_client_comes_from_the_reply() {
        let (_, ev) = run(
            &kdc_req(true, None, &[18], &[1]),
            &kdc_rep(true, "dave", 18, 18),
            true,
        );
        let k = detail(&ev);
        assert_eq!(k.request_type, Some("TGS"));
        assert_eq!(k.client.as_deref(), Some("dave"));
        assert_eq!(ev.auth[0].user.as_deref(), Some("dave"));
    }

    #[test]
    fn pkinit_and_anonymous_principal() {
        let (_, ev) = run(&kdc_req(false, Some("u"), &[18], &[16]), &[], true);
        assert!(detail(&ev).pkinit);
        assert!(!ev.facts.has(Fact::AnonymousAccess));
        let anon = tlv(
            AS_REQ,
            &seq(&[
                ctx(1, &int(5)),
                ctx(2, &int(10)),
                ctx(
                    4,
                    &seq(&[
                        ctx(0, &tlv(0x03, &[0, 0, 0, 0, 0])),
                        ctx(1, &principal(&["WELLKNOWN", "ANONYMOUS"])),
                        ctx(2, &kstr("CONTOSO.COM")),
                        ctx(5, &time()),
                        ctx(7, &int(1)),
                        ctx(8, &seq(&[int(18)])),
                    ]),
                ),
            ]),
        );
        let (_, ev) = run(&anon, &kdc_rep(false, "WELLKNOWN/ANONYMOUS", 18, 18), true);
        assert!(ev.facts.has(Fact::AnonymousAccess));
    }

    #[test]
    fn a_cut_request_still_names_what_came_before_the_cut() {
        let req = kdc_req(false, Some("erin"), &[18, 17], &[2]);
        let at = crate::inspect::auth::find(&req, b"CONTOSO.COM").unwrap();
        let cut = &req[..at + 11];
        // The record marker claims the whole message; the prefix holds part of it.
        let mut rec = u32::try_from(req.len()).unwrap().to_be_bytes().to_vec();
        rec.extend_from_slice(cut);
        let (mine, ev) = run(&rec, &[], false);
        assert!(mine);
        let k = detail(&ev);
        assert!(k.truncated);
        assert_eq!(k.request_type, Some("AS"));
        assert_eq!(k.client.as_deref(), Some("erin"));
        assert_eq!(k.realm.as_deref(), Some("CONTOSO.COM"));
        assert!(k.etypes.is_empty());
        assert!(!ev.facts.has(Fact::Malformed));
        // A cut reply still gives its ticket's etype.
        let rep = kdc_rep(false, "erin", 23, 18);
        let at = crate::inspect::auth::find(&rep, &[0xa2, 0x2a]).unwrap();
        let mut rec = u32::try_from(rep.len()).unwrap().to_be_bytes().to_vec();
        rec.extend_from_slice(&rep[..at]);
        let (_, ev) = run(&[], &rec, false);
        assert_eq!(detail(&ev).cipher.as_deref(), Some("rc4-hmac"));
        assert!(ev.facts.has(Fact::KerberosWeakEtype));
    }

    #[test]
    fn a_whole_message_that_does_not_parse_is_malformed() {
        let bad = tlv(AS_REQ, &seq(&[ctx(1, &int(5)), ctx(2, &tlv(0x04, b"x"))]));
        let (mine, ev) = run(&bad, &[], true);
        assert!(mine);
        assert!(ev.facts.has(Fact::Malformed));
        assert!(!detail(&ev).truncated);
    }

    #[test]
    fn not_kerberos_is_answered_fast() {
        for b in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            &[0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07],
            &[0x16, 0x03, 0x01, 0x00, 0x05],
            &[0x00, 0x00, 0x00, 0x05, 0x6a, 0x03, 0x02, 0x01, 0x05],
            &[0x6a, 0x03, 0x02, 0x01, 0x05],
            &[0x80, 0x00, 0x00, 0x10, 0x6a, 0x03, 0x30],
            &[],
        ] {
            assert!(!run(b, b, true).0, "{b:02x?}");
            assert!(!run(b, b, false).0, "{b:02x?}");
        }
    }

    #[test]
    fn every_truncation_of_a_tcp_exchange_is_handled() {
        let c = record(&kdc_req(false, Some("frank"), &[18, 23], &[2]));
        let s = record(&kdc_rep(false, "frank", 18, 18));
        for cut in 0..c.len() {
            let (mine, ev) = run(&c[..cut], &s, false);
            assert!(mine);
            assert!(ev.auth.len() <= 1);
        }
        for cut in 0..s.len() {
            let (mine, ev) = run(&c, &s[..cut], false);
            assert!(mine);
            assert!(!ev.facts.has(Fact::Malformed), "cut at {cut}");
        }
        let u = kdc_req(false, Some("frank"), &[18], &[]);
        for cut in 0..u.len() {
            let _ = run(&u[..cut], &[], true);
        }
    }

    #[test]
    fn ap_req_etype_wherever_it_is_carried() {
        assert_eq!(ap_req_etype(&ap_req(23)), Some(23));
        // GSS-API InitialContextToken: [APPLICATION 0] { OID krb5, TOK_ID 01 00, AP-REQ }.
        let mut inner = KRB5_OIDS[0].to_vec();
        inner.extend_from_slice(&[0x01, 0x00]);
        inner.extend_from_slice(&ap_req(18));
        let gss = tlv(0x60, &inner);
        assert_eq!(ap_req_etype(&gss), Some(18));
        // SPNEGO negTokenInit: mechTypes list the OIDs, the mechToken holds the GSS token.
        let mech_types = seq(&[KRB5_OIDS[1].to_vec(), KRB5_OIDS[0].to_vec()]);
        let neg = ctx(0, &seq(&[ctx(0, &mech_types), ctx(2, &tlv(0x04, &gss))]));
        assert_eq!(ap_req_etype(&neg), Some(18));
        // Cut inside the ticket's cipher: the etype came before.
        let ap = ap_req(23);
        assert_eq!(ap_req_etype(&ap[..ap.len() - 40]), Some(23));
        assert_eq!(ap_req_etype(b"NTLMSSP\0\x01\0\0\0"), None);
        assert_eq!(ap_req_etype(&[]), None);
        assert_eq!(ap_req_etype(KRB5_OIDS[0]), None);
    }

    #[test]
    fn weak_etypes() {
        for e in [1, 2, 3, 23, 24, -128, -133, -141] {
            assert!(is_weak_etype(e), "{e}");
        }
        for e in [5, 7, 16, 17, 18, 19, 20, 25, 26, 0, -127, -142] {
            assert!(!is_weak_etype(e), "{e}");
        }
    }

    type Seed = (&'static str, u8, Vec<u8>, Vec<u8>);

    fn seeds() -> Vec<Seed> {
        vec![
            (
                "as-udp",
                1,
                kdc_req(false, Some("alice"), &[18, 17, 23], &[2]),
                kdc_rep(false, "alice", 18, 18),
            ),
            (
                "as-tcp",
                0,
                record(&kdc_req(false, Some("bob"), &[18], &[16])),
                record(&kdc_rep(false, "bob", 23, 18)),
            ),
            (
                "tgs-udp",
                1,
                kdc_req(true, None, &[18], &[1]),
                kdc_rep(true, "dave", 18, 18),
            ),
            (
                "preauth-required",
                1,
                kdc_req(false, Some("c"), &[18], &[]),
                krb_error(25, None),
            ),
            (
                "error-tcp",
                0,
                record(&kdc_req(false, Some("m"), &[23, 3], &[])),
                record(&krb_error(6, Some("CLIENT_NOT_FOUND"))),
            ),
            ("ap-req-blob", 0, ap_req(23), record(&krb_error(52, None))),
        ]
    }

    /// Writes this module's test conversations as the seed corpus of the `inspect_kerberos` fuzz target.
    #[test]
    #[ignore = "writes fuzz/corpus/inspect_kerberos: cargo test --lib -- --ignored write_fuzz_seeds"]
    fn write_fuzz_seeds() {
        crate::testkit::fuzzing::write_seeds("inspect_kerberos", &seeds()).unwrap();
    }

    /// The seeds also run here, so a change that breaks one is seen at once.
    #[test]
    fn inspect_kerberos_seeds_are_recognised() {
        for (name, flags, c, s) in seeds() {
            let (mine, _) = run(&c, &s, flags & 1 != 0);
            assert!(mine || name.starts_with("near-miss"), "{name}");
            crate::testkit::fuzzing::inspect_kerberos(&crate::testkit::fuzzing::seed(
                flags, &c, &s,
            ));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_stay_bounded(c in proptest::collection::vec(any::<u8>(), 0..600),
                                  s in proptest::collection::vec(any::<u8>(), 0..600),
                                  udp: bool, prefix: bool) {
            // Half the cases start like a KDC message so that the parsers run.
            let mut c = c;
            if prefix {
                let mut head = record(&kdc_req(false, Some("p"), &[18], &[]));
                head.truncate(head.len() / 2);
                head.extend_from_slice(&c);
                c = if udp { head[4..].to_vec() } else { head };
            }
            let (mine, ev) = run(&c, &s, udp);
            prop_assert!(ev.auth.len() <= crate::inspect::MAX_AUTH);
            if mine {
                let k = detail(&ev);
                prop_assert!(k.etypes.len() <= MAX_ETYPES);
                prop_assert!(k.client.as_ref().is_none_or(|s| s.len() <= crate::inspect::MAX_TEXT));
                let _ = serde_json::to_vec(k).unwrap();
            }
            let _ = ap_req_etype(&c);
        }
    }
}
