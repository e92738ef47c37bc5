//! The races of the "No lost writes" figures (T1, T2, T3, T11), run over
//! real HTTP on loopback against one or two app instances that share one
//! store. Each function prints its figures and asserts the outcome our
//! layer guarantees; `no_lost_writes.rs` runs them over every store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use session_core::cas::{CasStore, Loaded};
use session_core::{SessionError, SessionSchema};
use tokio::sync::Notify;
use tower_sessions::session::Id;

/// What the race handlers keep in the session.
#[derive(SessionSchema, Serialize, Deserialize, Debug)]
#[session(namespace = "race")]
pub(crate) struct Race {
    #[session(default)]
    a: u64,
    #[session(default)]
    b: u64,
    #[session(rotate_id)]
    user: Option<String>,
}

/// Lets a test hold a request between its session read and its write.
#[derive(Default)]
struct Gate {
    loaded: Notify,
    go: Notify,
}

/// Test-side state shared by every instance: the gates of slow writes.
#[derive(Clone, Default)]
pub(crate) struct Gates(Arc<Mutex<HashMap<u32, Arc<Gate>>>>);

impl Gates {
    fn open(&self, trial: u32) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        self.0
            .lock()
            .expect("gates")
            .insert(trial, Arc::clone(&gate));
        gate
    }

    fn get(&self, trial: u32) -> Option<Arc<Gate>> {
        self.0.lock().expect("gates").get(&trial).cloned()
    }
}

async fn increment_a(race: RaceSession) -> Result<String, SessionError> {
    Ok(race
        .update_a(|a| {
            *a += 1;
            *a
        })
        .await?
        .to_string())
}

async fn increment_b(race: RaceSession) -> Result<String, SessionError> {
    Ok(race
        .update_b(|b| {
            *b += 1;
            *b
        })
        .await?
        .to_string())
}

async fn read(race: RaceSession) -> Result<Json<Race>, SessionError> {
    Ok(Json(race.load().await?))
}

async fn log_in(race: RaceSession) -> Result<(), SessionError> {
    race.set_user("ada".to_owned()).await
}

async fn log_out(race: RaceSession) -> Result<(), SessionError> {
    race.flush().await
}

// ANCHOR: slow_write
/// Reads the session, tells the test, waits for its go, then writes `b`.
async fn slow_write(
    race: RaceSession,
    State(gates): State<Gates>,
    Path(trial): Path<u32>,
) -> Result<StatusCode, SessionError> {
    let Some(gate) = gates.get(trial) else {
        return Ok(StatusCode::NOT_FOUND);
    };
    let b = race.b().await?;
    gate.loaded.notify_one();
    if tokio::time::timeout(Duration::from_secs(10), gate.go.notified())
        .await
        .is_err()
    {
        return Ok(StatusCode::GATEWAY_TIMEOUT);
    }
    race.set_b(b + 1).await?;
    Ok(StatusCode::OK)
}
// ANCHOR_END: slow_write

/// The race handlers; the caller adds the session layer under test.
pub(crate) fn routes(gates: Gates) -> Router {
    Router::new()
        .route("/incr/a", post(increment_a))
        .route("/incr/b", post(increment_b))
        .route("/read", get(read))
        .route("/login", post(log_in))
        .route("/logout", post(log_out))
        .route("/slow/{trial}", post(slow_write))
        .with_state(gates)
}

/// Serves `app` on a free loopback port.
pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    address
}

/// One or two running instances sharing a store, and a way to look into
/// that store.
pub(crate) struct Deployment {
    pub(crate) label: String,
    pub(crate) instances: Vec<SocketAddr>,
    pub(crate) gates: Gates,
    /// Whether a session id is live in the store.
    pub(crate) probe: Arc<dyn Probe>,
    pub(crate) cookie_name: &'static str,
    /// Whether the layer serializes a session's requests and refuses
    /// conflicting saves (ours), or not (tower-sessions').
    pub(crate) ours: bool,
}

/// A look into the store under a deployment.
#[async_trait::async_trait]
pub(crate) trait Probe: Send + Sync {
    async fn is_live(&self, id: &Id) -> bool;
}

#[async_trait::async_trait]
impl<S: CasStore> Probe for S {
    async fn is_live(&self, id: &Id) -> bool {
        matches!(
            self.load(&(*id).into()).await.expect("probe the store"),
            Loaded::Live { .. }
        )
    }
}

/// A response, reduced to what the races look at.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    /// `Some("")` when the response removes the cookie.
    pub(crate) set_cookie: Option<String>,
    pub(crate) body: String,
}

#[derive(Clone)]
pub(crate) struct Http {
    client: Client<HttpConnector, String>,
    cookie_name: &'static str,
}

impl Http {
    pub(crate) fn new(cookie_name: &'static str) -> Self {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(128)
            .build_http();
        Http {
            client,
            cookie_name,
        }
    }

