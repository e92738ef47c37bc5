use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(prefix = "shop")]
struct Shop {
    #[session(defualt)]
    cart: Vec<u32>,
    #[session(secret)]
    token: Option<String>,
}

fn main() {}
