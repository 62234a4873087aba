//! POP3 (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH): the greeting, the
//! capabilities (STLS, SASL …), whether the conversation switched to TLS, and how the client
//! logged in (USER/PASS, APOP, or AUTH with a SASL mechanism), with the answer as the outcome.
//!
//! Our own parser: no maintained crate parses a POP3 dialogue for inspection. POP3 answers each
//! command in turn with `+OK` or `-ERR`, some of them followed by lines up to a lone `.`
//! (RFC 1939 §3), so the client's commands and the server's answers are paired in order.

#![deny(clippy::indexing_slicing)]

use serde::Serialize;

use super::line::{
    Lines, Offer, Sasl, Step, is_token, push_capped, read_whole, starts_ci, trim, word,
};
use super::smtp::UpgradeResult;
use super::wire_text;
use super::{AuthSeen, Detail, Evidence, Input, Mechanism, Outcome, Service};

/// Most capability lines kept (servers list about ten).
const MAX_CAPABILITIES: usize = 24;
/// Most SASL mechanisms kept.
const MAX_MECHANISMS: usize = 12;
/// The POP3 port (RFC 1939 §3). Only breaks a tie: a client that opens with `USER` and a server
/// that said nothing could be FTP as well.
const POP3_PORT: u16 = 110;

/// What the POP3 conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Pop3 {
    /// The greeting's text after `+OK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// The greeting carries an APOP timestamp (`<…@…>`, RFC 1939 §7).
    #[serde(skip_serializing_if = "is_false")]
    pub apop_offered: bool,
    /// The CAPA answer's lines, as offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Mechanisms of the `SASL` capability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sasl_mechanisms: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub stls_offered: bool,
    /// The client sent STLS, and this is what came of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stls: Option<UpgradeResult>,
    /// Commands read in clear.
    pub commands: u32,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A status line: `+OK`, `-ERR`, or a SASL continuation `+ ` (RFC 5034 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    Err,
    More,
}

fn status(line: &[u8]) -> Option<(Status, &[u8])> {
    if starts_ci(line, b"+OK") {
        return Some((Status::Ok, trim(line.get(3..).unwrap_or(&[]))));
    }
    if starts_ci(line, b"-ERR") {
        return Some((Status::Err, trim(line.get(4..).unwrap_or(&[]))));
    }
    if line == b"+" || line.starts_with(b"+ ") {
        return Some((Status::More, line.get(2..).unwrap_or(&[])));
    }
    None
}

/// Whether the flow is POP3: the server greets with `+OK`, or (the server silent) the client's
/// first line is a command that opens a POP3 session.
fn claims(input: &Input<'_>) -> bool {
    let s = input.server;
    if !s.is_empty() {
        return starts_ci(s, b"+OK") && s.get(3).is_none_or(|&b| matches!(b, b' ' | b'\r' | b'\n'));
    }
    let c = input.client;
    let verb = c
        .iter()
        .take(5)
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .and_then(|n| c.get(..n))
        .unwrap_or(&[]);
    let is = |v: &[u8]| verb.eq_ignore_ascii_case(v);
    is(b"CAPA") || is(b"STLS") || is(b"APOP") || (is(b"USER") && input.server_port == POP3_PORT)
}

struct Session<'a, 'e> {
    input: &'a Input<'a>,
    ev: &'e mut Evidence,
    pop: Pop3,
    cl: Lines<'a>,
    sv: Lines<'a>,
    offer: Offer,
    clear: bool,
    lost: bool,
    quit: bool,
    /// The name of the last USER command.
    user: Option<&'a [u8]>,
}

