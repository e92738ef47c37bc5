//! One request at a time per session, within one app instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::cas::SessionId;
use tokio::sync::OwnedMutexGuard;

/// A registry of per-session locks. An entry lives only while a request
/// holds or waits for its lock, so the map never grows with the number of
/// sessions.
#[derive(Debug, Default)]
pub(crate) struct SessionLocks {
    held: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Proof that this request is the only one of its instance working on a
/// session; dropping it lets the next one in.
#[derive(Debug)]
pub(crate) struct SessionGuard {
    guard: Option<OwnedMutexGuard<()>>,
    locks: Arc<SessionLocks>,
    id: SessionId,
}

impl SessionLocks {
    /// Waits at most `wait` for the lock of session `id`; `None` when the
    /// wait ran out.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        id: SessionId,
        wait: Duration,
    ) -> Option<SessionGuard> {
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
        // A waiter that is cancelled (its client went away) must not leave
        // the entry behind: the guard forgets it once the wait is dropped.
        let forget = ForgetOnDrop { locks: self, id };
        let acquired = tokio::time::timeout(wait, lock.lock_owned()).await;
        match acquired {
            Ok(guard) => {
                std::mem::forget(forget);
                Some(SessionGuard {
                    guard: Some(guard),
                    locks: Arc::clone(self),
                    id,
                })
            }
            Err(_elapsed) => None,
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
    fn forget_if_unused(&self, id: SessionId) {
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
    fn map(&self) -> MutexGuard<'_, HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Forgets a session's entry when a wait for its lock ends without the lock:
/// timed out, or cancelled.
struct ForgetOnDrop<'a> {
    locks: &'a SessionLocks,
    id: SessionId,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.locks.forget_if_unused(self.id);
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
        let id = SessionId::from_i128(7);
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
    async fn cancelled_waiters_leave_no_entry() {
        let locks = Arc::new(SessionLocks::default());
        let id = SessionId::from_i128(11);
        let holder = locks
            .acquire(id, Duration::from_secs(5))
            .await
            .expect("free lock");
        let mut waiters = Vec::new();
        for _ in 0..1_000 {
            let locks = Arc::clone(&locks);
            waiters.push(tokio::spawn(async move {
                locks.acquire(id, Duration::from_secs(3600)).await.is_some()
            }));
        }
        tokio::task::yield_now().await;
        // The holder leaves while the waiters still wait, then every waiter
        // is cancelled, as when their clients disconnect.
        drop(holder);
        for waiter in &waiters {
            waiter.abort();
        }
        for waiter in waiters {
            let _ = waiter.await;
        }
        assert_eq!(locks.len(), 0, "cancelled waiters left the entry behind");
        assert!(locks.acquire(id, Duration::ZERO).await.is_some());
    }

    #[tokio::test]
    async fn different_sessions_do_not_wait_for_each_other() {
        let locks = Arc::new(SessionLocks::default());
        let _first = locks
            .acquire(SessionId::random().expect("random"), Duration::ZERO)
            .await
            .expect("free");
        let second = locks
            .acquire(SessionId::random().expect("random"), Duration::ZERO)
            .await;
        assert!(second.is_some(), "another session's lock is free");
        assert_eq!(locks.len(), 2);
    }
}
