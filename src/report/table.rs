//! The terminal report: what a person reads first. At most 100 columns; colour only when the
//! output is a terminal. Everything here is built from the flow records and the run's counters.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;

use super::{Judgement, Report, Summary, proto_name};
use crate::catalog::Catalog;
use crate::classify::{Classification, CoverageStatus, Severity, Verdict};
use crate::flow::{ConnState, EndReason, FlowRecord, Kind};
use crate::text::escape;

/// Hosts and services remembered for the top lists; past this they are only counted.
const MAX_TRACKED: usize = 65_536;
/// Rows in each top list.
const TOP_ROWS: usize = 10;

#[derive(Default, Clone, Copy)]
struct Tally {
    flows: u64,
    bytes: u64,
    failed: u64,
}

/// Aggregates flows as they end; prints once at the end.
pub struct TableReport {
    color: bool,
    flows: u64,
    by_state: [u64; ConnState::ALL.len()],
    by_proto: [u64; 4],
    by_end: [u64; 6],
    hosts: HashMap<IpAddr, Tally>,
    services: HashMap<(&'static str, u16), Tally>,
    untracked: u64,
}

impl TableReport {
    pub fn new(color: bool) -> Self {
        Self {
            color,
            flows: 0,
            by_state: [0; ConnState::ALL.len()],
            by_proto: [0; 4],
            by_end: [0; 6],
            hosts: HashMap::new(),
            services: HashMap::new(),
            untracked: 0,
        }
    }

