use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = 1)]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
