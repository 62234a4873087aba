//! Conversations built byte by byte: every fact, mechanism and protection the SMB inspector
//! sets, a near miss for each, every truncation of a good conversation, and arbitrary bytes.

use proptest::prelude::*;

use super::*;
use crate::inspect::dcerpc::tests::{
    kerberos_token, ntlm_authenticate, ntlm_challenge, ntlm_negotiate, spnego,
};
use crate::inspect::{Detail, MAX_AUTH};

/// A session message frame (MS-SMB2 2.1).
fn nb(frame: &[u8]) -> Vec<u8> {
    let len = u32::try_from(frame.len()).unwrap().to_be_bytes();
    [&[0, len[1], len[2], len[3]][..], frame].concat()
}

struct H {
    command: u16,
    response: bool,
    signed: bool,
    status: u32,
    message_id: u64,
    session_id: u64,
    next: u32,
}

fn h(command: u16, response: bool, message_id: u64, session_id: u64) -> H {
    H {
        command,
        response,
        signed: false,
        status: 0,
        message_id,
        session_id,
        next: 0,
    }
}

impl H {
    fn signed(mut self) -> Self {
        self.signed = true;
        self
    }
    fn status(mut self, s: u32) -> Self {
        self.status = s;
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut v = SMB2_MAGIC.to_vec();
        v.extend_from_slice(&64u16.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes()); // credit charge
        v.extend_from_slice(&self.status.to_le_bytes());
        v.extend_from_slice(&self.command.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes()); // credits
        let flags = u32::from(self.response) | if self.signed { FLAG_SIGNED } else { 0 };
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend_from_slice(&self.next.to_le_bytes());
        v.extend_from_slice(&self.message_id.to_le_bytes());
        v.extend_from_slice(&[0; 4]); // reserved
        v.extend_from_slice(&1u32.to_le_bytes()); // tree id
        v.extend_from_slice(&self.session_id.to_le_bytes());
        v.extend_from_slice(&[if self.signed { 0xab } else { 0 }; 16]);
        assert_eq!(v.len(), 64);
        v
    }
}

fn negotiate_req(dialects: &[u16], mode: u16) -> Vec<u8> {
    let mut b = h(NEGOTIATE, false, 0, 0).bytes();
    b.extend_from_slice(&36u16.to_le_bytes());
    b.extend_from_slice(&u16::try_from(dialects.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&mode.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&0x7fu32.to_le_bytes());
    b.extend_from_slice(&[0x42; 16]);
    b.extend_from_slice(&[0; 8]);
    for d in dialects {
        b.extend_from_slice(&d.to_le_bytes());
    }
    nb(&b)
}

/// A NEGOTIATE response; for 3.1.1 one ENCRYPTION_CAPABILITIES context naming `cipher`.
fn negotiate_resp(dialect: u16, mode: u16, caps: u32, cipher: Option<u16>) -> Vec<u8> {
    let mut b = h(NEGOTIATE, true, 0, 0).bytes();
    let hint = spnego(&[]);
    b.extend_from_slice(&65u16.to_le_bytes());
    b.extend_from_slice(&mode.to_le_bytes());
    b.extend_from_slice(&dialect.to_le_bytes());
    b.extend_from_slice(&u16::from(cipher.is_some()).to_le_bytes());
    b.extend_from_slice(&[0x24; 16]);
    b.extend_from_slice(&caps.to_le_bytes());
    b.extend_from_slice(&[0; 12]); // max transact / read / write
    b.extend_from_slice(&[0; 16]); // times
    b.extend_from_slice(&128u16.to_le_bytes());
    b.extend_from_slice(&u16::try_from(hint.len()).unwrap().to_le_bytes());
    let ctx_at = (128 + hint.len()).div_ceil(8) * 8;
    let ctx_off = if cipher.is_some() { ctx_at } else { 0 };
    b.extend_from_slice(&u32::try_from(ctx_off).unwrap().to_le_bytes());
    assert_eq!(b.len(), 128);
    b.extend_from_slice(&hint);
    if let Some(c) = cipher {
        b.resize(ctx_at, 0);
        // A preauth context first, to be skipped, then the cipher.
        b.extend_from_slice(&[1, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0]);
        b.resize(b.len().div_ceil(8) * 8, 0);
        b.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 1, 0]);
        b.extend_from_slice(&c.to_le_bytes());
        // The response advertised one context; the preauth one makes two.
        b[64 + 6] = 2;
    }
    nb(&b)
}

