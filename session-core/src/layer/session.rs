//! [`LayerSession`]: the untyped session [`SessionLayer`](super::SessionLayer)
//! hands each request.
//!
//! It holds the record the store loaded as a shared snapshot, never a copy:
//! a typed read decodes straight from the stored JSON text of its key, a
//! typed write encodes straight into new text for its key, kept beside the
//! snapshot until the commit. The snapshot itself never changes, so a
//! failed request (a `5xx`, a panic) leaves nothing to undo.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::locks::SessionGuard;
use crate::cas::{CasError, Data, Revision, SessionId, StoredValue};
use crate::error::StoreError;
use crate::expiry::Expiry;
use crate::raw::{RawSession, ValueError};

/// The session of one request under [`SessionLayer`](super::SessionLayer).
///
/// Handlers rarely name it: the typed handles reach it through their
/// extractor, and raw tower-sessions code through the
/// `tower_sessions::Session` the layer also hands out, which reads and
/// writes the same data. Clones share the same session.
///
/// It is valid for its request only: used after the layer saved the
/// session (from a spawned task, or a streaming body), every operation
/// fails with a [`StoreError`] saying so, and nothing is written.
#[derive(Clone)]
pub struct LayerSession {
    pub(crate) inner: Arc<Inner>,
    /// The tower-sessions view of the same request, kept in step once a
    /// handler has read it.
    tower: Option<tower_sessions_core::Session>,
}

/// The state a request's session views share.
pub(crate) struct Inner {
    source: Arc<dyn Source>,
    /// The id the request presented (and that the store knew, once loaded).
    presented: Option<SessionId>,
    /// When the request arrived.
    arrived: OffsetDateTime,
    /// What the store held, loaded on first use.
    base: OnceCell<Base>,
    state: Mutex<State>,
    /// Set when the tower-sessions view loaded: from then on the two views
    /// are kept in step.
    tower_loaded: AtomicBool,
}

/// Loads a session's base for [`LayerSession`]: the layer's store and
/// per-session locks.
#[async_trait]
pub(crate) trait Source: Send + Sync + 'static {
    /// Takes the session's lock in this instance and loads its record, for
    /// a request that arrived at `arrived`.
    async fn load(&self, id: SessionId, arrived: OffsetDateTime) -> (Base, Option<SessionGuard>);
}

/// The source of a detached session, which never needs to load.
struct NoStore;

#[async_trait]
impl Source for NoStore {
    async fn load(&self, _id: SessionId, _arrived: OffsetDateTime) -> (Base, Option<SessionGuard>) {
        (Base::Missing, None)
    }
}

/// What a request found in the store.
#[derive(Clone, Debug)]
pub(crate) enum Base {
    /// A live record at `revision`.
    Live {
        id: SessionId,
        revision: Revision,
        data: Data,
        expiry_date: OffsetDateTime,
    },
    /// The session was ended a short while ago.
    Ended,
    /// Nothing (or nothing live) is stored under the id, or no id came.
    Missing,
    /// The session could not be loaded.
    Failed(Failure),
}

impl Base {
    pub(crate) fn data(&self) -> Option<&Data> {
        match self {
            Base::Live { data, .. } => Some(data),
            _ => None,
        }
    }
}

/// Why a request could not use its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Other requests of the same session held it longer than the layer
    /// waits.
    Busy,
    /// The store could not be reached.
    Unavailable,
    /// The stored record does not decode. It is left as it is, never
    /// overwritten, so it can be inspected.
    Corrupt,
}

impl Failure {
    fn error(self) -> StoreError {
        StoreError::new(match self {
            Failure::Busy => CasError::Backend(
                "other requests of this session are still running; try again shortly".to_owned(),
            ),
            Failure::Unavailable => {
                CasError::Backend("the session store could not be reached".to_owned())
            }
            Failure::Corrupt => {
                CasError::Decode("the stored session record cannot be read".to_owned())
            }
        })
    }
}

