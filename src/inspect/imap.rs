//! IMAP4rev1 and IMAP4rev2 (RFC 3501, RFC 9051): the greeting, the capabilities (STARTTLS,
//! LOGINDISABLED, AUTH=…), whether the conversation switched to TLS, and how the client logged
//! in (LOGIN, or AUTHENTICATE with a SASL mechanism), with the tagged answer as the outcome.
//!
//! Our own parser: the IMAP crates that exist (imap-proto, imap-codec) parse a well-formed
//! session for a client or a server; here only the command verbs, the tags, the literals (to
//! stay in step) and a handful of responses matter, on a prefix that may stop anywhere. Each
//! client command is paired with the server's tagged completion for its tag.

#![deny(clippy::indexing_slicing)]

use serde::Serialize;

use super::line::{
    Lines, Offer, Sasl, Step, is_token, push_capped, read_whole, starts_ci, trim, word,
};
use super::smtp::UpgradeResult;
use super::{AuthSeen, Evidence, Input, Mechanism, Outcome, Service};
use super::{Detail, wire_text};

/// Most capabilities kept (servers list 10 to 40).
const MAX_CAPABILITIES: usize = 40;
/// Most SASL mechanisms kept from `AUTH=` capabilities.
const MAX_MECHANISMS: usize = 12;
/// Longest tag accepted when the client's first line is all there is to go by.
const MAX_TAG: usize = 32;

/// What the IMAP conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Imap {
    /// The greeting's text after `* OK` (or `* PREAUTH`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// The server greeted with `* PREAUTH`: the session was authenticated outside IMAP.
    #[serde(skip_serializing_if = "is_false")]
    pub preauth: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Mechanisms of the `AUTH=` capabilities.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_mechanisms: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_offered: bool,
    /// LOGINDISABLED: the server refuses LOGIN before TLS.
    #[serde(skip_serializing_if = "is_false")]
    pub login_disabled: bool,
    /// The client sent STARTTLS, and this is what came of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<UpgradeResult>,
    /// Commands read in clear.
    pub commands: u32,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A literal announced at the end of a line (RFC 9051 §4.3): `{n}`, or `{n+}` (RFC 7888).
fn literal(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = inner.get(open + 1..)?;
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A tag: one or more ASTRING-CHARs except `+` (RFC 9051 §9).
fn is_tag(t: &[u8]) -> bool {
    !t.is_empty()
        && t.len() <= MAX_TAG
        && t.iter().all(|&b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// Reads one server response line, skipping the literals it carries (a FETCH body), so that
/// their content is never taken for responses. Returns the first line and the end offset.
fn response<'a>(sv: &mut Lines<'a>) -> Option<(&'a [u8], usize)> {
    let first = sv.next()?;
    let mut line = first;
    while let Some(n) = literal(line.text) {
        if !sv.skip_bytes(n) {
            return None;
        }
        line = sv.next()?;
    }
    Some((first.text, line.end))
}

/// The next astring (RFC 9051 §9) of a command: an atom, a quoted string or a literal, whose
/// bytes follow the line. `text` moves past it; a literal moves `cl` past its bytes and `text`
/// to the line that continues the command.
fn astring<'a>(text: &mut &'a [u8], cl: &mut Lines<'a>) -> Option<&'a [u8]> {
    let t = trim_start_sp(text);
    if t.is_empty() {
        *text = t;
        return None;
    }
    if let Some(q) = t.strip_prefix(b"\"") {
        let mut i = 0usize;
        let mut close = q.len();
        while let Some(&b) = q.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    close = i;
                    break;
                }
                _ => i += 1,
            }
        }
        let (value, rest) = q.split_at(close.min(q.len()));
        *text = rest.get(1..).unwrap_or(&[]);
        return Some(value);
    }
    if t.first() == Some(&b'{') {
        if let Some(n) = literal(t) {
            let value = cl.rest().get(..n).unwrap_or(cl.rest());
            cl.skip_bytes(n);
            *text = cl.next().map_or(&[][..], |l| l.text);
            return Some(value);
        }
    }
    let (value, rest) = word(t);
    *text = rest;
    Some(value)
}

fn trim_start_sp<'a>(s: &&'a [u8]) -> &'a [u8] {
    let n = s.iter().take_while(|&&b| b == b' ').count();
    s.get(n..).unwrap_or(&[])
}