fn setup_req(message_id: u64, session_id: u64, blob: &[u8]) -> Vec<u8> {
    let mut b = h(SESSION_SETUP, false, message_id, session_id).bytes();
    b.extend_from_slice(&25u16.to_le_bytes());
    b.extend_from_slice(&[0, 1]);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&88u16.to_le_bytes());
    b.extend_from_slice(&u16::try_from(blob.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(blob);
    nb(&b)
}

fn setup_resp(hd: H, flags: u16, blob: &[u8]) -> Vec<u8> {
    let mut b = hd.bytes();
    b.extend_from_slice(&9u16.to_le_bytes());
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&72u16.to_le_bytes());
    b.extend_from_slice(&u16::try_from(blob.len()).unwrap().to_le_bytes());
    b.extend_from_slice(blob);
    nb(&b)
}

fn tree_req(hd: H, path: &str) -> Vec<u8> {
    let p: Vec<u8> = path.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut b = hd.bytes();
    b.extend_from_slice(&9u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&72u16.to_le_bytes());
    b.extend_from_slice(&u16::try_from(p.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&p);
    nb(&b)
}

fn tree_resp(hd: H, share_type: u8, share_flags: u32) -> Vec<u8> {
    let mut b = hd.bytes();
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(&[share_type, 0]);
    b.extend_from_slice(&share_flags.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&0x001f_01ffu32.to_le_bytes());
    nb(&b)
}

/// An encrypted message (MS-SMB2 2.2.41) of `len` ciphertext bytes.
fn transform(len: usize) -> Vec<u8> {
    let mut b = TRANSFORM_MAGIC.to_vec();
    b.extend_from_slice(&[0x5c; 32]);
    b.extend_from_slice(&u32::try_from(len).unwrap().to_le_bytes());
    b.extend_from_slice(&[0, 0, 1, 0]);
    b.extend_from_slice(&7u64.to_le_bytes());
    b.extend(std::iter::repeat_n(0x3c, len));
    nb(&b)
}

const SID: u64 = 0x0000_1000_0000_0009;

/// Negotiate 3.0, NTLM as SUSE\administrator, a signed tree connect to a share that requires
/// encryption, then encrypted messages.
fn smb3_conversation(signed: bool, share_flags: u32, encrypted: usize) -> (Vec<u8>, Vec<u8>) {
    let sig = |x: H| if signed { x.signed() } else { x };
    let mut client = [
        negotiate_req(&[0x0300], 1),
        setup_req(1, 0, &ntlm_negotiate()),
        setup_req(2, SID, &ntlm_authenticate(0x9c, "SUSE", "administrator")),
        tree_req(sig(h(TREE_CONNECT, false, 3, SID)), r"\\WS2016\encrypted"),
    ]
    .concat();
    let mut server = [
        negotiate_resp(0x0300, 3, 0x6f, None),
        setup_resp(
            h(SESSION_SETUP, true, 1, SID).status(STATUS_MORE_PROCESSING_REQUIRED),
            0,
            &ntlm_challenge("SUSE"),
        ),
        setup_resp(sig(h(SESSION_SETUP, true, 2, SID)), 0, &[]),
        tree_resp(sig(h(TREE_CONNECT, true, 3, SID)), 1, share_flags),
    ]
    .concat();
    for i in 0..encrypted {
        client.extend(transform(80 + i));
        server.extend(transform(90 + i));
    }
    (client, server)
}

fn run_with(client: &[u8], server: &[u8], cut: bool) -> (bool, Evidence) {
    let mut ev = Evidence::default();
    let input = Input {
        client,
        server,
        client_cut: cut,
        server_cut: cut,
        ..Input::default()
    };
    let mine = inspect(&input, &mut ev);
    (mine, ev)
}

fn run(client: &[u8], server: &[u8]) -> (bool, Evidence) {
    run_with(client, server, false)
}

fn detail(ev: &Evidence) -> &Smb {
    match &ev.detail {
        Detail::Smb(d) => d,
        other => panic!("no SMB detail: {other:?}"),
    }
}

#[test]
fn smb3_ntlm_then_transform_headers_is_encrypted() {
    let (c, s) = smb3_conversation(true, SHAREFLAG_ENCRYPT_DATA, 3);
    let (mine, ev) = run(&c, &s);
    assert!(mine);
    assert_eq!(ev.service, Some(Service::Smb));
    assert_eq!(ev.protection, Protection::SmbEncrypted);
    assert_eq!(ev.auth.len(), 1);
    let a = &ev.auth[0];
    assert_eq!(a.mechanism, Mechanism::Ntlm);
    assert_eq!(a.user.as_deref(), Some("administrator"));
    assert_eq!(a.domain.as_deref(), Some("SUSE"));
    assert_eq!(a.outcome, Outcome::Success);
    assert!(!ev.facts.has(Fact::AnonymousAccess));
    assert!(!ev.facts.has(Fact::Malformed));
    let d = detail(&ev);
    assert_eq!(d.dialects, [Dialect(0x0300)]);
    assert_eq!(d.dialect, Some(Dialect(0x0300)));
    assert_eq!(d.client_signing, Some(Signing::Enabled));
    assert_eq!(d.server_signing, Some(Signing::Required));
    assert!(d.encryption_capable);
    assert_eq!(d.encrypted, 6);
    assert_eq!(d.signed, 3);
    assert_eq!(d.trees.len(), 1);
    assert_eq!(d.trees[0].path.as_deref(), Some(r"\\WS2016\encrypted"));
    assert_eq!(d.trees[0].share_type, Some(ShareType::Disk));
    assert!(d.trees[0].encrypt);
}

#[test]
fn share_or_session_encryption_without_transforms_is_encrypted() {
    // The capture stops before the first encrypted message; the server required encryption.
    let (c, s) = smb3_conversation(true, SHAREFLAG_ENCRYPT_DATA, 0);
    assert_eq!(run(&c, &s).1.protection, Protection::SmbEncrypted);
    let (c, _) = smb3_conversation(true, 0, 0);
    let s = [
        negotiate_resp(0x0300, 1, 0x6f, None),
        setup_resp(
            h(SESSION_SETUP, true, 2, SID),
            SESSION_FLAG_ENCRYPT_DATA,
            &[],
        ),
    ]
    .concat();
    let (_, ev) = run(&c, &s);
    assert_eq!(ev.protection, Protection::SmbEncrypted);
    assert!(detail(&ev).encrypt_data);
}

#[test]
fn signed_without_encryption_is_signed() {
    let (c, s) = smb3_conversation(true, 0, 0);
    let (_, ev) = run(&c, &s);
    assert_eq!(ev.protection, Protection::SmbSigned);
    assert!(!detail(&ev).trees[0].encrypt);
}

#[test]
fn unsigned_session_is_clear_even_when_cut() {
    let (c, s) = smb3_conversation(false, 0, 0);
    let (_, ev) = run_with(&c, &s, true);
    assert_eq!(ev.protection, Protection::Clear);
    assert_eq!(detail(&ev).signed, 0);
    // Near miss: cut before anything ran in the session, nothing is known.
    let c2 = [
        negotiate_req(&[0x0300], 1),
        setup_req(1, 0, &ntlm_negotiate()),
    ]
    .concat();
    let s2 = negotiate_resp(0x0300, 1, 0, None);
    assert_eq!(run_with(&c2, &s2, true).1.protection, Protection::Unknown);
    // … and the same conversation seen whole ran in clear.
    assert_eq!(run(&c2, &s2).1.protection, Protection::Clear);
}

#[test]
fn guest_and_null_sessions_are_anonymous() {
    for (flag, guest) in [(SESSION_FLAG_IS_GUEST, true), (SESSION_FLAG_IS_NULL, false)] {
        let c = setup_req(1, 0, &ntlm_authenticate(70, "D", "visitor"));
        let s = setup_resp(h(SESSION_SETUP, true, 1, SID), flag, &[]);
        let (_, ev) = run(&c, &s);
        assert!(ev.facts.has(Fact::AnonymousAccess));
        assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
        assert_eq!(ev.auth[0].outcome, Outcome::Success);
        let d = detail(&ev);
        assert_eq!((d.guest, d.null_session), (guest, !guest));
    }
    // NTLM anonymous AUTHENTICATE.
    let c = setup_req(1, 0, &ntlm_authenticate(0, "", ""));
    let (_, ev) = run(&c, &[]);
    assert!(ev.facts.has(Fact::AnonymousAccess));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
    // Near miss: an ordinary session.
    let c = setup_req(1, 0, &ntlm_authenticate(70, "D", "u"));
    let s = setup_resp(h(SESSION_SETUP, true, 1, SID), 0, &[]);
    let (_, ev) = run(&c, &s);
    assert!(!ev.facts.has(Fact::AnonymousAccess));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
}

#[test]
fn kerberos_session_and_logon_failure() {
    let c = setup_req(1, 0, &spnego(&kerberos_token()));
    let s = setup_resp(h(SESSION_SETUP, true, 1, SID).status(0xc000_006d), 0, &[]);
    let (_, ev) = run(&c, &s);
    assert_eq!(ev.auth[0].mechanism, Mechanism::Kerberos);
    assert_eq!(ev.auth[0].outcome, Outcome::Failure);
    assert!(!ev.facts.has(Fact::NtlmV1));
}

#[test]
fn ntlm_v1_session_is_a_fact() {
    let c = [
        setup_req(1, 0, &ntlm_negotiate()),
        setup_req(2, SID, &ntlm_authenticate(24, "D", "u")),
    ]
    .concat();
    assert!(run(&c, &[]).1.facts.has(Fact::NtlmV1));
}

#[test]
fn smb311_cipher_context_is_read() {
    let c = negotiate_req(&[0x0202, 0x0210, 0x0300, 0x0302, 0x0311], 1);
    let s = negotiate_resp(0x0311, 1, 0x2f, Some(2));
    let (_, ev) = run(&c, &s);
    let d = detail(&ev);
    assert_eq!(d.dialects.len(), 5);
    assert_eq!(d.dialect, Some(Dialect(0x0311)));
    assert_eq!(d.cipher, Some(Cipher(2)));
    assert!(d.encryption_capable);
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["cipher"], "aes-128-gcm");
    assert_eq!(
        json["dialects"],
        serde_json::json!(["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"])
    );
    // Near miss: no cipher in common, no encryption capability.
    let (_, ev) = run(&c, &negotiate_resp(0x0311, 1, 0x2f, Some(0)));
    assert!(!detail(&ev).encryption_capable);
    assert_eq!(detail(&ev).cipher, Some(Cipher(0)));
}

