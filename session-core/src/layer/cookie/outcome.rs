//! What the response does with the cookie, decided from what the request
//! brought and what its handler did.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use super::payload::Payload;
use super::source::Opened;
use crate::cas::{Data, SessionId, StoredValue};
use crate::layer::session::overlay;

/// The deadlines of a layer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeouts {
    /// How long an unused session stays valid; `None` for no idle timeout.
    pub(super) idle: Option<Duration>,
    /// How long a session stays valid after it was issued, used or not.
    pub(super) absolute: Duration,
}

/// The most time that passes before a used session's idle deadline is
/// moved (and its cookie sent again): a minute, or half the idle timeout
/// when that is shorter.
const IDLE_REFRESH_AFTER: Duration = Duration::minutes(1);

impl Timeouts {
    pub(super) fn new(idle: Option<StdDuration>, absolute: StdDuration) -> Self {
        let convert = |duration: StdDuration| Duration::try_from(duration).unwrap_or(Duration::MAX);
        Timeouts {
            idle: idle.map(convert),
            absolute: convert(absolute),
        }
    }

    /// The idle deadline of a session used at `now`.
    fn idle_until(&self, now: OffsetDateTime) -> Option<i64> {
        self.idle
            .map(|idle| now.saturating_add(idle).unix_timestamp())
    }

    /// The absolute deadline of a session issued at `issued` (Unix
    /// seconds): a shorter setting than the one a cookie was sealed under
    /// applies to it at once.
    pub(super) fn absolute_until(&self, issued: i64, sealed_with: i64) -> i64 {
        let by_setting = OffsetDateTime::from_unix_timestamp(issued).map_or(i64::MIN, |issued| {
            issued.saturating_add(self.absolute).unix_timestamp()
        });
        by_setting.min(sealed_with)
    }

    /// Whether a used session's cookie must be sent again although its data
    /// did not change: sealed with an old key, or its idle deadline last
    /// moved [`IDLE_REFRESH_AFTER`] ago (or the idle setting changed).
    fn refresh_due(&self, opened: &Opened, now: OffsetDateTime) -> bool {
        if opened.stale_key {
            return true;
        }
        match (self.idle, opened.payload.idle_until) {
            (Some(idle), Some(until)) => {
                let interval = IDLE_REFRESH_AFTER.min(idle / 2);
                let moved_at = until.saturating_sub(idle.whole_seconds());
                now.unix_timestamp().saturating_sub(moved_at) >= interval.whole_seconds()
            }
            (None, None) => false,
            _ => true,
        }
    }

    /// When a session issued at `now` would end, unused.
    pub(super) fn new_session_ends_at(&self, now: OffsetDateTime) -> i64 {
        let absolute = now.saturating_add(self.absolute).unix_timestamp();
        self.idle_until(now)
            .map_or(absolute, |idle| idle.min(absolute))
    }

    /// A session under a new id, issued at `now`, or keeping the lifetime
    /// of the session it replaces.
    pub(super) fn issue(
        &self,
        id: SessionId,
        data: Data,
        lifetime: Option<Lifetime>,
        now: OffsetDateTime,
    ) -> Payload {
        let lifetime = lifetime.unwrap_or_else(|| self.lifetime_from(now));
        Payload {
            id,
            issued: lifetime.issued,
            idle_until: self.idle_until(now),
            absolute_until: lifetime.absolute_until,
            data,
        }
    }

    /// The lifetime of a session authenticated at `now`.
    fn lifetime_from(&self, now: OffsetDateTime) -> Lifetime {
        Lifetime {
            issued: now.unix_timestamp(),
            absolute_until: now.saturating_add(self.absolute).unix_timestamp(),
        }
    }
}

/// When a session was issued (its user last authenticated) and so when it
/// ends, whatever happens to its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Lifetime {
    /// In Unix seconds.
    pub(super) issued: i64,
    /// The absolute deadline, in Unix seconds.
    pub(super) absolute_until: i64,
}

