//! One side of a TCP conversation: its state, sequence space and per-direction counters, and
//! the transitions a segment causes. The states and transitions are Zeek's
//! (`TCPSessionAdapter::UpdateStateMachine` and the `Update*State` functions in
//! `src/packet_analysis/protocol/tcp/`), so that `conn_state` and `history` mean what Zeek users
//! expect: INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET.

use crate::decode::TcpFlags;

/// A TCP endpoint's state as Zeek names it (`TCP_Endpoint.h`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpState {
    /// Nothing seen from this side.
    #[default]
    Inactive,
    SynSent,
    /// SYN+ACK sent without having seen the peer's SYN.
    SynAckSent,
    /// Traffic without a SYN (the capture joined mid-stream).
    Partial,
    Established,
    /// FIN sent.
    Closed,
    /// RST sent.
    Reset,
}

impl TcpState {
    fn is_handshake(self) -> bool {
        matches!(
            self,
            TcpState::Inactive | TcpState::SynSent | TcpState::SynAckSent
        )
    }

    /// Zeek's "inactive" for `conn_state`: nothing, or only mid-stream traffic.
    pub fn is_inactive(self) -> bool {
        matches!(self, TcpState::Inactive | TcpState::Partial)
    }
}

/// SYN or RST sequence jumps beyond this are ignored for the sequence space (Zeek: 1 MiB).
const MAX_SEQ_JUMP: i64 = 1_048_576;

/// A letter counted on a logarithmic scale: recorded at the 1st, 10th, 100th … occurrence
/// (Zeek `Session::ScaledHistoryEntry`), so a stream of retransmissions cannot grow the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scaled {
    count: u64,
    threshold: u64,
}

impl Default for Scaled {
    fn default() -> Self {
        Self {
            count: 0,
            threshold: 1,
        }
    }
}

impl Scaled {
    /// Counts one occurrence; `true` when the letter must be recorded now.
    pub fn bump(&mut self) -> bool {
        self.count = self.count.saturating_add(1);
        if self.count == self.threshold {
            match self.threshold.checked_mul(10) {
                Some(t) => self.threshold = t,
                None => self.count = 0,
            }
            true
        } else {
            false
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// One direction of a conversation: TCP state plus counters that every protocol uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Endpoint {
    pub state: TcpState,
    pub prev_state: TcpState,
    /// Zeek's `did_close`: this side's close (FIN or RST) has been reported.
    pub did_close: bool,
    /// Sequence bookkeeping; `start` is the ISN (or first seq − 1 mid-stream).
    pub start_seq: u32,
    last_seq: u32,
    last_wraps: u32,
    /// Highest acknowledgement the peer sent for this side's data.
    ack_seq: u32,
    ack_wraps: u32,
    seq_initialised: bool,
    pub fin_cnt: u32,
    pub rst_cnt: u32,
    hist_last_syn: u64,
    hist_last_fin: u64,
    hist_last_rst: u64,
    /// Packets and IP bytes counted for this side.
    pub pkts: u64,
    pub ip_bytes: u64,
    /// Payload bytes summed (UDP, ICMP); TCP uses the sequence space instead.
    pub payload_bytes: u64,
    pub checksum_errors: Scaled,
    pub retransmissions: Scaled,
    pub zero_windows: Scaled,
    pub gaps: Scaled,
    /// Bytes the capture is missing in this direction (acknowledged but never seen).
    pub missed_bytes: u64,
    /// Next sequence number (relative) up to which this side's data was seen contiguously.
    contiguous_rel: u64,
    fin_rel: u64,
}

/// Out-of-order stretches of one direction's data, remembered until the hole before them fills.
/// Bounded: a fifth stretch is forgotten (and may later be counted as a gap).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ooo {
    ranges: [(u64, u64); 4],
    n: usize,
}

impl Ooo {
    fn add(&mut self, s: u64, e: u64) {
        if let Some(slot) = self.ranges.get_mut(self.n) {
            *slot = (s, e);
            self.n += 1;
        }
    }

    /// Extends `upto` through every remembered stretch that starts at or before it.
    fn absorb(&mut self, mut upto: u64) -> u64 {
        loop {
            let mut grew = false;
            let mut i = 0;
            while i < self.n {
                let (s, e) = self.ranges.get(i).copied().unwrap_or((0, 0));
                if s <= upto {
                    upto = upto.max(e);
                    self.n -= 1;
                    let last = self.ranges.get(self.n).copied().unwrap_or((0, 0));
                    if let Some(slot) = self.ranges.get_mut(i) {
                        *slot = last;
                    }
                    grew = true;
                } else {
                    i += 1;
                }
            }
            if !grew {
                return upto;
            }
        }
    }

