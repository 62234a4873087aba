//! Logins of every kind the clear-text inspectors read, each built around a user name and a
//! secret the caller chooses, with what exaudit must report of it. The tests that no output ever
//! holds a credential build their captures from these: with fixed secrets (`scenes::secrets`) and
//! with random ones (a property test).
//!
//! The cases come in pairs where the protocol's structure decides who is named: the well-formed
//! login that names its user beside the malformed one that must name nobody.

use std::net::SocketAddr;

use base64::Engine as _;

use super::scenes::{ber, ldap_message};
use super::{Capture, TcpConv};

/// What exaudit must report of a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// An authentication with `clear_credentials` set.
    pub clear: bool,
    /// Some authentication's `user` holds the user name; `false`: no authentication of the flow
    /// has a `user`.
    pub named: bool,
}

/// One kind of login: a TCP conversation to `port` that carries a user name and a secret.
#[derive(Clone, Copy)]
pub struct Login {
    pub name: &'static str,
    pub port: u16,
    pub expect: Expect,
    conversation: fn(&mut TcpConv<'_>, &str, &str),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("name", &self.name)
            .field("port", &self.port)
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// Records the login as one TCP connection, from the handshake to the close. `server`'s
    /// port is replaced by the login's.
    pub fn add(
        &self,
        cap: &mut Capture,
        client: SocketAddr,
        server: SocketAddr,
        user: &str,
        secret: &str,
    ) {
        let server = SocketAddr::new(server.ip(), self.port);
        let mut s = cap.tcp(client, server);
        s.handshake();
        (self.conversation)(&mut s, user, secret);
        s.close();
    }

    /// The login called `name`.
    pub fn named(name: &str) -> &'static Login {
        ALL.iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("no login called {name:?}"))
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

const CLEAR_NAMED: Expect = Expect {
    clear: true,
    named: true,
};
const CLEAR_NOBODY: Expect = Expect {
    clear: true,
    named: false,
};

const SMTP_BANNER: &[u8] = b"220 mail.contoso.com Microsoft ESMTP MAIL Service ready\r\n";
const SMTP_EHLO: &[u8] =
    b"250-mail.contoso.com Hello\r\n250-AUTH LOGIN PLAIN CRAM-MD5 XOAUTH2\r\n250 OK\r\n";
const IMAP_GREETING: &[u8] = b"* OK The Microsoft Exchange IMAP4 service is ready.\r\n";
const POP3_GREETING: &[u8] = b"+OK The Microsoft Exchange POP3 service is ready.\r\n";
/// "Username:" and "Password:" in base64, as Exchange prompts for AUTH LOGIN.
const USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
const PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// EHLO, then each (client, server) step of `auth`, then QUIT.
fn smtp(s: &mut TcpConv<'_>, auth: &[(&[u8], &[u8])]) {
    s.server_sends(SMTP_BANNER)
        .client_sends(b"EHLO ws50\r\n")
        .server_sends(SMTP_EHLO);
    for (client, server) in auth {
        s.client_sends(client).server_sends(server);
    }
    s.client_sends(b"QUIT\r\n")
        .server_sends(b"221 2.0.0 Bye\r\n");
}

fn smtp_plain(s: &mut TcpConv<'_>, message: &[u8]) {
    let line = format!("AUTH PLAIN {}\r\n", b64(message));
    smtp(
        s,
        &[(line.as_bytes(), b"235 2.7.0 Authentication successful\r\n")],
    );
}

/// AUTH LOGIN, the server asking for the user name first, or for the password first.
fn smtp_login(s: &mut TcpConv<'_>, user: &str, secret: &str, password_first: bool) {
    let (u, p) = (
        format!("{}\r\n", b64(user.as_bytes())),
        format!("{}\r\n", b64(secret.as_bytes())),
    );
    let ask = |prompt: &str| format!("334 {prompt}\r\n");
    let steps = if password_first {
        [(ask(PASSWORD_PROMPT), p), (ask(USERNAME_PROMPT), u)]
    } else {
        [(ask(USERNAME_PROMPT), u), (ask(PASSWORD_PROMPT), p)]
    };
    smtp(
        s,
        &[
            (b"AUTH LOGIN\r\n", steps[0].0.as_bytes()),
            (steps[0].1.as_bytes(), steps[1].0.as_bytes()),
            (
                steps[1].1.as_bytes(),
                b"235 2.7.0 Authentication successful\r\n",
            ),
        ],
    );
}

/// A CRAM-MD5 digest for the secret: 32 hex digits, as RFC 2195 §2 sends it.
fn cram_digest(secret: &str) -> String {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<32.32}")
}

