//! Writing a request's session back: compare-and-swap, merging another
//! request's changes to other keys and the same changes the stored data
//! called for, refusing everything else.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::record_limit;
use super::session::{Base, State, overlay};
use crate::cas::{
    CasError, CasStore, Data, Loaded, Record, Revision, SessionId, StoredValue, Written,
};
use crate::expiry::Expiry;

/// How often a save reloads and merges before it gives up with a conflict.
/// Each retry needs yet another request to have written in between.
const MAX_MERGES: usize = 8;

/// What the commit did, which decides the response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing to write.
    Unchanged,
    /// The session is stored under `id`, which the client must be sent when
    /// it is new.
    Stored {
        /// The id the record is stored under.
        id: SessionId,
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
    /// The stored record does not decode; it was left as it is.
    Corrupt,
    /// The record would be larger than the layer's record limit: nothing
    /// was written.
    TooLarge,
}

/// The changes of one request, as the commit applies them.
struct Changes {
    /// Key to new value (`None`: removed), only where it differs from the
    /// base.
    keys: BTreeMap<Arc<str>, Option<StoredValue>>,
    /// Changes the stored data called for (an expired value removed, a
    /// migration written), not the handler, as they were made; one counts
    /// only while `keys` holds the same change.
    derived: BTreeMap<Arc<str>, Option<StoredValue>>,
    /// The base's data is dropped (flush): the new record holds only `keys`.
    cleared: bool,
}

impl Changes {
    /// The request's changes with every write of an unchanged value
    /// dropped, so it cannot conflict.
    fn of(state: &mut State, base: Option<&Data>) -> Self {
        let cleared = state.cleared;
        let mut keys = std::mem::take(&mut state.changes);
        let derived = std::mem::take(&mut state.derived);
        if cleared {
            keys.retain(|_, change| change.is_some());
        } else {
            keys.retain(|key, change| {
                let stored = base.and_then(|data| data.get(key));
                match (change, stored) {
                    (Some(new), Some(old)) => new != old,
                    (None, None) => false,
                    _ => true,
                }
            });
        }
        Changes {
            keys,
            derived,
            cleared,
        }
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty() && !self.cleared
    }

    /// The data after the changes, over `base`.
    fn apply(&self, base: Option<&Data>) -> Data {
        Data::from_map(overlay(base, self.cleared, &self.keys))
    }

    /// The keys we changed that `theirs` also changed from `base`.
    ///
    /// A key both requests changed is a conflict even when they wrote the
    /// same value, if our change was the handler's: two requests that each
    /// took the same flash message must not both count as its single read,
    /// and two that each added one to a counter wrote the same number. A
    /// change the stored data called for (`derived`: an expired value
    /// removed, a migration written) is no conflict when theirs leaves the
    /// key the same: both removed it, or wrote the same JSON value. Values
    /// are compared as JSON trees, not text: a map that serializes in
    /// another order in another process is the same value.
    fn clashes(&self, base: &Data, theirs: &Data) -> Vec<Arc<str>> {
        self.keys
            .iter()
            .filter(|(key, ours)| {
                let now = theirs.get(key);
                let changed = match (base.get(key), now) {
                    (Some(before), Some(now)) => !before.same_value(now),
                    (None, None) => false,
                    _ => true,
                };
                changed && !(self.derived.get(*key) == Some(*ours) && same(ours.as_ref(), now))
            })
            .map(|(key, _)| Arc::clone(key))
            .collect()
    }
}