    fn first_start_after(&self, at: u64) -> Option<u64> {
        self.ranges
            .iter()
            .take(self.n)
            .map(|&(s, _)| s)
            .filter(|&s| s > at)
            .min()
    }
}

/// What one segment did, for the history and the flow's lifecycle.
#[derive(Clone, Copy, Debug, Default)]
pub struct SegmentEffect {
    /// A FIN or RST made this side report a close.
    pub do_close: bool,
    /// The SYN/SYN-ACK reversal rule swapped the roles.
    pub flip: bool,
}

/// A segment as the state machine needs it.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// Payload length on the wire.
    pub len: u32,
    pub window: u16,
}

impl Segment {
    /// Sequence space the segment occupies (RFC 9293: SYN and FIN count one each; Zeek leaves
    /// an RST's payload out).
    fn seg_len(&self) -> u32 {
        let mut l = if self.flags.rst() { 0 } else { self.len };
        if self.flags.syn() {
            l = l.saturating_add(1);
        }
        if self.flags.fin() {
            l = l.saturating_add(1);
        }
        l
    }
}

fn delta(a: u32, b: u32) -> i64 {
    // Signed 32-bit distance from b to a, as TCP sequence arithmetic defines it.
    i64::from(a.wrapping_sub(b) as i32)
}