/// An SMB1 message (MS-CIFS 2.2.3.1).
fn smb1_msg(
    command: u8,
    reply: bool,
    flags2: u16,
    uid: u16,
    mid: u16,
    words: &[u8],
    bytes: &[u8],
) -> Vec<u8> {
    let mut b = SMB1_MAGIC.to_vec();
    b.push(command);
    b.extend_from_slice(&[0; 4]);
    b.push(if reply { 0x98 } else { 0x18 });
    b.extend_from_slice(&flags2.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&[0xff, 0xff]);
    b.extend_from_slice(&[0x01, 0x00]);
    b.extend_from_slice(&uid.to_le_bytes());
    b.extend_from_slice(&mid.to_le_bytes());
    assert_eq!(b.len(), 32);
    b.push(u8::try_from(words.len() / 2).unwrap());
    b.extend_from_slice(words);
    b.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_le_bytes());
    b.extend_from_slice(bytes);
    nb(&b)
}

fn smb1_negotiate_req() -> Vec<u8> {
    let mut dialects = Vec::new();
    for d in [
        "PC NETWORK PROGRAM 1.0",
        "NT LM 0.12",
        "SMB 2.002",
        "SMB 2.???",
    ] {
        dialects.push(2);
        dialects.extend_from_slice(d.as_bytes());
        dialects.push(0);
    }
    smb1_msg(SMB1_COM_NEGOTIATE, false, 0xc853, 0, 1, &[], &dialects)
}

