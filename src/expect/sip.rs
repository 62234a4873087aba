//! SIP call state for learning media endpoints (placeholder: teaches nothing yet).

use std::net::IpAddr;

use super::{Lesson, Transport};
use crate::time::Timestamp;

/// Calls in progress, by Call-ID hash.
#[derive(Debug, Default)]
pub struct Calls {}

impl Calls {
    /// One SIP payload (a UDP datagram, or a TCP segment holding whole messages) from `src` to
    /// `dst`; `community_id` is the signalling flow's.
    #[allow(
        clippy::too_many_arguments,
        reason = "one packet's facts, passed as they are"
    )]
    pub fn on_payload(
        &mut self,
        _src: (IpAddr, u16),
        _dst: (IpAddr, u16),
        _transport: Transport,
        _payload: &[u8],
        _now: Timestamp,
        _community_id: [u8; 30],
        _out: &mut Vec<Lesson>,
    ) {
    }
}
