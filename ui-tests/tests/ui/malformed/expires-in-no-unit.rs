use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Auth {
    #[session(expires_in = "15")]
    token: Option<String>,
}

fn main() {}
