use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop(Option<u64>);

fn main() {}
