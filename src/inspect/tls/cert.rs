//! What an X.509 certificate from a handshake says (x509-parser reads the DER): names,
//! validity at capture time, key, DNS names, whether it is self-signed, and its SHA-256
//! fingerprint. All of it is public: a certificate holds no secret.

use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::parse_x509_certificate;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use crate::inspect::wire_text;
use crate::time::Timestamp;

/// DNS names kept from a certificate's subjectAltName; a mail server's certificate names a few.
const MAX_SAN: usize = 8;

/// Serial number bytes kept (RFC 5280 §4.1.2.2 allows at most 20).
const MAX_SERIAL: usize = 20;

/// A certificate's validity period judged at the flow's capture time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validity {
    Valid,
    Expired,
    NotYetValid,
}

/// One certificate, as the handshake showed it. Field names follow Zeek's x509.log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cert {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_valid_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_valid_after: Option<String>,
    /// At the flow's start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
    /// `rsa`, `ecdsa`, `dsa`, `ed25519`, `ed448`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<&'static str>,
    /// Bits: the RSA modulus, the EC curve's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<&'static str>,
    /// Upper-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub san_dns: Vec<String>,
    /// Subject and issuer are the same name and, where both key identifiers are present, the
    /// authority key identifier is the subject key identifier. The signature is not verified
    /// (no signature code is linked in); a CA's certificate reissued under its own name with a
    /// new key is told apart by the key identifiers.
    pub self_signed: bool,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
    /// x509-parser could not read the DER; only the fingerprint is known.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for n in [b >> 4, b & 0x0f] {
            s.push(char::from(
                digits.get(usize::from(n)).copied().unwrap_or(b'0'),
            ));
        }
    }
    s
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`. X.509 times lie within years 0–9999
/// (RFC 5280 §4.1.2.5); anything outside is clamped to that range.
pub(super) fn rfc3339(secs: i64) -> String {
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const MIN: i64 = -62_167_219_200;
    const MAX: i64 = 253_402_300_799;
    let secs = secs.clamp(MIN, MAX);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // H. Hinnant's civil-from-days, for days before 1970 too.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, v: i64| {
        let mut v = v.unsigned_abs();
        for i in (at..at + width).rev() {
            if let Some(slot) = out.get_mut(i) {
                *slot = b'0' + u8::try_from(v % 10).unwrap_or(0);
            }
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, rem / 3600);
    put(14, 2, rem % 3600 / 60);
    put(17, 2, rem % 60);
    String::from_utf8_lossy(&out).into_owned()
}

/// Bytes of a name built before the rest is left out: names are output cut to
/// [`crate::inspect::MAX_TEXT`], and this bounds the work on a hostile name.
const MAX_NAME_BUILD: usize = 4 * crate::inspect::MAX_TEXT;

/// RFC 4514 §2.4: the characters escaped with a backslash in an attribute value.
fn push_escaped(s: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, ch) in value.chars().enumerate() {
        let edge = (i == 0 && (ch == ' ' || ch == '#')) || (i == last && ch == ' ');
        if edge || matches!(ch, '"' | '+' | ',' | ';' | '<' | '>' | '\\') {
            s.push('\\');
        }
        if ch == '\0' {
            s.push_str("\\00");
        } else {
            s.push(ch);
        }
    }
}

/// An attribute value as text, for the string types X.520 names use.
fn value(atv: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(v) = atv.as_str() {
        return Some(v.to_owned());
    }
    let bytes = atv.as_slice();
    match atv.attr_value().tag() {
        // Teletex and the other legacy 8-bit types: read as Latin-1, as certificates use them.
        Tag::T61String
        | Tag::VideotexString
        | Tag::VisibleString
        | Tag::GraphicString
        | Tag::GeneralString => Some(bytes.iter().map(|b| char::from(*b)).collect()),
        Tag::BmpString => {
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c.first().copied()?, c.get(1).copied()?]).into());
            let units: Option<Vec<u16>> = units.collect();
            Some(
                char::decode_utf16(units?)
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            )
        }
        Tag::UniversalString => Some(
            bytes
                .chunks_exact(4)
                .map(|c| {
                    let v = c
                        .first_chunk::<4>()
                        .map_or(0xfffd, |b| u32::from_be_bytes(*b));
                    char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
        ),
        _ => None,
    }
}

/// A name as RFC 4514 writes it, most specific first (`CN=…,O=…,C=…`, Zeek's x509.log order,
/// which keeps the common name when a long name is cut). Values that are not strings are
/// written `#` and hex, as §2.4 says.
fn name(n: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<_> = n.iter_rdn().collect();
    let mut s = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if s.len() > MAX_NAME_BUILD {
            break;
        }
        if i > 0 {
            s.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                s.push('+');
            }
            match x509_parser::objects::oid2abbrev(atv.attr_type(), registry) {
                Ok(abbrev) => s.push_str(abbrev),
                Err(_) => s.push_str(&atv.attr_type().to_id_string()),
            }
            s.push('=');
            match value(atv) {
                Some(v) => push_escaped(&mut s, &v),
                None => {
                    s.push('#');
                    s.push_str(&hex(atv.as_slice(), HEX_LOWER));
                }
            }
        }
    }
    s
}

