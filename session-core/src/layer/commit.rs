//! Writing a request's session back: compare-and-swap, merging another
//! request's changes to other keys, refusing everything else.

use std::borrow::Cow;

use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store;

use super::merge::{Base, Data};
use super::request_store::{Pending, RequestState, Snapshot};
use crate::cas::{CasStore, Loaded, Revision, Written};

/// How often a save reloads and merges before it gives up with a conflict.
/// Each retry needs yet another request to have written in between.
const MAX_MERGES: usize = 8;

/// What the commit did, which decides the response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing to write, or only an expiry refresh that had nothing left to
    /// refresh.
    Unchanged,
    /// The session is stored under `id`, which the client must be sent when
    /// it is new.
    Stored {
        /// The id the record is stored under.
        id: Id,
        /// Whether the id differs from the one the request carried.
        new_id: bool,
    },
    /// The request ended its session and started no other.
    Ended,
    /// Another request changed the same keys: nothing was written.
    Conflict,
    /// Another request ended the session (log out, id rotation) that this
    /// one wrote to: nothing was written.
    EndedElsewhere,
    /// The store failed: nothing more was written.
    Unavailable,
}

/// Writes what `state` asks for to `store`.
pub(crate) async fn commit<S: CasStore>(store: &S, state: RequestState) -> Outcome {
    let RequestState {
        loaded,
        pending,
        deleted,
        ..
    } = state;
    let result = match (deleted, pending) {
        (None, None) => Ok(Outcome::Unchanged),
        (None, Some(Pending::Save(mut record))) => match loaded {
            Some(Snapshot::Live { revision, base, .. }) => {
                save(store, base, Cow::Owned(record), revision).await
            }
            // The record vanished (expired) before a `clear` and new writes
            // were saved: start a new session, never under the old id.
            Some(Snapshot::Missing) => create(store, &mut record).await,
            Some(Snapshot::Ended) if !record.data.is_empty() => Ok(Outcome::EndedElsewhere),
            Some(Snapshot::Ended) => Ok(Outcome::Unchanged),
            // The request store loads before it accepts a save.
            None => Ok(Outcome::Conflict),
        },
        (None, Some(Pending::Create(mut record))) => match loaded {
            Some(Snapshot::Ended) if !record.data.is_empty() => {
                tracing::info!(
                    "a request wrote to a session that a concurrent request ended; nothing saved"
                );
                Ok(Outcome::EndedElsewhere)
            }
            _ => create(store, &mut record).await,
        },
        (Some(id), None) => store.delete(&id, None).await.map(|_| Outcome::Ended),
        (Some(id), Some(Pending::Create(mut record))) => match loaded {
            Some(Snapshot::Live {
                id: loaded_id,
                revision,
                base,
            }) if loaded_id == id => replace(store, id, base, revision, record).await,
            _ => match store.delete(&id, None).await {
                Ok(_) => create(store, &mut record).await,
                Err(error) => Err(error),
            },
        },
        // `Session` never saves under an id it deleted.
        (Some(_), Some(Pending::Save(_))) => Ok(Outcome::Conflict),
    };
    settle(result)
}

/// The outcome of a write, a store failure included.
fn settle(result: session_store::Result<Outcome>) -> Outcome {
    result.unwrap_or_else(|error| {
        tracing::error!(%error, "the session store failed to write a session");
        Outcome::Unavailable
    })
}

/// The common case of [`commit`], done while `Session::save` lends the
/// record: a save over a live record loaded at `revision`, no copy needed.
pub(crate) async fn save_lent<S: CasStore>(
    store: &S,
    base: Base,
    record: &Record,
    revision: Revision,
) -> Outcome {
    settle(save(store, base, Cow::Borrowed(record), revision).await)
}

/// The other common case: a new session, created in the record `Session`
/// lends, which then carries the id the store accepted.
pub(crate) async fn create_lent<S: CasStore>(store: &S, record: &mut Record) -> Outcome {
    settle(create(store, record).await)
}

