use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop", version = 1)]
struct ShopV1 {
    user: Option<String>,
}

#[derive(SessionSchema)]
#[session(namespace = "shop", version = 2, migrate_from = ShopV1)]
struct Shop {
    user: Option<String>,
}

fn main() {}
