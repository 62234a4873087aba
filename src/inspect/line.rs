//! What the clear-text protocols (SMTP, IMAP4, POP3, HTTP) share: a bounded line reader over a
//! payload prefix, a few case-insensitive word helpers, and the SASL pieces of their AUTH
//! commands (mechanism names, base64 into a fixed buffer, the user name a response may carry).
//!
//! Nothing here keeps a secret: a decoded response lives in a stack buffer for the length of one
//! call, and only the user name (or the security blob's own evidence, through
//! [`Evidence::security_blob`]) leaves it.

#![deny(clippy::indexing_slicing)]

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use serde::Serialize;

use crate::inspect::{
    AuthSeen, Evidence, Fact, Input, Mechanism, Outcome, Protection, Upgrade, auth, wire_text,
};

/// Longest line looked at, in bytes. A longer line is read to its end, but only this much of it
/// is handed out: RFC 5321 §4.5.3.1.6 limits SMTP text lines to 1000 bytes, and HTTP servers
/// commonly refuse header lines past 8 KiB; an NTLM or Kerberos blob in base64 fits in this.
pub(crate) const MAX_LINE: usize = 8192;

/// Most lines read from one direction. A payload prefix of a few KiB holds far fewer; the cap
/// bounds the work when the prefix is configured large.
pub(crate) const MAX_LINES: usize = 2048;

/// What became of a request to switch to TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeResult {
    /// The server said yes (SMTP 220, IMAP tagged OK, POP3 +OK).
    Accepted,
    /// The server said no.
    Refused,
    /// The answer is not in the prefix.
    Unanswered,
}

impl UpgradeResult {
    /// Records the server's answer to STARTTLS, STLS or X-ANONYMOUSTLS sent in the client line
    /// ending at `client_at`: `None` when the answer is not in the prefix, `Some(None)` for a
    /// refusal, `Some(Some(end))` for a yes whose line ends at `end`, where TLS starts. A yes
    /// sets the evidence's upgrade offsets; a no is a `StarttlsRefused` fact.
    pub(crate) fn settle(
        ev: &mut Evidence,
        answer: Option<Option<usize>>,
        client_at: usize,
        anonymous: bool,
    ) -> UpgradeResult {
        match answer {
            Some(Some(server_at)) => {
                ev.upgrade = Some(Upgrade {
                    client_at,
                    server_at,
                    anonymous,
                });
                UpgradeResult::Accepted
            }
            Some(None) => {
                ev.facts.add(Fact::StarttlsRefused);
                UpgradeResult::Refused
            }
            None => UpgradeResult::Unanswered,
        }
    }

    /// The protection a clear-text dialogue ends with: the upgrade's, or clear text where the
    /// dialogue was seen to run in clear (`clear`), or unknown.
    pub(crate) fn protection(result: Option<UpgradeResult>, clear: bool) -> Protection {
        match result {
            Some(UpgradeResult::Accepted) => Protection::Starttls,
            Some(UpgradeResult::Unanswered) => Protection::UpgradeUnconfirmed,
            _ if clear => Protection::Clear,
            _ => Protection::Unknown,
        }
    }
}

/// Whether the client's whole side was read as the protocol: it is all in the prefix, nothing
/// stopped the reading (`lost`), and no line was left unfinished.
pub(crate) fn read_whole(input: &Input<'_>, client: &Lines<'_>, lost: bool) -> bool {
    !lost && !input.client_cut && !input.client.is_empty() && client.rest().is_empty()
}

/// One line of a direction's bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'a> {
    /// The line without its CR LF (or bare LF), at most [`MAX_LINE`] bytes.
    pub text: &'a [u8],
    /// Offset, in the direction's bytes, just past the line's terminator.
    pub end: usize,
}

/// The lines of one direction, from an offset. An unterminated last line is not handed out: the
/// prefix stopped inside it, so what it says is not known.
#[derive(Clone, Debug)]
pub(crate) struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    count: usize,
}

impl<'a> Lines<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            count: 0,
        }
    }

    /// Offset of the next unread byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Skips `n` bytes (a literal, a body), or what is left if fewer. Returns whether all `n`
    /// were there.
    pub fn skip_bytes(&mut self, n: usize) -> bool {
        let left = self.buf.len().saturating_sub(self.pos);
        self.pos = self.pos.saturating_add(n.min(left));
        n <= left
    }

    /// The next line without consuming it.
    pub fn peek(&self) -> Option<Line<'a>> {
        self.clone().next()
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.count >= MAX_LINES {
            return None;
        }
        let rest = self.buf.get(self.pos..)?;
        let lf = rest.iter().position(|&b| b == b'\n')?;
        let raw = rest.get(..lf)?;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = raw.get(..raw.len().min(MAX_LINE))?;
        self.pos = self.pos.saturating_add(lf).saturating_add(1);
        self.count += 1;
        Some(Line {
            text,
            end: self.pos,
        })
    }
}

