use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(handle = "Cart")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
