//! Zeek's connection `history`: one letter per kind of event, upper case for the originator and
//! lower case for the responder (`scripts/base/protocols/conn/main.zeek` documents the letters).
//!
//! | letter | event |
//! |---|---|
//! | S | a SYN without ACK |
//! | H | a SYN with ACK ("handshake") |
//! | A | a pure ACK (no payload, no SYN/FIN/RST) |
//! | D | a packet with payload (UDP: any datagram) |
//! | F | a FIN |
//! | R | a RST |
//! | C | a bad checksum (only when checksums are verified) |
//! | G | a content gap (acknowledged data the capture never saw) |
//! | I | FIN and RST together |
//! | Q | SYN with FIN or RST |
//! | T | a retransmission |
//! | W | a zero window advertisement |
//! | ^ | the roles were flipped (the first packet came from the responder) |
//!
//! S, H, A, D, F, R, I and Q are recorded once per direction (S/H, F and R again when their
//! sequence number differs); C, G, T and W at the 1st, 10th, 100th … occurrence.

use std::fmt;

/// Longest history kept; a hostile flow cannot grow it further (what is dropped is counted).
pub const MAX_HISTORY: usize = 40;

/// Bits of the per-flow "seen" mask (Zeek `HIST_*`); the responder's are shifted by 16.
pub mod mask {
    pub const SYN: u32 = 0x01;
    pub const FIN: u32 = 0x02;
    pub const RST: u32 = 0x04;
    pub const FIN_RST: u32 = 0x08;
    pub const DATA: u32 = 0x10;
    pub const ACK: u32 = 0x20;
    pub const MULTI_FLAG: u32 = 0x40;
}

/// A bounded history string. Letters are ASCII.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct History {
    letters: [u8; MAX_HISTORY],
    len: u8,
    /// Letters that did not fit.
    pub dropped: u16,
    /// Zeek's per-connection `hist_seen`: not swapped when the roles flip.
    seen: u32,
}

impl Default for History {
    fn default() -> Self {
        Self {
            letters: [0; MAX_HISTORY],
            len: 0,
            dropped: 0,
            seen: 0,
        }
    }
}

impl History {
    /// Appends a letter, lower-cased for the responder.
    pub fn push(&mut self, letter: u8, is_orig: bool) {
        let l = if is_orig {
            letter
        } else {
            letter.to_ascii_lowercase()
        };
        self.push_raw(l);
    }

    pub fn push_raw(&mut self, l: u8) {
        match self.letters.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = l;
                self.len += 1;
            }
            None => self.dropped = self.dropped.saturating_add(1),
        }
    }

    /// Records `letter` once per direction (Zeek `CheckHistory`). `true` when it was already seen.
    pub fn check(&mut self, m: u32, letter: u8, is_orig: bool) -> bool {
        let bit = if is_orig { m } else { m << 16 };
        if self.seen & bit == 0 {
            self.seen |= bit;
            self.push(letter, is_orig);
            false
        } else {
            true
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.letters.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters and '^' are ever pushed.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Replaces the whole string, keeping the seen mask (Zeek's "H" flip rule).
    pub fn replace(&mut self, s: &[u8]) {
        self.len = 0;
        for &b in s {
            self.push_raw(b);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_direction_and_case() {
        let mut h = History::default();
        assert!(!h.check(mask::SYN, b'S', true));
        assert!(h.check(mask::SYN, b'S', true));
        assert!(!h.check(mask::SYN, b'H', false));
        assert!(!h.check(mask::ACK, b'A', true));
        assert_eq!(h.as_str(), "ShA");
    }

    #[test]
    fn bounded() {
        let mut h = History::default();
        for _ in 0..100 {
            h.push(b'T', true);
        }
        assert_eq!(h.as_bytes().len(), MAX_HISTORY);
        assert_eq!(h.dropped, 60);
    }
}
