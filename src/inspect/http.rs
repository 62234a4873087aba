//! Http: not yet written.

use serde::Serialize;

use super::{Evidence, Input};

/// What the Http conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Http {}

/// Whether the flow carries Http and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