/// Whether `s` starts with `prefix`, ASCII case ignored.
pub(crate) fn starts_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Splits off the first space-separated word; the rest has its leading spaces removed.
pub(crate) fn word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => {
            let (w, rest) = s.split_at(i);
            (w, trim_start(rest))
        }
        None => (s, &[]),
    }
}

/// `s` without leading spaces and tabs.
pub(crate) fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    s.get(n..).unwrap_or(&[])
}

/// `s` without spaces and tabs at either end.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let s = trim_start(s);
    let n = s
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    s.get(..s.len() - n).unwrap_or(&[])
}

/// A word that is all ASCII letters, digits and `-`, `_`, `=`, `.` (a command, a capability
/// keyword, a SASL mechanism name).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.'))
}

/// Pushes `item` onto `v` unless `v` already holds `max` items or an equal one.
pub(crate) fn push_capped(v: &mut Vec<String>, item: String, max: usize) {
    if v.len() < max && !v.iter().any(|x| x.eq_ignore_ascii_case(&item)) {
        v.push(item);
    }
}

/// What a client command means for an offer of STARTTLS (STLS in POP3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Changes nothing: a capability query, a no-op, a new greeting.
    Neutral,
    /// The protocol's STARTTLS.
    Upgrade,
    /// Ends the session (QUIT, LOGOUT) before anything else was sent.
    Leave,
    /// Anything else: the client carries on in clear.
    Other,
}

/// Whether the server offered STARTTLS and what the client did next. The fact
/// [`Fact::StarttlsOfferedNotUsed`] is stated only for a command really present after the offer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Offer {
    #[default]
    None,
    /// Offered, and the client has not decided yet.
    Open,
    Decided,
}

impl Offer {
    pub fn offered(&mut self) {
        if *self == Offer::None {
            *self = Offer::Open;
        }
    }

    pub fn step(&mut self, step: Step, ev: &mut Evidence) {
        if *self != Offer::Open || step == Step::Neutral {
            return;
        }
        *self = Offer::Decided;
        if step == Step::Other {
            ev.facts.add(Fact::StarttlsOfferedNotUsed);
        }
    }
}

/// Most bytes one decoded SASL response or HTTP authorization blob is allowed: an NTLM
/// AUTHENTICATE message is a few hundred bytes; the first 3 KiB of a Kerberos AP-REQ hold the
/// GSS-API header and object identifiers that name its mechanism.
pub(crate) const MAX_BLOB: usize = 3072;

/// Base64 as mail clients and browsers send it: standard alphabet, padding optional.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 `text` into `buf`. Text longer than `buf` can take is cut at a multiple of four
/// characters first (the start of a long blob is what names it). `None` when it is not base64.
pub(crate) fn b64<'b>(text: &[u8], buf: &'b mut [u8; MAX_BLOB]) -> Option<&'b [u8]> {
    let text = trim(text);
    let max_chars = MAX_BLOB / 3 * 4;
    let text = if text.len() > max_chars {
        text.get(..max_chars)?
    } else {
        text
    };
    let n = B64.decode_slice(text, buf).ok()?;
    buf.get(..n)
}

/// The mechanism a SASL mechanism name (RFC 4422, IANA's SASL registry) stands for.
pub(crate) fn sasl_mechanism(name: &[u8]) -> Mechanism {
    const NAMES: &[(&[u8], Mechanism)] = &[
        (b"PLAIN", Mechanism::Plain),
        (b"LOGIN", Mechanism::Login),
        (b"CRAM-MD5", Mechanism::CramMd5),
        (b"DIGEST-MD5", Mechanism::DigestMd5),
        (b"NTLM", Mechanism::Ntlm),
        (b"GSSAPI", Mechanism::Gssapi),
        (b"GSS-SPNEGO", Mechanism::Negotiate),
        (b"XOAUTH2", Mechanism::Bearer),
        (b"OAUTHBEARER", Mechanism::Bearer),
        (b"EXTERNAL", Mechanism::External),
        (b"ANONYMOUS", Mechanism::Anonymous),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(Mechanism::Other, |&(_, m)| m)
}

/// A SASL PLAIN message (RFC 4616 §2), as far as it names anyone:
///
/// ```text
/// message = [authzid] UTF8NUL authcid UTF8NUL passwd
/// ```
///
/// Exactly two NULs, so exactly three fields. Any other count is not PLAIN, and which field
/// would be the password is not known: nobody is named, and whatever crossed counts as a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PlainMessage<'a> {
    /// The authentication identity: the middle one of exactly three fields, when not empty.
    pub authcid: Option<&'a [u8]>,
    /// A password, or bytes that may hold one, crossed.
    pub secret: bool,
}

