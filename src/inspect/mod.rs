//! The inspect stage: what a flow's payload says it is.
//!
//! A flow's record carries the first bytes of each direction's payload (`flow::payload`). The
//! inspectors read those prefixes once, when the record leaves the flow table, and decide by
//! content, never by port, which protocol the flow carries. What they find is *evidence*: the
//! service, how the conversation is protected, how each side authenticated, and facts that the
//! classifier turns into findings against the catalog path.
//!
//! Every inspector takes hostile bytes. Each reads only the slices it is given, bounds every loop
//! by those slices, keeps at most a few short strings, and answers "not mine" in a handful of byte
//! comparisons so that the dispatcher can try them in turn. None of them keeps a password, a hash,
//! a token or a session key: the types below have no field that could hold one, so no output
//! format can print one.

use serde::Serialize;

pub mod auth;
pub mod dcerpc;
pub mod epm;
pub mod http;
pub mod imap;
pub mod kerberos;
pub mod ldap;
pub(crate) mod line;
pub mod pop3;
pub mod rtp;
pub mod sip;
pub mod smb;
pub mod smtp;
pub mod tls;

/// What an inspector reads: both directions of one flow, from their first bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Input<'a> {
    /// Initiator → responder bytes (the client side), contiguous from the first byte seen.
    pub client: &'a [u8],
    /// Responder → initiator bytes.
    pub server: &'a [u8],
    /// UDP: each direction holds its first datagram only.
    pub udp: bool,
    pub client_port: u16,
    pub server_port: u16,
    /// No SYN was seen: the prefixes start somewhere inside the conversation.
    pub midstream: bool,
    /// The client prefix stops before the client stopped sending (prefix size, snaplen, a hole,
    /// or the memory budget): whatever is not in it was not seen.
    pub client_cut: bool,
    pub server_cut: bool,
}

/// The application protocol seen in the payload, with Zeek's service names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Service {
    #[serde(rename = "ssl")]
    Tls,
    #[serde(rename = "smtp")]
    Smtp,
    #[serde(rename = "imap")]
    Imap,
    #[serde(rename = "pop3")]
    Pop3,
    #[serde(rename = "ldap")]
    Ldap,
    #[serde(rename = "http")]
    Http,
    #[serde(rename = "krb")]
    Kerberos,
    #[serde(rename = "smb")]
    Smb,
    #[serde(rename = "dce_rpc")]
    DceRpc,
    #[serde(rename = "sip")]
    Sip,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::Tls,
        Service::Smtp,
        Service::Imap,
        Service::Pop3,
        Service::Ldap,
        Service::Http,
        Service::Kerberos,
        Service::Smb,
        Service::DceRpc,
        Service::Sip,
    ];

    /// The service's position in [`Service::ALL`], for compact keys.
    pub fn index(self) -> u32 {
        self as u32
    }

    pub fn from_index(i: u32) -> Option<Service> {
        Service::ALL.get(usize::try_from(i).ok()?).copied()
    }

    /// The name a mail administrator knows.
    pub fn title(self) -> &'static str {
        match self {
            Service::Tls => "TLS",
            Service::Smtp => "SMTP",
            Service::Imap => "IMAP4",
            Service::Pop3 => "POP3",
            Service::Ldap => "LDAP",
            Service::Http => "HTTP",
            Service::Kerberos => "Kerberos",
            Service::Smb => "SMB",
            Service::DceRpc => "RPC",
            Service::Sip => "SIP",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Tls => "ssl",
            Service::Smtp => "smtp",
            Service::Imap => "imap",
            Service::Pop3 => "pop3",
            Service::Ldap => "ldap",
            Service::Http => "http",
            Service::Kerberos => "krb",
            Service::Smb => "smb",
            Service::DceRpc => "dce_rpc",
            Service::Sip => "sip",
        }
    }
}

