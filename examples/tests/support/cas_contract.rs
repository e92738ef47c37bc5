//! The compare-and-swap contract every `CasStore` must keep, as one function
//! each store's test calls. See `session_core::cas::CasStore`.

use std::sync::Arc;

use session_core::cas::{
    CasStore, Data, Loaded, Record, Revision, SessionId, StoredValue, Touched, Written,
};
use session_core::time::{Duration, OffsetDateTime};

fn record(value: i64, expiry_date: OffsetDateTime) -> Record {
    Record {
        id: SessionId::random().expect("random bytes"),
        data: Data::from_iter([("count", count(value))]),
        expiry_date,
    }
}

fn count(value: i64) -> StoredValue {
    StoredValue::from(serde_json::Value::from(value))
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

async fn live(store: &dyn CasStore, id: &SessionId) -> (Record, Revision) {
    match store.load(id).await.expect("load") {
        Loaded::Live { record, revision } => (record, revision),
        other => panic!("expected a live record, found {other:?}"),
    }
}

/// Runs every rule of the contract against `store`, printing one line per
/// rule so a failure names the rule and the store.
#[allow(
    clippy::too_many_lines,
    reason = "one rule after another on the same records; split, the records would have to be threaded through"
)]
pub(crate) async fn contract(store: Arc<dyn CasStore>, label: &str) {
    let store = store.as_ref();

    // create, then load what was created
    let mut first = record(1, in_an_hour());
    let revision = store.create(&mut first).await.expect("create");
    let (loaded, loaded_revision) = live(store, &first.id).await;
    assert_eq!(loaded.data, first.data, "{label}: create then load");
    assert_eq!(
        loaded_revision, revision,
        "{label}: load returns the created revision"
    );
    // Stores keep at least millisecond precision of the expiry date.
    assert!(
        (loaded.expiry_date - first.expiry_date).abs() < Duration::milliseconds(1),
        "{label}: expiry date survives"
    );
    println!("{label}: create and load ok");

    // save with the loaded revision wins, a stale revision conflicts
    let mut second = loaded.clone();
    second.data.insert("count", count(2));
    let Written::Done(after_save) = store.save(&second, loaded_revision).await.expect("save")
    else {
        panic!("{label}: a save with the current revision must succeed");
    };
    assert_ne!(
        after_save, loaded_revision,
        "{label}: a save changes the revision"
    );
    let mut stale = loaded.clone();
    stale.data.insert("count", count(99));
    assert_eq!(
        store
            .save(&stale, loaded_revision)
            .await
            .expect("stale save"),
        Written::Conflict,
        "{label}: a save with a stale revision conflicts"
    );
    assert_eq!(
        live(store, &first.id).await.0.data.get("count"),
        Some(&count(2)),
        "{label}: the conflict wrote nothing"
    );
    println!("{label}: save is conditional on the revision ok");

    // save never creates
    let never_stored = record(5, in_an_hour());
    assert_eq!(
        store
            .save(&never_stored, Revision::FIRST)
            .await
            .expect("save of nothing"),
        Written::Gone,
        "{label}: save of an unknown id"
    );
    assert_eq!(
        store.load(&never_stored.id).await.expect("load"),
        Loaded::Missing,
        "{label}: save created a record"
    );
    println!("{label}: save never creates ok");

    // create never overwrites
    let mut same_id = record(7, in_an_hour());
    same_id.id = first.id;
    store
        .create(&mut same_id)
        .await
        .expect("create over a taken id");
    assert_ne!(
        same_id.id, first.id,
        "{label}: create must move off a taken id"
    );
    assert_eq!(
        live(store, &first.id).await.0.data.get("count"),
        Some(&count(2)),
        "{label}: create overwrote a record"
    );
    println!("{label}: create never overwrites ok");

    // of N concurrent saves at one revision exactly one wins
    let (current, revision) = live(store, &first.id).await;
    let mut racers = Vec::new();
    for value in 0..16 {
        let mut attempt = current.clone();
        attempt.data.insert("count", count(100 + value));
        racers.push(async move { store.save(&attempt, revision).await.expect("racing save") });
    }
    let outcomes = futures_join_all(racers).await;
    let winners = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Written::Done(_)))
        .count();
    assert_eq!(
        winners, 1,
        "{label}: concurrent saves at one revision: {outcomes:?}"
    );
    println!("{label}: 16 concurrent saves at one revision, {winners} won ok");

    // a conditional delete with a stale revision deletes nothing
    assert_eq!(
        store
            .delete(&first.id, Some(revision))
            .await
            .expect("stale delete"),
        Written::Conflict,
        "{label}: a delete at a stale revision conflicts"
    );
    let (_, revision) = live(store, &first.id).await;
    assert!(
        matches!(
            store
                .delete(&first.id, Some(revision))
                .await
                .expect("delete"),
            Written::Done(_)
        ),
        "{label}: a delete at the current revision succeeds"
    );
    assert!(
        matches!(
            store.load(&first.id).await.expect("load"),
            Loaded::Ended { .. }
        ),
        "{label}: a deleted id reads as ended"
    );
    match store.load(&first.id).await.expect("load") {
        Loaded::Ended { ended_at } => assert!(
            (ended_at - OffsetDateTime::now_utc()).abs() < Duration::seconds(5),
            "{label}: an ended marker says when the session ended: {ended_at}"
        ),
        other => panic!("{label}: expected an ended marker, found {other:?}"),
    }
    println!("{label}: conditional delete ok");

    // deleted stays deleted
    assert_eq!(
        store
            .save(&current, revision)
            .await
            .expect("save after delete"),
        Written::Gone,
        "{label}: a save to a deleted session is refused"
    );
    let mut reuse = record(8, in_an_hour());
    reuse.id = first.id;
    store
        .create(&mut reuse)
        .await
        .expect("create over an ended id");
    assert_ne!(
        reuse.id, first.id,
        "{label}: create must not reuse an ended id"
    );
    assert!(
        matches!(
            store.load(&first.id).await.expect("load"),
            Loaded::Ended { .. }
        ),
        "{label}: still ended"
    );
    println!("{label}: deleted stays deleted ok");

    // an unconditional delete ends a live record; of nothing, it stores nothing
    assert!(matches!(
        store.delete(&reuse.id, None).await.expect("delete"),
        Written::Done(_)
    ));
    assert!(matches!(
        store.load(&reuse.id).await.expect("load"),
        Loaded::Ended { .. }
    ));
    let junk = SessionId::random().expect("random bytes");
    assert_eq!(
        store.delete(&junk, None).await.expect("delete of nothing"),
        Written::Gone
    );
    assert_eq!(
        store.load(&junk).await.expect("load"),
        Loaded::Missing,
        "{label}: delete of an unknown id left a trace"
    );
    println!("{label}: unconditional delete ok");

    // an expired record is missing and cannot be saved
    let mut expired = record(9, OffsetDateTime::now_utc() - Duration::minutes(1));
    let revision = store.create(&mut expired).await.expect("create expired");
    assert_eq!(
        store.load(&expired.id).await.expect("load"),
        Loaded::Missing,
        "{label}: an expired record loads as missing"
    );
    assert_eq!(
        store.save(&expired, revision).await.expect("save"),
        Written::Gone,
        "{label}: an expired record cannot be saved"
    );
    println!("{label}: expired records ok");

    // touch moves a live record's expiry when it is due, and nothing else
    let soon = OffsetDateTime::now_utc() + Duration::minutes(5);
    let mut touched = record(10, soon);
    store.create(&mut touched).await.expect("create");
    let later = OffsetDateTime::now_utc() + Duration::minutes(30);
    assert_eq!(
        store
            .touch(&touched.id, later, later - Duration::minutes(1))
            .await
            .expect("touch"),
        Touched::Moved,
        "{label}: a due touch moves the expiry"
    );
    let (moved, revision) = live(store, &touched.id).await;
    assert!(
        (moved.expiry_date - later).abs() < Duration::milliseconds(1),
        "{label}: to the date asked"
    );
    assert_eq!(moved.data, touched.data, "{label}: a touch keeps the data");
    assert_eq!(
        store
            .touch(
                &touched.id,
                later + Duration::seconds(5),
                later - Duration::minutes(1)
            )
            .await
            .expect("touch"),
        Touched::Recent,
        "{label}: a touch that is not due writes nothing"
    );
    let (unmoved, _) = live(store, &touched.id).await;
    assert_eq!(unmoved.expiry_date, moved.expiry_date, "{label}: not moved");
    let mut changed = moved.clone();
    changed.data = Data::from_iter([("count", count(11))]);
    assert!(
        matches!(
            store.save(&changed, revision).await.expect("save"),
            Written::Done(_) | Written::Conflict
        ),
        "{label}: a save after a touch"
    );
    assert_eq!(
        store
            .touch(&junk, later, later)
            .await
            .expect("touch of nothing"),
        Touched::Missing
    );
    assert_eq!(
        store.load(&junk).await.expect("load"),
        Loaded::Missing,
        "{label}: a touch of an unknown id left a trace"
    );
    assert_eq!(
        store
            .touch(&expired.id, later, later)
            .await
            .expect("touch of an expired record"),
        Touched::Missing,
        "{label}: an expired record is not brought back"
    );
    assert_eq!(
        store.load(&expired.id).await.expect("load"),
        Loaded::Missing
    );
    store.delete(&touched.id, None).await.expect("delete");
    assert_eq!(
        store.touch(&touched.id, later, later).await.expect("touch"),
        Touched::Missing,
        "{label}: an ended session is not brought back"
    );
    assert!(matches!(
        store.load(&touched.id).await.expect("load"),
        Loaded::Ended { .. }
    ));
    println!("{label}: touch ok");
}

async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    // Polls every save concurrently on the current task, so they overlap in
    // the store without needing a spawn per future.
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|output| output.expect("every future finished"))
        .collect()
}
