//! exaudit: a passive auditor of Microsoft Exchange network traffic.
//!
//! ```text
//! source ──► decode ──► flow ──► inspect ──► classify ──► report
//! (bytes)   (headers)  (conversations) (evidence)  (verdicts)  (outputs)
//! ```
//!
//! Data flows one way and each stage owns one kind of thing. Only `source` reads and only
//! `report` writes; everything between takes bytes and capture time as arguments, so a test can
//! drive it one packet at a time. [`run`] wires the stages together.

pub mod time;

pub mod text;

pub mod source;

pub mod decode;

pub mod flow;

pub mod inspect;

pub mod catalog;

pub mod site;

pub mod expect;

pub mod classify;

pub mod report;

pub mod stats;

#[doc(hidden)]
pub mod testkit;

mod run;

pub use run::{
    Analysis, Config, Format, InputError, Outcome, Rules, analyse, error_line, run, run_reader,
    run_with,
};
