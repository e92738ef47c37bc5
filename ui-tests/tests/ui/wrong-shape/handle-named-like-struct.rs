use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(handle = Shop)]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
