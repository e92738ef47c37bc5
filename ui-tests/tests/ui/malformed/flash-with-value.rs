use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(flash = true)]
    notice: Option<String>,
}

fn main() {}