impl Endpoint {
    fn set_state(&mut self, s: TcpState) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
        }
    }

    /// Relative sequence number of `seq` (Zeek's `rel_seq`).
    pub fn rel_seq(&self, seq: u32) -> u64 {
        u64::from(seq.wrapping_sub(self.start_seq))
    }

    /// Sequence bookkeeping for a segment this endpoint sends (Zeek `init_endpoint`).
    pub(crate) fn init_seq(&mut self, seg: &Segment) {
        let end = seg.seq.wrapping_add(seg.seg_len());
        let reinit = |e: &mut Endpoint| {
            e.start_seq = seg.seq;
            e.ack_seq = seg.seq;
            e.last_seq = end;
            e.last_wraps = 0;
            e.ack_wraps = 0;
            e.contiguous_rel = 1;
            e.seq_initialised = true;
        };
        match self.state {
            TcpState::Inactive => {
                if seg.flags.syn() {
                    reinit(self);
                } else if !self.seq_initialised {
                    self.start_seq = seg.seq.wrapping_sub(1);
                    self.ack_seq = self.start_seq;
                    self.last_seq = seg.seq;
                    self.last_wraps = 0;
                    self.ack_wraps = 0;
                    self.contiguous_rel = 1;
                    self.seq_initialised = true;
                }
            }
            TcpState::SynSent | TcpState::SynAckSent => {
                if seg.flags.syn() && seg.seq != self.start_seq {
                    reinit(self);
                }
            }
            TcpState::Established | TcpState::Partial => {
                if seg.flags.syn() {
                    reinit(self);
                }
            }
            TcpState::Reset => {
                if seg.flags.syn() && self.prev_state == TcpState::Inactive {
                    reinit(self);
                }
            }
            TcpState::Closed => {}
        }
    }

    /// The peer saw a packet from us acknowledging it, before it sent anything (Zeek `init_peer`).
    pub(crate) fn init_from_ack(&mut self, ack: u32) {
        self.start_seq = ack.wrapping_sub(1);
        self.ack_seq = self.start_seq;
        self.last_seq = self.start_seq;
        self.last_wraps = 0;
        self.ack_wraps = 0;
        self.contiguous_rel = 1;
        self.seq_initialised = true;
    }

    /// Records an acknowledgement from the peer covering our data up to `ack`.
    pub(crate) fn ack_received(&mut self, ack: u32) {
        let d = delta(ack, self.ack_seq);
        // Zeek treats an ACK of 0 that jumps more than 1 MiB as broken.
        if d > 0 && !(ack == 0 && d > MAX_SEQ_JUMP) {
            if ack < self.ack_seq {
                self.ack_wraps = self.ack_wraps.saturating_add(1);
            }
            self.ack_seq = ack;
        }
    }

    /// Advances the highest sequence seen; `true` when the segment is a retransmission.
    pub(crate) fn update_last_seq(&mut self, seg: &Segment) -> bool {
        let end = seg.seq.wrapping_add(seg.seg_len());
        let d = delta(end, self.last_seq);
        let flags = seg.flags;
        if (flags.syn() || flags.rst()) && d.abs() > MAX_SEQ_JUMP {
            false
        } else if flags.fin() && self.last_seq == self.start_seq.wrapping_add(1) {
            self.last_seq = end;
            false
        } else if self.state == TcpState::Reset {
            false
        } else if d > 0 {
            if end < self.last_seq {
                self.last_wraps = self.last_wraps.saturating_add(1);
            }
            self.last_seq = end;
            false
        } else {
            seg.len > 0
        }
    }

    /// Bytes this side sent, from the sequence space (Zeek `TCP_Endpoint::Size`): retransmitted
    /// bytes count once, bytes the capture missed but the peer acknowledged count too.
    pub fn tcp_size(&self) -> u64 {
        if !self.seq_initialised {
            return 0;
        }
        let acked =
            self.ack_seq != self.start_seq && self.ack_seq != self.start_seq.wrapping_add(1);
        if self.prev_state == TcpState::SynSent && self.state == TcpState::Reset && acked {
            return 0;
        }
        let start = u64::from(self.start_seq);
        let last = (u64::from(self.last_wraps) << 32) | u64::from(self.last_seq);
        let ack = (u64::from(self.ack_wraps) << 32) | u64::from(self.ack_seq);
        // The SYN occupies one sequence number (also assumed mid-stream, see `init_seq`).
        let mut size = last.max(ack).saturating_sub(start).saturating_sub(1);
        if self.fin_cnt > 0 && size > 0 {
            size -= 1;
        }
        size
    }

    /// Notes that this side's data `[rel_start, rel_end)` was seen (for gap accounting).
    pub(crate) fn saw_data(&mut self, rel_start: u64, rel_end: u64, ooo: &mut Ooo) {
        if rel_start <= self.contiguous_rel {
            if rel_end > self.contiguous_rel {
                self.contiguous_rel = rel_end;
                self.contiguous_rel = ooo.absorb(self.contiguous_rel);
            }
        } else {
            ooo.add(rel_start, rel_end);
        }
    }

    /// The peer acknowledged up to relative `rel_ack`: bytes below it that were never seen are
    /// missing from the capture. Returns the size of the new gap, if any.
    pub(crate) fn gap_up_to(&mut self, rel_ack: u64, ooo: &mut Ooo) -> u64 {
        let mut gap = 0;
        while rel_ack > self.contiguous_rel {
            // The missing stretch ends where the next out-of-order block starts (or at the ACK).
            let next = ooo
                .first_start_after(self.contiguous_rel)
                .unwrap_or(rel_ack);
            let upto = next.min(rel_ack);
            gap += upto - self.contiguous_rel;
            self.contiguous_rel = ooo.absorb(upto);
            if upto == rel_ack {
                break;
            }
        }
        gap
    }

    /// Records where this side's FIN sits in its sequence space.
    pub(crate) fn note_fin(&mut self, rel_end: u64) {
        self.fin_rel = rel_end;
    }

    pub(crate) fn fin_rel(&self) -> u64 {
        self.fin_rel
    }
}

/// Zeek reports content gaps only while both sides are in a normal, established state.
pub(crate) fn clean(e: &Endpoint) -> bool {
    e.state == TcpState::Established
        || (e.state == TcpState::Closed && e.prev_state == TcpState::Established)
}

