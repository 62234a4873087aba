//! The first bytes of each direction's payload, in sequence order, for the inspectors.
//!
//! Each direction gets a buffer from a pool (so steady-state traffic allocates nothing) that grows
//! as its payload arrives, up to `payload_prefix_bytes`. Retransmitted and overlapping bytes keep
//! their first copy; out-of-order segments wait in place until the hole before them fills. Only
//! the contiguous part from the first byte is handed to the inspectors; a hole that never filled
//! is reported as a gap. Every byte of buffer is taken from one memory budget: when it is spent, a
//! prefix stops growing and says so (`starved`), and the run counts it.

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
    /// The memory budget ran out before the prefix was complete.
    starved: bool,
}

impl Prefix {
    fn new(cap: usize) -> Self {
        Self {
            data: Vec::new(),
            bits: Vec::new(),
            cap,
            contiguous: 0,
            beyond: false,
            datagrams: 0,
            starved: false,
        }
    }

    fn reset(&mut self) {
        self.data.clear();
        self.contiguous = 0;
        self.beyond = false;
        self.datagrams = 0;
        self.starved = false;
    }

    /// Bytes of memory this buffer holds.
    fn held(&self) -> usize {
        self.data.capacity() + self.bits.capacity() * 8
    }

    /// Makes room for `len` bytes of data, taking the growth from the pool's budget. Returns how
    /// many bytes fit (fewer when the budget is spent).
    fn room(&mut self, len: usize, pool: &mut Pool) -> usize {
        let have = self.data.capacity();
        if len <= have {
            return len;
        }
        // Grow geometrically from a small start, never past the prefix size.
        let want = len.max(have * 2).max(MIN_GROWTH).min(self.cap);
        if pool.reserve(want - have) {
            self.data.reserve_exact(want - self.data.len());
            pool.adjust(self.data.capacity(), have + (want - have));
            len.min(self.data.capacity())
        } else {
            self.starved = true;
            have
        }
    }

    /// Whether the memory budget stopped this prefix short.
    pub fn is_starved(&self) -> bool {
        self.starved
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

    /// Adds stream bytes at `offset` from the first byte of the direction; memory for them comes
    /// from `pool`'s budget.
    pub fn add(&mut self, offset: u64, bytes: &[u8], pool: &mut Pool) {
        let cap = self.cap;
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        if start >= cap {
            return;
        }
        let take = bytes.get(..cap - start).unwrap_or(bytes);
        let fits = self.room(start + take.len(), pool);
        let Some(take) = take.get(..fits.saturating_sub(start)) else {
            return;
        };
        if take.is_empty() {
            return;
        }
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
            // First out-of-order bytes: track which bytes beyond `contiguous` arrived.
            let words = cap.div_ceil(64);
            if self.bits.capacity() < words {
                if !pool.reserve(words * 8) {
                    self.starved = true;
                    return;
                }
                let before = self.bits.capacity() * 8;
                self.bits.reserve_exact(words - self.bits.len());
                pool.adjust(self.bits.capacity() * 8, before + words * 8);
            }
            self.beyond = true;
            self.bits.clear();
            self.bits.resize(words, 0);
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
    pub fn add_datagram(&mut self, bytes: &[u8], pool: &mut Pool) {
        if self.datagrams == 0 {
            self.add(0, bytes, pool);
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

/// A new buffer's first allocation; it doubles from there up to the prefix size.
const MIN_GROWTH: usize = 256;

/// Buffers handed out to flows, and the memory budget all their bytes come from.
#[derive(Debug)]
pub struct Pool {
    /// Boxed, so a flow holds 8 bytes per direction rather than the buffer's bookkeeping.
    #[allow(
        clippy::vec_box,
        reason = "the boxes move to flows and back without reallocating"
    )]
    free: Vec<Box<Prefix>>,
    cap_bytes: usize,
    /// Bytes not yet held by any buffer (in use or free).
    available: usize,
}

impl Pool {
    pub fn new(prefix_bytes: usize, memory_bytes: usize) -> Self {
        Self {
            free: Vec::new(),
            cap_bytes: prefix_bytes,
            available: memory_bytes,
        }
    }

    /// A cleared buffer (it grows as payload arrives), or `None` when prefixes are off.
    pub fn take(&mut self) -> Option<Box<Prefix>> {
        if self.cap_bytes == 0 {
            return None;
        }
        Some(match self.free.pop() {
            Some(mut p) => {
                p.reset();
                p
            }
            None => Box::new(Prefix::new(self.cap_bytes)),
        })
    }

    /// Takes a buffer back (every buffer came from `take`, so all have this pool's size).
    pub fn give(&mut self, p: Box<Prefix>) {
        self.free.push(p);
    }

    /// Takes `n` bytes from the budget; when it is short, frees idle buffers first.
    fn reserve(&mut self, n: usize) -> bool {
        while self.available < n {
            match self.free.pop() {
                Some(p) => self.available += p.held(),
                None => return false,
            }
        }
        self.available -= n;
        true
    }

    /// The allocator gave `got` bytes where `asked` were reserved: settle the difference.
    fn adjust(&mut self, got: usize, asked: usize) {
        if got > asked {
            self.available = self.available.saturating_sub(got - asked);
        } else {
            self.available += asked - got;
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
        p.add(4, b"EFGH", &mut pool);
        assert_eq!(p.bytes(), b"");
        assert!(p.has_gap());
        p.add(0, b"ABCD", &mut pool);
        assert_eq!(p.bytes(), b"ABCDEFGH");
        assert!(!p.has_gap());
        p.add(2, b"xxxxxxIJ", &mut pool);
        assert_eq!(p.bytes(), b"ABCDEFGHIJ");
        p.add(8, b"KLMNOPQRSTUV", &mut pool);
        assert_eq!(p.bytes(), b"ABCDEFGHIJMNOPQR");
        assert!(p.is_full());
    }

    #[test]
    fn the_budget_bounds_all_buffers() {
        let mut pool = Pool::new(4096, 3000);
        let mut a = pool.take().unwrap();
        let mut b = pool.take().unwrap();
        a.add(0, &[1; 2000], &mut pool);
        assert_eq!(a.bytes().len(), 2000);
        assert!(!a.is_starved());
        // 2048 bytes held by `a`; `b` can grow to what is left, then starves.
        b.add(0, &[2; 2000], &mut pool);
        assert!(b.bytes().len() < 2000);
        assert!(b.is_starved());
        assert!(a.held() + b.held() <= 3000);
        // Returned buffers are reused without new memory.
        pool.give(a);
        let mut c = pool.take().unwrap();
        c.add(0, &[3; 100], &mut pool);
        assert_eq!(c.bytes().len(), 100);
        assert!(!c.is_starved());
    }
}
