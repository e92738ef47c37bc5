//! The derive behind `session_core::SessionSchema`.
//!
//! This crate is an implementation detail of `session-core`: depend on
//! `session-core`, which re-exports the derive, and read its documentation.

#![forbid(unsafe_code)]

mod ast;
mod attr;
mod duration;
mod errors;
mod expand;
mod fallback;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `session_core::SessionSchema` and a typed session handle.
#[proc_macro_derive(SessionSchema, attributes(session))]
pub fn derive_session_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