/// Writes what the request did to `store`.
///
/// `refresh` says whether an unchanged live session must still be saved,
/// to move its expiry (`Expiry::OnInactivity`); so must one whose expiry
/// setting the handler changed. A record whose data changed is stored only
/// if it takes at most `limit` bytes; a refresh stores the data as it was.
pub(crate) async fn commit<S: CasStore>(
    store: &S,
    base: &Base,
    mut state: State,
    refresh: bool,
    limit: usize,
) -> Outcome {
    let now = OffsetDateTime::now_utc();
    let expiry_date = Expiry::deadline(state.expiry, now);
    let changes = Changes::of(&mut state, base.data());
    let result = match base {
        Base::Failed(_) => return Outcome::Unavailable,
        Base::Live {
            id,
            revision,
            data,
            expiry_date: stored_expiry,
        } => {
            if state.end_id {
                end_or_replace(store, *id, *revision, data, &changes, expiry_date, limit).await
            } else if changes.is_empty() {
                if state.expiry_changed || (refresh && expiry_date > *stored_expiry) {
                    refresh_expiry(store, *id, *revision, data, expiry_date).await
                } else {
                    Ok(Outcome::Unchanged)
                }
            } else {
                save(
                    store,
                    *id,
                    *revision,
                    data.clone(),
                    &changes,
                    expiry_date,
                    limit,
                )
                .await
            }
        }
        Base::Missing => {
            let data = changes.apply(None);
            if data.is_empty() {
                Ok(if state.end_id {
                    Outcome::Ended
                } else {
                    Outcome::Unchanged
                })
            } else {
                create(store, data, expiry_date, limit).await
            }
        }
        Base::Ended => {
            let data = changes.apply(None);
            if data.is_empty() {
                Ok(Outcome::Unchanged)
            } else {
                tracing::info!(
                    "a request wrote to a session that a concurrent request ended; nothing saved"
                );
                Ok(Outcome::EndedElsewhere)
            }
        }
    };
    settle(result)
}

/// The outcome of a write, a store failure included.
fn settle(result: Result<Outcome, CasError>) -> Outcome {
    result.unwrap_or_else(|error| {
        tracing::error!(%error, "the session store failed to write a session");
        if error.is_corrupt_record() {
            Outcome::Corrupt
        } else {
            Outcome::Unavailable
        }
    })
}

/// Creates a record of `data` under a fresh id; an empty session is not
/// worth a record (and a client-chosen id never leads to one).
async fn create<S: CasStore>(
    store: &S,
    data: Data,
    expiry_date: OffsetDateTime,
    limit: usize,
) -> Result<Outcome, CasError> {
    if record_limit::refuses(&data, limit) {
        return Ok(Outcome::TooLarge);
    }
    let mut record = Record {
        id: SessionId::random()?,
        data,
        expiry_date,
    };
    store.create(&mut record).await?;
    Ok(Outcome::Stored {
        id: record.id,
        new_id: true,
    })
}

/// Saves the changes over the revision the request loaded, merging the
/// changes of requests that saved in between.
async fn save<S: CasStore>(
    store: &S,
    id: SessionId,
    mut revision: Revision,
    mut base: Data,
    changes: &Changes,
    mut expiry_date: OffsetDateTime,
    limit: usize,
) -> Result<Outcome, CasError> {
    for _ in 0..MAX_MERGES {
        let record = Record {
            id,
            data: changes.apply(Some(&base)),
            expiry_date,
        };
        if record_limit::refuses(&record.data, limit) {
            return Ok(Outcome::TooLarge);
        }
        match store.save(&record, revision).await? {
            Written::Done(_) => return Ok(Outcome::Stored { id, new_id: false }),
            Written::Gone => return Ok(gone()),
            Written::Conflict => {}
        }
        let Loaded::Live {
            record: theirs,
            revision: current,
        } = store.load(&id).await?
        else {
            return Ok(gone());
        };
        let clashes = changes.clashes(&base, &theirs.data);
        if !clashes.is_empty() {
            return Ok(conflict(&clashes));
        }
        base = theirs.data;
        revision = current;
        expiry_date = expiry_date.max(theirs.expiry_date);
    }
    tracing::warn!(
        attempts = MAX_MERGES,
        "a session save kept meeting newer saves; answering 409"
    );
    Ok(Outcome::Conflict)
}

/// Moves an unchanged session's expiry; a newer save of the session moved
/// it already, so a conflict is no failure.
async fn refresh_expiry<S: CasStore>(
    store: &S,
    id: SessionId,
    revision: Revision,
    data: &Data,
    expiry_date: OffsetDateTime,
) -> Result<Outcome, CasError> {
    let record = Record {
        id,
        data: data.clone(),
        expiry_date,
    };
    Ok(match store.save(&record, revision).await? {
        Written::Done(_) | Written::Conflict => Outcome::Stored { id, new_id: false },
        Written::Gone => {
            tracing::debug!("an expiry refresh found its session ended; nothing to write");
            Outcome::Unchanged
        }
    })
}

