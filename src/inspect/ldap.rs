//! Ldap: not yet written.

pub(super) mod ber;

use serde::Serialize;

use super::{Evidence, Input};

/// What the Ldap conversation showed.
#[derive(Debug, Default, Serialize)]
pub struct Ldap {}

/// Whether the flow carries Ldap and, if it does, the evidence it gives. Answers `false` quickly
/// for anything else.
pub fn inspect(_input: &Input<'_>, _ev: &mut Evidence) -> bool {
    false
}