/// How the conversation's content was protected, as far as the payload shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protection {
    /// Nothing seen that decides it (no payload, an unknown protocol, a cut prefix).
    #[default]
    Unknown,
    /// The application protocol ran in clear and never switched to anything else.
    Clear,
    /// TLS from the first byte (HTTPS, LDAPS, IMAPS, SMTPS …).
    Tls,
    /// STARTTLS (SMTP, IMAP, POP3 STLS, LDAP StartTLS extended operation) accepted by the server.
    Starttls,
    /// Exchange's X-ANONYMOUSTLS between transport servers, accepted by the server.
    AnonymousTls,
    /// The upgrade was asked for, and the capture does not show whether it happened.
    UpgradeUnconfirmed,
    /// DCE/RPC at authentication level packet privacy.
    RpcPrivacy,
    /// DCE/RPC signed but not sealed (packet integrity), or at a weaker level.
    RpcIntegrity,
    /// DCE/RPC with an authentication level below integrity (none, connect, call, packet).
    RpcClear,
    /// SASL security layer with confidentiality (LDAP GSSAPI / GSS-SPNEGO sealing).
    SaslSeal,
    /// SASL security layer with integrity only (signing).
    SaslSign,
    /// SMB 3 encryption (transform headers seen, or encryption required by the session).
    SmbEncrypted,
    /// SMB signing without encryption.
    SmbSigned,
    /// SRTP (from SDP).
    Srtp,
}

impl Protection {
    pub fn as_str(self) -> &'static str {
        match self {
            Protection::Unknown => "unknown",
            Protection::Clear => "clear",
            Protection::Tls => "tls",
            Protection::Starttls => "starttls",
            Protection::AnonymousTls => "anonymous-tls",
            Protection::UpgradeUnconfirmed => "upgrade-unconfirmed",
            Protection::RpcPrivacy => "rpc-privacy",
            Protection::RpcIntegrity => "rpc-integrity",
            Protection::RpcClear => "rpc-clear",
            Protection::SaslSeal => "sasl-seal",
            Protection::SaslSign => "sasl-sign",
            Protection::SmbEncrypted => "smb-encrypted",
            Protection::SmbSigned => "smb-signed",
            Protection::Srtp => "srtp",
        }
    }

    /// Whether this protection keeps the content confidential.
    pub fn is_encrypted(self) -> bool {
        matches!(
            self,
            Protection::Tls
                | Protection::Starttls
                | Protection::AnonymousTls
                | Protection::RpcPrivacy
                | Protection::SaslSeal
                | Protection::SmbEncrypted
                | Protection::Srtp
        )
    }
}

/// An authentication mechanism, as the protocols name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// No credentials: LDAP anonymous bind, SMB anonymous/guest session, NTLM anonymous, DCE/RPC
    /// auth type none where a bind was made.
    Anonymous,
    /// A user name and a password in the protocol itself: LDAP simple bind, IMAP LOGIN,
    /// POP3 USER/PASS.
    Password,
    /// SASL PLAIN (SMTP, IMAP, POP3).
    Plain,
    /// SASL LOGIN (SMTP AUTH LOGIN and its IMAP/POP3 kin).
    Login,
    CramMd5,
    DigestMd5,
    /// POP3 APOP (an MD5 digest of the server's challenge and the password).
    Apop,
    /// HTTP Basic.
    Basic,
    /// HTTP Digest.
    Digest,
    /// OAuth bearer token (HTTP Bearer, SASL XOAUTH2 and OAUTHBEARER).
    Bearer,
    Ntlm,
    Kerberos,
    /// SPNEGO/Negotiate whose inner mechanism was not seen.
    Negotiate,
    /// SASL GSSAPI (Kerberos under SASL).
    Gssapi,
    /// SASL EXTERNAL (the TLS client certificate).
    External,
    /// DCE/RPC Netlogon secure channel.
    Netlogon,
    /// Mutual TLS: the client sent a certificate.
    ClientCertificate,
    /// An HTML login form posted over HTTP (Outlook on the web's forms-based authentication).
    Form,
    /// A user name and password (or a token) in a URL's user information, `user:password@host`.
    UrlUserinfo,
    /// A session cookie that stands for a logged-on user (Outlook on the web's `cadata`).
    SessionCookie,
    /// A mechanism the inspector saw and has no name for.
    Other,
}

/// Whether an authentication was seen to succeed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    #[default]
    Unknown,
    Success,
    Failure,
}

