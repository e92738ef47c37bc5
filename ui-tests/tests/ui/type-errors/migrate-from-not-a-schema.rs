use session_core::SessionSchema;

struct ShopV1 {
    user: Option<String>,
}

#[derive(SessionSchema)]
#[session(namespace = "shop", version = 2, migrate_from = ShopV1)]
struct Shop {
    user: Option<String>,
}

impl From<ShopV1> for Shop {
    fn from(v1: ShopV1) -> Self {
        Shop { user: v1.user }
    }
}

fn main() {}
