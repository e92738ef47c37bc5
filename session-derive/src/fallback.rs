//! What the derive emits when the input has errors: every error, plus the
//! handle type and an empty schema impl, so uses of the handle elsewhere do
//! not bury our messages under follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Input;
use crate::errors::Errors;
use crate::expand::{Names, handle_struct, schema_impl};

pub(crate) fn expand(input: &Input<'_>, errors: Errors) -> TokenStream {
    let names = Names::of(input);
    let compile_errors = errors.into_compile_errors();
    let handle = handle_struct(input, &names);
    let to_stored = quote!(::core::result::Result::Ok(::std::vec::Vec::new()));
    let schema = schema_impl(input, &names, &[], &to_stored, &[]);
    quote! {
        #compile_errors
        #handle
        const _: () = {
            #schema
        };
    }
}