fn smb1_negotiate_resp(mode: u8) -> Vec<u8> {
    let mut words = vec![1, 0, mode];
    words.resize(34, 0);
    smb1_msg(SMB1_COM_NEGOTIATE, true, 0xc853, 0, 1, &words, &[0; 8])
}

#[test]
fn smb1_negotiate_upgraded_to_smb2() {
    let s = {
        let mut b = h(NEGOTIATE, true, 0, 0).bytes();
        b.extend_from_slice(&65u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0x02ffu16.to_le_bytes());
        nb(&b)
    };
    let (mine, ev) = run(&smb1_negotiate_req(), &s);
    assert!(mine);
    let d = detail(&ev);
    assert_eq!(
        d.smb1_dialects,
        [
            "PC NETWORK PROGRAM 1.0",
            "NT LM 0.12",
            "SMB 2.002",
            "SMB 2.???"
        ]
    );
    assert_eq!(d.smb1_dialect, None);
    assert_eq!(d.dialect, Some(Dialect(0x02ff)));
    assert_eq!(serde_json::to_value(d).unwrap()["dialect"], "2.???");
}

#[test]
fn smb1_session_with_extended_security() {
    let mut words = vec![0xff, 0, 0, 0];
    words.extend_from_slice(&[0; 10]);
    let blob = ntlm_authenticate(70, "CORP", "bob");
    words.extend_from_slice(&u16::try_from(blob.len()).unwrap().to_le_bytes());
    words.extend_from_slice(&[0; 8]);
    assert_eq!(words.len(), 24);
    let c = [
        smb1_negotiate_req(),
        smb1_msg(
            SMB1_COM_SESSION_SETUP_ANDX,
            false,
            0xc807,
            0,
            2,
            &words,
            &blob,
        ),
    ]
    .concat();
    let resp_words = [0xff, 0, 0, 0, 0, 0, 0, 0];
    let s = [
        smb1_negotiate_resp(0x0f),
        smb1_msg(
            SMB1_COM_SESSION_SETUP_ANDX,
            true,
            0xc807,
            0x800,
            2,
            &resp_words,
            &[],
        ),
    ]
    .concat();
    let (_, ev) = run(&c, &s);
    let d = detail(&ev);
    assert_eq!(d.smb1_dialect.as_deref(), Some("NT LM 0.12"));
    assert_eq!(d.server_signing, Some(Signing::Required));
    assert_eq!(d.smb1_messages, 4);
    assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
    assert_eq!(ev.auth[0].user.as_deref(), Some("bob"));
    assert_eq!(ev.auth[0].outcome, Outcome::Success);
    // Guest (Action bit 0).
    let guest = [0xff, 0, 0, 0, 1, 0, 0, 0];
    let s = [
        smb1_negotiate_resp(0x03),
        smb1_msg(
            SMB1_COM_SESSION_SETUP_ANDX,
            true,
            0xc807,
            0x800,
            2,
            &guest,
            &[],
        ),
    ]
    .concat();
    let (_, ev) = run(&c, &s);
    assert!(ev.facts.has(Fact::AnonymousAccess));
    assert!(detail(&ev).guest);
}

