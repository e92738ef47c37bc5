use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    visits: u32,
}

fn main() {}