pub(crate) fn update_state(
    endpoint: &mut Endpoint,
    peer: &mut Endpoint,
    is_orig: bool,
    seg: &Segment,
    eff: &mut SegmentEffect,
) {
    let flags = seg.flags;
    match endpoint.state {
        TcpState::Inactive => {
            if flags.syn() {
                if is_orig {
                    endpoint.set_state(if flags.ack() {
                        TcpState::SynAckSent
                    } else {
                        TcpState::SynSent
                    });
                } else {
                    if !flags.ack() && peer.state == TcpState::SynAckSent {
                        // The SYN-ACK was seen before the SYN: swap the roles.
                        eff.flip = true;
                        peer.set_state(TcpState::Established);
                    }
                    if peer.state == TcpState::SynSent {
                        peer.set_state(TcpState::Established);
                    }
                    endpoint.set_state(TcpState::Established);
                }
            }
            if flags.fin() {
                endpoint.set_state(TcpState::Closed);
                eff.do_close = true;
            }
            if flags.rst() {
                endpoint.set_state(TcpState::Reset);
                eff.do_close = true;
            }
            if endpoint.state == TcpState::Inactive {
                if !is_orig && seg.len == 0 && peer.state == TcpState::SynSent {
                    // An ACK of the SYN before the SYN-ACK: not yet a partial connection.
                } else if flags.ack() && peer.state == TcpState::Established {
                    endpoint.set_state(TcpState::Established);
                } else {
                    endpoint.set_state(TcpState::Partial);
                }
            }
        }
        TcpState::SynSent | TcpState::SynAckSent => {
            if flags.fin() {
                endpoint.set_state(TcpState::Closed);
                eff.do_close = true;
            }
            if flags.rst() {
                endpoint.set_state(TcpState::Reset);
                eff.do_close = true;
            }
        }
        TcpState::Established | TcpState::Partial => {
            if flags.syn()
                && endpoint.state == TcpState::Partial
                && peer.state == TcpState::Inactive
                && !flags.ack()
            {
                endpoint.set_state(TcpState::SynSent);
            }
            if flags.fin() && !flags.rst() {
                endpoint.set_state(TcpState::Closed);
                if peer.state == TcpState::Reset && peer.prev_state == TcpState::Closed {
                    // FIN then RST from the peer was a normal close after all.
                    peer.set_state(TcpState::Closed);
                }
                eff.do_close = true;
            }
            if flags.rst() {
                endpoint.set_state(TcpState::Reset);
                eff.do_close = true;
            }
        }
        TcpState::Closed => {
            if flags.rst() && peer.state != TcpState::Closed {
                endpoint.set_state(TcpState::Reset);
                eff.do_close = !endpoint.did_close;
            }
        }
        TcpState::Reset => {}
    }
    if flags.fin() {
        endpoint.fin_cnt = endpoint.fin_cnt.saturating_add(1);
    }
    if flags.rst() {
        endpoint.rst_cnt = endpoint.rst_cnt.saturating_add(1);
    }
}

/// Whether a state change leaves the handshake (Zeek then switches to the long inactivity timeout).
pub fn left_handshake(before: (TcpState, TcpState), after: (TcpState, TcpState)) -> bool {
    let was = before.0.is_handshake() && before.1.is_handshake();
    let now = after.0.is_handshake() && after.1.is_handshake();
    was && !now
}

/// The history letter bookkeeping of SYN, FIN and RST repeats (Zeek `update_history`).
pub fn repeat_syn(e: &mut Endpoint, rel: u64) -> bool {
    let again = rel != e.hist_last_syn;
    e.hist_last_syn = rel;
    again
}

pub fn repeat_fin(e: &mut Endpoint, rel: u64) -> bool {
    let again = rel != e.hist_last_fin;
    e.hist_last_fin = rel;
    again
}

pub fn repeat_rst(e: &mut Endpoint, rel: u64) -> bool {
    let again = rel != e.hist_last_rst;
    e.hist_last_rst = rel;
    again
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_letters_at_powers_of_ten() {
        let mut s = Scaled::default();
        let hits: Vec<u64> = (1..=1000).filter(|_| s.bump()).collect();
        assert_eq!(hits.len(), 4);
        assert_eq!(s.count(), 1000);
    }

    #[test]
    fn size_counts_sequence_space_once() {
        let mut a = Endpoint::default();
        let mut b = Endpoint::default();
        let mut eff = SegmentEffect::default();
        let syn = Segment {
            flags: TcpFlags(TcpFlags::SYN),
            seq: 1000,
            ack: 0,
            len: 0,
            window: 100,
        };
        a.init_seq(&syn);
        a.update_last_seq(&syn);
        update_state(&mut a, &mut b, true, &syn, &mut eff);
        let data = Segment {
            flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
            seq: 1001,
            ack: 5,
            len: 10,
            window: 100,
        };
        a.init_seq(&data);
        assert!(!a.update_last_seq(&data));
        assert!(a.update_last_seq(&data));
        assert_eq!(a.tcp_size(), 10);
    }

    #[test]
    fn gaps_skip_out_of_order_data() {
        let mut e = Endpoint::default();
        let mut ooo = Ooo::default();
        e.contiguous_rel = 1;
        e.saw_data(11, 21, &mut ooo);
        assert_eq!(e.gap_up_to(21, &mut ooo), 10);
        e.saw_data(21, 31, &mut ooo);
        assert_eq!(e.gap_up_to(31, &mut ooo), 0);
    }
}