/// Ends the stored session (log out), or moves it to a new id (rotation;
/// a log out followed by writes). A rotation deletes the old id only at the
/// revision this request built on, so a change another request saved in
/// between is either merged into the new record or refused, never dropped;
/// a log out ends the session whatever was saved in between. A new record
/// over the record limit is refused before the old one is deleted.
async fn end_or_replace<S: CasStore>(
    store: &S,
    id: SessionId,
    mut revision: Revision,
    base: &Data,
    changes: &Changes,
    expiry_date: OffsetDateTime,
    limit: usize,
) -> Result<Outcome, CasError> {
    if changes.cleared {
        let data = changes.apply(None);
        if record_limit::refuses(&data, limit) {
            return Ok(Outcome::TooLarge);
        }
        store.delete(&id, None).await?;
        return if data.is_empty() {
            Ok(Outcome::Ended)
        } else {
            create(store, data, expiry_date, limit).await
        };
    }
    let mut base = base.clone();
    for _ in 0..MAX_MERGES {
        let data = changes.apply(Some(&base));
        if record_limit::refuses(&data, limit) {
            return Ok(Outcome::TooLarge);
        }
        match store.delete(&id, Some(revision)).await? {
            Written::Done(_) => {
                return if data.is_empty() {
                    Ok(Outcome::Ended)
                } else {
                    create(store, data, expiry_date, limit).await
                };
            }
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
        } = store.load(&id).await?
        else {
            return Ok(Outcome::EndedElsewhere);
        };
        let clashes = changes.clashes(&base, &theirs.data);
        if !clashes.is_empty() {
            return Ok(conflict(&clashes));
        }
        base = theirs.data;
        revision = current;
    }
    Ok(Outcome::Conflict)
}

/// Whether two states of a key agree: both absent, or equal JSON values.
fn same(ours: Option<&StoredValue>, theirs: Option<&StoredValue>) -> bool {
    match (ours, theirs) {
        (Some(ours), Some(theirs)) => ours.same_value(theirs),
        (None, None) => true,
        _ => false,
    }
}

/// A save with changes found its record gone: deleted stays deleted.
fn gone() -> Outcome {
    tracing::info!("a request wrote to a session that a concurrent request ended; nothing saved");
    Outcome::EndedElsewhere
}

fn conflict(keys: &[Arc<str>]) -> Outcome {
    tracing::info!(
        ?keys,
        "a concurrent request changed the same session keys; nothing saved"
    );
    Outcome::Conflict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> StoredValue {
        let raw = serde_json::value::RawValue::from_string(text.to_owned()).expect("JSON");
        StoredValue::encode(&*raw).expect("JSON")
    }

    fn data(pairs: &[(&str, &str)]) -> Data {
        pairs.iter().map(|(key, text)| (*key, json(text))).collect()
    }

    fn changes(keys: &[(&str, Option<&str>)], derived: &[&str]) -> Changes {
        Changes {
            keys: keys
                .iter()
                .map(|(key, text)| (Arc::from(*key), text.map(json)))
                .collect(),
            derived: keys
                .iter()
                .filter(|(key, _)| derived.contains(key))
                .map(|(key, text)| (Arc::from(*key), text.map(json)))
                .collect(),
            cleared: false,
        }
    }

    #[test]
    fn derived_changes_that_agree_with_theirs_merge() {
        let base = data(&[("expired", "1"), ("old", "1"), ("new", r#"{"a":1}"#)]);
        let theirs = data(&[("new", r#"{"b":2,"a":1}"#), ("other", "7")]);
        let ours = changes(
            &[
                ("expired", None),
                ("old", None),
                ("new", Some(r#"{"a":1,"b":2}"#)),
            ],
            &["expired", "old", "new"],
        );
        assert!(ours.clashes(&base, &theirs).is_empty());
    }

    #[test]
    fn changes_that_disagree_or_are_the_handlers_clash() {
        let base = data(&[("count", "1"), ("notice", r#""hi""#), ("new", "1")]);
        let theirs = data(&[("count", "2"), ("new", "3")]);
        let ours = changes(
            &[("count", Some("2")), ("notice", None), ("new", Some("2"))],
            &["new"],
        );
        let clashes = ours.clashes(&base, &theirs);
        let clashes: Vec<&str> = clashes.iter().map(|key| &**key).collect();
        assert_eq!(clashes, ["count", "new", "notice"]);
    }

    #[test]
    fn a_derived_change_the_handler_changed_again_is_the_handlers() {
        let base = data(&[("offer", r#""old""#)]);
        let theirs = data(&[("offer", r#""new""#)]);
        let mut ours = changes(&[("offer", Some(r#""new""#))], &[]);
        ours.derived.insert(Arc::from("offer"), None);
        assert_eq!(ours.clashes(&base, &theirs).len(), 1);
    }
}