impl<'a> PlainMessage<'a> {
    pub fn parse(message: &'a [u8]) -> Self {
        let mut fields = message.split(|&b| b == 0);
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(_authzid), Some(authcid), Some(passwd), None) => Self {
                authcid: Some(authcid).filter(|a| !a.is_empty()),
                secret: !passwd.is_empty(),
            },
            _ => Self {
                authcid: None,
                secret: !message.is_empty(),
            },
        }
    }
}

/// Length of a CRAM-MD5 digest in hex: RFC 2195 §2, the 16 octets of HMAC-MD5 "represented as a
/// sequence of hexadecimal digits".
const CRAM_MD5_DIGEST_HEX: usize = 32;

/// The user of a CRAM-MD5 response (RFC 2195 §2): "a string consisting of the user name, a
/// space, and a 'digest'". Only a response that ends in a space and the 32 hex digits of a
/// digest names anyone, and only with what precedes that space: a digest alone names nobody.
pub(crate) fn cram_md5_user(response: &[u8]) -> Option<&[u8]> {
    let sp = response.iter().rposition(|&b| b == b' ')?;
    let (user, digest) = response.split_at(sp);
    let digest = digest.get(1..)?;
    let is_digest = digest.len() == CRAM_MD5_DIGEST_HEX && digest.iter().all(u8::is_ascii_hexdigit);
    Some(user).filter(|u| is_digest && !u.is_empty())
}

/// What a LOGIN server asked for last (draft-murchison-sasl-login-00 §2: a challenge that
/// "SHOULD be" "User Name", then one that "SHOULD be" "Password"; Exchange sends "Username:" and
/// "Password:", MS-XLOGIN). The answer to a prompt is read by the prompt, never by its place in
/// the exchange: a server may ask for the password first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Prompt {
    /// No challenge came before this response (the server's answers are not in the prefix).
    #[default]
    Unseen,
    /// The response came with the command (`AUTH LOGIN dXNlcg==`): the user name, which is what
    /// MS-XLOGIN lets a client send there.
    Initial,
    User,
    Password,
    /// A challenge that names neither.
    Other,
}

impl Prompt {
    /// Reads a LOGIN challenge: base64 as the draft says, or else the text itself, from a server
    /// that sends it bare. Case is ignored, and so is what follows the word ("User Name\0",
    /// "Username:", "password").
    fn of(challenge: &[u8]) -> Prompt {
        let named = |text: &[u8]| {
            if starts_ci(text, b"user") {
                Some(Prompt::User)
            } else if starts_ci(text, b"pass") {
                Some(Prompt::Password)
            } else {
                None
            }
        };
        let mut buf = [0u8; MAX_BLOB];
        b64(challenge, &mut buf)
            .and_then(named)
            .or_else(|| named(trim(challenge)))
            .unwrap_or(Prompt::Other)
    }
}

/// One SASL exchange (RFC 4422 §3): the mechanism the client named, then base64 challenges from
/// the server and responses from the client until the protocol's final answer. It keeps the
/// mechanism, the user name where the mechanism sends one in clear, and whether the password or
/// token itself crossed; never the response bytes.
#[derive(Debug)]
pub(crate) struct Sasl {
    seen: AuthSeen,
    /// A GSS mechanism whose blobs go to [`Evidence::security_blob`].
    gss: bool,
    /// What the last challenge asked for, until a response answers it (LOGIN).
    prompt: Prompt,
}

impl Sasl {
    /// Starts an exchange for the mechanism `name`, with the initial response if the command
    /// carried one (SASL-IR; `=` is an empty one).
    pub fn start(name: &[u8], initial: Option<&[u8]>, ev: &mut Evidence) -> Self {
        let mechanism = sasl_mechanism(name);
        let gss = matches!(
            mechanism,
            Mechanism::Ntlm | Mechanism::Gssapi | Mechanism::Negotiate
        );
        let mut s = Self {
            seen: AuthSeen::new(mechanism),
            gss,
            prompt: Prompt::Unseen,
        };
        if mechanism == Mechanism::Anonymous {
            ev.facts.add(Fact::AnonymousAccess);
        }
        if let Some(ir) = initial.filter(|ir| !ir.is_empty()) {
            s.prompt = Prompt::Initial;
            s.response(if ir == b"=" { b"" } else { ir }, ev);
        }
        s
    }

    /// The mechanism named by the command.
    pub fn mechanism(&self) -> Mechanism {
        self.seen.mechanism
    }