/// One authentication seen on a flow. Never holds a secret: only the mechanism, who (user,
/// domain, host names as the wire gave them, bounded and later escaped by the writers), and
/// whether the secret itself crossed the wire readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthSeen {
    pub mechanism: Mechanism,
    /// The password (or token, or something as good as one) was readable on the wire: it crossed
    /// in clear, or in base64 of clear, outside any encryption.
    pub clear_credentials: bool,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

impl AuthSeen {
    pub fn new(mechanism: Mechanism) -> Self {
        Self {
            mechanism,
            clear_credentials: false,
            outcome: Outcome::Unknown,
            user: None,
            domain: None,
        }
    }
}

/// At most this many authentications are kept per flow; the rest are counted.
pub const MAX_AUTH: usize = 4;

/// Most bytes kept of any string taken from the wire (names, hosts, user agents).
pub const MAX_TEXT: usize = 128;

/// A string from the wire, cut to [`MAX_TEXT`] bytes at a character boundary, with invalid UTF-8
/// replaced. Escaping is the writers' job.
pub fn wire_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_TEXT)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Facts an inspector can state; the classifier turns them into findings with the catalog path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Fact {
    /// The server offered STARTTLS (or STLS, or the LDAP StartTLS operation was available) and the
    /// client carried on in clear.
    StarttlsOfferedNotUsed,
    /// The client asked for STARTTLS and the server refused it.
    StarttlsRefused,
    /// The STARTTLS capability arrived masked (`XXXXXXXA` and the like): a middlebox rewrote it.
    StarttlsMasked,
    /// TLS 1.1, TLS 1.0 or SSL 3 (or older) was negotiated.
    TlsOldVersion,
    /// A NULL, anonymous, export, RC4, DES or 3DES cipher suite was negotiated.
    TlsWeakCipher,
    /// The server's certificate is self-signed.
    CertSelfSigned,
    /// The server's certificate had expired, or was not yet valid, at the time of the flow.
    CertExpired,
    /// A TLS alert ended the handshake.
    TlsHandshakeFailed,
    /// The client sent a TLS ClientHello and the server answered in clear text.
    ClearAnswerToClientHello,
    /// The client spoke TLS from the first byte on a port whose protocol starts in clear
    /// (an SMTP server that got a ClientHello instead of EHLO).
    TlsWithoutUpgrade,
    /// NTLMv1 (or LM) responses.
    NtlmV1,
    /// Kerberos tickets or requests with RC4 or DES encryption types.
    KerberosWeakEtype,
    /// A Kerberos error came back (pre-authentication required does not count).
    KerberosError,
    /// DCE/RPC bound below packet privacy.
    RpcWithoutPrivacy,
    /// A bind or session without credentials.
    AnonymousAccess,
    /// The payload is the protocol the inspector knows, but malformed.
    Malformed,
}

impl Fact {
    pub fn as_str(self) -> &'static str {
        match self {
            Fact::StarttlsOfferedNotUsed => "starttls-offered-not-used",
            Fact::StarttlsRefused => "starttls-refused",
            Fact::StarttlsMasked => "starttls-masked",
            Fact::TlsOldVersion => "tls-old-version",
            Fact::TlsWeakCipher => "tls-weak-cipher",
            Fact::CertSelfSigned => "cert-self-signed",
            Fact::CertExpired => "cert-expired",
            Fact::TlsHandshakeFailed => "tls-handshake-failed",
            Fact::ClearAnswerToClientHello => "clear-answer-to-client-hello",
            Fact::TlsWithoutUpgrade => "tls-without-upgrade",
            Fact::NtlmV1 => "ntlmv1",
            Fact::KerberosWeakEtype => "kerberos-weak-etype",
            Fact::KerberosError => "kerberos-error",
            Fact::RpcWithoutPrivacy => "rpc-without-privacy",
            Fact::AnonymousAccess => "anonymous-access",
            Fact::Malformed => "malformed",
        }
    }

    pub const ALL: [Fact; 16] = [
        Fact::StarttlsOfferedNotUsed,
        Fact::StarttlsRefused,
        Fact::StarttlsMasked,
        Fact::TlsOldVersion,
        Fact::TlsWeakCipher,
        Fact::CertSelfSigned,
        Fact::CertExpired,
        Fact::TlsHandshakeFailed,
        Fact::ClearAnswerToClientHello,
        Fact::TlsWithoutUpgrade,
        Fact::NtlmV1,
        Fact::KerberosWeakEtype,
        Fact::KerberosError,
        Fact::RpcWithoutPrivacy,
        Fact::AnonymousAccess,
        Fact::Malformed,
    ];
}

