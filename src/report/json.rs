//! `--format jsonl` (one object per line: a `"flow"` per flow, one `"summary"` last) and
//! `--format json` (the same objects in one document). The schema is `docs/output.md`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

use super::flowjson::FlowWriter;
use super::{Judgement, Report, Summary, proto_name};
use crate::catalog::{Catalog, RoleSet};
use crate::classify::{Classification, Coverage, Finding, Severity, Verdict};
use crate::flow::FlowRecord;
use crate::inspect::Evidence;
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
    site: Option<&'a str>,
    classified_by: &'static str,
    catalog_paths: usize,
    verdicts: BTreeMap<&'static str, u64>,
    failing: u64,
    findings: BTreeMap<&'static str, u64>,
    findings_ungrouped: u64,
    expectations: ExpectationsJson<'a>,
}

/// A `"finding"` object.
#[derive(Serialize)]
pub(super) struct FindingJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    code: &'static str,
    severity: &'static str,
    message: &'a str,
    path: Option<&'a str>,
    path_source: Option<&'a str>,
    flows: u64,
    first_ts: String,
    last_ts: String,
    proto: Option<&'static str>,
    dest_ports: &'a [u16],
    dest_ports_more: u64,
    src_roles: Option<Vec<&'static str>>,
    dest_roles: Option<Vec<&'static str>>,
    src_ips: Vec<String>,
    src_ips_more: u64,
    dest_ips: Vec<String>,
    dest_ips_more: u64,
    examples: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_port: Option<u16>,
}

fn role_words(r: Option<RoleSet>) -> Option<Vec<&'static str>> {
    r.map(|r| r.shown().iter().map(|x| x.as_str()).collect())
}

pub(super) fn finding_json<'a>(f: &'a Finding, catalog: &'a Catalog) -> FindingJson<'a> {
    let path = f.path.map(|p| catalog.path(p));
    FindingJson {
        ty: "finding",
        code: f.code.as_str(),
        severity: f.severity.as_str(),
        message: &f.message,
        path: path.map(|p| p.id.as_str()),
        path_source: path.map(|p| p.source.as_str()),
        flows: f.flows,
        first_ts: f.first.to_string(),
        last_ts: f.last.to_string(),
        proto: f.transport.map(|t| t.as_str()),
        dest_ports: &f.ports,
        dest_ports_more: f.ports_more,
        src_roles: role_words(f.src_roles),
        dest_roles: role_words(f.dst_roles),
        src_ips: f.sources.list.iter().map(ToString::to_string).collect(),
        src_ips_more: f.sources.more,
        dest_ips: f.dests.list.iter().map(ToString::to_string).collect(),
        dest_ips_more: f.dests.more,
        examples: f
            .examples
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect(),
        secure_port: f.secure_port,
    }
}

/// A `"coverage"` object.
#[derive(Serialize)]
pub(super) struct CoverageJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    path: &'a str,
    name: &'a str,
    ports: String,
    status: &'static str,
    flows_ok: u64,
    flows_failing: u64,
    source: &'a str,
}

pub(super) fn coverage_json<'a>(c: &Coverage, catalog: &'a Catalog) -> CoverageJson<'a> {
    let p = catalog.path(c.path);
    CoverageJson {
        ty: "coverage",
        path: &p.id,
        name: &p.name,
        ports: p.ports_text(),
        status: c.status.as_str(),
        flows_ok: c.flows_ok,
        flows_failing: c.flows_failing,
        source: &p.source,
    }
}

/// Writes `items` as JSON, with `sep[0]` before the first, `sep[1]` before each later one and
/// `sep[2]` after each: JSONL writes them as lines, JSON as array elements.
fn write_each<T: Serialize>(
    out: &mut dyn Write,
    items: impl Iterator<Item = T>,
    sep: [&[u8]; 3],
) -> io::Result<()> {
    for (i, item) in items.enumerate() {
        out.write_all(if i == 0 { sep[0] } else { sep[1] })?;
        super::jsontext::write(out, &item)?;
        out.write_all(sep[2])?;
    }
    Ok(())
}

fn write_findings(out: &mut dyn Write, j: &Judgement<'_>, sep: [&[u8]; 3]) -> io::Result<()> {
    write_each(
        out,
        j.findings.iter().map(|f| finding_json(f, j.catalog)),
        sep,
    )
}

fn write_coverage(out: &mut dyn Write, j: &Judgement<'_>, sep: [&[u8]; 3]) -> io::Result<()> {
    write_each(
        out,
        j.coverage.iter().map(|c| coverage_json(c, j.catalog)),
        sep,
    )
}

