//! The `exaudit` command: arguments → [`exaudit::Config`] → [`exaudit::run`] → exit status.

mod cli;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{CatalogFormatArg, Cli, Command, SiteCommand};

fn main() -> ExitCode {
    match run(Cli::parse()) {
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
            // The rules and the site file are checked before anything is written.
            let rules = exaudit::Rules::load(&config)?;
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(BufWriter::with_capacity(
                    1 << 16,
                    File::create(path)
                        .with_context(|| format!("{}: cannot create", path.display()))?,
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

/// One link of an error chain as an error of its own, to format it like the library does.
#[derive(Debug)]
struct StrError(String);

impl std::fmt::Display for StrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StrError {}
