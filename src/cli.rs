//! The command line: clap types turned into a [`Config`]. The only module that knows clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use exaudit::classify::Severity;
use exaudit::flow::FlowConfig;
use exaudit::{Config, Format};

const EXIT_STATUS: &str = "\
Exit status:
  0  nothing at or above --fail-on was found (or --fail-on never)
  1  findings at or above --fail-on (default: high) were reported
  2  a usage error, a bad rules or site file, or an input that could not be read completely";

#[derive(Parser, Debug)]
#[command(
    name = "exaudit",
    version,
    about = "Passive auditor of Microsoft Exchange network traffic",
    after_help = EXIT_STATUS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read captures, classify every flow against the catalog, and report findings
    Audit(AuditArgs),
    /// List the catalog of documented Exchange paths
    Catalog(CatalogArgs),
    /// Work with site files
    #[command(subcommand)]
    Site(SiteCommand),
}

#[derive(Subcommand, Debug)]
pub enum SiteCommand {
    /// Validate a site file and print what it assigns
    Check {
        /// The site file (TOML)
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum CatalogFormatArg {
    /// One line per path
    Table,
    /// The paths as one JSON document
    Json,
}

#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_STATUS)]
pub struct CatalogArgs {
    /// Only paths of lists that document this Exchange generation (5.x, 2000, 2003, 2010, 2013, 2016, 2019)
    #[arg(long, value_name = "GEN")]
    pub generation: Option<String>,

    /// Only paths with this role at either end (hub, edge, mailbox, cas, um, dc, dns, …)
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,

    /// Only paths whose ports include this port (on TCP or UDP)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Output format
    #[arg(short = 'F', long, value_enum, default_value = "table")]
    pub format: CatalogFormatArg,

    /// A file of your own paths, in the catalog's format (may be repeated)
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SeverityArg {
    /// Never: the exit status says only whether the inputs were read
    Never,
    Info,
    Low,
    Medium,
    High,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// A readable summary (the default)
    Table,
    /// One JSON object per line: a "flow" per flow, then a "summary"
    Jsonl,
    /// The same objects in one JSON document
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_STATUS)]
pub struct AuditArgs {
    /// Capture files (pcap or pcapng, optionally .gz or .zst); - reads standard input
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A capture file, as tcpdump takes it (may be repeated)
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,

    /// Output format
    #[arg(short = 'F', long, value_enum, default_value = "table")]
    pub format: FormatArg,

    /// Write the report to FILE instead of standard output
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Flows tracked at once; beyond it the flow nearest its timeout is written early (counted)
    #[arg(long, value_name = "N", default_value_t = 250_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_flows: u32,

    /// Endpoints learned from endpoint-mapper answers and SDP held at once; beyond it the
    /// oldest learned is dropped (counted)
    #[arg(long, value_name = "N", default_value_t = 16_384,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_expectations: u32,

    /// Payload bytes kept per flow direction for the inspectors
    #[arg(long, value_name = "BYTES", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    pub payload_prefix_bytes: u32,

    /// Memory for payload prefixes in all, in MiB; when it is spent, prefixes stop growing (counted)
    #[arg(long, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(0..=65_536))]
    pub payload_memory_mib: u32,

    /// Largest zstd window accepted, in MiB: reading a .zst capture takes one window of memory
    /// while the file is read (zstd's own default limit is 128, what `zstd --long` writes; 2048 is
    /// the largest zstd makes)
    #[arg(long, value_name = "MIB", default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..=2048))]
    pub max_zstd_window_mib: u32,

    /// Verify IPv4, TCP and UDP checksums (packets with bad ones are ignored, as Zeek does)
    #[arg(long)]
    pub verify_checksums: bool,

    /// Do not tell flows apart by VLAN (for SPAN sessions that see each direction on a different VLAN)
    #[arg(long)]
    pub ignore_vlan: bool,

    /// Seconds an established TCP connection may be idle before it is written (Zeek: 300)
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub tcp_idle_timeout: u32,

    /// Seconds a UDP conversation (and a TCP one still in its handshake) may be idle (Zeek: 60)
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub udp_idle_timeout: u32,

    /// Seconds an ICMP or other-protocol conversation may be idle (Zeek: 60)
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub icmp_idle_timeout: u32,

    /// When to use colour in the table format
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorArg,

    /// The site file: which addresses play which Exchange role (without it: by port alone)
    #[arg(long, value_name = "FILE")]
    pub site: Option<PathBuf>,

    /// A file of your own paths, in the catalog's format, added to the built-in catalog (may be repeated)
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// Exit with status 1 when a finding at or above this severity is reported
    #[arg(long, value_enum, value_name = "SEVERITY", default_value = "high")]
    pub fail_on: SeverityArg,
}

impl AuditArgs {
    pub fn into_config(self, stdout_is_terminal: bool, stderr_is_terminal: bool) -> Config {
        let mut inputs = self.read;
        inputs.extend(self.files);
        let mut flow = FlowConfig {
            max_flows: self.max_flows as usize,
            payload_prefix_bytes: self.payload_prefix_bytes as usize,
            payload_memory_bytes: (self.payload_memory_mib as usize) << 20,
            ..FlowConfig::default()
        };
        flow.vlan_in_key = !self.ignore_vlan;
        let secs = |s: u32| exaudit::time::Duration::from_secs(u64::from(s));
        flow.timeouts.tcp_established = secs(self.tcp_idle_timeout);
        flow.timeouts.tcp_handshake = secs(self.udp_idle_timeout);
        flow.timeouts.udp = secs(self.udp_idle_timeout);
        flow.timeouts.icmp = secs(self.icmp_idle_timeout);
        flow.timeouts.other = secs(self.icmp_idle_timeout);
        let decode = exaudit::decode::DecodeConfig {
            verify_checksums: self.verify_checksums,
            ..exaudit::decode::DecodeConfig::default()
        };
        let to_terminal = self.output.is_none() && stdout_is_terminal;
        Config {
            inputs,
            format: match self.format {
                FormatArg::Table => Format::Table,
                FormatArg::Jsonl => Format::Jsonl,
                FormatArg::Json => Format::Json,
            },
            decode,
            flow,
            source: exaudit::source::SourceConfig {
                max_zstd_window_bytes: u64::from(self.max_zstd_window_mib) << 20,
            },
            expect: exaudit::expect::ExpectConfig {
                max_entries: self.max_expectations as usize,
                ..exaudit::expect::ExpectConfig::default()
            },
            progress: stderr_is_terminal,
            color: match self.color {
                ColorArg::Always => true,
                ColorArg::Never => false,
                ColorArg::Auto => to_terminal,
            },
            site: self.site,
            rules: self.rules,
            fail_on: match self.fail_on {
                SeverityArg::Never => None,
                SeverityArg::Info => Some(Severity::Info),
                SeverityArg::Low => Some(Severity::Low),
                SeverityArg::Medium => Some(Severity::Medium),
                SeverityArg::High => Some(Severity::High),
            },
        }
    }
}

/// clap's rendered error as one line: its message without "error: ", the notes clap puts on
/// lines of their own (possible values, tips) joined in, the usage and "--help" hint left out.
/// Escaped: clap echoes the argument as given, and a newline in it stays inside the message.
pub fn one_line(rendered: &str) -> String {
    let body = rendered.strip_prefix("error: ").unwrap_or(rendered);
    // The message ends where clap's own layout starts: an indented note, a blank line, the usage.
    let end = ["\n  [", "\n  tip:", "\n\n", "\nUsage:"]
        .iter()
        .filter_map(|m| body.find(m))
        .min()
        .unwrap_or(body.len());
    let (message, rest) = body.split_at(end);
    let mut line = message.trim_end().to_owned();
    for l in rest.lines().map(str::trim) {
        if l.starts_with("Usage:") {
            break;
        }
        if let Some(inner) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            line.push_str(" (");
            line.push_str(inner);
            line.push(')');
        } else if l.starts_with("tip:") {
            line.push_str("; ");
            line.push_str(l);
        }
    }
    if line.is_empty() {
        line.push_str("bad arguments");
    }
    exaudit::text::escape(&line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).unwrap_err();
        one_line(&e.render().to_string())
    }

    #[test]
    fn usage_errors_become_one_line() {
        assert_eq!(
            parse_error(&["exaudit", "audit", "--format", "xml"]),
            "invalid value 'xml' for '--format <FORMAT>' (possible values: table, jsonl, json)"
        );
        assert_eq!(
            parse_error(&["exaudit", "frobnicate"]),
            "unrecognized subcommand 'frobnicate'"
        );
        let e = parse_error(&["exaudit", "audit", "--formt", "json"]);
        assert!(
            e.starts_with("unexpected argument '--formt' found; tip:"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        // The argument is echoed escaped, on the same line.
        let e = parse_error(&["exaudit", "audit", "--format", "x\ny\u{9b}z"]);
        assert!(e.starts_with("invalid value 'x\\x0ay\\x9bz'"), "{e}");
    }
}
