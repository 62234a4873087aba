//! DceRpc: not yet written.

use serde::Serialize;

use super::{Evidence, Input};

/// What the DceRpc conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct DceRpc {}

/// Whether the flow carries DceRpc and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
