//! `--format jsonl` (one object per line: a `"flow"` per flow, one `"summary"` last) and
//! `--format json` (the same objects in one document). The schema is `docs/output.md`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

use super::flowjson::write_flow;
use super::{Report, Summary, proto_name};
use crate::flow::FlowRecord;
use crate::stats::{CaptureStats, DecodeStats, FlowStats, FragmentStats};

/// Counts the summary needs from the flows themselves.
#[derive(Default, Serialize)]
struct FlowTally {
    by_conn_state: BTreeMap<&'static str, u64>,
    by_proto: BTreeMap<&'static str, u64>,
}

impl FlowTally {
    fn add(&mut self, rec: &FlowRecord) {
        *self
            .by_conn_state
            .entry(rec.conn_state.as_str())
            .or_insert(0) += 1;
        *self.by_proto.entry(proto_name(rec)).or_insert(0) += 1;
    }
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    inputs: &'a [String],
    input_errors: u64,
    first_ts: Option<String>,
    last_ts: Option<String>,
    packets: u64,
    bytes: u64,
    flows: u64,
    evictions: u64,
    conn_states: &'a BTreeMap<&'static str, u64>,
    protocols: &'a BTreeMap<&'static str, u64>,
    capture: &'a CaptureStats,
    decode: &'a DecodeStats,
    fragments: &'a FragmentStats,
    flow_table: &'a FlowStats,
}

fn summary_json<'a>(s: &'a Summary<'_>, t: &'a FlowTally) -> SummaryJson<'a> {
    SummaryJson {
        ty: "summary",
        inputs: &s.inputs,
        input_errors: s.input_errors,
        first_ts: s.first_ts.map(|t| t.to_string()),
        last_ts: s.last_ts.map(|t| t.to_string()),
        packets: s.stats.capture.packets,
        bytes: s.stats.capture.wire_bytes,
        flows: s.stats.flow.flows,
        evictions: s.stats.flow.evicted,
        conn_states: &t.by_conn_state,
        protocols: &t.by_proto,
        capture: &s.stats.capture,
        decode: &s.stats.decode,
        fragments: &s.stats.fragments,
        flow_table: &s.stats.flow,
    }
}

/// One JSON object per line.
#[derive(Default)]
pub struct JsonlReport {
    tally: FlowTally,
    /// Reused for every line, so the writer gets one write per flow.
    line: Vec<u8>,
}

impl Report for JsonlReport {
    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        self.tally.add(rec);
        self.line.clear();
        write_flow(&mut self.line, rec);
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &Summary<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &summary_json(summary, &self.tally))?;
        out.write_all(b"\n")
    }
}

/// One document: `{"type":"report","flows":[…],"summary":{…}}`, written as flows end.
#[derive(Default)]
pub struct JsonReport {
    tally: FlowTally,
    started: bool,
    any: bool,
    line: Vec<u8>,
}

impl JsonReport {
    fn start(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.started {
            self.started = true;
            out.write_all(b"{\"type\":\"report\",\"flows\":[")?;
        }
        Ok(())
    }
}

impl Report for JsonReport {
    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        self.start(out)?;
        self.tally.add(rec);
        if self.any {
            out.write_all(b",\n")?;
        } else {
            out.write_all(b"\n")?;
        }
        self.any = true;
        self.line.clear();
        write_flow(&mut self.line, rec);
        out.write_all(&self.line)
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &Summary<'_>) -> io::Result<()> {
        self.start(out)?;
        out.write_all(b"\n],\"summary\":")?;
        serde_json::to_writer(&mut *out, &summary_json(summary, &self.tally))?;
        out.write_all(b"}\n")
    }
}
