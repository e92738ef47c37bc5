use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "shop")]
struct Cart {
    #[session(default)]
    items: Vec<u32>,
}

#[derive(SessionSchema)]
struct Legacy {
    #[session(key = "shop.items")]
    items: Option<Vec<u32>>,
}

session_core::assert_disjoint!(Cart, Legacy);

fn main() {}
