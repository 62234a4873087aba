//! Pop3: not yet written.

use serde::Serialize;

use super::{Evidence, Input};

/// What the Pop3 conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Pop3 {}

/// Whether the flow carries Pop3 and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
