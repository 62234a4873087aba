//! Writes what the run found: one JSON object per flow and a summary (`jsonl`), the same content
//! as one document (`json`), or a readable summary for a terminal (`table`). The JSON field names
//! are a contract documented in `docs/output.md`. Strings (addresses, Community ID, timestamps)
//! are made here, once per flow; nothing upstream formats.

mod community_id;
mod flowjson;
mod json;
mod table;

use std::io::{self, Write};

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

/// The Community ID of a finished flow (seed 0), as its 30 ASCII bytes.
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
