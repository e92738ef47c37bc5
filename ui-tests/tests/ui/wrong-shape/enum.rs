use session_core::SessionSchema;

#[derive(SessionSchema)]
enum Shop {
    Empty,
}

fn main() {}
