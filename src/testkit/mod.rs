//! Fixture builder (filled below).
