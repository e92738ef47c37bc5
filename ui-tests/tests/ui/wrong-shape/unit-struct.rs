use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop;

fn main() {}
