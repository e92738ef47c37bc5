//! Any tower-sessions store under the layer, with its own semantics.

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions_core::SessionStore;
use tower_sessions_core::session;
use tower_sessions_core::session_store;

use super::{CasError, CasStore, Data, Loaded, Record, Revision, SessionId, StoredValue, Written};

/// A plain tower-sessions store under [`SessionLayer`](crate::layer::SessionLayer).
///
/// Such a store cannot compare revisions, so it keeps tower-sessions'
/// semantics: every save overwrites the whole record (the last writer wins,
/// even across keys), a save after a delete writes the record back, and a
/// deleted id is not remembered. Within one app instance the layer still
/// runs the requests of a session one after the other, so the race needs two
/// instances; use a [`CasStore`] to close it.
///
/// Records cross into the wrapped store as tower-sessions' `Record`, a map
/// of JSON trees: that conversion is the cost of a plain store.
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
    async fn load(&self, id: &SessionId) -> Result<Loaded, CasError> {
        Ok(
            match self.0.load(&(*id).into()).await.map_err(from_tower)? {
                Some(record) => Loaded::Live {
                    record: from_tower_record(&record),
                    revision: UNVERSIONED,
                },
                None => Loaded::Missing,
            },
        )
    }

    async fn create(&self, record: &mut Record) -> Result<Revision, CasError> {
        let mut theirs = to_tower_record(record)?;
        self.0.create(&mut theirs).await.map_err(from_tower)?;
        record.id = theirs.id.into();
        Ok(UNVERSIONED)
    }

    async fn save(&self, record: &Record, _expected: Revision) -> Result<Written, CasError> {
        self.0
            .save(&to_tower_record(record)?)
            .await
            .map_err(from_tower)?;
        Ok(Written::Done(UNVERSIONED))
    }

    async fn delete(
        &self,
        id: &SessionId,
        _expected: Option<Revision>,
    ) -> Result<Written, CasError> {
        self.0.delete(&(*id).into()).await.map_err(from_tower)?;
        Ok(Written::Done(UNVERSIONED))
    }
}

fn from_tower(error: session_store::Error) -> CasError {
    match error {
        session_store::Error::Decode(message) => CasError::Decode(message),
        session_store::Error::Encode(message) => CasError::Encode(message),
        session_store::Error::Backend(message) => CasError::Backend(message),
    }
}

fn from_tower_record(record: &session::Record) -> Record {
    Record {
        id: record.id.into(),
        data: Data::from_map(
            record
                .data
                .iter()
                .map(|(key, value)| (Arc::from(key.as_str()), StoredValue::from_value(value)))
                .collect(),
        ),
        expiry_date: record.expiry_date,
    }
}

fn to_tower_record(record: &Record) -> Result<session::Record, CasError> {
    let data = record
        .data
        .iter()
        .map(|(key, value)| {
            value
                .to_value()
                .map(|value| (key.to_owned(), value))
                .map_err(|error| CasError::Encode(format!("the value under `{key}`: {error}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(session::Record {
        id: record.id.into(),
        data,
        expiry_date: record.expiry_date,
    })
}
