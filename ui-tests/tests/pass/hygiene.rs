//! Generated code uses absolute paths only: it compiles where the prelude's
//! names mean something else.
#![allow(dead_code, non_camel_case_types)]

mod shadowed {
    struct Option;
    struct Some;
    struct None;
    struct Result;
    struct Ok;
    struct Err;
    struct String;
    struct Vec;
    struct Default;
    struct Clone;
    struct Send;
    struct Sync;
    struct FnOnce;
    struct Box;
    mod core {}
    mod std {}
    mod serde {}
    mod session_core {}

    #[derive(::session_core::SessionSchema)]
    #[session(namespace = "hygiene", version = 1, debug)]
    pub struct Hygiene {
        #[session(default)]
        count: u32,
        #[session(default = ::std::string::String::from("x"))]
        label: ::std::string::String,
        user_id: ::core::option::Option<u64>,
        #[session(flash)]
        notices: ::std::vec::Vec<::std::string::String>,
        #[session(expires_in = "5m", sensitive, rotate_id)]
        token: ::core::option::Option<::std::string::String>,
    }
}

fn main() {}