impl<'a> Session<'a, '_> {
    /// The next status line, with its end offset.
    fn answer(&mut self) -> Option<(Status, &'a [u8], usize)> {
        let l = self.sv.next()?;
        let (s, text) = status(l.text)?;
        Some((s, text, l.end))
    }

    /// The lines of a multi-line answer, up to the lone `.`, each handed to `each` with its
    /// byte-stuffing removed.
    fn lines(&mut self, mut each: impl FnMut(&mut Self, &'a [u8])) {
        while let Some(l) = self.sv.next() {
            if l.text == b"." {
                return;
            }
            let t = l.text.strip_prefix(b".").unwrap_or(l.text);
            each(self, t);
        }
    }

    fn capability(&mut self, cap: &'a [u8]) {
        let cap = trim(cap);
        if cap.is_empty() {
            return;
        }
        push_capped(&mut self.pop.capabilities, wire_text(cap), MAX_CAPABILITIES);
        let (keyword, params) = word(cap);
        if keyword.eq_ignore_ascii_case(b"STLS") {
            self.pop.stls_offered = true;
            self.offer.offered();
        } else if keyword.eq_ignore_ascii_case(b"SASL") {
            for m in params.split(|&b| b == b' ').filter(|m| is_token(m)) {
                push_capped(&mut self.pop.sasl_mechanisms, wire_text(m), MAX_MECHANISMS);
            }
        }
    }

    fn greeting(&mut self) {
        if let Some((Status::Ok, text, _)) = self.answer() {
            self.pop.greeting = Some(wire_text(text));
            self.pop.apop_offered = text.contains(&b'<') && text.contains(&b'@');
        }
    }

    fn step(verb: &[u8]) -> Step {
        let is = |names: &[&[u8]]| names.iter().any(|n| verb.eq_ignore_ascii_case(n));
        if is(&[b"CAPA", b"NOOP"]) {
            Step::Neutral
        } else if is(&[b"STLS"]) {
            Step::Upgrade
        } else if is(&[b"QUIT"]) {
            Step::Leave
        } else {
            Step::Other
        }
    }

    fn outcome(a: Option<(Status, &[u8], usize)>) -> Outcome {
        match a {
            Some((Status::Ok, ..)) => Outcome::Success,
            Some(_) => Outcome::Failure,
            None => Outcome::Unknown,
        }
    }

    fn run(&mut self) {
        self.greeting();
        while let Some(cmd) = self.cl.next() {
            let (verb, args) = word(trim(cmd.text));
            if !is_token(verb) || verb.len() > 8 {
                self.lost = true;
                return;
            }
            self.pop.commands = self.pop.commands.saturating_add(1);
            let step = Self::step(verb);
            self.offer.step(step, self.ev);
            if step != Step::Neutral && step != Step::Upgrade {
                self.clear = true;
            }
            let v = |name: &[u8]| verb.eq_ignore_ascii_case(name);
            let answer = if v(b"AUTH") && !args.is_empty() {
                self.auth(args);
                continue;
            } else {
                self.answer()
            };
            let ok = matches!(answer, Some((Status::Ok, ..)));
            if v(b"STLS") {
                let answer = answer.map(|(status, _, end)| (status == Status::Ok).then_some(end));
                let result = UpgradeResult::settle(self.ev, answer, cmd.end, false);
                self.pop.stls = Some(result);
                if result != UpgradeResult::Refused {
                    return;
                }
            } else if v(b"CAPA") {
                if ok {
                    self.lines(Self::capability);
                }
            } else if v(b"USER") {
                // RFC 1939 §3 and §7: "USER name", one argument, and arguments never hold a
                // space. A line with more is not that command, and may hold the password.
                let name = trim(args);
                self.user = Some(name).filter(|n| !n.is_empty() && !n.contains(&b' '));
            } else if v(b"PASS") {
                // RFC 1939 §7: the password in clear.
                let mut seen = AuthSeen::new(Mechanism::Password);
                seen.user = self.user.map(wire_text);
                seen.clear_credentials = true;
                seen.outcome = Self::outcome(answer);
                self.ev.push_auth(seen);
            } else if v(b"APOP") {
                // RFC 1939 §7: APOP name digest, an MD5 challenge-response. Only the first of
                // exactly two arguments is the name: a digest alone names nobody.
                let mut seen = AuthSeen::new(Mechanism::Apop);
                let (name, digest) = word(args);
                let well_formed = !digest.is_empty() && !trim(digest).contains(&b' ');
                seen.user = Some(name)
                    .filter(|n| well_formed && !n.is_empty())
                    .map(wire_text);
                seen.outcome = Self::outcome(answer);
                self.ev.push_auth(seen);
            } else if v(b"AUTH") {
                // RFC 5034 §4 without a mechanism: the mechanisms, one per line.
                if ok {
                    self.lines(|s, m| {
                        if is_token(trim(m)) {
                            push_capped(
                                &mut s.pop.sasl_mechanisms,
                                wire_text(trim(m)),
                                MAX_MECHANISMS,
                            );
                        }
                    });
                }
            } else if ok
                && (v(b"RETR") || v(b"TOP") || ((v(b"LIST") || v(b"UIDL")) && args.is_empty()))
            {
                self.lines(|_, _| ());
            } else if v(b"QUIT") {
                self.quit = true;
                return;
            }
        }
    }

    /// AUTH mechanism [initial-response] (RFC 5034 §4): `+ ` challenges and client responses
    /// until `+OK` or `-ERR`.
    fn auth(&mut self, args: &'a [u8]) {
        let (mech, initial) = word(args);
        let initial = Some(trim(initial)).filter(|i| !i.is_empty());
        let mut sasl = Sasl::start(mech, initial, self.ev);
        let outcome = loop {
            match self.answer() {
                Some((Status::More, challenge, _)) => {
                    sasl.challenge(challenge, self.ev);
                    let Some(l) = self.cl.next() else {
                        break Outcome::Unknown;
                    };
                    sasl.response(l.text, self.ev);
                }
                a => break Self::outcome(a),
            }
        };
        let seen = sasl.finish(outcome, self.ev);
        self.ev.push_auth(seen);
    }
}