fn verdict_counts(j: &Judgement<'_>) -> BTreeMap<&'static str, u64> {
    [
        Verdict::Documented,
        Verdict::Undocumented,
        Verdict::PortOnly,
        Verdict::Unknown,
    ]
    .into_iter()
    .map(|v| (v.as_str(), j.aggregator.verdict_count(v)))
    .collect()
}

fn finding_counts(j: &Judgement<'_>) -> BTreeMap<&'static str, u64> {
    Severity::ALL
        .into_iter()
        .map(|s| {
            (
                s.as_str(),
                j.findings.iter().filter(|f| f.severity == s).count() as u64,
            )
        })
        .collect()
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
        site: s.judgement.site.map(|x| x.file.as_str()),
        classified_by: if s.judgement.site.is_some() {
            "site"
        } else {
            "port-only"
        },
        catalog_paths: s.judgement.catalog.paths.len(),
        verdicts: verdict_counts(s.judgement),
        failing: s.judgement.aggregator.failing,
        findings: finding_counts(s.judgement),
        findings_ungrouped: s.judgement.aggregator.ungrouped,
        expectations: ExpectationsJson {
            held: s.judgement.learned.len(),
            counts: &s.stats.expect,
            listed_more: s.judgement.learned.retired_more,
            sip_calls: &s.stats.sip_calls,
        },
    }
}

#[derive(Serialize)]
struct ExpectationsJson<'a> {
    /// Endpoints held when the input ended.
    held: usize,
    #[serde(flatten)]
    counts: &'a crate::expect::ExpectStats,
    /// Endpoints learned but no longer listed (the report keeps the first 1,024 retired).
    listed_more: u64,
    /// What the SIP learner counted.
    sip_calls: &'a crate::expect::sip::CallStats,
}

/// One learned endpoint.
#[derive(Serialize)]
struct LearnedJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    ip: std::net::IpAddr,
    port: u16,
    transport: &'static str,
    via: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    interfaces: Vec<crate::inspect::epm::IfId>,
    #[serde(skip_serializing_if = "is_zero")]
    interfaces_more: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    srtp: Option<bool>,
    learned_from: LearnedFrom<'a>,
    until: String,
    flows: u64,
    failed: u64,
}

#[derive(Serialize)]
struct LearnedFrom<'a> {
    community_id: &'a str,
    ts: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn learned_json<'a>(k: crate::expect::Key, e: &'a crate::expect::Entry) -> LearnedJson<'a> {
    use crate::expect::What;
    let (via, call_id, stream, srtp) = match e.what {
        What::Rpc { dcom, .. } => (if dcom { "dcom" } else { "epm" }, None, None, None),
        What::Media {
            call, rtcp, srtp, ..
        } => (
            "sdp",
            Some(String::from_utf8_lossy(&call.hex()).into_owned()),
            Some(if rtcp { "rtcp" } else { "rtp" }),
            Some(srtp),
        ),
    };
    LearnedJson {
        ty: "learned",
        ip: k.ip,
        port: k.port,
        transport: k.transport.as_str(),
        via,
        interfaces: e.interfaces().collect(),
        interfaces_more: e.interfaces_more,
        call_id,
        stream,
        srtp,
        learned_from: LearnedFrom {
            community_id: e.from.community_id(),
            ts: e.from.at.to_string(),
        },
        until: e.until.to_string(),
        flows: e.flows,
        failed: e.failed,
    }
}

fn write_learned(out: &mut dyn Write, j: &Judgement<'_>, sep: [&[u8]; 3]) -> io::Result<()> {
    write_each(
        out,
        j.learned
            .entries()
            .into_iter()
            .map(|(k, e)| learned_json(k, e)),
        sep,
    )
}

/// One JSON object per line.
#[derive(Default)]
pub struct JsonlReport {
    tally: FlowTally,
    /// Reused for every line, so the writer gets one write per flow.
    line: Vec<u8>,
    writer: FlowWriter,
}

impl Report for JsonlReport {
    fn flow(
        &mut self,
        out: &mut dyn Write,
        rec: &FlowRecord,
        cls: &Classification,
        ev: &Evidence,
        community_id: &[u8; 30],
        catalog: &Catalog,
    ) -> io::Result<()> {
        self.tally.add(rec);
        self.line.clear();
        self.writer
            .write(&mut self.line, rec, cls, ev, community_id, catalog);
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &Summary<'_>) -> io::Result<()> {
        let j = summary.judgement;
        write_findings(out, j, [b"", b"", b"\n"])?;
        write_coverage(out, j, [b"", b"", b"\n"])?;
        write_learned(out, j, [b"", b"", b"\n"])?;
        super::jsontext::write(out, &summary_json(summary, &self.tally))?;
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
    writer: FlowWriter,
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
    fn flow(
        &mut self,
        out: &mut dyn Write,
        rec: &FlowRecord,
        cls: &Classification,
        ev: &Evidence,
        community_id: &[u8; 30],
        catalog: &Catalog,
    ) -> io::Result<()> {
        self.start(out)?;
        self.tally.add(rec);
        if self.any {
            out.write_all(b",\n")?;
        } else {
            out.write_all(b"\n")?;
        }
        self.any = true;
        self.line.clear();
        self.writer
            .write(&mut self.line, rec, cls, ev, community_id, catalog);
        out.write_all(&self.line)
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &Summary<'_>) -> io::Result<()> {
        self.start(out)?;
        let j = summary.judgement;
        out.write_all(b"\n],\"findings\":[")?;
        write_findings(out, j, [b"\n", b",\n", b""])?;
        out.write_all(b"\n],\"coverage\":[")?;
        write_coverage(out, j, [b"\n", b",\n", b""])?;
        out.write_all(b"\n],\"learned\":[")?;
        write_learned(out, j, [b"\n", b",\n", b""])?;
        out.write_all(b"\n],\"summary\":")?;
        super::jsontext::write(out, &summary_json(summary, &self.tally))?;
        out.write_all(b"}\n")
    }
}
