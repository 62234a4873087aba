//! The clear-text inspectors (SMTP, IMAP4, POP3, HTTP) on the real captures of
//! `../shared/pcaps/`, checked against the facts its README states. Passwords are never written
//! here: where a capture carries one, the test reads it from the capture at run time and checks
//! that no output holds it.

use base64::Engine as _;
use exaudit::flow::{ConnState, FlowRecord};
use exaudit::inspect::{self, Detail, Evidence, Fact, Mechanism, Outcome, Protection, Service};

use super::common::{evidence, goes};

fn flow<'a>(
    all: &'a [(FlowRecord, Evidence)],
    orig: &str,
    resp: &str,
) -> &'a (FlowRecord, Evidence) {
    all.iter()
        .find(|(f, _)| goes(f, orig, resp))
        .unwrap_or_else(|| panic!("no flow {orig} -> {resp}"))
}

/// Everything an output could show: the evidence's Debug form and the JSON of the detail and
/// the authentications.
fn render(ev: &Evidence) -> String {
    let detail = match &ev.detail {
        Detail::Smtp(d) => serde_json::to_string(d).unwrap(),
        Detail::Imap(d) => serde_json::to_string(d).unwrap(),
        Detail::Pop3(d) => serde_json::to_string(d).unwrap(),
        Detail::Http(d) => serde_json::to_string(d).unwrap(),
        _ => String::new(),
    };
    format!(
        "{ev:?}\n{detail}\n{}",
        serde_json::to_string(&ev.auth).unwrap()
    )
}

/// The client line after the line starting with `after` (skipping `skip` lines), as the capture
/// holds it.
fn client_line(rec: &FlowRecord, after: &str, skip: usize) -> String {
    let text = String::from_utf8_lossy(rec.orig_payload.bytes()).into_owned();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let at = lines
        .iter()
        .position(|l| l.to_ascii_uppercase().starts_with(after))
        .unwrap_or_else(|| panic!("no {after} line"));
    lines[at + 1 + skip].to_owned()
}

/// The secret must not show in clear, base64 or hex.
fn assert_hidden(out: &str, secret: &[u8]) {
    assert!(secret.len() >= 3, "too short to test: {}", secret.len());
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let clear = String::from_utf8_lossy(secret).into_owned();
    for form in [
        clear,
        b64.trim_end_matches('=').to_owned(),
        hex.clone(),
        hex.to_uppercase(),
    ] {
        assert!(!out.contains(&form), "output shows a secret");
    }
}

fn b64_decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

fn smtp(ev: &Evidence) -> &inspect::smtp::Smtp {
    match &ev.detail {
        Detail::Smtp(d) => d,
        d => panic!("not SMTP: {d:?}"),
    }
}

fn imap(ev: &Evidence) -> &inspect::imap::Imap {
    match &ev.detail {
        Detail::Imap(d) => d,
        d => panic!("not IMAP: {d:?}"),
    }
}

fn pop3(ev: &Evidence) -> &inspect::pop3::Pop3 {
    match &ev.detail {
        Detail::Pop3(d) => d,
        d => panic!("not POP3: {d:?}"),
    }
}

fn http(ev: &Evidence) -> &inspect::http::Http {
    match &ev.detail {
        Detail::Http(d) => d,
        d => panic!("not HTTP: {d:?}"),
    }
}

/// The upgrade points at the client's TLS ClientHello.
fn upgrade_reaches_tls(rec: &FlowRecord, ev: &Evidence) {
    let up = ev.upgrade.expect("upgrade offsets");
    assert!(!up.anonymous);
    assert_eq!(
        rec.orig_payload.bytes().get(up.client_at),
        Some(&0x16),
        "ClientHello"
    );
    assert!(up.server_at <= rec.resp_payload.bytes().len());
}