    /// A server challenge (the text after `334 ` or `+ `). Callers pass each challenge before
    /// the response that answers it.
    pub fn challenge(&mut self, text: &[u8], ev: &mut Evidence) {
        if self.seen.mechanism == Mechanism::Login {
            self.prompt = Prompt::of(text);
        }
        if self.gss {
            let mut buf = [0u8; MAX_BLOB];
            if let Some(blob) = b64(text, &mut buf) {
                ev.security_blob(blob);
            }
        }
    }

    /// A client response line. Returns `false` when the client cancelled the exchange (`*`).
    pub fn response(&mut self, text: &[u8], ev: &mut Evidence) -> bool {
        let text = trim(text);
        if text == b"*" {
            self.seen.outcome = Outcome::Failure;
            return false;
        }
        let prompt = std::mem::take(&mut self.prompt);
        let mut buf = [0u8; MAX_BLOB];
        let decoded = b64(text, &mut buf);
        match self.seen.mechanism {
            Mechanism::Plain => {
                // Text that is not base64 is still the client's answer to a password mechanism.
                let m = decoded.map_or(
                    PlainMessage {
                        authcid: None,
                        secret: !text.is_empty(),
                    },
                    PlainMessage::parse,
                );
                if let Some(user) = m.authcid {
                    self.seen.user = Some(wire_text(user));
                }
                self.seen.clear_credentials |= m.secret;
            }
            // draft-murchison-sasl-login-00 §2: the answer to the user-name prompt is the user,
            // the answer to the password prompt the password; an initial response is the user
            // name (MS-XLOGIN). An answer to a prompt that was not seen, or not understood, may
            // be either: it names nobody and counts as the password.
            Mechanism::Login => match prompt {
                Prompt::Initial | Prompt::User => {
                    if let Some(d) = decoded.filter(|d| !d.is_empty()) {
                        self.seen.user = Some(wire_text(d));
                    }
                }
                Prompt::Password | Prompt::Unseen | Prompt::Other => {
                    self.seen.clear_credentials |= !text.is_empty();
                }
            },
            Mechanism::CramMd5 => {
                if let Some(user) = decoded.and_then(cram_md5_user) {
                    self.seen.user = Some(wire_text(user));
                }
            }
            Mechanism::DigestMd5 => {
                if let Some(user) = decoded.and_then(|d| param(d, b"username")) {
                    self.seen.user = Some(wire_text(user));
                }
            }
            // XOAUTH2 and OAUTHBEARER: the name in the header, the token in an "auth=" pair.
            Mechanism::Bearer => {
                if let Some(d) = decoded {
                    if let Some(user) = bearer_user(d) {
                        self.seen.user = Some(wire_text(user));
                    }
                    self.seen.clear_credentials |= auth::find(d, b"auth=").is_some();
                }
            }
            _ if self.gss => {
                if let Some(d) = decoded {
                    let mech = ev.security_blob(d);
                    if self.seen.mechanism == Mechanism::Negotiate {
                        if let Some(m @ (Mechanism::Ntlm | Mechanism::Kerberos)) = mech {
                            self.seen.mechanism = m;
                        }
                    }
                }
            }
            _ => {}
        }
        true
    }

    /// Ends the exchange with the protocol's final answer and returns what was seen.
    pub fn finish(mut self, outcome: Outcome, ev: &Evidence) -> AuthSeen {
        if self.seen.outcome == Outcome::Unknown {
            self.seen.outcome = outcome;
        }
        if self.gss && self.seen.user.is_none() {
            if let Some(n) = ev
                .ntlm
                .as_ref()
                .filter(|n| n.message == auth::NtlmMessage::Authenticate)
            {
                self.seen.user.clone_from(&n.user);
                self.seen.domain.clone_from(&n.domain);
            }
        }
        self.seen
    }
}

/// The user name in an XOAUTH2 or OAUTHBEARER initial response. XOAUTH2 (Google's "XOAUTH2
/// Mechanism"): `"user=" name ^A "auth=Bearer " token ^A ^A`. OAUTHBEARER (RFC 7628 §3.1):
/// `gs2-header kvsep *kvpair kvsep`, where `gs2-header = cbind-flag "," [ "a=" saslname ] ","`
/// and `kvsep` is ^A. The name is only looked for before the first ^A, where no token can be.
pub(crate) fn bearer_user(d: &[u8]) -> Option<&[u8]> {
    let head = d.split(|&b| b == 0x01).next()?;
    if let Some(u) = head.strip_prefix(b"user=") {
        return Some(u).filter(|u| !u.is_empty());
    }
    let mut gs2 = head.split(|&b| b == b',');
    let _cbind_flag = gs2.next();
    let authzid = gs2.next()?.strip_prefix(b"a=")?;
    // The header ends with its second comma; without it this is not a gs2 header.
    gs2.next()?;
    Some(authzid).filter(|u| !u.is_empty())
}