/// A 13-word SMB1 session setup: OEM and Unicode password lengths, then the account name.
fn smb1_legacy_setup(oem: usize, unicode: usize) -> Vec<u8> {
    let mut words = vec![0xff, 0, 0, 0];
    words.extend_from_slice(&[0; 10]);
    words.extend_from_slice(&u16::try_from(oem).unwrap().to_le_bytes());
    words.extend_from_slice(&u16::try_from(unicode).unwrap().to_le_bytes());
    words.extend_from_slice(&[0; 8]);
    assert_eq!(words.len(), 26);
    let mut bytes = vec![0x50; oem + unicode];
    bytes.extend_from_slice(b"alice\0WORKGROUP\0Unix\0Samba\0");
    smb1_msg(
        SMB1_COM_SESSION_SETUP_ANDX,
        false,
        0x0001,
        0,
        2,
        &words,
        &bytes,
    )
}

#[test]
fn smb1_plaintext_password_is_clear_credentials() {
    let c = [smb1_negotiate_req(), smb1_legacy_setup(8, 0)].concat();
    // SecurityMode 0x01: user level, passwords in plaintext.
    let (_, ev) = run(&c, &smb1_negotiate_resp(0x01));
    let a = &ev.auth[0];
    assert_eq!(a.mechanism, Mechanism::Password);
    assert!(a.clear_credentials);
    assert_eq!(a.user.as_deref(), Some("alice"));
    // The whole conversation unsigned and uncut: clear.
    assert_eq!(ev.protection, Protection::Clear);
    // Near miss: challenge/response with NTLMv1-sized answers.
    let c = [smb1_negotiate_req(), smb1_legacy_setup(24, 24)].concat();
    let (_, ev) = run(&c, &smb1_negotiate_resp(0x03));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
    assert!(!ev.auth[0].clear_credentials);
    assert!(ev.facts.has(Fact::NtlmV1));
    // Empty passwords: a null session.
    let c = [smb1_negotiate_req(), smb1_legacy_setup(0, 0)].concat();
    let (_, ev) = run(&c, &smb1_negotiate_resp(0x03));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
    assert!(ev.facts.has(Fact::AnonymousAccess));
}

