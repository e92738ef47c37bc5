use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    clone: Option<u64>,
}

fn main() {}