/// What a request did to its session.
#[derive(Debug, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts of one request, each read on its own by the commit"
)]
pub(crate) struct State {
    /// Values written (`Some`) or removed (`None`) by this request, over
    /// the base (or over nothing, after a flush).
    pub(crate) changes: BTreeMap<Arc<str>, Option<StoredValue>>,
    /// Changes the stored data itself called for
    /// ([`RawSession::mark_derived`]), as they were made: a key's change
    /// counts as derived while `changes` still holds the same one.
    pub(crate) derived: BTreeMap<Arc<str>, Option<StoredValue>>,
    /// The base's data no longer counts (flush): only `changes` remain.
    pub(crate) cleared: bool,
    /// The stored id must end: a flush (log out) or a new id.
    pub(crate) end_id: bool,
    /// The handler said its user has just authenticated
    /// ([`RawSession::mark_authenticated`]).
    pub(crate) authenticated: bool,
    /// The data as it stood when raw tower-sessions code deleted the
    /// session: what that view still holds afterwards is left over from
    /// the ended session, not written anew.
    pub(crate) deleted_view: Option<BTreeMap<Arc<str>, StoredValue>>,
    /// The session's expiry setting.
    pub(crate) expiry: Option<Expiry>,
    /// Whether the handler changed it, so the record must be saved with
    /// its new expiry even when no value changed.
    pub(crate) expiry_changed: bool,
    /// Held from the first load until the commit is done.
    pub(crate) guard: Option<SessionGuard>,
    /// Set once the layer committed: the session's request is over.
    pub(crate) finished: bool,
}

impl LayerSession {
    pub(crate) fn new(
        source: Arc<dyn Source>,
        presented: Option<SessionId>,
        expiry: Option<Expiry>,
    ) -> Self {
        let base = match presented {
            Some(_) => OnceCell::new(),
            None => OnceCell::new_with(Some(Base::Missing)),
        };
        LayerSession {
            inner: Arc::new(Inner {
                source,
                presented,
                arrived: OffsetDateTime::now_utc(),
                base,
                state: Mutex::new(State {
                    expiry,
                    ..State::default()
                }),
                tower_loaded: AtomicBool::new(false),
            }),
            tower: None,
        }
    }

    /// A session over `data` with no store behind it, as if the layer had
    /// just loaded it: for unit tests and benchmarks of code that takes a
    /// typed handle. Its changes stay in memory and are never saved.
    #[must_use]
    pub fn detached(data: Data) -> Self {
        Self::read_only(SessionId::from_i128(0), data)
    }

    /// A session over `data` under `id` with no store behind it: what the
    /// cookie layer's revocation check reads. Writes to it stay in memory.
    pub(crate) fn read_only(id: SessionId, data: Data) -> Self {
        LayerSession {
            inner: Arc::new(Inner {
                source: Arc::new(NoStore),
                presented: Some(id),
                arrived: OffsetDateTime::now_utc(),
                base: OnceCell::new_with(Some(Base::Live {
                    id,
                    revision: Revision::FIRST,
                    data,
                    expiry_date: Expiry::deadline(None, OffsetDateTime::now_utc()),
                })),
                state: Mutex::new(State::default()),
                tower_loaded: AtomicBool::new(false),
            }),
            tower: None,
        }
    }

    /// A request's session, as [`new`](Self::new), and the
    /// `tower_sessions::Session` over the same state that raw code gets; the
    /// two are kept in step. The raw view costs its construction, and reads
    /// nothing until a handler uses it.
    pub(crate) fn with_tower_view(
        source: Arc<dyn Source>,
        presented: Option<SessionId>,
        expiry: Option<Expiry>,
    ) -> (Self, tower_sessions_core::Session) {
        let mut session = Self::new(source, presented, expiry);
        let tower = tower_sessions_core::Session::new(
            presented.map(Into::into),
            Arc::new(TowerBridge {
                inner: Arc::clone(&session.inner),
            }),
            expiry.map(Into::into),
        );
        session.tower = Some(tower.clone());
        (session, tower)
    }

    /// The id the request presented, if the store holds a live session
    /// under it and the request has not ended it. A new session, or a new
    /// id after a rotation or a log out, gets its id when the layer stores
    /// it, after the handler returned.
    #[must_use]
    pub fn session_id(&self) -> Option<SessionId> {
        if lock(&self.inner.state).end_id {
            return None;
        }
        match self.inner.base.get() {
            Some(Base::Live { id, .. }) => Some(*id),
            None => self.inner.presented,
            Some(_) => None,
        }
    }