fn smtp_cram(s: &mut TcpConv<'_>, response: &str) {
    let line = format!("{}\r\n", b64(response.as_bytes()));
    smtp(
        s,
        &[
            (
                b"AUTH CRAM-MD5\r\n",
                b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n",
            ),
            (line.as_bytes(), b"235 2.7.0 Authentication successful\r\n"),
        ],
    );
}

/// The greeting, each (client, server) step, then LOGOUT.
fn imap(s: &mut TcpConv<'_>, steps: &[(&[u8], &[u8])]) {
    s.server_sends(IMAP_GREETING);
    for (client, server) in steps {
        s.client_sends(client).server_sends(server);
    }
    s.client_sends(b"a9 LOGOUT\r\n")
        .server_sends(b"* BYE\r\na9 OK LOGOUT completed.\r\n");
}

fn imap_plain(s: &mut TcpConv<'_>, message: &[u8]) {
    let line = format!("{}\r\n", b64(message));
    imap(
        s,
        &[
            (b"a1 AUTHENTICATE PLAIN\r\n", b"+ \r\n"),
            (line.as_bytes(), b"a1 OK AUTHENTICATE completed.\r\n"),
        ],
    );
}

/// USER and PASS, or AUTH, then QUIT.
fn pop3(s: &mut TcpConv<'_>, steps: &[(&[u8], &[u8])]) {
    s.server_sends(POP3_GREETING);
    for (client, server) in steps {
        s.client_sends(client).server_sends(server);
    }
    s.client_sends(b"QUIT\r\n").server_sends(b"+OK Bye\r\n");
}

fn pop3_plain(s: &mut TcpConv<'_>, message: &[u8]) {
    let line = format!("AUTH PLAIN {}\r\n", b64(message));
    pop3(
        s,
        &[(line.as_bytes(), b"+OK User successfully authenticated.\r\n")],
    );
}

