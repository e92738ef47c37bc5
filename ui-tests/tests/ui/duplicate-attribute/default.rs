use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(default, default = vec![1])]
    cart: Vec<u32>,
}

fn main() {}
