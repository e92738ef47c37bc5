//! A compare-and-swap store on Redis (fred), one Lua script per write.

use std::fmt::Debug;
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use fred::clients::Pool;
use fred::interfaces::{HashesInterface, LuaInterface};
use fred::types::Value;
use time::OffsetDateTime;

use super::{
    CasError, CasStore, DEFAULT_ENDED_MARKER_LIFETIME, Data, Loaded, Record, Revision, SessionId,
    Touched, Written,
};

/// The key prefix unless a store is told otherwise.
/// The result of a store operation.
type CasResult<T> = Result<T, CasError>;

const DEFAULT_KEY_PREFIX: &str = "typed_session:";

/// What the save and delete scripts return instead of a revision.
/// How many fresh random ids `create` tries before it gives up: with 128
/// random bits, more than one try means the store is not what it seems.
const CREATE_ATTEMPTS: usize = 16;

const GONE: i64 = -1;
const CONFLICT: i64 = -2;

/// Stores the record under a free key; `0` when anything is stored there.
static CREATE: LuaScript = LuaScript::new(
    r"
-- KEYS[1]: session key. ARGV[1]: data, ARGV[2]: expiry (unix ms).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'rev', 1, 'data', ARGV[1], 'exp', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
",
);

/// Replaces a live record that has the expected revision; returns the new
/// revision, `GONE` or `CONFLICT`.
static SAVE: LuaScript = LuaScript::new(
    r"
-- KEYS[1]: session key. ARGV[1]: expected revision, ARGV[2]: data,
-- ARGV[3]: expiry (unix ms), ARGV[4]: now (unix ms).
local stored = redis.call('HMGET', KEYS[1], 'rev', 'data', 'exp')
if not stored[2] or not stored[3] or tonumber(stored[3]) <= tonumber(ARGV[4]) then
  return -1
end
if stored[1] ~= ARGV[1] then
  return -2
end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'exp', ARGV[3])
local revision = redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return revision
",
);

/// Turns a live record (with the expected revision, when one is given) into
/// an ended marker; returns the new revision, `GONE` or `CONFLICT`.
static DELETE: LuaScript = LuaScript::new(
    r"
-- KEYS[1]: session key. ARGV[1]: expected revision, or '' for any,
-- ARGV[2]: now (unix ms), ARGV[3]: end of the ended marker (unix ms).
local stored = redis.call('HMGET', KEYS[1], 'rev', 'data', 'exp')
if not stored[2] or not stored[3] or tonumber(stored[3]) <= tonumber(ARGV[2]) then
  return -1
end
if ARGV[1] ~= '' and stored[1] ~= ARGV[1] then
  return -2
end
redis.call('HDEL', KEYS[1], 'data')
redis.call('HSET', KEYS[1], 'exp', ARGV[3])
local revision = redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return revision
",
);

/// Moves the expiry of a live record whose expiry stands before a given
/// instant, leaving its data and revision alone; returns `1` when moved,
/// `0` when not due, `GONE` when there is no live record.
static TOUCH: LuaScript = LuaScript::new(
    r"
-- KEYS[1]: session key. ARGV[1]: new expiry, ARGV[2]: move only if the
-- expiry is before this, ARGV[3]: now (all unix ms).
if redis.call('HEXISTS', KEYS[1], 'data') == 0 then
  return -1
end
local expiry = tonumber(redis.call('HGET', KEYS[1], 'exp'))
if not expiry or expiry <= tonumber(ARGV[3]) then
  return -1
end
if expiry >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'exp', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
",
);

/// Sessions in Redis, one hash per session, written only by Lua scripts so
/// that every check-and-write is atomic.
///
/// The hash under `{prefix}{id}` has the fields `rev` (the revision), `data`
/// (the session data as JSON; absent in an ended marker) and `exp` (when the
/// record or marker expires, in unix milliseconds). Each key also carries a
/// Redis expiry at that instant, so Redis purges expired sessions and markers
/// by itself. Expiry is judged by this process's clock, as in the SQL stores.
///
/// `C` is any fred client that can run scripts and read hashes: a [`Pool`]
/// by default, or a `fred::clients::Client`.
///
/// Every method returns [`CasError::Backend`] when Redis cannot
/// be reached or refuses a command, and [`CasError::Decode`] when
/// a key holds something other than a record in this layout.
#[derive(Clone, Debug)]
pub struct RedisCasStore<C = Pool> {
    client: C,
    key_prefix: String,
    ended_marker_lifetime: Duration,
}

impl<C> RedisCasStore<C> {
    /// A store on `client` (connected, or connecting) that keys sessions as
    /// `typed_session:{id}` and keeps ended markers
    /// [`DEFAULT_ENDED_MARKER_LIFETIME`].
    #[must_use]
    pub fn new(client: C) -> Self {
        RedisCasStore {
            client,
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            ended_marker_lifetime: DEFAULT_ENDED_MARKER_LIFETIME,
        }
    }

