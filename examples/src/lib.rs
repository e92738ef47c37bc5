//! Example apps built on `session-core`; each binary in `src/bin` starts one,
//! and each has an integration test in `tests/`.

pub mod bench;
pub mod catch_panic;
pub mod config;
pub mod counter;
pub mod html;
pub mod login;
pub mod oidc;
pub mod shop;
pub mod tour;
