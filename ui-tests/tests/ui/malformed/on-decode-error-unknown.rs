use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(on_decode_error = "ignore")]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
