//! NTLM messages and the GSS-API / SPNEGO wrappers that carry them and Kerberos, wherever they
//! appear: SMTP AUTH, HTTP Authorization, LDAP SASL, DCE/RPC auth verifiers, SMB session setup.
//!
//! Own code rather than a crate: no maintained Rust crate parses NTLMSSP messages (MS-NLMP 2.2)
//! for inspection, and what is needed is small: the message type, which response family the
//! client used (v1 or v2, from the NT response length), and the domain, user and host names. The
//! responses, the session key and the MIC are never copied. SPNEGO is recognised by its object
//! identifiers rather than decoded, which is enough to name the mechanism inside.

use serde::Serialize;

use super::{Mechanism, wire_text};

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Which NTLM message (MS-NLMP 2.2.1), ordered as an exchange runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NtlmMessage {
    Negotiate,
    Challenge,
    Authenticate,
}

/// Which family of responses an AUTHENTICATE message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NtlmVersion {
    /// NTLMv1 or LM: a 24-byte NT response (NTLM2 session security included).
    V1,
    /// NTLMv2: an NT response longer than 24 bytes.
    V2,
    /// An anonymous AUTHENTICATE: no user and no NT response.
    Anonymous,
}

/// What an NTLM message says, without any of its secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ntlm {
    pub message: NtlmMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<NtlmVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The bytes a security-buffer field (length, max length, offset) points to, if inside `msg`.
fn field(msg: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16_at(msg, at)?);
    let off = usize::try_from(u32_at(msg, at + 4)?).ok()?;
    msg.get(off..off.checked_add(len)?)
}

/// A name from a message: UTF-16LE when the Unicode flag is set, OEM (taken as Latin-1) when not.
/// Empty names are absent.
fn name(bytes: &[u8], unicode: bool) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let s = if unicode {
        let units = bytes
            .chunks_exact(2)
            .take(super::MAX_TEXT)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
    } else {
        bytes
            .iter()
            .take(super::MAX_TEXT)
            .map(|&b| char::from(b))
            .collect()
    };
    Some(wire_text(s.as_bytes()))
}

const NEGOTIATE_UNICODE: u32 = 0x0000_0001;

/// Parses the NTLM message that starts at the first `NTLMSSP\0` in `blob` (a bare message, or one
/// wrapped in SPNEGO, or after a protocol's own header).
pub fn ntlm(blob: &[u8]) -> Option<Ntlm> {
    let start = find(blob, SIGNATURE)?;
    let msg = &blob[start..];
    match u32_at(msg, 8)? {
        1 => Some(Ntlm {
            message: NtlmMessage::Negotiate,
            version: None,
            domain: None,
            user: None,
            host: None,
        }),
        2 => {
            let flags = u32_at(msg, 20).unwrap_or(0);
            Some(Ntlm {
                message: NtlmMessage::Challenge,
                version: None,
                domain: field(msg, 12).and_then(|b| name(b, flags & NEGOTIATE_UNICODE != 0)),
                user: None,
                host: None,
            })
        }
        3 => {
            // A message cut before its flags is taken as Unicode, as every Windows client sends.
            let unicode = u32_at(msg, 60).is_none_or(|f| f & NEGOTIATE_UNICODE != 0);
            let lm_len = u16_at(msg, 12).unwrap_or(0);
            let nt_len = u16_at(msg, 20)?;
            let user = field(msg, 36).and_then(|b| name(b, unicode));
            let version = match nt_len {
                0 if user.is_none() && lm_len <= 1 => NtlmVersion::Anonymous,
                0..=24 => NtlmVersion::V1,
                _ => NtlmVersion::V2,
            };
            Some(Ntlm {
                message: NtlmMessage::Authenticate,
                version: Some(version),
                domain: field(msg, 28).and_then(|b| name(b, unicode)),
                user,
                host: field(msg, 44).and_then(|b| name(b, unicode)),
            })
        }
        _ => None,
    }
}