/// Whether the flow carries POP3 and, if it does, the evidence it gives. Answers `false` in a
/// few byte comparisons for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if !claims(input) {
        return false;
    }
    ev.service = Some(Service::Pop3);
    let mut s = Session {
        input,
        ev,
        pop: Pop3::default(),
        cl: Lines::new(input.client),
        sv: Lines::new(input.server),
        offer: Offer::default(),
        clear: false,
        lost: false,
        quit: false,
        user: None,
    };
    s.run();
    let clear = s.clear || s.quit || read_whole(s.input, &s.cl, s.lost);
    let pop = std::mem::take(&mut s.pop);
    s.ev.protection = UpgradeResult::protection(pop.stls, clear);
    s.ev.detail = Detail::Pop3(Box::new(pop));
    true
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::line::testdata::{
        assert_no_secret, b64, input, kerberos_token, ntlm_authenticate, ntlm_challenge, render,
        write_seeds,
    };
    use super::*;
    use crate::inspect::MAX_AUTH;
    use crate::inspect::{Fact, Protection};

    const GREETING: &str = "+OK The Microsoft Exchange POP3 service is ready.\r\n";
    const CAPA: &str = "+OK\r\nTOP\r\nUIDL\r\nSASL NTLM GSSAPI PLAIN\r\nSTLS\r\nUSER\r\n.\r\n";

    fn run(client: &[u8], server: &[u8]) -> Option<Evidence> {
        let mut ev = Evidence::default();
        inspect(&input(client, server), &mut ev).then_some(ev)
    }

    fn pop(ev: &Evidence) -> &Pop3 {
        match &ev.detail {
            Detail::Pop3(d) => d,
            d => panic!("not POP3: {d:?}"),
        }
    }

    fn user_pass() -> (Vec<u8>, Vec<u8>) {
        let c = b"CAPA\r\nUSER frank@contoso.com\r\nPASS Pop-S3cret!\r\nSTAT\r\nLIST\r\nRETR 1\r\nQUIT\r\n";
        let s = [
            GREETING,
            CAPA,
            "+OK\r\n",
            "+OK User successfully logged on.\r\n",
            "+OK 1 120\r\n",
            "+OK 1 messages\r\n1 120\r\n.\r\n",
            "+OK\r\nSubject: x\r\n\r\n-ERR inside the message\r\n..\r\n.\r\n",
            "+OK bye\r\n",
        ]
        .concat();
        (c.to_vec(), s.into_bytes())
    }

    fn stls() -> (Vec<u8>, Vec<u8>) {
        let c = b"CAPA\r\nSTLS\r\n\x16\x03\x01\x00\x05".to_vec();
        let s = [
            GREETING.as_bytes(),
            CAPA.as_bytes(),
            b"+OK Begin TLS negotiation\r\n\x16\x03\x03",
        ]
        .concat();
        (c, s)
    }

    #[test]
    fn user_pass_in_clear_keeps_the_user_and_never_the_password() {
        let (c, s) = user_pass();
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.service, Some(Service::Pop3));
        assert_eq!(ev.protection, Protection::Clear);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Password);
        assert!(a.clear_credentials);
        assert_eq!(a.user.as_deref(), Some("frank@contoso.com"));
        assert_eq!(a.outcome, Outcome::Success);
        let d = pop(&ev);
        assert!(d.stls_offered);
        assert_eq!(d.sasl_mechanisms, ["NTLM", "GSSAPI", "PLAIN"]);
        assert_eq!(d.commands, 7);
        assert!(ev.facts.has(Fact::StarttlsOfferedNotUsed));
        assert_no_secret(&render(&ev), "frank@contoso.com", "Pop-S3cret!");
    }

    #[test]
    fn a_wrong_password_is_a_failure() {
        let c = b"USER g\r\nPASS wr0ng-pw\r\n";
        let s = [GREETING, "+OK\r\n", "-ERR Logon failure\r\n"].concat();
        let ev = run(c, s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        assert!(ev.facts.is_empty(), "STLS was not offered");
        assert_no_secret(&render(&ev), "g", "wr0ng-pw");
    }

    #[test]
    fn stls_accepted_sets_the_upgrade_offsets() {
        let (c, s) = stls();
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.protection, Protection::Starttls);
        let up = ev.upgrade.unwrap();
        assert_eq!(c.get(up.client_at), Some(&0x16));
        assert_eq!(s.get(up.server_at), Some(&0x16));
        assert_eq!(pop(&ev).stls, Some(UpgradeResult::Accepted));
        assert!(ev.facts.is_empty());
    }

    #[test]
    fn stls_refused_and_unanswered() {
        let c = b"STLS\r\nUSER h\r\n";
        let s = [GREETING, "-ERR not now\r\n", "+OK\r\n"].concat();
        let ev = run(c, s.as_bytes()).unwrap();
        assert!(ev.facts.has(Fact::StarttlsRefused));
        assert_eq!(ev.protection, Protection::Clear);
        let ev = run(b"STLS\r\n", GREETING.as_bytes()).unwrap();
        assert_eq!(ev.protection, Protection::UpgradeUnconfirmed);
        assert_eq!(ev.upgrade, None);
    }

    #[test]
    fn apop_and_sasl() {
        let s =
            "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n+OK maildrop has 1 message\r\n";
        let ev = run(
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            s.as_bytes(),
        )
        .unwrap();
        assert!(pop(&ev).apop_offered);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Apop);
        assert_eq!(a.user.as_deref(), Some("mrose"));
        assert!(!a.clear_credentials);
        assert_eq!(a.outcome, Outcome::Success);
        // AUTH without a mechanism lists them.
        let s = [GREETING, "+OK\r\nNTLM\r\nLOGIN\r\n.\r\n"].concat();
        let ev = run(b"AUTH\r\n", s.as_bytes()).unwrap();
        assert_eq!(pop(&ev).sasl_mechanisms, ["NTLM", "LOGIN"]);
        assert!(ev.auth.is_empty());
        // AUTH PLAIN with an initial response.
        let c = format!("AUTH PLAIN {}\r\n", b64(b"\0ivan\0p0p-pl4in"));
        let s = [GREETING, "+OK Logged in.\r\n"].concat();
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Plain);
        assert_eq!(ev.auth[0].user.as_deref(), Some("ivan"));
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "ivan", "p0p-pl4in");
        // AUTH LOGIN through continuations.
        let c = format!(
            "AUTH LOGIN\r\n{}\r\n{}\r\n",
            b64(b"judy"),
            b64(b"l0gin-p0p")
        );
        let s = [GREETING, "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n-ERR no\r\n"].concat();
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("judy"));
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        assert_no_secret(&render(&ev), "judy", "l0gin-p0p");
        // NTLM and GSSAPI.
        let c = format!(
            "AUTH NTLM\r\n{}\r\n",
            b64(&ntlm_authenticate("CONTOSO", "kim", "WS1", 24))
        );
        let s = [
            GREETING,
            "+ ",
            &b64(&ntlm_challenge("CONTOSO")),
            "\r\n+OK\r\n",
        ]
        .concat();
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
        assert_eq!(ev.auth[0].user.as_deref(), Some("kim"));
        assert!(ev.facts.has(Fact::NtlmV1));
        let c = format!("AUTH GSSAPI {}\r\n", b64(&kerberos_token()));
        let ev = run(c.as_bytes(), [GREETING, "+OK\r\n"].concat().as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Gssapi);
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
    }

    #[test]
    fn auth_plain_with_two_fields_names_nobody_and_is_clear() {
        let s = [GREETING, "+OK Logged in.\r\n"].concat();
        let c = format!("AUTH PLAIN {}\r\n", b64(b"ivan\0Pop-Tw0-F1elds"));
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Plain);
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "ivan", "Pop-Tw0-F1elds");
        let c = format!("AUTH PLAIN\r\n{}\r\n", b64(b"ivan\0Pop-Tw0-F1elds"));
        let s = [GREETING, "+ \r\n+OK Logged in.\r\n"].concat();
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "ivan", "Pop-Tw0-F1elds");
    }

    #[test]
    fn user_pass_and_apop_of_the_wrong_shape_name_nobody() {
        let ok = [GREETING, "+OK\r\n", "-ERR no\r\n"].concat();
        // USER with two words, then PASS: the USER line may hold the password.
        let ev = run(b"USER ivan Pop-Sp4ce-Pw\r\nPASS x\r\n", ok.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "ivan", "Pop-Sp4ce-Pw");
        // PASS without USER.
        let ev = run(
            b"PASS Pop-Sp4ce-Pw\r\n",
            [GREETING, "-ERR\r\n"].concat().as_bytes(),
        )
        .unwrap();
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "ivan", "Pop-Sp4ce-Pw");
        // The near miss.
        let ev = run(b"USER ivan\r\nPASS Pop-Sp4ce-Pw\r\n", ok.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("ivan"));
        // APOP with the digest alone names nobody; with a name, the name.
        let s = "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n-ERR no\r\n";
        let ev = run(b"APOP c4c9334bac560ecc979e58001b3e22fb\r\n", s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Apop);
        assert_eq!(ev.auth[0].user, None);
        assert!(!render(&ev).contains("c4c9334b"));
        let ev = run(
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            s.as_bytes(),
        )
        .unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("mrose"));
    }

    #[test]
    fn not_pop3() {
        assert!(run(b"USER anonymous\r\n", b"220 FTP ready\r\n").is_none());
        // A silent server and USER: POP3 only on its own port (FTP sends USER too).
        assert!(run(b"USER anonymous\r\n", b"").is_none());
        let mut inp = input(b"USER anonymous\r\n", b"");
        inp.server_port = POP3_PORT;
        assert!(inspect(&inp, &mut Evidence::default()));
        assert!(run(b"", b"+OKAY\r\n").is_none());
        assert!(run(b"", b"* OK IMAP\r\n").is_none());
        assert!(run(b"CAPABILITY\r\n", b"").is_none());
        assert!(run(b"CAPA\r\n", b"").is_some());
    }

    #[test]
    fn every_cut_gives_a_sensible_answer() {
        let (c, s) = user_pass();
        let pass_end = c.windows(4).position(|w| w == b"STAT").unwrap();
        for cut in 0..=c.len() {
            let mut inp = input(&c[..cut], &s);
            inp.client_cut = cut < c.len();
            let mut ev = Evidence::default();
            assert!(inspect(&inp, &mut ev));
            let clear = ev.auth.first().is_some_and(|a| a.clear_credentials);
            assert_eq!(clear, cut >= pass_end, "cut {cut}");
            assert_no_secret(&render(&ev), "frank@contoso.com", "Pop-S3cret!");
        }
        let (c, s) = stls();
        let ok_end = s.windows(2).rposition(|w| w == b"\r\n").unwrap() + 2;
        for cut in 0..=s.len() {
            let mut inp = input(&c, &s[..cut]);
            inp.server_cut = cut < s.len();
            let mut ev = Evidence::default();
            let _ = inspect(&inp, &mut ev);
            assert_eq!(
                ev.protection == Protection::Starttls,
                cut >= ok_end,
                "cut {cut}"
            );
            assert_ne!(ev.protection, Protection::Clear, "cut {cut}");
        }
    }

    #[test]
    #[ignore = "writes fuzz/corpus/inspect_pop3: cargo test --lib -- --ignored write_fuzz_seeds"]
    fn write_fuzz_seeds() {
        let (up_c, up_s) = user_pass();
        let (tls_c, tls_s) = stls();
        let login = format!("AUTH LOGIN\r\n{}\r\n{}\r\n", b64(b"judy"), b64(b"x"));
        let login_s = [GREETING, "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n-ERR no\r\n"].concat();
        let apop = b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nAUTH\r\n".to_vec();
        let apop_s = b"+OK <1.2@h>\r\n+OK\r\n+OK\r\nNTLM\r\n.\r\n".to_vec();
        write_seeds(
            "inspect_pop3",
            &[
                ("user-pass", 0, up_c, up_s),
                ("stls", 0, tls_c, tls_s),
                ("auth-login", 0, login.into_bytes(), login_s.into_bytes()),
                ("apop", 0, apop, apop_s),
                (
                    "auth-plain-two-fields",
                    0,
                    format!("USER u pw\r\nPASS x\r\nAUTH PLAIN {}\r\n", b64(b"u\0pw")).into_bytes(),
                    [GREETING, "+OK\r\n-ERR\r\n+OK\r\n"].concat().into_bytes(),
                ),
                (
                    "client-only",
                    0x11,
                    b"USER a\r\nPASS b\r\n".to_vec(),
                    Vec::new(),
                ),
            ],
        );
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_stay_bounded(
            client in proptest::collection::vec(any::<u8>(), 0..600),
            server in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut ev = Evidence::default();
            let _ = inspect(&input(&client, &server), &mut ev);
            let server = [b"+OK ".as_slice(), &server].concat();
            let _ = inspect(&input(&client, &server), &mut ev);
            prop_assert!(ev.auth.len() <= MAX_AUTH);
            if let Detail::Pop3(d) = &ev.detail {
                prop_assert!(d.capabilities.len() <= MAX_CAPABILITIES);
                prop_assert!(d.sasl_mechanisms.len() <= MAX_MECHANISMS);
            }
        }

        #[test]
        fn pop3_lines_of_any_kind_never_panic(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("USER a".to_owned()), Just("PASS b".to_owned()), Just("AUTH NTLM".to_owned()),
                    Just("AUTH".to_owned()), Just("STLS".to_owned()), Just("CAPA".to_owned()),
                    Just("RETR 1".to_owned()), Just("+ ".to_owned()), Just("+OK".to_owned()),
                    Just("-ERR".to_owned()), Just(".".to_owned()), "[ -~]{0,20}",
                ],
                0..30,
            ),
            split in 0usize..30,
        ) {
            let (c, s) = lines.split_at(split.min(lines.len()));
            let c = c.join("\r\n");
            let s = format!("{GREETING}{}", s.join("\r\n"));
            let mut ev = Evidence::default();
            prop_assert!(inspect(&input(c.as_bytes(), s.as_bytes()), &mut ev));
            prop_assert!(ev.auth.len() <= MAX_AUTH);
        }
    }
}