/// Whether the flow is IMAP: the server greets with `* OK`, `* PREAUTH` or `* BYE`, or the
/// client's first line is a tagged command that opens an IMAP session.
fn claims(input: &Input<'_>) -> bool {
    let s = input.server;
    if let Some(rest) = s.strip_prefix(b"* ") {
        return starts_ci(rest, b"OK") || starts_ci(rest, b"PREAUTH") || starts_ci(rest, b"BYE");
    }
    if !s.is_empty() {
        return false;
    }
    let c = input.client;
    let Some(end) = c
        .iter()
        .take(MAX_TAG + 20)
        .position(|&b| b == b'\r' || b == b'\n')
    else {
        return false;
    };
    let (tag, rest) = word(c.get(..end).unwrap_or(&[]));
    let (verb, _) = word(rest);
    is_tag(tag)
        && [
            &b"CAPABILITY"[..],
            b"LOGIN",
            b"STARTTLS",
            b"AUTHENTICATE",
            b"ID",
            b"NOOP",
        ]
        .iter()
        .any(|v| verb.eq_ignore_ascii_case(v))
}

struct Session<'a, 'e> {
    ev: &'e mut Evidence,
    imap: Imap,
    cl: Lines<'a>,
    sv: Lines<'a>,
    offer: Offer,
    clear: bool,
    lost: bool,
    logout: bool,
}

/// A tagged completion's status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    No,
    Bad,
}

