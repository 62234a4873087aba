//! JA4, FoxIO's TLS client fingerprint, computed from the ClientHello as its specification
//! (github.com/FoxIO-LLC/ja4, `technical_details/JA4.md`) describes it:
//!
//! ```text
//! a: "t" (TLS over TCP), version (2 chars), "d" SNI present / "i" absent,
//!    cipher count (2 digits, max 99), extension count (2 digits, max 99, SNI and ALPN included),
//!    first and last character of the first ALPN value ("00" without one)
//! b: sha256 of the cipher suites as 4-digit lower-case hex, sorted, comma-separated; 12 hex chars
//! c: sha256 of the extensions the same way, without SNI (0000) and ALPN (0010), then "_" and the
//!    signature algorithms in their order (no "_" when there are none); 12 hex chars
//! ```
//!
//! GREASE values (RFC 8701) are left out everywhere. An empty list hashes to `000000000000`.

use sha2::{Digest, Sha256};

use super::hello::is_grease;

/// What JA4 reads from a ClientHello.
pub(super) struct Ja4Input<'a> {
    /// The supported_versions extension's list (empty when absent).
    pub versions: &'a [u16],
    pub legacy_version: u16,
    pub sni: bool,
    pub ciphers: &'a [u16],
    /// Extension types in the order they appear.
    pub extensions: &'a [u16],
    pub alpn_first: Option<&'a [u8]>,
    pub sig_algs: &'a [u16],
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_digit(v: u8) -> char {
    char::from(HEX.get(usize::from(v & 0x0f)).copied().unwrap_or(b'0'))
}

fn push_hex16(s: &mut String, v: u16) {
    for shift in [12u16, 8, 4, 0] {
        // The nibble fits in u8 after the mask.
        s.push(hex_digit(u8::try_from((v >> shift) & 0x0f).unwrap_or(0)));
    }
}

fn push_count(s: &mut String, n: usize) {
    let n = n.min(99);
    s.push(char::from(b'0' + u8::try_from(n / 10).unwrap_or(9)));
    s.push(char::from(b'0' + u8::try_from(n % 10).unwrap_or(9)));
}

/// `list` as comma-separated 4-digit hex.
fn joined(list: impl Iterator<Item = u16>) -> String {
    let mut s = String::new();
    for (i, v) in list.enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_hex16(&mut s, v);
    }
    s
}

/// The first 12 hex digits of the SHA-256 of `text`.
fn hash12(s: &mut String, text: &str) {
    let d = Sha256::digest(text.as_bytes());
    for b in d.iter().take(6) {
        s.push(hex_digit(b >> 4));
        s.push(hex_digit(*b));
    }
}

/// JA4's two version characters (§ "TLS and DTLS Version").
fn version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The ALPN characters (§ "ALPN Extension Value"): the first and last byte of the first value
/// when both are ASCII letters or digits, else the first and last digit of its hex form.
fn alpn(s: &mut String, first: Option<&[u8]>) {
    match first {
        Some([a, .., b]) | Some([a @ b]) => {
            if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
                s.push(char::from(*a));
                s.push(char::from(*b));
            } else {
                s.push(hex_digit(a >> 4));
                s.push(hex_digit(*b));
            }
        }
        _ => s.push_str("00"),
    }
}

/// The JA4 fingerprint of a ClientHello.
pub(super) fn ja4(i: &Ja4Input<'_>) -> String {
    let mut s = String::with_capacity(36);
    s.push('t');
    let highest = i.versions.iter().copied().filter(|v| !is_grease(*v)).max();
    s.push_str(version(highest.unwrap_or(i.legacy_version)));
    s.push(if i.sni { 'd' } else { 'i' });
    let mut ciphers: Vec<u16> = i
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    push_count(&mut s, ciphers.len());
    let exts = i.extensions.iter().copied().filter(|v| !is_grease(*v));
    push_count(&mut s, exts.clone().count());
    alpn(&mut s, i.alpn_first);

    s.push('_');
    ciphers.sort_unstable();
    if ciphers.is_empty() {
        s.push_str("000000000000");
    } else {
        hash12(&mut s, &joined(ciphers.into_iter()));
    }

    s.push('_');
    let mut sorted: Vec<u16> = exts.filter(|v| *v != 0x0000 && *v != 0x0010).collect();
    sorted.sort_unstable();
    if sorted.is_empty() {
        s.push_str("000000000000");
    } else {
        let mut text = joined(sorted.into_iter());
        let algs = i.sig_algs.iter().copied().filter(|v| !is_grease(*v));
        if algs.clone().next().is_some() {
            text.push('_');
            text.push_str(&joined(algs));
        }
        hash12(&mut s, &text);
    }
    s
}