    /// Keeps the tower-sessions view's changes: a handler that wrote
    /// through it before this typed access sees its own writes.
    async fn sync_from_tower(&self) -> Result<(), StoreError> {
        if let Some(tower) = self.tower.as_ref().filter(|tower| tower.is_modified()) {
            tower.save().await?;
        }
        Ok(())
    }

    /// The tower-sessions view, when it must see this typed write too: it
    /// has loaded, or the session is new, so that it never will (a
    /// `tower_sessions::Session` without an id reads no store).
    fn loaded_tower_view(&self) -> Option<&tower_sessions_core::Session> {
        self.tower.as_ref().filter(|_| {
            self.inner.presented.is_none() || self.inner.tower_loaded.load(Ordering::Acquire)
        })
    }

    /// The current value under `key`, loading the base first if needed.
    async fn current(&self, key: &str) -> Result<Option<StoredValue>, StoreError> {
        self.sync_from_tower().await?;
        let base = self.inner.base().await?;
        let state = self.inner.state()?;
        Ok(state.current(base, key).cloned())
    }

    async fn write(&self, key: &str, value: Option<StoredValue>) -> Result<bool, StoreError> {
        self.sync_from_tower().await?;
        let base = self.inner.base().await?;
        let mut state = self.inner.state()?;
        let existed = state.current(base, key).is_some();
        let key = base
            .data()
            .and_then(|data| data.key(key))
            .cloned()
            .unwrap_or_else(|| Arc::from(key));
        state.changes.insert(key, value);
        Ok(existed)
    }
}

impl Inner {
    /// The base, loading it on first use.
    pub(crate) async fn base(&self) -> Result<&Base, StoreError> {
        let base = match self.presented {
            Some(id) => {
                self.base
                    .get_or_init(|| async {
                        let (base, guard) = self.source.load(id, self.arrived).await;
                        lock(&self.state).guard = guard;
                        base
                    })
                    .await
            }
            None => self.base.get_or_init(|| async { Base::Missing }).await,
        };
        match base {
            Base::Failed(failure) => Err(failure.error()),
            base => Ok(base),
        }
    }

    /// The base if it was loaded.
    pub(crate) fn loaded_base(&self) -> Option<&Base> {
        self.base.get()
    }

    /// Whether the request wrote, removed, flushed or cycled anything, or
    /// set the session's expiry.
    pub(crate) fn has_changes(&self) -> bool {
        let state = lock(&self.state);
        !state.changes.is_empty() || state.end_id || state.expiry_changed
    }

    /// Whether the handler changed the session's expiry.
    pub(crate) fn expiry_changed(&self) -> bool {
        lock(&self.state).expiry_changed
    }

    /// The request's state, unless the request is over.
    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let state = lock(&self.state);
        if state.finished {
            tracing::error!(
                "a session was used after the layer saved it (from a spawned task or a streaming \
                 body); nothing was read or written"
            );
            return Err(StoreError::msg(
                "the session was used after its response was sent; nothing was read or written",
            ));
        }
        Ok(state)
    }

    /// Ends the request: the state goes to the commit, and later uses fail.
    pub(crate) fn finish(&self) -> State {
        let mut state = lock(&self.state);
        let taken = std::mem::take(&mut *state);
        state.finished = true;
        state.expiry = taken.expiry;
        taken
    }

    /// The session's data as it stands for this request.
    fn view(base: &Base, state: &State) -> BTreeMap<Arc<str>, StoredValue> {
        overlay(base.data(), state.cleared, &state.changes)
    }
}

/// The values after `changes` over `base`, or over nothing once the
/// session was `cleared`: unchanged values are shared, not copied.
pub(crate) fn overlay(
    base: Option<&Data>,
    cleared: bool,
    changes: &BTreeMap<Arc<str>, Option<StoredValue>>,
) -> BTreeMap<Arc<str>, StoredValue> {
    let mut values = match (cleared, base) {
        (false, Some(data)) => data.to_map(),
        _ => BTreeMap::new(),
    };
    for (key, change) in changes {
        match change {
            Some(value) => values.insert(Arc::clone(key), value.clone()),
            None => values.remove(key),
        };
    }
    values
}

impl State {
    fn current<'a>(&'a self, base: &'a Base, key: &str) -> Option<&'a StoredValue> {
        match self.changes.get(key) {
            Some(change) => change.as_ref(),
            None if self.cleared => None,
            None => base.data().and_then(|data| data.get(key)),
        }
    }
}