#[test]
fn smtp_auth_login_in_clear() {
    let Some(all) = evidence("zeek-smtp-auth-login.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "10.10.1.4:1470", "74.53.140.153:25");
    assert_eq!(ev.service, Some(Service::Smtp));
    let d = smtp(ev);
    assert!(d.banner.as_deref().unwrap().contains("Exim 4.69"));
    assert_eq!(d.helo.as_deref(), Some("GP"));
    assert!(d.auth_mechanisms.iter().any(|m| m == "PLAIN"));
    assert!(d.auth_mechanisms.iter().any(|m| m == "LOGIN"));
    // Zeek: tls=F. The EHLO answer offered STARTTLS and the client went on with AUTH in clear.
    assert_eq!(d.starttls, None);
    assert!(d.starttls_offered);
    assert!(ev.facts.has(Fact::StarttlsOfferedNotUsed));
    assert_eq!(ev.protection, Protection::Clear);
    assert_eq!(ev.auth.len(), 1);
    let a = &ev.auth[0];
    assert_eq!(a.mechanism, Mechanism::Login);
    assert!(a.clear_credentials);
    assert_eq!(a.outcome, Outcome::Success, "235 Authentication succeeded");
    let user = b64_decode(&client_line(rec, "AUTH LOGIN", 0));
    assert_eq!(a.user.as_deref().map(str::as_bytes), Some(&user[..]));
    let password_line = client_line(rec, "AUTH LOGIN", 1);
    let out = render(ev);
    assert_hidden(&out, password_line.as_bytes());
    assert_hidden(&out, &b64_decode(&password_line));

    let (_, ev) = flow(&all, "192.168.133.100:49648", "192.168.133.102:25");
    let d = smtp(ev);
    assert!(d.banner.as_deref().unwrap().contains("SubEthaSMTP"));
    assert_eq!(d.helo.as_deref(), Some("[192.168.133.100]"));
    assert_eq!(d.rcpt_to, 3, "three RCPT TO");
    assert!(ev.auth.is_empty(), "no AUTH");
    assert_eq!(d.starttls, None);
    assert_eq!(ev.protection, Protection::Clear);
}

#[test]
fn smtp_submission_auth_login_without_starttls() {
    let Some(all) = evidence("sv-smtp-587-auth-login.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "192.168.1.4:3326", "217.12.11.66:587");
    let d = smtp(ev);
    assert_eq!(d.auth_mechanisms, ["LOGIN", "PLAIN", "XYMCOOKIE"]);
    assert!(!d.starttls_offered, "no STARTTLS offered");
    assert!(ev.facts.is_empty());
    assert_eq!(d.mail_from, 1);
    assert_eq!(ev.protection, Protection::Clear);
    let a = &ev.auth[0];
    assert_eq!((a.mechanism, a.clear_credentials), (Mechanism::Login, true));
    assert_eq!(a.outcome, Outcome::Success, "235 ok, go ahead");
    assert!(a.user.is_some());
    let password_line = client_line(rec, "AUTH LOGIN", 1);
    let out = render(ev);
    assert_hidden(&out, password_line.as_bytes());
    assert_hidden(&out, &b64_decode(&password_line));
}

#[test]
fn smtp_starttls_accepted() {
    let Some(all) = evidence("zeek-smtp-starttls.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "192.168.4.149:54170", "74.125.142.26:25");
    let d = smtp(ev);
    assert!(d.starttls_offered);
    assert_eq!(d.starttls, Some(inspect::smtp::UpgradeResult::Accepted));
    assert_eq!(
        d.last_reply.as_deref(),
        Some("220 2.0.0 Ready to start TLS")
    );
    assert_eq!(ev.protection, Protection::Starttls);
    assert!(ev.facts.is_empty());
    upgrade_reaches_tls(rec, ev);
}

#[test]
fn smtp_cut_by_the_snaplen_is_unknown() {
    let Some(all) = evidence("zeek-smtp-snaplen68.pcap") else {
        return;
    };
    let smtp_flows: Vec<_> = all
        .iter()
        .filter(|(f, _)| f.resp.1 == 25 || f.orig.1 == 25)
        .collect();
    assert!(!smtp_flows.is_empty());
    for (rec, ev) in smtp_flows {
        assert!(rec.truncated);
        assert_ne!(ev.protection, Protection::Clear);
        assert_eq!(ev.protection, Protection::Unknown);
        assert!(ev.auth.is_empty());
        assert!(ev.facts.is_empty());
    }
}

#[test]
fn smtp_banner_answering_a_client_hello() {
    let Some(all) = evidence("sv-smtp-465-tls-vs-plain-banner.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "10.11.21.101:62353", "46.41.156.4:465");
    // The client spoke TLS: the TLS inspector owns the flow, and nothing says it ran in clear.
    assert_ne!(ev.protection, Protection::Clear);
    // The SMTP side: the server's clear banner.
    let mut smtp_ev = Evidence::default();
    assert!(inspect::smtp::inspect(&inspect::input(rec), &mut smtp_ev));
    assert_eq!(smtp_ev.service, Some(Service::Smtp));
    assert_eq!(
        smtp(&smtp_ev).banner.as_deref(),
        Some("poczta.home-whs.pl ESMTP")
    );
    assert_eq!(smtp_ev.protection, Protection::Unknown);
    assert!(smtp_ev.auth.is_empty());
}

#[test]
fn imap_login_in_clear() {
    let Some(all) = evidence("sv-imap-login-plain.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "131.151.32.21:4167", "131.151.37.122:143");
    assert_eq!(ev.service, Some(Service::Imap));
    assert_eq!(ev.protection, Protection::Clear);
    let d = imap(ev);
    assert_eq!(d.starttls, None, "no STARTTLS");
    assert!(!d.starttls_offered);
    assert_eq!(ev.auth.len(), 1);
    let a = &ev.auth[0];
    assert_eq!(
        (a.mechanism, a.clear_credentials),
        (Mechanism::Password, true)
    );
    assert_eq!(a.outcome, Outcome::Success, "OK LOGIN completed");
    // `a0001 LOGIN user password`: the user is kept, the password (XXXXXX in the capture) not.
    let text = String::from_utf8_lossy(rec.orig_payload.bytes()).into_owned();
    let login = text.lines().find(|l| l.contains(" LOGIN ")).unwrap();
    let mut words = login.split(' ').skip(2);
    let (user, password) = (words.next().unwrap(), words.next().unwrap());
    assert_eq!(a.user.as_deref(), Some(user.trim_matches('"')));
    assert_hidden(&render(ev), password.trim_matches('"').as_bytes());
}

#[test]
fn imap_starttls_accepted() {
    let Some(all) = evidence("zeek-imap-starttls.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "192.168.17.53:49640", "212.227.17.186:143");
    let d = imap(ev);
    assert!(d.starttls_offered);
    assert_eq!(d.starttls, Some(inspect::smtp::UpgradeResult::Accepted));
    assert_eq!(ev.protection, Protection::Starttls);
    assert!(ev.auth.is_empty());
    upgrade_reaches_tls(rec, ev);
}

#[test]
fn pop3_user_pass_in_clear() {
    let Some(all) = evidence("sv-pop3-user-pass.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "10.4.20.103:49860", "74.208.5.11:110");
    assert_eq!(ev.service, Some(Service::Pop3));
    assert_eq!(ev.protection, Protection::Clear);
    let d = pop3(ev);
    assert_eq!(d.stls, None, "no STLS");
    let a = &ev.auth[0];
    assert_eq!(
        (a.mechanism, a.clear_credentials),
        (Mechanism::Password, true)
    );
    assert_eq!(
        a.outcome,
        Outcome::Success,
        "+OK mailbox … has 2108 messages"
    );
    let text = String::from_utf8_lossy(rec.orig_payload.bytes()).into_owned();
    let user = text.lines().find_map(|l| l.strip_prefix("USER ")).unwrap();
    let password = text.lines().find_map(|l| l.strip_prefix("PASS ")).unwrap();
    assert_eq!(a.user.as_deref(), Some(user.trim()));
    // In this capture the password is a part of the user name, which may be kept: look for it
    // everywhere but there.
    let out = render(ev).replace(user.trim(), "<user>");
    assert_hidden(&out, password.trim().as_bytes());
}

#[test]
fn pop3_stls_accepted_on_loopback() {
    let Some(all) = evidence("zeek-pop3-starttls-null.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "192.168.4.149:54775", "192.168.4.149:110");
    assert_eq!(pop3(ev).stls, Some(inspect::smtp::UpgradeResult::Accepted));
    assert_eq!(ev.protection, Protection::Starttls);
    upgrade_reaches_tls(rec, ev);
}

#[test]
fn http_basic_auth_in_clear() {
    let Some(all) = evidence("zeek-http-basic-auth-rawip4.pcap") else {
        return;
    };
    let (rec, ev) = flow(&all, "172.24.133.205:43090", "172.24.133.205:8000");
    assert_eq!(ev.service, Some(Service::Http));
    assert_eq!(ev.protection, Protection::Clear);
    let r = &http(ev).requests[0];
    assert_eq!(
        (r.method.as_deref(), r.uri.as_deref()),
        (Some("GET"), Some("/"))
    );
    assert_eq!(r.status_code, Some(200));
    let a = &ev.auth[0];
    assert_eq!((a.mechanism, a.clear_credentials), (Mechanism::Basic, true));
    assert_eq!(a.user.as_deref(), Some("test"), "Zeek's username");
    assert_eq!(a.outcome, Outcome::Success);
    // The password holds a colon; neither it nor the header's base64 may show.
    let text = String::from_utf8_lossy(rec.orig_payload.bytes()).into_owned();
    let header = text
        .lines()
        .find_map(|l| l.strip_prefix("Authorization: Basic "))
        .unwrap();
    let decoded = b64_decode(header);
    let colon = decoded.iter().position(|&b| b == b':').unwrap();
    let out = render(ev);
    assert_hidden(&out, header.trim().as_bytes());
    assert_hidden(&out, &decoded[colon + 1..]);
}

#[test]
fn http_ntlm_through_a_gre_mirror() {
    let Some(all) = evidence("zeek-http-ntlm-gre-teb.pcap") else {
        return;
    };
    let (_, ev) = flow(&all, "192.168.69.10:49162", "192.168.69.2:80");
    let d = http(ev);
    assert_eq!(d.requests[0].status_code, Some(401), "401 + CHALLENGE");
    assert_eq!(d.requests[0].auth, Some(Mechanism::Ntlm));
    assert!(d.www_authenticate.iter().any(|s| s == "NTLM"));
    let a = &ev.auth[0];
    assert_eq!(a.mechanism, Mechanism::Ntlm);
    assert_eq!(a.user.as_deref(), Some("administrator"));
    assert_eq!(a.domain.as_deref(), Some("sp"));
    assert!(!a.clear_credentials);
    let ntlm = ev.ntlm.as_ref().unwrap();
    assert_eq!(ntlm.message, inspect::auth::NtlmMessage::Authenticate);
    assert_eq!(ntlm.host.as_deref(), Some("STEVE-PC"));
    // Five flows 49162–49166 to the SharePoint server, all HTTP; three more NEGOTIATEs.
    let web: Vec<_> = all.iter().filter(|(f, _)| f.resp.1 == 80).collect();
    assert_eq!(web.len(), 5);
    assert!(web.iter().all(|(_, ev)| ev.service == Some(Service::Http)));
    let negotiates = web
        .iter()
        .filter(|(_, ev)| {
            ev.ntlm
                .as_ref()
                .is_some_and(|n| n.message == inspect::auth::NtlmMessage::Negotiate)
        })
        .count();
    assert_eq!(negotiates, 3);
}

#[test]
fn http_under_three_vlan_tags() {
    let Some(all) = evidence("zeek-vlan-qinqinq-http.pcap") else {
        return;
    };
    let (_, ev) = flow(&all, "141.142.228.5:59856", "192.150.187.43:80");
    let r = &http(ev).requests[0];
    assert_eq!(r.method.as_deref(), Some("GET"));
    assert_eq!(r.uri.as_deref(), Some("/download/CHANGES.bro-aux.txt"));
    assert_eq!(ev.protection, Protection::Clear);
}

#[test]
fn http_requests_of_the_wikipedia_trace() {
    let Some(all) = evidence("zeek-wikipedia-conn-states.pcap") else {
        return;
    };
    // Zeek: 8 S1 tcp http flows, and an OTH flow (history DdA) that carries data to port 80.
    let s1: Vec<_> = all
        .iter()
        .filter(|(f, _)| f.conn_state == ConnState::S1 && f.resp.1 == 80)
        .collect();
    assert_eq!(s1.len(), 8);
    for (_, ev) in &s1 {
        assert_eq!(ev.service, Some(Service::Http));
        assert!(
            http(ev)
                .requests
                .iter()
                .all(|r| r.method.as_deref() == Some("GET"))
        );
        assert_eq!(ev.protection, Protection::Clear);
    }
    let (_, ev) = flow(&all, "141.142.220.118:35634", "208.80.152.2:80");
    assert_eq!(ev.service, Some(Service::Http));
    // The other OTH flow has no payload at all: nothing is claimed for it.
    let (_, ev) = flow(&all, "141.142.220.235:6705", "173.192.163.128:80");
    assert_eq!(ev.service, None);
    assert_eq!(ev.protection, Protection::Unknown);
    // No DNS or multicast flow is taken for one of these protocols.
    let text_services = [Service::Smtp, Service::Imap, Service::Pop3, Service::Http];
    let others = all
        .iter()
        .filter(|(f, ev)| f.resp.1 != 80 && ev.service.is_some_and(|s| text_services.contains(&s)))
        .count();
    assert_eq!(others, 0);
}
