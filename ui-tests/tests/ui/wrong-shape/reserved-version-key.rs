use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop", version = 1)]
struct Shop {
    #[session(key = "shop.__version")]
    revision: Option<u64>,
}

fn main() {}
