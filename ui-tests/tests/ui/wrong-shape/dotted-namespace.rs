use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop.v2")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