    pub(crate) async fn send(
        &self,
        to: SocketAddr,
        method: &str,
        path: &str,
        id: Option<&str>,
    ) -> Reply {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(format!("http://{to}{path}"));
        if let Some(id) = id {
            request = request.header("cookie", format!("{}={id}", self.cookie_name));
        }
        let request = request.body(String::new()).expect("a request");
        let response = tokio::time::timeout(Duration::from_secs(30), self.client.request(request))
            .await
            .expect("a reply within 30 s")
            .expect("an HTTP response");
        let status = response.status();
        let prefix = format!("{}=", self.cookie_name);
        let set_cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| {
                let pair = value.split(';').next()?.trim();
                pair.strip_prefix(&prefix).map(str::to_owned)
            });
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("a body")
            .to_bytes();
        Reply {
            status,
            set_cookie,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

impl Deployment {
    fn instance(&self, n: usize) -> SocketAddr {
        self.instances[n % self.instances.len()]
    }

    fn describe(&self) -> String {
        let count = self.instances.len();
        format!(
            "{} ({count} instance{})",
            self.label,
            if count == 1 { "" } else { "s" }
        )
    }

    /// A fresh session with `a = 1`, returning its id.
    async fn new_session(&self, http: &Http) -> String {
        let reply = http.send(self.instance(0), "POST", "/incr/a", None).await;
        assert_eq!(reply.status, StatusCode::OK, "start a session: {reply:?}");
        reply.set_cookie.expect("a new session sets the cookie")
    }

    async fn state(&self, http: &Http, id: &str) -> Race {
        let reply = http.send(self.instance(0), "GET", "/read", Some(id)).await;
        assert_eq!(reply.status, StatusCode::OK, "read: {reply:?}");
        serde_json::from_str(&reply.body).expect("the session as JSON")
    }
}

/// Counts of a batch of requests by status.
#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    conflict: usize,
    unavailable: usize,
    other: Vec<StatusCode>,
}

impl Tally {
    fn add(&mut self, status: StatusCode) {
        match status {
            status if status.is_success() => self.ok += 1,
            StatusCode::CONFLICT => self.conflict += 1,
            StatusCode::SERVICE_UNAVAILABLE => self.unavailable += 1,
            status => self.other.push(status),
        }
    }
}

/// Sends `paths.len()` requests on session `id`, `in_flight` at a time,
/// spreading them over the instances, and tallies the statuses per path.
async fn hammer(
    deployment: &Deployment,
    http: &Http,
    id: &str,
    paths: &[&'static str],
    in_flight: usize,
) -> HashMap<&'static str, Tally> {
    let next = Arc::new(AtomicUsize::new(0));
    let paths: Arc<Vec<&'static str>> = Arc::new(paths.to_vec());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let next = Arc::clone(&next);
        let paths = Arc::clone(&paths);
        let http = http.clone();
        let id = id.to_owned();
        let instances = deployment.instances.clone();
        workers.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(n) else {
                    return seen;
                };
                let to = instances[n % instances.len()];
                let reply = http.send(to, "POST", path, Some(&id)).await;
                seen.push((*path, reply.status));
            }
        });
    }
    let mut tallies: HashMap<&'static str, Tally> = HashMap::new();
    while let Some(seen) = workers.join_next().await {
        for (path, status) in seen.expect("a worker") {
            tallies.entry(path).or_default().add(status);
        }
    }
    tallies
}

