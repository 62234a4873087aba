//! SIP call state for learning media endpoints. Every SDP offer or answer (in an INVITE, a
//! provisional or final response, an ACK, UPDATE or PRACK …) teaches where the call's RTP and
//! RTCP will be received; the call remembers what it taught, so that its end (a BYE, or before
//! it was answered a CANCEL or a failure response) closes those endpoints for flows that start
//! later. Messages are read with the SIP inspector's parser (`inspect::sip::messages`); this
//! module keeps only the calls, bounded in number and in age.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::{CallId, ExpectConfig, Key, Lesson, Source, Transport, What};
use crate::inspect::sip::sdp::Sdp;
use crate::inspect::sip::{self, Message};
use crate::time::{Duration, Timestamp};

/// Calls followed at once. A UM server handles a few hundred concurrent calls; past this the
/// call heard from least recently is forgotten (its endpoints stay in the table until their
/// lifetime ends, since its end can no longer be seen).
pub const MAX_CALLS: usize = 4096;
/// Endpoints remembered per call: an offer and an answer of one audio stream teach four (RTP and
/// RTCP at each end); sixteen leave room for video and re-INVITEs that move the media. An
/// endpoint beyond this is not taught, since the call's end could not close it.
pub const MAX_CALL_KEYS: usize = 16;

crate::stats::counters! {
    /// The SIP call state of a learner.
    pub struct CallStats {
        /// SIP messages read.
        messages,
        /// Calls whose SDP taught endpoints.
        calls,
        /// Media endpoints taught (RTP and RTCP, from every offer and answer).
        taught,
        /// Media endpoints not taught: their call had already taught `MAX_CALL_KEYS`.
        keys_dropped,
        /// SDP bodies not read because the payload ended inside their message.
        sdp_truncated,
        /// Calls that ended (BYE, CANCEL, failure) after teaching endpoints.
        ended,
        /// Calls forgotten to make room (`MAX_CALLS`).
        dropped,
        /// Calls forgotten after the media lifetime without a message.
        expired,
    }
}

/// One call that taught endpoints.
#[derive(Debug)]
struct Call {
    /// The endpoints it taught, in the order taught.
    keys: Vec<Key>,
    /// A 2xx answered its INVITE: only a BYE ends it now (RFC 3261 §9.2: a CANCEL after the
    /// final response has no effect; §14.1: a failed re-INVITE leaves the session as it was).
    established: bool,
    /// The time of its latest message.
    last: Timestamp,
    /// The stamp of its latest entry in [`Calls::order`].
    stamp: u64,
}

/// Calls in progress, by Call-ID hash.
#[derive(Debug)]
pub struct Calls {
    /// A call without a message for this long is forgotten.
    lifetime: Duration,
    map: HashMap<CallId, Call, foldhash::fast::RandomState>,
    /// Calls in the order they were last heard from, with the stamp of that time; an entry
    /// whose stamp is not its call's latest is stale and skipped.
    order: VecDeque<(CallId, u64)>,
    next_stamp: u64,
    /// The messages of the payload being read (reused, so its capacity is kept).
    scratch: Vec<Message>,
    pub stats: CallStats,
}

impl Default for Calls {
    fn default() -> Self {
        Self::new(ExpectConfig::default().media_lifetime)
    }
}

