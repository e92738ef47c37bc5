//! The stores' own decode paths around `Data::decode`: a SQLite row whose
//! columns hold anything SQLite can hold (it keeps whatever type it is
//! given), read through `SqliteCasStore::load`; and a Redis `HMGET` reply of
//! any fields, read as `RedisCasStore::load` reads it. Each is a record, a
//! marker, missing, or a `CasError::Decode`; never a panic.
//!
//! Input: a selector byte (even: Redis; odd: SQLite, then three bytes that
//! pick the types of the row's columns), then fields separated by `0xff`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use session_core::cas::{CasError, CasStore, Loaded, SessionId, SqliteCasStore};
use session_core_fuzz::runtime;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// The id every row is stored under.
const ID: SessionId = SessionId::from_i128(0x5e55_1011);

fn store() -> &'static (SqliteCasStore, SqlitePool) {
    static STORE: OnceLock<(SqliteCasStore, SqlitePool)> = OnceLock::new();
    STORE.get_or_init(|| {
        runtime().block_on(async {
            let options: SqliteConnectOptions =
                "sqlite::memory:".parse().expect("an in-memory URL");
            // One connection: an in-memory database lives in its connection.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("an in-memory database");
            let store = SqliteCasStore::new(pool.clone());
            store.migrate().await.expect("the table");
            (store, pool)
        })
    })
}

/// A column value of the SQLite type `tag` selects, made of `bytes`.
fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    tag: u8,
    bytes: &[u8],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let mut word = [0u8; 8];
    for (slot, byte) in word.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    let number = i64::from_le_bytes(word);
    match tag % 6 {
        0 => query.bind(bytes.to_vec()),
        1 => query.bind(String::from_utf8_lossy(bytes).into_owned()),
        2 => query.bind(number),
        // Far in the future or a near value, so that the row is not
        // filtered out as expired.
        3 => query.bind(i64::MAX - number.rem_euclid(1 << 40)),
        4 => query.bind(f64::from_bits(number.cast_unsigned())),
        _ => query.bind(None::<i64>),
    }
}

/// `tags` selects the SQLite types of `revision`, `data` and `expiry`.
fn sqlite(tags: [u8; 3], fields: &[&[u8]]) {
    let (store, pool) = store();
    let field = |index: usize| fields.get(index).copied().unwrap_or_default();
    let loaded = runtime().block_on(async {
        sqlx::query(r#"delete from "typed_sessions""#)
            .execute(pool)
            .await
            .expect("delete");
        // `revision` and `expiry` are NOT NULL: a NULL there is refused at
        // insert, as the table promises.
        let insert = sqlx::query(
            r#"insert into "typed_sessions" (id, revision, data, expiry) values ($1, $2, $3, $4)"#,
        )
        .bind(ID.to_string());
        let insert = bind(insert, tags[0], field(0));
        let insert = bind(insert, tags[1], field(1));
        let insert = bind(insert, tags[2], field(2));
        if insert.execute(pool).await.is_err() {
            return None;
        }
        Some(store.load(&ID).await)
    });
    match loaded {
        None | Some(Ok(_) | Err(CasError::Decode(_))) => {}
        Some(Err(other)) => panic!("loading a row failed with {other:?}, not a decode error"),
    }
}

fn redis(fields: &[&[u8]]) {
    // An empty field is a missing one.
    let reply: Vec<Option<&[u8]>> = fields
        .iter()
        .map(|field| (!field.is_empty()).then_some(*field))
        .collect();
    match session_core::__fuzz::redis_hmget_reply(&reply, 1_700_000_000_000) {
        Ok(Loaded::Live { record, .. }) => {
            let again = session_core::cas::Data::decode(&record.data.encode());
            assert_eq!(again.ok(), Some(record.data), "a loaded record re-encodes");
        }
        Ok(Loaded::Ended { .. } | Loaded::Missing) | Err(CasError::Decode(_)) => {}
        Err(other) => panic!("reading a reply failed with {other:?}, not a decode error"),
    }
}

fuzz_target!(|bytes: &[u8]| {
    match bytes {
        [selector, rest @ ..] if selector & 1 == 0 => {
            redis(&rest.split(|byte| *byte == 0xff).collect::<Vec<_>>());
        }
        [_, revision, data, expiry, rest @ ..] => sqlite(
            [*revision, *data, *expiry],
            &rest.split(|byte| *byte == 0xff).collect::<Vec<_>>(),
        ),
        _ => {}
    }
});