/// The state is only ever held for plain field updates, so a poisoned mutex
/// still holds consistent data.
pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for LayerSession {
    /// A fingerprint of the id and the keys the request changed, never the
    /// id or a value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("LayerSession")
            .field("session", &self.inner.presented)
            .field("changed", &state.changes.keys().collect::<Vec<_>>())
            .field("ends_id", &state.end_id)
            .finish_non_exhaustive()
    }
}

impl RawSession for LayerSession {
    async fn get_value(&self, key: &str) -> Result<Option<Value>, StoreError> {
        self.current(key)
            .await?
            .map(|value| value.to_value().map_err(StoreError::new))
            .transpose()
    }

    async fn insert_value(&self, key: &str, value: Value) -> Result<(), StoreError> {
        // Refused like a typed write if `serde_json` could not read it back.
        let stored = StoredValue::encode(&value).map_err(|error| {
            StoreError::msg(format!("the value under `{key}` cannot be stored: {error}"))
        })?;
        if let Some(tower) = self.loaded_tower_view() {
            tower.insert_value(key, value).await?;
        }
        self.write(key, Some(stored)).await.map(drop)
    }

    async fn remove(&self, key: &str) -> Result<bool, StoreError> {
        if let Some(tower) = self.loaded_tower_view() {
            tower.remove_value(key).await?;
        }
        self.write(key, None).await
    }

    async fn decode<V: DeserializeOwned>(&self, key: &str) -> Result<Option<V>, ValueError> {
        match self.current(key).await? {
            Some(value) => serde_json::from_str(value.json())
                .map(Some)
                .map_err(ValueError::Json),
            None => Ok(None),
        }
    }

    async fn encode<V: Serialize + ?Sized + Sync>(
        &self,
        key: &str,
        value: &V,
    ) -> Result<(), ValueError> {
        let stored = StoredValue::encode(value).map_err(ValueError::Json)?;
        if let Some(tower) = self.loaded_tower_view() {
            let tree = stored.to_value().map_err(ValueError::Json)?;
            tower
                .insert_value(key, tree)
                .await
                .map_err(StoreError::from)?;
        }
        self.write(key, Some(stored)).await?;
        Ok(())
    }

    fn mark_derived(&self, key: &str) {
        let mut state = lock(&self.inner.state);
        if let Some((key, change)) = state.changes.get_key_value(key) {
            let (key, change) = (Arc::clone(key), change.clone());
            state.derived.insert(key, change);
        }
    }

    fn mark_authenticated(&self) {
        lock(&self.inner.state).authenticated = true;
    }

    async fn cycle_id(&self) -> Result<(), StoreError> {
        self.sync_from_tower().await?;
        self.inner.base().await?;
        self.inner.state()?.end_id = true;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.sync_from_tower().await?;
        self.inner.base().await?;
        {
            let mut state = self.inner.state()?;
            state.changes.clear();
            state.cleared = true;
            state.end_id = true;
        }
        if let Some(tower) = self.loaded_tower_view() {
            tower.clear().await;
        }
        Ok(())
    }

    fn id(&self) -> Option<String> {
        self.session_id().map(|id| id.to_string())
    }

    fn expiry(&self) -> Option<Expiry> {
        lock(&self.inner.state).expiry
    }

    fn set_expiry(&self, expiry: Option<Expiry>) {
        let mut state = lock(&self.inner.state);
        state.expiry_changed |= state.expiry != expiry;
        state.expiry = expiry;
    }
}

/// The tower-sessions store behind the `tower_sessions::Session` the layer
/// hands out beside a [`LayerSession`]: it loads from and writes to the
/// same request state, so both views are one session.
pub(crate) struct TowerBridge {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for TowerBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerBridge").finish_non_exhaustive()
    }
}

impl TowerBridge {
    fn failed(error: &StoreError) -> tower_sessions_core::session_store::Error {
        tower_sessions_core::session_store::Error::Backend(error.to_string())
    }