/// A set of [`Fact`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts(u32);

impl Facts {
    pub fn add(&mut self, f: Fact) {
        self.0 |= 1 << f as u8;
    }
    pub fn has(self, f: Fact) -> bool {
        self.0 & (1 << f as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Fact> {
        Fact::ALL.into_iter().filter(move |f| self.has(*f))
    }
}

/// Where a protocol switched to TLS: the byte offsets, in each direction's prefix, at which the
/// TLS records start (after the client's STARTTLS line and the server's positive answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upgrade {
    pub client_at: usize,
    pub server_at: usize,
    /// X-ANONYMOUSTLS rather than STARTTLS.
    pub anonymous: bool,
}

/// A protocol's own details, as its inspector found them.
#[derive(Debug, Default)]
pub enum Detail {
    #[default]
    None,
    Smtp(Box<smtp::Smtp>),
    Imap(Box<imap::Imap>),
    Pop3(Box<pop3::Pop3>),
    Http(Box<http::Http>),
    Ldap(Box<ldap::Ldap>),
    Kerberos(Box<kerberos::Kerberos>),
    Smb(Box<smb::Smb>),
    DceRpc(Box<dcerpc::DceRpc>),
    Sip(Box<sip::Sip>),
}

/// How much of a flow's payload the inspectors had to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Payload {
    /// No payload in either direction.
    #[default]
    None,
    /// Each direction from its first byte to where it ended.
    Complete,
    /// A direction stops early: the prefix size, the snaplen, a hole, or the memory budget.
    Cut,
}

impl Payload {
    pub fn of(input: &Input<'_>) -> Payload {
        if input.client.is_empty() && input.server.is_empty() {
            Payload::None
        } else if input.client_cut || input.server_cut {
            Payload::Cut
        } else {
            Payload::Complete
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Payload::None => "none",
            Payload::Complete => "complete",
            Payload::Cut => "cut",
        }
    }
}

/// Everything the payload said about one flow.
#[derive(Debug, Default)]
pub struct Evidence {
    pub service: Option<Service>,
    /// What the inspectors had to read.
    pub payload: Payload,
    pub protection: Protection,
    pub auth: Vec<AuthSeen>,
    /// Authentications seen beyond [`MAX_AUTH`].
    pub auth_more: u32,
    pub facts: Facts,
    /// The application protocol switched to TLS here (set by the clear-text inspectors).
    pub upgrade: Option<Upgrade>,
    /// TLS, from the first byte or after an upgrade.
    pub tls: Option<Box<tls::Tls>>,
    /// The NTLM exchange, wherever it was carried.
    pub ntlm: Option<auth::Ntlm>,
    pub detail: Detail,
    /// What the flow's endpoint-mapper or DCOM resolver calls asked and answered.
    pub epm: Option<Box<epm::Epm>>,
}

impl Evidence {
    /// The interface a DCE/RPC bind on the flow named: the first offered context that is not
    /// the endpoint mapper's and was accepted (or whose answer was not seen).
    pub fn bound_interface(&self) -> Option<epm::IfId> {
        let Detail::DceRpc(d) = &self.detail else {
            return None;
        };
        d.contexts
            .iter()
            .filter(|c| c.endpoint != Some("epmapper"))
            .find(|c| {
                matches!(
                    c.result,
                    dcerpc::ContextResult::Accepted | dcerpc::ContextResult::Unknown
                )
            })
            .map(|c| epm::IfId {
                uuid: c.uuid,
                major: c.version.0,
                minor: c.version.1,
            })
    }