/// DER encodings of the object identifiers that name mechanisms inside GSS-API tokens.
const OID_KRB5: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
];
/// Microsoft's historical Kerberos OID (1.2.840.48018.1.2.2).
const OID_MS_KRB5: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
];
/// NTLMSSP under SPNEGO (1.3.6.1.4.1.311.2.2.10).
const OID_NTLM: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a,
];
/// SPNEGO itself (1.3.6.1.5.5.2).
const OID_SPNEGO: &[u8] = &[0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// Names the mechanism a security blob carries: an NTLM message anywhere in it; a GSS-API token
/// or SPNEGO token whose mechanism is Kerberos; a bare Kerberos AP-REQ (`[APPLICATION 14]`);
/// SPNEGO whose mechanism is not visible (a negTokenResp continuing an exchange) as Negotiate.
/// `None` when the blob is none of these.
pub fn mechanism(blob: &[u8]) -> Option<Mechanism> {
    if find(blob, SIGNATURE).is_some() {
        return Some(Mechanism::Ntlm);
    }
    let first = *blob.first()?;
    let krb = find(blob, OID_KRB5).is_some() || find(blob, OID_MS_KRB5).is_some();
    let spnego = find(blob, OID_SPNEGO).is_some();
    match first {
        // GSS-API InitialContextToken [APPLICATION 0].
        0x60 if krb => Some(Mechanism::Kerberos),
        0x60 if spnego && find(blob, OID_NTLM).is_some() => Some(Mechanism::Ntlm),
        0x60 if spnego => Some(Mechanism::Negotiate),
        // A Kerberos AP-REQ on its own.
        0x6e => Some(Mechanism::Kerberos),
        // SPNEGO negTokenInit / negTokenResp without the GSS-API header.
        0xa0 | 0xa1 if krb => Some(Mechanism::Kerberos),
        0xa0 | 0xa1 => Some(Mechanism::Negotiate),
        _ => None,
    }
}

/// Where `needle` first occurs in `hay`. Blobs are at most a payload prefix long, and the
/// needles a dozen bytes, so the plain scan is bounded by a few thousand comparisons.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AUTHENTICATE message with the given NT response length and names.
    fn authenticate(nt_len: u16, domain: &str, user: &str, host: &str) -> Vec<u8> {
        let nt = vec![0x5a; usize::from(nt_len)];
        crate::testkit::ntlm::authenticate(&nt, domain, user, host)
    }

    #[test]
    fn authenticate_names_and_version() {
        let v2 = ntlm(&authenticate(70, "CONTOSO", "alice", "WS01")).unwrap();
        assert_eq!(v2.message, NtlmMessage::Authenticate);
        assert_eq!(v2.version, Some(NtlmVersion::V2));
        assert_eq!(v2.domain.as_deref(), Some("CONTOSO"));
        assert_eq!(v2.user.as_deref(), Some("alice"));
        assert_eq!(v2.host.as_deref(), Some("WS01"));
        let v1 = ntlm(&authenticate(24, "CONTOSO", "bob", "WS02")).unwrap();
        assert_eq!(v1.version, Some(NtlmVersion::V1));
        let anon = ntlm(&authenticate(0, "", "", "WS03")).unwrap();
        assert_eq!(anon.version, Some(NtlmVersion::Anonymous));
        assert_eq!(anon.user, None);
    }

    #[test]
    fn wrapped_and_cut_messages() {
        let mut wrapped = vec![0xa1, 0x81, 0x90, 0x30];
        wrapped.extend_from_slice(&authenticate(70, "D", "u", "h"));
        assert_eq!(ntlm(&wrapped).unwrap().user.as_deref(), Some("u"));
        assert_eq!(mechanism(&wrapped), Some(Mechanism::Ntlm));
        // Cut inside the header: not an AUTHENTICATE we can read, and no panic.
        let full = authenticate(70, "D", "u", "h");
        for cut in 0..full.len() {
            let _ = ntlm(&full[..cut]);
        }
        assert_eq!(ntlm(&full[..20]), None);
        // Field offsets pointing past the end leave the names out.
        let short = ntlm(&full[..64]).unwrap();
        assert_eq!(short.user, None);
    }

    #[test]
    fn mechanisms_by_oid() {
        let mut krb = vec![0x60, 0x82, 0x01, 0x00];
        krb.extend_from_slice(OID_KRB5);
        krb.push(0x01);
        assert_eq!(mechanism(&krb), Some(Mechanism::Kerberos));
        let mut neg = vec![0x60, 0x20];
        neg.extend_from_slice(OID_SPNEGO);
        assert_eq!(mechanism(&neg), Some(Mechanism::Negotiate));
        neg.extend_from_slice(OID_NTLM);
        assert_eq!(mechanism(&neg), Some(Mechanism::Ntlm));
        assert_eq!(mechanism(&[0x6e, 0x82]), Some(Mechanism::Kerberos));
        assert_eq!(mechanism(b"hello"), None);
        assert_eq!(mechanism(&[]), None);
    }
}
