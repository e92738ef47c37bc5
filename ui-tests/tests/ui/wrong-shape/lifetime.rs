use session_core::SessionSchema;

#[derive(SessionSchema)]
struct Shop<'a> {
    name: Option<&'a str>,
}

fn main() {}