/// The value of `name=value` or `name="value"` in a comma-separated parameter list (DIGEST-MD5,
/// HTTP Digest). Parameters named like `name` only as a suffix do not count.
pub(crate) fn param<'a>(s: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut rest = s;
    while !rest.is_empty() {
        let item = trim_start(rest);
        let item = item.strip_prefix(b",").map_or(item, trim_start);
        let eq = item.iter().position(|&b| b == b'=')?;
        let (key, after) = item.split_at(eq);
        let after = after.get(1..).unwrap_or(&[]);
        let (value, tail) = if let Some(q) = after.strip_prefix(b"\"") {
            let close = q.iter().position(|&b| b == b'"').unwrap_or(q.len());
            let (v, t) = q.split_at(close);
            (v, t.get(1..).unwrap_or(&[]))
        } else {
            let stop = after.iter().position(|&b| b == b',').unwrap_or(after.len());
            after.split_at(stop)
        };
        if trim(key).eq_ignore_ascii_case(name) {
            return Some(value);
        }
        if tail.len() >= rest.len() {
            return None;
        }
        rest = tail;
    }
    None
}

/// Builders shared by the clear-text inspectors' tests.
#[cfg(test)]
pub(crate) mod testdata {
    use base64::Engine as _;

    use crate::inspect::{Detail, Evidence, Input};

