//! IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5) in a bounded table.
//!
//! A datagram is identified by source, destination, identification and protocol. Each one keeps
//! its bytes in a buffer taken from a pool (so reassembly allocates only while the pool warms up)
//! and the byte ranges received so far. Overlapping bytes keep their first copy, as most stacks
//! do, and are counted. A datagram that stops receiving fragments for the timeout, or that does
//! not fit in the table, is dropped and counted.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::stats::FragmentStats;
use crate::time::{Duration, Timestamp};

/// RFC 791 / RFC 8200: a reassembled payload cannot exceed 65,535 bytes.
const MAX_DATAGRAM_BYTES: usize = 65_535;
/// Distinct byte ranges one datagram may arrive in (a datagram in more pieces is dropped).
const MAX_RANGES: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

/// A finished datagram's buffer and range list, kept for the next one.
type Spare = (Vec<u8>, Vec<(usize, usize)>);

struct Pending {
    buf: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    ranges: Vec<(usize, usize)>,
    /// Total payload length, once the last fragment (more-fragments clear) has arrived.
    total: Option<usize>,
    first_seen: Timestamp,
}

/// The reassembly table.
pub struct Defrag {
    pending: HashMap<FragKey, Pending, foldhash::fast::RandomState>,
    /// Buffers and range lists of finished datagrams, for reuse.
    pool: Vec<Spare>,
    /// The last completed datagram, lent to the caller until the next insert.
    done: Vec<u8>,
    max_datagrams: usize,
    timeout: Duration,
}

impl Defrag {
    pub fn new(max_datagrams: usize, timeout: Duration) -> Self {
        Self {
            pending: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            pool: Vec::new(),
            done: Vec::new(),
            max_datagrams: max_datagrams.max(1),
            timeout,
        }
    }

    /// Datagrams waiting for fragments.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds one fragment (`offset` in bytes). Returns the whole payload once it is complete.
    pub fn insert(
        &mut self,
        key: FragKey,
        offset: usize,
        more: bool,
        data: &[u8],
        now: Timestamp,
        stats: &mut FragmentStats,
    ) -> Option<&[u8]> {
        stats.fragments += 1;
        let end = offset.saturating_add(data.len());
        if end > MAX_DATAGRAM_BYTES || (more && data.len() % 8 != 0) {
            stats.invalid += 1;
            return None;
        }
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= self.max_datagrams {
                self.expire(now, stats);
            }
            if self.pending.len() >= self.max_datagrams {
                stats.table_full += 1;
                return None;
            }
            let (mut buf, mut ranges) = self.pool.pop().unwrap_or_default();
            buf.clear();
            ranges.clear();
            self.pending.insert(
                key,
                Pending {
                    buf,
                    ranges,
                    total: None,
                    first_seen: now,
                },
            );
        }
        let p = self.pending.get_mut(&key)?;
        if !more {
            match p.total {
                Some(t) if t != end => {
                    stats.invalid += 1;
                    return None;
                }
                _ => p.total = Some(end),
            }
        }
        if p.total.is_some_and(|t| end > t) {
            stats.invalid += 1;
            return None;
        }
        if p.buf.len() < end {
            p.buf.resize(end, 0);
        }
        // Copy only the bytes no earlier fragment supplied (first copy wins).
        let mut cursor = offset;
        let mut overlapped = false;
        for &(s, e) in &p.ranges {
            if e <= cursor || s >= end {
                continue;
            }
            if s > cursor {
                copy(&mut p.buf, data, offset, cursor, s);
            }
            overlapped = true;
            cursor = cursor.max(e);
        }
        if cursor < end {
            copy(&mut p.buf, data, offset, cursor, end);
        }
        if overlapped {
            stats.overlaps += 1;
        }
        if !add_range(&mut p.ranges, offset, end) {
            stats.invalid += 1;
            if let Some(p) = self.pending.remove(&key) {
                self.pool.push((p.buf, p.ranges));
            }
            return None;
        }
        let complete = matches!((p.total, p.ranges.as_slice()), (Some(t), [(0, e)]) if *e == t);
        if !complete {
            return None;
        }
        let p = self.pending.remove(&key)?;
        let old = std::mem::replace(&mut self.done, p.buf);
        self.pool.push((old, p.ranges));
        stats.reassembled += 1;
        Some(&self.done)
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now: Timestamp, stats: &mut FragmentStats) {
        let timeout = self.timeout;
        let pool = &mut self.pool;
        self.pending.retain(|_, p| {
            let keep = now.since(p.first_seen) < timeout;
            if !keep {
                stats.timed_out += 1;
                pool.push((std::mem::take(&mut p.buf), std::mem::take(&mut p.ranges)));
            }
            keep
        });
    }
}

