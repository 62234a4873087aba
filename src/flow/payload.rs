//! The first bytes of each direction's payload, in sequence order, for the inspectors.
//!
//! Each direction gets a buffer of `payload_prefix_bytes` from a pool (so steady-state traffic
//! allocates nothing) and a bitmap of the bytes received. Retransmitted and overlapping bytes keep
//! their first copy; out-of-order segments wait in place until the hole before them fills. Only
//! the contiguous part from the first byte is handed to the inspectors; a hole that never filled
//! is reported as a gap. A pool with a memory cap decides how many flows get a buffer at all.

/// One direction's prefix.
///
/// `data[..contiguous]` is the stream from its first byte. In-order segments (the common case)
/// are appended with one copy and no bookkeeping; only an out-of-order segment makes the buffer
/// grow past `contiguous` and switches on the bitmap of received bytes beyond it. Buffers keep
/// their capacity when they return to the pool, so steady traffic neither allocates nor zeroes.
#[derive(Debug)]
pub struct Prefix {
    data: Vec<u8>,
    /// One bit per byte of `data`, meaningful only beyond `contiguous` and only while `beyond`.
    bits: Vec<u64>,
    cap: usize,
    /// Bytes contiguous from offset 0.
    contiguous: usize,
    /// Whether any byte beyond `contiguous` has arrived (a hole is waiting).
    beyond: bool,
    /// Datagrams stored (UDP keeps the first datagram only).
    datagrams: u32,
}

impl Prefix {
    fn new(cap: usize) -> Self {
        Self {
            // Reserved, not written: untouched pages cost no memory.
            data: Vec::with_capacity(cap),
            bits: Vec::new(),
            cap,
            contiguous: 0,
            beyond: false,
            datagrams: 0,
        }
    }

    fn reset(&mut self) {
        self.data.clear();
        self.contiguous = 0;
        self.beyond = false;
        self.datagrams = 0;
    }

    fn cap(&self) -> usize {
        self.cap
    }

    fn has(&self, i: usize) -> bool {
        i < self.contiguous
            || (self.beyond
                && self
                    .bits
                    .get(i / 64)
                    .is_some_and(|w| w & (1u64 << (i % 64)) != 0))
    }

    fn mark(&mut self, i: usize) {
        if let Some(w) = self.bits.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    /// Adds stream bytes at `offset` from the first byte of the direction.
    pub fn add(&mut self, offset: u64, bytes: &[u8]) {
        let cap = self.cap;
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        if start >= cap {
            return;
        }
        let take = bytes.get(..cap - start).unwrap_or(bytes);
        let end = start + take.len();
        if start == self.contiguous && !self.beyond {
            // In order with nothing waiting: one copy.
            self.data.truncate(start);
            self.data.extend_from_slice(take);
            self.contiguous = end;
            return;
        }
        if end <= self.contiguous {
            return; // a retransmission of bytes we have (first copy wins)
        }
        if !self.beyond {
            // First out-of-order bytes: start tracking which bytes beyond `contiguous` arrived.
            self.beyond = true;
            self.bits.clear();
            self.bits.resize(cap.div_ceil(64), 0);
        }
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        for (i, &b) in take.iter().enumerate() {
            let at = start + i;
            if !self.has(at) {
                if let Some(slot) = self.data.get_mut(at) {
                    *slot = b;
                }
                self.mark(at);
            }
        }
        while self.contiguous < self.data.len() && self.has(self.contiguous) {
            self.contiguous += 1;
        }
        self.beyond = (self.contiguous..self.data.len()).any(|i| self.has(i));
    }

    /// Stores a datagram (only the first one of the direction is kept).
    pub fn add_datagram(&mut self, bytes: &[u8]) {
        if self.datagrams == 0 {
            self.add(0, bytes);
        }
        self.datagrams = self.datagrams.saturating_add(1);
    }

    /// The bytes contiguous from the start.
    pub fn bytes(&self) -> &[u8] {
        self.data.get(..self.contiguous).unwrap_or(&[])
    }

    /// Whether bytes arrived after a hole that never filled.
    pub fn has_gap(&self) -> bool {
        self.beyond
    }

    pub fn is_full(&self) -> bool {
        self.contiguous >= self.cap
    }
}

/// Buffers handed out to flows, bounded by a memory cap.
#[derive(Debug)]
pub struct Pool {
    /// Boxed, so a flow holds 8 bytes per direction rather than the buffer's bookkeeping.
    #[allow(
        clippy::vec_box,
        reason = "the boxes move to flows and back without reallocating"
    )]
    free: Vec<Box<Prefix>>,
    cap_bytes: usize,
    max_buffers: usize,
    in_use: usize,
}

impl Pool {
    pub fn new(prefix_bytes: usize, memory_bytes: usize) -> Self {
        let per = prefix_bytes + prefix_bytes.div_ceil(8);
        Self {
            free: Vec::new(),
            cap_bytes: prefix_bytes,
            max_buffers: if prefix_bytes == 0 {
                0
            } else {
                memory_bytes / per.max(1)
            },
            in_use: 0,
        }
    }

    /// A cleared buffer, or `None` when the memory cap is reached (or prefixes are off).
    pub fn take(&mut self) -> Option<Box<Prefix>> {
        if self.in_use >= self.max_buffers {
            return None;
        }
        self.in_use += 1;
        Some(match self.free.pop() {
            Some(mut p) => {
                p.reset();
                p
            }
            None => Box::new(Prefix::new(self.cap_bytes)),
        })
    }

    pub fn give(&mut self, p: Box<Prefix>) {
        self.in_use = self.in_use.saturating_sub(1);
        if p.cap() == self.cap_bytes {
            self.free.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_and_keeps_first_copy() {
        let mut pool = Pool::new(16, 1 << 20);
        let mut p = pool.take().unwrap();
        p.add(4, b"EFGH");
        assert_eq!(p.bytes(), b"");
        assert!(p.has_gap());
        p.add(0, b"ABCD");
        assert_eq!(p.bytes(), b"ABCDEFGH");
        assert!(!p.has_gap());
        p.add(2, b"xxxxxxIJ");
        assert_eq!(p.bytes(), b"ABCDEFGHIJ");
        p.add(8, b"KLMNOPQRSTUV");
        assert_eq!(p.bytes(), b"ABCDEFGHIJMNOPQR");
        assert!(p.is_full());
    }

    #[test]
    fn pool_respects_memory_cap() {
        let mut pool = Pool::new(1024, 3 * 1200);
        let a = pool.take().unwrap();
        let _b = pool.take().unwrap();
        let _c = pool.take().unwrap();
        assert!(pool.take().is_none());
        pool.give(a);
        assert!(pool.take().is_some());
    }
}
