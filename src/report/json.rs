//! `--format jsonl` (one object per line: a `"flow"` per flow, one `"summary"` last) and
//! `--format json` (the same objects in one document). The schema is `docs/output.md`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::{Report, Summary, flow_community_id, proto_name};
use crate::flow::{EndReason, FlowRecord};
use crate::stats::{CaptureStats, DecodeStats, FlowStats, FragmentStats};

#[derive(Serialize)]
struct IcmpJson {
    #[serde(rename = "type")]
    ty: u8,
    code: u8,
    version: u8,
    from: IpAddr,
    ts: String,
    count: u64,
}

#[derive(Serialize)]
struct FlowJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    ts: String,
    end_ts: String,
    flow_id: u64,
    community_id: String,
    proto: &'static str,
    ip_proto: u8,
    src_ip: IpAddr,
    src_port: u16,
    dest_ip: IpAddr,
    dest_port: u16,
    vlan: Option<&'a [u16]>,
    conn_state: &'static str,
    history: &'a str,
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    ip_bytes_toserver: u64,
    ip_bytes_toclient: u64,
    missed_bytes: u64,
    duration: f64,
    end_reason: EndReason,
    midstream: bool,
    truncated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    icmp: Vec<IcmpJson>,
}

fn flow_json(rec: &FlowRecord) -> FlowJson<'_> {
    let ids = rec.vlans.ids();
    FlowJson {
        ty: "flow",
        ts: rec.start.to_string(),
        end_ts: rec.last.to_string(),
        flow_id: rec.id,
        community_id: flow_community_id(rec),
        proto: proto_name(rec),
        ip_proto: rec.ip_proto,
        src_ip: rec.orig.0,
        src_port: rec.orig.1,
        dest_ip: rec.resp.0,
        dest_port: rec.resp.1,
        vlan: (!ids.is_empty()).then_some(ids),
        conn_state: rec.conn_state.as_str(),
        history: rec.history.as_str(),
        pkts_toserver: rec.orig_counts.pkts,
        pkts_toclient: rec.resp_counts.pkts,
        bytes_toserver: rec.orig_counts.bytes,
        bytes_toclient: rec.resp_counts.bytes,
        ip_bytes_toserver: rec.orig_counts.ip_bytes,
        ip_bytes_toclient: rec.resp_counts.ip_bytes,
        missed_bytes: rec.orig_counts.missed_bytes + rec.resp_counts.missed_bytes,
        duration: rec.duration().as_secs_f64(),
        end_reason: rec.end,
        midstream: rec.midstream,
        truncated: rec.truncated,
        icmp: rec
            .icmp_refusals
            .iter()
            .map(|r| IcmpJson {
                ty: r.ty,
                code: r.code,
                version: if r.v6 { 6 } else { 4 },
                from: r.from,
                ts: r.first.to_string(),
                count: r.count,
            })
            .collect(),
    }
}

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
}

impl Report for JsonlReport {
    fn flow(&mut self, out: &mut dyn Write, rec: &FlowRecord) -> io::Result<()> {
        self.tally.add(rec);
        serde_json::to_writer(&mut *out, &flow_json(rec))?;
        out.write_all(b"\n")
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
        serde_json::to_writer(&mut *out, &flow_json(rec)).map_err(io::Error::from)
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &Summary<'_>) -> io::Result<()> {
        self.start(out)?;
        out.write_all(b"\n],\"summary\":")?;
        serde_json::to_writer(&mut *out, &summary_json(summary, &self.tally))?;
        out.write_all(b"}\n")
    }
}