/// T1: one session, 1000 increments of one counter with 64 in flight, then
/// two counters hammered together; every 2xx is counted in the result.
/// Returns the writes lost on (one counter, the two counters).
pub(crate) async fn t1_no_lost_increments(deployment: &Deployment) -> (u64, u64) {
    let http = Http::new(deployment.cookie_name);
    let id = deployment.new_session(&http).await;
    let tallies = hammer(deployment, &http, &id, &["/incr/a"; 1000], 64).await;
    let one = &tallies["/incr/a"];
    let final_a = deployment.state(&http, &id).await.a;
    // The session started at a = 1.
    let acknowledged = u64::try_from(one.ok).expect("count") + 1;
    let lost_one = acknowledged.saturating_sub(final_a);
    println!(
        "T1 {}: 1000 increments of one field, 64 in flight: {} 2xx, {} 409, {} 503, \
         final value {final_a} of {acknowledged} acknowledged: {lost_one} lost",
        deployment.describe(),
        one.ok,
        one.conflict,
        one.unavailable,
    );

    let id = deployment.new_session(&http).await;
    let mut paths = Vec::new();
    for _ in 0..500 {
        paths.push("/incr/a");
        paths.push("/incr/b");
    }
    let tallies = hammer(deployment, &http, &id, &paths, 64).await;
    let state = deployment.state(&http, &id).await;
    let acknowledged_a = u64::try_from(tallies["/incr/a"].ok).expect("count") + 1;
    let acknowledged_b = u64::try_from(tallies["/incr/b"].ok).expect("count");
    let lost_two = acknowledged_a.saturating_sub(state.a) + acknowledged_b.saturating_sub(state.b);
    println!(
        "T1 {}: 500 + 500 increments of two fields, 64 in flight: a {} 2xx, {} 409, final {} of {acknowledged_a}; \
         b {} 2xx, {} 409, final {} of {acknowledged_b}: {lost_two} lost",
        deployment.describe(),
        tallies["/incr/a"].ok,
        tallies["/incr/a"].conflict,
        state.a,
        tallies["/incr/b"].ok,
        tallies["/incr/b"].conflict,
        state.b,
    );
    if deployment.ours {
        for tally in tallies.values().chain([one]) {
            assert!(
                tally.other.is_empty(),
                "unexpected statuses: {:?}",
                tally.other
            );
            assert_eq!(
                tally.unavailable, 0,
                "no request should wait 10 s for its session"
            );
        }
        assert_eq!(
            final_a,
            acknowledged,
            "T1 one field: {}",
            deployment.describe()
        );
        assert_eq!(
            state.a,
            acknowledged_a,
            "T1 field a: {}",
            deployment.describe()
        );
        assert_eq!(
            state.b,
            acknowledged_b,
            "T1 field b: {}",
            deployment.describe()
        );
        if deployment.instances.len() == 1 {
            assert_eq!(one.conflict, 0, "one instance serializes: no conflicts");
        }
    }
    (lost_one, lost_two)
}

/// T2: a slow write that read the session before a logout and writes after
/// it. Returns how many logged-out sessions came back.
pub(crate) async fn t2_logout_stays_logged_out(deployment: &Deployment, trials: u32) -> usize {
    let http = Http::new(deployment.cookie_name);
    let mut resurrected = 0;
    let mut slow = Tally::default();
    for trial in 0..trials {
        let id = deployment.new_session(&http).await;
        let gate = deployment.gates.open(trial);
        let writer = {
            let http = http.clone();
            let id = id.clone();
            let to = deployment.instance(0);
            tokio::spawn(async move {
                http.send(to, "POST", &format!("/slow/{trial}"), Some(&id))
                    .await
            })
        };
        gate.loaded.notified().await;
        let logout = {
            let http = http.clone();
            let id = id.clone();
            let to = deployment.instance(1);
            tokio::spawn(async move { http.send(to, "POST", "/logout", Some(&id)).await })
        };
        if deployment.instances.len() == 2 || !deployment.ours {
            // Nothing holds the logout back: let it finish first, so the
            // write lands on a deleted session.
            let reply = logout.await.expect("logout");
            assert_eq!(reply.status, StatusCode::OK, "logout: {reply:?}");
            gate.go.notify_one();
        } else {
            // One instance of our layer: the logout waits for the writer's
            // session lock, so release the writer and let them queue.
            gate.go.notify_one();
            let reply = logout.await.expect("logout");
            assert_eq!(reply.status, StatusCode::OK, "logout: {reply:?}");
        }
        let reply = writer.await.expect("slow write");
        slow.add(reply.status);
        let parsed = Id::from_str(&id).expect("a session id");
        if deployment.probe.is_live(&parsed).await {
            resurrected += 1;
        }
    }
    println!(
        "T2 {}: {trials} slow writes overlapping a logout: {} 2xx, {} 409, {} other; \
         {resurrected} sessions resurrected",
        deployment.describe(),
        slow.ok,
        slow.conflict,
        slow.other.len() + slow.unavailable,
    );
    if deployment.ours {
        assert_eq!(resurrected, 0, "T2: {}", deployment.describe());
        assert!(
            slow.other.is_empty() && slow.unavailable == 0,
            "T2 statuses: {slow:?}"
        );
    }
    resurrected
}

