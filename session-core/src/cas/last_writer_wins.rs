//! Any tower-sessions store under the layer, with its own semantics.

use async_trait::async_trait;
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store;

use super::{CasStore, Loaded, Revision, Written};

/// A plain tower-sessions store under [`SessionLayer`](crate::layer::SessionLayer).
///
/// Such a store cannot compare revisions, so it keeps tower-sessions'
/// semantics: every save overwrites the whole record (the last writer wins,
/// even across keys), a save after a delete writes the record back, and a
/// deleted id is not remembered. Within one app instance the layer still
/// runs the requests of a session one after the other, so the race needs two
/// instances; use a [`CasStore`] to close it.
#[derive(Clone, Debug)]
pub struct LastWriterWins<S>(S);

/// Every record of a plain store reports this revision, so saves never
/// conflict.
const UNVERSIONED: Revision = Revision::new(0);

impl<S: SessionStore> LastWriterWins<S> {
    /// Wraps `store`.
    pub fn new(store: S) -> Self {
        LastWriterWins(store)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.0
    }
}

#[async_trait]
impl<S: SessionStore> CasStore for LastWriterWins<S> {
    async fn load(&self, id: &Id) -> session_store::Result<Loaded> {
        Ok(match self.0.load(id).await? {
            Some(record) => Loaded::Live {
                record,
                revision: UNVERSIONED,
            },
            None => Loaded::Missing,
        })
    }

    async fn create(&self, record: &mut Record) -> session_store::Result<Revision> {
        self.0.create(record).await?;
        Ok(UNVERSIONED)
    }

    async fn save(&self, record: &Record, _expected: Revision) -> session_store::Result<Written> {
        self.0.save(record).await?;
        Ok(Written::Done(UNVERSIONED))
    }

    async fn delete(&self, id: &Id, _expected: Option<Revision>) -> session_store::Result<Written> {
        self.0.delete(id).await?;
        Ok(Written::Done(UNVERSIONED))
    }
}