/// A bind request, its success, and an unbind. `auth` is the AuthenticationChoice.
fn ldap_bind(s: &mut TcpConv<'_>, name: &str, auth: &[u8]) {
    let bind = ber(
        0x60,
        &[&[0x02, 0x01, 0x03][..], &ber(0x04, name.as_bytes()), auth].concat(),
    );
    let success = [0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
    s.client_sends(&ldap_message(1, &bind))
        .server_sends(&ldap_message(1, &success))
        .client_sends(&ldap_message(2, &[0x42, 0x00]));
}

/// RFC 4511 §4.2: sasl [3] SaslCredentials { mechanism, credentials }.
fn ldap_sasl(s: &mut TcpConv<'_>, mechanism: &str, credentials: &[u8]) {
    let sasl = ber(
        0xa3,
        &[ber(0x04, mechanism.as_bytes()), ber(0x04, credentials)].concat(),
    );
    ldap_bind(s, "", &sasl);
}

/// One HTTP request (all of it: request line, headers, body) and a short answer.
fn http(s: &mut TcpConv<'_>, request: &str, status: &str) {
    s.client_sends(request.as_bytes())
        .server_sends(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes());
}

/// Outlook on the web's logon form, as a browser posts it.
fn owa_form(user: &str, secret: &str) -> String {
    let body = format!(
        "destination=http%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0\
         &username=contoso%5C{user}&password={secret}&passwordText=&isUtf8=1"
    );
    format!(
        "POST /owa/auth.owa HTTP/1.1\r\nHost: mail.contoso.com\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Every kind of login, by protocol. Secrets must be made of URL-unreserved characters
/// (RFC 3986 §2.3) so that every conversation carries them as they are.
pub const ALL: &[Login] = &[
    Login {
        name: "smtp-plain",
        port: 587,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| smtp_plain(s, format!("\0{u}\0{p}").as_bytes()),
    },
    Login {
        name: "smtp-plain-two-fields",
        port: 587,
        expect: CLEAR_NOBODY,
        conversation: |s, u, p| smtp_plain(s, format!("{u}\0{p}").as_bytes()),
    },
    Login {
        name: "smtp-login",
        port: 587,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| smtp_login(s, u, p, false),
    },
    Login {
        name: "smtp-login-password-first",
        port: 587,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| smtp_login(s, u, p, true),
    },
    Login {
        name: "smtp-login-initial-response",
        port: 587,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let cmd = format!("AUTH LOGIN {}\r\n", b64(u.as_bytes()));
            let pw = format!("{}\r\n", b64(p.as_bytes()));
            let ask = format!("334 {PASSWORD_PROMPT}\r\n");
            smtp(
                s,
                &[
                    (cmd.as_bytes(), ask.as_bytes()),
                    (pw.as_bytes(), b"235 2.7.0 Authentication successful\r\n"),
                ],
            );
        },
    },
    Login {
        name: "smtp-xoauth2",
        port: 587,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let ir = b64(format!("user={u}@contoso.com\x01auth=Bearer {p}\x01\x01").as_bytes());
            let cmd = format!("AUTH XOAUTH2 {ir}\r\n");
            smtp(
                s,
                &[(cmd.as_bytes(), b"235 2.7.0 Authentication successful\r\n")],
            );
        },
    },
    Login {
        name: "smtp-cram-md5",
        port: 587,
        expect: Expect {
            clear: false,
            named: true,
        },
        conversation: |s, u, p| smtp_cram(s, &format!("{u} {}", cram_digest(p))),
    },
    Login {
        name: "smtp-cram-md5-digest-alone",
        port: 587,
        expect: Expect {
            clear: false,
            named: false,
        },
        conversation: |s, _, p| smtp_cram(s, p),
    },
    Login {
        name: "imap-login",
        port: 143,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let cmd = format!("a1 LOGIN {u} \"{p}\"\r\n");
            imap(s, &[(cmd.as_bytes(), b"a1 OK LOGIN completed.\r\n")]);
        },
    },
    Login {
        name: "imap-login-literals",
        port: 143,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let first = format!("a1 LOGIN {{{}}}\r\n", u.len());
            let second = format!("{u} {{{}}}\r\n", p.len());
            let third = format!("{p}\r\n");
            imap(
                s,
                &[
                    (
                        first.as_bytes(),
                        b"+ Ready for additional command text.\r\n",
                    ),
                    (
                        second.as_bytes(),
                        b"+ Ready for additional command text.\r\n",
                    ),
                    (third.as_bytes(), b"a1 OK LOGIN completed.\r\n"),
                ],
            );
        },
    },
    Login {
        name: "imap-login-one-argument",
        port: 143,
        expect: CLEAR_NOBODY,
        conversation: |s, _, p| {
            let cmd = format!("a1 LOGIN \"{p}\"\r\n");
            imap(
                s,
                &[(cmd.as_bytes(), b"a1 BAD Command Argument Error.\r\n")],
            );
        },
    },
    Login {
        name: "imap-authenticate-plain",
        port: 143,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| imap_plain(s, format!("\0{u}\0{p}").as_bytes()),
    },
    Login {
        name: "imap-authenticate-plain-two-fields",
        port: 143,
        expect: CLEAR_NOBODY,
        conversation: |s, u, p| imap_plain(s, format!("{u}\0{p}").as_bytes()),
    },
    Login {
        name: "imap-authenticate-login-password-first",
        port: 143,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let pw = format!("{}\r\n", b64(p.as_bytes()));
            let user = format!("{}\r\n", b64(u.as_bytes()));
            let ask_user = format!("+ {USERNAME_PROMPT}\r\n");
            let ask_pw = format!("+ {PASSWORD_PROMPT}\r\n");
            imap(
                s,
                &[
                    (b"a1 AUTHENTICATE LOGIN\r\n", ask_pw.as_bytes()),
                    (pw.as_bytes(), ask_user.as_bytes()),
                    (user.as_bytes(), b"a1 OK AUTHENTICATE completed.\r\n"),
                ],
            );
        },
    },
    Login {
        name: "imap-oauthbearer",
        port: 143,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let ir = b64(format!(
                "n,a={u}@contoso.com,\x01host=mail.contoso.com\x01port=143\x01auth=Bearer {p}\x01\x01"
            )
            .as_bytes());
            let cmd = format!("a1 AUTHENTICATE OAUTHBEARER {ir}\r\n");
            imap(s, &[(cmd.as_bytes(), b"a1 OK AUTHENTICATE completed.\r\n")]);
        },
    },
    Login {
        name: "pop3-user-pass",
        port: 110,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let user = format!("USER {u}\r\n");
            let pass = format!("PASS {p}\r\n");
            pop3(
                s,
                &[
                    (user.as_bytes(), b"+OK\r\n"),
                    (pass.as_bytes(), b"+OK User successfully logged on.\r\n"),
                ],
            );
        },
    },
    Login {
        name: "pop3-auth-plain",
        port: 110,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| pop3_plain(s, format!("\0{u}\0{p}").as_bytes()),
    },
    Login {
        name: "pop3-auth-plain-two-fields",
        port: 110,
        expect: CLEAR_NOBODY,
        conversation: |s, u, p| pop3_plain(s, format!("{u}\0{p}").as_bytes()),
    },
    Login {
        name: "ldap-simple",
        port: 389,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let dn = format!("CN={u},CN=Users,DC=contoso,DC=com");
            ldap_bind(s, &dn, &ber(0x80, p.as_bytes()));
        },
    },
    Login {
        name: "ldap-sasl-plain",
        port: 389,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| ldap_sasl(s, "PLAIN", format!("\0{u}\0{p}").as_bytes()),
    },
    Login {
        name: "ldap-sasl-plain-two-fields",
        port: 389,
        expect: CLEAR_NOBODY,
        conversation: |s, u, p| ldap_sasl(s, "PLAIN", format!("{u}\0{p}").as_bytes()),
    },
    Login {
        name: "http-basic",
        port: 80,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let creds = b64(format!("{u}:{p}").as_bytes());
            let req = format!(
                "GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\n\
                 Authorization: Basic {creds}\r\n\r\n"
            );
            http(s, &req, "200 OK");
        },
    },
    Login {
        name: "http-basic-without-colon",
        port: 80,
        expect: CLEAR_NOBODY,
        conversation: |s, _, p| {
            let req = format!(
                "GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\n\
                 Authorization: Basic {}\r\n\r\n",
                b64(p.as_bytes())
            );
            http(s, &req, "401 Unauthorized");
        },
    },
    Login {
        name: "http-bearer",
        port: 80,
        expect: CLEAR_NOBODY,
        conversation: |s, _, p| {
            let req = format!(
                "GET /Microsoft-Server-ActiveSync?Cmd=Ping HTTP/1.1\r\n\
                 Host: mail.contoso.com\r\nAuthorization: Bearer {p}\r\n\r\n"
            );
            http(s, &req, "200 OK");
        },
    },
    Login {
        name: "http-url-userinfo",
        port: 80,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| {
            let req = format!(
                "GET http://{u}:{p}@mail.contoso.com/owa/ HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n"
            );
            http(s, &req, "302 Found");
        },
    },
    Login {
        name: "http-owa-form",
        port: 80,
        expect: CLEAR_NAMED,
        conversation: |s, u, p| http(s, &owa_form(u, p), "302 Found"),
    },
    Login {
        name: "http-owa-session-cookie",
        port: 80,
        expect: CLEAR_NOBODY,
        conversation: |s, _, p| {
            let req = format!(
                "GET /owa/ HTTP/1.1\r\nHost: mail.contoso.com\r\n\
                 Cookie: X-OWA-CANARY=x1; cadata=\"{p}\"; cadataKey=k; cadataIV=i; cadataSig=s\r\n\r\n"
            );
            http(s, &req, "200 OK");
        },
    },
];