/// The first common name of a name, as the user an authentication names.
pub(super) fn common_name(der: &[u8]) -> Option<String> {
    let (_, c) = parse_x509_certificate(der).ok()?;
    let cn = c.subject().iter_common_name().next()?.as_str().ok()?;
    Some(wire_text(cn.as_bytes()))
}

/// Bits of a big-endian unsigned integer, leading zero bytes and bits left out.
fn bits(int: &[u8]) -> Option<u32> {
    let start = int.iter().position(|b| *b != 0)?;
    let rest = int.get(start..)?;
    let first = rest.first()?;
    let n = (rest.len() - 1) * 8 + (8 - first.leading_zeros() as usize);
    u32::try_from(n).ok()
}

/// Key type, size in bits and named curve.
fn key(c: &X509Certificate<'_>) -> (Option<&'static str>, Option<u32>, Option<&'static str>) {
    let spki = c.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION || *alg == OID_PKCS1_RSASSAPSS {
        let size = match spki.parsed() {
            Ok(PublicKey::RSA(k)) => bits(k.modulus),
            _ => None,
        };
        (Some("rsa"), size, None)
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let (curve, size) = match curve {
            Some(o) if o == OID_EC_P256 => (Some("prime256v1"), Some(256)),
            Some(o) if o == OID_NIST_EC_P384 => (Some("secp384r1"), Some(384)),
            Some(o) if o == OID_NIST_EC_P521 => (Some("secp521r1"), Some(521)),
            _ => (None, None),
        };
        (Some("ecdsa"), size, curve)
    } else if *alg == OID_KEY_TYPE_DSA {
        (Some("dsa"), None, None)
    } else if *alg == OID_SIG_ED25519 {
        (Some("ed25519"), Some(256), None)
    } else if *alg == OID_SIG_ED448 {
        (Some("ed448"), Some(456), None)
    } else {
        (None, None, None)
    }
}

fn self_signed(c: &X509Certificate<'_>, subject: &str, issuer: &str) -> bool {
    // The same name, byte for byte or as text (the two may use different string types).
    let same_name = c.subject().as_raw() == c.issuer().as_raw() || subject == issuer;
    if !same_name {
        return false;
    }
    let mut ski = None;
    let mut aki = None;
    for e in c.extensions() {
        match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0);
            }
            _ => {}
        }
    }
    match (ski, aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

/// Summarises one DER certificate; `at` is the flow's start.
pub(super) fn summarize(der: &[u8], at: Timestamp) -> Cert {
    let fingerprint = hex(&Sha256::digest(der), HEX_LOWER);
    let Ok((_, c)) = parse_x509_certificate(der) else {
        return Cert {
            fingerprint,
            unreadable: true,
            ..Cert::default()
        };
    };
    let (subject, issuer) = (name(c.subject()), name(c.issuer()));
    let self_signed = self_signed(&c, &subject, &issuer);
    let (subject, issuer) = (
        Some(wire_text(subject.as_bytes())),
        Some(wire_text(issuer.as_bytes())),
    );
    let v = c.validity();
    let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
    let now = i64::try_from(at.secs()).unwrap_or(i64::MAX);
    let validity = if now < nb {
        Validity::NotYetValid
    } else if now > na {
        Validity::Expired
    } else {
        Validity::Valid
    };
    let (key_type, key_length, curve) = key(&c);
    let san_dns = match c.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(n) => Some(wire_text(n.as_bytes())),
                _ => None,
            })
            .take(MAX_SAN)
            .collect(),
        _ => Vec::new(),
    };
    let serial = c.raw_serial();
    Cert {
        self_signed,
        subject,
        issuer,
        not_valid_before: Some(rfc3339(nb)),
        not_valid_after: Some(rfc3339(na)),
        validity: Some(validity),
        key_type,
        key_length,
        curve,
        serial: Some(hex(serial.get(..MAX_SERIAL).unwrap_or(serial), HEX_UPPER)),
        san_dns,
        fingerprint,
        unreadable: false,
    }
}

/// One DER tag-length-value: its tag byte, its content and what follows it. Only the short and
/// the 1- to 4-byte long length forms; anything else is not a certificate worth reading.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        (
            bytes.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x)),
            rest,
        )
    };
    let (content, after) = rest.split_at_checked(len)?;
    Some((tag, content, after))
}

/// The subject of a certificate, read without parsing the rest of it: for the certificates of a
/// chain beyond the server's own, only the subject is shown, and parsing each whole (extensions,
/// key, fingerprint) cost several times more than the handshake around them.
pub(super) fn subject(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert, _) = tlv(der).filter(|t| t.0 == 0x30)?;
    let (_, tbs, _) = tlv(cert).filter(|t| t.0 == 0x30)?;
    let mut rest = tbs;
    // [0] version (optional), serial, signature, issuer, validity, then the subject.
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (_, x) = X509Name::from_der(rest).ok()?;
    Some(name(&x))
}
