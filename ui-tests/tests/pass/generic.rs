//! Generic schemas: bounds only where a type parameter is stored, and the
//! handle takes the schema's type arguments before the untyped session's.

use serde::{Deserialize, Serialize};
use session_core::{MemorySession, SessionError, SessionSchema};

#[derive(SessionSchema)]
pub struct Wrapper<T> {
    item: Option<T>,
}

#[derive(SessionSchema)]
#[session(namespace = "wizard")]
pub struct Wizard<T> {
    step: Option<T>,
    #[session(default)]
    history: Vec<T>,
}

/// A parameter with a default and a `where` clause of its own.
#[derive(SessionSchema)]
#[session(namespace = "pair")]
pub struct Pair<K, V = u32>
where
    K: Clone,
{
    key: Option<K>,
    #[session(default)]
    values: Vec<V>,
}

#[derive(Clone, Serialize, Deserialize)]
pub enum Step {
    Address,
    Payment,
}

#[allow(dead_code)]
async fn use_them(raw: MemorySession) -> Result<(), SessionError> {
    let wrapper = WrapperSession::<u64, MemorySession>::new(raw.clone());
    wrapper.set_item(7).await?;
    let _: Option<u64> = wrapper.item().await?;
    let _: Wrapper<u64> = wrapper.load().await?;

    let wizard: WizardSession<Step, MemorySession> = WizardSession::new(raw.clone());
    wizard.set_step(Step::Payment).await?;
    wizard.update_history(|history| history.push(Step::Address)).await?;
    let _: Wizard<Step> = wizard.load().await?;

    let pair: PairSession<String, u32, MemorySession> = PairSession::new(raw);
    pair.set_key("k".into()).await?;
    pair.update_values(|values| values.push(1)).await?;
    let _: Pair<String> = pair.load().await?;
    Ok(())
}

fn main() {}

/// A type parameter named like the generated methods' own generics.
#[derive(SessionSchema)]
pub struct Reply<R, S> {
    last: Option<R>,
    #[session(default)]
    seen: Vec<S>,
}

#[allow(dead_code)]
async fn use_reply(reply: ReplySession<u8, String, MemorySession>) -> Result<(), SessionError> {
    let _: bool = reply.update_last(|last| last.is_some()).await?;
    reply.update_seen(|seen| seen.push("x".into())).await?;
    Ok(())
}
