use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop", version = "2")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
