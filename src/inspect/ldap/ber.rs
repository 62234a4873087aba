//! The few BER (X.690) reads the LDAP and Kerberos inspectors need beyond their crates: a
//! message's total length before all of it has arrived (to walk messages back to back and to
//! tell a cut message from a bad one), and a lenient walk into a structure whose tail the payload
//! prefix cut off. Only single-octet identifiers and definite lengths of up to four octets are
//! read: RFC 4511 §5.1 and RFC 4120 §5.1 use nothing else, so anything more is not theirs.

/// Why a TLV could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::inspect) enum BerError {
    /// The bytes end before the element does.
    Truncated,
    /// Not a BER element these protocols use (multi-octet tag, indefinite or huge length).
    Invalid,
}

/// An element's identifier octet and where its content lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::inspect) struct Header {
    /// The identifier octet: class (bits 8–7), constructed (bit 6), tag number (bits 5–1).
    pub tag: u8,
    /// Octets of identifier and length.
    pub header_len: usize,
    /// Octets of content the length field claims.
    pub content_len: usize,
}

impl Header {
    /// Identifier, length and content together, if that fits in a `usize`.
    pub fn total(self) -> Option<usize> {
        self.header_len.checked_add(self.content_len)
    }
}

/// One complete element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::inspect) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Reads an identifier and a length (X.690 §8.1.2, §8.1.3) without needing the content.
pub(in crate::inspect) fn header(b: &[u8]) -> Result<Header, BerError> {
    let (&tag, rest) = b.split_first().ok_or(BerError::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(BerError::Invalid);
    }
    let (&first, rest) = rest.split_first().ok_or(BerError::Truncated)?;
    if first < 0x80 {
        return Ok(Header {
            tag,
            header_len: 2,
            content_len: usize::from(first),
        });
    }
    // 0x80 is the indefinite form (X.690 §8.1.3.6), which RFC 4511 §5.1 and DER forbid; more
    // than four length octets would claim at least 4 GiB.
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return Err(BerError::Invalid);
    }
    let octets = rest.get(..n).ok_or(BerError::Truncated)?;
    let len = octets
        .iter()
        .fold(0u32, |acc, &o| (acc << 8) | u32::from(o));
    Ok(Header {
        tag,
        header_len: 2 + n,
        content_len: usize::try_from(len).map_err(|_| BerError::Invalid)?,
    })
}

/// Reads one complete element; returns it and the bytes after it.
pub(in crate::inspect) fn tlv(b: &[u8]) -> Result<(Tlv<'_>, &[u8]), BerError> {
    let h = header(b)?;
    let total = h.total().ok_or(BerError::Invalid)?;
    let content = b.get(h.header_len..total).ok_or(BerError::Truncated)?;
    let rest = b.get(total..).unwrap_or(&[]);
    Ok((
        Tlv {
            tag: h.tag,
            content,
        },
        rest,
    ))
}

/// Reads one element whose content may be cut: the content is what is present of it. Returns
/// the element, the bytes after it (empty when cut), and whether it was complete.
pub(in crate::inspect) fn tlv_clipped(b: &[u8]) -> Result<(Tlv<'_>, &[u8], bool), BerError> {
    let h = header(b)?;
    let total = h.total().ok_or(BerError::Invalid)?;
    let start = b.get(h.header_len..).ok_or(BerError::Truncated)?;
    match b.get(h.header_len..total) {
        Some(content) => Ok((
            Tlv {
                tag: h.tag,
                content,
            },
            b.get(total..).unwrap_or(&[]),
            true,
        )),
        None => Ok((
            Tlv {
                tag: h.tag,
                content: start,
            },
            &[],
            false,
        )),
    }
}

/// Inside the content of a SEQUENCE (or any constructed element), the content of the first
/// element with identifier `tag`, clipped if the bytes end inside it. Elements before it must be
/// complete. Each step consumes at least two octets, so the walk is bounded by `b`.
pub(in crate::inspect) fn field(mut b: &[u8], tag: u8) -> Option<&[u8]> {
    while !b.is_empty() {
        let (t, rest, _) = tlv_clipped(b).ok()?;
        if t.tag == tag {
            return Some(t.content);
        }
        b = rest;
    }
    None
}

/// The content of `b` if it is one element with identifier `tag` (clipped if cut).
pub(in crate::inspect) fn enter(b: &[u8], tag: u8) -> Option<&[u8]> {
    let (t, _, _) = tlv_clipped(b).ok()?;
    (t.tag == tag).then_some(t.content)
}

