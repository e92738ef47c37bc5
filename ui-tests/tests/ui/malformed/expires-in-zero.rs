use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Auth {
    #[session(expires_in = "0s")]
    token: Option<String>,
}

fn main() {}