    fn heading(&self, out: &mut dyn Write, text: &str) -> io::Result<()> {
        if self.color {
            writeln!(out, "\x1b[1m{text}\x1b[0m")
        } else {
            writeln!(out, "{text}")
        }
    }
}

/// Learned endpoints listed in the terminal report.
const MAX_LEARNED_LINES: usize = 20;

fn failed(s: ConnState) -> bool {
    matches!(
        s,
        ConnState::S0 | ConnState::REJ | ConnState::RSTOS0 | ConnState::SH
    )
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes with a binary unit, one decimal.
fn size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut frac = 0;
    let mut u = 0;
    while v >= 1024 && u + 1 < UNITS.len() {
        frac = (v % 1024) * 10 / 1024;
        v /= 1024;
        u += 1;
    }
    let unit = UNITS.get(u).copied().unwrap_or("B");
    if u == 0 {
        format!("{v} {unit}")
    } else {
        format!("{v}.{frac} {unit}")
    }
}

fn end_index(e: EndReason) -> usize {
    match e {
        EndReason::Closed => 0,
        EndReason::Attempt => 1,
        EndReason::Timeout => 2,
        EndReason::Reused => 3,
        EndReason::Evicted => 4,
        EndReason::EndOfInput => 5,
    }
}

impl Report for TableReport {
    fn flow(
        &mut self,
        _out: &mut dyn Write,
        rec: &FlowRecord,
        _cls: &Classification,
        _ev: &crate::inspect::Evidence,
        _community_id: &[u8; 30],
        _catalog: &Catalog,
    ) -> io::Result<()> {
        self.flows += 1;
        if let Some(i) = ConnState::ALL.iter().position(|s| *s == rec.conn_state)
            && let Some(c) = self.by_state.get_mut(i)
        {
            *c += 1;
        }
        let p = match rec.kind {
            Kind::Tcp => 0,
            Kind::Udp => 1,
            Kind::Icmp { .. } => 2,
            Kind::Other => 3,
        };
        if let Some(c) = self.by_proto.get_mut(p) {
            *c += 1;
        }
        if let Some(c) = self.by_end.get_mut(end_index(rec.end)) {
            *c += 1;
        }
        let bytes = rec.orig_counts.ip_bytes + rec.resp_counts.ip_bytes;
        let fail = u64::from(rec.kind == Kind::Tcp && failed(rec.conn_state));
        for host in [rec.orig.0, rec.resp.0] {
            if let Some(t) = self.hosts.get_mut(&host) {
                t.flows += 1;
                t.bytes += bytes;
                t.failed += fail;
            } else if self.hosts.len() < MAX_TRACKED {
                self.hosts.insert(
                    host,
                    Tally {
                        flows: 1,
                        bytes,
                        failed: fail,
                    },
                );
            } else {
                self.untracked += 1;
            }
        }
        if matches!(rec.kind, Kind::Tcp | Kind::Udp) {
            let key = (proto_name(rec), rec.resp.1);
            if let Some(t) = self.services.get_mut(&key) {
                t.flows += 1;
                t.bytes += bytes;
                t.failed += fail;
            } else if self.services.len() < MAX_TRACKED {
                self.services.insert(
                    key,
                    Tally {
                        flows: 1,
                        bytes,
                        failed: fail,
                    },
                );
            } else {
                self.untracked += 1;
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary<'_>) -> io::Result<()> {
        let st = s.stats;
        self.heading(out, "exaudit audit")?;
        writeln!(
            out,
            "  inputs      {}{}",
            escape(&s.inputs.join(", ")),
            if s.input_errors > 0 {
                format!("  ({} could not be read completely)", s.input_errors)
            } else {
                String::new()
            }
        )?;
        if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
            writeln!(
                out,
                "  time        {a} .. {b} ({:.1} s)",
                b.since(a).as_secs_f64()
            )?;
        }
        writeln!(
            out,
            "  packets     {} ({} on the wire)",
            thousands(st.capture.packets),
            size(st.capture.wire_bytes)
        )?;
        writeln!(
            out,
            "  flows       {}   tcp {}  udp {}  icmp {}  other {}",
            thousands(self.flows),
            thousands(self.by_proto[0]),
            thousands(self.by_proto[1]),
            thousands(self.by_proto[2]),
            thousands(self.by_proto[3])
        )?;
        self.judgement_section(out, s.judgement)?;

        self.heading(out, "Connection states")?;
        let mut line = String::from(" ");
        for (state, n) in ConnState::ALL.iter().zip(self.by_state) {
            if n > 0 {
                let cell = format!(" {} {}", state.as_str(), thousands(n));
                if line.len() + cell.len() > 98 {
                    writeln!(out, "{line}")?;
                    line = String::from(" ");
                }
                line.push_str(&cell);
            }
        }
        writeln!(
            out,
            "{}",
            if line.trim().is_empty() {
                "  none"
            } else {
                &line
            }
        )?;
        let ends = [
            "closed",
            "unanswered",
            "idle",
            "reused",
            "evicted",
            "open at end",
        ];
        let mut line = String::from(" ");
        for (name, n) in ends.iter().zip(self.by_end) {
            if n > 0 {
                line.push_str(&format!(" {name} {}", thousands(n)));
            }
        }
        if !line.trim().is_empty() {
            writeln!(out, "  ended by:{line}")?;
        }
        writeln!(out)?;

        let mut hosts: Vec<(&IpAddr, &Tally)> = self.hosts.iter().collect();
        hosts.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
        if hosts.is_empty() {
            return self.input_section(out, s);
        }
        self.heading(out, "Top talkers (IP bytes)")?;
        writeln!(
            out,
            "  {:<40} {:>12} {:>10} {:>10}",
            "host", "bytes", "flows", "failed"
        )?;
        for (h, t) in hosts.iter().take(TOP_ROWS) {
            writeln!(
                out,
                "  {:<40} {:>12} {:>10} {:>10}",
                h.to_string(),
                size(t.bytes),
                thousands(t.flows),
                thousands(t.failed)
            )?;
        }
        writeln!(out)?;

        let mut services: Vec<(&(&str, u16), &Tally)> = self.services.iter().collect();
        services.sort_by(|a, b| b.1.flows.cmp(&a.1.flows).then(a.0.cmp(b.0)));
        self.heading(out, "Top services (responder port)")?;
        writeln!(
            out,
            "  {:<40} {:>12} {:>10} {:>10}",
            "service", "bytes", "flows", "failed"
        )?;
        for ((p, port), t) in services.iter().take(TOP_ROWS) {
            writeln!(
                out,
                "  {:<40} {:>12} {:>10} {:>10}",
                format!("{port}/{p}"),
                size(t.bytes),
                thousands(t.flows),
                thousands(t.failed)
            )?;
        }
        if self.untracked > 0 {
            writeln!(out, "  ({} more not tracked)", thousands(self.untracked))?;
        }
        writeln!(out)?;
        self.input_section(out, s)
    }
}

/// Words of `text` in lines of at most `width` columns, the first after `first`, the others
/// after `indent` spaces.
fn wrap(
    out: &mut dyn Write,
    first: &str,
    indent: usize,
    width: usize,
    text: &str,
) -> io::Result<()> {
    let mut line = first.to_owned();
    let mut empty = true;
    for w in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + w.chars().count() > width {
            writeln!(out, "{line}")?;
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(w);
        empty = false;
    }
    writeln!(out, "{line}")
}

impl TableReport {
    fn severity_word(&self, s: Severity) -> String {
        let w = format!("{:<7}", s.as_str().to_uppercase());
        if !self.color {
            return w;
        }
        let c = match s {
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        format!("\x1b[{c}m{w}\x1b[0m")
    }

    fn judgement_section(&self, out: &mut dyn Write, j: &Judgement<'_>) -> io::Result<()> {
        let a = j.aggregator;
        match j.site {
            Some(site) => {
                let gens: Vec<&str> = site.generations.iter().map(|g| g.as_str()).collect();
                writeln!(
                    out,
                    "  site        {} (Exchange {}; {} addresses and networks)",
                    escape(&site.file),
                    gens.join(", "),
                    site.entries
                )?;
            }
            None => writeln!(
                out,
                "  site        none: flows are classified by port alone (give --site FILE)"
            )?,
        }
        writeln!(
            out,
            "  verdicts    documented {}  undocumented {}  port-only {}  unknown {}",
            thousands(a.verdict_count(Verdict::Documented)),
            thousands(a.verdict_count(Verdict::Undocumented)),
            thousands(a.verdict_count(Verdict::PortOnly)),
            thousands(a.verdict_count(Verdict::Unknown)),
        )?;
        writeln!(
            out,
            "  failing     {} flows on documented paths were refused or unanswered",
            thousands(a.failing)
        )?;
        let by_sev: Vec<String> = Severity::ALL
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.as_str(),
                    j.findings.iter().filter(|f| f.severity == *s).count()
                )
            })
            .collect();
        writeln!(out, "  findings    {}", by_sev.join("  "))?;
        writeln!(out)?;

