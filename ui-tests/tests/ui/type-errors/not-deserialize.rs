use session_core::SessionSchema;

#[derive(serde::Serialize)]
struct Item;

#[derive(SessionSchema)]
struct Shop {
    item: Option<Item>,
}

fn main() {}