    pub fn b64(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    /// Both directions, complete (not cut).
    pub fn input<'a>(client: &'a [u8], server: &'a [u8]) -> Input<'a> {
        Input {
            client,
            server,
            client_port: 50000,
            server_port: 25,
            ..Input::default()
        }
    }

    /// An NTLM NEGOTIATE message (MS-NLMP 2.2.1.1), flags only.
    pub fn ntlm_negotiate() -> Vec<u8> {
        crate::testkit::ntlm::negotiate()
    }

    /// An NTLM CHALLENGE message (MS-NLMP 2.2.1.2) naming `domain` as target.
    pub fn ntlm_challenge(domain: &str) -> Vec<u8> {
        crate::testkit::ntlm::challenge(domain, &[0x11; 8])
    }

    /// An NTLM AUTHENTICATE message (MS-NLMP 2.2.1.3) with an NT response of `nt_len` bytes.
    pub fn ntlm_authenticate(domain: &str, user: &str, host: &str, nt_len: usize) -> Vec<u8> {
        crate::testkit::ntlm::authenticate(&vec![0x5a; nt_len], domain, user, host)
    }

    /// The start of a GSS-API InitialContextToken for Kerberos (RFC 4121 §4.1).
    pub fn kerberos_token() -> Vec<u8> {
        let mut t = vec![0x60, 0x82, 0x02, 0x00];
        t.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ]);
        t.extend_from_slice(&[0x01, 0x00, 0x6e, 0x82, 0x01, 0xf0]);
        t
    }

    /// Everything an output could show of the evidence: its Debug form and the detail's JSON.
    pub fn render(ev: &Evidence) -> String {
        let detail = match &ev.detail {
            Detail::Smtp(d) => serde_json::to_string(d).unwrap(),
            Detail::Imap(d) => serde_json::to_string(d).unwrap(),
            Detail::Pop3(d) => serde_json::to_string(d).unwrap(),
            Detail::Http(d) => serde_json::to_string(d).unwrap(),
            _ => String::new(),
        };
        let auth = serde_json::to_string(&ev.auth).unwrap();
        format!("{ev:?}\n{detail}\n{auth}")
    }

    /// Writes seeds for the cargo-fuzz target `target`: (name, flags, client, server).
    pub fn write_seeds(target: &str, seeds: &[(&str, u8, Vec<u8>, Vec<u8>)]) {
        crate::testkit::fuzzing::write_seeds(target, seeds).unwrap();
    }

    /// Fails if `secret` appears in `out` in clear, in base64 (alone or after a `user:` or a
    /// PLAIN prefix) or in hex.
    pub fn assert_no_secret(out: &str, user: &str, secret: &str) {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let forms = [
            secret.to_owned(),
            b64(secret.as_bytes()),
            b64(format!("{user}:{secret}").as_bytes()),
            b64(format!("\0{user}\0{secret}").as_bytes()),
            hex.clone(),
            hex.to_uppercase(),
        ];
        for f in forms {
            let f = f.trim_end_matches('=');
            assert!(!out.contains(f), "output holds {f:?}: {out}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_crlf_and_lf_and_hold_back_a_cut_line() {
        let mut l = Lines::new(b"one\r\ntwo\nthr");
        let a = l.next().unwrap();
        assert_eq!((a.text, a.end), (&b"one"[..], 5));
        let b = l.next().unwrap();
        assert_eq!((b.text, b.end), (&b"two"[..], 9));
        assert!(l.next().is_none());
        assert_eq!(l.rest(), b"thr");
    }

    #[test]
    fn long_lines_are_cut_but_consumed() {
        let mut buf = vec![b'a'; MAX_LINE + 10];
        buf.extend_from_slice(b"\r\nnext\r\n");
        let mut l = Lines::new(&buf);
        assert_eq!(l.next().unwrap().text.len(), MAX_LINE);
        assert_eq!(l.next().unwrap().text, b"next");
    }

    #[test]
    fn line_count_is_capped() {
        let buf = b"\n".repeat(MAX_LINES + 5);
        assert_eq!(Lines::new(&buf).count(), MAX_LINES);
    }

    #[test]
    fn skip_stops_at_the_end() {
        let mut l = Lines::new(b"abcdef");
        assert!(l.skip_bytes(2));
        assert_eq!(l.pos(), 2);
        assert!(!l.skip_bytes(100));
        assert_eq!(l.pos(), 6);
        assert!(l.next().is_none());
    }

    #[test]
    fn words_and_tokens() {
        assert_eq!(word(b"AUTH  PLAIN x"), (&b"AUTH"[..], &b"PLAIN x"[..]));
        assert_eq!(word(b"QUIT"), (&b"QUIT"[..], &b""[..]));
        assert_eq!(trim(b"  a b \t"), b"a b");
        assert!(starts_ci(b"ehlo x", b"EHLO"));
        assert!(!starts_ci(b"EH", b"EHLO"));
        assert!(is_token(b"X-ANONYMOUSTLS"));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b""));
    }

    #[test]
    fn base64_with_and_without_padding() {
        let mut buf = [0u8; MAX_BLOB];
        assert_eq!(b64(b"dXNlcg==", &mut buf), Some(&b"user"[..]));
        assert_eq!(b64(b"dXNlcg", &mut buf), Some(&b"user"[..]));
        assert_eq!(b64(b"not base64!", &mut buf), None);
        // Longer than the buffer: the start is decoded.
        let long = vec![b'A'; MAX_BLOB * 2];
        assert_eq!(b64(&long, &mut buf).map(<[u8]>::len), Some(MAX_BLOB));
    }

    #[test]
    fn params_quoted_and_bare() {
        let s = br#"realm="x", username="bob", nonce=abc"#;
        assert_eq!(param(s, b"username"), Some(&b"bob"[..]));
        assert_eq!(param(s, b"nonce"), Some(&b"abc"[..]));
        assert_eq!(param(s, b"name"), None);
        assert_eq!(param(b"garbage", b"x"), None);
        assert_eq!(param(b"a=\"unclosed", b"a"), Some(&b"unclosed"[..]));
    }

    #[test]
    fn sasl_plain_keeps_the_user_only() {
        let mut ev = Evidence::default();
        // "\0alice\0s3cret"
        let s = Sasl::start(b"PLAIN", Some(b"AGFsaWNlAHMzY3JldA=="), &mut ev);
        let a = s.finish(Outcome::Success, &ev);
        assert_eq!(a.mechanism, Mechanism::Plain);
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert!(a.clear_credentials);
        assert!(!format!("{a:?}").contains("s3cret"));
    }

    /// A challenge (`None`: one the prefix does not hold) and the response to it.
    type Turn<'a> = (Option<&'a [u8]>, &'a [u8]);

    /// Runs a SASL exchange: the mechanism, its initial response, then the steps.
    fn exchange(mech: &[u8], initial: Option<&[u8]>, steps: &[Turn<'_>]) -> AuthSeen {
        let mut ev = Evidence::default();
        let initial = initial.map(testdata::b64);
        let mut s = Sasl::start(mech, initial.as_deref().map(str::as_bytes), &mut ev);
        for (challenge, response) in steps {
            if let Some(c) = challenge {
                s.challenge(testdata::b64(c).as_bytes(), &mut ev);
            }
            s.response(testdata::b64(response).as_bytes(), &mut ev);
        }
        s.finish(Outcome::Unknown, &ev)
    }

    fn shown(a: &AuthSeen) -> String {
        format!("{a:?}\n{}", serde_json::to_string(a).unwrap())
    }

    #[test]
    fn plain_message_names_the_authcid_of_exactly_three_fields() {
        let named = PlainMessage::parse;
        assert_eq!(
            named(b"\0alice\0pw"),
            PlainMessage {
                authcid: Some(b"alice"),
                secret: true
            }
        );
        assert_eq!(named(b"admin\0alice\0pw").authcid, Some(&b"alice"[..]));
        // An empty password: a name, and no secret.
        assert_eq!(
            named(b"\0alice\0"),
            PlainMessage {
                authcid: Some(b"alice"),
                secret: false
            }
        );
        // Any other count of fields, or an empty authcid: nobody, and a secret may be there.
        for m in [
            &b"alice\0pw"[..],
            b"pw",
            b"\0pw",
            b"a\0alice\0pw\0more",
            b"\0\0pw",
            b"admin\0\0pw",
        ] {
            assert_eq!(
                named(m),
                PlainMessage {
                    authcid: None,
                    secret: true
                },
                "{m:?}"
            );
        }
        assert!(!named(b"").secret);
    }

    #[test]
    fn sasl_plain_with_two_fields_names_nobody_and_is_clear() {
        for (message, user) in [
            (&b"\0alice\0Tw0-F1elds"[..], Some("alice")),
            (b"alice\0Tw0-F1elds", None),
            (b"Tw0-F1elds", None),
            (b"x\0alice\0Tw0-F1elds\0y", None),
            (b"\0\0Tw0-F1elds", None),
        ] {
            let a = exchange(b"PLAIN", Some(message), &[]);
            assert_eq!(a.user.as_deref(), user, "{message:?}");
            assert!(a.clear_credentials, "{message:?}");
            testdata::assert_no_secret(&shown(&a), "alice", "Tw0-F1elds");
            // The same after an empty challenge.
            let b = exchange(b"PLAIN", None, &[(Some(b""), message)]);
            assert_eq!(b.user.as_deref(), user, "{message:?}");
            assert!(b.clear_credentials, "{message:?}");
        }
        // Not base64 at all: still a password mechanism's answer.
        let mut ev = Evidence::default();
        let mut s = Sasl::start(b"PLAIN", None, &mut ev);
        s.response(b"N0t-B64!", &mut ev);
        let a = s.finish(Outcome::Unknown, &ev);
        assert!(a.clear_credentials);
        assert_eq!(a.user, None);
    }

    #[test]
    fn sasl_login_follows_the_prompts_not_the_order() {
        const USER: &[u8] = b"Username:";
        const PASS: &[u8] = b"Password:";
        // What the case shows, the initial response, (challenge, response) pairs, the user.
        type Case<'a> = (&'a str, Option<&'a [u8]>, Vec<Turn<'a>>, Option<&'a str>);
        let cases: [Case<'_>; 8] = [
            (
                "user first",
                None,
                vec![(Some(USER), b"bob"), (Some(PASS), b"Pr0mpt-Pw")],
                Some("bob"),
            ),
            (
                "password first",
                None,
                vec![(Some(PASS), b"Pr0mpt-Pw"), (Some(USER), b"bob")],
                Some("bob"),
            ),
            (
                "initial response",
                Some(b"bob"),
                vec![(Some(PASS), b"Pr0mpt-Pw")],
                Some("bob"),
            ),
            (
                "draft wording",
                None,
                vec![
                    (Some(b"User Name\0"), b"bob"),
                    (Some(b"password"), b"Pr0mpt-Pw"),
                ],
                Some("bob"),
            ),
            (
                "no prompts seen",
                None,
                vec![(None, b"bob"), (None, b"Pr0mpt-Pw")],
                None,
            ),
            (
                "unknown prompts",
                None,
                vec![(Some(b"Who?"), b"bob"), (Some(b""), b"Pr0mpt-Pw")],
                None,
            ),
            (
                "password only",
                None,
                vec![(Some(PASS), b"Pr0mpt-Pw")],
                None,
            ),
            (
                "prompt then none",
                None,
                vec![(Some(USER), b"bob"), (None, b"Pr0mpt-Pw")],
                Some("bob"),
            ),
        ];
        for (what, initial, steps, user) in cases {
            let a = exchange(b"LOGIN", initial, &steps);
            assert_eq!(a.user.as_deref(), user, "{what}");
            assert!(a.clear_credentials, "{what}");
            testdata::assert_no_secret(&shown(&a), "bob", "Pr0mpt-Pw");
        }
        // The user name alone, asked for: no password crossed.
        let a = exchange(b"LOGIN", None, &[(Some(USER), b"bob")]);
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert!(!a.clear_credentials);
    }

    #[test]
    fn login_prompts_in_base64_or_bare() {
        assert_eq!(Prompt::of(b"VXNlcm5hbWU6"), Prompt::User);
        assert_eq!(Prompt::of(b"UGFzc3dvcmQ6"), Prompt::Password);
        assert_eq!(Prompt::of(b"VXNlciBOYW1lAA=="), Prompt::User);
        assert_eq!(Prompt::of(b"Username:"), Prompt::User);
        assert_eq!(Prompt::of(b"PASSWORD"), Prompt::Password);
        assert_eq!(Prompt::of(b""), Prompt::Other);
        assert_eq!(Prompt::of(b"R28gb24="), Prompt::Other);
    }

    #[test]
    fn cram_md5_names_the_user_before_the_digest_only() {
        const DIGEST: &str = "b913a602c7eda7a495b4e6e7334d3890";
        assert_eq!(
            cram_md5_user(format!("tim {DIGEST}").as_bytes()),
            Some(&b"tim"[..])
        );
        assert_eq!(
            cram_md5_user(format!("tim smith {DIGEST}").as_bytes()),
            Some(&b"tim smith"[..])
        );
        for near in [
            DIGEST.to_owned(),
            format!(" {DIGEST}"),
            "tim b913a602".to_owned(),
            "tim Cr4m-N0t-A-Digest-But-Long-32".to_owned(),
            format!("{DIGEST} "),
        ] {
            assert_eq!(cram_md5_user(near.as_bytes()), None, "{near}");
        }
        let a = exchange(b"CRAM-MD5", None, &[(Some(b"<1.2@h>"), DIGEST.as_bytes())]);
        assert_eq!(a.user, None);
        assert!(!a.clear_credentials, "a digest is not the password");
        testdata::assert_no_secret(&shown(&a), "tim", DIGEST);
    }

    #[test]
    fn bearer_user_is_read_from_the_header_only() {
        assert_eq!(
            bearer_user(b"user=u@x\x01auth=Bearer t\x01\x01"),
            Some(&b"u@x"[..])
        );
        assert_eq!(
            bearer_user(b"n,a=u@x,\x01host=h\x01auth=Bearer t\x01\x01"),
            Some(&b"u@x"[..])
        );
        // No name in the header: the token is never searched, whatever it holds.
        for near in [
            &b"n,,\x01auth=Bearer dGVzdGa=\x01\x01"[..],
            b"n,,\x01auth=Bearer x,a=T0ken-Tail\x01\x01",
            b"\x01auth=Bearer user=T0ken-Tail\x01\x01",
            b"n,a=T0ken-Tail",
            b"",
        ] {
            assert_eq!(bearer_user(near), None, "{near:?}");
        }
    }

    #[test]
    fn sasl_cancel_is_a_failure() {
        let mut ev = Evidence::default();
        let mut s = Sasl::start(b"LOGIN", None, &mut ev);
        assert!(!s.response(b"*", &mut ev));
        let a = s.finish(Outcome::Unknown, &ev);
        assert_eq!(a.outcome, Outcome::Failure);
        assert!(!a.clear_credentials);
    }

    #[test]
    fn sasl_bearer_and_cram_users() {
        let mut ev = Evidence::default();
        // "user=carol\x01auth=Bearer tok\x01\x01"
        let s = Sasl::start(
            b"XOAUTH2",
            Some(b"dXNlcj1jYXJvbAFhdXRoPUJlYXJlciB0b2sBAQ=="),
            &mut ev,
        );
        let a = s.finish(Outcome::Success, &ev);
        assert_eq!(a.mechanism, Mechanism::Bearer);
        assert_eq!(a.user.as_deref(), Some("carol"));
        assert!(a.clear_credentials);
        // "dave 0123456789abcdef0123456789abcdef"
        let mut s = Sasl::start(b"CRAM-MD5", None, &mut ev);
        s.response(
            b"ZGF2ZSAwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==",
            &mut ev,
        );
        let a = s.finish(Outcome::Success, &ev);
        assert_eq!(a.user.as_deref(), Some("dave"));
        assert!(!a.clear_credentials);
    }

    #[test]
    fn offer_needs_a_real_next_command() {
        let mut ev = Evidence::default();
        let mut o = Offer::default();
        o.step(Step::Other, &mut ev);
        assert!(ev.facts.is_empty(), "nothing offered yet");
        o.offered();
        o.step(Step::Neutral, &mut ev);
        o.step(Step::Leave, &mut ev);
        assert!(ev.facts.is_empty(), "leaving is not carrying on in clear");
        let mut o = Offer::default();
        o.offered();
        o.step(Step::Upgrade, &mut ev);
        o.step(Step::Other, &mut ev);
        assert!(ev.facts.is_empty(), "decided by the upgrade");
        let mut o = Offer::default();
        o.offered();
        o.step(Step::Other, &mut ev);
        assert!(ev.facts.has(Fact::StarttlsOfferedNotUsed));
    }

    #[test]
    fn sasl_names() {
        assert_eq!(sasl_mechanism(b"gssapi"), Mechanism::Gssapi);
        assert_eq!(sasl_mechanism(b"X-UNKNOWN"), Mechanism::Other);
        let mut ev = Evidence::default();
        let _ = Sasl::start(b"ANONYMOUS", None, &mut ev);
        assert!(ev.facts.has(Fact::AnonymousAccess));
    }
}
