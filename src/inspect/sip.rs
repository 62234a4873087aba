//! Sip: not yet written.

use serde::Serialize;

use super::{Evidence, Input};

/// What the Sip conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Sip {}

/// Whether the flow carries Sip and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
