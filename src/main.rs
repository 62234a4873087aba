//! The `exaudit` command: arguments → [`exaudit::Config`] → [`exaudit::run`] → exit status.

mod cli;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{CatalogFormatArg, Cli, Command, SiteCommand};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            #[allow(clippy::print_stderr, reason = "main is where errors reach the user")]
            {
                let chain: Vec<String> = err
                    .chain()
                    .map(|e| exaudit::error_line(&StrError(e.to_string())))
                    .collect();
                eprintln!("exaudit: {}", chain.join(": "));
            }
            ExitCode::from(2)
        }
    }
}

/// What clap found wrong with the arguments, as one `exaudit: …` line and exit status 2. Help and
/// version requests are clap's to print. The usage hint follows only on a terminal: a script's
/// log gets one line per problem.
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let rendered = err.render().to_string();
    #[allow(clippy::print_stderr, reason = "main is where errors reach the user")]
    {
        eprintln!("exaudit: {}", cli::one_line(&rendered));
        if io::stderr().is_terminal() {
            for l in rendered
                .lines()
                .filter(|l| l.starts_with("Usage:") || l.starts_with("For more information"))
            {
                eprintln!("{}", exaudit::text::escape(l));
            }
        }
    }
    ExitCode::from(2)
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Audit(args) => {
            let output = args.output.clone();
            let config = args.into_config(io::stdout().is_terminal(), io::stderr().is_terminal());
            if config.inputs.is_empty() {
                anyhow::bail!(
                    "audit: no capture file given (name one or more files, or - for standard input)"
                );
            }
            // The rules and the site file are checked before anything is written, and the
            // output is never one of the files read.
            if let Some(path) = &output {
                refuse_overwriting_an_input(path, &config)?;
            }
            let rules = exaudit::Rules::load(&config)?;
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(BufWriter::with_capacity(
                    1 << 16,
                    File::create(path)
                        .with_context(|| format!("{}: cannot create", exaudit::text::path(path)))?,
                )),
                None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
            };
            let mut err = io::stderr().lock();
            let outcome = exaudit::run_with(&config, &rules, &mut out, &mut err)?;
            Ok(outcome.exit_code())
        }
        Command::Catalog(args) => {
            let catalog = exaudit::catalog::Catalog::with_files(&args.rules)?;
            let filter = exaudit::report::CatalogFilter::parse(
                args.generation.as_deref(),
                args.role.as_deref(),
                args.port,
            )
            .map_err(|e| anyhow::anyhow!("catalog: {e}"))?;
            let mut out = BufWriter::new(io::stdout().lock());
            match args.format {
                CatalogFormatArg::Table => {
                    exaudit::report::write_catalog_table(&mut out, &catalog, &filter)?;
                }
                CatalogFormatArg::Json => {
                    exaudit::report::write_catalog_json(&mut out, &catalog, &filter)?;
                }
            }
            out.flush()?;
            Ok(0)
        }
        Command::Site(SiteCommand::Check { file }) => {
            let site = exaudit::site::Site::load(&file)?;
            let mut out = BufWriter::new(io::stdout().lock());
            exaudit::report::write_site_check(&mut out, &site)?;
            out.flush()?;
            Ok(0)
        }
    }
}

/// Refuses an output file that is one of the run's inputs (a capture, the site file, a rules
/// file), by name or through a link: opening it for writing would destroy what is about to be
/// read. Checked before anything is opened for writing.
fn refuse_overwriting_an_input(output: &Path, config: &exaudit::Config) -> anyhow::Result<()> {
    if !output.exists() {
        // A file that does not exist yet is no input.
        return Ok(());
    }
    let inputs = config
        .inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .chain(config.site.iter())
        .chain(config.rules.iter());
    for input in inputs {
        if same_file(output, input) {
            anyhow::bail!(
                "{}: -o names a file this run reads ({}); choose another output file",
                exaudit::text::path(output),
                exaudit::text::path(input)
            );
        }
    }
    Ok(())
}

/// Whether two names lead to one file (hard and symbolic links included).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether two names lead to one file (symbolic links included).
#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// One link of an error chain as an error of its own, to format it like the library does.
#[derive(Debug)]
struct StrError(String);

impl std::fmt::Display for StrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StrError {}
