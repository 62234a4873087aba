//! Imap: not yet written.

use serde::Serialize;

use super::{Evidence, Input};

/// What the Imap conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Imap {}

/// Whether the flow carries Imap and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
