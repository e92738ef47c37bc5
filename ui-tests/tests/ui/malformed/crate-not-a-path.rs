use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(crate = "not a path!")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
