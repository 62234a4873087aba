//! Writes what the run found: one JSON object per flow and a summary (`jsonl`), the same content
//! as one document (`json`), or a readable summary for a terminal (`table`). The JSON field names
//! are a contract documented in `docs/output.md`. Strings (addresses, Community ID, timestamps)
//! are made here, once per flow; nothing upstream formats.

mod catalog;
mod community_id;
mod flowjson;
mod json;
mod jsontext;
mod table;

use std::io::{self, Write};

pub use catalog::{CatalogFilter, write_catalog_json, write_catalog_table, write_site_check};
pub use community_id::{community_id, community_id_bytes};
pub use json::{JsonReport, JsonlReport};
pub use table::TableReport;

use crate::catalog::Catalog;
use crate::classify::{Aggregator, Classification, Coverage, Finding};
use crate::flow::{FlowRecord, Kind};
use crate::site::Site;
use crate::stats::Stats;
use crate::time::Timestamp;

/// What classification found over the run, for the end of a report.
#[derive(Debug)]
pub struct Judgement<'a> {
    pub catalog: &'a Catalog,
    /// `None`: no site file; flows were classified by port alone.
    pub site: Option<&'a Site>,
    /// Most severe first.
    pub findings: Vec<Finding>,
    pub coverage: Vec<Coverage>,
    pub aggregator: &'a Aggregator,
    /// The endpoints the capture taught (endpoint mapper, DCOM, SDP).
    pub learned: &'a crate::expect::Expectations,
}

/// What the report needs at the end of a run besides the flows.
#[derive(Debug)]
pub struct Summary<'a> {
    /// The inputs, as named on the command line and shown in messages ([`crate::text::path`]:
    /// control characters and bytes that are not UTF-8 as `\xNN`).
    pub inputs: Vec<String>,
    /// Inputs that could not be read to their end.
    pub input_errors: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub stats: &'a Stats,
    pub judgement: &'a Judgement<'a>,
}

/// An output format. `flow` is called once per flow as flows end, with its classification and
/// its Community ID; `finish` once at the end.
pub trait Report {
    fn flow(
        &mut self,
        out: &mut dyn Write,
        rec: &FlowRecord,
        cls: &Classification,
        ev: &crate::inspect::Evidence,
        community_id: &[u8; 30],
        catalog: &Catalog,
    ) -> io::Result<()>;
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