    /// Records an authentication, keeping at most [`MAX_AUTH`].
    pub fn push_auth(&mut self, a: AuthSeen) {
        if self.auth.len() < MAX_AUTH {
            self.auth.push(a);
        } else {
            self.auth_more = self.auth_more.saturating_add(1);
        }
    }

    /// Records what a security blob (GSS-API, SPNEGO, raw NTLMSSP or a Kerberos AP-REQ) carried,
    /// from whichever protocol carried it. Returns the mechanism it names.
    pub fn security_blob(&mut self, blob: &[u8]) -> Option<Mechanism> {
        let mech = auth::mechanism(blob)?;
        // Only an NTLM blob holds an NTLM message: the others are not searched twice.
        if mech == Mechanism::Ntlm
            && let Some(n) = auth::ntlm(blob)
        {
            if n.version == Some(auth::NtlmVersion::V1) {
                self.facts.add(Fact::NtlmV1);
            }
            if n.version == Some(auth::NtlmVersion::Anonymous) {
                self.facts.add(Fact::AnonymousAccess);
            }
            // Keep the message that says the most: an AUTHENTICATE over a NEGOTIATE.
            let better = match &self.ntlm {
                None => true,
                Some(old) => n.message >= old.message,
            };
            if better {
                self.ntlm = Some(n);
            }
        }
        Some(mech)
    }
}

/// The inspectors' input for a finished flow.
pub fn input(rec: &crate::flow::FlowRecord) -> Input<'_> {
    Input {
        client: rec.orig_payload.bytes(),
        server: rec.resp_payload.bytes(),
        udp: rec.kind == crate::flow::Kind::Udp,
        client_port: rec.orig.1,
        server_port: rec.resp.1,
        midstream: rec.midstream,
        client_cut: rec.truncated || rec.orig_payload.is_cut(),
        server_cut: rec.truncated || rec.resp_payload.is_cut(),
    }
}

/// Reads a flow's payload and gathers its evidence. `at` is the flow's start (certificate
/// validity is judged at capture time, never at the clock's).
pub fn inspect(input: &Input<'_>, at: crate::time::Timestamp) -> Evidence {
    let mut ev = Evidence {
        payload: Payload::of(input),
        ..Evidence::default()
    };
    if ev.payload == Payload::None {
        return ev;
    }
    if tls::looks_like(input.client) {
        if let Some(t) = tls::parse(input.client, input.server, at) {
            ev.service = Some(Service::Tls);
            tls::apply(&t, &mut ev);
            ev.tls = Some(Box::new(t));
        }
        return ev;
    }
    // Cheapest and most common first; each answers "not mine" in a few comparisons.
    let _ = smtp::inspect(input, &mut ev)
        || http::inspect(input, &mut ev)
        || imap::inspect(input, &mut ev)
        || pop3::inspect(input, &mut ev)
        || ldap::inspect(input, &mut ev)
        || kerberos::inspect(input, &mut ev)
        || dcerpc::inspect(input, &mut ev)
        || smb::inspect(input, &mut ev)
        || sip::inspect(input, &mut ev);
    // Only the endpoint mapper and DCOM's resolver and activator answer with endpoints; a
    // flow whose binds were not seen is read by the answers' shape.
    let resolver = |c: &dcerpc::Context| {
        matches!(
            c.endpoint,
            Some("epmapper" | "IObjectExporter" | "ISystemActivator" | "IActivation")
        )
    };
    if matches!(&ev.detail, Detail::DceRpc(d) if d.contexts.is_empty() || d.contexts.iter().any(resolver))
        && let Some(l) = epm::learn(input)
        && !l.epm.is_empty()
    {
        ev.epm = Some(Box::new(l.epm));
    }
    if let Some(up) = ev.upgrade {
        let client = input.client.get(up.client_at..).unwrap_or(&[]);
        let server = input.server.get(up.server_at..).unwrap_or(&[]);
        if let Some(t) = tls::parse(client, server, at) {
            let before = ev.protection;
            tls::apply(&t, &mut ev);
            // The upgrade keeps its own name; TLS details go beside it.
            if before.is_encrypted() {
                ev.protection = before;
            }
            ev.tls = Some(Box::new(t));
        }
    }
    ev
}
