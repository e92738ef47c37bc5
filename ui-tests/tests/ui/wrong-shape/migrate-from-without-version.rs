use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop", version = 1)]
struct ShopV1 {
    user: Option<String>,
}

#[derive(SessionSchema)]
#[session(namespace = "shop", migrate_from = ShopV1)]
struct Shop {
    user_id: Option<u64>,
}

fn main() {}