/// T3: a login (`rotate_id`) with 9 requests of the same page in flight
/// (reads and writes of another field), the browser applying each
/// `Set-Cookie` in the order the responses arrive. Returns the unintended
/// logouts.
pub(crate) async fn t3_login_with_requests_in_flight(
    deployment: &Deployment,
    trials: u32,
) -> usize {
    let http = Http::new(deployment.cookie_name);
    let mut logouts = 0;
    let mut login_failures = 0;
    let mut old_id_alive = 0;
    let mut bystanders = Tally::default();
    for _ in 0..trials {
        let old = deployment.new_session(&http).await;
        let (sender, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
        for n in 0..10_usize {
            let (method, path) = match n {
                0 => ("POST", "/login"),
                n if n % 2 == 0 => ("POST", "/incr/b"),
                _ => ("GET", "/read"),
            };
            let http = http.clone();
            let old = old.clone();
            let to = deployment.instance(n);
            let sender = sender.clone();
            tokio::spawn(async move {
                let reply = http.send(to, method, path, Some(&old)).await;
                // The channel receives replies in arrival order.
                let _ = sender.send((path, reply));
            });
        }
        drop(sender);
        let mut jar = old.clone();
        let mut logged_in = false;
        while let Some((path, reply)) = arrivals.recv().await {
            if path == "/login" {
                logged_in = reply.status.is_success();
            } else {
                bystanders.add(reply.status);
            }
            if let Some(value) = reply.set_cookie {
                jar = value;
            }
        }
        if !logged_in {
            login_failures += 1;
            continue;
        }
        let user = deployment.state(&http, &jar).await.user;
        if user.as_deref() != Some("ada") {
            logouts += 1;
        }
        let parsed = Id::from_str(&old).expect("a session id");
        if deployment.probe.is_live(&parsed).await {
            old_id_alive += 1;
        }
    }
    println!(
        "T3 {}: {trials} logins with 9 requests in flight: {login_failures} logins refused, \
         {logouts} unintended logouts, old id alive afterwards {old_id_alive} times; \
         the 9 others: {} 2xx, {} 409, {} other",
        deployment.describe(),
        bystanders.ok,
        bystanders.conflict,
        bystanders.other.len() + bystanders.unavailable,
    );
    if deployment.ours {
        assert_eq!(
            logouts,
            0,
            "T3 unintended logouts: {}",
            deployment.describe()
        );
        assert_eq!(
            login_failures,
            0,
            "T3 logins refused: {}",
            deployment.describe()
        );
        assert_eq!(
            old_id_alive,
            0,
            "T3 old id alive: {}",
            deployment.describe()
        );
        assert!(bystanders.other.is_empty(), "T3 statuses: {bystanders:?}");
    }
    logouts
}

/// T11: requests with junk session ids. `count` reports how many records
/// the store holds. Returns the records the read-only requests created.
pub(crate) async fn t11_junk_ids(
    deployment: &Deployment,
    requests: usize,
    count: impl AsyncFn() -> u64,
) -> u64 {
    let http = Http::new(deployment.cookie_name);
    let junk: Vec<String> = (0..requests)
        .map(|n| match n % 4 {
            // Well-formed ids nobody was ever given.
            0 => Id::default().to_string(),
            1 => "not-a-session-id".to_owned(),
            2 => "A".repeat(4096),
            _ => format!("{}%00;x", Id::default()),
        })
        .collect();
    let before = count().await;
    let next = Arc::new(AtomicUsize::new(0));
    let junk = Arc::new(junk);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (next, junk, http) = (Arc::clone(&next), Arc::clone(&junk), http.clone());
        let instances = deployment.instances.clone();
        workers.spawn(async move {
            let mut cookies_set = 0_usize;
            let mut not_ok = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = junk.get(n) else {
                    return (cookies_set, not_ok);
                };
                let reply = http
                    .send(instances[n % instances.len()], "GET", "/read", Some(id))
                    .await;
                if reply.set_cookie.is_some() {
                    cookies_set += 1;
                }
                if reply.status != StatusCode::OK {
                    not_ok.push(reply.status);
                }
            }
        });
    }
    let (mut cookies_set, mut not_ok) = (0, Vec::new());
    while let Some(result) = workers.join_next().await {
        let (set, bad) = result.expect("a worker");
        cookies_set += set;
        not_ok.extend(bad);
    }
    let created = count().await.saturating_sub(before);

    // Writes with a well-formed but unknown id start a session under a new,
    // server-chosen id.
    let mut adopted = 0;
    for _ in 0..100 {
        let chosen = Id::default().to_string();
        let reply = http
            .send(deployment.instance(0), "POST", "/incr/a", Some(&chosen))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "a write with an unknown id: {reply:?}"
        );
        let given = reply.set_cookie.expect("a new session sets the cookie");
        let chosen_id = Id::from_str(&chosen).expect("well-formed");
        if given == chosen || deployment.probe.is_live(&chosen_id).await {
            adopted += 1;
        }
    }
    println!(
        "T11 {}: {requests} read-only requests with junk ids: {created} records created, \
         {cookies_set} cookies set, {} non-200; 100 writes with unknown ids: {adopted} adopted the client's id",
        deployment.describe(),
        not_ok.len(),
    );
    if deployment.ours {
        assert_eq!(created, 0, "T11 records: {}", deployment.describe());
        assert_eq!(cookies_set, 0, "T11 cookies: {}", deployment.describe());
        assert!(not_ok.is_empty(), "T11 statuses: {not_ok:?}");
        assert_eq!(adopted, 0, "T11 adopted ids: {}", deployment.describe());
    }
    created
}
