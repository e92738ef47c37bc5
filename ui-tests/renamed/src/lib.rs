//! Depends on session-core only under another name; see `tests/renamed.rs`.
