//! What the derive emits when the input has errors: every error, plus the
//! handle type, so uses of the handle elsewhere do not bury our messages
//! under "cannot find type" errors.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Input;
use crate::errors::Errors;
use crate::expand::{Names, handle_struct};

pub(crate) fn expand(input: &Input<'_>, errors: Errors) -> TokenStream {
    let names = Names::of(input);
    let compile_errors = errors.into_compile_errors();
    let handle = handle_struct(input, &names);
    quote! {
        #compile_errors
        #handle
    }
}