#[test]
fn netbios_session_request_keepalives_and_compounds() {
    let mut req = vec![NBSS_SESSION_REQUEST, 0, 0, NBSS_SESSION_REQUEST_LEN];
    req.extend_from_slice(&[0x20; 68]);
    // A compound: TREE_CONNECT then a CREATE (0x05) in one frame.
    let mut first = h(TREE_CONNECT, false, 3, SID);
    first.next = 80;
    let mut t = first.bytes();
    t.extend_from_slice(&9u16.to_le_bytes());
    t.extend_from_slice(&[0; 2]);
    t.extend_from_slice(&72u16.to_le_bytes());
    t.extend_from_slice(&8u16.to_le_bytes());
    t.extend_from_slice(
        &"\\\\s\\"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<_>>(),
    );
    t.resize(80, 0);
    t.extend_from_slice(&h(5, false, 4, SID).bytes());
    t.extend_from_slice(&[0; 8]);
    let c = [req, vec![NBSS_KEEPALIVE, 0, 0, 0], nb(&t)].concat();
    let s = [vec![NBSS_POSITIVE_RESPONSE, 0, 0, 0]].concat();
    let (mine, ev) = run(&c, &s);
    assert!(mine);
    let d = detail(&ev);
    assert_eq!(d.messages, 2);
    assert_eq!(d.trees[0].path.as_deref(), Some(r"\\s\"));
    assert!(!ev.facts.has(Fact::Malformed));
    // The server's positive answer alone is enough to recognise a server-only capture.
    assert!(run(&[], &s).0);
}

#[test]
fn near_misses_are_not_mine() {
    let cases: [&[u8]; 7] = [
        b"GET / HTTP/1.1\r\n\r\n",
        &[5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0],
        &[0, 0, 0, 0x40, 0xfe, b'S', b'M', b'X'],
        &[0, 0, 0, 0x40, 0xfe, b'S', b'M'],
        &[0x81, 0, 0, 0x10, 0, 0, 0, 0],
        &[0x82, 0, 0, 1],
        &[],
    ];
    for c in cases {
        let (mine, ev) = run(c, &[]);
        assert!(!mine, "{c:02x?}");
        assert_eq!(ev.service, None);
        assert!(matches!(ev.detail, Detail::None));
    }
    let (c, _) = smb3_conversation(true, 0, 0);
    let mut ev = Evidence::default();
    let input = Input {
        client: &c,
        udp: true,
        ..Input::default()
    };
    assert!(!inspect(&input, &mut ev));
}

#[test]
fn broken_frames_are_malformed() {
    let (c, s) = smb3_conversation(true, 0, 0);
    let bad_type = [c.clone(), vec![0x99, 0, 0, 4, 1, 2, 3, 4]].concat();
    assert!(run(&bad_type, &s).1.facts.has(Fact::Malformed));
    let bad_magic = [c.clone(), nb(b"\xfeSMX0123456789")].concat();
    assert!(run(&bad_magic, &s).1.facts.has(Fact::Malformed));
    let mut bad_next = h(5, false, 9, SID);
    bad_next.next = 65;
    let bad_next = [c.clone(), nb(&[bad_next.bytes(), vec![0; 8]].concat())].concat();
    assert!(run(&bad_next, &s).1.facts.has(Fact::Malformed));
    // Near miss: a frame cut by the prefix is not malformed.
    let cut = &c[..c.len() - 5];
    assert!(!run(cut, &s).1.facts.has(Fact::Malformed));
}

#[test]
fn every_truncation_of_a_conversation_is_handled() {
    let (c, s) = smb3_conversation(true, SHAREFLAG_ENCRYPT_DATA, 2);
    for cut in 0..=c.len() {
        let (mine, ev) = run_with(&c[..cut], &s, true);
        assert!(mine, "cut {cut}");
        assert!(ev.auth.len() <= MAX_AUTH);
        assert!(!ev.facts.has(Fact::Malformed), "cut {cut}");
        // The server's side alone shows the share requires encryption.
        assert_eq!(ev.protection, Protection::SmbEncrypted, "cut {cut}");
    }
    for cut in 0..=s.len() {
        let (mine, ev) = run_with(&c, &s[..cut], true);
        assert!(mine);
        assert!(!ev.facts.has(Fact::Malformed), "cut {cut}");
        assert_ne!(ev.protection, Protection::Clear, "cut {cut}");
        assert_eq!(ev.auth[0].user.as_deref(), Some("administrator"));
    }
}

#[test]
fn caps_hold_trees_dialects_and_sessions() {
    let dialects: Vec<u16> = (0..40).collect();
    let mut c = negotiate_req(&dialects, 0);
    for i in 0..20u64 {
        c.extend(tree_req(h(TREE_CONNECT, false, 10 + i, SID), r"\\s\share"));
        c.extend(setup_req(100 + i, 0, &ntlm_authenticate(70, "D", "u")));
    }
    let (_, ev) = run(&c, &[]);
    let d = detail(&ev);
    assert_eq!(d.dialects.len(), MAX_DIALECTS);
    assert_eq!(d.trees.len(), MAX_TREES);
    assert_eq!(d.trees_more, 12);
    assert_eq!(ev.auth.len(), MAX_SESSIONS.min(MAX_AUTH));
}

#[test]
fn detail_serialises_compactly_and_keeps_no_token() {
    let (c, s) = smb3_conversation(true, SHAREFLAG_ENCRYPT_DATA, 1);
    let (_, ev) = run(&c, &s);
    let json = serde_json::to_value(detail(&ev)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "dialects": ["3.0"],
            "dialect": "3.0",
            "client_signing": "enabled",
            "server_signing": "required",
            "encryption_capable": true,
            "trees": [{"path": "\\\\WS2016\\encrypted", "share_type": "DISK", "encrypt": true}],
            "messages": 8,
            "signed": 3,
            "encrypted": 2
        })
    );
    let dbg = format!("{ev:?}");
    assert!(!dbg.contains("90, 90, 90"), "{dbg}");
    assert!(!json.to_string().contains("NTLMSSP"));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        client in proptest::collection::vec(any::<u8>(), 0..600),
        server in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let (_, ev) = run(&client, &server);
        prop_assert!(ev.auth.len() <= MAX_AUTH);
    }

    #[test]
    fn arbitrary_messages_behind_good_frames_stay_bounded(
        commands in proptest::collection::vec(0u16..20, 1..8),
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 8),
        flags in proptest::collection::vec(any::<u32>(), 8),
    ) {
        let mut client = Vec::new();
        for (i, c) in commands.iter().enumerate() {
            let mut m = h(*c, false, u64::try_from(i).unwrap(), SID).bytes();
            m[16..20].copy_from_slice(&flags[i].to_le_bytes());
            m.extend_from_slice(&bodies[i]);
            client.extend(nb(&m));
        }
        let (mine, ev) = run(&client, &client);
        prop_assert!(mine);
        prop_assert!(ev.auth.len() <= MAX_AUTH);
        let d = detail(&ev);
        prop_assert!(d.trees.len() <= MAX_TREES);
        prop_assert!(d.dialects.len() <= MAX_DIALECTS);
        let _ = serde_json::to_vec(d).unwrap();
    }
}