impl<'a> Session<'a, '_> {
    /// Capabilities in a `CAPABILITY` response or a `[CAPABILITY …]` response code.
    fn capabilities(&mut self, list: &[u8]) {
        let atom = |c: &&[u8]| !c.is_empty() && c.iter().all(|b| b.is_ascii_graphic());
        for cap in list.split(|&b| b == b' ').filter(atom) {
            push_capped(
                &mut self.imap.capabilities,
                wire_text(cap),
                MAX_CAPABILITIES,
            );
            if cap.eq_ignore_ascii_case(b"STARTTLS") {
                self.imap.starttls_offered = true;
                self.offer.offered();
            } else if cap.eq_ignore_ascii_case(b"LOGINDISABLED") {
                self.imap.login_disabled = true;
            } else if starts_ci(cap, b"AUTH=") {
                let m = cap.get(5..).unwrap_or(&[]);
                push_capped(&mut self.imap.auth_mechanisms, wire_text(m), MAX_MECHANISMS);
            }
        }
    }

    /// Looks for capabilities in a status response's text.
    fn response_code(&mut self, text: &[u8]) {
        if let Some(code) = text.strip_prefix(b"[") {
            if starts_ci(code, b"CAPABILITY ") {
                let end = code.iter().position(|&b| b == b']').unwrap_or(code.len());
                let list = code.get(11..end).unwrap_or(&[]);
                self.capabilities(list);
            }
        }
    }

    /// An untagged response: capabilities are all that is kept.
    fn untagged(&mut self, text: &[u8]) {
        let (kind, rest) = word(text);
        if kind.eq_ignore_ascii_case(b"CAPABILITY") {
            self.capabilities(rest);
        } else if kind.eq_ignore_ascii_case(b"OK") {
            self.response_code(rest);
        }
    }

    fn greeting(&mut self) {
        let Some(l) = self.sv.peek() else { return };
        let Some(text) = l.text.strip_prefix(b"* ") else {
            return;
        };
        let (kind, rest) = word(text);
        if kind.eq_ignore_ascii_case(b"OK") || kind.eq_ignore_ascii_case(b"PREAUTH") {
            self.sv.next();
            // The text after a response code such as `[CAPABILITY …]`.
            let after = match rest.strip_prefix(b"[") {
                Some(code) => {
                    let close = code.iter().position(|&b| b == b']');
                    close.and_then(|c| code.get(c + 1..)).map_or(&[][..], trim)
                }
                None => rest,
            };
            self.imap.greeting = Some(wire_text(after));
            self.imap.preauth = kind.eq_ignore_ascii_case(b"PREAUTH");
            self.response_code(rest);
        }
    }

    /// Reads server responses up to the tagged completion of `tag`. Continuation requests
    /// (`+ …`) go to `cont`, which answers whether the exchange goes on; `None` when the
    /// completion is not in the prefix.
    fn completion(
        &mut self,
        tag: &[u8],
        mut cont: impl FnMut(&mut Self, &'a [u8]) -> bool,
    ) -> Option<(Status, usize)> {
        loop {
            let (text, end) = response(&mut self.sv)?;
            if let Some(u) = text.strip_prefix(b"* ") {
                self.untagged(u);
            } else if text == b"+" || text.starts_with(b"+ ") {
                if !cont(self, text.get(2..).unwrap_or(&[])) {
                    return None;
                }
            } else {
                let (t, rest) = word(text);
                if t != tag {
                    continue;
                }
                let (status, rest) = word(rest);
                self.response_code(rest);
                let status = if status.eq_ignore_ascii_case(b"OK") {
                    Status::Ok
                } else if status.eq_ignore_ascii_case(b"NO") {
                    Status::No
                } else {
                    Status::Bad
                };
                return Some((status, end));
            }
        }
    }

    fn outcome(c: Option<(Status, usize)>) -> Outcome {
        match c {
            Some((Status::Ok, _)) => Outcome::Success,
            Some(_) => Outcome::Failure,
            None => Outcome::Unknown,
        }
    }

    /// Skips the literals a command line announces, to the command's last line.
    fn rest_of_command(&mut self, mut line: &'a [u8]) {
        while let Some(n) = literal(line) {
            if !self.cl.skip_bytes(n) {
                return;
            }
            match self.cl.next() {
                Some(l) => line = l.text,
                None => return,
            }
        }
    }

    fn step(verb: &[u8]) -> Step {
        let is = |names: &[&[u8]]| names.iter().any(|n| verb.eq_ignore_ascii_case(n));
        if is(&[b"CAPABILITY", b"NOOP", b"ID"]) {
            Step::Neutral
        } else if is(&[b"STARTTLS"]) {
            Step::Upgrade
        } else if is(&[b"LOGOUT"]) {
            Step::Leave
        } else {
            Step::Other
        }
    }

    fn run(&mut self) {
        self.greeting();
        while let Some(cmd) = self.cl.next() {
            let (tag, rest) = word(cmd.text);
            let (verb, mut args) = word(rest);
            if !is_tag(tag) || !is_token(verb) {
                self.lost = true;
                return;
            }
            self.imap.commands = self.imap.commands.saturating_add(1);
            let step = Self::step(verb);
            self.offer.step(step, self.ev);
            if step != Step::Neutral && step != Step::Upgrade {
                self.clear = true;
            }
            if verb.eq_ignore_ascii_case(b"STARTTLS") {
                let answer = self
                    .completion(tag, |_, _| true)
                    .map(|(status, end)| (status == Status::Ok).then_some(end));
                let result = UpgradeResult::settle(self.ev, answer, cmd.end, false);
                self.imap.starttls = Some(result);
                if result != UpgradeResult::Refused {
                    return;
                }
            } else if verb.eq_ignore_ascii_case(b"LOGIN") {
                // RFC 9051 §6.2.3: LOGIN SP userid SP password. Only that shape names the user:
                // with one argument, or more than two, which one is the password is not known.
                let user = astring(&mut args, &mut self.cl);
                let password = astring(&mut args, &mut self.cl);
                let well_formed = password.is_some() && trim(args).is_empty();
                self.rest_of_command(args);
                let mut seen = AuthSeen::new(Mechanism::Password);
                if well_formed {
                    seen.user = user.filter(|u| !u.is_empty()).map(wire_text);
                }
                seen.clear_credentials = [user, password]
                    .iter()
                    .any(|a| a.is_some_and(|a| !a.is_empty()));
                let c = self.completion(tag, |_, _| true);
                seen.outcome = Self::outcome(c);
                self.ev.push_auth(seen);
            } else if verb.eq_ignore_ascii_case(b"AUTHENTICATE") {
                // RFC 9051 §6.2.2: AUTHENTICATE SP mechanism [SP initial-response].
                let (mech, initial) = word(args);
                let initial = Some(trim(initial)).filter(|i| !i.is_empty());
                let mut sasl = Sasl::start(mech, initial, self.ev);
                let c = self.completion(tag, |s, challenge| {
                    sasl.challenge(challenge, s.ev);
                    // A cancelled exchange (`*`) still gets its tagged answer.
                    match s.cl.next() {
                        Some(l) => {
                            sasl.response(l.text, s.ev);
                            true
                        }
                        None => false,
                    }
                });
                let seen = sasl.finish(Self::outcome(c), self.ev);
                self.ev.push_auth(seen);
            } else {
                self.rest_of_command(args);
                let _ = self.completion(tag, |_, _| true);
                if verb.eq_ignore_ascii_case(b"LOGOUT") {
                    self.logout = true;
                    return;
                }
            }
        }
    }
}