        self.heading(out, "Findings")?;
        if j.findings.is_empty() {
            writeln!(out, "  none")?;
        }
        for f in &j.findings {
            let first = format!(
                "  {} {:<21}",
                self.severity_word(f.severity),
                f.code.as_str()
            );
            // The colour codes take no columns: wrap as if they were absent.
            let visible = 2 + 7 + 1 + 21;
            let extra = first.len() - visible;
            wrap(out, &first, 12, 100 + extra, &escape(&f.message))?;
            let mut refs = Vec::new();
            if let Some(p) = f.path.map(|p| j.catalog.path(p)) {
                refs.push(format!("path {} (seed {})", p.id, p.source));
            }
            if let Some(e) = f.examples.first() {
                refs.push(format!("e.g. flow {}", String::from_utf8_lossy(e)));
            }
            if !refs.is_empty() {
                wrap(out, &" ".repeat(12), 12, 100, &escape(&refs.join("; ")))?;
            }
        }
        if a.ungrouped > 0 {
            writeln!(
                out,
                "  ({} more flows with findings beyond the grouping cap)",
                thousands(a.ungrouped)
            )?;
        }
        writeln!(out)?;
        self.learned_section(out, j)?;

        if j.site.is_none() {
            return Ok(());
        }
        let count = |st: CoverageStatus| j.coverage.iter().filter(|c| c.status == st).count();
        self.heading(
            out,
            &format!(
                "Coverage of documented paths ({} apply to this site: {} seen working, {} seen failing, {} not seen)",
                j.coverage.len(),
                count(CoverageStatus::SeenOk),
                count(CoverageStatus::SeenFailing),
                count(CoverageStatus::NotSeen)
            ),
        )?;
        writeln!(out, "  {:<13} {:>6} {:>7}  path", "status", "ok", "failing")?;
        for st in [CoverageStatus::SeenFailing, CoverageStatus::SeenOk] {
            for c in j.coverage.iter().filter(|c| c.status == st) {
                let p = j.catalog.path(c.path);
                let line = format!(
                    "  {:<13} {:>6} {:>7}  {}  {}",
                    st.as_str(),
                    thousands(c.flows_ok),
                    thousands(c.flows_failing),
                    escape(&p.id),
                    escape(&p.name)
                );
                let line: String = line.chars().take(100).collect();
                writeln!(out, "{line}")?;
            }
        }
        let unseen: Vec<&str> = j
            .coverage
            .iter()
            .filter(|c| c.status == CoverageStatus::NotSeen)
            .map(|c| j.catalog.path(c.path).id.as_str())
            .collect();
        if !unseen.is_empty() {
            wrap(out, "  not seen:", 4, 100, &escape(&unseen.join(", ")))?;
        }
        writeln!(out)
    }