    /// Keys sessions as `{prefix}{id}` instead, so that several apps or
    /// tests can share one Redis database.
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Keeps the ended marker of a deleted session for `lifetime` instead.
    #[must_use]
    pub fn with_ended_marker_lifetime(mut self, lifetime: Duration) -> Self {
        self.ended_marker_lifetime = lifetime;
        self
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.key_prefix)
    }

    /// The instant an ended marker written at `now` expires; a lifetime too
    /// long for the clock keeps the marker as long as Redis can.
    fn ended_until(&self, now: i64) -> i64 {
        let lifetime = i64::try_from(self.ended_marker_lifetime.as_millis()).unwrap_or(i64::MAX);
        now.saturating_add(lifetime)
    }
}

#[async_trait]
impl<C> CasStore for RedisCasStore<C>
where
    C: LuaInterface + HashesInterface + Debug + Send + Sync + 'static,
{
    async fn load(&self, id: &SessionId) -> CasResult<Loaded> {
        let now = unix_ms(OffsetDateTime::now_utc())?;
        let reply: Value = self
            .client
            .hmget(self.key(id), &["rev", "data", "exp"])
            .await
            .map_err(|error| backend_at(&error, &self.key_prefix, *id))?;
        read_hmget_reply(reply, id, now, self.ended_marker_lifetime)
    }

    async fn create(&self, record: &mut Record) -> CasResult<Revision> {
        let data = record.data.encode();
        let expiry = unix_ms(record.expiry_date)?;
        for _ in 0..CREATE_ATTEMPTS {
            let created = CREATE
                .run(
                    &self.client,
                    self.key(&record.id),
                    vec![Value::Bytes(data.clone().into()), Value::Integer(expiry)],
                )
                .await?;
            match created {
                1 => return Ok(Revision::FIRST),
                0 => record.id = SessionId::random()?,
                other => return Err(unexpected(other)),
            }
        }
        Err(CasError::Backend(format!(
            "Redis refused {CREATE_ATTEMPTS} fresh random session ids in a row under the prefix `{}`",
            self.key_prefix
        )))
    }

    async fn save(&self, record: &Record, expected: Revision) -> CasResult<Written> {
        let now = unix_ms(OffsetDateTime::now_utc())?;
        let reply = SAVE
            .run(
                &self.client,
                self.key(&record.id),
                vec![
                    Value::from(expected.get().to_string()),
                    Value::Bytes(record.data.encode().into()),
                    Value::Integer(unix_ms(record.expiry_date)?),
                    Value::Integer(now),
                ],
            )
            .await?;
        written(reply)
    }

    async fn touch(
        &self,
        id: &SessionId,
        expiry_date: OffsetDateTime,
        if_before: OffsetDateTime,
    ) -> CasResult<Touched> {
        let now = unix_ms(OffsetDateTime::now_utc())?;
        let reply = TOUCH
            .run(
                &self.client,
                self.key(id),
                vec![
                    Value::Integer(unix_ms(expiry_date)?),
                    Value::Integer(unix_ms(if_before)?),
                    Value::Integer(now),
                ],
            )
            .await?;
        match reply {
            1 => Ok(Touched::Moved),
            0 => Ok(Touched::Recent),
            GONE => Ok(Touched::Missing),
            other => Err(unexpected(other)),
        }
    }

    async fn delete(&self, id: &SessionId, expected: Option<Revision>) -> CasResult<Written> {
        let now = unix_ms(OffsetDateTime::now_utc())?;
        let expected = expected.map_or_else(String::new, |revision| revision.get().to_string());
        let reply = DELETE
            .run(
                &self.client,
                self.key(id),
                vec![
                    Value::from(expected),
                    Value::Integer(now),
                    Value::Integer(self.ended_until(now)),
                ],
            )
            .await?;
        written(reply)
    }
}

/// A Lua script run by its SHA-1 digest, which Redis tells us the first
/// time the script is loaded: fred computes digests itself only with its
/// `sha-1` feature, which this crate does not enable.
#[derive(Debug)]
struct LuaScript {
    source: &'static str,
    sha1: OnceLock<String>,
}

impl LuaScript {
    const fn new(source: &'static str) -> Self {
        LuaScript {
            source,
            sha1: OnceLock::new(),
        }
    }

