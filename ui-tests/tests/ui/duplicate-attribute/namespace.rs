use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop")]
#[session(namespace = "store")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
