use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(flash, flash)]
    notice: Option<String>,
}

fn main() {}
