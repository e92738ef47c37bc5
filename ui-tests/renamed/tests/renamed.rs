//! A crate that depends on session-core as `my_sessions` derives schemas with
//! `#[session(crate = "my_sessions")]`.

use my_sessions::{MemorySession, SessionSchema};

#[derive(SessionSchema, Debug, PartialEq)]
#[session(crate = "my_sessions", namespace = "renamed", version = 1)]
struct Renamed {
    #[session(default)]
    visits: u32,
    user: Option<String>,
}

#[test]
fn generated_code_uses_the_renamed_crate() {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(async {
            let raw = MemorySession::new();
            let handle = RenamedSession::new(raw.clone());
            assert_eq!(handle.visits().await.expect("get"), 0);
            assert_eq!(handle.user().await.expect("get"), None);

            handle.set_visits(2).await.expect("set");
            handle.set_user("ada".into()).await.expect("set");
            handle
                .update_visits(|visits| *visits += 1)
                .await
                .expect("update");
            assert_eq!(handle.visits().await.expect("get"), 3);
            assert_eq!(handle.user().await.expect("get").as_deref(), Some("ada"));
            assert_eq!(
                handle.load().await.expect("load"),
                Renamed {
                    visits: 3,
                    user: Some("ada".into())
                }
            );
            assert_eq!(
                raw.keys(),
                ["renamed.__version", "renamed.user", "renamed.visits"]
            );
        });
}
