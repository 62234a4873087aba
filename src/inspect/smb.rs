//! Smb: not yet written.

use serde::Serialize;

use super::{Evidence, Input};

/// What the Smb conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Smb {}

/// Whether the flow carries Smb and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
