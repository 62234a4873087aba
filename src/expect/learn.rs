//! The learning half of the `expect` stage: reads answers as they arrive and turns them into
//! [`Lesson`]s. It runs wherever packets are read (one per flow worker in a sharded pipeline);
//! the lessons go to the one [`Expectations`](super::Expectations) table where flows are
//! classified.

use std::net::IpAddr;

use super::sip::Calls;
use super::{Key, Lesson, Source, Transport, What};
use crate::flow::FlowView;
use crate::inspect::epm;
use crate::time::Timestamp;

/// The endpoint mapper's ports: 135/TCP, and 593/TCP (RPC over HTTP v1, `ncacn_http`).
pub fn is_epm_port(port: u16) -> bool {
    port == 135 || port == 593
}

/// The ports Exchange Unified Messaging and its peers use for SIP (5060-5068; TLS on 5061 and
/// others is not readable and teaches nothing).
pub fn is_sip_port(port: u16) -> bool {
    (5060..=5068).contains(&port)
}

/// What one packet-reading worker learns.
#[derive(Debug, Default)]
pub struct Learner {
    calls: Calls,
}

impl Learner {
    /// A learner whose SIP call state lives as long as the table's media endpoints.
    pub fn new(config: &super::ExpectConfig) -> Self {
        Self {
            calls: Calls::new(config.media_lifetime),
        }
    }

    /// What the SIP call state counted.
    pub fn sip_stats(&self) -> &super::sip::CallStats {
        &self.calls.stats
    }

    /// After a packet added bytes to a TCP flow's payload prefix: when they came from an
    /// endpoint mapper (server port 135 or 593), the answers read so far teach their endpoints.
    /// The prefix is read again as it grows (it is bounded), so an answer split across segments
    /// teaches when its last segment arrives; the table keeps the first time an endpoint was
    /// taught.
    pub fn fed(&mut self, view: &FlowView<'_>, now: Timestamp, out: &mut Vec<Lesson>) {
        if !view.from_resp || !is_epm_port(view.resp.1) {
            return;
        }
        let Some(learned) = epm::learn(&view.input()).filter(|l| !l.endpoints.is_empty()) else {
            return;
        };
        let from = Source {
            community_id: crate::report::community_id_bytes(
                0,
                view.orig,
                view.resp,
                view.ip_proto,
                None,
            ),
            at: now,
        };
        for ep in &learned.endpoints {
            // Only TCP towers become TCP expectations; named hosts (DCOM bindings by name) give
            // no address to expect.
            if ep.transport != epm::Transport::Tcp {
                continue;
            }
            let ip: IpAddr = match (ep.ip, &ep.host) {
                (Some(ip), _) => ip,
                (None, None) => view.resp.0,
                (None, Some(_)) => continue,
            };
            out.push(Lesson::Learn {
                key: Key {
                    ip,
                    port: ep.port,
                    transport: Transport::Tcp,
                },
                what: What::Rpc {
                    interface: ep.interface,
                    dcom: ep.dcom,
                },
                from,
            });
        }
    }

    /// Every decoded packet: a UDP datagram or TCP segment goes to [`sip`](Self::sip), which
    /// turns down anything not on a SIP port in two comparisons.
    pub fn packet(
        &mut self,
        d: &crate::decode::Decoded<'_>,
        now: Timestamp,
        out: &mut Vec<Lesson>,
    ) {
        use crate::decode::Transport as T;
        let (sp, dp, payload, transport) = match &d.transport {
            T::Udp(u) => (u.src_port, u.dst_port, u.payload, Transport::Udp),
            T::Tcp(t) => (t.src_port, t.dst_port, t.payload, Transport::Tcp),
            _ => return,
        };
        self.sip((d.src, sp), (d.dst, dp), transport, payload, now, out);
    }

    /// A UDP datagram or TCP segment payload between `src` and `dst`, one end on a SIP port:
    /// SIP offers and answers teach media endpoints, and the end of a call closes them.
    #[allow(
        clippy::too_many_arguments,
        reason = "one packet's facts, passed as they are"
    )]
    pub fn sip(
        &mut self,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        transport: Transport,
        payload: &[u8],
        now: Timestamp,
        out: &mut Vec<Lesson>,
    ) {
        if payload.is_empty()
            || !(is_sip_port(src.1) || is_sip_port(dst.1))
            || !crate::inspect::sip::looks_like(payload)
        {
            return;
        }
        let proto = match transport {
            Transport::Tcp => crate::flow::proto::TCP,
            Transport::Udp => crate::flow::proto::UDP,
        };
        let community_id = crate::report::community_id_bytes(0, src, dst, proto, None);
        self.calls
            .on_payload(src, dst, transport, payload, now, community_id, out);
    }
}
