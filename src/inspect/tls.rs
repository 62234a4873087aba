//! TLS: not yet written.

use serde::Serialize;

use super::Evidence;

/// What the TLS handshake showed.
#[derive(Debug, Default, Serialize)]
pub struct Tls {}

/// Whether `client` starts with a TLS (or SSL 2 compatible) ClientHello record.
pub fn looks_like(client: &[u8]) -> bool {
    matches!(client, [0x16, 0x03, 0x00..=0x04, ..])
}

/// Parses a TLS handshake from both directions' bytes, starting at their first TLS record.
/// `None` when the client bytes do not start with a TLS record.
pub fn parse(_client: &[u8], _server: &[u8], _at: crate::time::Timestamp) -> Option<Tls> {
    None
}

/// Records what a parsed handshake means for the flow: protection, facts, authentication.
pub fn apply(_tls: &Tls, _ev: &mut Evidence) {}
