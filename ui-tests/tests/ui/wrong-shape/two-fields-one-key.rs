use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    user_id: Option<u64>,
    #[session(key = "user_id")]
    account: Option<u64>,
}

fn main() {}
