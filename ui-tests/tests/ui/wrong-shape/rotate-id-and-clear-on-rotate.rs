use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "login")]
struct Login {
    #[session(rotate_id, clear_on_rotate)]
    user_id: Option<u64>,
}

fn main() {}