/// Client and server bytes.
type Conversation = (Vec<u8>, Vec<u8>);

/// Writes the seed corpus of the `inspect_smb` fuzz target (input format in
/// `testkit::fuzzing::inspect_smb`). Run with `--ignored` from the repository root.
#[test]
#[ignore = "writes fuzz/corpus/inspect_smb"]
fn write_fuzz_seeds() {
    let seeds: Vec<(&str, Conversation)> = vec![
        (
            "smb3-ntlm-encrypted",
            smb3_conversation(true, SHAREFLAG_ENCRYPT_DATA, 2),
        ),
        ("smb3-unsigned", smb3_conversation(false, 0, 0)),
        (
            "smb311-cipher",
            (
                negotiate_req(&[0x0202, 0x0210, 0x0300, 0x0302, 0x0311], 1),
                negotiate_resp(0x0311, 1, 0x2f, Some(2)),
            ),
        ),
        (
            "smb2-kerberos-guest",
            (
                setup_req(1, 0, &spnego(&kerberos_token())),
                setup_resp(h(SESSION_SETUP, true, 1, SID), SESSION_FLAG_IS_GUEST, &[]),
            ),
        ),
        (
            "smb1-plaintext",
            (
                [smb1_negotiate_req(), smb1_legacy_setup(8, 0)].concat(),
                smb1_negotiate_resp(0x01),
            ),
        ),
    ];
    let seeds: Vec<_> = seeds
        .into_iter()
        .inspect(|(name, (c, _))| {
            assert!(
                u16::try_from(c.len()).is_ok(),
                "{name}: client side too long for a seed"
            );
        })
        .map(|(name, (c, s))| (name, 0, c, s))
        .collect();
    crate::testkit::fuzzing::write_seeds("inspect_smb", &seeds).unwrap();
}
