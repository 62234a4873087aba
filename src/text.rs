//! Text from outside on its way to a person: file names, values echoed from rules and site files,
//! and strings from the wire. A terminal acts on control characters (a cursor move, a colour, a
//! title change, "erase the line"), and bidirectional-formatting characters make a line read in
//! an order other than its bytes', so neither may reach it raw.
//!
//! [`escape`] writes each such character as a visible escape: `\xNN` for the C0 controls, DEL and
//! the C1 controls (U+0080..U+009F, which some terminals obey as the 8-bit forms of ESC
//! sequences), `\u{NNNN}` for the invisible formatting characters. [`path`] does the same for a
//! file name and writes each byte that is not UTF-8 as `\xNN`. [`echo`] quotes a value and cuts
//! it: a message names the file and the line, and that is enough to find the rest.
//!
//! It leaves JSON to `report`, where serde_json's own escaping applies.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

/// Characters of a value echoed in a message, at most: enough to recognise it, short enough that
/// the message stays one readable line whatever the file holds.
pub const MAX_ECHO_CHARS: usize = 64;

/// Whether `c` is shown as an escape: a control character (C0, DEL, C1; Unicode category Cc) or
/// a formatting character that reorders or hides text (Unicode's bidirectional controls of
/// UAX #9, the zero-width characters, the word joiner and invisible operators, the byte order
/// mark).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Appends the escape of `c` to `out`.
fn push_escape(out: &mut String, c: char) {
    let n = u32::from(c);
    // Writing into a String cannot fail.
    let _ = if n <= 0xff {
        write!(out, "\\x{n:02x}")
    } else {
        write!(out, "\\u{{{n:04x}}}")
    };
}

/// `s` with every control and formatting character escaped; borrowed when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A file name as messages and the table report show it: escaped like [`escape`], and each byte
/// that is not part of valid UTF-8 written as `\xNN`.
pub fn path(p: &Path) -> String {
    let mut out = String::new();
    for chunk in p.as_os_str().as_encoded_bytes().utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A value from a file, as a message echoes it: in double quotes, escaped, and cut after
/// [`MAX_ECHO_CHARS`] characters with `…` saying that more followed.
pub fn echo(v: &str) -> String {
    format!("\"{}\"", escape(&cut(v, MAX_ECHO_CHARS)))
}

/// `s` cut after `max` characters, with `…` when something was cut.
pub fn cut(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((at, _)) => Cow::Owned(format!("{}…", s.get(..at).unwrap_or(s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_formatting_characters_are_escaped() {
        assert_eq!(escape("plain text"), "plain text");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb\tc\x1b[2J"), "a\\x0ab\\x09c\\x1b[2J");
        assert_eq!(escape("del\x7f c1\u{9b}31m"), "del\\x7f c1\\x9b31m");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(
            escape("zero\u{200b}width\u{feff}"),
            "zero\\u{200b}width\\u{feff}"
        );
        // Printable non-ASCII stays as it is.
        assert_eq!(escape("Zürich – 東京 ©"), "Zürich – 東京 ©");
    }

    #[cfg(unix)]
    #[test]
    fn file_names_keep_their_bytes_visible() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"day\xff2\n.pcap\x1b]0;x\x07"));
        assert_eq!(path(p), "day\\xff2\\x0a.pcap\\x1b]0;x\\x07");
        assert_eq!(path(Path::new("captures/ü.pcap")), "captures/ü.pcap");
    }

    #[test]
    fn echoed_values_are_quoted_escaped_and_cut() {
        assert_eq!(echo("hub"), "\"hub\"");
        assert_eq!(echo("a\u{1b}b"), "\"a\\x1bb\"");
        let long = "x".repeat(1000);
        let e = echo(&long);
        assert_eq!(e.chars().count(), MAX_ECHO_CHARS + 3);
        assert!(e.ends_with("x…\""));
        assert_eq!(
            echo(&"y".repeat(MAX_ECHO_CHARS)).chars().count(),
            MAX_ECHO_CHARS + 2
        );
    }

    proptest::proptest! {
        #[test]
        fn nothing_a_terminal_acts_on_survives(s in "\\PC*|[\\x00-\\x{a0}\\x{200b}-\\x{202f}\\x{2060}-\\x{206f}]*") {
            for out in [escape(&s).into_owned(), echo(&s)] {
                proptest::prop_assert!(!out.chars().any(needs_escape), "{:?}", out);
            }
            // At most MAX_ECHO_CHARS characters of the value, each at most `\u{NNNN}` long.
            proptest::prop_assert!(echo(&s).chars().count() <= MAX_ECHO_CHARS * 8 + 3);
        }
    }

    #[test]
    fn cut_counts_characters() {
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("ééé", 2), "éé…");
    }
}
