//! Compile-fail and must-compile tests of `#[derive(SessionSchema)]`; the crate itself holds nothing.
