use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespase = "shop")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
