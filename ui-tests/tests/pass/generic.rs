use serde::{Deserialize, Serialize};
use session_core::{MemorySession, SessionError, SessionSchema};

#[derive(SessionSchema)]
#[session(namespace = "wizard")]
pub struct Wizard<T> {
    step: Option<T>,
    #[session(default)]
    history: Vec<T>,
}

#[derive(Clone, Serialize, Deserialize)]
pub enum Step {
    Address,
    Payment,
}

#[allow(dead_code)]
async fn use_it(wizard: WizardSession<Step, MemorySession>) -> Result<(), SessionError> {
    wizard.set_step(Step::Payment).await?;
    wizard.update_history(|history| history.push(Step::Address)).await?;
    let _: Wizard<Step> = wizard.load().await?;
    Ok(())
}

fn main() {}
