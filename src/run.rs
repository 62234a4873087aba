//! Wires the stages for one run: sources → decode → flow table → report.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::catalog::{Catalog, RulesError};
use crate::classify::{Aggregator, Classifier, Severity};
use crate::decode::{DecodeConfig, Decoder};
use crate::expect::{ExpectConfig, Expectations, Learner};
use crate::flow::{FlowConfig, FlowTable};
use crate::report::{JsonReport, JsonlReport, Judgement, Report, Summary, TableReport};
use crate::site::Site;
use crate::source::{Merged, SourceConfig};
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
    /// Limits on reading the inputs (`--max-zstd-window-mib`).
    pub source: SourceConfig,
    /// Bounds of the table of endpoints learned from endpoint-mapper answers and SDP.
    pub expect: ExpectConfig,
    /// Draw a progress bar on standard error.
    pub progress: bool,
    /// Use colour in the table format.
    pub color: bool,
    /// The site file (`--site`); without one, flows are classified by port alone.
    pub site: Option<PathBuf>,
    /// The user's own catalog files (`--rules`), added to the built-in catalog.
    pub rules: Vec<PathBuf>,
    /// The exit status is 1 when a finding at or above this severity is reported; `None`:
    /// never (`--fail-on never`).
    pub fail_on: Option<Severity>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            inputs: Vec::new(),
            format: Format::Jsonl,
            decode: DecodeConfig::default(),
            flow: FlowConfig::default(),
            source: SourceConfig::default(),
            expect: ExpectConfig::default(),
            progress: false,
            color: false,
            site: None,
            rules: Vec::new(),
            fail_on: Some(Severity::High),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Inputs that could not be opened or read to their end.
    pub input_errors: u64,
    pub stats: Stats,
    /// The most severe finding reported, if any.
    pub worst: Option<Severity>,
    /// The `--fail-on` threshold of the run.
    pub fail_on: Option<Severity>,
}

impl Outcome {
    /// 2 when an input error left the answer incomplete; otherwise 1 when a finding at or above
    /// `--fail-on` was reported, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.input_errors > 0 {
            2
        } else if self
            .worst
            .is_some_and(|w| self.fail_on.is_some_and(|f| w >= f))
        {
            1
        } else {
            0
        }
    }
}

/// The catalog and the site file of a run, loaded and validated before any capture is read.
#[derive(Debug, Clone)]
pub struct Rules {
    pub catalog: Catalog,
    pub site: Option<Site>,
}

impl Rules {
    /// Loads the built-in catalog, the `--rules` files and the `--site` file.
    pub fn load(config: &Config) -> Result<Rules, RulesError> {
        let catalog = Catalog::with_files(&config.rules)?;
        let site = match &config.site {
            Some(p) => Some(Site::load(p)?),
            None => None,
        };
        Ok(Rules { catalog, site })
    }
}

