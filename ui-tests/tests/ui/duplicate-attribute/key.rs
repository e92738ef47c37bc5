use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(key = "a")]
    #[session(key = "b")]
    user_id: Option<u64>,
}

fn main() {}
