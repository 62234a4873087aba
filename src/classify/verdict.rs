//! What one flow is: its verdict, its reachability, and the codes of the findings it raises.

use crate::catalog::{Candidate, PortMatch, RoleSet};
use crate::expect::{Source, What};
use crate::flow::{ConnState, FlowRecord, Kind};
use crate::inspect::epm::IfId;

use super::finding::{Code, CodeSet};

/// How the flow stands against the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Verdict {
    /// A documented path between the roles of both ends.
    Documented,
    /// Both ends' roles are known and no documented path connects them on this port.
    Undocumented,
    /// The port matches a documented path, but the roles of one or both ends are unknown (no
    /// site file, or an address the site file does not place).
    PortOnly,
    /// Nothing to judge by: no port of the catalog, or not TCP or UDP.
    #[default]
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Documented => "documented",
            Verdict::Undocumented => "undocumented",
            Verdict::PortOnly => "port-only",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Whether the flow's server answered, from the flow's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Reachability {
    /// The server answered: an established TCP connection, or UDP with an answer.
    Ok,
    /// Refused: a RST in answer to the SYN, or an ICMP unreachable / prohibited tied to it.
    Rejected,
    /// No answer at all.
    Unanswered,
    /// Only part of the conversation was seen (joined mid-stream, or one direction only).
    Partial,
    /// Not a connection (ICMP and other protocols).
    #[default]
    Unknown,
}

impl Reachability {
    pub fn as_str(self) -> &'static str {
        match self {
            Reachability::Ok => "ok",
            Reachability::Rejected => "rejected",
            Reachability::Unanswered => "unanswered",
            Reachability::Partial => "partial",
            Reachability::Unknown => "unknown",
        }
    }

    /// Rejected or unanswered: the path did not work.
    pub fn failed(self) -> bool {
        matches!(self, Reachability::Rejected | Reachability::Unanswered)
    }
}

/// The reachability of a finished flow, from its connection state and the ICMP errors tied to
/// it.
pub fn reachability(rec: &FlowRecord) -> Reachability {
    let refused = !rec.icmp_refusals.is_empty();
    match rec.kind {
        Kind::Tcp => match rec.conn_state {
            ConnState::REJ => Reachability::Rejected,
            ConnState::S0 | ConnState::SH | ConnState::RSTOS0 => {
                if refused {
                    Reachability::Rejected
                } else {
                    Reachability::Unanswered
                }
            }
            ConnState::S1
            | ConnState::SF
            | ConnState::S2
            | ConnState::S3
            | ConnState::RSTO
            | ConnState::RSTR => Reachability::Ok,
            ConnState::RSTRH | ConnState::SHR => Reachability::Partial,
            ConnState::OTH => {
                if rec.orig_counts.pkts > 0 && rec.resp_counts.pkts > 0 {
                    Reachability::Ok
                } else {
                    Reachability::Partial
                }
            }
        },
        Kind::Udp => {
            if rec.resp_counts.pkts > 0 {
                Reachability::Ok
            } else if refused {
                Reachability::Rejected
            } else {
                Reachability::Unanswered
            }
        }
        Kind::Icmp { .. } | Kind::Other => Reachability::Unknown,
    }
}

/// Other paths kept beside the chosen one.
pub const MAX_ALSO: usize = 4;

/// The verdict on one flow.
#[derive(Debug, Clone, Default)]
pub struct Classification {
    /// The chosen path (index into the catalog), most specific first.
    pub path: Option<u32>,
    /// How the chosen path's port met the flow's.
    pub how: Option<PortMatch>,
    also: [u32; MAX_ALSO],
    also_len: u8,
    /// Further matching paths beyond those kept in `also`.
    pub also_more: u32,
    /// Roles of the originator and the responder (with `exchange` implied); `None` without a
    /// site file. An empty set is an address the site file does not place.
    pub roles: Option<(RoleSet, RoleSet)>,
    pub verdict: Verdict,
    pub reachability: Reachability,
    pub findings: CodeSet,
    /// For `clear-port`: index of the documented encrypted alternative.
    pub alternative: Option<u32>,
    /// For `legacy-protocol`: the path of an older generation that the port matches.
    pub legacy_path: Option<u32>,
    /// For `protocol-mismatch`: the service seen (high byte) and the one the port is documented
    /// for (low byte; 0xff for none), as [`Service`](crate::inspect::Service) indexes.
    pub mismatch: Option<u32>,
    /// For `unencrypted-path`: the service seen, as a `Service` index.
    pub service_extra: Option<u32>,
    /// The RPC interface the flow carries: the bind's, else what the endpoint mapper said.
    pub rpc_interface: Option<IfId>,
    /// What the capture taught about the flow's server endpoint, when it was learned.
    pub learned: Option<Learned>,
}

/// A flow's learned endpoint, as the report shows it.
#[derive(Debug, Clone, Copy)]
pub struct Learned {
    pub what: What,
    pub from: Source,
    /// For `rpc-interface-mismatch`: the interface the endpoint mapper had named.
    pub expected: Option<IfId>,
    /// Media: the first datagram's RTP or RTCP header (`Some(Some(..))`), or `Some(None)` when
    /// that datagram is neither; `None` without payload, and for RPC.
    pub header: Option<Option<crate::inspect::rtp::Rtp>>,
}

impl Classification {
    /// Other paths that matched as well, in order of specificity.
    pub fn also(&self) -> &[u32] {
        &self.also[..usize::from(self.also_len)]
    }

    /// Records the matching paths, best first; returns how many there were.
    pub(super) fn set_paths<'c>(&mut self, it: impl Iterator<Item = &'c Candidate>) -> usize {
        let mut n = 0;
        for cand in it {
            if n == 0 {
                self.path = Some(cand.path);
                self.how = Some(cand.how);
            } else if self.also().contains(&cand.path) || self.path == Some(cand.path) {
                continue;
            } else if usize::from(self.also_len) < MAX_ALSO {
                self.also[usize::from(self.also_len)] = cand.path;
                self.also_len += 1;
            } else {
                self.also_more += 1;
            }
            n += 1;
        }
        n
    }

    pub fn has(&self, code: Code) -> bool {
        self.findings.contains(code)
    }
}
