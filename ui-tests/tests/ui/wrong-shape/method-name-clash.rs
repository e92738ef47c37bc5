use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    load: Option<u64>,
}

fn main() {}
