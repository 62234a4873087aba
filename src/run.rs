//! Wires the stages for one run: sources → decode → flow table → report.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::decode::{DecodeConfig, Decoder};
use crate::flow::{FlowConfig, FlowTable};
use crate::report::{JsonReport, JsonlReport, Report, Summary, TableReport};
use crate::source::Merged;
use crate::stats::Stats;
use crate::time::Timestamp;

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
    Json,
}

/// Everything a run needs; built from the command line by `cli`, or by tests directly.
#[derive(Clone, Debug)]
pub struct Config {
    pub inputs: Vec<PathBuf>,
    pub format: Format,
    pub decode: DecodeConfig,
    pub flow: FlowConfig,
    /// Draw a progress bar on standard error.
    pub progress: bool,
    /// Use colour in the table format.
    pub color: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            inputs: Vec::new(),
            format: Format::Jsonl,
            decode: DecodeConfig::default(),
            flow: FlowConfig::default(),
            progress: false,
            color: false,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Inputs that could not be opened or read to their end.
    pub input_errors: u64,
    pub stats: Stats,
}

impl Outcome {
    /// 0 when everything was read; 2 when an input error left the answer incomplete.
    pub fn exit_code(&self) -> u8 {
        if self.input_errors > 0 { 2 } else { 0 }
    }
}

/// A failure that stops the run: the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot write the report")]
    Output(#[source] io::Error),
}

/// An error and its causes on one line, joined by ": ", in the form of STYLE §5 (system
/// messages lower-cased, without their "(os error N)").
pub fn error_line(err: &dyn std::error::Error) -> String {
    let mut line = plain_io_message(&err.to_string());
    let mut src = err.source();
    while let Some(s) = src {
        line.push_str(": ");
        line.push_str(&plain_io_message(&s.to_string()));
        src = s.source();
    }
    line
}

/// One diagnostic line: `exaudit: <message>`.
fn diag_line(diag: &mut dyn Write, prefix: &str, err: &dyn std::error::Error) {
    // A diagnostic that cannot be written has nowhere else to go.
    let _ = writeln!(diag, "exaudit: {prefix}{}", error_line(err));
}

/// `No such file or directory (os error 2)` → `no such file or directory`; exaudit's own
/// messages already start in lower case and pass through unchanged.
fn plain_io_message(m: &str) -> String {
    let m = match m.find(" (os error ") {
        Some(i) => &m[..i],
        None => m,
    };
    let mut c = m.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Runs the pipeline over `config.inputs`, writing the report to `out` and diagnostics to
/// `diag`. Bad inputs are reported and skipped; the others are analysed in full.
pub fn run(
    config: &Config,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Outcome, InputError> {
    let mut stats = Stats::default();
    let (mut src, open_errors) = Merged::open(&config.inputs);
    let mut input_errors = 0u64;
    for e in &open_errors {
        diag_line(diag, "", e);
        input_errors += 1;
    }
    let mut decoder = Decoder::new(config.decode);
    let mut table = FlowTable::new(config.flow.clone());
    let mut report: Box<dyn Report> = match config.format {
        Format::Table => Box::new(TableReport::new(config.color)),
        Format::Jsonl => Box::<JsonlReport>::default(),
        Format::Json => Box::<JsonReport>::default(),
    };
    let progress = config.progress.then(|| progress_bar(&config.inputs));
    let mut done = Vec::new();
    let mut first_ts: Option<Timestamp> = None;
    let mut last_ts: Option<Timestamp> = None;
    let mut n: u64 = 0;
    while let Some(pkt) = src.next_packet(&mut stats.capture) {
        first_ts.get_or_insert(pkt.ts);
        if last_ts.is_none_or(|l| pkt.ts > l) {
            last_ts = Some(pkt.ts);
        }
        let truncated = (pkt.data.len() as u64) < u64::from(pkt.orig_len);
        let ts = pkt.ts;
        if let Some(d) = decoder.decode(&pkt) {
            table.observe(ts, &d, truncated, &mut stats.flow, &mut done);
        }
        for rec in &mut done {
            report.flow(out, rec).map_err(InputError::Output)?;
            table.recycle(rec);
        }
        done.clear();
        n += 1;
        if n % 16_384 == 0
            && let Some(pb) = &progress
        {
            pb.set_position(src.bytes_consumed());
            let secs = pb.elapsed().as_secs_f64().max(0.001);
            #[allow(clippy::cast_precision_loss, reason = "a rate for display")]
            let rate = n as f64 / secs;
            pb.set_message(format!("{n} packets, {rate:.0} packets/s"));
        }
    }
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    for e in src.take_errors() {
        diag_line(diag, "", &e);
        input_errors += 1;
    }
    for w in src.take_warnings() {
        let _ = writeln!(diag, "exaudit: warning: {w}");
    }
    table.finish(&mut stats.flow, &mut done);
    for rec in &mut done {
        report.flow(out, rec).map_err(InputError::Output)?;
        table.recycle(rec);
    }
    done.clear();
    stats.decode = decoder.stats.clone();
    stats.fragments = decoder.fragments.clone();
    let summary = Summary {
        inputs: config
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        input_errors,
        first_ts,
        last_ts,
        stats: &stats,
    };
    report.finish(out, &summary).map_err(InputError::Output)?;
    out.flush().map_err(InputError::Output)?;
    Ok(Outcome {
        input_errors,
        stats,
    })
}

fn progress_bar(inputs: &[PathBuf]) -> indicatif::ProgressBar {
    let total: u64 = inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr_with_hz(4),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} read ({bytes_per_sec}), {msg}, {elapsed}",
    );
    if let Ok(style) = style {
        pb.set_style(style);
    }
    pb
}

/// What [`analyse`] found: every flow record, the counters, and the input's errors and warnings.
#[derive(Debug, Default)]
pub struct Analysis {
    pub flows: Vec<crate::flow::FlowRecord>,
    pub stats: Stats,
    pub errors: Vec<crate::source::SourceError>,
    pub warnings: Vec<crate::source::SourceWarning>,
}

/// Runs source → decode → flow over one capture held in any reader and returns the records in
/// the order they were written. For tests, fuzzing and embedding; [`run`] is the command's path.
pub fn analyse(
    name: &str,
    reader: Box<dyn io::Read + Send>,
    decode: DecodeConfig,
    flow: FlowConfig,
) -> Analysis {
    let mut a = Analysis::default();
    let file = match crate::source::CaptureFile::from_reader(std::path::Path::new(name), reader) {
        Ok(f) => f,
        Err(e) => {
            a.errors.push(e);
            return a;
        }
    };
    let mut src = Merged::new(vec![file]);
    let mut decoder = Decoder::new(decode);
    let mut table = FlowTable::new(flow);
    while let Some(pkt) = src.next_packet(&mut a.stats.capture) {
        let truncated = (pkt.data.len() as u64) < u64::from(pkt.orig_len);
        let ts = pkt.ts;
        if let Some(d) = decoder.decode(&pkt) {
            table.observe(ts, &d, truncated, &mut a.stats.flow, &mut a.flows);
        }
    }
    table.finish(&mut a.stats.flow, &mut a.flows);
    a.errors = src.take_errors();
    a.warnings = src.take_warnings();
    a.stats.decode = decoder.stats.clone();
    a.stats.fragments = decoder.fragments.clone();
    a
}