/// A non-negative INTEGER of up to four content octets (message IDs, result codes, etypes are
/// read as `i64` so that negative etypes survive).
pub(in crate::inspect) fn integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 4 {
        return None;
    }
    let first = *content.first()?;
    let init: i64 = if first & 0x80 != 0 { -1 } else { 0 };
    Some(
        content
            .iter()
            .fold(init, |acc, &o| (acc << 8) | i64::from(o)),
    )
}

/// Encoders for the tests' hand-built messages.
#[cfg(test)]
pub(in crate::inspect) mod build {
    /// One element with a minimal definite length.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 0x80 {
            v.push(u8::try_from(n).unwrap());
        } else {
            let bytes = u32::try_from(n).unwrap().to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            v.push(0x80 | u8::try_from(4 - skip).unwrap());
            v.extend_from_slice(&bytes[skip..]);
        }
        v.extend_from_slice(content);
        v
    }

    /// A DER INTEGER (minimal two's complement) under `tag`.
    pub fn int_tagged(tag: u8, n: i64) -> Vec<u8> {
        let bytes = n.to_be_bytes();
        let mut start = 0;
        while start < 7 {
            let (b, next) = (bytes[start], bytes[start + 1]);
            if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
                start += 1;
            } else {
                break;
            }
        }
        tlv(tag, &bytes[start..])
    }

    pub fn int(n: i64) -> Vec<u8> {
        int_tagged(0x02, n)
    }

    /// A SEQUENCE of the given elements.
    pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    /// A context-specific constructed `[n]` wrapping one element (explicit tagging).
    pub fn ctx(n: u8, inner: &[u8]) -> Vec<u8> {
        tlv(0xa0 | n, inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        assert_eq!(
            header(&[0x30, 0x05]),
            Ok(Header {
                tag: 0x30,
                header_len: 2,
                content_len: 5
            })
        );
        assert_eq!(header(&[0x30, 0x84, 0, 0, 1, 0]).unwrap().content_len, 256);
        assert_eq!(header(&[0x30, 0x82, 0x01]), Err(BerError::Truncated));
        assert_eq!(header(&[0x30, 0x80]), Err(BerError::Invalid));
        assert_eq!(header(&[0x30, 0x85, 0, 0, 0, 0, 1]), Err(BerError::Invalid));
        assert_eq!(header(&[0x1f, 0x01]), Err(BerError::Invalid));
        assert_eq!(header(&[]), Err(BerError::Truncated));
    }

    #[test]
    fn complete_clipped_and_fields() {
        let seq = [0x30, 0x06, 0xa0, 0x01, 0x05, 0xa1, 0x01, 0x07, 0xff];
        let (t, rest) = tlv(&seq).unwrap();
        assert_eq!(t.content.len(), 6);
        assert_eq!(rest, &[0xff]);
        assert_eq!(field(t.content, 0xa1), Some(&[0x07][..]));
        assert_eq!(field(t.content, 0xa2), None);
        assert_eq!(tlv(&seq[..5]), Err(BerError::Truncated));
        let (c, rest, complete) = tlv_clipped(&seq[..5]).unwrap();
        assert!(!complete && rest.is_empty());
        assert_eq!(c.content, &[0xa0, 0x01, 0x05]);
        assert_eq!(enter(&seq[..5], 0x30), Some(&[0xa0, 0x01, 0x05][..]));
        assert_eq!(enter(&seq, 0x31), None);
    }

    #[test]
    fn builders_round_trip() {
        for n in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            65_535,
            -1,
            -128,
            -129,
            2_147_483_647,
        ] {
            let enc = build::int(n);
            let (t, rest) = tlv(&enc).unwrap();
            assert!(rest.is_empty());
            assert_eq!(integer(t.content), Some(n), "{n}: {enc:02x?}");
        }
        let long = build::tlv(0x04, &[7u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(tlv(&long).unwrap().0.content.len(), 300);
    }

    #[test]
    fn integers() {
        assert_eq!(integer(&[0x17]), Some(23));
        assert_eq!(integer(&[0xff, 0x80]), Some(-128));
        assert_eq!(integer(&[0x00, 0x80]), Some(128));
        assert_eq!(integer(&[]), None);
        assert_eq!(integer(&[1, 2, 3, 4, 5]), None);
    }
}