/// A failure that stops the run: the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot write the report")]
    Output(#[source] io::Error),
    #[error("{0}")]
    Rules(#[from] RulesError),
}

/// An error and its causes on one line, joined by ": " (system messages lower-cased, without
/// their "(os error N)"), with every control character escaped: a file name or a value from a
/// file cannot break the line or act on the terminal.
pub fn error_line(err: &dyn std::error::Error) -> String {
    let mut line = plain_io_message(&err.to_string());
    let mut src = err.source();
    while let Some(s) = src {
        line.push_str(": ");
        line.push_str(&plain_io_message(&s.to_string()));
        src = s.source();
    }
    crate::text::escape(&line).into_owned()
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
    let rules = Rules::load(config)?;
    run_with(config, &rules, out, diag)
}

/// [`run`] with the catalog and site already loaded.
pub fn run_with(
    config: &Config,
    rules: &Rules,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Outcome, InputError> {
    let (src, open_errors) = Merged::open(&config.inputs, &config.source);
    run_source(config, rules, src, open_errors, out, diag)
}

/// [`run_with`] over one capture held in a reader instead of `config.inputs` (for fuzzing and
/// embedding); `name` names it in the report and in errors.
pub fn run_reader(
    name: &str,
    reader: Box<dyn io::Read + Send>,
    config: &Config,
    rules: &Rules,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Outcome, InputError> {
    let (files, errors) = match crate::source::CaptureFile::from_reader_with(
        std::path::Path::new(name),
        reader,
        &config.source,
    ) {
        Ok(f) => (vec![f], Vec::new()),
        Err(e) => (Vec::new(), vec![e]),
    };
    run_source(config, rules, Merged::new(files), errors, out, diag)
}

fn run_source(
    config: &Config,
    rules: &Rules,
    mut src: Merged,
    open_errors: Vec<crate::source::SourceError>,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Outcome, InputError> {
    let classifier = Classifier::new(&rules.catalog, rules.site.as_ref());
    let mut agg = Aggregator::default();
    let mut stats = Stats::default();
    let mut input_errors = 0u64;
    for e in &open_errors {
        diag_line(diag, "", e);
        input_errors += 1;
    }
    let mut decoder = Decoder::new(config.decode);
    let mut table = FlowTable::new(config.flow.clone());
    let mut learner = Learner::new(&config.expect);
    let mut expect = Expectations::new(config.expect.clone());
    let mut lessons = Vec::new();
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
            if let Some(v) = table.fed() {
                learner.fed(&v, ts, &mut lessons);
            }
            learner.packet(&d, ts, &mut lessons);
        }
        for l in lessons.drain(..) {
            expect.apply(&l);
        }
        expect.tick(ts);
        for rec in &mut done {
            judge(
                &classifier,
                &mut expect,
                &mut agg,
                report.as_mut(),
                out,
                rec,
            )?;
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
        let _ = writeln!(
            diag,
            "exaudit: warning: {}",
            crate::text::escape(&w.to_string())
        );
    }
    table.finish(&mut stats.flow, &mut done);
    for rec in &mut done {
        judge(
            &classifier,
            &mut expect,
            &mut agg,
            report.as_mut(),
            out,
            rec,
        )?;
        table.recycle(rec);
    }
    done.clear();
    stats.expect = expect.stats.clone();
    stats.sip_calls = learner.sip_stats().clone();
    stats.decode = decoder.stats.clone();
    stats.fragments = decoder.fragments.clone();
    let judgement = Judgement {
        catalog: &rules.catalog,
        site: rules.site.as_ref(),
        findings: agg.findings(&rules.catalog),
        coverage: agg.coverage(&rules.catalog, rules.site.as_ref()),
        aggregator: &agg,
        learned: &expect,
    };
    let summary = Summary {
        inputs: config.inputs.iter().map(|p| crate::text::path(p)).collect(),
        input_errors,
        first_ts,
        last_ts,
        stats: &stats,
        judgement: &judgement,
    };
    report.finish(out, &summary).map_err(InputError::Output)?;
    out.flush().map_err(InputError::Output)?;
    Ok(Outcome {
        input_errors,
        stats,
        worst: judgement.findings.iter().map(|f| f.severity).max(),
        fail_on: config.fail_on,
    })
}

/// Classifies one finished flow (attributing it to a learned endpoint where it went to one),
/// counts it, and hands both to the report.
fn judge(
    classifier: &Classifier<'_>,
    expect: &mut Expectations,
    agg: &mut Aggregator,
    report: &mut dyn Report,
    out: &mut dyn Write,
    rec: &mut crate::flow::FlowRecord,
) -> Result<(), InputError> {
    let learned = expect.attribute(rec);
    if learned.as_ref().is_some_and(|a| a.reversed) {
        rec.turn_around();
    }
    let rec = &*rec;
    let ev = crate::inspect::inspect(&crate::inspect::input(rec), rec.start);
    let mut c = classifier.classify_with(rec, learned.as_ref(), ev.bound_interface());
    classifier.judge_evidence(rec, &ev, &mut c);
    let cid = crate::report::flow_community_id_bytes(rec);
    agg.add(rec, &c, cid);
    report
        .flow(out, rec, &c, &ev, &cid, classifier.catalog)
        .map_err(InputError::Output)
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