impl Lifetime {
    fn of(payload: &Payload) -> Self {
        Lifetime {
            issued: payload.issued,
            absolute_until: payload.absolute_until,
        }
    }
}

/// What one request brought and what its handler did, as far as the
/// cookie is concerned.
#[derive(Debug)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts of one request, each read on its own by `decide`"
)]
pub(super) struct Request<'a> {
    /// The request brought a cookie of the layer's name.
    pub(super) brought_cookie: bool,
    /// The session that cookie held, if it opened, is within its deadlines
    /// and was not revoked.
    pub(super) opened: Option<&'a Opened>,
    /// The handler used the session.
    pub(super) used: bool,
    /// The values it wrote (`Some`) or removed (`None`).
    pub(super) changes: &'a BTreeMap<Arc<str>, Option<StoredValue>>,
    /// It dropped the session's data first (`flush`, `delete`).
    pub(super) cleared: bool,
    /// It ended the session's id (`flush`, `cycle_id`, a `rotate_id` field).
    pub(super) new_id: bool,
    /// It said its user has just authenticated: the lifetime restarts.
    pub(super) authenticated: bool,
}

/// What to do with the cookie.
#[derive(Debug, PartialEq)]
pub(super) enum Outcome {
    /// Send nothing: the browser's cookie is right as it is.
    Keep,
    /// Remove the browser's cookie.
    Remove,
    /// Seal this session and send it.
    Send(Payload),
    /// Issue a session of this data under a new id, and send it: with the
    /// lifetime of the session it replaces (an id cycled without a new
    /// authentication), or a new one.
    Issue(Data, Option<Lifetime>),
}

