use session_core::SessionSchema;

#[derive(SessionSchema)]
#[session(namespace = "cart")]
pub struct Cart {
    #[session(default)]
    items: Vec<u32>,
}

#[derive(SessionSchema)]
#[session(namespace = "auth", version = 1)]
pub struct Auth {
    user_id: Option<u64>,
}

#[derive(SessionSchema)]
pub struct Prefs {
    #[session(key = "theme")]
    colour: Option<String>,
}

session_core::assert_disjoint!(Cart, Auth, Prefs);

fn main() {}
