use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(flash, default)]
    notice: String,
}

fn main() {}