    /// Takes the tower-sessions view's data as the session's: every key
    /// whose value differs from the current one is a change. A view that
    /// never loaded (a raw `clear()`) still builds on the stored record.
    ///
    /// After a raw `delete()`, a `save` (the view kept its id: a log out
    /// followed by writes) takes only the values that differ from the
    /// deleted session's, so the ended data is never written again; a
    /// `create` (the view dropped its id: `cycle_id`) takes them all.
    async fn adopt(
        &self,
        record: &tower_sessions_core::session::Record,
        after_delete: AfterDelete,
    ) -> tower_sessions_core::session_store::Result<()> {
        self.inner.tower_loaded.store(true, Ordering::Release);
        let base = self
            .inner
            .base()
            .await
            .map_err(|error| Self::failed(&error))?;
        let mut state = self.inner.state().map_err(|error| Self::failed(&error))?;
        let view = Inner::view(base, &state);
        let leftover = match after_delete {
            AfterDelete::KeepsId => state.deleted_view.clone(),
            AfterDelete::NewId => None,
        };
        for (key, value) in &record.data {
            let value = StoredValue::from_value(value);
            if leftover
                .as_ref()
                .and_then(|ended| ended.get(key.as_str()))
                .is_some_and(|ended| ended.same_value(&value))
            {
                continue;
            }
            // Compared as values: a typed write mirrored into the view comes
            // back with its object keys sorted.
            if !view
                .get(key.as_str())
                .is_some_and(|current| current.same_value(&value))
            {
                state.changes.insert(Arc::from(key.as_str()), Some(value));
            }
        }
        for key in view.keys() {
            if !record.data.contains_key(&**key) {
                state.changes.insert(Arc::clone(key), None);
            }
        }
        Ok(())
    }
}

/// How a save of the tower-sessions view follows a raw `delete()`.
#[derive(Clone, Copy)]
enum AfterDelete {
    /// The view kept its id (`save`): its values left over from the
    /// deleted session are not taken.
    KeepsId,
    /// The view dropped its id (`create`, after `cycle_id`): all its values
    /// are the new session's.
    NewId,
}

#[async_trait]
impl tower_sessions_core::SessionStore for TowerBridge {
    async fn load(
        &self,
        _id: &tower_sessions_core::session::Id,
    ) -> tower_sessions_core::session_store::Result<Option<tower_sessions_core::session::Record>>
    {
        let base = self
            .inner
            .base()
            .await
            .map_err(|error| Self::failed(&error))?;
        self.inner.tower_loaded.store(true, Ordering::Release);
        let Base::Live {
            id, expiry_date, ..
        } = base
        else {
            return Ok(None);
        };
        let state = self.inner.state().map_err(|error| Self::failed(&error))?;
        let data = Inner::view(base, &state)
            .into_iter()
            .map(|(key, value)| {
                value
                    .to_value()
                    .map(|value| (key.to_string(), value))
                    .map_err(|error| {
                        tower_sessions_core::session_store::Error::Decode(error.to_string())
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(tower_sessions_core::session::Record {
            id: (*id).into(),
            data,
            expiry_date: *expiry_date,
        }))
    }

    async fn save(
        &self,
        record: &tower_sessions_core::session::Record,
    ) -> tower_sessions_core::session_store::Result<()> {
        self.adopt(record, AfterDelete::KeepsId).await
    }

    async fn create(
        &self,
        record: &mut tower_sessions_core::session::Record,
    ) -> tower_sessions_core::session_store::Result<()> {
        // The id is final only once the store accepts the record, after the
        // handler returned; until then the view keeps the one it has.
        self.adopt(record, AfterDelete::NewId).await
    }

    async fn delete(
        &self,
        _id: &tower_sessions_core::session::Id,
    ) -> tower_sessions_core::session_store::Result<()> {
        // Take the session's lock first: a log out waits for the requests
        // before it, like any change.
        self.inner
            .base()
            .await
            .map_err(|error| Self::failed(&error))?;
        // The stored session ends (`delete`, `flush`), and whatever the view
        // saves after this (`cycle_id` saves all its data) starts a new one.
        let base = self.inner.loaded_base();
        let mut state = self.inner.state().map_err(|error| Self::failed(&error))?;
        let view = base
            .map(|base| Inner::view(base, &state))
            .unwrap_or_default();
        state.deleted_view = Some(view);
        state.changes.clear();
        state.cleared = true;
        state.end_id = true;
        Ok(())
    }
}
