//! What the response does with the cookie, decided from what the request
//! brought and what its handler did.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use tower_sessions_core::session::Id;

use super::payload::{Data, Payload};
use super::request_store::{Brought, Opened, Pending, RequestState};

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

    /// A new session, issued at `now`.
    fn issue(&self, id: Id, data: Data, now: OffsetDateTime) -> Payload {
        Payload {
            id,
            issued: now.unix_timestamp(),
            idle_until: self.idle_until(now),
            absolute_until: now.saturating_add(self.absolute).unix_timestamp(),
            data,
        }
    }
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
}

/// Decides what the response does with the cookie. The id a new session
/// gets was drawn by the store when the session was created.
pub(super) fn decide(state: RequestState, timeouts: &Timeouts, now: OffsetDateTime) -> Outcome {
    let RequestState {
        brought,
        used,
        pending,
        deleted,
        ..
    } = state;
    let remove = match brought {
        Brought::Nothing => Outcome::Keep,
        Brought::Refused | Brought::Session(_) => Outcome::Remove,
    };
    let refused = matches!(brought, Brought::Refused);
    let opened = match brought {
        Brought::Session(opened) => Some(opened),
        Brought::Nothing | Brought::Refused => None,
    };
    match (pending, opened) {
        (Some(Pending::Create(record) | Pending::Save(record)), _) if record.data.is_empty() => {
            remove
        }
        (Some(Pending::Create(record)), _) => {
            Outcome::Send(timeouts.issue(record.id, record.data, now))
        }
        (Some(Pending::Save(record)), Some(opened)) => {
            if record.data == opened.payload.data && !timeouts.refresh_due(&opened, now) {
                return Outcome::Keep;
            }
            Outcome::Send(Payload {
                idle_until: timeouts.idle_until(now),
                data: record.data,
                ..opened.payload
            })
        }
        // Revoked while the handler saved over it: what it saved is a new
        // session.
        (Some(Pending::Save(record)), None) => {
            Outcome::Send(timeouts.issue(Id::default(), record.data, now))
        }
        (None, _) if deleted || refused => remove,
        (None, Some(opened)) if used && timeouts.refresh_due(&opened, now) => {
            Outcome::Send(Payload {
                idle_until: timeouts.idle_until(now),
                ..opened.payload
            })
        }
        (None, _) => Outcome::Keep,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tower_sessions_core::session::Record;

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

    fn data(n: u32) -> Data {
        Data::from([("counter.count".to_owned(), json!(n))])
    }

    fn record(data: Data) -> Record {
        Record {
            id: Id(5),
            data,
            expiry_date: at(NOW),
        }
    }

    /// A session issued at `NOW`, last refreshed `ago` seconds before `NOW`.
    fn opened(ago: i64, stale_key: bool) -> Opened {
        Opened {
            payload: Payload {
                id: Id(9),
                issued: NOW - 3600,
                idle_until: Some(NOW - ago + 7200),
                absolute_until: NOW + 86_400,
                data: data(1),
            },
            stale_key,
        }
    }

    fn used(opened: Opened) -> RequestState {
        RequestState {
            brought: Brought::Session(opened),
            used: true,
            ..RequestState::default()
        }
    }

    #[test]
    fn a_new_session_gets_fresh_deadlines() {
        let state = RequestState {
            pending: Some(Pending::Create(record(data(1)))),
            ..RequestState::default()
        };
        assert_eq!(
            decide(state, &timeouts(), at(NOW)),
            Outcome::Send(Payload {
                id: Id(5),
                issued: NOW,
                idle_until: Some(NOW + 7200),
                absolute_until: NOW + 7 * 86_400,
                data: data(1),
            })
        );
    }

    #[test]
    fn a_change_keeps_id_issue_and_absolute_deadline() {
        let state = RequestState {
            pending: Some(Pending::Save(record(data(2)))),
            ..used(opened(0, false))
        };
        let Outcome::Send(payload) = decide(state, &timeouts(), at(NOW)) else {
            panic!("a change is sent");
        };
        assert_eq!(
            (payload.id, payload.issued, payload.absolute_until),
            (Id(9), NOW - 3600, NOW + 86_400)
        );
        assert_eq!(payload.idle_until, Some(NOW + 7200));
        assert_eq!(payload.data, data(2));
    }

    #[test]
    fn an_unchanged_session_is_sent_again_only_when_due() {
        let same = |ago, stale| RequestState {
            pending: Some(Pending::Save(record(data(1)))),
            ..used(opened(ago, stale))
        };
        assert_eq!(decide(same(59, false), &timeouts(), at(NOW)), Outcome::Keep);
        assert!(matches!(
            decide(same(60, false), &timeouts(), at(NOW)),
            Outcome::Send(Payload { idle_until: Some(until), .. }) if until == NOW + 7200
        ));
        assert!(matches!(
            decide(same(0, true), &timeouts(), at(NOW)),
            Outcome::Send(_)
        ));
        assert_eq!(
            decide(used(opened(59, false)), &timeouts(), at(NOW)),
            Outcome::Keep
        );
        assert!(matches!(
            decide(used(opened(61, false)), &timeouts(), at(NOW)),
            Outcome::Send(_)
        ));
        let unused = RequestState {
            used: false,
            ..used(opened(3000, true))
        };
        assert_eq!(
            decide(unused, &timeouts(), at(NOW)),
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
        assert_eq!(decide(used(opened), &short, at(NOW)), Outcome::Keep);
        let mut opened = self::opened(0, false);
        opened.payload.idle_until = Some(NOW + 60 - 30);
        assert!(matches!(
            decide(used(opened), &short, at(NOW)),
            Outcome::Send(_)
        ));
    }

    #[test]
    fn ended_empty_and_refused_sessions_remove_the_cookie() {
        let emptied = RequestState {
            pending: Some(Pending::Save(record(Data::new()))),
            ..used(opened(0, false))
        };
        assert_eq!(decide(emptied, &timeouts(), at(NOW)), Outcome::Remove);
        let flushed = RequestState {
            pending: Some(Pending::Create(record(Data::new()))),
            deleted: true,
            ..used(opened(0, false))
        };
        assert_eq!(decide(flushed, &timeouts(), at(NOW)), Outcome::Remove);
        let deleted = RequestState {
            deleted: true,
            ..used(opened(0, false))
        };
        assert_eq!(decide(deleted, &timeouts(), at(NOW)), Outcome::Remove);
        let refused = RequestState {
            brought: Brought::Refused,
            ..RequestState::default()
        };
        assert_eq!(decide(refused, &timeouts(), at(NOW)), Outcome::Remove);
        let never_had_one = RequestState {
            pending: Some(Pending::Create(record(Data::new()))),
            ..RequestState::default()
        };
        assert_eq!(decide(never_had_one, &timeouts(), at(NOW)), Outcome::Keep);
    }

    #[test]
    fn a_refused_cookie_is_replaced_by_a_new_session() {
        let state = RequestState {
            brought: Brought::Refused,
            pending: Some(Pending::Create(record(data(3)))),
            ..RequestState::default()
        };
        assert!(matches!(
            decide(state, &timeouts(), at(NOW)),
            Outcome::Send(Payload { issued: NOW, .. })
        ));
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
