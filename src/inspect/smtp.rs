//! SMTP and ESMTP (RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH, Exchange's X-ANONYMOUSTLS and
//! X-EXPS): the greeting, the EHLO name and the capabilities offered, whether and how the
//! conversation switched to TLS, and how the client authenticated.
//!
//! Our own parser: no maintained crate parses an SMTP dialogue for inspection (the SMTP crates
//! are clients and servers that expect a well-behaved peer). It reads each direction as lines,
//! pairs the client's commands with the server's replies in order (which also holds under
//! PIPELINING, RFC 2920 §3.1), and stops at the switch to TLS, at a BDAT chunk it cannot follow,
//! or at the first line that is not SMTP. What the prefix does not hold is left unknown.

#![deny(clippy::indexing_slicing)]

use serde::Serialize;

use super::line::{Lines, Offer, Sasl, Step, is_token, push_capped, read_whole, trim, word};
use super::{Evidence, Fact, Input, Outcome, Protection, Service, wire_text};

/// Most capability lines kept from the EHLO answers (Exchange offers about 15).
const MAX_CAPABILITIES: usize = 24;
/// Most mechanism names kept per list.
const MAX_MECHANISMS: usize = 12;
/// How much of the greeting is searched for the word "SMTP" when the client said nothing SMTP.
const BANNER_PROBE: usize = 512;

pub use super::line::UpgradeResult;

/// What the SMTP conversation showed. Field names follow Zeek's smtp.log where it has one.
#[derive(Debug, Default, Serialize)]
pub struct Smtp {
    /// The greeting's text after its reply code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// The greeting was replaced by `*`s (Cisco ESMTP inspection).
    #[serde(skip_serializing_if = "is_false")]
    pub banner_masked: bool,
    /// The EHLO/HELO argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// The EHLO answer's capability lines, as offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Mechanisms of the `AUTH` capability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_mechanisms: Vec<String>,
    /// Mechanisms of Exchange's `X-EXPS` capability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exps_mechanisms: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_offered: bool,
    /// A capability of STARTTLS's length made of `X`s (or `*`s): a middlebox masked it.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_masked: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub anonymous_tls_offered: bool,
    /// The client sent STARTTLS, and this is what came of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<UpgradeResult>,
    /// The client sent X-ANONYMOUSTLS, and this is what came of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_tls: Option<UpgradeResult>,
    /// MAIL FROM commands sent in clear.
    #[serde(skip_serializing_if = "is_zero")]
    pub mail_from: u32,
    /// RCPT TO commands sent in clear.
    #[serde(skip_serializing_if = "is_zero")]
    pub rcpt_to: u32,
    /// The last reply seen (a SASL challenge excepted), code and text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reply: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One server reply (RFC 5321 §4.2): `code ("-" text CRLF)* code [SP text] CRLF`.
#[derive(Clone, Copy, Debug)]
struct Reply<'a> {
    code: u16,
    /// The text of the last line, after the code.
    text: &'a [u8],
    /// Offset just past the reply in the server's bytes.
    end: usize,
}