    /// The endpoints the capture taught, and the flows that went to them: absent when nothing
    /// was learned.
    fn learned_section(&self, out: &mut dyn Write, j: &Judgement<'_>) -> io::Result<()> {
        use crate::expect::What;
        let all = j.learned.entries();
        if all.is_empty() {
            return Ok(());
        }
        let rpc = all
            .iter()
            .filter(|(_, e)| matches!(e.what, What::Rpc { .. }))
            .count();
        self.heading(
            out,
            &format!(
                "Learned endpoints ({}: {} from the endpoint mapper or DCOM, {} from SDP)",
                all.len(),
                rpc,
                all.len() - rpc
            ),
        )?;
        for (k, e) in all.iter().take(MAX_LEARNED_LINES) {
            let addr = match k.ip {
                std::net::IpAddr::V4(a) => format!("{a}:{}/{}", k.port, k.transport.as_str()),
                std::net::IpAddr::V6(a) => format!("[{a}]:{}/{}", k.port, k.transport.as_str()),
            };
            let what = match e.what {
                What::Rpc { dcom, .. } => {
                    let names: Vec<String> = e
                        .interfaces()
                        .map(|i| i.name().map_or_else(|| i.uuid.to_string(), str::to_owned))
                        .collect();
                    let names = if names.is_empty() {
                        "object exporter".to_owned()
                    } else {
                        names.join(", ")
                    };
                    format!("{} {names}", if dcom { "dcom" } else { "epm" })
                }
                What::Media {
                    call, rtcp, srtp, ..
                } => format!(
                    "sdp {} call {}",
                    match (srtp, rtcp) {
                        (false, false) => "rtp",
                        (false, true) => "rtcp",
                        (true, false) => "srtp",
                        (true, true) => "srtcp",
                    },
                    String::from_utf8_lossy(&call.hex())
                ),
            };
            let flows = match (e.flows, e.failed) {
                (0, _) => "no flow".to_owned(),
                (n, 0) => format!("{} flow{}", thousands(n), if n == 1 { "" } else { "s" }),
                (n, f) => format!(
                    "{} flow{}, {} failed",
                    thousands(n),
                    if n == 1 { "" } else { "s" },
                    thousands(f)
                ),
            };
            let line = format!("  {addr:<28} {:<44} {flows}", escape(&what));
            writeln!(out, "{}", line.chars().take(100).collect::<String>())?;
            writeln!(
                out,
                "      learned {} from flow {}",
                e.from.at,
                e.from.community_id()
            )?;
        }
        if all.len() > MAX_LEARNED_LINES {
            writeln!(
                out,
                "  ({} more in the JSON output)",
                thousands(all.len().saturating_sub(MAX_LEARNED_LINES) as u64)
            )?;
        }
        if j.learned.retired_more > 0 {
            writeln!(
                out,
                "  ({} more that expired or were dropped are counted, not listed)",
                thousands(j.learned.retired_more)
            )?;
        }
        writeln!(out)
    }

    fn input_section(&self, out: &mut dyn Write, s: &Summary<'_>) -> io::Result<()> {
        let st = s.stats;
        self.heading(out, "Input and decoding")?;
        // An input that could not be read to its end is the first thing wrong with the input:
        // the counters below cover only what was read.
        let mut any = s.input_errors > 0;
        if any {
            writeln!(
                out,
                "  {:<40} {:>12}",
                "inputs not read to their end",
                thousands(s.input_errors)
            )?;
        }
        let groups = [
            st.capture
                .iter()
                .filter(|(k, _)| !matches!(*k, "packets" | "captured_bytes" | "wire_bytes"))
                .collect::<Vec<_>>(),
            st.decode.iter().collect(),
            st.fragments.iter().collect(),
            st.flow
                .iter()
                .filter(|(k, _)| !matches!(*k, "flows" | "ended" | "timed_out" | "open_at_end"))
                .collect(),
        ];
        for (k, v) in groups.iter().flatten() {
            if *v > 0 {
                writeln!(out, "  {:<40} {:>12}", k.replace('_', " "), thousands(*v))?;
                any = true;
            }
        }
        if !any {
            writeln!(out, "  nothing malformed, truncated or dropped")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
    }
}