/// Whether the flow carries IMAP and, if it does, the evidence it gives. Answers `false` in a
/// few byte comparisons for anything else.
pub fn inspect(input: &Input<'_>, ev: &mut Evidence) -> bool {
    if !claims(input) {
        return false;
    }
    ev.service = Some(Service::Imap);
    let mut s = Session {
        ev,
        imap: Imap::default(),
        cl: Lines::new(input.client),
        sv: Lines::new(input.server),
        offer: Offer::default(),
        clear: false,
        lost: false,
        logout: false,
    };
    s.run();
    let clear = s.clear || s.logout || read_whole(input, &s.cl, s.lost);
    let imap = std::mem::take(&mut s.imap);
    s.ev.protection = UpgradeResult::protection(imap.starttls, clear);
    s.ev.detail = Detail::Imap(Box::new(imap));
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
    use crate::inspect::Protection;
    use crate::inspect::{Fact, MAX_AUTH};

    const GREETING: &str = "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR STARTTLS AUTH=PLAIN \
        AUTH=NTLM] mail.contoso.com IMAP4 ready\r\n";

    fn run(client: &[u8], server: &[u8]) -> Option<Evidence> {
        let mut ev = Evidence::default();
        inspect(&input(client, server), &mut ev).then_some(ev)
    }

    fn imap(ev: &Evidence) -> &Imap {
        match &ev.detail {
            Detail::Imap(d) => d,
            d => panic!("not IMAP: {d:?}"),
        }
    }

    fn login() -> (Vec<u8>, Vec<u8>) {
        let c = b"a001 CAPABILITY\r\na002 LOGIN \"bob@contoso.com\" \"P@ss w0rd!\"\r\n\
            a003 SELECT INBOX\r\na004 LOGOUT\r\n"
            .to_vec();
        let s = b"* OK Microsoft Exchange Server IMAP4 service is ready.\r\n\
            * CAPABILITY IMAP4 IMAP4rev1 AUTH=NTLM IDLE\r\na001 OK CAPABILITY completed.\r\n\
            a002 OK LOGIN completed.\r\n* 3 EXISTS\r\na003 OK [READ-WRITE] SELECT completed.\r\n\
            * BYE bye\r\na004 OK LOGOUT completed.\r\n"
            .to_vec();
        (c, s)
    }

    fn starttls() -> (Vec<u8>, Vec<u8>) {
        let c = b". CAPABILITY\r\n. STARTTLS\r\n\x16\x03\x01\x00\x05".to_vec();
        let s = [
            GREETING.as_bytes(),
            b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n. OK done\r\n",
            b". OK Begin TLS negotiation now\r\n\x16\x03\x03",
        ]
        .concat();
        (c, s)
    }

    #[test]
    fn login_in_clear_keeps_the_user_and_never_the_password() {
        let (c, s) = login();
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.service, Some(Service::Imap));
        assert_eq!(ev.protection, Protection::Clear);
        let a = &ev.auth[0];
        assert_eq!(a.mechanism, Mechanism::Password);
        assert!(a.clear_credentials);
        assert_eq!(a.user.as_deref(), Some("bob@contoso.com"));
        assert_eq!(a.outcome, Outcome::Success);
        let d = imap(&ev);
        assert_eq!(d.auth_mechanisms, ["NTLM"]);
        assert!(!d.starttls_offered);
        assert_eq!(d.commands, 4);
        assert_eq!(
            d.greeting.as_deref(),
            Some("Microsoft Exchange Server IMAP4 service is ready.")
        );
        assert!(ev.facts.is_empty());
        assert_no_secret(&render(&ev), "bob@contoso.com", "P@ss w0rd!");
    }

    #[test]
    fn login_with_literals_and_a_refusal() {
        let c = b"a1 LOGIN {5}\r\nalice {10}\r\nS3cr3t-Lit\r\na2 LOGOUT\r\n";
        let s = [
            GREETING.as_bytes(),
            b"+ Ready\r\n+ Ready\r\na1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n",
            b"a2 OK bye\r\n",
        ]
        .concat();
        let ev = run(c, &s).unwrap();
        let a = &ev.auth[0];
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert!(a.clear_credentials);
        assert_eq!(a.outcome, Outcome::Failure);
        // STARTTLS was offered in the greeting and the client logged in without it.
        assert!(ev.facts.has(Fact::StarttlsOfferedNotUsed));
        assert_no_secret(&render(&ev), "alice", "S3cr3t-Lit");
    }

    #[test]
    fn login_with_one_argument_names_nobody_and_is_clear() {
        let s = format!("{GREETING}a1 NO bad\r\n");
        for c in [
            &b"a1 LOGIN \"Imap-0ne-Arg\"\r\n"[..],
            b"a1 LOGIN Imap-0ne-Arg\r\n",
            b"a1 LOGIN {12}\r\nImap-0ne-Arg\r\n",
            // More than two arguments: not the command's shape either.
            b"a1 LOGIN bob Imap-0ne-Arg extra\r\n",
        ] {
            let ev = run(c, s.as_bytes()).unwrap();
            let a = &ev.auth[0];
            assert_eq!(a.mechanism, Mechanism::Password);
            assert_eq!(a.user, None, "{}", String::from_utf8_lossy(c));
            assert!(a.clear_credentials, "{}", String::from_utf8_lossy(c));
            assert_eq!(a.outcome, Outcome::Failure);
            assert_no_secret(&render(&ev), "bob", "Imap-0ne-Arg");
        }
        // The near miss: two arguments name the first.
        let ev = run(b"a1 LOGIN bob Imap-0ne-Arg\r\n", s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("bob"));
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "bob", "Imap-0ne-Arg");
    }

    #[test]
    fn authenticate_plain_with_two_fields_and_login_password_first() {
        let c = format!(
            "A1 AUTHENTICATE PLAIN\r\n{}\r\n",
            b64(b"carol\0Imap-Tw0-F1elds")
        );
        let s = format!("{GREETING}+ \r\nA1 OK done\r\n");
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Plain);
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "carol", "Imap-Tw0-F1elds");
        let c = format!(
            "A1 AUTHENTICATE PLAIN {}\r\n",
            b64(b"carol\0Imap-Tw0-F1elds")
        );
        let ev = run(c.as_bytes(), format!("{GREETING}A1 OK\r\n").as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user, None);
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "carol", "Imap-Tw0-F1elds");
        // LOGIN whose server asks for the password first.
        let c = format!(
            "A1 AUTHENTICATE LOGIN\r\n{}\r\n{}\r\n",
            b64(b"Imap-Pw-F1rst"),
            b64(b"dave")
        );
        let s = format!("{GREETING}+ UGFzc3dvcmQ6\r\n+ VXNlcm5hbWU6\r\nA1 OK\r\n");
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].user.as_deref(), Some("dave"));
        assert!(ev.auth[0].clear_credentials);
        assert_no_secret(&render(&ev), "dave", "Imap-Pw-F1rst");
    }

    #[test]
    fn starttls_accepted_sets_the_upgrade_offsets() {
        let (c, s) = starttls();
        let ev = run(&c, &s).unwrap();
        assert_eq!(ev.protection, Protection::Starttls);
        let up = ev.upgrade.unwrap();
        assert_eq!(c.get(up.client_at), Some(&0x16));
        assert_eq!(s.get(up.server_at), Some(&0x16));
        let d = imap(&ev);
        assert!(d.starttls_offered && d.login_disabled);
        assert_eq!(d.starttls, Some(UpgradeResult::Accepted));
        assert!(d.capabilities.iter().any(|c| c == "LITERAL+"));
        assert_eq!(d.auth_mechanisms, ["PLAIN", "NTLM"]);
        assert_eq!(d.greeting.as_deref(), Some("mail.contoso.com IMAP4 ready"));
        assert!(ev.facts.is_empty());
    }

    #[test]
    fn starttls_refused_and_unanswered() {
        let c = b"a STARTTLS\r\nb LOGOUT\r\n";
        let s = [GREETING.as_bytes(), b"a BAD not now\r\nb OK bye\r\n"].concat();
        let ev = run(c, &s).unwrap();
        assert!(ev.facts.has(Fact::StarttlsRefused));
        assert_eq!(imap(&ev).starttls, Some(UpgradeResult::Refused));
        assert_eq!(ev.protection, Protection::Clear);
        let ev = run(b"a STARTTLS\r\n", GREETING.as_bytes()).unwrap();
        assert_eq!(ev.protection, Protection::UpgradeUnconfirmed);
        assert_eq!(ev.upgrade, None);
    }

    #[test]
    fn authenticate_mechanisms() {
        // PLAIN with SASL-IR.
        let ir = b64(b"\0carol\0pl41n-pw");
        let c = format!("A1 AUTHENTICATE PLAIN {ir}\r\n");
        let s = format!("{GREETING}A1 OK done\r\n");
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Plain);
        assert_eq!(ev.auth[0].user.as_deref(), Some("carol"));
        assert!(ev.auth[0].clear_credentials);
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
        assert_no_secret(&render(&ev), "carol", "pl41n-pw");
        // LOGIN through continuations.
        let c = format!(
            "A1 AUTHENTICATE LOGIN\r\n{}\r\n{}\r\n",
            b64(b"dave"),
            b64(b"l0gin-pw")
        );
        let s = format!("{GREETING}+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\nA1 NO bad\r\n");
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Login);
        assert_eq!(ev.auth[0].user.as_deref(), Some("dave"));
        assert!(ev.auth[0].clear_credentials);
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        assert_no_secret(&render(&ev), "dave", "l0gin-pw");
        // NTLM.
        let c = format!(
            "A1 AUTHENTICATE NTLM\r\n{}\r\n{}\r\n",
            b64(&ntlm_negotiate()),
            b64(&ntlm_authenticate("CONTOSO", "erin", "WS9", 100))
        );
        let s = format!(
            "{GREETING}+ \r\n+ {}\r\nA1 OK NTLM done\r\n",
            b64(&ntlm_challenge("CONTOSO"))
        );
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
        assert_eq!(ev.auth[0].user.as_deref(), Some("erin"));
        assert!(!ev.auth[0].clear_credentials);
        assert!(!ev.facts.has(Fact::NtlmV1));
        // GSSAPI and XOAUTH2.
        let c = format!("A1 AUTHENTICATE GSSAPI {}\r\n", b64(&kerberos_token()));
        let ev = run(c.as_bytes(), GREETING.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Gssapi);
        assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
        let c = format!(
            "A1 AUTHENTICATE XOAUTH2 {}\r\n",
            b64(b"user=f@contoso.com\x01auth=Bearer tok3n\x01\x01")
        );
        let ev = run(c.as_bytes(), format!("{GREETING}A1 OK\r\n").as_bytes()).unwrap();
        assert_eq!(ev.auth[0].mechanism, Mechanism::Bearer);
        assert!(ev.auth[0].clear_credentials);
        assert!(!render(&ev).contains("tok3n"));
        // A cancelled exchange is a failure.
        let c = "A1 AUTHENTICATE LOGIN\r\n*\r\n";
        let s = format!("{GREETING}+ VXNlcm5hbWU6\r\nA1 BAD cancelled\r\n");
        let ev = run(c.as_bytes(), s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].outcome, Outcome::Failure);
        assert!(!ev.auth[0].clear_credentials);
    }

    #[test]
    fn fetch_literals_are_skipped() {
        // A message body that holds a line looking like the tagged answer to LOGIN.
        let c = b"a1 FETCH 1 BODY[]\r\na2 LOGIN u p\r\n";
        let body = "a2 NO fake\r\n";
        let s = format!(
            "{GREETING}* 1 FETCH (BODY[] {{{}}}\r\n{body})\r\na1 OK done\r\na2 OK real\r\n",
            body.len()
        );
        let ev = run(c, s.as_bytes()).unwrap();
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
    }

    #[test]
    fn preauth_and_client_only() {
        let ev = run(b"", b"* PREAUTH IMAP4rev1 server logged in as Smith\r\n").unwrap();
        assert!(imap(&ev).preauth);
        let ev = run(b"a001 LOGIN u pw\r\n", b"").unwrap();
        assert!(ev.auth[0].clear_credentials);
        assert_eq!(ev.auth[0].outcome, Outcome::Unknown);
    }

    #[test]
    fn not_imap() {
        assert!(run(b"", b"+OK POP3 ready\r\n").is_none());
        assert!(run(b"EHLO x\r\n", b"220 mx ESMTP\r\n").is_none());
        assert!(run(b"a001 FOO\r\n", b"").is_none());
        assert!(run(b"* CAPABILITY\r\n", b"").is_none());
        assert!(run(b"", b"* NOPE\r\n").is_none());
        assert!(run(b"GET / HTTP/1.1\r\n", b"").is_none());
    }

    #[test]
    fn every_cut_gives_a_sensible_answer() {
        let (c, s) = login();
        let login_end = c.windows(4).position(|w| w == b"a003").unwrap();
        for cut in 0..=c.len() {
            let mut inp = input(&c[..cut], &s);
            inp.client_cut = cut < c.len();
            let mut ev = Evidence::default();
            assert!(inspect(&inp, &mut ev));
            let clear = ev.auth.first().is_some_and(|a| a.clear_credentials);
            assert_eq!(clear, cut >= login_end, "cut {cut}");
            assert_no_secret(&render(&ev), "bob@contoso.com", "P@ss w0rd!");
        }
        let (c, s) = starttls();
        let ok = s.windows(6).position(|w| w == b". OK B").unwrap();
        let ok_end = ok + ". OK Begin TLS negotiation now\r\n".len();
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
    #[ignore = "writes fuzz/corpus/inspect_imap: cargo test --lib -- --ignored write_fuzz_seeds"]
    fn write_fuzz_seeds() {
        let (login_c, login_s) = login();
        let (tls_c, tls_s) = starttls();
        let ntlm = format!(
            "A1 AUTHENTICATE NTLM\r\n{}\r\n{}\r\n",
            b64(&ntlm_negotiate()),
            b64(&ntlm_authenticate("CONTOSO", "erin", "WS9", 100))
        );
        let ntlm_s = format!(
            "{GREETING}+ \r\n+ {}\r\nA1 OK\r\n",
            b64(&ntlm_challenge("C"))
        );
        let literal = b"a1 LOGIN {5}\r\nalice {3}\r\nabc\r\na2 FETCH 1 BODY[]\r\n".to_vec();
        let literal_s = format!(
            "{GREETING}+ go\r\n+ go\r\na1 OK\r\n* 1 FETCH (BODY[] {{3}}\r\nxyz)\r\na2 OK\r\n"
        );
        write_seeds(
            "inspect_imap",
            &[
                ("login", 0, login_c, login_s),
                ("starttls", 0, tls_c, tls_s),
                ("auth-ntlm", 0, ntlm.into_bytes(), ntlm_s.into_bytes()),
                ("literals", 1, literal, literal_s.into_bytes()),
                (
                    "login-one-argument",
                    0,
                    format!(
                        "a1 LOGIN {{2}}\r\npw\r\na2 AUTHENTICATE LOGIN\r\n{}\r\n{}\r\n",
                        b64(b"pw"),
                        b64(b"u")
                    )
                    .into_bytes(),
                    format!(
                        "{GREETING}+ go\r\na1 BAD no\r\n+ UGFzc3dvcmQ6\r\n+ VXNlcm5hbWU6\r\na2 OK\r\n"
                    )
                    .into_bytes(),
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
            let server = [b"* OK ".as_slice(), &server].concat();
            let _ = inspect(&input(&client, &server), &mut ev);
            prop_assert!(ev.auth.len() <= MAX_AUTH);
            if let Detail::Imap(d) = &ev.detail {
                prop_assert!(d.capabilities.len() <= MAX_CAPABILITIES);
                prop_assert!(d.auth_mechanisms.len() <= MAX_MECHANISMS);
            }
        }

        #[test]
        fn imap_lines_of_any_kind_never_panic(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("a LOGIN {3}".to_owned()), Just("a LOGIN \"x".to_owned()),
                    Just("a AUTHENTICATE NTLM".to_owned()), Just("a STARTTLS".to_owned()),
                    Just("+ ".to_owned()), Just("a OK".to_owned()), Just("* 1 FETCH {99999}".to_owned()),
                    Just("* CAPABILITY STARTTLS AUTH=PLAIN".to_owned()), Just("{4294967296}".to_owned()),
                    "[ -~]{0,20}",
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
