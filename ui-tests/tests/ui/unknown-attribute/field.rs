use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop {
    #[session(defualt)]
    cart: Vec<u32>,
}

fn main() {}
