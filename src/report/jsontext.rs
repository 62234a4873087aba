//! JSON text that is safe on a terminal too: serde_json escapes what JSON requires (the C0
//! controls, `"` and `\`) and leaves DEL and the C1 controls (U+0080..U+009F) as they are, which
//! JSON allows but some terminals obey (U+009B is the 8-bit form of ESC `[`). A person running
//! `exaudit audit -F jsonl` or `cat` on the output sees the JSON raw, so these are written as
//! `\u007f` and `\u0080`..`\u009f` as well; any JSON reader decodes them to the same strings.

use std::io::{self, Write};

/// Whether `b[i..]` starts a character that must be escaped: DEL, or a C1 control (in UTF-8,
/// the lead byte 0xC2 followed by 0x80..=0x9F; 0xC2 is never a continuation byte).
fn escaped_at(b: &[u8], i: usize) -> Option<u8> {
    match b.get(i)? {
        0x7f => Some(0x7f),
        0xc2 => b.get(i + 1).copied().filter(|c| (0x80..=0x9f).contains(c)),
        _ => None,
    }
}

/// Escapes DEL and the C1 controls in the JSON text `buf[from..]`, in place. The text is valid
/// JSON from serde_json, where these characters can only stand inside strings.
pub(super) fn escape_controls(buf: &mut Vec<u8>, from: usize) {
    // Most text holds neither byte: one vectorised search, then nothing (the check runs on every
    // flow's evidence).
    let tail = buf.get(from..).unwrap_or(&[]);
    let Some(first) = memchr::memchr2_iter(0x7f, 0xc2, tail)
        .map(|i| from + i)
        .find(|&i| escaped_at(buf, i).is_some())
    else {
        return;
    };
    let tail = buf.split_off(first);
    let mut i = 0;
    while i < tail.len() {
        match escaped_at(&tail, i) {
            Some(c) => {
                buf.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
                i += if c == 0x7f { 1 } else { 2 };
            }
            None => {
                if let Some(&b) = tail.get(i) {
                    buf.push(b);
                }
                i += 1;
            }
        }
    }
}

/// Writes `v` as compact JSON, escaped as [`escape_controls`] says.
pub(super) fn write(out: &mut dyn Write, v: &impl serde::Serialize) -> io::Result<()> {
    let mut buf = serde_json::to_vec(v)?;
    escape_controls(&mut buf, 0);
    out.write_all(&buf)
}

/// Writes `v` as indented JSON, escaped as [`escape_controls`] says.
pub(super) fn write_pretty(out: &mut dyn Write, v: &impl serde::Serialize) -> io::Result<()> {
    let mut buf = serde_json::to_vec_pretty(v)?;
    escape_controls(&mut buf, 0);
    out.write_all(&buf)
}

/// Appends `v` as compact JSON to `buf`, escaped as [`escape_controls`] says; `null` if it
/// cannot be serialised.
pub(super) fn append(buf: &mut Vec<u8>, v: &impl serde::Serialize) {
    let from = buf.len();
    if serde_json::to_writer(&mut *buf, v).is_err() {
        buf.truncate(from);
        buf.extend_from_slice(b"null");
    }
    escape_controls(buf, from);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> String {
        let mut buf = Vec::new();
        append(&mut buf, &s);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn del_and_c1_are_escaped_and_read_back_the_same() {
        let s = "a\u{7f}b\u{9b}31mc\u{80}\u{9f}";
        let j = json(s);
        assert_eq!(j, r#""a\u007fb\u009b31mc\u0080\u009f""#);
        assert_eq!(serde_json::from_str::<String>(&j).unwrap(), s);
    }

    #[test]
    fn other_text_is_left_alone() {
        // U+00A0..U+00BF share the lead byte 0xC2 and are printable.
        assert_eq!(json("© ½ Zürich\u{a0}"), "\"© ½ Zürich\u{a0}\"");
        assert_eq!(json("tab\there"), r#""tab\there""#);
        let mut buf = b"head".to_vec();
        append(&mut buf, &"\u{85}");
        assert_eq!(buf, br#"head"\u0085""#);
    }

    #[test]
    fn escaping_starts_at_the_offset_given() {
        let mut buf = "\u{7f}".as_bytes().to_vec();
        let from = buf.len();
        buf.extend_from_slice("\"\u{7f}\"".as_bytes());
        escape_controls(&mut buf, from);
        assert_eq!(buf, "\u{7f}\"\\u007f\"".as_bytes());
    }
}
