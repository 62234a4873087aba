//! Zeek's `conn_state`, derived from the two endpoints' states by one pure function that follows
//! `conn_state()` in Zeek's `scripts/base/protocols/conn/main.zeek`.

use serde::Serialize;

use super::tcp::TcpState;

/// A connection's state summary, with Zeek's names and meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Connection established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected (RST in answer to the SYN).
    REJ,
    /// Established; the originator tried to close, no reply from the responder.
    S2,
    /// Established; the responder tried to close, no reply from the originator.
    S3,
    /// Established; the originator aborted (sent a RST).
    RSTO,
    /// Established; the responder aborted (sent a RST).
    RSTR,
    /// The originator sent a SYN then a RST; no SYN-ACK was seen.
    RSTOS0,
    /// The responder sent a SYN-ACK then a RST; no SYN was seen from the originator.
    RSTRH,
    /// The originator sent a SYN then a FIN; no SYN-ACK was seen ("half open").
    SH,
    /// The responder sent a SYN-ACK then a FIN; no SYN was seen from the originator.
    SHR,
    /// No SYN seen, only mid-stream traffic (and every non-TCP, non-UDP flow).
    OTH,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }

    pub const ALL: [ConnState; 13] = [
        ConnState::S0,
        ConnState::S1,
        ConnState::SF,
        ConnState::REJ,
        ConnState::S2,
        ConnState::S3,
        ConnState::RSTO,
        ConnState::RSTR,
        ConnState::RSTOS0,
        ConnState::RSTRH,
        ConnState::SH,
        ConnState::SHR,
        ConnState::OTH,
    ];
}

/// What `tcp_state` needs to know about each side.
#[derive(Clone, Copy, Debug)]
pub struct SideSummary {
    pub state: TcpState,
    /// Bytes in this side's sequence space.
    pub size: u64,
}

/// TCP: Zeek's decision list, first match wins.
pub fn tcp_state(orig: SideSummary, resp: SideSummary, history: &[u8]) -> ConnState {
    use TcpState::*;
    let (os, rs) = (orig.state, resp.state);
    let o_inactive = os.is_inactive();
    let r_inactive = rs.is_inactive();
    if rs == Reset {
        if matches!(os, SynSent | SynAckSent) || (os == Reset && orig.size == 0 && resp.size == 0) {
            ConnState::REJ
        } else if o_inactive {
            ConnState::RSTRH
        } else {
            ConnState::RSTR
        }
    } else if os == Reset {
        if r_inactive {
            if syn_then_rst(history) {
                ConnState::RSTOS0
            } else {
                ConnState::OTH
            }
        } else {
            ConnState::RSTO
        }
    } else if rs == Closed && os == Closed {
        ConnState::SF
    } else if os == Closed {
        if r_inactive {
            ConnState::SH
        } else {
            ConnState::S2
        }
    } else if rs == Closed {
        if o_inactive {
            ConnState::SHR
        } else {
            ConnState::S3
        }
    } else if os == SynSent && rs == Inactive {
        ConnState::S0
    } else if os == Established && rs == Established {
        ConnState::S1
    } else {
        ConnState::OTH
    }
}

/// Zeek's pattern `^\^?S[^HAFGIQ]*R.*$` over the whole history.
fn syn_then_rst(h: &[u8]) -> bool {
    let h = h.strip_prefix(b"^").unwrap_or(h);
    let Some(rest) = h.strip_prefix(b"S") else {
        return false;
    };
    for &c in rest {
        if c == b'R' {
            return true;
        }
        if b"HAFGIQ".contains(&c) {
            return false;
        }
    }
    false
}

/// UDP: each side is active once it sent a datagram.
pub fn udp_state(orig_active: bool, resp_active: bool) -> ConnState {
    match (orig_active, resp_active) {
        (true, true) => ConnState::SF,
        (true, false) => ConnState::S0,
        (false, true) => ConnState::SHR,
        (false, false) => ConnState::OTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    fn s(state: TcpState, size: u64) -> SideSummary {
        SideSummary { state, size }
    }

    /// Every row of Zeek's decision list, with the states that select it.
    #[test]
    fn every_row_of_zeeks_table() {
        let cases: [(TcpState, u64, TcpState, u64, &str, ConnState); 16] = [
            (SynSent, 0, Reset, 0, "Sr", ConnState::REJ),
            (Reset, 0, Reset, 0, "SrR", ConnState::REJ),
            (Partial, 5, Reset, 0, "Dr", ConnState::RSTRH),
            (Inactive, 0, Reset, 0, "hr", ConnState::RSTRH),
            (Established, 5, Reset, 3, "ShADdr", ConnState::RSTR),
            (Reset, 0, Inactive, 0, "SR", ConnState::RSTOS0),
            (Reset, 0, Partial, 0, "DR", ConnState::OTH),
            (Reset, 5, Established, 3, "ShADdR", ConnState::RSTO),
            (Closed, 5, Closed, 3, "ShADdFf", ConnState::SF),
            (Closed, 0, Inactive, 0, "SF", ConnState::SH),
            (Closed, 5, Established, 3, "ShADdF", ConnState::S2),
            (Inactive, 0, Closed, 0, "hf", ConnState::SHR),
            (Established, 5, Closed, 3, "ShADdf", ConnState::S3),
            (SynSent, 0, Inactive, 0, "S", ConnState::S0),
            (Established, 5, Established, 3, "ShADd", ConnState::S1),
            (SynAckSent, 0, Inactive, 0, "H", ConnState::OTH),
        ];
        for (os, osz, rs, rsz, h, want) in cases {
            assert_eq!(
                tcp_state(s(os, osz), s(rs, rsz), h.as_bytes()),
                want,
                "{os:?} {rs:?} {h}"
            );
        }
    }

    #[test]
    fn rstos0_pattern() {
        assert!(syn_then_rst(b"SR"));
        assert!(syn_then_rst(b"^SsR"));
        assert!(!syn_then_rst(b"SAR"));
        assert!(!syn_then_rst(b"S"));
        assert!(!syn_then_rst(b"DR"));
    }

    #[test]
    fn udp_rows() {
        assert_eq!(udp_state(true, true), ConnState::SF);
        assert_eq!(udp_state(true, false), ConnState::S0);
        assert_eq!(udp_state(false, true), ConnState::SHR);
        assert_eq!(udp_state(false, false), ConnState::OTH);
    }
}
