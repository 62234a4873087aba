//! Writes what the run found: one JSON object per flow and a summary (`jsonl`), the same content
//! as one document (`json`), or a readable summary for a terminal (`table`). The JSON field names
//! are a contract documented in `docs/output.md`. Strings (addresses, Community ID, timestamps)
//! are made here, once per flow; nothing upstream formats.

mod community_id;
mod flowjson;
mod json;
mod table;

use std::io::{self, Write};
use std::net::IpAddr;

pub use community_id::{community_id, community_id_bytes};
pub use json::{JsonReport, JsonlReport};
pub use table::TableReport;

use crate::flow::{FlowRecord, Kind};
use crate::stats::Stats;
use crate::time::Timestamp;

/// What the report needs at the end of a run besides the flows.
#[derive(Debug)]
pub struct Summary<'a> {
    /// The inputs, as named on the command line.
    pub inputs: Vec<String>,
    /// Inputs that could not be read to their end.
    pub input_errors: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub stats: &'a Stats,
}

/// An output format. `flow` is called once per flow as flows end; `finish` once at the end.
pub trait Report {
    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()>;
    fn finish(&mut self, out: &mut dyn Write, summary: &Summary<'_>) -> io::Result<()>;
}

/// The transport name in Zeek's words.
pub fn proto_name(rec: &FlowRecord) -> &'static str {
    match rec.kind {
        Kind::Tcp => "tcp",
        Kind::Udp => "udp",
        Kind::Icmp { .. } => "icmp",
        Kind::Other => "unknown_transport",
    }
}

/// The Community ID of a finished flow (seed 0).
pub fn flow_community_id(rec: &FlowRecord) -> String {
    String::from_utf8_lossy(&flow_community_id_bytes(rec)).into_owned()
}

/// The same, as bytes on the stack.
pub fn flow_community_id_bytes(rec: &FlowRecord) -> [u8; 30] {
    let icmp = match rec.kind {
        Kind::Icmp { .. } => Some((
            u8::try_from(rec.orig.1).unwrap_or(u8::MAX),
            u8::try_from(rec.resp.1).unwrap_or(u8::MAX),
        )),
        _ => None,
    };
    community_id_bytes(0, rec.orig, rec.resp, rec.ip_proto, icmp)
}

/// Formats a timestamp for output (RFC 3339, UTC, microseconds).
pub fn ts_string(t: Timestamp) -> String {
    t.to_string()
}

/// Whether an address is the IPv4 limited broadcast or multicast (for the top-talker view).
pub fn is_group(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_broadcast() || v.is_multicast(),
        IpAddr::V6(v) => v.is_multicast(),
    }
}