    /// Runs the script on `key` and returns its integer reply.
    async fn run<C: LuaInterface + Sync>(
        &self,
        client: &C,
        key: String,
        args: Vec<Value>,
    ) -> CasResult<i64> {
        let sha1 = match self.sha1.get() {
            Some(sha1) => sha1,
            None => {
                let sha1: String = client
                    .script_load(self.source)
                    .await
                    .map_err(|error| backend(&error))?;
                self.sha1.get_or_init(|| sha1)
            }
        };
        let reply: Value = match client
            .evalsha(sha1.as_str(), key.clone(), args.clone())
            .await
        {
            // The server has lost the script (restart, SCRIPT FLUSH, another
            // cluster node): EVAL runs the source and caches it again.
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                client.eval(self.source, key, args).await
            }
            result => result,
        }
        .map_err(|error| backend(&error))?;
        match reply {
            Value::Integer(number) => Ok(number),
            other => Err(unexpected(other)),
        }
    }
}

/// What a load's `HMGET <key> rev data exp` reply says is stored under `id`
/// at `now` (unix ms). Separate from the round trip so that the fuzz target
/// of `fuzz/` can feed it any reply.
pub(crate) fn read_hmget_reply(
    reply: Value,
    id: &SessionId,
    now: i64,
    ended_marker_lifetime: Duration,
) -> CasResult<Loaded> {
    let Value::Array(fields) = reply else {
        return Err(corrupt("HMGET did not return an array"));
    };
    let [revision, data, expiry] = fields.as_slice() else {
        return Err(corrupt("HMGET did not return three fields"));
    };
    if revision.is_null() && data.is_null() && expiry.is_null() {
        return Ok(Loaded::Missing);
    }
    let expiry = integer(expiry, "exp")?;
    if expiry <= now {
        return Ok(Loaded::Missing);
    }
    if data.is_null() {
        let until = OffsetDateTime::from_unix_timestamp_nanos(i128::from(expiry) * 1_000_000)
            .map_err(|error| corrupt(&format!("the field `exp` is out of range: {error}")))?;
        let lifetime =
            time::Duration::try_from(ended_marker_lifetime).unwrap_or(time::Duration::MAX);
        return Ok(Loaded::Ended {
            ended_at: until.saturating_sub(lifetime),
        });
    }
    let revision = u64::try_from(integer(revision, "rev")?)
        .map_err(|_| corrupt("the field `rev` is negative"))?;
    let data = data
        .as_bytes()
        .ok_or_else(|| corrupt("the field `data` is not a string"))?;
    let expiry_date = OffsetDateTime::from_unix_timestamp_nanos(i128::from(expiry) * 1_000_000)
        .map_err(|error| corrupt(&format!("the field `exp` is out of range: {error}")))?;
    Ok(Loaded::Live {
        record: Record {
            id: *id,
            data: Data::decode(data)?,
            expiry_date,
        },
        revision: Revision::new(revision),
    })
}

/// What the save and delete scripts reply, as the contract says it.
fn written(reply: i64) -> CasResult<Written> {
    match reply {
        GONE => Ok(Written::Gone),
        CONFLICT => Ok(Written::Conflict),
        revision => u64::try_from(revision)
            .ok()
            .filter(|revision| *revision > 0)
            .map(|revision| Written::Done(Revision::new(revision)))
            .ok_or_else(|| unexpected(revision)),
    }
}

/// Reads an integer field of a session hash.
fn integer(value: &Value, field: &str) -> CasResult<i64> {
    match value {
        Value::Integer(number) => Ok(*number),
        Value::Null => Err(corrupt(&format!("the field `{field}` is missing"))),
        other => other
            .as_bytes()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| corrupt(&format!("the field `{field}` is not an integer"))),
    }
}

/// Milliseconds since the unix epoch, rounded down, as Redis expiries count.
fn unix_ms(instant: OffsetDateTime) -> CasResult<i64> {
    i64::try_from(instant.unix_timestamp_nanos().div_euclid(1_000_000))
        .map_err(|error| CasError::Encode(format!("an expiry date is out of range: {error}")))
}

fn backend(error: &fred::error::Error) -> CasError {
    CasError::Backend(error.to_string())
}

/// A failed load: the server could not be reached or refused it, unless it
/// says the session's key holds something else than a session hash
/// (`WRONGTYPE`). That is a record that cannot be read (`500`, never a
/// `503` to retry), and the key is never overwritten: `create` refuses a
/// taken key and the save and delete scripts refuse a key without a
/// revision. The log names the key by its prefix and a fingerprint of the
/// id, never the id.
fn backend_at(error: &fred::error::Error, prefix: &str, id: SessionId) -> CasError {
    if error.details().starts_with("WRONGTYPE") {
        tracing::error!(
            key_prefix = prefix,
            session = %id.fingerprint(),
            "a session key holds a value of another Redis type than a hash; it is left as it is"
        );
        return corrupt("the key holds another Redis type than a session hash");
    }
    backend(error)
}

fn corrupt(detail: &str) -> CasError {
    CasError::Decode(format!("a stored session record is corrupt: {detail}"))
}

fn unexpected(reply: impl Debug) -> CasError {
    CasError::Decode(format!("a session script returned {reply:?}"))
}
