//! Smtp: not yet written.

use serde::Serialize;

use super::{Evidence, Input};

/// What the Smtp conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Smtp {}

/// Whether the flow carries Smtp and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