/// Decides what the response does with the cookie.
pub(super) fn decide(request: &Request<'_>, timeouts: &Timeouts, now: OffsetDateTime) -> Outcome {
    let remove = if request.brought_cookie {
        Outcome::Remove
    } else {
        Outcome::Keep
    };
    let base = request.opened.map(|opened| &opened.payload.data);
    let changed = request.cleared
        || request
            .changes
            .iter()
            .any(|(key, change)| base.and_then(|data| data.get(key)) != change.as_ref());
    if !changed && !request.new_id && !request.authenticated {
        return match request.opened {
            Some(opened) if request.used && timeouts.refresh_due(opened, now) => {
                Outcome::Send(Payload {
                    idle_until: timeouts.idle_until(now),
                    ..opened.payload.clone()
                })
            }
            Some(_) => Outcome::Keep,
            None => remove,
        };
    }
    let data = Data::from_map(overlay(base, request.cleared, request.changes));
    if data.is_empty() {
        return remove;
    }
    // A log out (`flush`) ended the session: what it writes after that is
    // a new one, as is the session of a new authentication.
    let lifetime = match request.opened {
        Some(opened) if !request.authenticated && !request.cleared => {
            Some(Lifetime::of(&opened.payload))
        }
        _ => None,
    };
    match request.opened {
        Some(opened) if !request.new_id => {
            let Lifetime {
                issued,
                absolute_until,
            } = lifetime.unwrap_or_else(|| timeouts.lifetime_from(now));
            Outcome::Send(Payload {
                issued,
                idle_until: timeouts.idle_until(now),
                absolute_until,
                data,
                ..opened.payload.clone()
            })
        }
        // A new id keeps the session's lifetime; no session, or a refused
        // or revoked one, gives a new session.
        _ => Outcome::Issue(data, lifetime),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).expect("time")
    }

    fn timeouts() -> Timeouts {
        Timeouts::new(
            Some(StdDuration::from_secs(2 * 3600)),
            StdDuration::from_secs(7 * 86_400),
        )
    }

    fn count(n: u32) -> StoredValue {
        json!(n).into()
    }

    fn data(n: u32) -> Data {
        [("counter.count", count(n))].into_iter().collect()
    }

    fn set(n: u32) -> BTreeMap<Arc<str>, Option<StoredValue>> {
        BTreeMap::from([(Arc::from("counter.count"), Some(count(n)))])
    }

    /// A session issued an hour before `NOW`, last refreshed `ago` seconds
    /// before `NOW`.
    fn opened(ago: i64, stale_key: bool) -> Opened {
        Opened {
            payload: Payload {
                id: SessionId::from_i128(9),
                issued: NOW - 3600,
                idle_until: Some(NOW - ago + 7200),
                absolute_until: NOW + 86_400,
                data: data(1),
            },
            stale_key,
        }
    }

    const NOTHING: &BTreeMap<Arc<str>, Option<StoredValue>> = &BTreeMap::new();

    /// A request that used the session `opened` and made `changes`.
    fn used<'a>(
        opened: &'a Opened,
        changes: &'a BTreeMap<Arc<str>, Option<StoredValue>>,
    ) -> Request<'a> {
        Request {
            brought_cookie: true,
            opened: Some(opened),
            used: true,
            changes,
            cleared: false,
            new_id: false,
            authenticated: false,
        }
    }

    fn fresh(changes: &BTreeMap<Arc<str>, Option<StoredValue>>) -> Request<'_> {
        Request {
            brought_cookie: false,
            opened: None,
            used: true,
            changes,
            cleared: false,
            new_id: false,
            authenticated: false,
        }
    }

    #[test]
    fn a_new_session_is_issued_with_its_data() {
        let changes = set(1);
        assert_eq!(
            decide(&fresh(&changes), &timeouts(), at(NOW)),
            Outcome::Issue(data(1), None)
        );
        let issued = timeouts().issue(SessionId::from_i128(5), data(1), None, at(NOW));
        assert_eq!(
            issued,
            Payload {
                id: SessionId::from_i128(5),
                issued: NOW,
                idle_until: Some(NOW + 7200),
                absolute_until: NOW + 7 * 86_400,
                data: data(1),
            }
        );
    }

    #[test]
    fn a_change_keeps_id_issue_and_absolute_deadline() {
        let opened = opened(0, false);
        let changes = set(2);
        let Outcome::Send(payload) = decide(&used(&opened, &changes), &timeouts(), at(NOW)) else {
            panic!("a change is sent");
        };
        assert_eq!(
            (payload.id, payload.issued, payload.absolute_until),
            (SessionId::from_i128(9), NOW - 3600, NOW + 86_400)
        );
        assert_eq!(payload.idle_until, Some(NOW + 7200));
        assert_eq!(payload.data, data(2));
    }

    #[test]
    fn an_unchanged_session_is_sent_again_only_when_due() {
        let same = set(1);
        let decide_for = |ago, stale, changes| {
            let opened = opened(ago, stale);
            decide(&used(&opened, changes), &timeouts(), at(NOW))
        };
        assert_eq!(decide_for(59, false, &same), Outcome::Keep);
        assert!(matches!(
            decide_for(60, false, &same),
            Outcome::Send(Payload { idle_until: Some(until), .. }) if until == NOW + 7200
        ));
        assert!(matches!(decide_for(0, true, &same), Outcome::Send(_)));
        assert_eq!(decide_for(59, false, NOTHING), Outcome::Keep);
        assert!(matches!(decide_for(61, false, NOTHING), Outcome::Send(_)));
        let opened = opened(3000, true);
        let unused = Request {
            used: false,
            ..used(&opened, NOTHING)
        };
        assert_eq!(
            decide(&unused, &timeouts(), at(NOW)),
            Outcome::Keep,
            "a request that never touched its session sends nothing"
        );
    }

    #[test]
    fn short_idle_timeouts_refresh_at_half() {
        let short = Timeouts::new(
            Some(StdDuration::from_secs(60)),
            StdDuration::from_secs(600),
        );
        let mut opened = opened(0, false);
        opened.payload.idle_until = Some(NOW + 60 - 29);
        assert_eq!(
            decide(&used(&opened, NOTHING), &short, at(NOW)),
            Outcome::Keep
        );
        opened.payload.idle_until = Some(NOW + 60 - 30);
        assert!(matches!(
            decide(&used(&opened, NOTHING), &short, at(NOW)),
            Outcome::Send(_)
        ));
    }

    #[test]
    fn ended_empty_and_refused_sessions_remove_the_cookie() {
        let opened = opened(0, false);
        let removed = BTreeMap::from([(Arc::from("counter.count"), None)]);
        assert_eq!(
            decide(&used(&opened, &removed), &timeouts(), at(NOW)),
            Outcome::Remove
        );
        let flushed = Request {
            cleared: true,
            new_id: true,
            ..used(&opened, NOTHING)
        };
        assert_eq!(decide(&flushed, &timeouts(), at(NOW)), Outcome::Remove);
        let refused = Request {
            brought_cookie: true,
            used: false,
            ..fresh(NOTHING)
        };
        assert_eq!(decide(&refused, &timeouts(), at(NOW)), Outcome::Remove);
        assert_eq!(
            decide(&fresh(NOTHING), &timeouts(), at(NOW)),
            Outcome::Keep,
            "no cookie, nothing written"
        );
        assert_eq!(
            decide(&fresh(&removed), &timeouts(), at(NOW)),
            Outcome::Keep,
            "no cookie, a removal of nothing"
        );
    }

    #[test]
    fn a_flush_followed_by_writes_and_a_cycle_issue_new_sessions() {
        let opened = opened(0, false);
        let notice = BTreeMap::from([(
            Arc::from("shop.notice"),
            Some(StoredValue::from(json!("Logged out"))),
        )]);
        let flushed = Request {
            cleared: true,
            new_id: true,
            ..used(&opened, &notice)
        };
        assert_eq!(
            decide(&flushed, &timeouts(), at(NOW)),
            Outcome::Issue(
                [("shop.notice", json!("Logged out").into())]
                    .into_iter()
                    .collect(),
                None
            ),
            "a log out ends the session: the notice is a new one's"
        );
        let cycled = Request {
            new_id: true,
            ..used(&opened, NOTHING)
        };
        assert_eq!(
            decide(&cycled, &timeouts(), at(NOW)),
            Outcome::Issue(data(1), Some(LIFETIME)),
            "a cycled id keeps the session's lifetime"
        );
        let logged_in = Request {
            authenticated: true,
            ..cycled
        };
        assert_eq!(
            decide(&logged_in, &timeouts(), at(NOW)),
            Outcome::Issue(data(1), None),
            "a new authentication restarts it"
        );
        let reauthenticated = Request {
            authenticated: true,
            ..used(&opened, NOTHING)
        };
        assert!(
            matches!(
                decide(&reauthenticated, &timeouts(), at(NOW)),
                Outcome::Send(Payload { id, issued: NOW, absolute_until, .. })
                    if id == SessionId::from_i128(9) && absolute_until == NOW + 7 * 86_400
            ),
            "without a new id too"
        );
    }

    /// The lifetime of [`opened`].
    const LIFETIME: Lifetime = Lifetime {
        issued: NOW - 3600,
        absolute_until: NOW + 86_400,
    };

    #[test]
    fn a_refused_or_revoked_cookie_is_replaced_by_a_new_session() {
        let changes = set(3);
        let state = Request {
            brought_cookie: true,
            ..fresh(&changes)
        };
        assert_eq!(
            decide(&state, &timeouts(), at(NOW)),
            Outcome::Issue(data(3), None)
        );
    }

    #[test]
    fn a_shorter_absolute_setting_applies_to_old_cookies() {
        let timeouts = timeouts();
        assert_eq!(
            timeouts.absolute_until(NOW, NOW + 30 * 86_400),
            NOW + 7 * 86_400
        );
        assert_eq!(timeouts.absolute_until(NOW, NOW + 3600), NOW + 3600);
        let huge = Timeouts::new(None, StdDuration::MAX);
        assert!(huge.absolute_until(NOW, i64::MAX) > NOW + 1000 * 365 * 86_400);
        assert_eq!(huge.idle, None);
    }
}