fn copy(buf: &mut [u8], data: &[u8], data_offset: usize, from: usize, to: usize) {
    let src = data.get(from - data_offset..to - data_offset);
    let dst = buf.get_mut(from..to);
    if let (Some(src), Some(dst)) = (src, dst) {
        dst.copy_from_slice(src);
    }
}

/// Inserts `[s, e)` into sorted, merged `ranges`. `false` when there would be too many ranges.
fn add_range(ranges: &mut Vec<(usize, usize)>, s: usize, e: usize) -> bool {
    let mut start = s;
    let mut end = e;
    ranges.retain(|&(rs, re)| {
        if re < start || rs > end {
            true
        } else {
            start = start.min(rs);
            end = end.max(re);
            false
        }
    });
    if ranges.len() >= MAX_RANGES {
        return false;
    }
    let at = ranges.partition_point(|&(rs, _)| rs < start);
    ranges.insert(at, (start, end));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key() -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            id: 7,
            proto: 17,
        }
    }

    #[test]
    fn reassembles_out_of_order_and_counts_overlap() {
        let mut d = Defrag::new(4, Duration::from_secs(30));
        let mut st = FragmentStats::default();
        let data: Vec<u8> = (0..40u8).collect();
        let t = Timestamp::ZERO;
        assert!(
            d.insert(key(), 24, false, &data[24..], t, &mut st)
                .is_none()
        );
        assert!(d.insert(key(), 8, true, &data[8..24], t, &mut st).is_none());
        // Overlapping retransmission of bytes 8..16 with different content: first copy wins.
        assert!(d.insert(key(), 8, true, &[0xff; 8], t, &mut st).is_none());
        let whole = d.insert(key(), 0, true, &data[..8], t, &mut st).unwrap();
        assert_eq!(whole, &data[..]);
        assert_eq!(st.overlaps, 1);
        assert_eq!(st.reassembled, 1);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn table_cap_and_timeout_are_counted() {
        let mut d = Defrag::new(1, Duration::from_secs(30));
        let mut st = FragmentStats::default();
        let mut k2 = key();
        k2.id = 8;
        assert!(
            d.insert(key(), 0, true, &[0; 8], Timestamp::ZERO, &mut st)
                .is_none()
        );
        assert!(
            d.insert(k2, 0, true, &[0; 8], Timestamp::ZERO, &mut st)
                .is_none()
        );
        assert_eq!(st.table_full, 1);
        let later = Timestamp::from_nanos(31_000_000_000);
        assert!(d.insert(k2, 0, true, &[0; 8], later, &mut st).is_none());
        assert_eq!(st.timed_out, 1);
        assert_eq!(d.pending(), 1);
    }

    #[test]
    fn oversized_datagram_is_invalid() {
        let mut d = Defrag::new(4, Duration::from_secs(30));
        let mut st = FragmentStats::default();
        assert!(
            d.insert(key(), 65_528, false, &[0; 16], Timestamp::ZERO, &mut st)
                .is_none()
        );
        assert_eq!(st.invalid, 1);
    }
}
