use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(namespace = "shop")]
    user_id: Option<u64>,
}

fn main() {}