/// A reply's three-digit code.
fn code(line: &[u8]) -> Option<u16> {
    match line {
        [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// Reads the next complete reply, handing each line's text (after the code and separator) to
/// `each`. `None` when the server's bytes end (or stop being SMTP) before the reply does.
fn reply<'a>(sv: &mut Lines<'a>, mut each: impl FnMut(&'a [u8])) -> Option<Reply<'a>> {
    loop {
        let l = sv.next()?;
        let c = code(l.text)?;
        let text = l.text.get(4..).unwrap_or(&[]);
        each(text);
        if l.text.get(3) != Some(&b'-') {
            return Some(Reply {
                code: c,
                text,
                end: l.end,
            });
        }
    }
}

/// The first line of `s`, at most `max` bytes of it.
fn first_line(s: &[u8], max: usize) -> &[u8] {
    let s = s.get(..s.len().min(max)).unwrap_or(s);
    let end = s.iter().position(|&b| b == b'\n').unwrap_or(s.len());
    s.get(..end).unwrap_or(s)
}

/// Whether a client line is an EHLO, HELO or LHLO (LMTP, RFC 2033) command.
fn is_hello(line: &[u8]) -> bool {
    let (verb, _) = word(trim(line));
    [&b"EHLO"[..], b"HELO", b"LHLO"]
        .iter()
        .any(|v| verb.eq_ignore_ascii_case(v))
}

/// Whether the flow is SMTP: the client opens with EHLO/HELO, or the server greets with a
/// 220 (421, 554) reply whose text names SMTP.
fn claims(input: &Input<'_>) -> bool {
    let c = input.client;
    if matches!(c.first(), Some(b'E' | b'e' | b'H' | b'h' | b'L' | b'l'))
        && c.get(4).is_some_and(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        && is_hello(first_line(c, 16))
    {
        return true;
    }
    let s = input.server;
    if !matches!(s.get(..3), Some(b"220" | b"421" | b"554"))
        || !matches!(s.get(3), Some(b' ' | b'-'))
    {
        return false;
    }
    let probe = s.get(..s.len().min(BANNER_PROBE)).unwrap_or(s);
    probe.windows(4).any(|w| w.eq_ignore_ascii_case(b"SMTP"))
}

/// A capability that a middlebox masked: STARTTLS's eight letters turned into `X`s (the last
/// one sometimes a letter: `XXXXXXXA`, `XXXXXXXB`), or into `*`s (Cisco PIX/ASA ESMTP fixup).
fn masked_starttls(keyword: &[u8]) -> bool {
    match keyword {
        [head @ .., last] if keyword.len() == b"STARTTLS".len() => {
            (head.iter().all(|&b| b == b'X') && last.is_ascii_uppercase())
                || keyword.iter().all(|&b| b == b'*')
        }
        _ => false,
    }
}

/// A greeting made mostly of `*`s.
fn masked_banner(text: &[u8]) -> bool {
    let (stars, other) =
        text.iter()
            .filter(|b| !b.is_ascii_whitespace())
            .fold((0usize, 0usize), |(s, o), &b| {
                if b == b'*' { (s + 1, o) } else { (s, o + 1) }
            });
    stars > 0 && stars >= other
}

/// Commands after which the conversation has carried content or credentials in clear.
const TRANSACTION: &[&[u8]] = &[
    b"MAIL", b"RCPT", b"DATA", b"BDAT", b"AUTH", b"X-EXPS", b"VRFY", b"EXPN", b"XEXCH50", b"ETRN",
    b"TURN", b"ATRN",
];

struct Dialogue<'a, 'e> {
    input: &'a Input<'a>,
    ev: &'e mut Evidence,
    smtp: Smtp,
    cl: Lines<'a>,
    sv: Lines<'a>,
    offer: Offer,
    clear: bool,
    /// The dialogue stopped at a line it could not follow.
    lost: bool,
    quit: bool,
}

impl<'a> Dialogue<'a, '_> {
    /// Reads the next reply and remembers it as the last one.
    fn reply(&mut self) -> Option<Reply<'a>> {
        let r = reply(&mut self.sv, |_| ())?;
        self.note(r);
        Some(r)
    }

    fn note(&mut self, r: Reply<'a>) {
        if r.code != 334 {
            let mut s = r.code.to_string();
            s.push(' ');
            s.push_str(&wire_text(r.text));
            self.smtp.last_reply = Some(wire_text(s.as_bytes()));
        }
    }

    /// The greeting.
    fn greeting(&mut self) {
        let mut first: Option<&[u8]> = None;
        let Some(r) = reply(&mut self.sv, |t| {
            first.get_or_insert(t);
        }) else {
            return;
        };
        let text = first.unwrap_or(r.text);
        self.smtp.banner = Some(wire_text(text));
        self.smtp.banner_masked = masked_banner(text);
        self.note(r);
    }

    /// The answer to EHLO: the first line names the server, each further line a capability.
    fn ehlo_answer(&mut self) {
        let mut lines: [Option<&[u8]>; MAX_CAPABILITIES + 1] = [None; MAX_CAPABILITIES + 1];
        let mut n = 0usize;
        let Some(r) = reply(&mut self.sv, |t| {
            if let Some(slot) = lines.get_mut(n) {
                *slot = Some(t);
            }
            n += 1;
        }) else {
            return;
        };
        self.note(r);
        if r.code / 100 != 2 {
            return;
        }
        for cap in lines.iter().skip(1).flatten() {
            self.capability(trim(cap));
        }
    }

    fn capability(&mut self, cap: &[u8]) {
        if cap.is_empty() {
            return;
        }
        let s = &mut self.smtp;
        push_capped(&mut s.capabilities, wire_text(cap), MAX_CAPABILITIES);
        // "AUTH PLAIN LOGIN" and the pre-RFC "AUTH=PLAIN LOGIN" alike.
        let split = cap
            .iter()
            .position(|&b| b == b' ' || b == b'=')
            .unwrap_or(cap.len());
        let (keyword, params) = cap.split_at(split);
        let params = params.get(1..).unwrap_or(&[]);
        if keyword.eq_ignore_ascii_case(b"STARTTLS") {
            s.starttls_offered = true;
            self.offer.offered();
        } else if keyword.eq_ignore_ascii_case(b"X-ANONYMOUSTLS") {
            s.anonymous_tls_offered = true;
        } else if masked_starttls(keyword) {
            s.starttls_masked = true;
            self.ev.facts.add(Fact::StarttlsMasked);
        } else if keyword.eq_ignore_ascii_case(b"AUTH") || keyword.eq_ignore_ascii_case(b"X-EXPS") {
            let list = if keyword.eq_ignore_ascii_case(b"AUTH") {
                &mut s.auth_mechanisms
            } else {
                &mut s.exps_mechanisms
            };
            for m in params.split(|&b| b == b' ').filter(|m| is_token(m)) {
                push_capped(list, wire_text(m), MAX_MECHANISMS);
            }
        }
    }

    /// What a command means for an open offer of STARTTLS.
    fn decide(&mut self, verb: &[u8]) {
        let is = |names: &[&[u8]]| names.iter().any(|n| verb.eq_ignore_ascii_case(n));
        let step = if is(&[b"EHLO", b"HELO", b"LHLO", b"NOOP", b"RSET", b"HELP"]) {
            Step::Neutral
        } else if is(&[b"STARTTLS", b"X-ANONYMOUSTLS"]) {
            Step::Upgrade
        } else if is(&[b"QUIT"]) {
            Step::Leave
        } else {
            Step::Other
        };
        self.offer.step(step, self.ev);
    }

    /// STARTTLS or X-ANONYMOUSTLS. Returns whether the dialogue goes on in clear.
    fn upgrade(&mut self, client_at: usize, anonymous: bool) -> bool {
        let answer = self.reply().map(|r| (r.code == 220).then_some(r.end));
        let result = UpgradeResult::settle(self.ev, answer, client_at, anonymous);
        if anonymous {
            self.smtp.anonymous_tls = Some(result);
        } else {
            self.smtp.starttls = Some(result);
        }
        result == UpgradeResult::Refused
    }

    /// AUTH or X-EXPS (RFC 4954 §4): challenges (334) and responses until the final reply.
    fn auth(&mut self, args: &[u8]) {
        let (mech, initial) = word(args);
        let initial = Some(trim(initial)).filter(|i| !i.is_empty());
        let mut sasl = Sasl::start(mech, initial, self.ev);
        let mut answered = 0u32;
        let outcome = loop {
            match self.reply() {
                Some(r) if r.code == 334 => {
                    sasl.challenge(r.text, self.ev);
                    let Some(l) = self.cl.next() else {
                        break Outcome::Unknown;
                    };
                    sasl.response(l.text, self.ev);
                    answered += 1;
                }
                Some(r) if r.code / 100 == 2 => break Outcome::Success,
                Some(_) => break Outcome::Failure,
                None => {
                    // The server's answers are not in the prefix: take the client's next lines
                    // as responses while they are not commands, as many as the mechanism sends.
                    let want = match sasl.mechanism() {
                        super::Mechanism::Login => 2u32,
                        super::Mechanism::Plain if initial.is_none() => 1,
                        super::Mechanism::Plain | super::Mechanism::Bearer => 0,
                        _ => 4,
                    };
                    while answered < want {
                        let Some(l) = self.cl.peek() else { break };
                        if is_command(l.text) {
                            break;
                        }
                        self.cl.next();
                        if !sasl.response(l.text, self.ev) {
                            break;
                        }
                        answered += 1;
                    }
                    break Outcome::Unknown;
                }
            }
        };
        let seen = sasl.finish(outcome, self.ev);
        self.ev.push_auth(seen);
    }

    /// DATA (RFC 5321 §4.1.1.4): after 354, the message up to the line holding a lone `.`.
    /// When the 354 is not in the prefix, the client's next lines are taken as the message: a
    /// client sends it only after the 354 (RFC 2920 §3.1 keeps DATA last in a pipelined group).
    fn data(&mut self) {
        if self.reply().is_none_or(|r| r.code == 354) {
            for l in self.cl.by_ref() {
                if l.text == b"." {
                    break;
                }
            }
            self.reply();
        }
    }

    /// Runs the client's commands against the server's replies.
    fn run(&mut self) {
        self.greeting();
        while let Some(cmd) = self.cl.next() {
            let text = trim(cmd.text);
            let (verb, args) = word(text);
            if !is_token(verb) {
                self.lost = true;
                break;
            }
            self.decide(verb);
            if TRANSACTION.iter().any(|t| verb.eq_ignore_ascii_case(t)) {
                self.clear = true;
            }
            let v = |name: &[u8]| verb.eq_ignore_ascii_case(name);
            if v(b"EHLO") || v(b"HELO") || v(b"LHLO") {
                if !args.is_empty() {
                    self.smtp.helo = Some(wire_text(args));
                }
                if v(b"HELO") {
                    self.reply();
                } else {
                    self.ehlo_answer();
                }
            } else if v(b"STARTTLS") || v(b"X-ANONYMOUSTLS") {
                if !self.upgrade(cmd.end, v(b"X-ANONYMOUSTLS")) {
                    return;
                }
            } else if v(b"AUTH") || v(b"X-EXPS") {
                self.auth(args);
            } else if v(b"DATA") {
                self.data();
            } else if v(b"BDAT") || v(b"XEXCH50") {
                // RFC 3030 §2: "BDAT" SP size [SP "LAST"], then size bytes of message.
                // XEXCH50 (Exchange 2000-2007) sends its size bytes after a 354.
                let size = word(args).0;
                let Some(n) = std::str::from_utf8(size)
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                else {
                    self.lost = true;
                    return;
                };
                if v(b"XEXCH50") && self.reply().is_some_and(|r| r.code != 354) {
                    continue;
                }
                if !self.cl.skip_bytes(n) {
                    return;
                }
                self.reply();
            } else {
                if v(b"MAIL") {
                    self.smtp.mail_from = self.smtp.mail_from.saturating_add(1);
                } else if v(b"RCPT") {
                    self.smtp.rcpt_to = self.smtp.rcpt_to.saturating_add(1);
                } else if v(b"QUIT") {
                    self.quit = true;
                }
                self.reply();
                if self.quit {
                    return;
                }
            }
        }
    }
}

/// Whether a client line starts with a command verb this inspector knows.
fn is_command(line: &[u8]) -> bool {
    const VERBS: &[&[u8]] = &[
        b"EHLO",
        b"HELO",
        b"LHLO",
        b"MAIL",
        b"RCPT",
        b"DATA",
        b"BDAT",
        b"RSET",
        b"NOOP",
        b"QUIT",
        b"VRFY",
        b"EXPN",
        b"HELP",
        b"AUTH",
        b"STARTTLS",
        b"X-ANONYMOUSTLS",
        b"X-EXPS",
    ];
    let (verb, _) = word(trim(line));
    VERBS.iter().any(|v| verb.eq_ignore_ascii_case(v))
}

/// Whether the flow carries SMTP and, if it does, the evidence it gives. Answers `false` in a
/// few byte comparisons for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if !claims(input) {
        return false;
    }
    ev.service = Some(Service::Smtp);
    let mut d = Dialogue {
        input,
        ev,
        smtp: Smtp::default(),
        cl: Lines::new(input.client),
        sv: Lines::new(input.server),
        offer: Offer::default(),
        clear: false,
        lost: false,
        quit: false,
    };
    d.run();
    let smtp = std::mem::take(&mut d.smtp);
    let ev = d.ev;
    // Ran in clear: a transaction or QUIT was seen, or the whole client side was read as SMTP
    // and nothing switched.
    let clear = d.clear || d.quit || read_whole(d.input, &d.cl, d.lost);
    ev.protection = match (smtp.starttls, smtp.anonymous_tls) {
        (_, Some(UpgradeResult::Accepted)) => Protection::AnonymousTls,
        (Some(UpgradeResult::Accepted), _) => Protection::Starttls,
        (Some(UpgradeResult::Unanswered), _) | (_, Some(UpgradeResult::Unanswered)) => {
            Protection::UpgradeUnconfirmed
        }
        _ => UpgradeResult::protection(None, clear),
    };
    ev.detail = super::Detail::Smtp(Box::new(smtp));
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
    use crate::inspect::{MAX_AUTH, Mechanism};

    const BANNER: &str = "220 mail.contoso.com Microsoft ESMTP MAIL Service ready\r\n";
    const EHLO_TLS: &str = "250-mail.contoso.com Hello [10.0.0.5]\r\n250-SIZE 37748736\r\n\
        250-PIPELINING\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM LOGIN\r\n\
        250-X-EXPS GSSAPI NTLM\r\n250 CHUNKING\r\n";
    const EHLO_PLAIN: &str =
        "250-mail.contoso.com Hello\r\n250-SIZE 1000\r\n250-AUTH=LOGIN PLAIN\r\n250 8BITMIME\r\n";

    fn run(client: &[u8], server: &[u8]) -> Option<Evidence> {
        let mut ev = Evidence::default();
        inspect(&input(client, server), &mut ev).then_some(ev)
    }

    fn smtp(ev: &Evidence) -> &Smtp {
        match &ev.detail {
            super::super::Detail::Smtp(s) => s,
            d => panic!("not SMTP: {d:?}"),
        }
    }

    fn conv(parts: &[&str]) -> Vec<u8> {
        parts.concat().into_bytes()
    }

    /// A submission client that logs in with AUTH LOGIN in clear and sends a message.
    fn auth_login() -> (Vec<u8>, Vec<u8>) {
        let client = conv(&[
            "EHLO ws01\r\n",
            "AUTH LOGIN\r\n",
            &b64(b"alice@contoso.com"),
            "\r\n",
            &b64(b"Tr0ub4dor&3"),
            "\r\n",
            "MAIL FROM:<alice@contoso.com>\r\n",
            "RCPT TO:<bob@contoso.com>\r\n",
            "DATA\r\n",
            "Subject: hi\r\n\r\nSTARTTLS\r\nAUTH PLAIN x\r\n..dot\r\n.\r\n",
            "QUIT\r\n",
        ]);
        let server = conv(&[
            BANNER,
            EHLO_PLAIN,
            "334 VXNlcm5hbWU6\r\n",
            "334 UGFzc3dvcmQ6\r\n",
            "235 2.7.0 Authentication successful\r\n",
            "250 2.1.0 Sender OK\r\n",
            "250 2.1.5 Recipient OK\r\n",
            "354 Start mail input\r\n",
            "250 2.6.0 Queued mail for delivery\r\n",
            "221 2.0.0 Closing\r\n",
        ]);
        (client, server)
    }

    fn starttls() -> (Vec<u8>, Vec<u8>) {
        let client = conv(&["EHLO hub01.contoso.com\r\n", "STARTTLS\r\n"]);
        let mut client = client;
        client.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0]);
        let mut server = conv(&[BANNER, EHLO_TLS, "220 2.0.0 SMTP server ready\r\n"]);
        server.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x02, 2, 0]);
        (client, server)
    }

    #[test]
    fn auth_login_in_clear_keeps_the_user_and_never_the_password() {
        let (c, s) = auth_login();
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.service, Some(Service::Smtp));
        assert_eq!(ev.protection, Protection::Clear);
        assert_eq!(ev.auth.len(), 1);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Login);
        assert!(a.clear_credentials);
        assert_eq!(a.outcome, Outcome::Success);
        assert_eq!(a.user.as_deref(), Some("alice@contoso.com"));
        let d = smtp(&ev);
        assert_eq!(d.helo.as_deref(), Some("ws01"));
        assert_eq!(d.auth_mechanisms, ["LOGIN", "PLAIN"]);
        assert_eq!((d.mail_from, d.rcpt_to), (1, 1));
        assert_eq!(
            d.banner.as_deref(),
            Some("mail.contoso.com Microsoft ESMTP MAIL Service ready")
        );
        // STARTTLS inside the message body is content, not a command.
        assert_eq!(d.starttls, None);
        assert!(ev.facts.is_empty(), "{:?}", ev.facts);
        assert_eq!(d.last_reply.as_deref(), Some("221 2.0.0 Closing"));
        assert_no_secret(&render(&ev), "alice@contoso.com", "Tr0ub4dor&3");
    }

    #[test]
    fn auth_plain_initial_response() {
        let ir = b64(b"\0carol\0Corr3ct-H0rse");
        let c = conv(&["EHLO x\r\n", "AUTH PLAIN ", &ir, "\r\n", "QUIT\r\n"]);
        let s = conv(&[
            BANNER,
            EHLO_PLAIN,
            "535 5.7.3 Authentication unsuccessful\r\n",
            "221 bye\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Plain);
        assert_eq!(a.user.as_deref(), Some("carol"));
        assert!(a.clear_credentials);
        assert_eq!(a.outcome, Outcome::Failure);
        assert_eq!(ev.protection, Protection::Clear);
        assert_no_secret(&render(&ev), "carol", "Corr3ct-H0rse");
    }

    #[test]
    fn auth_plain_after_a_challenge() {
        let c = conv(&[
            "EHLO x\r\n",
            "AUTH PLAIN\r\n",
            &b64(b"\0dave\0pw-dave-9"),
            "\r\n",
        ]);
        let s = conv(&[BANNER, EHLO_PLAIN, "334 \r\n", "235 ok\r\n"]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("dave"));
        assert!(ev.auth[0].clear_credentials);
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
        assert_no_secret(&render(&ev), "dave", "pw-dave-9");
    }

    #[test]
    fn auth_login_without_the_server_side_is_clear_and_names_nobody() {
        // The prompts are not in the prefix, so which line is the password is not known.
        let (c, _) = auth_login();
        let ev = run(&c, b"").unwrap();
        let a = &ev.auth[0];
        assert_eq!(a.user, None);
        assert!(a.clear_credentials);
        assert_eq!(a.outcome, Outcome::Unknown);
        assert_eq!(smtp(&ev).mail_from, 1);
        assert_no_secret(&render(&ev), "alice@contoso.com", "Tr0ub4dor&3");
    }

    #[test]
    fn auth_plain_with_two_fields_names_nobody_and_is_clear() {
        let s = conv(&[BANNER, EHLO_PLAIN, "235 ok\r\n"]);
        // The near miss: three fields name the authcid.
        let c = conv(&[
            "EHLO x\r\nAUTH PLAIN ",
            &b64(b"\0carol\0Smtp-Tw0-F1elds"),
            "\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("carol"));
        assert!(ev.auth[0].clear_credentials);
        // "user NUL password", the password alone, four fields: nobody, and still clear.
        for message in [
            &b"carol\0Smtp-Tw0-F1elds"[..],
            b"Smtp-Tw0-F1elds",
            b"a\0carol\0Smtp-Tw0-F1elds\0b",
        ] {
            let c = conv(&["EHLO x\r\nAUTH PLAIN ", &b64(message), "\r\n"]);
            let ev = run(&c, &s).unwrap();
            let a = &ev.auth[0];
            assert_eq!(a.mechanism, Mechanism::Plain);
            assert_eq!(a.user, None, "{message:?}");
            assert!(a.clear_credentials, "{message:?}");
            assert_eq!(a.outcome, Outcome::Success);
            assert_no_secret(&render(&ev), "carol", "Smtp-Tw0-F1elds");
            // The same after a challenge.
            let c = conv(&["EHLO x\r\nAUTH PLAIN\r\n", &b64(message), "\r\n"]);
            let s = conv(&[BANNER, EHLO_PLAIN, "334 \r\n", "235 ok\r\n"]);
            let ev = run(&c, &s).unwrap();
            assert_eq!(ev.auth[0].user, None, "{message:?}");
            assert!(ev.auth[0].clear_credentials, "{message:?}");
            assert_no_secret(&render(&ev), "carol", "Smtp-Tw0-F1elds");
        }
    }

    #[test]
    fn auth_login_reads_the_password_by_its_prompt() {
        let user = b64(b"alice@contoso.com");
        let pass = b64(b"Pw-F1rst-Smtp");
        let c = conv(&["EHLO x\r\nAUTH LOGIN\r\n", &pass, "\r\n", &user, "\r\n"]);
        // The server asks for the password first: the first answer is the secret.
        let s = conv(&[
            BANNER,
            EHLO_PLAIN,
            "334 UGFzc3dvcmQ6\r\n334 VXNlcm5hbWU6\r\n235 ok\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        let a = &ev.auth[0];
        assert_eq!(a.user.as_deref(), Some("alice@contoso.com"));
        assert!(a.clear_credentials);
        assert_no_secret(&render(&ev), "alice@contoso.com", "Pw-F1rst-Smtp");
        // Prompts that name neither: nobody.
        let s = conv(&[BANNER, EHLO_PLAIN, "334 \r\n334 \r\n235 ok\r\n"]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "alice@contoso.com", "Pw-F1rst-Smtp");
        // The user name with the command (MS-XLOGIN), then the password prompt.
        let c = conv(&["EHLO x\r\nAUTH LOGIN ", &user, "\r\n", &pass, "\r\n"]);
        let s = conv(&[BANNER, EHLO_PLAIN, "334 UGFzc3dvcmQ6\r\n235 ok\r\n"]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("alice@contoso.com"));
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "alice@contoso.com", "Pw-F1rst-Smtp");
    }

    #[test]
    fn cram_md5_digest_alone_names_nobody() {
        let digest = "b913a602c7eda7a495b4e6e7334d3890";
        let s = conv(&[BANNER, EHLO_PLAIN, "334 PDEuMkBoPg==\r\n235 ok\r\n"]);
        let named = format!("tim {digest}");
        let c = conv(&[
            "EHLO x\r\nAUTH CRAM-MD5\r\n",
            &b64(named.as_bytes()),
            "\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::CramMd5);
        assert_eq!(ev.auth[0].user.as_deref(), Some("tim"));
        assert!(!ev.auth[0].clear_credentials);
        let c = conv(&[
            "EHLO x\r\nAUTH CRAM-MD5\r\n",
            &b64(digest.as_bytes()),
            "\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.auth[0].user, None);
        assert!(!ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "tim", digest);
    }

    #[test]
    fn starttls_accepted_sets_the_upgrade_offsets() {
        let (c, s) = starttls();
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.protection, Protection::Starttls);
        let up = ev.upgrade.unwrap();
        assert_eq!(c.get(up.client_at), Some(&0x16));
        assert_eq!(s.get(up.server_at), Some(&0x16));
        assert!(!up.anonymous);
        let d = smtp(&ev);
        assert!(d.starttls_offered && d.anonymous_tls_offered);
        assert_eq!(d.starttls, Some(UpgradeResult::Accepted));
        assert_eq!(d.exps_mechanisms, ["GSSAPI", "NTLM"]);
        assert_eq!(d.auth_mechanisms, ["NTLM", "LOGIN"]);
        assert!(d.capabilities.iter().any(|c| c == "CHUNKING"));
        assert!(ev.facts.is_empty());
    }

    #[test]
    fn anonymous_tls_between_transport_servers() {
        let c = conv(&["EHLO edge01\r\n", "X-ANONYMOUSTLS\r\n", "\x16\x03\x01"]);
        let s = conv(&[BANNER, EHLO_TLS, "220 2.0.0 SMTP server ready\r\n"]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.protection, Protection::AnonymousTls);
        let up = ev.upgrade.unwrap();
        assert!(up.anonymous);
        assert_eq!(up.server_at, s.len());
        assert_eq!(smtp(&ev).anonymous_tls, Some(UpgradeResult::Accepted));
    }

    #[test]
    fn starttls_refused_then_mail_in_clear() {
        let c = conv(&["EHLO x\r\n", "STARTTLS\r\n", "MAIL FROM:<a@b>\r\n"]);
        let s = conv(&[
            BANNER,
            EHLO_TLS,
            "454 4.7.0 TLS not available\r\n",
            "250 ok\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        assert!(ev.facts.has(Fact::StarttlsRefused));
        assert!(!ev.facts.has(Fact::StarttlsOfferedNotUsed));
        assert_eq!(ev.protection, Protection::Clear);
        assert_eq!(ev.upgrade, None);
        assert_eq!(smtp(&ev).starttls, Some(UpgradeResult::Refused));
    }

    #[test]
    fn starttls_without_its_answer_is_unconfirmed() {
        let c = conv(&["EHLO x\r\n", "STARTTLS\r\n"]);
        let s = conv(&[BANNER, EHLO_TLS]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.protection, Protection::UpgradeUnconfirmed);
        assert_eq!(ev.upgrade, None);
        assert_eq!(smtp(&ev).starttls, Some(UpgradeResult::Unanswered));
    }

    #[test]
    fn starttls_offered_and_not_used() {
        let c = conv(&["EHLO x\r\n", "MAIL FROM:<a@b>\r\n"]);
        let s = conv(&[BANNER, EHLO_TLS, "250 ok\r\n"]);
        let ev = run(&c, &s).unwrap();
        assert!(ev.facts.has(Fact::StarttlsOfferedNotUsed));
        assert_eq!(ev.protection, Protection::Clear);
    }

    #[test]
    fn starttls_offered_near_misses() {
        // The client's bytes stop after EHLO: what it did next is not known.
        let c = conv(&["EHLO x\r\n"]);
        let s = conv(&[BANNER, EHLO_TLS]);
        let mut ev = Evidence::default();
        let mut inp = input(&c, &s);
        inp.client_cut = true;
        assert!(inspect(&inp, &mut ev));
        assert!(ev.facts.is_empty());
        assert_eq!(ev.protection, Protection::Unknown);
        // A half-sent MAIL line is not a command.
        let c = conv(&["EHLO x\r\n", "MAIL FR"]);
        let ev = run(&c, &s).unwrap();
        assert!(ev.facts.is_empty());
        // NOOP and QUIT do not carry on in clear.
        let c = conv(&["EHLO x\r\n", "NOOP\r\n", "QUIT\r\n"]);
        let s2 = conv(&[BANNER, EHLO_TLS, "250 ok\r\n", "221 bye\r\n"]);
        let ev = run(&c, &s2).unwrap();
        assert!(ev.facts.is_empty());
        assert_eq!(ev.protection, Protection::Clear);
    }

    #[test]
    fn masked_starttls_capability() {
        for masked in ["XXXXXXXA", "XXXXXXXB", "XXXXXXXX", "********"] {
            let s = format!("{BANNER}250-mx Hello\r\n250-{masked}\r\n250 8BITMIME\r\n250 ok\r\n");
            let c = conv(&["EHLO x\r\n", "MAIL FROM:<a@b>\r\n"]);
            let ev = run(&c, s.as_bytes()).unwrap();
            assert!(ev.facts.has(Fact::StarttlsMasked), "{masked}");
            assert!(smtp(&ev).starttls_masked);
            assert!(!smtp(&ev).starttls_offered);
        }
        // Near misses: other lengths, other letters, a real capability.
        for other in ["XXXXXXXXXX", "XXXXXXA", "XXXXXXAA", "X-EXPS", "XXXXXXX1"] {
            let s = format!("{BANNER}250-mx Hello\r\n250 {other}\r\n");
            let ev = run(b"EHLO x\r\n", s.as_bytes()).unwrap();
            assert!(!ev.facts.has(Fact::StarttlsMasked), "{other}");
        }
    }

    #[test]
    fn masked_banner() {
        let s = b"220 ******************************0*0*****0**0*****\r\n";
        let ev = run(b"EHLO x\r\n", s).unwrap();
        assert!(smtp(&ev).banner_masked);
        let ev = run(b"EHLO x\r\n", BANNER.as_bytes()).unwrap();
        assert!(!smtp(&ev).banner_masked);
    }

    #[test]
    fn auth_ntlm_blobs_go_to_the_ntlm_parser() {
        let c = conv(&[
            "EHLO x\r\n",
            "AUTH NTLM ",
            &b64(&ntlm_negotiate()),
            "\r\n",
            &b64(&ntlm_authenticate("CONTOSO", "svc-relay", "HUB01", 24)),
            "\r\n",
        ]);
        let s = conv(&[
            BANNER,
            EHLO_TLS,
            "334 ",
            &b64(&ntlm_challenge("CONTOSO")),
            "\r\n",
            "235 2.7.0 Authentication successful\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Ntlm);
        assert_eq!(a.user.as_deref(), Some("svc-relay"));
        assert_eq!(a.domain.as_deref(), Some("CONTOSO"));
        assert_eq!(a.outcome, Outcome::Success);
        assert!(!a.clear_credentials);
        assert!(ev.facts.has(Fact::NtlmV1));
        assert!(ev.facts.has(Fact::StarttlsOfferedNotUsed));
        // NTLMv2 (a long NT response) is not v1.
        let c2 = conv(&[
            "EHLO x\r\n",
            "AUTH NTLM ",
            &b64(&ntlm_authenticate("CONTOSO", "u", "h", 80)),
            "\r\n",
        ]);
        let ev = run(&c2, BANNER.as_bytes()).unwrap();
        assert!(!ev.facts.has(Fact::NtlmV1));
    }

    #[test]
    fn x_exps_gssapi_with_kerberos() {
        let c = conv(&[
            "EHLO x\r\n",
            "X-EXPS GSSAPI ",
            &b64(&kerberos_token()),
            "\r\n",
        ]);
        let s = conv(&[BANNER, EHLO_TLS, "235 2.7.0 ok\r\n"]);
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Gssapi);
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
        assert_eq!(ev.protection, Protection::Clear);
    }

    #[test]
    fn other_mechanisms() {
        let oauth = b64(b"user=erin@contoso.com\x01auth=Bearer eyJtoken\x01\x01");
        let cases: [(&str, String, Mechanism, bool); 4] = [
            ("XOAUTH2", oauth, Mechanism::Bearer, true),
            ("CRAM-MD5", String::new(), Mechanism::CramMd5, false),
            ("EXTERNAL", "=".into(), Mechanism::External, false),
            ("X-WEIRD", String::new(), Mechanism::Other, false),
        ];
        for (mech, ir, want, clear) in cases {
            let c = format!("EHLO x\r\nAUTH {mech} {ir}\r\nQUIT\r\n");
            let s = format!("{BANNER}{EHLO_PLAIN}235 ok\r\n221 bye\r\n");
            let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
            assert_eq!(ev.auth[0].mechanism, want, "{mech}");
            assert_eq!(ev.auth[0].clear_credentials, clear, "{mech}");
        }
        let c = b"EHLO x\r\nAUTH XOAUTH2 dXNlcj1lcmluAWF1dGg9QmVhcmVyIGV5SnRva2VuAQE=\r\n";
        let ev = run(c, BANNER.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("erin"));
        assert!(!render(&ev).contains("eyJtoken"));
    }

    #[test]
    fn helo_pipelining_bdat_and_quit() {
        let c = conv(&[
            "HELO old.example\r\n",
            "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nBDAT 12 LAST\r\n",
            "STARTTLS\r\n\r\n",
            "QUIT\r\n",
        ]);
        let s = conv(&[
            BANNER,
            "250 hi\r\n",
            "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n221 bye\r\n",
        ]);
        let ev = run(&c, &s).unwrap();
        let d = smtp(&ev);
        assert_eq!(d.helo.as_deref(), Some("old.example"));
        assert_eq!(d.rcpt_to, 2);
        // The 12 bytes after BDAT are message content, not a STARTTLS.
        assert_eq!(d.starttls, None);
        assert_eq!(d.last_reply.as_deref(), Some("221 bye"));
        assert_eq!(ev.protection, Protection::Clear);
    }

    #[test]
    fn tls_client_hello_to_an_smtp_banner() {
        let c = [0x16, 0x03, 0x01, 0x00, 0x2a, 0x01, 0x00];
        let s = b"220 poczta.example.pl ESMTP\r\n";
        let ev = run(&c, s).unwrap();
        assert_eq!(smtp(&ev).banner.as_deref(), Some("poczta.example.pl ESMTP"));
        assert_eq!(ev.protection, Protection::Unknown);
        assert!(ev.auth.is_empty());
        // The banner alone, with no client bytes.
        let ev = run(b"", s).unwrap();
        assert_eq!(ev.protection, Protection::Unknown);
    }

    #[test]
    fn not_smtp() {
        // FTP greets with 220 too.
        assert!(
            run(
                b"USER anonymous\r\n",
                b"220 ProFTPD 1.3.5 Server ready.\r\n"
            )
            .is_none()
        );
        assert!(run(b"", b"220 ProFTPD 1.3.5 Server ready.\r\n").is_none());
        assert!(run(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n").is_none());
        assert!(run(b"EHLOX\r\n", b"").is_none());
        assert!(run(b"EHL", b"").is_none());
        assert!(run(b"", b"2200 SMTP").is_none());
        assert!(run(b"", b"").is_none());
        assert!(run(b"a001 CAPABILITY\r\n", b"* OK IMAP4rev1\r\n").is_none());
    }

    #[test]
    fn every_cut_of_a_login_gives_a_sensible_answer() {
        let (c, s) = auth_login();
        let pass_end = {
            let p = b64(b"Tr0ub4dor&3");
            c.windows(p.len()).position(|w| w == p.as_bytes()).unwrap() + p.len() + 2
        };
        for cut in 0..=c.len() {
            let mut inp = input(&c[..cut], &s);
            inp.client_cut = cut < c.len();
            let mut ev = Evidence::default();
            let mine = inspect(&inp, &mut ev);
            assert_eq!(mine, cut >= 5 || !s.is_empty(), "cut {cut}");
            let clear = ev.auth.first().is_some_and(|a| a.clear_credentials);
            assert_eq!(clear, cut >= pass_end, "cut {cut}");
            assert_ne!(ev.protection, Protection::Starttls);
            assert_no_secret(&render(&ev), "alice@contoso.com", "Tr0ub4dor&3");
        }
        for cut in 0..=s.len() {
            let mut inp = input(&c, &s[..cut]);
            inp.server_cut = cut < s.len();
            let mut ev = Evidence::default();
            assert!(inspect(&inp, &mut ev));
            assert_eq!(ev.protection, Protection::Clear, "cut {cut}");
            assert!(ev.auth[0].clear_credentials);
        }
    }

    #[test]
    fn every_cut_of_a_starttls_never_claims_an_unseen_upgrade() {
        let (c, s) = starttls();
        let ready = s.windows(5).position(|w| w == b"220 2").unwrap();
        let ready_end = ready + "220 2.0.0 SMTP server ready\r\n".len();
        for cut in 0..=s.len() {
            let mut ev = Evidence::default();
            let mut inp = input(&c, &s[..cut]);
            inp.server_cut = cut < s.len();
            assert!(inspect(&inp, &mut ev));
            if cut >= ready_end {
                assert_eq!(ev.protection, Protection::Starttls, "cut {cut}");
                assert_eq!(ev.upgrade.unwrap().server_at, ready_end);
            } else {
                assert_eq!(ev.upgrade, None, "cut {cut}");
                assert_ne!(ev.protection, Protection::Starttls, "cut {cut}");
                assert_ne!(ev.protection, Protection::Clear, "cut {cut}");
            }
        }
        for cut in 0..=c.len() {
            let mut ev = Evidence::default();
            let mut inp = input(&c[..cut], &s);
            inp.client_cut = cut < c.len();
            assert!(inspect(&inp, &mut ev));
            assert_ne!(ev.protection, Protection::Clear, "cut {cut}");
            assert!(!ev.facts.has(Fact::StarttlsOfferedNotUsed), "cut {cut}");
        }
    }

    #[test]
    #[ignore = "writes fuzz/corpus/inspect_smtp: cargo test --lib -- --ignored write_fuzz_seeds"]
    fn write_fuzz_seeds() {
        let (login_c, login_s) = auth_login();
        let (tls_c, tls_s) = starttls();
        let ntlm = conv(&[
            "EHLO x\r\nAUTH NTLM ",
            &b64(&ntlm_negotiate()),
            "\r\n",
            &b64(&ntlm_authenticate("CONTOSO", "svc", "HUB01", 24)),
            "\r\n",
        ]);
        let ntlm_s = conv(&[
            BANNER,
            EHLO_TLS,
            "334 ",
            &b64(&ntlm_challenge("CONTOSO")),
            "\r\n235 ok\r\n",
        ]);
        let masked = conv(&[BANNER, "250-mx\r\n250-XXXXXXXA\r\n250 ok\r\n250 ok\r\n"]);
        let login_pw_first = conv(&[
            "EHLO x\r\nAUTH LOGIN\r\n",
            &b64(b"pw"),
            "\r\n",
            &b64(b"u"),
            "\r\nAUTH PLAIN ",
            &b64(b"u\0pw"),
            "\r\nAUTH CRAM-MD5\r\n",
            &b64(b"u b913a602c7eda7a495b4e6e7334d3890"),
            "\r\n",
        ]);
        let login_pw_first_s = conv(&[
            BANNER,
            EHLO_PLAIN,
            "334 UGFzc3dvcmQ6\r\n334 VXNlcm5hbWU6\r\n535 no\r\n235 ok\r\n",
            "334 PDEuMkBoPg==\r\n235 ok\r\n",
        ]);
        write_seeds(
            "inspect_smtp",
            &[
                ("auth-login", 0, login_c, login_s),
                ("starttls", 0, tls_c, tls_s),
                ("auth-ntlm", 0, ntlm, ntlm_s),
                (
                    "auth-login-password-first",
                    0,
                    login_pw_first,
                    login_pw_first_s,
                ),
                (
                    "masked",
                    1,
                    b"EHLO x\r\nMAIL FROM:<a@b>\r\n".to_vec(),
                    masked,
                ),
                (
                    "anonymous-tls",
                    2,
                    b"EHLO e\r\nX-ANONYMOUSTLS\r\n".to_vec(),
                    conv(&[BANNER, EHLO_TLS, "220 go\r\n"]),
                ),
                (
                    "bdat-xexch50",
                    0,
                    b"EHLO e\r\nBDAT 3\r\nabcXEXCH50 2 2\r\nzzDATA\r\nx\r\n.\r\nQUIT\r\n".to_vec(),
                    conv(&[
                        BANNER,
                        "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n354 go\r\n250 ok\r\n",
                    ]),
                ),
            ],
        );
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_stay_bounded(
            client in proptest::collection::vec(any::<u8>(), 0..600),
            server in proptest::collection::vec(any::<u8>(), 0..600),
            cut in any::<bool>(),
        ) {
            let mut inp = input(&client, &server);
            inp.client_cut = cut;
            let mut ev = Evidence::default();
            let _ = inspect(&inp, &mut ev);
            prop_assert!(ev.auth.len() <= MAX_AUTH);
            if let super::super::Detail::Smtp(d) = &ev.detail {
                prop_assert!(d.capabilities.len() <= MAX_CAPABILITIES);
                prop_assert!(d.auth_mechanisms.len() <= MAX_MECHANISMS);
                prop_assert!(d.banner.as_ref().is_none_or(|b| b.len() <= crate::inspect::MAX_TEXT));
            }
        }

        #[test]
        fn smtp_lines_of_any_kind_never_panic(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("EHLO x".to_owned()), Just("AUTH LOGIN".to_owned()),
                    Just("AUTH NTLM".to_owned()), Just("STARTTLS".to_owned()),
                    Just("DATA".to_owned()), Just(".".to_owned()), Just("BDAT 99999".to_owned()),
                    Just("XEXCH50 3 2".to_owned()), Just("334 TlRMTVNTUAACAAAA".to_owned()),
                    Just("250-STARTTLS".to_owned()), Just("250-XXXXXXXA".to_owned()),
                    Just("235 ok".to_owned()), Just("354 go".to_owned()), Just("220 ok".to_owned()),
                    "[ -~]{0,20}",
                ],
                0..30,
            ),
            split in 0usize..30,
        ) {
            let (c, s) = lines.split_at(split.min(lines.len()));
            let c = c.join("\r\n");
            let s = format!("{BANNER}{}", s.join("\r\n"));
            let c = format!("EHLO a\r\n{c}");
            let mut ev = Evidence::default();
            let mine = inspect(&input(c.as_bytes(), s.as_bytes()), &mut ev);
            prop_assert!(mine);
            prop_assert!(ev.auth.len() <= MAX_AUTH);
        }
    }
}
