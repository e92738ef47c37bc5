//! One request at a time per session, within one app instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tower_sessions_core::session::Id;

/// A registry of per-session locks. An entry lives only while a request
/// holds or waits for its lock, so the map never grows with the number of
/// sessions.
#[derive(Debug, Default)]
pub(crate) struct SessionLocks {
    held: Mutex<HashMap<Id, Arc<tokio::sync::Mutex<()>>>>,
}

/// Proof that this request is the only one of its instance working on a
/// session; dropping it lets the next one in.
#[derive(Debug)]
pub(crate) struct SessionGuard {
    guard: Option<OwnedMutexGuard<()>>,
    locks: Arc<SessionLocks>,
    id: Id,
}

impl SessionLocks {
    /// Waits at most `wait` for the lock of session `id`; `None` when the
    /// wait ran out.
    pub(crate) async fn acquire(self: &Arc<Self>, id: Id, wait: Duration) -> Option<SessionGuard> {
        let lock = Arc::clone(self.map().entry(id).or_default());
        // Uncontended, the common case: no timer to arm and cancel.
        let lock = match Arc::clone(&lock).try_lock_owned() {
            Ok(guard) => {
                return Some(SessionGuard {
                    guard: Some(guard),
                    locks: Arc::clone(self),
                    id,
                });
            }
            Err(_held) => lock,
        };
        let acquired = tokio::time::timeout(wait, lock.lock_owned()).await;
        match acquired {
            Ok(guard) => Some(SessionGuard {
                guard: Some(guard),
                locks: Arc::clone(self),
                id,
            }),
            Err(_elapsed) => {
                self.forget_if_unused(id);
                None
            }
        }
    }

    /// How many sessions have a request holding or waiting for their lock.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    /// Removes the entry of `id` when nobody holds or waits for it: every
    /// clone of the entry's `Arc` is made under the map's mutex, so a count
    /// of one (the map's own) cannot rise behind our back.
    fn forget_if_unused(&self, id: Id) {
        let mut map = self.map();
        if map
            .get(&id)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            map.remove(&id);
        }
    }

    /// Every update leaves the map consistent, so a poisoned mutex (a panic
    /// elsewhere while it was held) is safe to keep using.
    fn map(&self) -> MutexGuard<'_, HashMap<Id, Arc<tokio::sync::Mutex<()>>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        // Release the lock (and its `Arc`) before looking at the count.
        self.guard.take();
        self.locks.forget_if_unused(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_request_waits_and_the_map_empties() {
        let locks = Arc::new(SessionLocks::default());
        let id = Id::default();
        let first = locks
            .acquire(id, Duration::from_secs(5))
            .await
            .expect("free lock");
        assert!(
            locks.acquire(id, Duration::ZERO).await.is_none(),
            "a held lock must not be granted twice"
        );
        assert_eq!(locks.len(), 1, "the timed-out waiter left its entry behind");
        drop(first);
        assert_eq!(locks.len(), 0);
        let again = locks.acquire(id, Duration::ZERO).await;
        assert!(again.is_some(), "a released lock is free again");
    }

    #[tokio::test]
    async fn different_sessions_do_not_wait_for_each_other() {
        let locks = Arc::new(SessionLocks::default());
        let _first = locks
            .acquire(Id::default(), Duration::ZERO)
            .await
            .expect("free");
        let second = locks.acquire(Id::default(), Duration::ZERO).await;
        assert!(second.is_some(), "another session's lock is free");
        assert_eq!(locks.len(), 2);
    }
}