/// Creates `record` under a fresh id; an empty session is not worth a
/// record (and a client-chosen id never leads to one).
async fn create<S: CasStore>(store: &S, record: &mut Record) -> session_store::Result<Outcome> {
    if record.data.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    record.id = Id::default();
    store.create(record).await?;
    Ok(Outcome::Stored {
        id: record.id,
        new_id: true,
    })
}

/// Saves `record` over the revision it was loaded at, merging the changes
/// of requests that saved in between.
async fn save<S: CasStore>(
    store: &S,
    mut base: Base,
    mut record: Cow<'_, Record>,
    mut revision: Revision,
) -> session_store::Result<Outcome> {
    for _ in 0..MAX_MERGES {
        match store.save(&record, revision).await? {
            Written::Done(_) => {
                return Ok(Outcome::Stored {
                    id: record.id,
                    new_id: false,
                });
            }
            Written::Gone => return Ok(gone(&base, &record.data)),
            Written::Conflict => {}
        }
        let Loaded::Live {
            record: theirs,
            revision: current,
        } = store.load(&record.id).await?
        else {
            return Ok(gone(&base, &record.data));
        };
        if base.changed_keys(&record.data).is_empty() {
            // Only the expiry was to be refreshed, and a newer save did it.
            return Ok(Outcome::Stored {
                id: record.id,
                new_id: false,
            });
        }
        match base.rebase(&record.data, &theirs.data) {
            Ok(merged) => {
                let record = record.to_mut();
                record.data = merged;
                record.expiry_date = record.expiry_date.max(theirs.expiry_date);
                base = Base::of(&theirs.data);
                revision = current;
            }
            Err(keys) => return Ok(conflict(&keys)),
        }
    }
    tracing::warn!(
        attempts = MAX_MERGES,
        "a session save kept meeting newer saves; answering 409"
    );
    Ok(Outcome::Conflict)
}

/// Moves the session to a new id (rotation), or ends it and starts another
/// (log out, then a write): the old id is deleted only at the revision this
/// request built on, so a change another request saved in between is
/// either merged into the new record or refused, never dropped.
async fn replace<S: CasStore>(
    store: &S,
    old_id: Id,
    mut base: Base,
    mut revision: Revision,
    mut record: Record,
) -> session_store::Result<Outcome> {
    for _ in 0..MAX_MERGES {
        match store.delete(&old_id, Some(revision)).await? {
            Written::Done(_) => return create(store, &mut record).await,
            Written::Gone => {
                tracing::info!(
                    "a session was ended by a concurrent request while this one replaced it; nothing saved"
                );
                return Ok(Outcome::EndedElsewhere);
            }
            Written::Conflict => {}
        }
        let Loaded::Live {
            record: theirs,
            revision: current,
        } = store.load(&old_id).await?
        else {
            return Ok(Outcome::EndedElsewhere);
        };
        match base.rebase(&record.data, &theirs.data) {
            Ok(merged) => {
                record.data = merged;
                base = Base::of(&theirs.data);
                revision = current;
            }
            Err(keys) => return Ok(conflict(&keys)),
        }
    }
    Ok(Outcome::Conflict)
}

/// A save found its record gone. With changes that is a conflict (deleted
/// stays deleted); with none there was nothing to keep.
fn gone(base: &Base, data: &Data) -> Outcome {
    if base.changed_keys(data).is_empty() {
        tracing::debug!("an expiry refresh found its session ended; nothing to write");
        Outcome::Unchanged
    } else {
        tracing::info!(
            "a request wrote to a session that a concurrent request ended; nothing saved"
        );
        Outcome::EndedElsewhere
    }
}

fn conflict(keys: &std::collections::BTreeSet<String>) -> Outcome {
    tracing::info!(
        ?keys,
        "a concurrent request changed the same session keys; nothing saved"
    );
    Outcome::Conflict
}