impl Calls {
    /// Calls are forgotten `lifetime` after their latest message (the table's media lifetime:
    /// their endpoints expire then too).
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            map: HashMap::default(),
            order: VecDeque::new(),
            next_stamp: 0,
            scratch: Vec::new(),
            stats: CallStats::default(),
        }
    }

    /// Calls followed now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// One SIP payload (a UDP datagram, or a TCP segment holding whole messages) from `src` to
    /// `dst`; `community_id` is the signalling flow's. The endpoints come from the SDP, which
    /// may name other addresses than the packet's (a media relay, the far end of a proxy).
    /// Bytes that are not SIP are answered at once, without allocating.
    #[allow(
        clippy::too_many_arguments,
        reason = "one packet's facts, passed as they are"
    )]
    pub fn on_payload(
        &mut self,
        src: (IpAddr, u16),
        _dst: (IpAddr, u16),
        transport: Transport,
        payload: &[u8],
        now: Timestamp,
        community_id: [u8; 30],
        out: &mut Vec<Lesson>,
    ) {
        if !sip::looks_like(payload) {
            return;
        }
        self.expire(now);
        let mut msgs = std::mem::take(&mut self.scratch);
        msgs.clear();
        sip::messages(payload, transport == Transport::Udp, &mut msgs);
        let from = Source {
            community_id,
            at: now,
        };
        for m in &msgs {
            self.message(m, from, src.0, out);
        }
        msgs.clear();
        self.scratch = msgs;
    }

    fn message(&mut self, m: &Message, from: Source, sender: IpAddr, out: &mut Vec<Lesson>) {
        self.stats.messages += 1;
        let Some(call) = m.call_id else {
            return;
        };
        let now = from.at;
        match &m.sdp {
            // The cut may have fallen inside a port, or before a media-level `c=`.
            Some(_) if m.truncated => self.stats.sdp_truncated += 1,
            Some(sdp) => self.teach(call, sdp, m.via_tls(), from, sender, out),
            None => {}
        }
        // RFC 3261 §7.1: method names are case-sensitive.
        let to_invite = m.cseq_method() == Some("INVITE");
        match (m.method.as_deref(), m.status_code) {
            (Some("BYE"), _) => self.end(call, now, out),
            (Some("CANCEL"), _) => self.fail(call, now, out),
            // 401 and 407 challenge the INVITE; the caller sends it again with credentials.
            (None, Some(code @ 300..=699)) if to_invite && code != 401 && code != 407 => {
                self.fail(call, now, out);
            }
            (None, Some(200..=299)) if to_invite => {
                if let Some(c) = self.map.get_mut(&call) {
                    c.established = true;
                }
                self.touch(call, now);
            }
            _ => self.touch(call, now),
        }
    }

    /// Every media stream of `sdp` teaches its RTP and RTCP endpoints.
    fn teach(
        &mut self,
        call: CallId,
        sdp: &Sdp,
        signalling_tls: bool,
        from: Source,
        sender: IpAddr,
        out: &mut Vec<Lesson>,
    ) {
        if sdp.endpoints().next().is_none() {
            return;
        }
        if !self.map.contains_key(&call) {
            self.insert(call, from.at);
        }
        let Some(c) = self.map.get_mut(&call) else {
            return;
        };
        for (ip, port, media) in sdp.endpoints() {
            let srtp = media.is_srtp();
            let rtcp = media.rtcp_endpoint(ip);
            let streams = [Some((ip, port, false)), rtcp.map(|(ip, p)| (ip, p, true))];
            for (ip, port, rtcp) in streams.into_iter().flatten() {
                let key = Key {
                    ip,
                    port,
                    transport: Transport::Udp,
                };
                if !c.keys.contains(&key) {
                    if c.keys.len() >= MAX_CALL_KEYS {
                        self.stats.keys_dropped += 1;
                        continue;
                    }
                    c.keys.push(key);
                }
                // A key taught again (a retransmission, a re-INVITE) refreshes it in the table.
                self.stats.taught += 1;
                out.push(Lesson::Learn {
                    key,
                    what: What::Media {
                        call,
                        rtcp,
                        srtp,
                        signalling_tls,
                        announcer: sender,
                    },
                    from,
                });
            }
        }
    }

    /// A new call, making room first.
    fn insert(&mut self, call: CallId, now: Timestamp) {
        while self.map.len() >= MAX_CALLS {
            let Some((id, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&id).is_some_and(|c| c.stamp == stamp) {
                self.map.remove(&id);
                self.stats.dropped += 1;
            }
        }
        self.map.insert(
            call,
            Call {
                keys: Vec::new(),
                established: false,
                last: now,
                stamp: 0,
            },
        );
        self.stats.calls += 1;
        self.touch(call, now);
    }

    /// The call was heard from at `now`.
    fn touch(&mut self, call: CallId, now: Timestamp) {
        let Some(c) = self.map.get_mut(&call) else {
            return;
        };
        c.last = c.last.max(now);
        c.stamp = self.next_stamp;
        self.order.push_back((call, self.next_stamp));
        self.next_stamp += 1;
        // Stale entries linger in `order`; keep it within twice the calls held.
        if self.order.len() > 2 * MAX_CALLS {
            let map = &self.map;
            self.order
                .retain(|(id, s)| map.get(id).is_some_and(|c| c.stamp == *s));
        }
    }

    /// The INVITE failed or was cancelled: the call ends unless a 2xx had answered it.
    fn fail(&mut self, call: CallId, now: Timestamp, out: &mut Vec<Lesson>) {
        if self.map.get(&call).is_some_and(|c| !c.established) {
            self.end(call, now, out);
        } else {
            self.touch(call, now);
        }
    }

    /// The call ended: every endpoint it taught ends at `now`, and the call is forgotten.
    fn end(&mut self, call: CallId, now: Timestamp, out: &mut Vec<Lesson>) {
        let Some(c) = self.map.remove(&call) else {
            return;
        };
        self.stats.ended += 1;
        out.extend(
            c.keys
                .into_iter()
                .map(|key| Lesson::EndCall { key, call, at: now }),
        );
    }

    /// Forgets the calls not heard from for the lifetime. Entries of `order` are in the order
    /// the calls were heard from, so only the front is looked at.
    fn expire(&mut self, now: Timestamp) {
        while let Some(&(id, stamp)) = self.order.front() {
            match self.map.get(&id) {
                Some(c) if c.stamp == stamp => {
                    if c.last.saturating_add(self.lifetime) >= now {
                        return;
                    }
                    self.map.remove(&id);
                    self.stats.expired += 1;
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;
