use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop", json_schema = true)]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
