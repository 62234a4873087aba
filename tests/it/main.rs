//! The integration tests: one binary, one module per area.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests assert by panicking and say on stderr what they skipped"
)]

mod alloc;
mod catalog;
mod classify;
mod cli;
mod common;
mod expect;
mod expect_sip;
mod fuzz_replay;
mod inspect_bin;
mod inspect_dir;
mod inspect_epm;
mod inspect_text;
mod inspect_tls;
mod output;
mod pcaps;
mod props;
mod readers;
mod scenarios;
mod secrets;
mod terminal;
mod zeek;
